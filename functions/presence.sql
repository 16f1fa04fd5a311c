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
