-- Typing indicators: per room and per optional thread (a NULL thread is one thread). A start sets or
-- refreshes an indicator that expires after a timeout; stop, expiry, leaving the room and closing
-- the socket clear it. Only a change in the set of typers is announced; a refresh is silent.
-- realtime_typing is UNLOGGED, so none of this writes WAL.

-- Who is typing now in a room/thread (at most 50 user ids, earliest first).
create or replace function realtime_typers(p_room_name text, p_thread_id text, p_now timestamptz default now())
returns text[]
language plpgsql
stable
as $$
begin
  return (
    select coalesce(array_agg(user_id order by started_at, user_id), '{}')
    from (
      select user_id, started_at from realtime_typing
      where room_name = p_room_name
        and coalesce(thread_id, '') = coalesce(p_thread_id, '')
        and expires_at > p_now
      order by started_at, user_id
      limit 50
    ) t
  );
end;
$$;
comment on function realtime_typers(text, text, timestamptz) is 'User ids typing now in a room and thread (NULL: the room itself), at most 50.';

-- Announces the typers of a room/thread. User ids may be 255 characters long, so 50 of them can
-- exceed the 8000-byte NOTIFY limit (which would abort the caller's transaction): the list keeps
-- the earliest typers whose JSON fits in 6000 bytes, and truncated says when some were left out.
create or replace function realtime_notify_typing(p_room_name text, p_thread_id text, p_now timestamptz default now())
returns void
language plpgsql
volatile
as $$
declare
  v_users jsonb := '[]'::jsonb;
  v_bytes integer := 0;
  v_truncated boolean := false;
  v_user text;
begin
  foreach v_user in array realtime_typers(p_room_name, p_thread_id, p_now) loop
    v_bytes := v_bytes + octet_length(to_jsonb(v_user)::text) + 1;
    if v_bytes > 6000 then
      v_truncated := true;
      exit;
    end if;
    v_users := v_users || to_jsonb(v_user);
  end loop;
  perform realtime_notify('typing', jsonb_build_object('room', p_room_name, 'threadId', p_thread_id, 'users', v_users)
    || case when v_truncated then jsonb_build_object('truncated', true) else '{}'::jsonb end);
end;
$$;
comment on function realtime_notify_typing(text, text, timestamptz) is
  'Announces who is typing in a room/thread: {"kind":"typing",room,threadId,users[,truncated]}, always under 8000 bytes.';

-- Why a user may not act in a room as a member, as {code, message}, or null when they may.
create or replace function realtime_member_refusal(p_room_name text, p_user_id text)
returns jsonb
language plpgsql
stable
as $$
declare
  v_room_id uuid;
  v_member boolean;
begin
  select r.id, exists (
    select 1 from realtime_room_members m where m.room_id = r.id and m.user_id = p_user_id and m.left_at is null
  ) into v_room_id, v_member
  from realtime_rooms r where r.name = p_room_name;
  if v_room_id is null then
    return jsonb_build_object('code', 'RT404', 'message', format('room %s does not exist', p_room_name));
  end if;
  if not v_member then
    return jsonb_build_object('code', 'RT403', 'message', format('user is not a member of room %s', p_room_name));
  end if;
  return null;
end;
$$;
comment on function realtime_member_refusal(text, text) is 'Null when the user is an active member of the room, else {code, message}: RT404 (no room) or RT403 (not a member).';

-- Raises RT404/RT403 unless the user is an active member of the room.
create or replace function realtime_assert_member(p_room_name text, p_user_id text)
returns void
language plpgsql
stable
as $$
declare
  v_refusal jsonb := realtime_member_refusal(p_room_name, p_user_id);
begin
  if v_refusal is not null then
    raise exception '%', v_refusal ->> 'message' using errcode = v_refusal ->> 'code';
  end if;
end;
$$;
comment on function realtime_assert_member(text, text) is 'Raises RT404 (no room) or RT403 (not a member) unless the user is an active member of the room.';

-- Starts or refreshes typing. Returns {changed, users}: changed is true when the set of typers
-- changed (and was announced), false for a silent refresh.
create or replace function realtime_start_typing(
  p_room_name text,
  p_user_id text,
  p_thread_id text default null,
  p_socket_id text default null,
  p_timeout interval default interval '3 seconds',
  p_now timestamptz default now()
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_expires timestamptz := p_now + p_timeout;
begin
  if p_thread_id is not null and char_length(p_thread_id) not between 1 and 255 then
    raise exception 'thread id must be 1 to 255 characters' using errcode = 'RT400';
  end if;
  -- The common case, a refresh of a live indicator, costs one update and no notification.
  update realtime_typing set expires_at = v_expires, socket_id = coalesce(p_socket_id, socket_id)
  where room_name = p_room_name and coalesce(thread_id, '') = coalesce(p_thread_id, '')
    and user_id = p_user_id and expires_at > p_now;
  if found then
    return jsonb_build_object('changed', false);
  end if;

  perform realtime_assert_member(p_room_name, p_user_id);
  insert into realtime_typing (room_name, user_id, thread_id, socket_id, started_at, expires_at)
  values (p_room_name, p_user_id, p_thread_id, p_socket_id, p_now, v_expires)
  on conflict (room_name, (coalesce(thread_id, '')), user_id) do update set
    started_at = p_now, expires_at = v_expires, socket_id = excluded.socket_id;
  perform realtime_notify_typing(p_room_name, p_thread_id, p_now);
  return jsonb_build_object('changed', true, 'users', to_jsonb(realtime_typers(p_room_name, p_thread_id, p_now)));
end;
$$;
comment on function realtime_start_typing(text, text, text, text, interval, timestamptz) is
  'Sets or refreshes a typing indicator that expires after p_timeout; only a change in the set of typers is announced. Returns {changed, users}.';

-- Stops typing; returns true when an indicator was live (and the change was announced).
create or replace function realtime_stop_typing(
  p_room_name text,
  p_user_id text,
  p_thread_id text default null,
  p_now timestamptz default now()
)
returns boolean
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_was_live boolean;
begin
  delete from realtime_typing
  where room_name = p_room_name and coalesce(thread_id, '') = coalesce(p_thread_id, '') and user_id = p_user_id
  returning expires_at > p_now into v_was_live;
  if coalesce(v_was_live, false) then
    perform realtime_notify_typing(p_room_name, p_thread_id, p_now);
    return true;
  end if;
  return false;
end;
$$;
comment on function realtime_stop_typing(text, text, text, timestamptz) is 'Clears a typing indicator; announces it and returns true when it was live.';

-- Deletes expired indicators and announces each room/thread whose typers changed. Any number of
-- relays may call it; one does the work at a time.
create or replace function realtime_expire_typing(p_now timestamptz default now())
returns table (room_name text, thread_id text)
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if not pg_try_advisory_xact_lock(hashtext('realtime.expire_typing')) then
    return;
  end if;
  return query
  with expired as (
    delete from realtime_typing t where t.expires_at <= p_now
    returning t.room_name, t.thread_id
  ), changed as (
    select distinct e.room_name::text as room_name, e.thread_id::text as thread_id from expired e
  )
  select c.room_name, c.thread_id from changed c, lateral realtime_notify_typing(c.room_name, c.thread_id, p_now);
end;
$$;
comment on function realtime_expire_typing(timestamptz) is 'Removes expired typing indicators and announces the rooms/threads that changed.';

-- Clears what the given sockets were typing (on disconnect) and announces the changes.
create or replace function realtime_clear_typing_of_sockets(p_socket_ids text[], p_now timestamptz default now())
returns integer
language plpgsql
volatile
as $$
declare
  v_count integer;
begin
  with cleared as (
    delete from realtime_typing t where t.socket_id = any (p_socket_ids)
    returning t.room_name, t.thread_id, t.expires_at > p_now as live
  ), changed as (
    select distinct c.room_name::text as room_name, c.thread_id::text as thread_id from cleared c where c.live
  )
  select count(*) into v_count from changed c, lateral realtime_notify_typing(c.room_name, c.thread_id, p_now);
  return v_count;
end;
$$;
comment on function realtime_clear_typing_of_sockets(text[], timestamptz) is 'Clears typing indicators set by the given sockets; returns how many rooms/threads changed.';

-- Many typing changes in one transaction, in order: a JSON array of {op: "start"|"stop", roomName,
-- userId, threadId?, socketId?}. Returns per change {ok: true, value: {changed[, users]}} or
-- {ok: false, error: {code, message}}; a refused change does not affect the others. The relay
-- gathers the typing events that arrive while a call is in flight into the next call.
-- Each change does what realtime_start_typing/realtime_stop_typing do, and its answer is the state
-- right after it (users: the typers then), but the announcement comes once per room/thread whose
-- typers changed in the batch, after the last change, with the typers then: a room where many type
-- at once costs one NOTIFY per call, not one per change. Only the changes run one at a time (a
-- later change may act on what an earlier one did); who may start typing is checked for the whole
-- batch in one query.
create or replace function realtime_typing_changes(
  p_changes jsonb,
  p_timeout interval default interval '3 seconds',
  p_now timestamptz default now()
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_expires timestamptz := p_now + p_timeout;
  v_change record;
  v_results jsonb[];
  v_live boolean;
  v_changed_rooms text[] := '{}';
  v_changed_threads text[] := '{}';
begin
  if p_changes is null or jsonb_typeof(p_changes) <> 'array' then
    raise exception 'changes must be a JSON array' using errcode = 'RT400';
  end if;
  v_results := array_fill(null::jsonb, array[jsonb_array_length(p_changes)]);

  for v_change in
    with items as (
      select c.ord::integer as ord, c.value as change,
             case when jsonb_typeof(c.value) = 'object' then c.value ->> 'threadId' end as thread_id
      from jsonb_array_elements(p_changes) with ordinality as c(value, ord)
    )
    -- realtime_member_refusal's rule, for every start at once.
    select i.ord, i.thread_id, i.change ->> 'roomName' as room_name, i.change ->> 'userId' as user_id,
           i.change ->> 'socketId' as socket_id, i.change ->> 'op' = 'start' as is_start,
           case
             when jsonb_typeof(i.change) <> 'object' or i.change ->> 'op' not in ('start', 'stop') then
               jsonb_build_object('code', 'RT400', 'message', 'a typing change is {op: start|stop, roomName, userId, threadId?}')
             when i.thread_id is not null and char_length(i.thread_id) not between 1 and 255 then
               jsonb_build_object('code', 'RT400', 'message', 'thread id must be 1 to 255 characters')
             when i.change ->> 'op' = 'start' and r.id is null then
               jsonb_build_object('code', 'RT404', 'message', format('room %s does not exist', i.change ->> 'roomName'))
             when i.change ->> 'op' = 'start' and m.room_id is null then
               jsonb_build_object('code', 'RT403', 'message', format('user is not a member of room %s', i.change ->> 'roomName'))
           end as refusal
    from items i
    -- limit 1 keeps each lookup an index probe (the planner guesses 100 changes and would hash
    -- whole tables).
    left join lateral (
      select r.id from realtime_rooms r
      where jsonb_typeof(i.change) = 'object' and i.change ->> 'op' = 'start' and r.name = i.change ->> 'roomName' limit 1
    ) r on true
    left join lateral (
      select m.room_id from realtime_room_members m
      where m.room_id = r.id and m.user_id = i.change ->> 'userId' and m.left_at is null limit 1
    ) m on true
    order by i.ord
  loop
    if v_change.refusal is not null then
      v_results[v_change.ord] := jsonb_build_object('ok', false, 'error', v_change.refusal);
    elsif v_change.is_start then
      -- A refresh of a live indicator changes nothing that is announced.
      update realtime_typing set expires_at = v_expires, socket_id = coalesce(v_change.socket_id, socket_id)
      where room_name = v_change.room_name and coalesce(thread_id, '') = coalesce(v_change.thread_id, '')
        and user_id = v_change.user_id and expires_at > p_now;
      if found then
        v_results[v_change.ord] := jsonb_build_object('ok', true, 'value', jsonb_build_object('changed', false));
      else
        insert into realtime_typing (room_name, user_id, thread_id, socket_id, started_at, expires_at)
        values (v_change.room_name, v_change.user_id, v_change.thread_id, v_change.socket_id, p_now, v_expires)
        on conflict (room_name, (coalesce(thread_id, '')), user_id) do update set
          started_at = p_now, expires_at = v_expires, socket_id = excluded.socket_id;
        v_changed_rooms := v_changed_rooms || v_change.room_name;
        v_changed_threads := v_changed_threads || v_change.thread_id;
        v_results[v_change.ord] := jsonb_build_object('ok', true, 'value', jsonb_build_object(
          'changed', true, 'users', to_jsonb(realtime_typers(v_change.room_name, v_change.thread_id, p_now))));
      end if;
    else
      v_live := null;
      delete from realtime_typing
      where room_name = v_change.room_name and coalesce(thread_id, '') = coalesce(v_change.thread_id, '')
        and user_id = v_change.user_id
      returning expires_at > p_now into v_live;
      v_live := coalesce(v_live, false);
      if v_live then
        v_changed_rooms := v_changed_rooms || v_change.room_name;
        v_changed_threads := v_changed_threads || v_change.thread_id;
      end if;
      v_results[v_change.ord] := jsonb_build_object('ok', true, 'value', jsonb_build_object('changed', v_live));
    end if;
  end loop;

  -- In the order of each room/thread's first change.
  if cardinality(v_changed_rooms) > 0 then
    perform realtime_notify_typing(c.room_name, c.thread_id, p_now)
    from (
      select u.room_name, u.thread_id, min(u.ord) as first
      from unnest(v_changed_rooms, v_changed_threads) with ordinality as u(room_name, thread_id, ord)
      group by u.room_name, u.thread_id
    ) c
    order by c.first;
  end if;
  return coalesce(to_jsonb(v_results), '[]'::jsonb);
end;
$$;
comment on function realtime_typing_changes(jsonb, interval, timestamptz) is
  'Applies many typing starts and stops in order ([{op, roomName, userId, threadId, socketId}]); returns per change {ok, value: {changed, users?}} or {ok:false, error:{code, message}}; announces each room/thread whose typers changed once, after the batch.';
