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

-- Raises RT404/RT403 unless the user is an active member of the room.
create or replace function realtime_assert_member(p_room_name text, p_user_id text)
returns uuid
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
    raise exception 'room % does not exist', p_room_name using errcode = 'RT404';
  end if;
  if not v_member then
    raise exception 'user is not a member of room %', p_room_name using errcode = 'RT403';
  end if;
  return v_room_id;
end;
$$;
comment on function realtime_assert_member(text, text) is 'Returns the room id when the user is an active member; raises RT404 (no room) or RT403 (not a member).';

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
