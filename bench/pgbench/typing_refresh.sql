-- A refresh of a live typing indicator (every user is typing, with a long timeout): one update, no
-- notification.
\set u random(0, 9999)
\set r :u / 100
select realtime_start_typing('a' || :r, 'u' || :u, null, null, interval '1 hour');
