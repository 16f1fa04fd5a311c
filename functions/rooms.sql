-- Rooms and membership. Who may join and who may send is decided here:
--   channel/group/broadcast, public:  any authenticated user joins (anonymous: read-only, no membership)
--   channel/group/broadcast, private: active members only (added with realtime_add_member)
--   dm:                               exactly its two users; one room per pair (realtime_open_dm)
--   sending:                          active members; in broadcast rooms only owners/admins, users
--                                     listed in metadata.senders, or holders of a JWT role listed in
--                                     metadata.senderRoles
-- A membership beginning or ending is announced as {"kind":"member","op":"joined"|"left",...}.

create or replace function realtime_room_json(r realtime_rooms)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'id', r.id, 'name', r.name, 'type', r.type, 'visibility', r.visibility,
    'metadata', r.metadata, 'createdAt', r.created_at
  );
$$;
comment on function realtime_room_json(realtime_rooms) is 'A room as the protocol shows it.';

create or replace function realtime_find_room(p_room_name text)
returns realtime_rooms
language plpgsql
stable
as $$
declare
  v_room realtime_rooms;
begin
  select * into v_room from realtime_rooms where name = p_room_name;
  if v_room.id is null then
    raise exception 'room % does not exist', p_room_name using errcode = 'RT404';
  end if;
  return v_room;
end;
$$;
comment on function realtime_find_room(text) is 'The room of that name; raises RT404 when there is none.';

create or replace function realtime_create_room(
  p_name text,
  p_type text default 'channel',
  p_visibility text default 'public',
  p_metadata jsonb default '{}',
  p_created_by text default null,
  p_now timestamptz default now()
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_room realtime_rooms;
begin
  if p_name is null or char_length(p_name) not between 1 and 255 or p_name ~ '[[:cntrl:]]' or p_name <> btrim(p_name) then
    raise exception 'room name must be 1 to 255 characters without control characters or surrounding spaces'
      using errcode = 'RT400';
  end if;
  if p_type is null or p_type not in ('channel', 'group', 'broadcast', 'dm') then
    raise exception 'room type must be one of channel, dm, group, broadcast (got %)', coalesce(p_type, 'null')
      using errcode = 'RT400';
  end if;
  if p_type = 'dm' then
    raise exception 'dm rooms are opened with realtime_open_dm(user_a, user_b)' using errcode = 'RT400';
  end if;
  -- The dm: prefix names direct conversations (realtime_open_dm); a channel called dm:alice:bob
  -- would pose as one and take the name the real dm needs.
  if p_name like 'dm:%' then
    raise exception 'room names starting with dm: are reserved for direct conversations' using errcode = 'RT400';
  end if;
  if p_visibility is null or p_visibility not in ('public', 'private') then
    raise exception 'room visibility must be public or private (got %)', coalesce(p_visibility, 'null')
      using errcode = 'RT400';
  end if;
  if p_metadata is not null and jsonb_typeof(p_metadata) <> 'object' then
    raise exception 'room metadata must be a JSON object' using errcode = 'RT400';
  end if;
  insert into realtime_rooms (name, type, visibility, metadata, created_by, created_at)
  values (p_name, p_type, p_visibility, coalesce(p_metadata, '{}'), p_created_by, p_now)
  on conflict (name) do nothing
  returning * into v_room;
  if v_room.id is null then
    raise exception 'room % already exists', p_name using errcode = 'RT409';
  end if;
  if p_created_by is not null then
    perform realtime_add_member(p_name, p_created_by, 'owner', p_now);
  end if;
  return realtime_room_json(v_room);
end;
$$;
comment on function realtime_create_room(text, text, text, jsonb, text, timestamptz) is
  'Creates a channel, group or broadcast room (RT409 if the name is taken); the creator, when given, becomes its owner.';

create or replace function realtime_delete_room(p_name text)
returns boolean
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_room realtime_rooms := realtime_find_room(p_name);
  v_user text;
begin
  for v_user in select user_id from realtime_room_members where room_id = v_room.id and left_at is null loop
    perform realtime_notify('member', jsonb_build_object('op', 'left', 'room', v_room.name, 'userId', v_user));
  end loop;
  delete from realtime_typing where room_name = v_room.name;
  delete from realtime_rooms where id = v_room.id;
  return true;
end;
$$;
comment on function realtime_delete_room(text) is 'Deletes a room with its memberships; members are told they left.';

-- Begins a membership (no-op when one is active). Returns true when it began.
create or replace function realtime_add_member(
  p_room_name text,
  p_user_id text,
  p_role text default 'member',
  p_now timestamptz default now()
)
returns boolean
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_room realtime_rooms := realtime_find_room(p_room_name);
  v_added boolean;
begin
  if p_user_id is null or char_length(p_user_id) not between 1 and 255 then
    raise exception 'user id must be 1 to 255 characters' using errcode = 'RT400';
  end if;
  if p_role is null or p_role not in ('owner', 'admin', 'member') then
    raise exception 'member role must be owner, admin or member (got %)', coalesce(p_role, 'null') using errcode = 'RT400';
  end if;
  if v_room.type = 'dm' and p_user_id not in (v_room.dm_user_a, v_room.dm_user_b) then
    raise exception 'a dm room has exactly its two users' using errcode = 'RT403';
  end if;
  insert into realtime_room_members (room_id, user_id, role, joined_at)
  values (v_room.id, p_user_id, p_role, p_now)
  on conflict (room_id, user_id) where left_at is null do nothing;
  v_added := found;
  if v_added then
    perform realtime_notify('member', jsonb_build_object('op', 'joined', 'room', v_room.name, 'userId', p_user_id));
  end if;
  return v_added;
end;
$$;
comment on function realtime_add_member(text, text, text, timestamptz) is
  'Adds a user to a room (role owner, admin or member); returns false when already a member. Announces the join.';

-- Ends a membership, clears the user's typing in the room. Returns true when one was active.
create or replace function realtime_remove_member(
  p_room_name text,
  p_user_id text,
  p_now timestamptz default now()
)
returns boolean
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_room realtime_rooms := realtime_find_room(p_room_name);
  v_thread text;
begin
  update realtime_room_members set left_at = p_now
  where room_id = v_room.id and user_id = p_user_id and left_at is null;
  if not found then
    return false;
  end if;
  for v_thread in
    delete from realtime_typing where room_name = v_room.name and user_id = p_user_id and expires_at > p_now
    returning thread_id
  loop
    perform realtime_notify_typing(v_room.name, v_thread, p_now);
  end loop;
  perform realtime_notify('member', jsonb_build_object('op', 'left', 'room', v_room.name, 'userId', p_user_id));
  return true;
end;
$$;
comment on function realtime_remove_member(text, text, timestamptz) is
  'Ends a user''s membership of a room and clears their typing there; returns false when they were not a member. Announces the leave.';

-- The DM room of two users, created with both memberships on first use.
create or replace function realtime_open_dm(p_user_a text, p_user_b text, p_now timestamptz default now())
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_a text := least(p_user_a, p_user_b);
  v_b text := greatest(p_user_a, p_user_b);
  v_name text;
  v_room realtime_rooms;
begin
  if p_user_a is null or p_user_b is null or char_length(p_user_a) not between 1 and 255
     or char_length(p_user_b) not between 1 and 255 then
    raise exception 'two user ids of 1 to 255 characters are required' using errcode = 'RT400';
  end if;
  if p_user_a = p_user_b then
    raise exception 'a dm needs two different users' using errcode = 'RT400';
  end if;
  v_name := 'dm:' || v_a || ':' || v_b;
  -- A colon inside a user id makes the readable name ambiguous ('a:b' with 'c' and 'a' with 'b:c'
  -- both give dm:a:b:c, and the second pair would fail on the unique name); long ids do not fit.
  -- Those pairs get a hash name, which has one colon and so never equals a readable one.
  if char_length(v_name) > 255 or strpos(v_a, ':') > 0 or strpos(v_b, ':') > 0 then
    v_name := 'dm:' || md5(v_a || chr(31) || v_b);
  end if;
  insert into realtime_rooms (name, type, visibility, dm_user_a, dm_user_b, created_at)
  values (v_name, 'dm', 'private', v_a, v_b, p_now)
  on conflict (dm_user_a, dm_user_b) do nothing
  returning * into v_room;
  if v_room.id is null then
    select * into v_room from realtime_rooms where dm_user_a = v_a and dm_user_b = v_b;
  end if;
  perform realtime_add_member(v_room.name, v_a, 'member', p_now);
  perform realtime_add_member(v_room.name, v_b, 'member', p_now);
  return realtime_room_json(v_room);
end;
$$;
comment on function realtime_open_dm(text, text, timestamptz) is 'Returns the one dm room of two users, creating it and both memberships when needed.';

create or replace function realtime_room_members_json(p_room realtime_rooms, p_now timestamptz default now(), p_limit integer default 1000)
returns jsonb
language plpgsql
stable
as $$
begin
  return (
    select coalesce(jsonb_agg(
      jsonb_build_object(
        'userId', m.user_id,
        'role', m.role,
        'joinedAt', m.joined_at,
        'status', coalesce(p.status, 'offline'),
        'customStatus', realtime_visible_custom_status(p.custom_status, p_now),
        'lastSeen', p.last_seen
      ) order by m.joined_at, m.user_id), '[]'::jsonb)
    from (
      select * from realtime_room_members
      where room_id = p_room.id and left_at is null
      order by joined_at, user_id
      limit p_limit
    ) m
    left join realtime_presence p on p.user_id = m.user_id
  );
end;
$$;
comment on function realtime_room_members_json(realtime_rooms, timestamptz, integer) is
  'Active members of a room with their presence, earliest first, at most p_limit.';

-- Why a user may not join a room, as {code, message} (code: the SQLSTATE RT400/RT403/RT404), or
-- null when they may. p_room is the room of that name (null fields when there is none: RT404). The
-- one place the joining rules live; it raises nothing, so a batch can refuse one join and make the
-- others. p_since/p_replay_limit are checked only when a replay is asked for (p_since not null).
create or replace function realtime_join_refusal(
  p_room realtime_rooms,
  p_room_name text,
  p_user_id text,
  p_anonymous boolean,
  p_since bigint,
  p_replay_limit integer
)
returns jsonb
language plpgsql
stable
as $$
begin
  if p_room.id is null then
    return jsonb_build_object('code', 'RT404', 'message', format('room %s does not exist', coalesce(p_room_name, '<NULL>')));
  end if;
  if p_anonymous then
    if p_room.visibility <> 'public' or p_room.type = 'dm' then
      return jsonb_build_object('code', 'RT403', 'message', 'anonymous users may only join public rooms');
    end if;
  elsif not exists (
    select 1 from realtime_room_members where room_id = p_room.id and user_id = p_user_id and left_at is null
  ) then
    if p_room.type = 'dm' then
      if p_user_id not in (p_room.dm_user_a, p_room.dm_user_b) then
        return jsonb_build_object('code', 'RT403', 'message', format('room %s is a direct conversation of two other users', p_room_name));
      end if;
    elsif p_room.visibility = 'private' then
      return jsonb_build_object('code', 'RT403', 'message', format('room %s is private and you are not a member', p_room_name));
    end if;
    -- realtime_add_member's own check, made here so that it cannot raise later.
    if p_user_id is null or char_length(p_user_id) not between 1 and 255 then
      return jsonb_build_object('code', 'RT400', 'message', 'user id must be 1 to 255 characters');
    end if;
  end if;
  -- realtime_room_events_since's checks (its membership check holds once the join is made).
  if p_since is not null then
    if p_since < 0 then
      return jsonb_build_object('code', 'RT400', 'message', 'since must be a non-negative event id');
    end if;
    if p_replay_limit is null or p_replay_limit not between 1 and 1000 then
      return jsonb_build_object('code', 'RT400', 'message', 'limit must be between 1 and 1000');
    end if;
  end if;
  return null;
end;
$$;
comment on function realtime_join_refusal(realtime_rooms, text, text, boolean, bigint, integer) is
  'Why a user may not join a room ({code, message}) or null: unknown room (RT404), anonymous outside public rooms, a dm of two other users, a private room of which the user is not a member (RT403), a bad user id, since or replay limit (RT400).';

-- Joins many rooms in one transaction: a JSON array of {roomName, userId (null when anonymous),
-- anonymous, autoCreate, since (null or the last message id seen), replayLimit (default 100)}.
-- Returns an array in the same order of {ok: true, value: <what realtime_join_room returns>} or
-- {ok: false, error: {code, message}} (code: the SQLSTATE realtime_join_room raises). The rules are
-- checked first (realtime_join_refusal), so a refused join changes nothing and costs no
-- subtransaction; only automatic creation of a missing room runs in one (it may lose a race).
-- Joins are made in room and user order, so two batches joining the same rooms take their locks in
-- the same order; each answer is what that join saw (the members then, itself included).
create or replace function realtime_join_rooms(p_joins jsonb, p_now timestamptz default now())
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_item record;
  v_room realtime_rooms;
  v_refusal jsonb;
  v_joined boolean;
  v_result jsonb;
  v_results jsonb[];
  -- The joins made, in room order: answered after all of them, with each room's members,
  -- count and typers read once for the joins of that room in this call.
  v_done_ord integer[] := '{}';
  v_done_room text[] := '{}';
  v_done_user text[] := '{}';
  v_done_joined boolean[] := '{}';
  v_done_anonymous boolean[] := '{}';
  v_done_since bigint[] := '{}';
  v_done_limit integer[] := '{}';
  v_shared jsonb;
  v_shared_room text;
begin
  if p_joins is null or jsonb_typeof(p_joins) <> 'array' then
    raise exception 'joins must be a JSON array' using errcode = 'RT400';
  end if;
  if jsonb_array_length(p_joins) > 1000 then
    raise exception 'at most 1000 joins per call' using errcode = 'RT400';
  end if;
  v_results := array_fill(null::jsonb, array[jsonb_array_length(p_joins)]);

  for v_item in
    select j.ord::integer as ord,
           case
             when jsonb_typeof(j.value) <> 'object' then 'each join must be an object'
             when coalesce(jsonb_typeof(j.value -> 'anonymous'), 'null') not in ('null', 'boolean')
               or coalesce(jsonb_typeof(j.value -> 'autoCreate'), 'null') not in ('null', 'boolean') then
               'anonymous and autoCreate must be booleans'
             when coalesce(jsonb_typeof(j.value -> 'since'), 'null') not in ('null', 'number')
               or (jsonb_typeof(j.value -> 'since') = 'number' and (j.value ->> 'since') !~ '^-?[0-9]{1,18}$') then
               'since must be a non-negative event id'
             when j.value -> 'since' is not null and jsonb_typeof(j.value -> 'since') <> 'null'
               and coalesce(jsonb_typeof(j.value -> 'replayLimit'), 'number') <> 'null'
               and (jsonb_typeof(j.value -> 'replayLimit') <> 'number' or (j.value ->> 'replayLimit') !~ '^-?[0-9]{1,9}$') then
               'limit must be between 1 and 1000'
           end as malformed,
           case when jsonb_typeof(j.value) = 'object' then j.value ->> 'roomName' end as room_name,
           case when jsonb_typeof(j.value) = 'object' then j.value ->> 'userId' end as user_id,
           j.value as value
    from jsonb_array_elements(p_joins) with ordinality as j(value, ord)
    order by 3, 4, 1
  loop
    if v_item.malformed is not null then
      v_results[v_item.ord] := jsonb_build_object('ok', false, 'error', jsonb_build_object('code', 'RT400', 'message', v_item.malformed));
      continue;
    end if;
    declare
      v_anonymous boolean := coalesce((v_item.value ->> 'anonymous')::boolean, false);
      v_auto_create boolean := coalesce((v_item.value ->> 'autoCreate')::boolean, false);
      v_since bigint := (v_item.value ->> 'since')::bigint;
      -- Absent: realtime_join_room's default; null: refused like realtime_join_room's null.
      v_replay_limit integer := case when v_item.value ? 'replayLimit' then (v_item.value ->> 'replayLimit')::integer else 100 end;
    begin
      v_refusal := null;
      select * into v_room from realtime_rooms where name = v_item.room_name;
      if v_room.id is null and v_auto_create and not v_anonymous and v_item.room_name !~ '^dm:' then
        begin
          perform realtime_create_room(v_item.room_name, 'channel', 'public', '{}', null, p_now);
        exception
          when sqlstate 'RT409' then
            null; -- a concurrent join created it first: join that room
          when sqlstate 'RT400' then
            v_refusal := jsonb_build_object('code', 'RT400', 'message', sqlerrm);
        end;
        select * into v_room from realtime_rooms where name = v_item.room_name;
      end if;
      v_refusal := coalesce(v_refusal, realtime_join_refusal(v_room, v_item.room_name, v_item.user_id, v_anonymous, v_since, v_replay_limit));
      if v_refusal is not null then
        v_results[v_item.ord] := jsonb_build_object('ok', false, 'error', v_refusal);
        continue;
      end if;

      v_joined := false;
      if not v_anonymous and not exists (
        select 1 from realtime_room_members where room_id = v_room.id and user_id = v_item.user_id and left_at is null
      ) then
        v_joined := realtime_add_member(v_room.name, v_item.user_id, 'member', p_now);
      end if;
      v_done_ord := v_done_ord || v_item.ord;
      v_done_room := v_done_room || v_room.name;
      v_done_user := v_done_user || v_item.user_id;
      v_done_joined := v_done_joined || v_joined;
      v_done_anonymous := v_done_anonymous || v_anonymous;
      v_done_since := v_done_since || v_since;
      v_done_limit := v_done_limit || v_replay_limit;
    end;
  end loop;

  -- The answers. A join storm into a room of 100 would otherwise build its member list once per
  -- joiner; here once per room and call. Every join of a room in this call commits together, so
  -- each of them is answered with the members after all of them.
  for i in 1 .. coalesce(array_length(v_done_ord, 1), 0) loop
    if v_shared_room is distinct from v_done_room[i] then
      select * into v_room from realtime_rooms where name = v_done_room[i];
      v_shared := jsonb_build_object(
        'room', realtime_room_json(v_room),
        'members', realtime_room_members_json(v_room, p_now),
        'memberCount', (select count(*) from realtime_room_members where room_id = v_room.id and left_at is null),
        'typing', coalesce((
          select jsonb_agg(jsonb_build_object('userId', t.user_id, 'threadId', t.thread_id) order by t.started_at)
          from realtime_typing t where t.room_name = v_room.name and t.expires_at > p_now
        ), '[]'::jsonb)
      );
      v_shared_room := v_done_room[i];
    end if;
    v_result := v_shared || jsonb_build_object('joined', v_done_joined[i]);
    if v_done_since[i] is not null then
      v_result := v_result || jsonb_build_object(
        'replay', realtime_room_events_since(v_done_room[i], v_done_user[i], v_done_since[i], v_done_limit[i], v_done_anonymous[i]));
    end if;
    v_results[v_done_ord[i]] := jsonb_build_object('ok', true, 'value', v_result);
  end loop;
  return coalesce(to_jsonb(v_results), '[]'::jsonb);
end;
$$;
comment on function realtime_join_rooms(jsonb, timestamptz) is
  'Joins many rooms in one transaction ([{roomName, userId, anonymous, autoCreate, since, replayLimit}]); returns per join, in order, {ok, value} (value: what realtime_join_room returns) or {ok:false, error:{code, message}} (RT404 unknown room, RT403 not allowed, RT400 bad request); a refused join changes nothing.';

-- Joins a room as the rules above allow. Returns {room, joined, members, memberCount, typing}:
-- joined is true when a membership began (announced as user:joined). With p_since (the last
-- message id the client saw) it also returns replay: the messages it missed (see
-- realtime_room_events_since), so a reconnecting client needs one call per room. The rule lives in
-- realtime_join_rooms; this is its one-join form, raising what the batch reports.
create or replace function realtime_join_room(
  p_room_name text,
  p_user_id text,
  p_anonymous boolean default false,
  p_auto_create boolean default false,
  p_now timestamptz default now(),
  p_since bigint default null,
  p_replay_limit integer default 100
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_result jsonb;
begin
  v_result := realtime_join_rooms(jsonb_build_array(jsonb_build_object(
    'roomName', p_room_name, 'userId', p_user_id, 'anonymous', p_anonymous, 'autoCreate', p_auto_create,
    'since', p_since, 'replayLimit', p_replay_limit)), p_now) -> 0;
  if not (v_result ->> 'ok')::boolean then
    raise exception '%', v_result #>> '{error,message}' using errcode = v_result #>> '{error,code}';
  end if;
  return v_result -> 'value';
end;
$$;
comment on function realtime_join_room(text, text, boolean, boolean, timestamptz, bigint, integer) is
  'Joins a room under the room rules (RT404 unknown, RT403 not allowed); returns the room, whether a membership began, members with presence (first 1000), member count, current typers and, with p_since, the messages missed since then (replay).';

create or replace function realtime_leave_room(p_room_name text, p_user_id text, p_now timestamptz default now())
returns boolean
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  return (
    select realtime_remove_member(p_room_name, p_user_id, p_now)
  );
end;
$$;
comment on function realtime_leave_room(text, text, timestamptz) is 'Leaves a room (ends the membership); true when the user was a member.';

-- Why a message may not be sent, as {code, message} (code: the SQLSTATE RT400/RT403/RT404), or
-- null when it may. The one place the sending rules live; it raises nothing, so a batch can refuse
-- one message and store the others. Content length and metadata size come from realtime_limits()
-- (metadata is measured as PostgreSQL writes its JSON text); a batch reads them once and passes
-- them in.
drop function if exists realtime_message_refusal(realtime_rooms, text, text, text, text, jsonb, text[]);
create or replace function realtime_message_refusal(
  p_room realtime_rooms,
  p_room_name text,
  p_user_id text,
  p_content text,
  p_thread_id text,
  p_metadata jsonb,
  p_roles text[],
  p_max_length integer default null,
  p_max_metadata integer default null
)
returns jsonb
language plpgsql
stable
as $$
declare
  v_role text;
  v_limits jsonb := case when p_max_length is null or p_max_metadata is null then realtime_limits() end;
  v_max_length integer := coalesce(p_max_length, (v_limits ->> 'maxMessageLength')::integer);
  v_max_metadata integer := coalesce(p_max_metadata, (v_limits ->> 'maxMessageMetadataBytes')::integer);
begin
  if p_room.id is null then
    return jsonb_build_object('code', 'RT404', 'message', format('room %s does not exist', p_room_name));
  end if;
  if p_content is null or char_length(p_content) not between 1 and v_max_length then
    return jsonb_build_object('code', 'RT400', 'message', format('message content must be 1 to %s characters', v_max_length));
  end if;
  if p_thread_id is not null and char_length(p_thread_id) not between 1 and 255 then
    return jsonb_build_object('code', 'RT400', 'message', 'thread id must be 1 to 255 characters');
  end if;
  if p_metadata is not null and jsonb_typeof(p_metadata) <> 'object' then
    return jsonb_build_object('code', 'RT400', 'message', 'message metadata must be a JSON object');
  end if;
  if p_metadata is not null and octet_length(p_metadata::text) > v_max_metadata then
    return jsonb_build_object('code', 'RT400', 'message', format('message metadata must be at most %s bytes of JSON', v_max_metadata));
  end if;
  select role into v_role from realtime_room_members
  where room_id = p_room.id and user_id = p_user_id and left_at is null;
  if v_role is null then
    return jsonb_build_object('code', 'RT403', 'message', format('you are not a member of room %s', p_room.name));
  end if;
  if p_room.type = 'broadcast'
     and v_role not in ('owner', 'admin')
     and not coalesce(p_room.metadata -> 'senders' ? p_user_id, false)
     and not exists (
       select 1 from jsonb_array_elements_text(
         case when jsonb_typeof(p_room.metadata -> 'senderRoles') = 'array' then p_room.metadata -> 'senderRoles' else '[]' end
       ) as r(role)
       where r.role = any (coalesce(p_roles, '{}'))
     ) then
    return jsonb_build_object('code', 'RT403', 'message', format('only permitted senders may send in broadcast room %s', p_room.name));
  end if;
  return null;
end;
$$;
comment on function realtime_message_refusal(realtime_rooms, text, text, text, text, jsonb, text[], integer, integer) is
  'Why a message may not be sent ({code, message}) or null: unknown room (RT404), bad content, thread or metadata (RT400; lengths from realtime_limits() unless given), not an active member, or not a permitted sender of a broadcast room (RT403: owner/admin, metadata.senders, or a role in metadata.senderRoles).';

-- A stored message (a realtime_events row of type message) as message:new shows it. The same
-- function builds the answer to the first send and to a retry, so both are identical.
create or replace function realtime_message_json(e realtime_events)
returns jsonb
language plpgsql
stable
as $$
begin
  return jsonb_build_object(
    'id', e.seq, 'eventId', e.id, 'roomName', e.room_name, 'userId', e.user_id,
    'content', e.data ->> 'content', 'threadId', e.data -> 'threadId', 'metadata', e.data -> 'metadata',
    'timestamp', e.created_at)
    || case when e.client_message_id is null then '{}'::jsonb
            else jsonb_build_object('clientMessageId', e.client_message_id) end;
end;
$$;
comment on function realtime_message_json(realtime_events) is
  'A stored message as message:new shows it: {id, eventId, roomName, userId, content, threadId, metadata, timestamp, clientMessageId when the sender gave one}.';

-- Sends many messages in one transaction: a JSON array of {roomName, userId, content, threadId?,
-- metadata?, roles?, clientMessageId?}. Each allowed message is appended to the event log (its seq
-- is the message id and the replay offset) and clears its sender's typing in that room/thread.
-- Returns an array in the same order of {ok: true, message}, {ok: true, duplicate: true, message}
-- or {ok: false, error: {code, message}}. The relay gathers the sends that arrive while a call is
-- in flight into the next call, so under load one commit carries many messages.
--
-- Idempotent sends: a message with a clientMessageId (1 to 128 characters, chosen by the client)
-- is stored at most once per room, user and id, by the unique index realtime_events_client_message.
-- A retry (after a lost acknowledgement, a reconnect, on another relay, in the same batch or
-- concurrently in another transaction) stores nothing, clears no typing and answers the message
-- stored first, with duplicate: true so the relay does not deliver it again. The first send wins:
-- a retry with other content still answers the stored message. The key lives as long as the event
-- (REALTIME_EVENT_RETENTION); a retry after the message was pruned stores it again.
create or replace function realtime_send_messages(p_messages jsonb, p_now timestamptz default now())
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  -- Read once per call and handed to realtime_message_refusal for every message.
  v_limits jsonb := realtime_limits();
  v_max_length integer := (v_limits ->> 'maxMessageLength')::integer;
  v_max_metadata integer := (v_limits ->> 'maxMessageMetadataBytes')::integer;
  v_results jsonb[];
  v_pending jsonb;
  v_typing_changed jsonb;
  v_item jsonb;
  v_event realtime_events;
  v_duplicate boolean;
begin
  if p_messages is null or jsonb_typeof(p_messages) <> 'array' then
    raise exception 'messages must be a JSON array' using errcode = 'RT400';
  end if;
  if jsonb_array_length(p_messages) > 1000 then
    raise exception 'at most 1000 messages per call' using errcode = 'RT400';
  end if;

  -- One statement checks every message (realtime_message_refusal, with the limits read above),
  -- stores the allowed ones and answers them. The insert takes the
  -- messages in input order, so their seqs (the message ids) increase in that order and, of
  -- repeats of one clientMessageId, the first is stored: a repeat answers the row stored by this
  -- statement (found through its pre-chosen event id), or is left for the next statement when the
  -- row was stored before (a snapshot taken after this insert finds it, also when it waited for a
  -- concurrent transaction that stored it). The same statement clears the senders' typing.
  with items as materialized (
    select i.ord::integer as ord, i.value as item,
           case
             when jsonb_typeof(i.value) <> 'object' then
               jsonb_build_object('code', 'RT400', 'message', 'each message must be an object')
             when coalesce(jsonb_typeof(i.value -> 'clientMessageId'), 'null') not in ('null', 'string')
                  or char_length(i.value ->> 'clientMessageId') not between 1 and 128 then
               jsonb_build_object('code', 'RT400', 'message', 'clientMessageId must be a string of 1 to 128 characters')
           end as malformed
    from jsonb_array_elements(p_messages) with ordinality as i(value, ord)
  ), fields as (
    select it.ord, it.malformed,
           it.item ->> 'roomName' as room_name,
           it.item ->> 'userId' as user_id,
           it.item ->> 'content' as content,
           it.item ->> 'threadId' as thread_id,
           nullif(it.item -> 'metadata', 'null'::jsonb) as metadata,
           it.item ->> 'clientMessageId' as client_id,
           case when jsonb_typeof(it.item -> 'roles') = 'array' then it.item -> 'roles' else '[]'::jsonb end as roles
    from items it
  ), checked as materialized (
    select f.ord, f.user_id, f.content, f.thread_id, f.metadata, f.client_id, (r.room).name as room,
           coalesce(f.malformed, realtime_message_refusal(
             r.room, f.room_name, f.user_id, f.content, f.thread_id, f.metadata,
             array(select jsonb_array_elements_text(f.roles)), v_max_length, v_max_metadata)) as refusal,
           gen_random_uuid() as event_id
    -- The room per message (limit 1 keeps it an index probe: the planner guesses a batch of 100
    -- and would otherwise hash the whole table).
    from fields f
    left join lateral (
      select r as room from realtime_rooms r where f.malformed is null and r.name = f.room_name limit 1
    ) r on true
  ), inserted as (
    insert into realtime_events as e (id, type, user_id, room_name, data, created_at, client_message_id)
    select c.event_id, 'message', c.user_id, c.room,
           jsonb_build_object('content', c.content, 'threadId', c.thread_id, 'metadata', c.metadata), p_now, c.client_id
    from checked c
    where c.refusal is null
    order by c.ord
    on conflict (room_name, user_id, client_message_id) where client_message_id is not null do nothing
    returning e.id, e.room_name, e.user_id, e.client_message_id, realtime_message_json(e) as message
  ), cleared as (
    -- A message stored clears its sender's typing in that room/thread (realtime_stop_typing's
    -- rule), once per sender and room/thread.
    delete from realtime_typing t
    where t.id = any (array(
      select k.id
      from (select distinct c.room, coalesce(c.thread_id, '') as thread, c.user_id
            from inserted i join checked c on c.event_id = i.id) s
      cross join lateral (
        select k.id from realtime_typing k
        where k.room_name = s.room and coalesce(k.thread_id, '') = s.thread and k.user_id = s.user_id limit 1
      ) k))
    returning t.room_name, t.thread_id, t.expires_at > p_now as live
  ), answered as (
    select c.ord, c.refusal, c.room, c.user_id, c.thread_id, own.message as own_message, first.message as first_message
    from checked c
    left join inserted own on own.id = c.event_id
    left join inserted first on own.id is null and c.client_id is not null
      and first.room_name = c.room and first.user_id = c.user_id and first.client_message_id = c.client_id
  )
  select
    array_agg(case
                when a.refusal is not null then jsonb_build_object('ok', false, 'error', a.refusal)
                when a.own_message is not null then jsonb_build_object('ok', true, 'message', a.own_message)
                when a.first_message is not null then jsonb_build_object('ok', true, 'duplicate', true, 'message', a.first_message)
              end order by a.ord),
    jsonb_agg(jsonb_build_object('ord', a.ord, 'item', p_messages -> (a.ord - 1)) order by a.ord)
      filter (where a.refusal is null and a.own_message is null and a.first_message is null),
    (select jsonb_agg(jsonb_build_object('room', x.room_name, 'thread', x.thread_id))
     from (select distinct room_name::text, thread_id::text from cleared where live) x)
  into v_results, v_pending, v_typing_changed
  from answered a;

  -- Repeats of a message stored before this call: answer the stored row. Rarely it is gone (pruned
  -- since the insert skipped it); then store it again, as a first send would.
  for v_item in select jsonb_array_elements(coalesce(v_pending, '[]'::jsonb)) loop
    v_duplicate := false;
    for v_attempt in 1..3 loop
      select * into v_event from realtime_events
      where room_name = v_item #>> '{item,roomName}' and user_id = v_item #>> '{item,userId}'
        and client_message_id = v_item #>> '{item,clientMessageId}';
      v_duplicate := found;
      exit when found;
      insert into realtime_events (type, user_id, room_name, data, created_at, client_message_id)
      values ('message', v_item #>> '{item,userId}', v_item #>> '{item,roomName}',
              jsonb_build_object('content', v_item #>> '{item,content}', 'threadId', v_item #>> '{item,threadId}',
                                 'metadata', nullif(v_item #> '{item,metadata}', 'null'::jsonb)),
              p_now, v_item #>> '{item,clientMessageId}')
      on conflict (room_name, user_id, client_message_id) where client_message_id is not null do nothing
      returning * into v_event;
      exit when found;
    end loop;
    if v_event.id is null then
      raise exception 'could not store or find message % of user %', v_item #>> '{item,clientMessageId}', v_item #>> '{item,userId}'
        using errcode = '40001';
    end if;
    if v_duplicate then
      v_results[(v_item ->> 'ord')::integer] := jsonb_build_object('ok', true, 'duplicate', true, 'message', realtime_message_json(v_event));
    else
      v_results[(v_item ->> 'ord')::integer] := jsonb_build_object('ok', true, 'message', realtime_message_json(v_event));
      perform realtime_stop_typing(v_event.room_name, v_event.user_id, v_item #>> '{item,threadId}', p_now);
    end if;
  end loop;

  -- One announcement per room/thread whose typers changed (a statement of its own, so that it
  -- sees the delete).
  if v_typing_changed is not null then
    perform realtime_notify_typing(c ->> 'room', c ->> 'thread', p_now) from jsonb_array_elements(v_typing_changed) as c;
  end if;
  return coalesce(to_jsonb(v_results), '[]'::jsonb);
end;
$$;
comment on function realtime_send_messages(jsonb, timestamptz) is
  'Stores many messages in one transaction ([{roomName, userId, content, threadId, metadata, roles, clientMessageId}]); returns per message {ok, message}, {ok, duplicate: true, message} (a clientMessageId already stored for that room and user: the stored message, nothing stored again) or {ok:false, error:{code, message}} in order.';

-- Sends one message (see realtime_send_messages); raises RT400/RT403/RT404 when it is refused.
-- With p_client_message_id a retry answers the message stored first and stores nothing.
-- (p_client_message_id comes after p_now so that existing positional calls keep working.)
drop function if exists realtime_send_message(text, text, text, text, jsonb, text[], timestamptz);
create or replace function realtime_send_message(
  p_room_name text,
  p_user_id text,
  p_content text,
  p_thread_id text default null,
  p_metadata jsonb default null,
  p_roles text[] default '{}',
  p_now timestamptz default now(),
  p_client_message_id text default null
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_result jsonb;
begin
  v_result := realtime_send_messages(jsonb_build_array(jsonb_build_object(
    'roomName', p_room_name, 'userId', p_user_id, 'content', p_content, 'threadId', p_thread_id,
    'metadata', p_metadata, 'roles', to_jsonb(coalesce(p_roles, '{}'::text[])),
    'clientMessageId', p_client_message_id)), p_now) -> 0;
  if not (v_result ->> 'ok')::boolean then
    raise exception '%', v_result #>> '{error,message}' using errcode = v_result #>> '{error,code}';
  end if;
  return v_result -> 'message';
end;
$$;
comment on function realtime_send_message(text, text, text, text, jsonb, text[], timestamptz, text) is
  'Checks that the user may send in the room, stores the message in realtime_events (seq = message id) and clears the sender''s typing; returns the message as message:new shows it. With p_client_message_id, a retry stores nothing and returns the message stored first.';
