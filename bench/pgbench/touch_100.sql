-- Heartbeat touch of a batch of 100 connections (each pgbench client its own range of sockets).
\set s (:client_id % 8) * 1250 + random(0, 1150)
select realtime_touch_connections(array(select 'bs' || g from generate_series(:s, :s + 99) g));
