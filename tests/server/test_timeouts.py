"""The 1 s timeout sweep: maxexectime re-queues with retries+1 then fails after maxretries;
maxwaittime fails waiting processes; stale executors are removed."""

import pytest
from model import Workflow
from pycolonies import ColoniesConnectionError, func_spec

from hpcq.colonyos import ProcessState as S
from hpcq.testing import wait_for as _wait_for


def wait_for(fn, timeout=10.0):
    return _wait_for(fn, timeout, poll=0.1)


def test_maxexectime_requeues_then_fails_after_maxretries(srv):
    c, up, e = srv.client(), srv.user_prvkey, srv.e1
    p = c.submit_func_spec(func_spec("slow", [], "dev", "t", maxexectime=1, maxretries=1), up)
    first = c.assign("dev", 5, e)
    assert first.execdeadline > first.starttime
    # expiry: back to WAITING, unassigned, retries 1
    again = c.assign("dev", 10, e)  # long-poll is woken by the re-queue
    assert again.processid == p.processid and again.retries == 1
    # let the second run expire too: retries (1) >= maxretries (1) -> FAILED
    done = wait_for(lambda: (q := c.get_process(p.processid, up)).state == S.FAILED and q, timeout=8)
    assert done.errors == ["Maximum execution time limit exceeded"] and done.retries == 1
    with pytest.raises(ColoniesConnectionError, match="failed state"):
        c.close(p.processid, ["late"], e)


def test_expired_executor_cannot_close_after_requeue(srv):
    c, up, e = srv.client(), srv.user_prvkey, srv.e1
    p = c.submit_func_spec(func_spec("slow", [], "dev", "t", maxexectime=1, maxretries=-1), up)
    c.assign("dev", 5, e)
    q = wait_for(lambda: (x := c.get_process(p.processid, up)).state == S.WAITING and x, timeout=6)
    assert q.retries == 1 and not q.isassigned and q.assignedexecutorid == ""
    with pytest.raises(ColoniesConnectionError, match="not assigned"):
        c.close(p.processid, ["stale"], e)


def test_maxexectime_zero_fails_at_once(srv):
    c, up, e = srv.client(), srv.user_prvkey, srv.e1
    # pycolonies' model defaults (maxexectime=0, maxretries=0): FAILED about 1 s after assign
    p = c.submit_func_spec(func_spec("f", [], "dev", "t", maxexectime=0, maxretries=0), up)
    c.assign("dev", 5, e)
    q = wait_for(lambda: (x := c.get_process(p.processid, up)).state == S.FAILED and x, timeout=5)
    assert q.errors == ["Maximum execution time limit exceeded"]


def test_maxwaittime_fails_waiting_processes_and_graph_children(srv):
    c, up = srv.client(), srv.user_prvkey
    p = c.submit_func_spec(func_spec("f", [], "dev", "nobody", maxwaittime=1), up)
    assert p.waitdeadline > p.submissiontime
    forever = c.submit_func_spec(func_spec("g", [], "dev", "nobody", maxwaittime=-1), up)
    q = wait_for(lambda: (x := c.get_process(p.processid, up)).state == S.FAILED and x, timeout=6)
    assert q.errors == ["Maximum waiting time limit exceeded"]
    assert c.get_process(forever.processid, up).state == S.WAITING
    # a workflow child waiting for its parent counts from submission too
    a = func_spec("a", [], "dev", "nobody")
    b = func_spec("b", [], "dev", "nobody", maxwaittime=1)
    b.conditions.dependencies = ["a"]
    g = c.submit_workflow(Workflow(colonyname="dev", functionspecs=[a, b]), up)
    wait_for(lambda: c.get_processgraph(g.processgraphid, up).state == S.FAILED, timeout=6)


def test_stale_executors_are_removed(colonies_server_factory):
    s = colonies_server_factory(["--stale-executor-s", "1", "--cleanup-interval-s", "0.5"])
    c = s.client()
    ek = s.add_executor("old", "t")
    never = s.add_executor("never-polled", "t")
    p = c.submit_func_spec(func_spec("f", [], "dev", "t", maxexectime=-1), s.user_prvkey)
    assert c.assign("dev", 1, ek).processid == p.processid  # heard from once, then silent while running p
    wait_for(lambda: [x["executorname"] for x in c.list_executors("dev", never)] == ["never-polled"], timeout=6)
    with pytest.raises(ColoniesConnectionError, match="Access denied"):
        c.assign("dev", -1, ek)
    # as colonies v1.9.12 RemoveExecutorByName: the stale executor's running process is back in the queue
    q = c.get_process(p.processid, s.user_prvkey)
    assert (q.state, q.isassigned, q.assignedexecutorid, q.retries) == (S.WAITING, False, "", 0)
    assert c.assign("dev", 1, never).processid == p.processid
