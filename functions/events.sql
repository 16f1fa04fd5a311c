-- The event log: connect, disconnect, error, message, join, leave, presence, typing, broadcast.
-- Relays append in batches off the hot path; messages are appended by realtime_send_message. seq is
-- the replay offset; realtime_events_state remembers up to which seq pruning removed rows, so a
-- replay can tell a client when its gap cannot be filled.

create or replace function realtime_log_event(
  p_type text,
  p_user_id text default null,
  p_room_name text default null,
  p_data jsonb default null,
  p_now timestamptz default now()
)
returns bigint
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_seq bigint;
begin
  insert into realtime_events (type, user_id, room_name, data, created_at)
  values (p_type, p_user_id, p_room_name, p_data, p_now)
  returning seq into v_seq;
  return v_seq;
end;
$$;
comment on function realtime_log_event(text, text, text, jsonb, timestamptz) is 'Appends one event; returns its seq.';

-- Appends many events in one statement: a JSON array of {type, userId?, roomName?, data?, createdAt?}.
create or replace function realtime_log_events(p_events jsonb)
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_count integer;
begin
  if p_events is null or jsonb_typeof(p_events) <> 'array' then
    raise exception 'events must be a JSON array' using errcode = 'RT400';
  end if;
  insert into realtime_events (type, user_id, room_name, data, created_at)
  select e ->> 'type', e ->> 'userId', e ->> 'roomName', e -> 'data',
         coalesce((e ->> 'createdAt')::timestamptz, now())
  from jsonb_array_elements(p_events) as e;
  get diagnostics v_count = row_count;
  return v_count;
end;
$$;
comment on function realtime_log_events(jsonb) is 'Appends a JSON array of events {type, userId, roomName, data, createdAt} in one statement; returns how many.';

-- Deletes events older than p_older_than; returns how many.
create or replace function realtime_prune_events(p_older_than interval, p_now timestamptz default now())
returns bigint
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_count bigint;
  v_max_seq bigint;
begin
  if p_older_than is null or p_older_than < interval '0' then
    raise exception 'retention must be a positive interval' using errcode = 'RT400';
  end if;
  with pruned as (
    delete from realtime_events where created_at < p_now - p_older_than returning seq
  )
  select count(*), max(seq) into v_count, v_max_seq from pruned;
  if v_max_seq is not null then
    update realtime_events_state set pruned_through = greatest(pruned_through, v_max_seq);
  end if;
  return v_count;
end;
$$;
comment on function realtime_prune_events(interval, timestamptz) is 'Deletes events older than the given age; returns how many were deleted.';

-- Messages of a room after a client's last seen id, oldest first. Returns {events, gap, latestId}:
-- gap is true when events after p_since were pruned or more than p_limit are missing; the client
-- should then refetch history (events then holds the newest p_limit messages).
create or replace function realtime_room_events_since(
  p_room_name text,
  p_user_id text,
  p_since bigint,
  p_limit integer default 100,
  p_anonymous boolean default false
)
returns jsonb
language plpgsql
stable
as $$
declare
  v_room realtime_rooms := realtime_find_room(p_room_name);
  v_missing bigint;
  v_gap boolean;
  v_events jsonb;
begin
  if p_since is null or p_since < 0 then
    raise exception 'since must be a non-negative event id' using errcode = 'RT400';
  end if;
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'limit must be between 1 and 1000' using errcode = 'RT400';
  end if;
  if p_anonymous then
    if v_room.visibility <> 'public' or v_room.type = 'dm' then
      raise exception 'anonymous users may only read public rooms' using errcode = 'RT403';
    end if;
  elsif not exists (
    select 1 from realtime_room_members where room_id = v_room.id and user_id = p_user_id and left_at is null
  ) then
    raise exception 'you are not a member of room %', p_room_name using errcode = 'RT403';
  end if;

  select count(*) into v_missing from (
    select 1 from realtime_events
    where room_name = v_room.name and seq > p_since and type = 'message'
    limit p_limit + 1
  ) m;
  v_gap := v_missing > p_limit or p_since < (select pruned_through from realtime_events_state);

  select coalesce(jsonb_agg(e.msg order by e.seq), '[]'::jsonb) into v_events
  from (
    select e.seq, realtime_message_json(e) as msg
    from realtime_events e
    where e.room_name = v_room.name and e.type = 'message' and e.seq > p_since
    order by case when v_gap then -e.seq else e.seq end
    limit p_limit
  ) e;

  return jsonb_build_object(
    'events', v_events,
    'gap', v_gap,
    'latestId', (select max(seq) from realtime_events where room_name = v_room.name and type = 'message')
  );
end;
$$;
comment on function realtime_room_events_since(text, text, bigint, integer, boolean) is
  'Messages of a room after id p_since for a reader allowed to see them, each as message:new shows it (realtime_message_json): {events, gap, latestId}; gap means the client must refetch.';

-- What a relay's sockets may have missed while its Redis or LISTEN connection was down: the
-- messages stored in the given rooms since p_since (oldest first, at most p_limit), presence
-- changed since then of the given users and of members of those rooms, and membership changes
-- of those rooms since then. The relay delivers these to its own sockets, skipping messages it
-- already delivered (by id).
create or replace function realtime_changes_since(
  p_room_names text[],
  p_user_ids text[],
  p_since timestamptz,
  p_limit integer default 10000,
  p_now timestamptz default now()
)
returns jsonb
language plpgsql
stable
as $$
begin
  if p_since is null then
    raise exception 'since is required' using errcode = 'RT400';
  end if;
  if p_limit is null or p_limit not between 1 and 100000 then
    raise exception 'limit must be between 1 and 100000' using errcode = 'RT400';
  end if;
  return jsonb_build_object(
    'messages', (
      select coalesce(jsonb_agg(m.msg order by m.seq), '[]'::jsonb) from (
        select e.seq, realtime_message_json(e) as msg
        from realtime_events e
        where e.type = 'message' and e.room_name = any (coalesce(p_room_names, '{}')) and e.created_at >= p_since
        order by e.seq
        limit p_limit
      ) m),
    'presence', (
      select coalesce(jsonb_agg(realtime_presence_json(p, p_now) || jsonb_build_object('rooms', to_jsonb(realtime_user_room_names(p.user_id)))), '[]'::jsonb)
      from realtime_presence p
      where p.updated_at >= p_since
        and (p.user_id = any (coalesce(p_user_ids, '{}')) or exists (
          select 1 from realtime_room_members rm join realtime_rooms r on r.id = rm.room_id
          where rm.user_id = p.user_id and rm.left_at is null and r.name = any (coalesce(p_room_names, '{}'))))),
    'members', (
      select coalesce(jsonb_agg(jsonb_build_object('roomName', c.room_name, 'userId', c.user_id, 'op', c.op) order by c.at), '[]'::jsonb)
      from (
        select r.name as room_name, rm.user_id, 'joined' as op, rm.joined_at as at
        from realtime_room_members rm join realtime_rooms r on r.id = rm.room_id
        where r.name = any (coalesce(p_room_names, '{}')) and rm.joined_at >= p_since and rm.left_at is null
        union all
        select r.name, rm.user_id, 'left', rm.left_at
        from realtime_room_members rm join realtime_rooms r on r.id = rm.room_id
        where r.name = any (coalesce(p_room_names, '{}')) and rm.left_at >= p_since
          and not exists (select 1 from realtime_room_members again
                          where again.room_id = rm.room_id and again.user_id = rm.user_id and again.left_at is null)
      ) c)
  );
end;
$$;
comment on function realtime_changes_since(text[], text[], timestamptz, integer, timestamptz) is
  'Messages, presence and membership changes since a time, for the rooms and users a relay serves: what its sockets may have missed while its Redis or LISTEN connection was down.';
