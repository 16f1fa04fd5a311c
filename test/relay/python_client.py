"""A python-socketio client of the relay, driven by test/relay/python.test.ts.

Usage: python_client.py URL TOKEN ROOM PEER_USER_ID

Connects over websocket with auth={"token": TOKEN}, joins ROOM, sends a message, then waits for a
message:new from PEER_USER_ID. Every step is printed as one JSON line on stdout:
  {"step": "connected", ...}, {"step": "authenticated", ...}, {"step": "joined", "ack": ...},
  {"step": "sent", "ack": ...}, {"step": "ready"}, {"step": "received", "message": ...}, {"step": "done"}
On failure: {"step": "error", "message": ...} and exit code 1.
"""
import json
import sys
import threading

import socketio

try:  # python-socketio's websocket transport needs websocket-client (Debian: python3-websocket)
    import websocket  # noqa: F401
except ImportError:
    sys.stdout.write(json.dumps({"step": "error", "message": "websocket-client is not installed (apt-get install python3-websocket)"}) + "\n")
    sys.exit(1)


def emit_line(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    url, token, room, peer = sys.argv[1:5]
    sio = socketio.Client(reconnection=False)
    authenticated = threading.Event()
    received = threading.Event()

    @sio.on("connected")
    def on_connected(data):
        emit_line({"step": "connected", "data": data})

    @sio.on("authenticated")
    def on_authenticated(data):
        emit_line({"step": "authenticated", "data": data})
        authenticated.set()

    @sio.on("message:new")
    def on_message(data):
        if data.get("roomName") == room and data.get("userId") == peer:
            emit_line({"step": "received", "message": data})
            received.set()

    @sio.on("error")
    def on_error(data):
        emit_line({"step": "server-error", "data": data})

    try:
        sio.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
        if not authenticated.wait(10):
            raise RuntimeError("no authenticated event")
        joined = sio.call("room:join", {"roomName": room}, timeout=10)
        emit_line({"step": "joined", "ack": joined})
        sent = sio.call("message:send", {"roomName": room, "content": "hello from python ✓"}, timeout=10)
        emit_line({"step": "sent", "ack": sent})
        emit_line({"step": "ready"})
        if not received.wait(15):
            raise RuntimeError("no message:new from " + peer)
        sio.disconnect()
        emit_line({"step": "done"})
    except Exception as err:  # noqa: BLE001 - report anything as one line
        emit_line({"step": "error", "message": repr(err)})
        try:
            sio.disconnect()
        except Exception:  # noqa: BLE001
            pass
        sys.exit(1)


if __name__ == "__main__":
    main()
