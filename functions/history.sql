-- Message history: older messages of a room from the event log, a page at a time (room:history).
-- Who may read is who may join: a public room's history is open to every signed-in user and, when
-- anonymous access is on, to anonymous readers; a private room's and a dm's to its active members.

-- The messages of a room with an id below p_before (all when null), the newest p_limit of them,
-- returned oldest first as message:new shows them: {messages, hasMore}. hasMore is true when older
-- messages remain (page on with p_before = the first message's id). RT404 unknown room, RT403 not
-- allowed, RT400 bad arguments (p_before negative, p_limit outside 1..1000).
create or replace function realtime_room_history(
  p_room_name text,
  p_user_id text,
  p_before bigint default null,
  p_limit integer default 50,
  p_anonymous boolean default false
)
returns jsonb
language plpgsql
stable
as $$
declare
  v_room realtime_rooms := realtime_find_room(p_room_name);
  v_messages jsonb;
  v_oldest bigint;
begin
  if p_before is not null and p_before < 0 then
    raise exception 'before must be a non-negative message id' using errcode = 'RT400';
  end if;
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'limit must be between 1 and 1000' using errcode = 'RT400';
  end if;
  if p_anonymous then
    if v_room.visibility <> 'public' or v_room.type = 'dm' then
      raise exception 'anonymous users may only read public rooms' using errcode = 'RT403';
    end if;
  elsif p_user_id is null then
    raise exception 'a user id is required' using errcode = 'RT400';
  elsif (v_room.visibility <> 'public' or v_room.type = 'dm') and not exists (
    select 1 from realtime_room_members where room_id = v_room.id and user_id = p_user_id and left_at is null
  ) then
    raise exception 'room % is private and you are not a member', p_room_name using errcode = 'RT403';
  end if;

  select coalesce(jsonb_agg(realtime_message_json(e) order by e.seq), '[]'::jsonb), min(e.seq)
    into v_messages, v_oldest
  from (
    select * from realtime_events
    where room_name = v_room.name and type = 'message' and (p_before is null or seq < p_before)
    order by seq desc
    limit p_limit
  ) e;

  return jsonb_build_object(
    'messages', v_messages,
    'hasMore', v_oldest is not null and exists (
      select 1 from realtime_events where room_name = v_room.name and type = 'message' and seq < v_oldest
    )
  );
end;
$$;
comment on function realtime_room_history(text, text, bigint, integer, boolean) is
  'Older messages of a room for a reader allowed to join it: the newest p_limit with an id below p_before, oldest first, as {messages, hasMore}.';
