"""Cancellation as colonies v1.9.12: CANCELLED state, cancelprocessmsg, cancelprocessgraphmsg
(the cascade over a workflow), and the capability probe hpcq's client uses."""

import pytest
from model import Workflow
from pycolonies import ColoniesConnectionError, func_spec

from hpcq.client import cancel
from hpcq.colonyos import UNKNOWN_TYPE
from hpcq.colonyos import ProcessState as S
from hpcq.colonyos import client as hpcq_client


def _client(srv):
    """hpcq's client: pycolonies' own plus the cancel messages (hpcq.colonyos.rpc)."""
    return hpcq_client(srv.handle.host, srv.handle.port)


def node(name, deps=()):
    s = func_spec(name, [], "dev", "t")
    s.nodename = name
    s.conditions.dependencies = list(deps)
    return s


def test_cancel_waiting_and_running_process(srv):
    c, up, e = _client(srv), srv.user_prvkey, srv.e1
    assert cancel.supports_cancel(c, up)
    waiting = c.submit_func_spec(func_spec("f", [], "dev", "t"), up)
    running = c.submit_func_spec(func_spec("g", [], "dev", "t"), up)
    assert c.assign("dev", 5, e).processid == waiting.processid
    c.cancel_process(running.processid, up)  # the one still waiting
    c.cancel_process(waiting.processid, up)  # now running on e1
    for pid in (waiting.processid, running.processid):
        p = c.get_process(pid, up)
        assert p.state == S.CANCELLED and p.endtime.year > 2000
    with pytest.raises(ColoniesConnectionError, match="No process available"):
        c.assign("dev", -1, e)  # a cancelled process is never assigned
    with pytest.raises(ColoniesConnectionError, match="cancelled state"):
        c.close(waiting.processid, ["late"], e)  # the executor's close is refused
    with pytest.raises(ColoniesConnectionError, match="already cancelled"):
        c.fail(waiting.processid, ["late"], e)
    with pytest.raises(ColoniesConnectionError, match="cancelled"):
        c.cancel_process(waiting.processid, up)
    assert [p["processid"] for p in c.list_processes("dev", 10, S.CANCELLED, up)] == [
        waiting.processid,
        running.processid,
    ]  # newest endtime first
    c.remove_process(running.processid, up)  # cancelled processes can be removed


def test_cancel_refuses_workflow_member_and_outsiders(srv):
    c, up = _client(srv), srv.user_prvkey
    g = c.submit_workflow(Workflow(colonyname="dev", functionspecs=[node("a")]), up)
    with pytest.raises(ColoniesConnectionError, match="cancel the entire workflow"):
        c.cancel_process(g.processids[0], up)
    from hpcq.colonyos.signing import new_prvkey

    with pytest.raises(ColoniesConnectionError, match="not member"):
        c.cancel_processgraph(g.processgraphid, new_prvkey())


def test_cancel_workflow_cascades(srv):
    c, up, e = _client(srv), srv.user_prvkey, srv.e1
    g = c.submit_workflow(
        Workflow(
            colonyname="dev", functionspecs=[node("a"), node("b", ["a"]), node("c", ["a"]), node("d", ["b", "c"])]
        ),
        up,
    )
    a = c.assign("dev", 5, e)
    c.close(a.processid, ["a"], e)
    b = c.assign("dev", 5, e)  # b runs, c waits, d waits for its parents
    c.cancel_processgraph(g.processgraphid, up)
    states = {c.get_process(pid, up).spec.nodename: c.get_process(pid, up).state for pid in g.processids}
    assert states == {"a": S.SUCCESS, "b": S.CANCELLED, "c": S.CANCELLED, "d": S.CANCELLED}
    graph = c.get_processgraph(g.processgraphid, up)
    assert graph.state == S.CANCELLED and graph.endtime.year > 2000
    with pytest.raises(ColoniesConnectionError, match="No process available"):
        c.assign("dev", -1, e)
    with pytest.raises(ColoniesConnectionError):
        c.close(b.processid, ["late"], e)
    assert c.get_processgraph(g.processgraphid, up).state == S.CANCELLED  # nothing reopens it
    assert [x["processgraphid"] for x in c.get_processgraphs("dev", 10, up, state=S.CANCELLED)] == [g.processgraphid]
    c.cancel_processgraph(g.processgraphid, up)  # again: accepted, as colonies v1.9.12 does
    assert c.get_processgraph(g.processgraphid, up).state == S.CANCELLED
    c.remove_processgraph(g.processgraphid, up)


def test_probe_detects_a_server_without_cancel(srv, monkeypatch):
    """A v1.9.7 server refuses the unknown payload type: the probe reads that as unsupported."""
    from hpcq.server import handlers

    c, up = _client(srv), srv.user_prvkey
    cancel._supported.clear()
    assert cancel.supports_cancel(c, up) is True
    cancel._supported.clear()

    def v197(processid, prvkey):  # the reply a v1.9.7 server gives, through pycolonies
        raise ColoniesConnectionError(f"{UNKNOWN_TYPE}: cancelprocessmsg")

    monkeypatch.setattr(c, "cancel_process", v197)
    assert cancel.supports_cancel(c, up) is False
    cancel._supported.clear()
    assert "cancelprocessmsg" in handlers.HANDLERS
