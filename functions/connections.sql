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
