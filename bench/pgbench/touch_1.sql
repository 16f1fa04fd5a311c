-- Heartbeat touch of one connection (each pgbench client its own range of sockets).
\set s (:client_id % 8) * 1250 + random(0, 1249)
select realtime_touch_connections(array['bs' || :s]);
