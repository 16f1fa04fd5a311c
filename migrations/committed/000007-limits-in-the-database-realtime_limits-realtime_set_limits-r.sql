--! Previous: sha1:294044f9dfd1120dc2bf8af37c865dfcd9e7b96c
--! Hash: sha1:772d0ca60c55214433b7b619d342a0c61f56c856
--! Message: Limits in the database (realtime_limits, realtime_set_limits) read by every rule; liveness by each node's declared stale-after; realtime_cluster_stats; replayed messages carry eventId and clientMessageId

-- Limits on what is stored live in the database, one row read by every rule and by the relay.
create table if not exists realtime_limits (
  id boolean primary key default true check (id),
  max_message_length integer not null default 10000 check (max_message_length between 1 and 100000),
  max_message_metadata_bytes integer not null default 8192 check (max_message_metadata_bytes between 2 and 65536),
  max_custom_status_text integer not null default 128 check (max_custom_status_text between 0 and 1024),
  max_custom_status_emoji integer not null default 32 check (max_custom_status_emoji between 0 and 256),
  updated_at timestamptz not null default now()
);
comment on table realtime_limits is 'One row: the limits on what is stored (message length, metadata size, custom status lengths); read with realtime_limits(), changed with realtime_set_limits().';
insert into realtime_limits (id) values (true) on conflict (id) do nothing;

--! Included limits.sql
-- Limits on what is stored, kept in one place: the singleton table realtime_limits (created by a
-- migration; one row, id = true). The SQL rules read it (realtime_message_refusal,
-- realtime_check_custom_status), so a relay, the CLI and a psql session get the same answer; the
-- relay reads realtime_limits() to refuse early with the same numbers. Only the schema owner (or
-- whoever it grants realtime_set_limits to) changes them: `realtime limits set KEY VALUE`.

-- The statuses a user may choose; the same list as realtime_presence's CHECK constraint.
create or replace function realtime_presence_statuses()
returns text[]
language sql
immutable
as $$
  select array['online', 'away', 'busy', 'offline']::text[];
$$;
comment on function realtime_presence_statuses() is 'The presence statuses a user may choose: online, away, busy, offline.';

-- The keys a custom status may have.
create or replace function realtime_custom_status_keys()
returns text[]
language sql
immutable
as $$
  select array['text', 'emoji', 'expiresAt']::text[];
$$;
comment on function realtime_custom_status_keys() is 'The keys a custom status may have: text, emoji, expiresAt.';

-- The limits as JSON, with the fixed lists the relay validates against.
create or replace function realtime_limits()
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'maxMessageLength', coalesce(l.max_message_length, 10000),
    'maxMessageMetadataBytes', coalesce(l.max_message_metadata_bytes, 8192),
    'maxCustomStatusText', coalesce(l.max_custom_status_text, 128),
    'maxCustomStatusEmoji', coalesce(l.max_custom_status_emoji, 32),
    'statuses', to_jsonb(realtime_presence_statuses()),
    'customStatusKeys', to_jsonb(realtime_custom_status_keys()),
    'updatedAt', l.updated_at)
  from (select 1) one
  left join realtime_limits l on l.id;
$$;
comment on function realtime_limits() is
  'The limits every caller is held to: {maxMessageLength, maxMessageMetadataBytes, maxCustomStatusText, maxCustomStatusEmoji, statuses, customStatusKeys, updatedAt}.';

-- Changes some limits: p_limits is an object of the keys to change (the realtime_limits() names),
-- each an integer in its range; anything else is refused with RT400 and nothing changes. Returns
-- realtime_limits(). Not granted to the relay role: the relay may read the limits, not move them.
create or replace function realtime_set_limits(p_limits jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_key text;
  v_value jsonb;
  v_ranges constant jsonb := jsonb_build_object(
    'maxMessageLength', jsonb_build_array(1, 100000),
    'maxMessageMetadataBytes', jsonb_build_array(2, 65536),
    'maxCustomStatusText', jsonb_build_array(0, 1024),
    'maxCustomStatusEmoji', jsonb_build_array(0, 256));
begin
  if p_limits is null or jsonb_typeof(p_limits) <> 'object' then
    raise exception 'limits must be a JSON object' using errcode = 'RT400';
  end if;
  for v_key, v_value in select * from jsonb_each(p_limits) loop
    if not v_ranges ? v_key then
      raise exception 'unknown limit % (known: %)', v_key,
        (select string_agg(k, ', ' order by k) from jsonb_object_keys(v_ranges) k) using errcode = 'RT400';
    end if;
    if jsonb_typeof(v_value) <> 'number' or v_value::text !~ '^[0-9]+$'
       or v_value::numeric not between (v_ranges -> v_key ->> 0)::int and (v_ranges -> v_key ->> 1)::int then
      raise exception '% must be an integer from % to % (got %)', v_key,
        v_ranges -> v_key ->> 0, v_ranges -> v_key ->> 1, v_value using errcode = 'RT400';
    end if;
  end loop;
  insert into realtime_limits (id) values (true) on conflict (id) do nothing;
  update realtime_limits set
    max_message_length = coalesce((p_limits ->> 'maxMessageLength')::int, max_message_length),
    max_message_metadata_bytes = coalesce((p_limits ->> 'maxMessageMetadataBytes')::int, max_message_metadata_bytes),
    max_custom_status_text = coalesce((p_limits ->> 'maxCustomStatusText')::int, max_custom_status_text),
    max_custom_status_emoji = coalesce((p_limits ->> 'maxCustomStatusEmoji')::int, max_custom_status_emoji),
    updated_at = now()
  where id;
  return realtime_limits();
end;
$$;
comment on function realtime_set_limits(jsonb) is
  'Changes limits ({maxMessageLength, maxMessageMetadataBytes, maxCustomStatusText, maxCustomStatusEmoji}, integers in range; RT400 otherwise); returns realtime_limits(). Not granted to the relay role.';
--! EndIncluded limits.sql
--! Included rooms.sql
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

-- Joins a room as the rules above allow. Returns {room, joined, members, memberCount, typing}:
-- joined is true when a membership began (announced as user:joined). With p_since (the last
-- message id the client saw) it also returns replay: the messages it missed (see
-- realtime_room_events_since), so a reconnecting client needs one call per room.
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
  v_room realtime_rooms;
  v_member boolean;
  v_joined boolean := false;
  v_result jsonb;
begin
  select * into v_room from realtime_rooms where name = p_room_name;
  if v_room.id is null then
    if p_auto_create and not p_anonymous and p_room_name !~ '^dm:' then
      begin
        perform realtime_create_room(p_room_name, 'channel', 'public', '{}', null, p_now);
      exception when sqlstate 'RT409' then
        null; -- a concurrent join created it first: join that room
      end;
      select * into v_room from realtime_rooms where name = p_room_name;
    else
      raise exception 'room % does not exist', p_room_name using errcode = 'RT404';
    end if;
  end if;

  if p_anonymous then
    if v_room.visibility <> 'public' or v_room.type = 'dm' then
      raise exception 'anonymous users may only join public rooms' using errcode = 'RT403';
    end if;
  else
    v_member := exists (
      select 1 from realtime_room_members where room_id = v_room.id and user_id = p_user_id and left_at is null
    );
    if not v_member then
      if v_room.type = 'dm' then
        if p_user_id not in (v_room.dm_user_a, v_room.dm_user_b) then
          raise exception 'room % is a direct conversation of two other users', p_room_name using errcode = 'RT403';
        end if;
      elsif v_room.visibility = 'private' then
        raise exception 'room % is private and you are not a member', p_room_name using errcode = 'RT403';
      end if;
      v_joined := realtime_add_member(v_room.name, p_user_id, 'member', p_now);
    end if;
  end if;

  v_result := jsonb_build_object(
    'room', realtime_room_json(v_room),
    'joined', v_joined,
    'members', realtime_room_members_json(v_room, p_now),
    'memberCount', (select count(*) from realtime_room_members where room_id = v_room.id and left_at is null),
    'typing', coalesce((
      select jsonb_agg(jsonb_build_object('userId', t.user_id, 'threadId', t.thread_id) order by t.started_at)
      from realtime_typing t where t.room_name = v_room.name and t.expires_at > p_now
    ), '[]'::jsonb)
  );
  if p_since is not null then
    v_result := v_result || jsonb_build_object(
      'replay', realtime_room_events_since(v_room.name, p_user_id, p_since, p_replay_limit, p_anonymous));
  end if;
  return v_result;
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
-- (metadata is measured as PostgreSQL writes its JSON text).
create or replace function realtime_message_refusal(
  p_room realtime_rooms,
  p_room_name text,
  p_user_id text,
  p_content text,
  p_thread_id text,
  p_metadata jsonb,
  p_roles text[]
)
returns jsonb
language plpgsql
stable
as $$
declare
  v_role text;
  v_limits jsonb := realtime_limits();
  v_max_length integer := (v_limits ->> 'maxMessageLength')::integer;
  v_max_metadata integer := (v_limits ->> 'maxMessageMetadataBytes')::integer;
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
comment on function realtime_message_refusal(realtime_rooms, text, text, text, text, jsonb, text[]) is
  'Why a message may not be sent ({code, message}) or null: unknown room (RT404), bad content, thread or metadata (RT400; lengths from realtime_limits()), not an active member, or not a permitted sender of a broadcast room (RT403: owner/admin, metadata.senders, or a role in metadata.senderRoles).';

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
  v_item jsonb;
  v_room realtime_rooms;
  v_user text;
  v_content text;
  v_thread text;
  v_metadata jsonb;
  v_client_id text;
  v_refusal jsonb;
  v_event realtime_events;
  v_duplicate boolean;
  v_results jsonb[] := '{}';
begin
  if p_messages is null or jsonb_typeof(p_messages) <> 'array' then
    raise exception 'messages must be a JSON array' using errcode = 'RT400';
  end if;
  if jsonb_array_length(p_messages) > 1000 then
    raise exception 'at most 1000 messages per call' using errcode = 'RT400';
  end if;
  for v_item in select e from jsonb_array_elements(p_messages) as e loop
    if jsonb_typeof(v_item) <> 'object' then
      v_results := v_results || jsonb_build_object('ok', false, 'error', jsonb_build_object('code', 'RT400', 'message', 'each message must be an object'));
      continue;
    end if;
    if coalesce(jsonb_typeof(v_item -> 'clientMessageId'), 'null') not in ('null', 'string')
       or char_length(v_item ->> 'clientMessageId') not between 1 and 128 then
      v_results := v_results || jsonb_build_object('ok', false, 'error', jsonb_build_object('code', 'RT400', 'message', 'clientMessageId must be a string of 1 to 128 characters'));
      continue;
    end if;
    v_user := v_item ->> 'userId';
    v_content := v_item ->> 'content';
    v_thread := v_item ->> 'threadId';
    v_metadata := nullif(v_item -> 'metadata', 'null'::jsonb);
    v_client_id := v_item ->> 'clientMessageId';
    select * into v_room from realtime_rooms where name = v_item ->> 'roomName';
    v_refusal := realtime_message_refusal(
      v_room, v_item ->> 'roomName', v_user, v_content, v_thread, v_metadata,
      array(select jsonb_array_elements_text(case when jsonb_typeof(v_item -> 'roles') = 'array' then v_item -> 'roles' else '[]' end)));
    if v_refusal is not null then
      v_results := v_results || jsonb_build_object('ok', false, 'error', v_refusal);
      continue;
    end if;

    v_duplicate := false;
    for v_attempt in 1..3 loop
      -- A concurrent send of the same key makes this insert wait for that transaction: when it
      -- commits, nothing is inserted here and the select below (a new snapshot) finds its row.
      insert into realtime_events (type, user_id, room_name, data, created_at, client_message_id)
      values ('message', v_user, v_room.name,
              jsonb_build_object('content', v_content, 'threadId', v_thread, 'metadata', v_metadata), p_now, v_client_id)
      on conflict (room_name, user_id, client_message_id) where client_message_id is not null do nothing
      returning * into v_event;
      exit when found;
      select * into v_event from realtime_events
      where room_name = v_room.name and user_id = v_user and client_message_id = v_client_id;
      v_duplicate := found;
      -- Not found: the stored message was deleted (pruned) in between; insert again.
      exit when found;
    end loop;
    if v_event.id is null then
      raise exception 'could not store or find message % of user %', v_client_id, v_user using errcode = '40001';
    end if;

    if v_duplicate then
      v_results := v_results || jsonb_build_object('ok', true, 'duplicate', true, 'message', realtime_message_json(v_event));
    else
      perform realtime_stop_typing(v_room.name, v_user, v_thread, p_now);
      v_results := v_results || jsonb_build_object('ok', true, 'message', realtime_message_json(v_event));
    end if;
  end loop;
  return to_jsonb(v_results);
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
--! EndIncluded rooms.sql
--! Included presence.sql
-- Presence: one row per user. status is what others see; chosen_status is what the user picked
-- (online, away, busy, or offline to appear offline) and survives reconnects and new devices.
-- A user is visible with chosen_status while any connection is open; after the last connection
-- closes, offline_at is set to the end of a grace period and realtime_tick() turns them offline then,
-- unless a connection came back (a page reload does not flap offline/online).

-- The custom status as others should see it: null once expiresAt has passed. Stable, not
-- immutable: a text to timestamptz cast depends on the session's TimeZone setting.
create or replace function realtime_visible_custom_status(p_custom jsonb, p_now timestamptz)
returns jsonb
language sql
stable
as $$
  select case
    when p_custom is null then null
    when p_custom ? 'expiresAt' and (p_custom ->> 'expiresAt')::timestamptz <= p_now then null
    else p_custom
  end;
$$;

create or replace function realtime_presence_json(p realtime_presence, p_now timestamptz default now())
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'userId', p.user_id,
    'status', p.status,
    'customStatus', realtime_visible_custom_status(p.custom_status, p_now),
    'lastSeen', p.last_seen
  );
$$;
comment on function realtime_visible_custom_status(jsonb, timestamptz) is 'A custom status as others see it: null when absent or past its expiresAt.';
comment on function realtime_presence_json(realtime_presence, timestamptz) is 'A presence row as the protocol shows it.';

-- Announces a user's presence to their own sockets and to members of their rooms.
create or replace function realtime_notify_presence(p realtime_presence, p_now timestamptz default now())
returns void
language plpgsql
volatile
as $$
declare
  v_rooms text[] := realtime_user_room_names(p.user_id);
  -- idle tells the relays that this away is automatic, so the user's next action ends it.
  v_body jsonb := realtime_presence_json(p, p_now)
    || case when p.idle then jsonb_build_object('idle', true) else '{}'::jsonb end;
begin
  -- Keep the payload under the 8000-byte NOTIFY limit: past 100 rooms, or when the room names do
  -- not fit, rooms is null and the relay looks the rooms up itself. The JSON text is measured, not
  -- the array: escaping (quotes, control characters) can double a name's size, and an oversized
  -- payload would abort the caller's transaction (a connect, a disconnect, a sweep).
  if coalesce(array_length(v_rooms, 1), 0) > 100
     or octet_length((v_body || jsonb_build_object('rooms', to_jsonb(v_rooms)))::text) > 7500 then
    v_rooms := null;
  end if;
  perform realtime_notify('presence', v_body || jsonb_build_object('rooms', to_jsonb(v_rooms)));
end;
$$;
comment on function realtime_notify_presence(realtime_presence, timestamptz) is
  'Announces a user''s presence with the names of their rooms (null when more than 100 or too large for a notification).';

-- Checks a custom status value: {text?, emoji?, expiresAt?} (the keys of
-- realtime_custom_status_keys(), lengths from realtime_limits()); raises RT400 otherwise. Returns it
-- with expiresAt written as an ISO 8601 UTC timestamp (what JavaScript's toISOString() gives), the
-- only form the table's CHECK constraint accepts: every stored expiresAt can then be cast, and one
-- bad value cannot break the sweeps or the presence reads of everyone else.
create or replace function realtime_check_custom_status(p_custom jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  v_expires timestamptz;
  v_limits jsonb := realtime_limits();
  v_max_text integer := (v_limits ->> 'maxCustomStatusText')::integer;
  v_max_emoji integer := (v_limits ->> 'maxCustomStatusEmoji')::integer;
begin
  if p_custom is null or p_custom = 'null'::jsonb or p_custom = '{}'::jsonb then
    return null;
  end if;
  if jsonb_typeof(p_custom) <> 'object' or (p_custom - realtime_custom_status_keys()) <> '{}'::jsonb then
    raise exception 'custom status must be an object with text, emoji and expiresAt only' using errcode = 'RT400';
  end if;
  if coalesce(jsonb_typeof(p_custom -> 'text'), 'string') <> 'string'
     or coalesce(jsonb_typeof(p_custom -> 'emoji'), 'string') <> 'string'
     or coalesce(jsonb_typeof(p_custom -> 'expiresAt'), 'string') <> 'string' then
    raise exception 'custom status text, emoji and expiresAt must be strings' using errcode = 'RT400';
  end if;
  if char_length(coalesce(p_custom ->> 'text', '')) > v_max_text then
    raise exception 'custom status text is longer than % characters', v_max_text using errcode = 'RT400';
  end if;
  if char_length(coalesce(p_custom ->> 'emoji', '')) > v_max_emoji then
    raise exception 'custom status emoji is longer than % characters', v_max_emoji using errcode = 'RT400';
  end if;
  if p_custom ? 'expiresAt' then
    begin
      v_expires := (p_custom ->> 'expiresAt')::timestamptz;
    exception when others then
      raise exception 'custom status expiresAt is not a timestamp' using errcode = 'RT400';
    end;
    if not isfinite(v_expires) then
      raise exception 'custom status expiresAt must be a finite timestamp' using errcode = 'RT400';
    end if;
    p_custom := jsonb_set(p_custom, '{expiresAt}',
      to_jsonb(to_char(v_expires at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')));
  end if;
  return p_custom;
end;
$$;
comment on function realtime_check_custom_status(jsonb) is
  'Validates a custom status {text, emoji, expiresAt} (RT400 otherwise); returns it with expiresAt in ISO 8601 UTC, or null for null/{}.';

-- Sets what a user chose. p_custom_status: SQL NULL keeps the current custom status, JSON null or
-- {} clears it. Works with or without open connections (a DBA may call it); the visible status
-- follows only while the user is connected.
create or replace function realtime_set_presence(
  p_user_id text,
  p_status text,
  p_custom_status jsonb default null,
  p_now timestamptz default now()
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_old realtime_presence;
  v_new realtime_presence;
  v_connected boolean;
  v_custom jsonb;
begin
  if p_user_id is null or char_length(p_user_id) = 0 then
    raise exception 'user id is required' using errcode = 'RT400';
  end if;
  if p_status is null or not p_status = any (realtime_presence_statuses()) then
    raise exception 'status must be one of % (got %)', array_to_string(realtime_presence_statuses(), ', '), coalesce(p_status, 'null')
      using errcode = 'RT400';
  end if;
  v_custom := realtime_check_custom_status(p_custom_status);

  select * into v_old from realtime_presence where user_id = p_user_id for update;
  -- Visible with no open connection and no grace running: the rows were lost (a crash empties the
  -- UNLOGGED connections table) and the relays are re-registering them. The sweep, not this call,
  -- decides whether such a user is gone.
  v_connected := exists (
    select 1 from realtime_connections
    where user_id = p_user_id and disconnected_at is null
  ) or (v_old.offline_at is not null and v_old.offline_at > p_now)
    or (v_old.status is not null and v_old.status <> 'offline' and v_old.offline_at is null);

  insert into realtime_presence as p (user_id, status, chosen_status, custom_status, last_seen, updated_at)
  values (
    p_user_id,
    case when v_connected then p_status else 'offline' end,
    p_status,
    v_custom,
    p_now,
    p_now
  )
  on conflict (user_id) do update set
    chosen_status = excluded.chosen_status,
    status = case when v_connected then excluded.chosen_status else 'offline' end,
    idle = false,
    custom_status = case when p_custom_status is null then p.custom_status else excluded.custom_status end,
    updated_at = p_now
  returning * into v_new;

  if v_old.user_id is null
     or v_old.status is distinct from v_new.status
     or v_old.custom_status is distinct from v_new.custom_status then
    perform realtime_notify_presence(v_new, p_now);
  end if;
  return realtime_presence_json(v_new, p_now);
end;
$$;
comment on function realtime_set_presence(text, text, jsonb, timestamptz) is
  'Sets the status a user chose (online, away, busy, offline) and optionally the custom status {text, emoji, expiresAt}; NULL keeps the custom status, JSON null clears it. Announces a visible change.';

-- Recomputes a user's visible status from their open connections, used after connections open
-- or close. p_grace: how long after the last disconnect the user stays visible.
create or replace function realtime_refresh_presence(
  p_user_id text,
  p_now timestamptz default now(),
  p_grace interval default interval '0'
)
returns realtime_presence
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_old realtime_presence;
  v_new realtime_presence;
  v_last_activity timestamptz;
  v_open boolean;
begin
  select exists (select 1 from realtime_connections where user_id = p_user_id and disconnected_at is null)
    into v_open;
  select * into v_old from realtime_presence where user_id = p_user_id for update;

  if v_open then
    insert into realtime_presence as p (user_id, status, chosen_status, last_seen, updated_at, offline_at)
    values (p_user_id, 'online', 'online', p_now, p_now, null)
    on conflict (user_id) do update set
      status = p.chosen_status,
      offline_at = null,
      idle = false,
      last_seen = p_now,
      updated_at = case when p.status is distinct from p.chosen_status then p_now else p.updated_at end
    returning * into v_new;
  elsif v_old.user_id is null or v_old.status = 'offline' then
    return v_old; -- nothing visible to change
  elsif p_grace > interval '0' then
    update realtime_presence set offline_at = p_now + p_grace, last_seen = p_now
    where user_id = p_user_id
    returning * into v_new;
    return v_new; -- still visible until realtime_tick() passes offline_at
  else
    -- Last seen: when the client disconnected, or, for connections closed by the stale sweep
    -- (dead relay, inactivity), their last sign of life.
    select max(case when close_reason in ('node dead', 'inactive') then last_activity
                    else coalesce(disconnected_at, last_activity) end)
      into v_last_activity
    from realtime_connections where user_id = p_user_id;
    update realtime_presence
    set status = 'offline', offline_at = null,
        last_seen = least(p_now, coalesce(v_last_activity, p_now)), updated_at = p_now
    where user_id = p_user_id
    returning * into v_new;
  end if;

  if v_old.user_id is null or v_old.status is distinct from v_new.status then
    perform realtime_notify_presence(v_new, p_now);
  end if;
  return v_new;
end;
$$;
comment on function realtime_refresh_presence(text, timestamptz, interval) is
  'Recomputes the visible status of a user from their open connections; with no open connection and a grace period, schedules offline at now + grace.';

-- Current presence of up to 100 users; users never seen are reported offline.
create or replace function realtime_get_presence(p_user_ids text[], p_now timestamptz default now())
returns jsonb
language plpgsql
stable
as $$
begin
  if p_user_ids is null or coalesce(array_length(p_user_ids, 1), 0) > 100 then
    raise exception 'between 0 and 100 user ids are allowed' using errcode = 'RT400';
  end if;
  return coalesce((
    -- A user with no row is offline. (Not coalesce(realtime_presence_json(p), ...): on a missing
    -- row that gives an object of nulls, not null.)
    select jsonb_agg(
      case
        when p.user_id is null
          then jsonb_build_object('userId', u.user_id, 'status', 'offline', 'customStatus', null, 'lastSeen', null)
        else realtime_presence_json(p, p_now)
      end order by u.ord)
    from unnest(p_user_ids) with ordinality as u(user_id, ord)
    left join realtime_presence p on p.user_id = u.user_id
  ), '[]'::jsonb);
end;
$$;
comment on function realtime_get_presence(text[], timestamptz) is 'Presence of up to 100 users, in the order given.';

-- Presence as one connection may see it, so that asking reveals no more than presence:changed
-- pushes: the viewer's own, that of users sharing an active membership with the viewer, and that
-- of members of public rooms (which anyone may join and watch). Anonymous viewers see the last
-- kind only. Users the viewer may not see are left out of the answer.
create or replace function realtime_get_visible_presence(
  p_viewer text,
  p_anonymous boolean,
  p_user_ids text[],
  p_now timestamptz default now()
)
returns jsonb
language plpgsql
stable
as $$
declare
  v_visible text[];
begin
  if p_user_ids is null or coalesce(array_length(p_user_ids, 1), 0) > 100 then
    raise exception 'between 0 and 100 user ids are allowed' using errcode = 'RT400';
  end if;
  select coalesce(array_agg(u.user_id order by u.ord), '{}') into v_visible
  from unnest(p_user_ids) with ordinality as u(user_id, ord)
  where (not coalesce(p_anonymous, true) and u.user_id = p_viewer)
     or exists (
       select 1
       from realtime_room_members m
       join realtime_rooms r on r.id = m.room_id
       where m.user_id = u.user_id and m.left_at is null
         and (
           (r.visibility = 'public' and r.type <> 'dm')
           or (not coalesce(p_anonymous, true) and exists (
             select 1 from realtime_room_members v
             where v.room_id = m.room_id and v.user_id = p_viewer and v.left_at is null))
         )
     );
  return realtime_get_presence(v_visible, p_now);
end;
$$;
comment on function realtime_get_visible_presence(text, boolean, text[], timestamptz) is
  'Presence of up to 100 users as a viewer may see it (self, users sharing a room, members of public rooms; anonymous: the last only); others are left out.';

-- Idle-to-away (optional: the relay calls it when REALTIME_IDLE_AFTER is set). A user who chose
-- online and whose every open connection has sent nothing for p_idle_after is shown away, with
-- idle set; their next action (realtime_mark_active) brings them back. A chosen away, busy or
-- offline is never touched. Any number of relays may call it; one does the work at a time.
create or replace function realtime_mark_idle(p_idle_after interval, p_now timestamptz default now())
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row realtime_presence;
  v_count integer := 0;
begin
  if not pg_try_advisory_xact_lock(hashtext('realtime.mark_idle')) then
    return 0;
  end if;
  for v_row in
    update realtime_presence p
    set status = 'away', idle = true, updated_at = p_now
    where p.status = 'online' and p.chosen_status = 'online' and not p.idle and p.offline_at is null
      and exists (
        select 1 from realtime_connections c where c.user_id = p.user_id and c.disconnected_at is null
      )
      and not exists (
        select 1 from realtime_connections c
        where c.user_id = p.user_id and c.disconnected_at is null
          and coalesce(c.last_input_at, c.connected_at) > p_now - p_idle_after
      )
    returning p.*
  loop
    perform realtime_notify_presence(v_row, p_now);
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;
comment on function realtime_mark_idle(interval, timestamptz) is
  'Shows away (idle) the users who chose online and sent nothing on any connection for p_idle_after; returns how many.';

-- Ends the idle away of users who acted again: they are shown with the status they chose.
create or replace function realtime_mark_active(p_user_ids text[], p_now timestamptz default now())
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row realtime_presence;
  v_count integer := 0;
begin
  for v_row in
    update realtime_presence p
    set status = p.chosen_status, idle = false, updated_at = p_now
    where p.user_id = any (p_user_ids) and p.idle and p.offline_at is null
    returning p.*
  loop
    perform realtime_notify_presence(v_row, p_now);
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;
comment on function realtime_mark_active(text[], timestamptz) is 'Brings users out of idle away (back to their chosen status); returns how many changed.';
--! EndIncluded presence.sql
--! Included events.sql
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
--! EndIncluded events.sql
--! Included connections.sql
-- Connections and relay nodes. A relay registers each socket, touches its sockets in one batch per
-- heartbeat, and closes them on disconnect. disconnect_stale_connections() closes what a crashed
-- relay left behind.

-- A relay's heartbeat interval and the silence after which it counts as dead, from the settings it
-- registered with (realtime_node_start's p_metadata), else the caller's default.
create or replace function realtime_node_heartbeat_interval(n realtime_nodes)
returns interval
language sql
immutable
as $$
  select make_interval(secs => coalesce((n.metadata ->> 'heartbeatMs')::double precision, 30000) / 1000);
$$;
comment on function realtime_node_heartbeat_interval(realtime_nodes) is 'How often a relay heartbeats (its registered heartbeatMs, else 30 s).';

create or replace function realtime_node_stale_after(n realtime_nodes, p_default interval default interval '90 seconds')
returns interval
language sql
immutable
as $$
  select coalesce(make_interval(secs => (n.metadata ->> 'staleAfterMs')::double precision / 1000), p_default);
$$;
comment on function realtime_node_stale_after(realtime_nodes, interval) is 'How long a relay may be silent before it counts as dead (its registered staleAfterMs, else p_default).';

-- Whether a relay is alive by its own declared stale-after: not stopped, and heartbeated within
-- realtime_node_stale_after(n) of p_now. What the CLI and dashboards show; the sweep
-- (disconnect_stale_connections) asks for more evidence before closing a silent relay's sockets.
create or replace function realtime_node_alive(n realtime_nodes, p_now timestamptz default now())
returns boolean
language sql
stable
as $$
  select n.stopped_at is null and n.last_heartbeat > p_now - realtime_node_stale_after(n);
$$;
comment on function realtime_node_alive(realtime_nodes, timestamptz) is
  'Whether a relay is alive at p_now: not stopped and heartbeated within its own registered staleAfterMs (90 s when it registered none).';

-- A relay's state as the CLI shows it: stopped, silent (no heartbeat within its stale-after) or alive.
create or replace function realtime_node_state(n realtime_nodes, p_now timestamptz default now())
returns text
language sql
stable
as $$
  select case when n.stopped_at is not null then 'stopped'
              when realtime_node_alive(n, p_now) then 'alive'
              else 'silent' end;
$$;
comment on function realtime_node_state(realtime_nodes, timestamptz) is
  'stopped, alive, or silent (not stopped, but no heartbeat within its own stale-after).';

-- Registers (or re-registers) a relay node. Connections recorded under this node id by an earlier
-- process are closed: a restarted relay does not resurrect dead rows. p_metadata carries the relay's
-- own timings ({heartbeatMs, staleAfterMs}), so every relay and the CLI judge it by its settings.
create or replace function realtime_node_start(
  p_node_id text,
  p_hostname text default null,
  p_pid integer default null,
  p_metadata jsonb default '{}',
  p_now timestamptz default now()
)
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_closed integer;
begin
  if p_node_id is null or char_length(p_node_id) not between 1 and 128 then
    raise exception 'node id must be 1 to 128 characters' using errcode = 'RT400';
  end if;
  if p_metadata is not null and (
       jsonb_typeof(p_metadata) <> 'object'
       or exists (select 1 from unnest(array['heartbeatMs', 'staleAfterMs']) as k
                  where p_metadata ? k and (jsonb_typeof(p_metadata -> k) <> 'number' or (p_metadata ->> k)::numeric <= 0))) then
    raise exception 'node metadata must be an object whose heartbeatMs and staleAfterMs are positive numbers' using errcode = 'RT400';
  end if;
  insert into realtime_nodes as n (id, hostname, pid, started_at, last_heartbeat, alive_since, stopped_at, metadata)
  values (p_node_id, p_hostname, p_pid, p_now, p_now, p_now, null, coalesce(p_metadata, '{}'))
  on conflict (id) do update set
    hostname = excluded.hostname, pid = excluded.pid, started_at = p_now,
    last_heartbeat = p_now, alive_since = p_now, stopped_at = null, metadata = excluded.metadata;
  select count(*) into v_closed from realtime_close_node_connections(p_node_id, 'node restarted', p_now);
  return v_closed;
end;
$$;
comment on function realtime_node_start(text, text, integer, jsonb, timestamptz) is
  'Registers a relay node (heartbeat now) and closes connections an earlier process left under the same id; returns how many.';

-- Heartbeat of a relay: marks the node alive and touches its live sockets in one call. Returns the
-- socket ids that are no longer open in the database (closed by a sweep, or lost with the UNLOGGED
-- table in a crash), so the relay can register them again in place.
-- alive_since is the start of the node's unbroken run of heartbeats: a heartbeat after a gap longer
-- than two heartbeat intervals (an outage, a stalled process) starts a new run. A run is the
-- evidence disconnect_stale_connections needs before it calls another relay dead.
-- p_active_socket_ids: the sockets that sent events since the previous heartbeat (for idle-to-away).
create or replace function realtime_node_heartbeat(
  p_node_id text,
  p_socket_ids text[] default '{}',
  p_now timestamptz default now(),
  p_active_socket_ids text[] default '{}'
)
returns text[]
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_active_users text[];
begin
  update realtime_nodes n
  set last_heartbeat = p_now,
      stopped_at = null,
      alive_since = case
        when n.alive_since is null or p_now - n.last_heartbeat > 2 * realtime_node_heartbeat_interval(n) then p_now
        else n.alive_since
      end
  where n.id = p_node_id;
  if not found then
    insert into realtime_nodes (id, started_at, last_heartbeat, alive_since) values (p_node_id, p_now, p_now, p_now);
  end if;
  if coalesce(array_length(p_active_socket_ids, 1), 0) > 0 then
    with active as (
      update realtime_connections c set last_input_at = p_now
      where c.socket_id = any (p_active_socket_ids) and c.disconnected_at is null
      returning c.user_id
    )
    select array_agg(distinct a.user_id) into v_active_users from active a where a.user_id is not null;
    if v_active_users is not null then
      perform realtime_mark_active(v_active_users, p_now);
    end if;
  end if;
  return realtime_touch_connections(p_socket_ids, p_now);
end;
$$;
comment on function realtime_node_heartbeat(text, text[], timestamptz, text[]) is
  'Marks a relay alive, touches its sockets and records which sent events (ending idle away); returns the given socket ids that are no longer open.';

-- Touches many connections at once; returns the given socket ids that are not open.
create or replace function realtime_touch_connections(p_socket_ids text[], p_now timestamptz default now())
returns text[]
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_not_open text[];
begin
  with touched as (
    update realtime_connections c
    set last_activity = p_now
    where c.socket_id = any (p_socket_ids) and c.disconnected_at is null
    returning c.socket_id
  )
  select coalesce(array_agg(s), '{}') into v_not_open
  from unnest(coalesce(p_socket_ids, '{}')) as s
  where s not in (select t.socket_id from touched t);
  return v_not_open;
end;
$$;
comment on function realtime_touch_connections(text[], timestamptz) is
  'Sets last_activity of many open connections at once; returns the socket ids that were not open.';

-- Registers many sockets in one transaction: a relay collects the handshakes that arrive while its
-- previous call is in flight and sends them together, so a connect storm costs one round trip, one
-- commit and one pass through the NOTIFY commit lock per batch instead of per socket.
-- p_connections: [{socketId, userId, device, metadata, anonymous, maxPerUser}, ...]. Returns one
-- element per input, in input order: {connectionId, presence, rooms}, or {error: {code, message}}
-- for a row that cannot be registered (the others still are: one bad handshake must not fail its
-- neighbours).
-- maxPerUser (optional positive integer): a user who already has that many open connections, on any
-- relay, is refused with RT429. Registrations of such a user are serialised by a transaction-level
-- advisory lock on the user id, so two relays registering the same user at once cannot both pass.
-- Rows are processed in user order so concurrent batches take the per-user locks and the presence
-- rows in the same order (no deadlock).
create or replace function realtime_register_connections(
  p_connections jsonb,
  p_node_id text default null,
  p_now timestamptz default now()
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row record;
  v_connection_id uuid;
  v_presence realtime_presence;
  v_results jsonb[];
  v_result jsonb;
  v_open bigint;
begin
  if p_connections is null or jsonb_typeof(p_connections) <> 'array' then
    raise exception 'connections must be a JSON array' using errcode = 'RT400';
  end if;
  v_results := array_fill(null::jsonb, array[jsonb_array_length(p_connections)]);

  for v_row in
    select c.ord::integer as ord,
           c.value ->> 'socketId' as socket_id,
           c.value ->> 'userId' as user_id,
           nullif(c.value -> 'device', 'null'::jsonb) as device,
           coalesce(nullif(c.value -> 'metadata', 'null'::jsonb), '{}'::jsonb) as metadata,
           coalesce((c.value ->> 'anonymous')::boolean, false) as anonymous,
           coalesce(c.value -> 'maxPerUser', 'null'::jsonb) as max_per_user
    from jsonb_array_elements(p_connections) with ordinality as c(value, ord)
    order by c.value ->> 'userId', c.ord
  loop
    if v_row.socket_id is null or char_length(v_row.socket_id) not between 1 and 255 then
      v_result := jsonb_build_object('error', jsonb_build_object('code', 'RT400', 'message', 'socket id must be 1 to 255 characters'));
    elsif not v_row.anonymous and (v_row.user_id is null or char_length(v_row.user_id) not between 1 and 255) then
      v_result := jsonb_build_object('error', jsonb_build_object('code', 'RT400', 'message', 'user id must be 1 to 255 characters'));
    elsif v_row.max_per_user <> 'null'::jsonb
          and (jsonb_typeof(v_row.max_per_user) <> 'number'
               or (v_row.max_per_user #>> '{}')::numeric not between 1 and 2147483647
               or (v_row.max_per_user #>> '{}')::numeric % 1 <> 0) then
      v_result := jsonb_build_object('error', jsonb_build_object('code', 'RT400', 'message', 'maxPerUser must be a positive integer'));
    else
      v_open := null;
      if v_row.max_per_user <> 'null'::jsonb and not v_row.anonymous then
        -- Held until commit: a concurrent registration of this user waits here and then counts
        -- this one. The two-key form keeps user keys apart from the sweeps' one-key locks.
        perform pg_advisory_xact_lock(hashtext('realtime.user_connections'), hashtext(v_row.user_id));
        select count(*) into v_open from realtime_connections c
        where c.user_id = v_row.user_id and c.disconnected_at is null;
      end if;
      if v_open >= (v_row.max_per_user #>> '{}')::integer then
        v_result := jsonb_build_object('error', jsonb_build_object('code', 'RT429', 'message',
          format('user %s already has %s open connections (the limit is %s)', v_row.user_id, v_open, v_row.max_per_user #>> '{}')));
      else
        v_connection_id := null;
        -- A socket id already open is refused without an exception: an exception block per row
        -- would cost a subtransaction each.
        insert into realtime_connections (socket_id, user_id, node_id, device, metadata, anonymous, connected_at, last_activity)
        values (v_row.socket_id, v_row.user_id, p_node_id,
                v_row.device, v_row.metadata, v_row.anonymous, p_now, p_now)
        on conflict (socket_id) where disconnected_at is null do nothing
        returning id into v_connection_id;
        if v_connection_id is null then
          v_result := jsonb_build_object('error', jsonb_build_object('code', '23505', 'message', 'socket id is already open'));
        elsif v_row.anonymous then
          v_result := jsonb_build_object('connectionId', v_connection_id, 'presence', null, 'rooms', '[]'::jsonb);
        else
          v_presence := realtime_refresh_presence(v_row.user_id, p_now);
          v_result := jsonb_build_object(
            'connectionId', v_connection_id,
            'presence', realtime_presence_json(v_presence, p_now),
            'rooms', to_jsonb(realtime_user_room_names(v_row.user_id))
          );
        end if;
      end if;
    end if;
    v_results[v_row.ord] := v_result;
  end loop;
  return coalesce(to_jsonb(v_results), '[]'::jsonb);
end;
$$;
comment on function realtime_register_connections(jsonb, text, timestamptz) is
  'Records many open sockets in one transaction ([{socketId, userId, device, metadata, anonymous, maxPerUser}]); returns, in input order, {connectionId, presence, rooms} or {error: {code, message}} per socket (RT429: the user already has maxPerUser open connections).';

-- Registers a socket. Returns the user's presence after the connect and the rooms the user is an
-- active member of (the socket is put back in all of them). The rule lives in
-- realtime_register_connections; this is its one-row form, raising what the batch reports.
create or replace function realtime_register_connection(
  p_socket_id text,
  p_user_id text,
  p_node_id text default null,
  p_device jsonb default null,
  p_metadata jsonb default '{}',
  p_anonymous boolean default false,
  p_now timestamptz default now()
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
  v_result := realtime_register_connections(
    jsonb_build_array(jsonb_build_object(
      'socketId', p_socket_id, 'userId', p_user_id, 'device', p_device,
      'metadata', coalesce(p_metadata, '{}'), 'anonymous', coalesce(p_anonymous, false))),
    p_node_id, p_now) -> 0;
  if v_result ? 'error' then
    raise exception '%', v_result #>> '{error,message}' using errcode = v_result #>> '{error,code}';
  end if;
  return v_result;
end;
$$;
comment on function realtime_register_connection(text, text, text, jsonb, jsonb, boolean, timestamptz) is
  'Records an open socket of a user (or an anonymous one), brings the user online, and returns {connectionId, presence, rooms}.';

-- Closes connections selected by the caller, clears their typing, and fixes presence. Shared by
-- close, node restart and the stale sweep.
create or replace function realtime_close_connections(
  p_connection_ids uuid[],
  p_reason text,
  p_now timestamptz default now(),
  p_grace interval default interval '0'
)
returns table (socket_id text, user_id text, node_id text, reason text)
language plpgsql
volatile
as $$
declare
  v_sockets text[];
  v_users text[];
  v_nodes text[];
  v_user text;
begin
  with closed as (
    update realtime_connections c
    set disconnected_at = p_now, close_reason = p_reason
    where c.id = any (p_connection_ids) and c.disconnected_at is null
    returning c.socket_id, c.user_id, c.node_id
  )
  select array_agg(closed.socket_id), array_agg(closed.user_id), array_agg(closed.node_id)
    into v_sockets, v_users, v_nodes
  from closed;

  if v_sockets is null then
    return;
  end if;

  perform realtime_clear_typing_of_sockets(v_sockets, p_now);

  for v_user in select distinct u from unnest(v_users) as u where u is not null loop
    perform realtime_refresh_presence(v_user, p_now, p_grace);
  end loop;

  return query select s.socket_id, s.user_id, s.node_id, p_reason
    from unnest(v_sockets, v_users, v_nodes) as s(socket_id, user_id, node_id);
end;
$$;
comment on function realtime_close_connections(uuid[], text, timestamptz, interval) is
  'Closes the given open connections, clears their typing and fixes their users'' presence; returns what it closed.';

-- Closes one socket's connection. p_grace delays offline after the user's last connection.
create or replace function realtime_close_connection(
  p_socket_id text,
  p_now timestamptz default now(),
  p_grace interval default interval '0',
  p_reason text default 'disconnect'
)
returns boolean
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  return exists (
    select 1 from realtime_close_connections(
      array(select id from realtime_connections where socket_id = p_socket_id and disconnected_at is null),
      p_reason, p_now, p_grace)
  );
end;
$$;
comment on function realtime_close_connection(text, timestamptz, interval, text) is
  'Closes the open connection of a socket, clears its typing, and takes the user offline after the grace period when it was their last connection. Returns false when no such connection was open.';

create or replace function realtime_close_node_connections(
  p_node_id text,
  p_reason text default 'node stopped',
  p_now timestamptz default now()
)
returns table (socket_id text, user_id text, node_id text, reason text)
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  return query
  select * from realtime_close_connections(
      array(select id from realtime_connections where realtime_connections.node_id = p_node_id and disconnected_at is null),
      p_reason, p_now);
end;
$$;
comment on function realtime_close_node_connections(text, text, timestamptz) is
  'Closes every open connection recorded under a relay node (graceful stop or restart).';

-- Marks a node stopped after closing its connections (graceful shutdown).
-- p_grace: users whose last connection this was stay visible that long, so a rolling restart
-- (clients reconnecting to another relay) does not flap them offline.
create or replace function realtime_node_stop(
  p_node_id text,
  p_now timestamptz default now(),
  p_grace interval default interval '0'
)
returns integer
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_closed integer;
begin
  select count(*) into v_closed from realtime_close_connections(
    array(select id from realtime_connections c where c.node_id = p_node_id and c.disconnected_at is null),
    'node stopped', p_now, p_grace);
  update realtime_nodes set stopped_at = p_now where id = p_node_id;
  return v_closed;
end;
$$;
comment on function realtime_node_stop(text, timestamptz, interval) is 'Closes a relay''s connections (users offline after p_grace) and marks it stopped; returns how many were closed.';

-- Closes connections whose relay stopped heart-beating (or was never registered) or that showed no
-- activity for p_activity_timeout, fixes presence, clears their typing, and returns what it closed.
-- Safe to run from any number of relays: one runs, the others return nothing.
--
-- Silence alone is no proof of death: during a database outage no relay can heartbeat. A relay
-- counts as dead only when another relay's unbroken run of heartbeats (alive_since to
-- last_heartbeat) shows the database was reachable for the dead one's whole stale-after period
-- after its last heartbeat. After an outage every run starts again, so each relay has its full
-- stale-after period to heartbeat and re-assert its sockets before anyone may sweep it.
-- p_node_timeout applies to relays that registered no staleAfterMs.
--
-- Users shown online with no open connection (a crash emptied the UNLOGGED connections table) get a
-- grace period of p_node_timeout instead of going offline at once: their relays re-register the
-- sockets they still hold within a heartbeat, and only users nobody re-registers go offline.
create or replace function disconnect_stale_connections(
  p_now timestamptz default now(),
  p_node_timeout interval default interval '90 seconds',
  p_activity_timeout interval default interval '5 minutes'
)
returns table (socket_id text, user_id text, node_id text, reason text)
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user text;
begin
  if not pg_try_advisory_xact_lock(hashtext('realtime.disconnect_stale_connections')) then
    return;
  end if;

  return query
  select * from realtime_close_connections(
    array(
      select c.id from realtime_connections c
      left join realtime_nodes n on n.id = c.node_id
      where c.disconnected_at is null
        and c.node_id is not null
        and (n.id is null or n.stopped_at is not null or (
          n.last_heartbeat < p_now - realtime_node_stale_after(n, p_node_timeout)
          and exists (
            select 1 from realtime_nodes w
            where w.id <> n.id
              and w.last_heartbeat - greatest(w.alive_since, n.last_heartbeat) >= realtime_node_stale_after(n, p_node_timeout))))
    ), 'node dead', p_now);

  return query
  select * from realtime_close_connections(
    array(
      select c.id from realtime_connections c
      left join realtime_nodes n on n.id = c.node_id
      where c.disconnected_at is null and c.last_activity < p_now - p_activity_timeout
        -- A live relay touches every socket it holds with each heartbeat: a row it heartbeated past
        -- without touching is one it no longer holds. Rows of a relay that could not heartbeat
        -- (an outage) are left to the dead-relay rule above.
        and (c.node_id is null or n.id is null or n.last_heartbeat > c.last_activity)
    ), 'inactive', p_now);

  for v_user in
    select p.user_id from realtime_presence p
    where p.status <> 'offline' and p.offline_at is null
      and not exists (select 1 from realtime_connections c where c.user_id = p.user_id and c.disconnected_at is null)
  loop
    perform realtime_refresh_presence(v_user, p_now, p_node_timeout);
  end loop;

  -- Closed connection rows are history: keep a day of it.
  delete from realtime_connections c where c.disconnected_at < p_now - interval '1 day';
end;
$$;
comment on function disconnect_stale_connections(timestamptz, interval, interval) is
  'Closes connections of dead relays (silent for their stale-after period while another relay''s heartbeats show the database was up) or of sockets their relay no longer holds past p_activity_timeout, fixes presence, clears typing; returns the closed sockets. Concurrent callers: one does the work.';
--! EndIncluded connections.sql
--! Included views.sql
-- Views for dashboards, Hasura and PostgREST. The four seed views keep their names and columns
-- (new columns are appended at the end).

create or replace view realtime_active_connections as
select
  c.socket_id,
  c.user_id,
  c.device,
  c.connected_at,
  c.last_activity,
  p.status as presence_status,
  p.custom_status,
  c.node_id,
  c.anonymous
from realtime_connections c
left join realtime_presence p on c.user_id = p.user_id
where c.disconnected_at is null
order by c.connected_at desc;
comment on view realtime_active_connections is 'Open connections with their user''s presence.';

create or replace view realtime_room_stats as
select
  r.name,
  r.type,
  r.visibility,
  count(rm.id) as member_count,
  r.created_at,
  count(rm.id) filter (where p.status is not null and p.status <> 'offline') as online_count
from realtime_rooms r
left join realtime_room_members rm on r.id = rm.room_id and rm.left_at is null
left join realtime_presence p on p.user_id = rm.user_id
group by r.id, r.name, r.type, r.visibility, r.created_at
order by member_count desc, r.name;
comment on view realtime_room_stats is 'Rooms with their active member count and how many of those are online.';

create or replace view realtime_current_typing as
select
  room_name,
  user_id,
  thread_id,
  started_at,
  expires_at
from realtime_typing
where expires_at > now()
order by room_name, started_at;
comment on view realtime_current_typing is 'Typing indicators that have not expired.';

create or replace view realtime_presence_summary as
select
  status,
  count(*) as user_count
from realtime_presence
where last_seen > now() - interval '1 hour' or status <> 'offline'
group by status
order by user_count desc, status;
comment on view realtime_presence_summary is 'Users per status: everyone not offline, plus offline users seen in the last hour.';

create or replace view realtime_node_stats as
select
  n.id as node_id,
  n.hostname,
  n.pid,
  n.started_at,
  n.last_heartbeat,
  n.stopped_at,
  count(c.id) as connection_count,
  (extract(epoch from realtime_node_stale_after(n)) * 1000)::bigint as stale_after_ms,
  realtime_node_alive(n) as alive,
  realtime_node_state(n) as state
from realtime_nodes n
left join realtime_connections c on c.node_id = n.id and c.disconnected_at is null
group by n.id
order by n.id;
comment on view realtime_node_stats is
  'Relay nodes with their open connection counts, the stale-after each declared, and whether each is alive by it (state: alive, silent or stopped).';

-- The cluster's figures in one answer, for `realtime stats` and the relay's /metrics alike:
-- nodes (alive by their own stale-after), open connections, users online, presence by status
-- (realtime_presence_summary), rooms by type, active memberships, typers, and events by type
-- over p_events_since. nodes lists relays not stopped, holding connections, or heard from in the
-- last day.
create or replace function realtime_cluster_stats(
  p_events_since interval default interval '1 hour',
  p_now timestamptz default now()
)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'at', p_now,
    'nodesAlive', (select count(*) from realtime_nodes n where realtime_node_alive(n, p_now)),
    'connections', (
      select jsonb_build_object(
        'total', count(*),
        'authenticated', count(*) filter (where not c.anonymous),
        'anonymous', count(*) filter (where c.anonymous),
        'users', count(distinct c.user_id) filter (where not c.anonymous))
      from realtime_connections c where c.disconnected_at is null),
    'usersOnline', (select count(*) from realtime_presence p where p.status <> 'offline'),
    'presence', (
      select jsonb_object_agg(s.status, coalesce(ps.user_count, 0))
      from unnest(realtime_presence_statuses()) s(status)
      left join realtime_presence_summary ps on ps.status = s.status),
    'rooms', (
      select jsonb_build_object('total', count(*), 'byType', coalesce(jsonb_object_agg(t.type, t.n), '{}'))
      from (select r.type, count(*) as n from realtime_rooms r group by r.type) t),
    'members', (select count(*) from realtime_room_members where left_at is null),
    'typing', (select count(*) from realtime_typing where expires_at > p_now),
    'events', (
      select jsonb_build_object(
        'sinceMs', (extract(epoch from p_events_since) * 1000)::bigint,
        'total', coalesce(sum(t.n), 0),
        'byType', coalesce(jsonb_object_agg(t.type, t.n), '{}'))
      from (select e.type, count(*) as n from realtime_events e
            where e.created_at > p_now - p_events_since group by e.type) t),
    'nodes', (
      select coalesce(jsonb_agg(jsonb_build_object(
          'nodeId', s.node_id, 'hostname', s.hostname, 'pid', s.pid, 'startedAt', s.started_at,
          'lastHeartbeat', s.last_heartbeat, 'stoppedAt', s.stopped_at, 'connectionCount', s.connection_count,
          'staleAfterMs', s.stale_after_ms, 'alive', s.alive, 'state', s.state)
        order by s.connection_count desc, s.node_id), '[]')
      from (
        select n.id as node_id, n.hostname, n.pid, n.started_at, n.last_heartbeat, n.stopped_at,
               (select count(*) from realtime_connections c where c.node_id = n.id and c.disconnected_at is null) as connection_count,
               (extract(epoch from realtime_node_stale_after(n)) * 1000)::bigint as stale_after_ms,
               realtime_node_alive(n, p_now) as alive,
               realtime_node_state(n, p_now) as state
        from realtime_nodes n
      ) s
      where s.stopped_at is null or s.connection_count > 0 or s.last_heartbeat > p_now - interval '1 day')
  );
$$;
comment on function realtime_cluster_stats(interval, timestamptz) is
  'Cluster figures: {at, nodesAlive, connections {total, authenticated, anonymous, users}, usersOnline, presence by status, rooms {total, byType}, members, typing, events {sinceMs, total, byType} over p_events_since, nodes [{nodeId, hostname, pid, startedAt, lastHeartbeat, stoppedAt, connectionCount, staleAfterMs, alive, state}]}.';
--! EndIncluded views.sql
--! Included privileges.sql
-- Privileges. The relay can run as a least-privilege role: it may execute Realtime's functions and
-- read its tables and views, but never write a table directly. Every function that writes is
-- `security definer` (it runs as the schema owner, the role that ran the migrations) and pins
-- `search_path = pg_catalog, public, pg_temp`, so a caller's temporary or look-alike objects cannot
-- stand in for Realtime's (pg_temp last: a temp table named realtime_rooms is never consulted).
-- Helpers those functions call (realtime_notify, realtime_close_connections, ...) stay security
-- invoker: inside a definer function they run as the owner, and called directly by the relay role
-- they can write nothing.
--
-- Roles are cluster-wide and creating them needs CREATEROLE, so migrations never create one:
-- `realtime init` creates the NOLOGIN group role realtime_relay (and, when asked, a login role
-- that is a member of it) when its user may, and then calls realtime_apply_privileges(). Without
-- that right the relay connects as the owner, as before.

-- Revokes EXECUTE on every Realtime function from PUBLIC, and gives p_relay_role (when it exists)
-- EXECUTE on them (but realtime_apply_privileges and realtime_set_limits), SELECT on the tables and
-- views, and no write privilege on any table. Idempotent: every migration that adds functions or
-- tables ends by calling it, and `realtime init` calls it after creating the role. Returns whether
-- the role existed.
create or replace function realtime_apply_privileges(p_relay_role name default 'realtime_relay')
returns boolean
language plpgsql
volatile
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_function regprocedure;
  v_relation regclass;
  v_exists boolean := exists (select 1 from pg_roles where rolname = p_relay_role);
begin
  -- Two callers at once (two inits, an init during a migration) would GRANT on the same catalog
  -- rows and one would fail with "tuple concurrently updated": take turns.
  perform pg_advisory_xact_lock(hashtext('realtime.apply_privileges'));
  for v_function in
    select p.oid::regprocedure from pg_proc p
    where p.pronamespace = 'public'::regnamespace
      and (left(p.proname, 9) = 'realtime_' or p.proname = 'disconnect_stale_connections')
  loop
    execute format('revoke execute on function %s from public', v_function);
    -- The limits are the owner's to change (`realtime limits set`), not the relay's.
    if v_exists and (v_function = 'realtime_apply_privileges(name)'::regprocedure
                     or v_function::text like 'realtime_set_limits(%') then
      execute format('revoke execute on function %s from %I', v_function, p_relay_role);
    elsif v_exists then
      execute format('grant execute on function %s to %I', v_function, p_relay_role);
    end if;
  end loop;

  if not v_exists then
    return false;
  end if;

  for v_relation in
    select c.oid::regclass from pg_class c
    where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm')
      and left(c.relname, 9) = 'realtime_'
  loop
    execute format('revoke insert, update, delete, truncate, references, trigger on %s from %I', v_relation, p_relay_role);
    execute format('grant select on %s to %I', v_relation, p_relay_role);
  end loop;

  -- PUBLIC has these by default; a hardened database may have revoked them.
  if not has_database_privilege(p_relay_role, current_database(), 'connect') then
    execute format('grant connect on database %I to %I', current_database(), p_relay_role);
  end if;
  if not has_schema_privilege(p_relay_role, 'public', 'usage') then
    execute format('grant usage on schema public to %I', p_relay_role);
  end if;
  -- The relay checks that the schema is up to date before serving (it cannot migrate).
  if to_regclass('graphile_migrate.migrations') is not null then
    execute format('grant usage on schema graphile_migrate to %I', p_relay_role);
    execute format('grant select on graphile_migrate.migrations to %I', p_relay_role);
  end if;
  return true;
end;
$$;
comment on function realtime_apply_privileges(name) is
  'Revokes EXECUTE on Realtime functions from PUBLIC and grants the relay role (when it exists) EXECUTE on them (but realtime_apply_privileges and realtime_set_limits) and SELECT on the tables and views, never a write privilege; returns whether the role exists.';
--! EndIncluded privileges.sql

select realtime_apply_privileges();
