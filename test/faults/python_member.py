"""A python-socketio member for the fault-injection suite (test/helpers/history.ts, PythonMember).

Usage: python_member.py URL TOKEN ROOM[,ROOM...]

Connects over websocket with reconnection=True (the library's defaults otherwise), joins the rooms with since=0
(to learn the newest id), and after every reconnect re-joins each room with since = the last id it
saw, applying the replay. Prints one JSON line per event:
  {"ev": "authenticated", "rooms": [...]}, {"ev": "joined", "room", "latestId"}, {"ev": "ready"},
  {"ev": "message", "id", "room", "content", "live": bool}, {"ev": "disconnect"}, {"ev": "rejoined"},
  {"ev": "gap", "room"}, {"ev": "presence", "userId", "status"}, {"ev": "error", "message"}
Runs until it is terminated.
"""
import json
import sys
import threading
import time

import socketio


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    url, token, rooms_arg = sys.argv[1:4]
    rooms = [r for r in rooms_arg.split(",") if r]
    sio = socketio.Client(reconnection=True)
    # Per room, the id up to which every message was received: live messages advance it only while
    # the room is in sync (the server puts the socket back in its rooms before the re-join's replay
    # fills the gap), replays advance it too.
    last_seen = {}
    in_sync = set()
    lock = threading.Lock()
    state = {"first": True, "epoch": 0}

    def record(msg_id, room, content, live):
        with lock:
            if (not live or room in in_sync) and msg_id > last_seen.get(room, 0):
                last_seen[room] = msg_id
        out({"ev": "message", "id": msg_id, "room": room, "content": content, "live": live})

    def join_all(initial, epoch):
        for room in rooms:
            while True:
                if epoch != state["epoch"]:
                    return
                with lock:
                    since = last_seen.get(room, 0)
                try:
                    ack = sio.call("room:join", {"roomName": room, "since": since}, timeout=5)
                except Exception as err:  # noqa: BLE001 - a timeout or a lost connection: try again
                    ack = {"ok": False, "error": {"code": "TIMEOUT", "message": repr(err)}}
                if ack and ack.get("ok"):
                    replay = (ack.get("data") or {}).get("replay") or {}
                    if initial:
                        latest = replay.get("latestId") or 0
                        with lock:
                            last_seen[room] = max(last_seen.get(room, 0), latest)
                        out({"ev": "joined", "room": room, "latestId": latest})
                    else:
                        if replay.get("gap"):
                            out({"ev": "gap", "room": room})
                        for e in replay.get("events") or []:
                            record(e["id"], room, e.get("content"), False)
                    with lock:
                        in_sync.add(room)
                    break
                out({"ev": "join-refused", "room": room, "error": ack.get("error") if ack else None})
                time.sleep(0.5)
        out({"ev": "ready" if initial else "rejoined"})

    @sio.on("authenticated")
    def on_authenticated(data):
        out({"ev": "authenticated", "rooms": data.get("rooms")})
        initial = state["first"]
        state["first"] = False
        state["epoch"] += 1
        # Calls must not run on the thread that delivers events (it also delivers their answers).
        sio.start_background_task(join_all, initial, state["epoch"])

    @sio.on("message:new")
    def on_message(data):
        record(data["id"], data["roomName"], data.get("content"), True)

    @sio.on("presence:changed")
    def on_presence(data):
        out({"ev": "presence", "userId": data.get("userId"), "status": data.get("status")})

    # Several changes of a room in one server tick arrive together, in order.
    @sio.on("presence:diff")
    def on_presence_diff(data):
        for change in data.get("changes") or []:
            on_presence(change)

    @sio.event
    def disconnect():
        state["epoch"] += 1
        with lock:
            in_sync.clear()
        out({"ev": "disconnect"})

    try:
        sio.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
    except Exception as err:  # noqa: BLE001
        out({"ev": "error", "message": repr(err)})
        sys.exit(1)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
