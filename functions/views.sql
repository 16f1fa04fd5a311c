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
  count(c.id) as connection_count
from realtime_nodes n
left join realtime_connections c on c.node_id = n.id and c.disconnected_at is null
group by n.id
order by n.id;
comment on view realtime_node_stats is 'Relay nodes with their open connection counts.';
