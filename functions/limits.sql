-- Limits on what is stored, kept in one place: the singleton table realtime_limits (created by a
-- migration; one row, id = true). The SQL rules read it (realtime_message_refusal,
-- realtime_check_custom_status), so a relay, the CLI and a psql session get the same answer; the
-- relay reads realtime_limits() to refuse early with the same numbers. Only the schema owner (or
-- whoever it grants realtime_set_limits to) changes them: `realtime limits set KEY VALUE`.

-- The statuses a user may choose; the same list as realtime_presence's CHECK constraint.
create or replace function realtime_presence_statuses()
returns text[]
language sql
immutable
as $$
  select array['online', 'away', 'busy', 'offline']::text[];
$$;
comment on function realtime_presence_statuses() is 'The presence statuses a user may choose: online, away, busy, offline.';

-- The keys a custom status may have.
create or replace function realtime_custom_status_keys()
returns text[]
language sql
immutable
as $$
  select array['text', 'emoji', 'expiresAt']::text[];
$$;
comment on function realtime_custom_status_keys() is 'The keys a custom status may have: text, emoji, expiresAt.';

-- The limits as JSON, with the fixed lists the relay validates against. PL/pgSQL keeps its plan for
-- the session; as a SQL function it was planned again on every call from PL/pgSQL (about 0.1 ms
-- of backend CPU, paid by every send).
create or replace function realtime_limits()
returns jsonb
language plpgsql
stable
as $$
begin
  return (
    select jsonb_build_object(
      'maxMessageLength', coalesce(l.max_message_length, 10000),
      'maxMessageMetadataBytes', coalesce(l.max_message_metadata_bytes, 8192),
      'maxCustomStatusText', coalesce(l.max_custom_status_text, 128),
      'maxCustomStatusEmoji', coalesce(l.max_custom_status_emoji, 32),
      'statuses', to_jsonb(realtime_presence_statuses()),
      'customStatusKeys', to_jsonb(realtime_custom_status_keys()),
      'updatedAt', l.updated_at)
    from (select 1) one
    left join realtime_limits l on l.id
  );
end;
$$;
comment on function realtime_limits() is
  'The limits every caller is held to: {maxMessageLength, maxMessageMetadataBytes, maxCustomStatusText, maxCustomStatusEmoji, statuses, customStatusKeys, updatedAt}.';

-- Changes some limits: p_limits is an object of the keys to change (the realtime_limits() names),
-- each an integer in its range; anything else is refused with RT400 and nothing changes. Returns
-- realtime_limits(). Not granted to the relay role: the relay may read the limits, not move them.
create or replace function realtime_set_limits(p_limits jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_key text;
  v_value jsonb;
  v_ranges constant jsonb := jsonb_build_object(
    'maxMessageLength', jsonb_build_array(1, 100000),
    'maxMessageMetadataBytes', jsonb_build_array(2, 65536),
    'maxCustomStatusText', jsonb_build_array(0, 1024),
    'maxCustomStatusEmoji', jsonb_build_array(0, 256));
begin
  if p_limits is null or jsonb_typeof(p_limits) <> 'object' then
    raise exception 'limits must be a JSON object' using errcode = 'RT400';
  end if;
  for v_key, v_value in select * from jsonb_each(p_limits) loop
    if not v_ranges ? v_key then
      raise exception 'unknown limit % (known: %)', v_key,
        (select string_agg(k, ', ' order by k) from jsonb_object_keys(v_ranges) k) using errcode = 'RT400';
    end if;
    if jsonb_typeof(v_value) <> 'number' or v_value::text !~ '^[0-9]+$'
       or v_value::numeric not between (v_ranges -> v_key ->> 0)::int and (v_ranges -> v_key ->> 1)::int then
      raise exception '% must be an integer from % to % (got %)', v_key,
        v_ranges -> v_key ->> 0, v_ranges -> v_key ->> 1, v_value using errcode = 'RT400';
    end if;
  end loop;
  insert into realtime_limits (id) values (true) on conflict (id) do nothing;
  update realtime_limits set
    max_message_length = coalesce((p_limits ->> 'maxMessageLength')::int, max_message_length),
    max_message_metadata_bytes = coalesce((p_limits ->> 'maxMessageMetadataBytes')::int, max_message_metadata_bytes),
    max_custom_status_text = coalesce((p_limits ->> 'maxCustomStatusText')::int, max_custom_status_text),
    max_custom_status_emoji = coalesce((p_limits ->> 'maxCustomStatusEmoji')::int, max_custom_status_emoji),
    updated_at = now()
  where id;
  return realtime_limits();
end;
$$;
comment on function realtime_set_limits(jsonb) is
  'Changes limits ({maxMessageLength, maxMessageMetadataBytes, maxCustomStatusText, maxCustomStatusEmoji}, integers in range; RT400 otherwise); returns realtime_limits(). Not granted to the relay role.';
