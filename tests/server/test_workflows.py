"""Workflows: parents' outputs become the child's input; the real server's failure rules."""

import pytest
from model import Workflow
from pycolonies import ColoniesConnectionError, func_spec

from hpcq.colonyos import ProcessState as S

from .conftest import raw_rpc


def node(name, deps=(), etype="t"):
    s = func_spec(name, [], "dev", etype)
    s.nodename = name
    s.conditions.dependencies = list(deps)
    return s


def run(c, e, out, pid=None):
    p = c.assign("dev", 5, e)
    if pid:
        assert p.processid == pid
    c.close(p.processid, out, e)
    return p


def test_two_level_workflow_passes_outputs_to_inputs(srv):
    c, up, e = srv.client(), srv.user_prvkey, srv.e1
    wf = Workflow(
        colonyname="dev", functionspecs=[node("a"), node("b"), node("join", ["b", "a"]), node("last", ["join"])]
    )
    g = c.submit_workflow(wf, up)
    assert g.state == S.WAITING and len(g.rootprocessids) == 2 and len(g.processids) == 4
    assert g.nodes == [] and g.edges == []
    procs = {c.get_process(pid, up).spec.nodename: c.get_process(pid, up) for pid in g.processids}
    assert procs["join"].waitforparents and not procs["a"].waitforparents
    assert set(procs["join"].parents) == {procs["a"].processid, procs["b"].processid}
    assert procs["a"].children == [procs["join"].processid]
    assert procs["a"].spec.maxexectime == -1  # workflow submit rewrites 0 -> -1
    outs = {}
    for _ in range(2):
        p = c.assign("dev", 5, e)
        outs[p.spec.nodename] = [f"{p.spec.nodename}-out", 1.5]
        c.close(p.processid, outs[p.spec.nodename], e)
    assert c.get_processgraph(g.processgraphid, up).state == S.RUNNING
    join = c.assign("dev", 5, e)
    assert join.spec.nodename == "join"
    assert join.input == ["b-out", 1.5, "a-out", 1.5]  # in the order of the dependencies
    c.close(join.processid, ["joined"], e)
    last = c.assign("dev", 5, e)
    assert last.input == ["joined"]
    c.close(last.processid, ["done"], e)
    full = c.get_processgraph(g.processgraphid, up)
    assert full.state == S.SUCCESS and full.endtime.year > 2000 and full.starttime.year > 2000
    assert {n.id for n in full.nodes} == set(g.processids)
    types = {n.data["label"]: n.type for n in full.nodes}
    assert types == {"a": "input", "b": "input", "join": "", "last": "output"}
    assert {(x.source, x.target) for x in full.edges} == {
        (procs["a"].processid, procs["join"].processid),
        (procs["b"].processid, procs["join"].processid),
        (procs["join"].processid, procs["last"].processid),
    }
    assert all(x.id == f"{x.source}-{x.target}" for x in full.edges)
    listed = c.get_processgraphs("dev", 10, up, state=S.SUCCESS)
    assert [x["processgraphid"] for x in listed] == [g.processgraphid]
    assert c.get_processgraphs("dev", 10, up) is None  # no state -> only WAITING graphs


def test_failure_flips_every_process_of_the_graph(srv):
    c, up, e = srv.client(), srv.user_prvkey, srv.e1
    e2 = srv.add_executor("e2", "t")
    g = c.submit_workflow(
        Workflow(
            colonyname="dev",
            functionspecs=[node("root"), node("side"), node("child", ["root"]), node("grandchild", ["child"])],
        ),
        up,
    )
    first = c.assign("dev", 5, e)
    second = c.assign("dev", 5, e2)
    assert {first.spec.nodename, second.spec.nodename} == {"root", "side"}
    root, side = (first, second) if first.spec.nodename == "root" else (second, first)
    eroot = e if root is first else e2
    eside = e2 if root is first else e
    c.fail(root.processid, ["root broke"], eroot)
    states = {c.get_process(pid, up).spec.nodename: c.get_process(pid, up).state for pid in g.processids}
    assert states == {"root": 3, "side": 3, "child": 3, "grandchild": 3}
    # only the state changed: the still-running side process keeps no errors, and its
    # executor's later close is refused, as on the real server
    side_now = c.get_process(side.processid, up)
    assert side_now.errors == [] and side_now.isassigned
    with pytest.raises(ColoniesConnectionError, match="failed state"):
        c.close(side.processid, ["late"], eside)
    assert c.get_process(root.processid, up).errors == ["root broke"]
    assert c.get_processgraph(g.processgraphid, up).state == S.FAILED
    with pytest.raises(ColoniesConnectionError, match="No process available"):
        c.assign("dev", -1, e)


def test_failed_leaf_only_fails_the_graph(srv):
    c, up, e = srv.client(), srv.user_prvkey, srv.e1
    g = c.submit_workflow(Workflow(colonyname="dev", functionspecs=[node("a"), node("leaf", ["a"])]), up)
    a = run(c, e, ["x"])
    leaf = c.assign("dev", 5, e)
    c.fail(leaf.processid, ["nope"], e)
    assert c.get_process(a.processid, up).state == S.SUCCESS
    assert c.get_processgraph(g.processgraphid, up).state == S.FAILED


def test_workflow_validation(srv):
    c, up = srv.client(), srv.user_prvkey
    for specs, match in (
        ([node("a"), node("a")], "duplicate nodename"),
        ([node("a", ["missing"])], "not a nodename"),
        ([node("a", ["b"]), node("b", ["a"])], "cycle"),
        ([], "no functionspecs"),
    ):
        with pytest.raises(ColoniesConnectionError, match=match):
            c.submit_workflow(Workflow(colonyname="dev", functionspecs=specs), up)
    unnamed = func_spec("f", [], "dev", "t")
    unnamed.nodename = ""
    with pytest.raises(ColoniesConnectionError, match="nodename"):
        c.submit_workflow(Workflow(colonyname="dev", functionspecs=[unnamed]), up)
    with pytest.raises(ColoniesConnectionError, match="Access denied"):
        c.submit_workflow(Workflow(colonyname="dev", functionspecs=[node("a")]), srv.colony_prvkey)
    assert c.stats("dev", up)["waitingprocesses"] == 0  # nothing half-created


def test_graph_removal_rules_and_quirks(srv):
    c, up, e = srv.client(), srv.user_prvkey, srv.e1
    g = c.submit_workflow(Workflow(colonyname="dev", functionspecs=[node("a"), node("b", ["a"])]), up)
    with pytest.raises(ColoniesConnectionError, match="part of a processgraph"):
        c.remove_process(g.rootprocessids[0], up)
    # pycolonies' get_processes_for_workflow sends state -1: v1.9.7 answers 400
    with pytest.raises(ColoniesConnectionError, match="invalid msg.State"):
        c.get_processes_for_workflow(g.processgraphid, "dev", up)
    p = c.assign("dev", 5, e)
    with pytest.raises(ColoniesConnectionError, match="running"):
        c.remove_processgraph(g.processgraphid, up)
    c.close(p.processid, [], e)
    c.assign("dev", 5, e)
    code, _, _, _ = raw_rpc(
        srv.handle.url, {"msgtype": "removeallprocessgraphsmsg", "colonyname": "dev", "state": -1}, srv.colony_prvkey
    )
    assert code == 200
    assert c.get_processgraph(g.processgraphid, up).state == S.RUNNING  # running graphs survive
    g2 = c.submit_workflow(Workflow(colonyname="dev", functionspecs=[node("x")]), up)
    c.remove_all_processgraphs("dev", srv.colony_prvkey)  # no state -> WAITING only
    with pytest.raises(ColoniesConnectionError, match="not found"):
        c.get_processgraph(g2.processgraphid, up)
    g3 = c.submit_workflow(Workflow(colonyname="dev", functionspecs=[node("y", etype="zz")]), up)
    c.remove_processgraph(g3.processgraphid, up)
    with pytest.raises(ColoniesConnectionError, match="not found"):
        c.get_process(g3.rootprocessids[0], up)


def test_add_child_appends_and_inserts(srv):
    c, up, e = srv.client(), srv.user_prvkey, srv.e1
    g = c.submit_workflow(Workflow(colonyname="dev", functionspecs=[node("a"), node("z", ["a"])]), up)
    a = c.assign("dev", 5, e)
    refused = func_spec("x", [], "dev", "t")
    with pytest.raises(ColoniesConnectionError, match="not assigned"):
        c.add_child(g.processgraphid, a.processid, "", refused, "x", False, up)
    extra = c.add_child(g.processgraphid, a.processid, "", func_spec("leaf", [], "dev", "t"), "leaf", False, e)
    assert extra["parents"] == [a.processid] and extra["waitforparents"]
    mid = c.add_child(g.processgraphid, a.processid, "", func_spec("mid", [], "dev", "t"), "mid", True, e)
    z = next(pid for pid in g.processids if c.get_process(pid, up).spec.nodename == "z")
    assert set(mid["children"]) == {z, extra["processid"]}
    assert c.get_process(z, up).parents == [mid["processid"]]
    assert c.get_process(a.processid, up).children == [mid["processid"]]
    with pytest.raises(ColoniesConnectionError, match="already exists"):
        c.add_child(g.processgraphid, a.processid, "", func_spec("mid", [], "dev", "t"), "mid", False, e)
    c.close(a.processid, ["from-a"], e)
    m = c.assign("dev", 5, e)
    assert m.spec.nodename == "mid" and m.input == ["from-a"]
    c.close(m.processid, ["from-mid"], e)
    rest = {c.assign("dev", 5, e).spec.nodename for _ in range(2)}
    assert rest == {"z", "leaf"}
    assert len(c.get_processgraph(g.processgraphid, up).processids) == 4


def test_deep_chain_graph_renders_and_fails_as_a_whole(srv):
    c, up, e = srv.client(), srv.user_prvkey, srv.e1
    n = 1200  # deeper than Python's default recursion limit
    specs = [node("n0")] + [node(f"n{i}", [f"n{i - 1}"]) for i in range(1, n)]
    g = c.submit_workflow(Workflow(colonyname="dev", functionspecs=specs), up)
    full = c.get_processgraph(g.processgraphid, up)
    assert len(full.nodes) == n and len(full.edges) == n - 1
    assert max(x.position.y for x in full.nodes) == (n - 1) * 100
    root = c.assign("dev", 5, e)
    c.close(root.processid, ["r"], e)
    second = c.assign("dev", 5, e)
    assert second.spec.nodename == "n1" and second.input == ["r"]
    c.fail(second.processid, ["x"], e)
    st = c.stats("dev", up)
    assert (st["failedprocesses"], st["waitingprocesses"], st["failedworkflows"]) == (n, 0, 1)
