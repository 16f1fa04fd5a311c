--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: pgcrypto; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;

--
-- Name: EXTENSION pgcrypto; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION pgcrypto IS 'cryptographic functions';

--
-- Name: disconnect_stale_connections(timestamp with time zone, interval, interval); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.disconnect_stale_connections(p_now timestamp with time zone DEFAULT now(), p_node_timeout interval DEFAULT '00:01:30'::interval, p_activity_timeout interval DEFAULT '00:05:00'::interval) RETURNS TABLE(socket_id text, user_id text, node_id text, reason text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION disconnect_stale_connections(p_now timestamp with time zone, p_node_timeout interval, p_activity_timeout interval); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.disconnect_stale_connections(p_now timestamp with time zone, p_node_timeout interval, p_activity_timeout interval) IS 'Closes connections of dead relays (silent for their stale-after period while another relay''s heartbeats show the database was up) or of sockets their relay no longer holds past p_activity_timeout, fixes presence, clears typing; returns the closed sockets. Concurrent callers: one does the work.';

--
-- Name: realtime_add_member(text, text, text, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_add_member(p_room_name text, p_user_id text, p_role text DEFAULT 'member'::text, p_now timestamp with time zone DEFAULT now()) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_add_member(p_room_name text, p_user_id text, p_role text, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_add_member(p_room_name text, p_user_id text, p_role text, p_now timestamp with time zone) IS 'Adds a user to a room (role owner, admin or member); returns false when already a member. Announces the join.';

--
-- Name: realtime_apply_privileges(name); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_apply_privileges(p_relay_role name DEFAULT 'realtime_relay'::name) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_apply_privileges(p_relay_role name); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_apply_privileges(p_relay_role name) IS 'Revokes EXECUTE on Realtime functions from PUBLIC and grants the relay role (when it exists) EXECUTE on them (but realtime_apply_privileges and realtime_set_limits) and SELECT on the tables and views, never a write privilege; returns whether the role exists.';

--
-- Name: realtime_assert_member(text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_assert_member(p_room_name text, p_user_id text) RETURNS void
    LANGUAGE plpgsql STABLE
    AS $$
declare
  v_refusal jsonb := realtime_member_refusal(p_room_name, p_user_id);
begin
  if v_refusal is not null then
    raise exception '%', v_refusal ->> 'message' using errcode = v_refusal ->> 'code';
  end if;
end;
$$;

--
-- Name: FUNCTION realtime_assert_member(p_room_name text, p_user_id text); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_assert_member(p_room_name text, p_user_id text) IS 'Raises RT404 (no room) or RT403 (not a member) unless the user is an active member of the room.';

--
-- Name: realtime_broadcast(text, text, jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_broadcast(p_room_name text, p_event text, p_payload jsonb DEFAULT '{}'::jsonb) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  return (
    select realtime_send_to('room', p_room_name, p_event, p_payload)
  );
end;
$$;

--
-- Name: FUNCTION realtime_broadcast(p_room_name text, p_event text, p_payload jsonb); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_broadcast(p_room_name text, p_event text, p_payload jsonb) IS 'Emits event p_event with p_payload to every socket in the room when the transaction commits. Never raises: returns false with a WARNING instead.';

--
-- Name: realtime_broadcast_user(text, text, jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_broadcast_user(p_user_id text, p_event text, p_payload jsonb DEFAULT '{}'::jsonb) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  return (
    select realtime_send_to('user', p_user_id, p_event, p_payload)
  );
end;
$$;

--
-- Name: FUNCTION realtime_broadcast_user(p_user_id text, p_event text, p_payload jsonb); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_broadcast_user(p_user_id text, p_event text, p_payload jsonb) IS 'Emits event p_event with p_payload to every socket of a user when the transaction commits. Never raises.';

--
-- Name: realtime_changes_since(text[], text[], timestamp with time zone, integer, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_changes_since(p_room_names text[], p_user_ids text[], p_since timestamp with time zone, p_limit integer DEFAULT 10000, p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    AS $$
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

--
-- Name: FUNCTION realtime_changes_since(p_room_names text[], p_user_ids text[], p_since timestamp with time zone, p_limit integer, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_changes_since(p_room_names text[], p_user_ids text[], p_since timestamp with time zone, p_limit integer, p_now timestamp with time zone) IS 'Messages, presence and membership changes since a time, for the rooms and users a relay serves: what its sockets may have missed while its Redis or LISTEN connection was down.';

--
-- Name: realtime_check_custom_status(jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_check_custom_status(p_custom jsonb) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    AS $$
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

--
-- Name: FUNCTION realtime_check_custom_status(p_custom jsonb); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_check_custom_status(p_custom jsonb) IS 'Validates a custom status {text, emoji, expiresAt} (RT400 otherwise); returns it with expiresAt in ISO 8601 UTC, or null for null/{}.';

--
-- Name: realtime_clear_typing_of_sockets(text[], timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_clear_typing_of_sockets(p_socket_ids text[], p_now timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: FUNCTION realtime_clear_typing_of_sockets(p_socket_ids text[], p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_clear_typing_of_sockets(p_socket_ids text[], p_now timestamp with time zone) IS 'Clears typing indicators set by the given sockets; returns how many rooms/threads changed.';

--
-- Name: realtime_close_connection(text, timestamp with time zone, interval, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_close_connection(p_socket_id text, p_now timestamp with time zone DEFAULT now(), p_grace interval DEFAULT '00:00:00'::interval, p_reason text DEFAULT 'disconnect'::text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  return exists (
    select 1 from realtime_close_connections(
      array(select id from realtime_connections where socket_id = p_socket_id and disconnected_at is null),
      p_reason, p_now, p_grace)
  );
end;
$$;

--
-- Name: FUNCTION realtime_close_connection(p_socket_id text, p_now timestamp with time zone, p_grace interval, p_reason text); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_close_connection(p_socket_id text, p_now timestamp with time zone, p_grace interval, p_reason text) IS 'Closes the open connection of a socket, clears its typing, and takes the user offline after the grace period when it was their last connection. Returns false when no such connection was open.';

--
-- Name: realtime_close_connections(uuid[], text, timestamp with time zone, interval); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_close_connections(p_connection_ids uuid[], p_reason text, p_now timestamp with time zone DEFAULT now(), p_grace interval DEFAULT '00:00:00'::interval) RETURNS TABLE(socket_id text, user_id text, node_id text, reason text)
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: FUNCTION realtime_close_connections(p_connection_ids uuid[], p_reason text, p_now timestamp with time zone, p_grace interval); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_close_connections(p_connection_ids uuid[], p_reason text, p_now timestamp with time zone, p_grace interval) IS 'Closes the given open connections, clears their typing and fixes their users'' presence; returns what it closed.';

--
-- Name: realtime_close_node_connections(text, text, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_close_node_connections(p_node_id text, p_reason text DEFAULT 'node stopped'::text, p_now timestamp with time zone DEFAULT now()) RETURNS TABLE(socket_id text, user_id text, node_id text, reason text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  return query
  select * from realtime_close_connections(
      array(select id from realtime_connections where realtime_connections.node_id = p_node_id and disconnected_at is null),
      p_reason, p_now);
end;
$$;

--
-- Name: FUNCTION realtime_close_node_connections(p_node_id text, p_reason text, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_close_node_connections(p_node_id text, p_reason text, p_now timestamp with time zone) IS 'Closes every open connection recorded under a relay node (graceful stop or restart).';

--
-- Name: realtime_cluster_stats(interval, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_cluster_stats(p_events_since interval DEFAULT '01:00:00'::interval, p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
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

--
-- Name: FUNCTION realtime_cluster_stats(p_events_since interval, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_cluster_stats(p_events_since interval, p_now timestamp with time zone) IS 'Cluster figures: {at, nodesAlive, connections {total, authenticated, anonymous, users}, usersOnline, presence by status, rooms {total, byType}, members, typing, events {sinceMs, total, byType} over p_events_since, nodes [{nodeId, hostname, pid, startedAt, lastHeartbeat, stoppedAt, connectionCount, staleAfterMs, alive, state}]}.';

--
-- Name: realtime_create_room(text, text, text, jsonb, text, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_create_room(p_name text, p_type text DEFAULT 'channel'::text, p_visibility text DEFAULT 'public'::text, p_metadata jsonb DEFAULT '{}'::jsonb, p_created_by text DEFAULT NULL::text, p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_create_room(p_name text, p_type text, p_visibility text, p_metadata jsonb, p_created_by text, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_create_room(p_name text, p_type text, p_visibility text, p_metadata jsonb, p_created_by text, p_now timestamp with time zone) IS 'Creates a channel, group or broadcast room (RT409 if the name is taken); the creator, when given, becomes its owner.';

--
-- Name: realtime_custom_status_keys(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_custom_status_keys() RETURNS text[]
    LANGUAGE sql IMMUTABLE
    AS $$
  select array['text', 'emoji', 'expiresAt']::text[];
$$;

--
-- Name: FUNCTION realtime_custom_status_keys(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_custom_status_keys() IS 'The keys a custom status may have: text, emoji, expiresAt.';

--
-- Name: realtime_delete_room(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_delete_room(p_name text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_delete_room(p_name text); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_delete_room(p_name text) IS 'Deletes a room with its memberships; members are told they left.';

--
-- Name: realtime_expire_typing(timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_expire_typing(p_now timestamp with time zone DEFAULT now()) RETURNS TABLE(room_name text, thread_id text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_expire_typing(p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_expire_typing(p_now timestamp with time zone) IS 'Removes expired typing indicators and announces the rooms/threads that changed.';

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: realtime_rooms; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.realtime_rooms (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name character varying(255) NOT NULL,
    type character varying(50) DEFAULT 'channel'::character varying NOT NULL,
    visibility character varying(50) DEFAULT 'public'::character varying NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_by character varying(255),
    dm_user_a character varying(255),
    dm_user_b character varying(255),
    CONSTRAINT realtime_rooms_dm_pair CHECK (((((type)::text = 'dm'::text) = ((dm_user_a IS NOT NULL) AND (dm_user_b IS NOT NULL))) AND ((dm_user_a IS NULL) OR ((dm_user_a)::text < (dm_user_b)::text)) AND (((type)::text <> 'dm'::text) OR ((visibility)::text = 'private'::text)))),
    CONSTRAINT realtime_rooms_metadata_object CHECK ((jsonb_typeof(metadata) = 'object'::text)),
    CONSTRAINT realtime_rooms_name_format CHECK (((char_length((name)::text) >= 1) AND ((name)::text !~ '[[:cntrl:]]'::text) AND ((name)::text = btrim((name)::text)))),
    CONSTRAINT realtime_rooms_type_check CHECK (((type)::text = ANY ((ARRAY['channel'::character varying, 'dm'::character varying, 'group'::character varying, 'broadcast'::character varying])::text[]))),
    CONSTRAINT realtime_rooms_visibility_check CHECK (((visibility)::text = ANY ((ARRAY['public'::character varying, 'private'::character varying])::text[])))
);

--
-- Name: TABLE realtime_rooms; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.realtime_rooms IS 'Rooms: channel, dm (one per pair of users), group, broadcast; public or private.';

--
-- Name: realtime_find_room(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_find_room(p_room_name text) RETURNS public.realtime_rooms
    LANGUAGE plpgsql STABLE
    AS $$
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

--
-- Name: FUNCTION realtime_find_room(p_room_name text); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_find_room(p_room_name text) IS 'The room of that name; raises RT404 when there is none.';

--
-- Name: realtime_get_presence(text[], timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_get_presence(p_user_ids text[], p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    AS $$
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

--
-- Name: FUNCTION realtime_get_presence(p_user_ids text[], p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_get_presence(p_user_ids text[], p_now timestamp with time zone) IS 'Presence of up to 100 users, in the order given.';

--
-- Name: realtime_get_visible_presence(text, boolean, text[], timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_get_visible_presence(p_viewer text, p_anonymous boolean, p_user_ids text[], p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    AS $$
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

--
-- Name: FUNCTION realtime_get_visible_presence(p_viewer text, p_anonymous boolean, p_user_ids text[], p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_get_visible_presence(p_viewer text, p_anonymous boolean, p_user_ids text[], p_now timestamp with time zone) IS 'Presence of up to 100 users as a viewer may see it (self, users sharing a room, members of public rooms; anonymous: the last only); others are left out.';

--
-- Name: realtime_join_refusal(public.realtime_rooms, text, text, boolean, bigint, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_join_refusal(p_room public.realtime_rooms, p_room_name text, p_user_id text, p_anonymous boolean, p_since bigint, p_replay_limit integer) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    AS $$
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

--
-- Name: FUNCTION realtime_join_refusal(p_room public.realtime_rooms, p_room_name text, p_user_id text, p_anonymous boolean, p_since bigint, p_replay_limit integer); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_join_refusal(p_room public.realtime_rooms, p_room_name text, p_user_id text, p_anonymous boolean, p_since bigint, p_replay_limit integer) IS 'Why a user may not join a room ({code, message}) or null: unknown room (RT404), anonymous outside public rooms, a dm of two other users, a private room of which the user is not a member (RT403), a bad user id, since or replay limit (RT400).';

--
-- Name: realtime_join_room(text, text, boolean, boolean, timestamp with time zone, bigint, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_join_room(p_room_name text, p_user_id text, p_anonymous boolean DEFAULT false, p_auto_create boolean DEFAULT false, p_now timestamp with time zone DEFAULT now(), p_since bigint DEFAULT NULL::bigint, p_replay_limit integer DEFAULT 100) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_join_room(p_room_name text, p_user_id text, p_anonymous boolean, p_auto_create boolean, p_now timestamp with time zone, p_since bigint, p_replay_limit integer); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_join_room(p_room_name text, p_user_id text, p_anonymous boolean, p_auto_create boolean, p_now timestamp with time zone, p_since bigint, p_replay_limit integer) IS 'Joins a room under the room rules (RT404 unknown, RT403 not allowed); returns the room, whether a membership began, members with presence (first 1000), member count, current typers and, with p_since, the messages missed since then (replay).';

--
-- Name: realtime_join_rooms(jsonb, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_join_rooms(p_joins jsonb, p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
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
$_$;

--
-- Name: FUNCTION realtime_join_rooms(p_joins jsonb, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_join_rooms(p_joins jsonb, p_now timestamp with time zone) IS 'Joins many rooms in one transaction ([{roomName, userId, anonymous, autoCreate, since, replayLimit}]); returns per join, in order, {ok, value} (value: what realtime_join_room returns) or {ok:false, error:{code, message}} (RT404 unknown room, RT403 not allowed, RT400 bad request); a refused join changes nothing.';

--
-- Name: realtime_leave_room(text, text, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_leave_room(p_room_name text, p_user_id text, p_now timestamp with time zone DEFAULT now()) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
begin
  return (
    select realtime_remove_member(p_room_name, p_user_id, p_now)
  );
end;
$$;

--
-- Name: FUNCTION realtime_leave_room(p_room_name text, p_user_id text, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_leave_room(p_room_name text, p_user_id text, p_now timestamp with time zone) IS 'Leaves a room (ends the membership); true when the user was a member.';

--
-- Name: realtime_limits(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_limits() RETURNS jsonb
    LANGUAGE plpgsql STABLE
    AS $$
begin
  return (
    select jsonb_build_object(
      'maxMessageLength', coalesce(l.max_message_length, 10000),
      'maxMessageMetadataBytes', coalesce(l.max_message_metadata_bytes, 8192),
      'maxCustomStatusText', coalesce(l.max_custom_status_text, 128),
      'maxCustomStatusEmoji', coalesce(l.max_custom_status_emoji, 32),
      'statuses', to_jsonb(realtime_presence_statuses()),
      'customStatusKeys', to_jsonb(realtime_custom_status_keys()),
      'updatedAt', l.updated_at)
    from (select 1) one
    left join realtime_limits l on l.id
  );
end;
$$;

--
-- Name: FUNCTION realtime_limits(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_limits() IS 'The limits every caller is held to: {maxMessageLength, maxMessageMetadataBytes, maxCustomStatusText, maxCustomStatusEmoji, statuses, customStatusKeys, updatedAt}.';

--
-- Name: realtime_log_event(text, text, text, jsonb, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_log_event(p_type text, p_user_id text DEFAULT NULL::text, p_room_name text DEFAULT NULL::text, p_data jsonb DEFAULT NULL::jsonb, p_now timestamp with time zone DEFAULT now()) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_seq bigint;
begin
  insert into realtime_events (type, user_id, room_name, data, created_at)
  values (p_type, p_user_id, p_room_name, p_data, p_now)
  returning seq into v_seq;
  return v_seq;
end;
$$;

--
-- Name: FUNCTION realtime_log_event(p_type text, p_user_id text, p_room_name text, p_data jsonb, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_log_event(p_type text, p_user_id text, p_room_name text, p_data jsonb, p_now timestamp with time zone) IS 'Appends one event; returns its seq.';

--
-- Name: realtime_log_events(jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_log_events(p_events jsonb) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_log_events(p_events jsonb); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_log_events(p_events jsonb) IS 'Appends a JSON array of events {type, userId, roomName, data, createdAt} in one statement; returns how many.';

--
-- Name: realtime_mark_active(text[], timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_mark_active(p_user_ids text[], p_now timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_mark_active(p_user_ids text[], p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_mark_active(p_user_ids text[], p_now timestamp with time zone) IS 'Brings users out of idle away (back to their chosen status); returns how many changed.';

--
-- Name: realtime_mark_idle(interval, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_mark_idle(p_idle_after interval, p_now timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_mark_idle(p_idle_after interval, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_mark_idle(p_idle_after interval, p_now timestamp with time zone) IS 'Shows away (idle) the users who chose online and sent nothing on any connection for p_idle_after; returns how many.';

--
-- Name: realtime_member_refusal(text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_member_refusal(p_room_name text, p_user_id text) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    AS $$
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

--
-- Name: FUNCTION realtime_member_refusal(p_room_name text, p_user_id text); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_member_refusal(p_room_name text, p_user_id text) IS 'Null when the user is an active member of the room, else {code, message}: RT404 (no room) or RT403 (not a member).';

--
-- Name: realtime_events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.realtime_events (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    type character varying(100) NOT NULL,
    user_id character varying(255),
    room_name character varying(255),
    data jsonb,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    seq bigint NOT NULL,
    client_message_id character varying(128),
    CONSTRAINT realtime_events_client_message_id_check CHECK ((char_length((client_message_id)::text) >= 1)),
    CONSTRAINT realtime_events_type_check CHECK (((type)::text ~ '^[a-z][a-z0-9_.:-]{0,99}$'::text))
);

--
-- Name: TABLE realtime_events; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.realtime_events IS 'Event log (connect, disconnect, error, message, join, leave, presence, typing, broadcast); seq orders it.';

--
-- Name: COLUMN realtime_events.client_message_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.realtime_events.client_message_id IS 'The sender''s own id of a message (message:send clientMessageId): unique per room and user, so a retry stores nothing.';

--
-- Name: realtime_message_json(public.realtime_events); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_message_json(e public.realtime_events) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    AS $$
begin
  return jsonb_build_object(
    'id', e.seq, 'eventId', e.id, 'roomName', e.room_name, 'userId', e.user_id,
    'content', e.data ->> 'content', 'threadId', e.data -> 'threadId', 'metadata', e.data -> 'metadata',
    'timestamp', e.created_at)
    || case when e.client_message_id is null then '{}'::jsonb
            else jsonb_build_object('clientMessageId', e.client_message_id) end;
end;
$$;

--
-- Name: FUNCTION realtime_message_json(e public.realtime_events); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_message_json(e public.realtime_events) IS 'A stored message as message:new shows it: {id, eventId, roomName, userId, content, threadId, metadata, timestamp, clientMessageId when the sender gave one}.';

--
-- Name: realtime_message_refusal(public.realtime_rooms, text, text, text, text, jsonb, text[], integer, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_message_refusal(p_room public.realtime_rooms, p_room_name text, p_user_id text, p_content text, p_thread_id text, p_metadata jsonb, p_roles text[], p_max_length integer DEFAULT NULL::integer, p_max_metadata integer DEFAULT NULL::integer) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    AS $$
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

--
-- Name: FUNCTION realtime_message_refusal(p_room public.realtime_rooms, p_room_name text, p_user_id text, p_content text, p_thread_id text, p_metadata jsonb, p_roles text[], p_max_length integer, p_max_metadata integer); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_message_refusal(p_room public.realtime_rooms, p_room_name text, p_user_id text, p_content text, p_thread_id text, p_metadata jsonb, p_roles text[], p_max_length integer, p_max_metadata integer) IS 'Why a message may not be sent ({code, message}) or null: unknown room (RT404), bad content, thread or metadata (RT400; lengths from realtime_limits() unless given), not an active member, or not a permitted sender of a broadcast room (RT403: owner/admin, metadata.senders, or a role in metadata.senderRoles).';

--
-- Name: realtime_nodes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.realtime_nodes (
    id text NOT NULL,
    hostname text,
    pid integer,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    last_heartbeat timestamp with time zone DEFAULT now() NOT NULL,
    stopped_at timestamp with time zone,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    alive_since timestamp with time zone,
    CONSTRAINT realtime_nodes_id_check CHECK (((char_length(id) >= 1) AND (char_length(id) <= 128)))
);

--
-- Name: TABLE realtime_nodes; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.realtime_nodes IS 'Relay processes and their heartbeats.';

--
-- Name: COLUMN realtime_nodes.alive_since; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.realtime_nodes.alive_since IS 'Start of the relay''s unbroken run of heartbeats (a gap longer than two heartbeat intervals starts a new one).';

--
-- Name: realtime_node_alive(public.realtime_nodes, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_node_alive(n public.realtime_nodes, p_now timestamp with time zone DEFAULT now()) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$
  select n.stopped_at is null and n.last_heartbeat > p_now - realtime_node_stale_after(n);
$$;

--
-- Name: FUNCTION realtime_node_alive(n public.realtime_nodes, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_node_alive(n public.realtime_nodes, p_now timestamp with time zone) IS 'Whether a relay is alive at p_now: not stopped and heartbeated within its own registered staleAfterMs (90 s when it registered none).';

--
-- Name: realtime_node_heartbeat(text, text[], timestamp with time zone, text[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_node_heartbeat(p_node_id text, p_socket_ids text[] DEFAULT '{}'::text[], p_now timestamp with time zone DEFAULT now(), p_active_socket_ids text[] DEFAULT '{}'::text[]) RETURNS text[]
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_node_heartbeat(p_node_id text, p_socket_ids text[], p_now timestamp with time zone, p_active_socket_ids text[]); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_node_heartbeat(p_node_id text, p_socket_ids text[], p_now timestamp with time zone, p_active_socket_ids text[]) IS 'Marks a relay alive, touches its sockets and records which sent events (ending idle away); returns the given socket ids that are no longer open.';

--
-- Name: realtime_node_heartbeat_interval(public.realtime_nodes); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_node_heartbeat_interval(n public.realtime_nodes) RETURNS interval
    LANGUAGE sql IMMUTABLE
    AS $$
  select make_interval(secs => coalesce((n.metadata ->> 'heartbeatMs')::double precision, 30000) / 1000);
$$;

--
-- Name: FUNCTION realtime_node_heartbeat_interval(n public.realtime_nodes); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_node_heartbeat_interval(n public.realtime_nodes) IS 'How often a relay heartbeats (its registered heartbeatMs, else 30 s).';

--
-- Name: realtime_node_stale_after(public.realtime_nodes, interval); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_node_stale_after(n public.realtime_nodes, p_default interval DEFAULT '00:01:30'::interval) RETURNS interval
    LANGUAGE sql IMMUTABLE
    AS $$
  select coalesce(make_interval(secs => (n.metadata ->> 'staleAfterMs')::double precision / 1000), p_default);
$$;

--
-- Name: FUNCTION realtime_node_stale_after(n public.realtime_nodes, p_default interval); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_node_stale_after(n public.realtime_nodes, p_default interval) IS 'How long a relay may be silent before it counts as dead (its registered staleAfterMs, else p_default).';

--
-- Name: realtime_node_start(text, text, integer, jsonb, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_node_start(p_node_id text, p_hostname text DEFAULT NULL::text, p_pid integer DEFAULT NULL::integer, p_metadata jsonb DEFAULT '{}'::jsonb, p_now timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_node_start(p_node_id text, p_hostname text, p_pid integer, p_metadata jsonb, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_node_start(p_node_id text, p_hostname text, p_pid integer, p_metadata jsonb, p_now timestamp with time zone) IS 'Registers a relay node (heartbeat now) and closes connections an earlier process left under the same id; returns how many.';

--
-- Name: realtime_node_state(public.realtime_nodes, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_node_state(n public.realtime_nodes, p_now timestamp with time zone DEFAULT now()) RETURNS text
    LANGUAGE sql STABLE
    AS $$
  select case when n.stopped_at is not null then 'stopped'
              when realtime_node_alive(n, p_now) then 'alive'
              else 'silent' end;
$$;

--
-- Name: FUNCTION realtime_node_state(n public.realtime_nodes, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_node_state(n public.realtime_nodes, p_now timestamp with time zone) IS 'stopped, alive, or silent (not stopped, but no heartbeat within its own stale-after).';

--
-- Name: realtime_node_stop(text, timestamp with time zone, interval); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_node_stop(p_node_id text, p_now timestamp with time zone DEFAULT now(), p_grace interval DEFAULT '00:00:00'::interval) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_node_stop(p_node_id text, p_now timestamp with time zone, p_grace interval); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_node_stop(p_node_id text, p_now timestamp with time zone, p_grace interval) IS 'Closes a relay''s connections (users offline after p_grace) and marks it stopped; returns how many were closed.';

--
-- Name: realtime_notify(text, jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_notify(kind text, body jsonb) RETURNS void
    LANGUAGE plpgsql
    AS $$
begin
  perform pg_notify('realtime', (jsonb_build_object('v', 1, 'kind', kind) || coalesce(body, '{}'::jsonb))::text);
end;
$$;

--
-- Name: FUNCTION realtime_notify(kind text, body jsonb); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_notify(kind text, body jsonb) IS 'Announces a change on channel realtime as {"v":1,"kind":kind,...body}. Callers keep body small (under 8000 bytes).';

--
-- Name: realtime_presence; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.realtime_presence (
    user_id character varying(255) NOT NULL,
    status character varying(20) DEFAULT 'offline'::character varying NOT NULL,
    custom_status jsonb,
    last_seen timestamp with time zone DEFAULT now(),
    updated_at timestamp with time zone DEFAULT now(),
    chosen_status character varying(20) DEFAULT 'online'::character varying NOT NULL,
    offline_at timestamp with time zone,
    idle boolean DEFAULT false NOT NULL,
    CONSTRAINT realtime_presence_chosen_status_check CHECK (((chosen_status)::text = ANY ((ARRAY['online'::character varying, 'away'::character varying, 'busy'::character varying, 'offline'::character varying])::text[]))),
    CONSTRAINT realtime_presence_custom_status_check CHECK (((custom_status IS NULL) OR ((jsonb_typeof(custom_status) = 'object'::text) AND ((((custom_status - 'text'::text) - 'emoji'::text) - 'expiresAt'::text) = '{}'::jsonb) AND (COALESCE(jsonb_typeof((custom_status -> 'text'::text)), 'string'::text) = 'string'::text) AND (COALESCE(jsonb_typeof((custom_status -> 'emoji'::text)), 'string'::text) = 'string'::text) AND (COALESCE(jsonb_typeof((custom_status -> 'expiresAt'::text)), 'string'::text) = 'string'::text) AND (char_length(COALESCE((custom_status ->> 'text'::text), ''::text)) <= 128) AND (char_length(COALESCE((custom_status ->> 'emoji'::text), ''::text)) <= 32) AND ((NOT (custom_status ? 'expiresAt'::text)) OR
CASE
    WHEN ((custom_status ->> 'expiresAt'::text) ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$'::text) THEN (((custom_status ->> 'expiresAt'::text))::timestamp with time zone IS NOT NULL)
    ELSE false
END)))),
    CONSTRAINT realtime_presence_status_check CHECK (((status)::text = ANY ((ARRAY['online'::character varying, 'away'::character varying, 'busy'::character varying, 'offline'::character varying])::text[]))),
    CONSTRAINT realtime_presence_user_id_check CHECK ((char_length((user_id)::text) >= 1))
);

--
-- Name: TABLE realtime_presence; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.realtime_presence IS 'One row per user: visible status, chosen status, custom status, last_seen.';

--
-- Name: realtime_notify_presence(public.realtime_presence, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_notify_presence(p public.realtime_presence, p_now timestamp with time zone DEFAULT now()) RETURNS void
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: FUNCTION realtime_notify_presence(p public.realtime_presence, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_notify_presence(p public.realtime_presence, p_now timestamp with time zone) IS 'Announces a user''s presence with the names of their rooms (null when more than 100 or too large for a notification).';

--
-- Name: realtime_notify_typing(text, text, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_notify_typing(p_room_name text, p_thread_id text, p_now timestamp with time zone DEFAULT now()) RETURNS void
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: FUNCTION realtime_notify_typing(p_room_name text, p_thread_id text, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_notify_typing(p_room_name text, p_thread_id text, p_now timestamp with time zone) IS 'Announces who is typing in a room/thread: {"kind":"typing",room,threadId,users[,truncated]}, always under 8000 bytes.';

--
-- Name: realtime_open_dm(text, text, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_open_dm(p_user_a text, p_user_b text, p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_open_dm(p_user_a text, p_user_b text, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_open_dm(p_user_a text, p_user_b text, p_now timestamp with time zone) IS 'Returns the one dm room of two users, creating it and both memberships when needed.';

--
-- Name: realtime_presence_json(public.realtime_presence, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_presence_json(p public.realtime_presence, p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
  select jsonb_build_object(
    'userId', p.user_id,
    'status', p.status,
    'customStatus', realtime_visible_custom_status(p.custom_status, p_now),
    'lastSeen', p.last_seen
  );
$$;

--
-- Name: FUNCTION realtime_presence_json(p public.realtime_presence, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_presence_json(p public.realtime_presence, p_now timestamp with time zone) IS 'A presence row as the protocol shows it.';

--
-- Name: realtime_presence_statuses(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_presence_statuses() RETURNS text[]
    LANGUAGE sql IMMUTABLE
    AS $$
  select array['online', 'away', 'busy', 'offline']::text[];
$$;

--
-- Name: FUNCTION realtime_presence_statuses(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_presence_statuses() IS 'The presence statuses a user may choose: online, away, busy, offline.';

--
-- Name: realtime_prune_events(interval, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_prune_events(p_older_than interval, p_now timestamp with time zone DEFAULT now()) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_prune_events(p_older_than interval, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_prune_events(p_older_than interval, p_now timestamp with time zone) IS 'Deletes events older than the given age; returns how many were deleted.';

--
-- Name: realtime_refresh_presence(text, timestamp with time zone, interval); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_refresh_presence(p_user_id text, p_now timestamp with time zone DEFAULT now(), p_grace interval DEFAULT '00:00:00'::interval) RETURNS public.realtime_presence
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_refresh_presence(p_user_id text, p_now timestamp with time zone, p_grace interval); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_refresh_presence(p_user_id text, p_now timestamp with time zone, p_grace interval) IS 'Recomputes the visible status of a user from their open connections; with no open connection and a grace period, schedules offline at now + grace.';

--
-- Name: realtime_register_connection(text, text, text, jsonb, jsonb, boolean, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_register_connection(p_socket_id text, p_user_id text, p_node_id text DEFAULT NULL::text, p_device jsonb DEFAULT NULL::jsonb, p_metadata jsonb DEFAULT '{}'::jsonb, p_anonymous boolean DEFAULT false, p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_register_connection(p_socket_id text, p_user_id text, p_node_id text, p_device jsonb, p_metadata jsonb, p_anonymous boolean, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_register_connection(p_socket_id text, p_user_id text, p_node_id text, p_device jsonb, p_metadata jsonb, p_anonymous boolean, p_now timestamp with time zone) IS 'Records an open socket of a user (or an anonymous one), brings the user online, and returns {connectionId, presence, rooms}.';

--
-- Name: realtime_register_connections(jsonb, text, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_register_connections(p_connections jsonb, p_node_id text DEFAULT NULL::text, p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_register_connections(p_connections jsonb, p_node_id text, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_register_connections(p_connections jsonb, p_node_id text, p_now timestamp with time zone) IS 'Records many open sockets in one transaction ([{socketId, userId, device, metadata, anonymous, maxPerUser}]); returns, in input order, {connectionId, presence, rooms} or {error: {code, message}} per socket (RT429: the user already has maxPerUser open connections).';

--
-- Name: realtime_remove_member(text, text, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_remove_member(p_room_name text, p_user_id text, p_now timestamp with time zone DEFAULT now()) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_remove_member(p_room_name text, p_user_id text, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_remove_member(p_room_name text, p_user_id text, p_now timestamp with time zone) IS 'Ends a user''s membership of a room and clears their typing there; returns false when they were not a member. Announces the leave.';

--
-- Name: realtime_room_events_since(text, text, bigint, integer, boolean); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_room_events_since(p_room_name text, p_user_id text, p_since bigint, p_limit integer DEFAULT 100, p_anonymous boolean DEFAULT false) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    AS $$
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

--
-- Name: FUNCTION realtime_room_events_since(p_room_name text, p_user_id text, p_since bigint, p_limit integer, p_anonymous boolean); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_room_events_since(p_room_name text, p_user_id text, p_since bigint, p_limit integer, p_anonymous boolean) IS 'Messages of a room after id p_since for a reader allowed to see them, each as message:new shows it (realtime_message_json): {events, gap, latestId}; gap means the client must refetch.';

--
-- Name: realtime_room_history(text, text, bigint, integer, boolean); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_room_history(p_room_name text, p_user_id text, p_before bigint DEFAULT NULL::bigint, p_limit integer DEFAULT 50, p_anonymous boolean DEFAULT false) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    AS $$
declare
  v_room realtime_rooms := realtime_find_room(p_room_name);
  v_messages jsonb;
  v_oldest bigint;
begin
  if p_before is not null and p_before < 0 then
    raise exception 'before must be a non-negative message id' using errcode = 'RT400';
  end if;
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'limit must be between 1 and 1000' using errcode = 'RT400';
  end if;
  if p_anonymous then
    if v_room.visibility <> 'public' or v_room.type = 'dm' then
      raise exception 'anonymous users may only read public rooms' using errcode = 'RT403';
    end if;
  elsif p_user_id is null then
    raise exception 'a user id is required' using errcode = 'RT400';
  elsif (v_room.visibility <> 'public' or v_room.type = 'dm') and not exists (
    select 1 from realtime_room_members where room_id = v_room.id and user_id = p_user_id and left_at is null
  ) then
    raise exception 'room % is private and you are not a member', p_room_name using errcode = 'RT403';
  end if;

  select coalesce(jsonb_agg(realtime_message_json(e) order by e.seq), '[]'::jsonb), min(e.seq)
    into v_messages, v_oldest
  from (
    select * from realtime_events
    where room_name = v_room.name and type = 'message' and (p_before is null or seq < p_before)
    order by seq desc
    limit p_limit
  ) e;

  return jsonb_build_object(
    'messages', v_messages,
    'hasMore', v_oldest is not null and exists (
      select 1 from realtime_events where room_name = v_room.name and type = 'message' and seq < v_oldest
    )
  );
end;
$$;

--
-- Name: FUNCTION realtime_room_history(p_room_name text, p_user_id text, p_before bigint, p_limit integer, p_anonymous boolean); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_room_history(p_room_name text, p_user_id text, p_before bigint, p_limit integer, p_anonymous boolean) IS 'Older messages of a room for a reader allowed to join it: the newest p_limit with an id below p_before, oldest first, as {messages, hasMore}.';

--
-- Name: realtime_room_json(public.realtime_rooms); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_room_json(r public.realtime_rooms) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
  select jsonb_build_object(
    'id', r.id, 'name', r.name, 'type', r.type, 'visibility', r.visibility,
    'metadata', r.metadata, 'createdAt', r.created_at
  );
$$;

--
-- Name: FUNCTION realtime_room_json(r public.realtime_rooms); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_room_json(r public.realtime_rooms) IS 'A room as the protocol shows it.';

--
-- Name: realtime_room_members_json(public.realtime_rooms, timestamp with time zone, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_room_members_json(p_room public.realtime_rooms, p_now timestamp with time zone DEFAULT now(), p_limit integer DEFAULT 1000) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    AS $$
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

--
-- Name: FUNCTION realtime_room_members_json(p_room public.realtime_rooms, p_now timestamp with time zone, p_limit integer); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_room_members_json(p_room public.realtime_rooms, p_now timestamp with time zone, p_limit integer) IS 'Active members of a room with their presence, earliest first, at most p_limit.';

--
-- Name: realtime_send_message(text, text, text, text, jsonb, text[], timestamp with time zone, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_send_message(p_room_name text, p_user_id text, p_content text, p_thread_id text DEFAULT NULL::text, p_metadata jsonb DEFAULT NULL::jsonb, p_roles text[] DEFAULT '{}'::text[], p_now timestamp with time zone DEFAULT now(), p_client_message_id text DEFAULT NULL::text) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_send_message(p_room_name text, p_user_id text, p_content text, p_thread_id text, p_metadata jsonb, p_roles text[], p_now timestamp with time zone, p_client_message_id text); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_send_message(p_room_name text, p_user_id text, p_content text, p_thread_id text, p_metadata jsonb, p_roles text[], p_now timestamp with time zone, p_client_message_id text) IS 'Checks that the user may send in the room, stores the message in realtime_events (seq = message id) and clears the sender''s typing; returns the message as message:new shows it. With p_client_message_id, a retry stores nothing and returns the message stored first.';

--
-- Name: realtime_send_messages(jsonb, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_send_messages(p_messages jsonb, p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_send_messages(p_messages jsonb, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_send_messages(p_messages jsonb, p_now timestamp with time zone) IS 'Stores many messages in one transaction ([{roomName, userId, content, threadId, metadata, roles, clientMessageId}]); returns per message {ok, message}, {ok, duplicate: true, message} (a clientMessageId already stored for that room and user: the stored message, nothing stored again) or {ok:false, error:{code, message}} in order.';

--
-- Name: realtime_send_to(text, text, text, jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_send_to(p_target text, p_name text, p_event text, p_payload jsonb) RETURNS boolean
    LANGUAGE plpgsql
    AS $_$
declare
  v_body jsonb;
  v_seq bigint;
begin
  begin
    if p_name is null or char_length(p_name) not between 1 and 255 then
      raise exception 'a % name of 1 to 255 characters is required', p_target;
    end if;
    if p_event is null or p_event !~ '^[A-Za-z][A-Za-z0-9:._-]{0,63}$' then
      raise exception 'event name must match ^[A-Za-z][A-Za-z0-9:._-]{0,63}$';
    end if;
    if p_event in ('connect', 'connect_error', 'disconnect', 'disconnecting', 'connected', 'authenticated', 'error', 'pong') then
      raise exception 'event name % is reserved by the protocol', p_event;
    end if;
    v_body := jsonb_build_object('target', p_target, 'name', p_name, 'event', p_event, 'payload', coalesce(p_payload, 'null'::jsonb));
    if octet_length(v_body::text) > 7000 then
      insert into realtime_events (type, user_id, room_name, data)
      values ('broadcast', case when p_target = 'user' then p_name end, case when p_target = 'room' then p_name end,
              jsonb_build_object('event', p_event, 'payload', coalesce(p_payload, 'null'::jsonb)))
      returning seq into v_seq;
      v_body := jsonb_build_object('target', p_target, 'name', p_name, 'event', p_event, 'ref', v_seq);
    end if;
    perform realtime_notify('broadcast', v_body);
    return true;
  exception when others then
    raise warning 'realtime broadcast of % to % % not sent: %', p_event, p_target, p_name, sqlerrm;
    return false;
  end;
end;
$_$;

--
-- Name: FUNCTION realtime_send_to(p_target text, p_name text, p_event text, p_payload jsonb); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_send_to(p_target text, p_name text, p_event text, p_payload jsonb) IS 'Shared body of realtime_broadcast and realtime_broadcast_user.';

--
-- Name: realtime_set_limits(jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_set_limits(p_limits jsonb) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $_$
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
$_$;

--
-- Name: FUNCTION realtime_set_limits(p_limits jsonb); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_set_limits(p_limits jsonb) IS 'Changes limits ({maxMessageLength, maxMessageMetadataBytes, maxCustomStatusText, maxCustomStatusEmoji}, integers in range; RT400 otherwise); returns realtime_limits(). Not granted to the relay role.';

--
-- Name: realtime_set_presence(text, text, jsonb, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_set_presence(p_user_id text, p_status text, p_custom_status jsonb DEFAULT NULL::jsonb, p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_set_presence(p_user_id text, p_status text, p_custom_status jsonb, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_set_presence(p_user_id text, p_status text, p_custom_status jsonb, p_now timestamp with time zone) IS 'Sets the status a user chose (online, away, busy, offline) and optionally the custom status {text, emoji, expiresAt}; NULL keeps the custom status, JSON null clears it. Announces a visible change.';

--
-- Name: realtime_settle_presence(timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_settle_presence(p_now timestamp with time zone DEFAULT now()) RETURNS integer
    LANGUAGE plpgsql
    AS $$
declare
  v_user text;
  v_count integer := 0;
  v_row realtime_presence;
begin
  if not pg_try_advisory_xact_lock(hashtext('realtime.settle_presence')) then
    return 0;
  end if;
  for v_user in select user_id from realtime_presence where offline_at <= p_now loop
    if exists (select 1 from realtime_connections where user_id = v_user and disconnected_at is null) then
      update realtime_presence set offline_at = null where user_id = v_user;
    else
      -- last_seen was set to the disconnect time when the grace period began.
      update realtime_presence set status = 'offline', offline_at = null, updated_at = p_now
      where user_id = v_user and status <> 'offline'
      returning * into v_row;
      if found then
        perform realtime_notify_presence(v_row, p_now);
        v_count := v_count + 1;
      else
        update realtime_presence set offline_at = null where user_id = v_user;
      end if;
    end if;
  end loop;

  for v_row in
    update realtime_presence set custom_status = null, updated_at = p_now
    where custom_status ? 'expiresAt' and (custom_status ->> 'expiresAt')::timestamptz <= p_now
    returning *
  loop
    perform realtime_notify_presence(v_row, p_now);
  end loop;
  return v_count;
end;
$$;

--
-- Name: FUNCTION realtime_settle_presence(p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_settle_presence(p_now timestamp with time zone) IS 'Takes offline the users whose grace period ended with no connection back, and clears expired custom statuses; returns how many went offline.';

--
-- Name: realtime_start_typing(text, text, text, text, interval, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_start_typing(p_room_name text, p_user_id text, p_thread_id text DEFAULT NULL::text, p_socket_id text DEFAULT NULL::text, p_timeout interval DEFAULT '00:00:03'::interval, p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_start_typing(p_room_name text, p_user_id text, p_thread_id text, p_socket_id text, p_timeout interval, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_start_typing(p_room_name text, p_user_id text, p_thread_id text, p_socket_id text, p_timeout interval, p_now timestamp with time zone) IS 'Sets or refreshes a typing indicator that expires after p_timeout; only a change in the set of typers is announced. Returns {changed, users}.';

--
-- Name: realtime_stop_typing(text, text, text, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_stop_typing(p_room_name text, p_user_id text, p_thread_id text DEFAULT NULL::text, p_now timestamp with time zone DEFAULT now()) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_stop_typing(p_room_name text, p_user_id text, p_thread_id text, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_stop_typing(p_room_name text, p_user_id text, p_thread_id text, p_now timestamp with time zone) IS 'Clears a typing indicator; announces it and returns true when it was live.';

--
-- Name: realtime_tick(timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_tick(p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
declare
  v_typing integer;
  v_offline integer;
begin
  select count(*) into v_typing from realtime_expire_typing(p_now);
  v_offline := realtime_settle_presence(p_now);
  return jsonb_build_object('typingExpired', v_typing, 'wentOffline', v_offline);
end;
$$;

--
-- Name: FUNCTION realtime_tick(p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_tick(p_now timestamp with time zone) IS 'Runs the frequent sweeps (typing expiry, presence grace, custom status expiry); safe to call from many relays.';

--
-- Name: realtime_touch_connections(text[], timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_touch_connections(p_socket_ids text[], p_now timestamp with time zone DEFAULT now()) RETURNS text[]
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_touch_connections(p_socket_ids text[], p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_touch_connections(p_socket_ids text[], p_now timestamp with time zone) IS 'Sets last_activity of many open connections at once; returns the socket ids that were not open.';

--
-- Name: realtime_typers(text, text, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_typers(p_room_name text, p_thread_id text, p_now timestamp with time zone DEFAULT now()) RETURNS text[]
    LANGUAGE plpgsql STABLE
    AS $$
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

--
-- Name: FUNCTION realtime_typers(p_room_name text, p_thread_id text, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_typers(p_room_name text, p_thread_id text, p_now timestamp with time zone) IS 'User ids typing now in a room and thread (NULL: the room itself), at most 50.';

--
-- Name: realtime_typing_changes(jsonb, interval, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_typing_changes(p_changes jsonb, p_timeout interval DEFAULT '00:00:03'::interval, p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'public', 'pg_temp'
    AS $$
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

--
-- Name: FUNCTION realtime_typing_changes(p_changes jsonb, p_timeout interval, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_typing_changes(p_changes jsonb, p_timeout interval, p_now timestamp with time zone) IS 'Applies many typing starts and stops in order ([{op, roomName, userId, threadId, socketId}]); returns per change {ok, value: {changed, users?}} or {ok:false, error:{code, message}}; announces each room/thread whose typers changed once, after the batch.';

--
-- Name: realtime_user_room_names(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_user_room_names(p_user_id text) RETURNS text[]
    LANGUAGE plpgsql STABLE
    AS $$
begin
  return (
    select coalesce(array_agg(r.name order by r.name), '{}')
    from realtime_room_members m
    join realtime_rooms r on r.id = m.room_id
    where m.user_id = p_user_id and m.left_at is null
  );
end;
$$;

--
-- Name: FUNCTION realtime_user_room_names(p_user_id text); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_user_room_names(p_user_id text) IS 'Names of the rooms the user is an active member of.';

--
-- Name: realtime_visible_custom_status(jsonb, timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.realtime_visible_custom_status(p_custom jsonb, p_now timestamp with time zone) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
  select case
    when p_custom is null then null
    when p_custom ? 'expiresAt' and (p_custom ->> 'expiresAt')::timestamptz <= p_now then null
    else p_custom
  end;
$$;

--
-- Name: FUNCTION realtime_visible_custom_status(p_custom jsonb, p_now timestamp with time zone); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.realtime_visible_custom_status(p_custom jsonb, p_now timestamp with time zone) IS 'A custom status as others see it: null when absent or past its expiresAt.';

--
-- Name: realtime_connections; Type: TABLE; Schema: public; Owner: -
--

CREATE UNLOGGED TABLE public.realtime_connections (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    socket_id character varying(255) NOT NULL,
    user_id character varying(255),
    device jsonb,
    connected_at timestamp with time zone DEFAULT now() NOT NULL,
    last_activity timestamp with time zone DEFAULT now() NOT NULL,
    disconnected_at timestamp with time zone,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    node_id text,
    anonymous boolean DEFAULT false NOT NULL,
    close_reason text,
    last_input_at timestamp with time zone,
    CONSTRAINT realtime_connections_socket_id_check CHECK ((char_length((socket_id)::text) >= 1))
);

--
-- Name: TABLE realtime_connections; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.realtime_connections IS 'Socket connections, open while disconnected_at is null. UNLOGGED: emptied by a database crash.';

--
-- Name: realtime_active_connections; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.realtime_active_connections AS
 SELECT c.socket_id,
    c.user_id,
    c.device,
    c.connected_at,
    c.last_activity,
    p.status AS presence_status,
    p.custom_status,
    c.node_id,
    c.anonymous
   FROM (public.realtime_connections c
     LEFT JOIN public.realtime_presence p ON (((c.user_id)::text = (p.user_id)::text)))
  WHERE (c.disconnected_at IS NULL)
  ORDER BY c.connected_at DESC;

--
-- Name: VIEW realtime_active_connections; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON VIEW public.realtime_active_connections IS 'Open connections with their user''s presence.';

--
-- Name: realtime_typing; Type: TABLE; Schema: public; Owner: -
--

CREATE UNLOGGED TABLE public.realtime_typing (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    room_name character varying(255) NOT NULL,
    user_id character varying(255) NOT NULL,
    thread_id character varying(255),
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    socket_id character varying(255),
    CONSTRAINT realtime_typing_thread_nonempty CHECK (((thread_id IS NULL) OR (char_length((thread_id)::text) >= 1)))
);

--
-- Name: TABLE realtime_typing; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.realtime_typing IS 'Typing indicators; a NULL thread is one thread. UNLOGGED: no WAL per keystroke.';

--
-- Name: realtime_current_typing; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.realtime_current_typing AS
 SELECT realtime_typing.room_name,
    realtime_typing.user_id,
    realtime_typing.thread_id,
    realtime_typing.started_at,
    realtime_typing.expires_at
   FROM public.realtime_typing
  WHERE (realtime_typing.expires_at > now())
  ORDER BY realtime_typing.room_name, realtime_typing.started_at;

--
-- Name: VIEW realtime_current_typing; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON VIEW public.realtime_current_typing IS 'Typing indicators that have not expired.';

--
-- Name: realtime_events_seq_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.realtime_events ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.realtime_events_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: realtime_events_state; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.realtime_events_state (
    singleton boolean DEFAULT true NOT NULL,
    pruned_through bigint DEFAULT 0 NOT NULL,
    CONSTRAINT realtime_events_state_singleton_check CHECK (singleton)
);

--
-- Name: realtime_limits; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.realtime_limits (
    id boolean DEFAULT true NOT NULL,
    max_message_length integer DEFAULT 10000 NOT NULL,
    max_message_metadata_bytes integer DEFAULT 8192 NOT NULL,
    max_custom_status_text integer DEFAULT 128 NOT NULL,
    max_custom_status_emoji integer DEFAULT 32 NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT realtime_limits_id_check CHECK (id),
    CONSTRAINT realtime_limits_max_custom_status_emoji_check CHECK (((max_custom_status_emoji >= 0) AND (max_custom_status_emoji <= 256))),
    CONSTRAINT realtime_limits_max_custom_status_text_check CHECK (((max_custom_status_text >= 0) AND (max_custom_status_text <= 1024))),
    CONSTRAINT realtime_limits_max_message_length_check CHECK (((max_message_length >= 1) AND (max_message_length <= 100000))),
    CONSTRAINT realtime_limits_max_message_metadata_bytes_check CHECK (((max_message_metadata_bytes >= 2) AND (max_message_metadata_bytes <= 65536)))
);

--
-- Name: TABLE realtime_limits; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.realtime_limits IS 'One row: the limits on what is stored (message length, metadata size, custom status lengths); read with realtime_limits(), changed with realtime_set_limits().';

--
-- Name: realtime_node_stats; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.realtime_node_stats AS
SELECT
    NULL::text AS node_id,
    NULL::text AS hostname,
    NULL::integer AS pid,
    NULL::timestamp with time zone AS started_at,
    NULL::timestamp with time zone AS last_heartbeat,
    NULL::timestamp with time zone AS stopped_at,
    NULL::bigint AS connection_count,
    NULL::bigint AS stale_after_ms,
    NULL::boolean AS alive,
    NULL::text AS state;

--
-- Name: VIEW realtime_node_stats; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON VIEW public.realtime_node_stats IS 'Relay nodes with their open connection counts, the stale-after each declared, and whether each is alive by it (state: alive, silent or stopped).';

--
-- Name: realtime_presence_summary; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.realtime_presence_summary AS
 SELECT realtime_presence.status,
    count(*) AS user_count
   FROM public.realtime_presence
  WHERE ((realtime_presence.last_seen > (now() - '01:00:00'::interval)) OR ((realtime_presence.status)::text <> 'offline'::text))
  GROUP BY realtime_presence.status
  ORDER BY (count(*)) DESC, realtime_presence.status;

--
-- Name: VIEW realtime_presence_summary; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON VIEW public.realtime_presence_summary IS 'Users per status: everyone not offline, plus offline users seen in the last hour.';

--
-- Name: realtime_room_members; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.realtime_room_members (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    room_id uuid NOT NULL,
    user_id character varying(255) NOT NULL,
    joined_at timestamp with time zone DEFAULT now() NOT NULL,
    left_at timestamp with time zone,
    role character varying(20) DEFAULT 'member'::character varying NOT NULL,
    CONSTRAINT realtime_room_members_role_check CHECK (((role)::text = ANY ((ARRAY['owner'::character varying, 'admin'::character varying, 'member'::character varying])::text[]))),
    CONSTRAINT realtime_room_members_user_id_check CHECK ((char_length((user_id)::text) >= 1))
);

--
-- Name: TABLE realtime_room_members; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.realtime_room_members IS 'Membership history; the active membership of a user in a room has left_at null (at most one).';

--
-- Name: realtime_room_stats; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.realtime_room_stats AS
 SELECT r.name,
    r.type,
    r.visibility,
    count(rm.id) AS member_count,
    r.created_at,
    count(rm.id) FILTER (WHERE ((p.status IS NOT NULL) AND ((p.status)::text <> 'offline'::text))) AS online_count
   FROM ((public.realtime_rooms r
     LEFT JOIN public.realtime_room_members rm ON (((r.id = rm.room_id) AND (rm.left_at IS NULL))))
     LEFT JOIN public.realtime_presence p ON (((p.user_id)::text = (rm.user_id)::text)))
  GROUP BY r.id, r.name, r.type, r.visibility, r.created_at
  ORDER BY (count(rm.id)) DESC, r.name;

--
-- Name: VIEW realtime_room_stats; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON VIEW public.realtime_room_stats IS 'Rooms with their active member count and how many of those are online.';

--
-- Name: realtime_connections realtime_connections_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.realtime_connections
    ADD CONSTRAINT realtime_connections_pkey PRIMARY KEY (id);

--
-- Name: realtime_events realtime_events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.realtime_events
    ADD CONSTRAINT realtime_events_pkey PRIMARY KEY (id);

--
-- Name: realtime_events_state realtime_events_state_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.realtime_events_state
    ADD CONSTRAINT realtime_events_state_pkey PRIMARY KEY (singleton);

--
-- Name: realtime_limits realtime_limits_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.realtime_limits
    ADD CONSTRAINT realtime_limits_pkey PRIMARY KEY (id);

--
-- Name: realtime_nodes realtime_nodes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.realtime_nodes
    ADD CONSTRAINT realtime_nodes_pkey PRIMARY KEY (id);

--
-- Name: realtime_presence realtime_presence_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.realtime_presence
    ADD CONSTRAINT realtime_presence_pkey PRIMARY KEY (user_id);

--
-- Name: realtime_room_members realtime_room_members_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.realtime_room_members
    ADD CONSTRAINT realtime_room_members_pkey PRIMARY KEY (id);

--
-- Name: realtime_rooms realtime_rooms_dm_unique; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.realtime_rooms
    ADD CONSTRAINT realtime_rooms_dm_unique UNIQUE (dm_user_a, dm_user_b);

--
-- Name: realtime_rooms realtime_rooms_name_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.realtime_rooms
    ADD CONSTRAINT realtime_rooms_name_key UNIQUE (name);

--
-- Name: realtime_rooms realtime_rooms_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.realtime_rooms
    ADD CONSTRAINT realtime_rooms_pkey PRIMARY KEY (id);

--
-- Name: realtime_typing realtime_typing_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.realtime_typing
    ADD CONSTRAINT realtime_typing_pkey PRIMARY KEY (id);

--
-- Name: idx_realtime_events_created; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_realtime_events_created ON public.realtime_events USING btree (created_at DESC);

--
-- Name: idx_realtime_events_type; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_realtime_events_type ON public.realtime_events USING btree (type);

--
-- Name: realtime_connections_closed_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX realtime_connections_closed_at ON public.realtime_connections USING btree (disconnected_at) WHERE (disconnected_at IS NOT NULL);

--
-- Name: realtime_connections_open_node; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX realtime_connections_open_node ON public.realtime_connections USING btree (node_id) WHERE (disconnected_at IS NULL);

--
-- Name: realtime_connections_open_socket; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX realtime_connections_open_socket ON public.realtime_connections USING btree (socket_id) WHERE (disconnected_at IS NULL);

--
-- Name: realtime_connections_open_user; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX realtime_connections_open_user ON public.realtime_connections USING btree (user_id) WHERE (disconnected_at IS NULL);

--
-- Name: realtime_events_client_message; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX realtime_events_client_message ON public.realtime_events USING btree (room_name, user_id, client_message_id) WHERE (client_message_id IS NOT NULL);

--
-- Name: realtime_events_room_seq; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX realtime_events_room_seq ON public.realtime_events USING btree (room_name, seq) WHERE (room_name IS NOT NULL);

--
-- Name: realtime_events_seq; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX realtime_events_seq ON public.realtime_events USING btree (seq);

--
-- Name: realtime_presence_custom_expiry; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX realtime_presence_custom_expiry ON public.realtime_presence USING btree (((custom_status ->> 'expiresAt'::text))) WHERE (custom_status ? 'expiresAt'::text);

--
-- Name: realtime_presence_offline_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX realtime_presence_offline_at ON public.realtime_presence USING btree (offline_at) WHERE (offline_at IS NOT NULL);

--
-- Name: realtime_room_members_active; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX realtime_room_members_active ON public.realtime_room_members USING btree (room_id, user_id) WHERE (left_at IS NULL);

--
-- Name: realtime_room_members_active_user; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX realtime_room_members_active_user ON public.realtime_room_members USING btree (user_id) WHERE (left_at IS NULL);

--
-- Name: realtime_typing_expires; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX realtime_typing_expires ON public.realtime_typing USING btree (expires_at);

--
-- Name: realtime_typing_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX realtime_typing_key ON public.realtime_typing USING btree (room_name, COALESCE(thread_id, ''::character varying), user_id);

--
-- Name: realtime_typing_socket; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX realtime_typing_socket ON public.realtime_typing USING btree (socket_id) WHERE (socket_id IS NOT NULL);

--
-- Name: realtime_node_stats _RETURN; Type: RULE; Schema: public; Owner: -
--

CREATE OR REPLACE VIEW public.realtime_node_stats AS
 SELECT n.id AS node_id,
    n.hostname,
    n.pid,
    n.started_at,
    n.last_heartbeat,
    n.stopped_at,
    count(c.id) AS connection_count,
    ((EXTRACT(epoch FROM public.realtime_node_stale_after(n.*)) * (1000)::numeric))::bigint AS stale_after_ms,
    public.realtime_node_alive(n.*) AS alive,
    public.realtime_node_state(n.*) AS state
   FROM (public.realtime_nodes n
     LEFT JOIN public.realtime_connections c ON (((c.node_id = n.id) AND (c.disconnected_at IS NULL))))
  GROUP BY n.id
  ORDER BY n.id;

--
-- Name: realtime_room_members realtime_room_members_room_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.realtime_room_members
    ADD CONSTRAINT realtime_room_members_room_id_fkey FOREIGN KEY (room_id) REFERENCES public.realtime_rooms(id) ON DELETE CASCADE;

--
-- PostgreSQL database dump complete
--
