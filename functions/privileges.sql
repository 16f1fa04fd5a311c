-- Privileges. The relay can run as a least-privilege role: it may execute Realtime's functions and
-- read its tables and views, but never write a table directly. Every function that writes is
-- `security definer` (it runs as the schema owner, the role that ran the migrations) and pins
-- `search_path = pg_catalog, public, pg_temp`, so a caller's temporary or look-alike objects cannot
-- stand in for Realtime's (pg_temp last: a temp table named realtime_rooms is never consulted).
-- Helpers those functions call (realtime_notify, realtime_close_connections, ...) stay security
-- invoker: inside a definer function they run as the owner, and called directly by the relay role
-- they can write nothing.
--
-- Roles are cluster-wide and creating them needs CREATEROLE, so migrations never create one:
-- `realtime init` creates the NOLOGIN group role realtime_relay (and, when asked, a login role
-- that is a member of it) when its user may, and then calls realtime_apply_privileges(). Without
-- that right the relay connects as the owner, as before.

-- Revokes EXECUTE on every Realtime function from PUBLIC, and gives p_relay_role (when it exists)
-- EXECUTE on them (but realtime_apply_privileges and realtime_set_limits), SELECT on the tables and
-- views, and no write privilege on any table. Idempotent: every migration that adds functions or
-- tables ends by calling it, and `realtime init` calls it after creating the role. Returns whether
-- the role existed.
create or replace function realtime_apply_privileges(p_relay_role name default 'realtime_relay')
returns boolean
language plpgsql
volatile
set search_path = pg_catalog, public, pg_temp
as $$
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
comment on function realtime_apply_privileges(name) is
  'Revokes EXECUTE on Realtime functions from PUBLIC and grants the relay role (when it exists) EXECUTE on them (but realtime_apply_privileges and realtime_set_limits) and SELECT on the tables and views, never a write privilege; returns whether the role exists.';
