-- Typing that changes the set of typers each time: start (insert + NOTIFY) then stop (delete +
-- NOTIFY), in a room the user is a member of.
\set u random(0, 9999)
\set r :u % 100
select realtime_start_typing('b' || :r, 'u' || :u, null, null, interval '3 seconds');
select realtime_stop_typing('b' || :r, 'u' || :u, null);
