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
