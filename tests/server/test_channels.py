"""Process channels through pycolonies 1.0.25: append/read by the submitter and the assigned
executor, the websocket subscription (history, then live entries, then "[]" on timeout), and
the end of a channel with its process."""

import threading
import time

import pytest
from pycolonies import ColoniesConnectionError, ColoniesError, func_spec

from hpcq.colonyos.signing import id_from_prvkey


def chan_process(c, up, e):
    s = func_spec("stream", [], "dev", "t")
    s.channels = ["out"]
    p = c.submit_func_spec(s, up)
    assert c.assign("dev", 5, e).processid == p.processid
    return p


def test_append_read_between_submitter_and_executor(srv):
    c, up, e = srv.client(), srv.user_prvkey, srv.e1
    p = chan_process(c, up, e)
    c.channel_append(p.processid, "out", 1, "hello", e)
    c.channel_append(p.processid, "out", 2, b"\x00\xffbin", e, payload_type="data")
    c.channel_append(p.processid, "out", 1, "reply", up, in_reply_to=2)
    entries = c.channel_read(p.processid, "out", 0, 0, up)
    assert [x["payload"] for x in entries] == [b"hello", b"\x00\xffbin", b"reply"]
    assert [x["senderid"] for x in entries] == [id_from_prvkey(e)] * 2 + [id_from_prvkey(up)]
    assert entries[2]["inreplyto"] == 2 and "inreplyto" not in entries[0] and entries[0]["type"] == "data"
    assert [x["payload"] for x in c.channel_read(p.processid, "out", 1, 1, e)] == [b"\x00\xffbin"]  # index, limit
    assert c.channel_read(p.processid, "out", 3, 0, e) == []
    with pytest.raises(ColoniesConnectionError, match="Channel not found"):
        c.channel_read(p.processid, "undeclared", 0, 0, up)
    other = srv.add_executor("e2", "t")  # a member, but neither submitter nor assignee
    with pytest.raises(ColoniesConnectionError, match="Not authorized"):
        c.channel_append(p.processid, "out", 9, "x", other)
    c.close(p.processid, [], e)
    with pytest.raises(ColoniesConnectionError, match="Channel not found"):  # ends with the process
        c.channel_read(p.processid, "out", 0, 0, up)


def test_subscribe_channel_streams_history_then_live_entries(srv):
    c, up, e = srv.client(), srv.user_prvkey, srv.e1
    p = chan_process(c, up, e)
    c.channel_append(p.processid, "out", 1, "early", e)

    def later():
        time.sleep(0.5)
        c.channel_append(p.processid, "out", 2, "live", e)
        c.channel_append(p.processid, "out", 3, "", e, payload_type="end")

    threading.Thread(target=later, daemon=True).start()
    seen = []

    def cb(entries):
        seen.extend(entries)
        return not any(x.get("type") == "end" for x in entries)

    t0 = time.monotonic()
    c.subscribe_channel(p.processid, "out", up, timeout=10, callback=cb)
    assert [x["payload"] for x in seen[:2]] == [b"early", b"live"] and seen[-1]["type"] == "end"
    assert time.monotonic() - t0 < 5  # pushed, not at the timeout
    # no callback: everything after the index until the timeout, which ends with "[]"
    got = c.subscribe_channel(p.processid, "out", up, after_seq=1, timeout=1)
    assert [x["payload"] for x in got][0] == b"live" and [x["type"] for x in got] == ["data", "end"]
    with pytest.raises(ColoniesError, match="Channel not found"):
        c.subscribe_channel(p.processid, "nope", up, timeout=1)
