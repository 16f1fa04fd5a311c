-- A connected user changes status (online/away/busy): upsert + NOTIFY when it changed.
\set u random(0, 9999)
\set s random(1, 3)
select realtime_set_presence('u' || :u, (array['online', 'away', 'busy'])[:s], null);
