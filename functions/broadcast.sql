-- Broadcast from SQL: a trigger or a DBA pushes an event to a room's (or a user's) sockets. The
-- notification is sent when the caller's transaction commits, and nothing here ever aborts that
-- transaction: a bad argument or a full notification queue becomes a WARNING and a false result.
-- Payloads too large for a notification are stored in realtime_events and the notification
-- carries their seq; the relays read them from there.

create or replace function realtime_send_to(p_target text, p_name text, p_event text, p_payload jsonb)
returns boolean
language plpgsql
volatile
as $$
declare
  v_body jsonb;
  v_seq bigint;
begin
  begin
    if p_name is null or char_length(p_name) not between 1 and 255 then
      raise exception 'a % name of 1 to 255 characters is required', p_target;
    end if;
    if p_event is null or p_event !~ '^[A-Za-z][A-Za-z0-9:._-]{0,63}$' then
      raise exception 'event name must match ^[A-Za-z][A-Za-z0-9:._-]{0,63}$';
    end if;
    if p_event in ('connect', 'connect_error', 'disconnect', 'disconnecting', 'connected', 'authenticated', 'error', 'pong') then
      raise exception 'event name % is reserved by the protocol', p_event;
    end if;
    v_body := jsonb_build_object('target', p_target, 'name', p_name, 'event', p_event, 'payload', coalesce(p_payload, 'null'::jsonb));
    if octet_length(v_body::text) > 7000 then
      insert into realtime_events (type, user_id, room_name, data)
      values ('broadcast', case when p_target = 'user' then p_name end, case when p_target = 'room' then p_name end,
              jsonb_build_object('event', p_event, 'payload', coalesce(p_payload, 'null'::jsonb)))
      returning seq into v_seq;
      v_body := jsonb_build_object('target', p_target, 'name', p_name, 'event', p_event, 'ref', v_seq);
    end if;
    perform realtime_notify('broadcast', v_body);
    return true;
  exception when others then
    raise warning 'realtime broadcast of % to % % not sent: %', p_event, p_target, p_name, sqlerrm;
    return false;
  end;
end;
$$;
comment on function realtime_send_to(text, text, text, jsonb) is 'Shared body of realtime_broadcast and realtime_broadcast_user.';

create or replace function realtime_broadcast(p_room_name text, p_event text, p_payload jsonb default '{}')
returns boolean
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  return (
    select realtime_send_to('room', p_room_name, p_event, p_payload)
  );
end;
$$;
comment on function realtime_broadcast(text, text, jsonb) is
  'Emits event p_event with p_payload to every socket in the room when the transaction commits. Never raises: returns false with a WARNING instead.';

create or replace function realtime_broadcast_user(p_user_id text, p_event text, p_payload jsonb default '{}')
returns boolean
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  return (
    select realtime_send_to('user', p_user_id, p_event, p_payload)
  );
end;
$$;
comment on function realtime_broadcast_user(text, text, jsonb) is
  'Emits event p_event with p_payload to every socket of a user when the transaction commits. Never raises.';
