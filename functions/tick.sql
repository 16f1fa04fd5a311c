-- The frequent sweep every relay runs (about four times a second): typing expiry, users whose grace
-- period ended going offline, and custom statuses past their expiresAt. Each part is guarded by an
-- advisory lock, so any number of relays may call it.

create or replace function realtime_settle_presence(p_now timestamptz default now())
returns integer
language plpgsql
volatile
as $$
declare
  v_user text;
  v_count integer := 0;
  v_row realtime_presence;
begin
  if not pg_try_advisory_xact_lock(hashtext('realtime.settle_presence')) then
    return 0;
  end if;
  for v_user in select user_id from realtime_presence where offline_at <= p_now loop
    if exists (select 1 from realtime_connections where user_id = v_user and disconnected_at is null) then
      update realtime_presence set offline_at = null where user_id = v_user;
    else
      -- last_seen was set to the disconnect time when the grace period began.
      update realtime_presence set status = 'offline', offline_at = null, updated_at = p_now
      where user_id = v_user and status <> 'offline'
      returning * into v_row;
      if found then
        perform realtime_notify_presence(v_row, p_now);
        v_count := v_count + 1;
      else
        update realtime_presence set offline_at = null where user_id = v_user;
      end if;
    end if;
  end loop;

  for v_row in
    update realtime_presence set custom_status = null, updated_at = p_now
    where custom_status ? 'expiresAt' and (custom_status ->> 'expiresAt')::timestamptz <= p_now
    returning *
  loop
    perform realtime_notify_presence(v_row, p_now);
  end loop;
  return v_count;
end;
$$;
comment on function realtime_settle_presence(timestamptz) is
  'Takes offline the users whose grace period ended with no connection back, and clears expired custom statuses; returns how many went offline.';

create or replace function realtime_tick(p_now timestamptz default now())
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_typing integer;
  v_offline integer;
begin
  select count(*) into v_typing from realtime_expire_typing(p_now);
  v_offline := realtime_settle_presence(p_now);
  return jsonb_build_object('typingExpired', v_typing, 'wentOffline', v_offline);
end;
$$;
comment on function realtime_tick(timestamptz) is 'Runs the frequent sweeps (typing expiry, presence grace, custom status expiry); safe to call from many relays.';
