"""pycolonies' wait() over the /pubsub WebSocket, and the framing pycolonies never exercises
(ping/pong, fragmented messages, the close handshake) through a raw wsproto client."""

import base64
import json
import socket
import threading
import time

import pytest
from pycolonies import func_spec
from websocket import WebSocketConnectionClosedException
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, CloseConnection, Ping, Pong, Request, TextMessage

from hpcq.colonyos import ProcessState as S

from .conftest import sign


def test_wait_returns_when_the_process_succeeds(srv):
    c, up = srv.client(), srv.user_prvkey
    p = c.submit_func_spec(func_spec("f", [], "dev", "t"), up)

    def executor():
        time.sleep(0.5)
        a = c.assign("dev", 5, srv.e1)
        c.close(a.processid, ["done"], srv.e1)

    th = threading.Thread(target=executor)
    th.start()
    t = time.monotonic()
    done = c.wait(p, 10, up)
    th.join()
    assert done.state == S.SUCCESS and done.output == ["done"] and 0.3 < time.monotonic() - t < 5
    assert c.wait(p, 10, up).state == S.SUCCESS  # already there: answered at once


def test_wait_times_out_by_closing_the_socket(srv):
    c, up = srv.client(), srv.user_prvkey
    p = c.submit_func_spec(func_spec("f", [], "dev", "nobody"), up)
    t = time.monotonic()
    with pytest.raises(WebSocketConnectionClosedException):
        c.wait(p, 1, up)
    assert 0.9 < time.monotonic() - t < 4


def test_wait_refuses_strangers(srv):
    from hpcq.colonyos.signing import new_prvkey

    c, up = srv.client(), srv.user_prvkey
    p = c.submit_func_spec(func_spec("f", [], "dev", "t"), up)
    # the error comes back as one frame; wait() then fails on get_process with the same key
    with pytest.raises(Exception, match="Access denied"):
        c.wait(p, 1, new_prvkey())


# --- the framing, through a raw client -----------------------------------------------------------
class RawWebSocket:
    """A WebSocket client (wsproto) on a plain socket: sends any frame, returns the events it gets."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(self.ws.send(Request(host="127.0.0.1", target="/pubsub")))
        assert isinstance(self.next_event(), AcceptConnection)  # Sec-WebSocket-Accept checked by wsproto

    def send(self, *events) -> None:
        self.sock.sendall(b"".join(self.ws.send(e) for e in events))

    def next_event(self):
        """The next event from the server; None at EOF."""
        while True:
            for event in self.ws.events():
                return event
            data = self.sock.recv(65536)
            if not data:
                return None
            self.ws.receive_data(data)


def _subscription(srv, pid: str, state: int) -> str:
    """A signed subscribeprocessmsg envelope (what pycolonies' wait() sends), as text."""
    msg = {"processid": pid, "executortype": "t", "state": state, "timeout": 5, "colonyname": "dev"}
    msg["msgtype"] = "subscribeprocessmsg"
    payload = base64.b64encode(json.dumps(msg).encode()).decode()
    env = {"payloadtype": "subscribeprocessmsg", "payload": payload, "signature": sign(payload, srv.user_prvkey)}
    return json.dumps(env)


def _payload(event) -> dict:
    assert isinstance(event, TextMessage) and event.message_finished
    return json.loads(base64.b64decode(json.loads(event.data)["payload"]))


def test_ping_fragments_and_the_close_handshake(srv):
    p = srv.client().submit_func_spec(func_spec("f", [], "dev", "t"), srv.user_prvkey)
    ws = RawWebSocket(srv.port)
    ws.send(Ping(b"before"))
    assert ws.next_event() == Pong(b"before")
    text = _subscription(srv, p.processid, S.WAITING)  # already WAITING: answered at once
    third = len(text) // 3
    # the envelope in three frames, a ping between two of them (control frames may interleave)
    ws.send(TextMessage(text[:third], message_finished=False), Ping(b"between"))
    ws.send(TextMessage(text[third : 2 * third], message_finished=False), TextMessage(text[2 * third :]))
    assert ws.next_event() == Pong(b"between")
    assert _payload(ws.next_event())["processid"] == p.processid
    close = ws.next_event()  # the server starts the close handshake ...
    assert isinstance(close, CloseConnection) and close.code == 1000
    ws.send(close.response())  # ... waits for ours, then closes the TCP connection
    assert ws.next_event() is None


def test_client_close_is_answered(srv):
    ws = RawWebSocket(srv.port)
    ws.send(CloseConnection(code=1001, reason="going away"))
    reply = ws.next_event()
    assert isinstance(reply, CloseConnection) and reply.code == 1001
    assert ws.next_event() is None


def test_binary_message_is_refused_in_the_error_shape(srv):
    ws = RawWebSocket(srv.port)
    ws.send(BytesMessage(b"{}"))
    error = _payload(ws.next_event())
    assert error["status"] == 400 and "text frame" in error["message"]
    assert isinstance(ws.next_event(), CloseConnection)
