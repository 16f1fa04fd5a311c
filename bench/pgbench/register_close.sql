-- A socket connects and disconnects: realtime_register_connection then realtime_close_connection
-- (5 s grace, as the relay calls it). Users u0..u9999, each a member of 2 rooms.
\set u random(0, 9999)
\set n random(1, 2000000000)
select realtime_register_connection('pb-' || :client_id || '-' || :n, 'u' || :u, 'pgbench', null, '{}', false);
select realtime_close_connection('pb-' || :client_id || '-' || :n, now(), interval '5 seconds');
