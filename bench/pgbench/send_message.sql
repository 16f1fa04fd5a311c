-- A message stored as the relay stores a batch of one: realtime_send_messages with one message,
-- committed with synchronous_commit = on (set_config local to the transaction, in the same
-- statement, as the relay does in a session whose default is off). Users u0..u9999, each a member
-- of room a<u/100>.
\set u random(0, 9999)
\set r :u / 100
select realtime_send_messages(jsonb_build_array(jsonb_build_object('roomName', 'a' || :r, 'userId', 'u' || :u, 'content', 'pgbench message'))), set_config('synchronous_commit', 'on', true);
