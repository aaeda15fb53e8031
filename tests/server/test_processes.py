"""Submit, assign matching and ordering, long-poll, close/fail/set_output, lists, logs,
attributes, stats and removal, all through the unmodified pycolonies client."""

import threading
import time

import pytest
from model import Conditions, FuncSpec, Gpu
from pycolonies import ColoniesConnectionError, func_spec

from hpcq.colonyos import NO_PROCESS
from hpcq.colonyos import ProcessState as S

from .conftest import raw_rpc


def spec(name="f", etype="t", executorname=None, **kw):
    s = func_spec(name, [], "dev", etype, executorname=executorname)
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def test_submit_normalises_and_echoes(srv):
    c = srv.client()
    s = FuncSpec(
        nodename="n",
        funcname="simulate",
        args=["a", 2],
        kwargs={"params": "{}"},
        priority=3,
        maxwaittime=-1,
        maxexectime=-1,
        maxretries=2,
        label="lbl",
        env={"A": "1", "B": "2"},
        conditions=Conditions(
            colonyname="dev",
            executortype="t",
            cpu="1500m",
            mem="2Gi",
            storage="",
            nodes=1,
            processespernode=4,
            walltime=60,
            gpu=Gpu(mem="1Gi", count=1),
        ),
    )
    before = time.time_ns()
    p = c.submit_func_spec(s, srv.user_prvkey)
    assert p.state == S.WAITING and not p.isassigned and p.retries == 0
    assert p.spec.conditions.cpu == "1500m" and p.spec.conditions.mem == "2048Mi"
    assert p.spec.conditions.storage == "0Mi" and p.spec.conditions.gpu.mem == "1024Mi"
    assert p.spec.args == ["a", 2] and p.spec.kwargs == {"params": "{}"} and p.spec.label == "lbl"
    assert p.parents == [] and p.children == [] and p.errors == []
    assert p.input is None and p.output is None
    assert {(a.key, a.value, a.attributetype) for a in p.attributes} == {("A", "1", 3), ("B", "2", 3)}
    # prioritytime = priority * -1 day (ns) + submission ns
    assert abs(p.prioritytime - (-3 * 86_400 * 10**9 + before)) < 5 * 10**9
    assert p.starttime.year == 1 and p.execdeadline.year == 1  # Go zero time
    # a cpu without "m" silently becomes 0m (real server quirk)
    q = c.submit_func_spec(spec(conditions=Conditions(colonyname="dev", executortype="t", cpu="2")), srv.user_prvkey)
    assert q.spec.conditions.cpu == "0m"


def test_assign_by_priority_then_fifo(srv):
    c, up = srv.client(), srv.user_prvkey
    low = c.submit_func_spec(spec("low", priority=0), up)
    first = c.submit_func_spec(spec("a", priority=1), up)
    second = c.submit_func_spec(spec("b", priority=1), up)
    order = [c.assign("dev", 5, srv.e1).processid for _ in range(3)]
    assert order == [first.processid, second.processid, low.processid]
    running = c.list_processes("dev", 10, S.RUNNING, up)
    assert [p["processid"] for p in running] == order  # running: by starttime ASC
    for pid in order:
        c.close(pid, [], srv.e1)
    done = c.list_processes("dev", 10, S.SUCCESS, up)
    assert [p["processid"] for p in done] == order[::-1]  # successful: endtime DESC
    assert c.list_processes("dev", 10, S.WAITING, up) is None  # Go nil slice -> null
    assert c.list_processes("dev", 2, S.SUCCESS, up)[0]["processid"] == order[2]


def test_assign_matching_rules(srv):
    c, up = srv.client(), srv.user_prvkey
    other_type = srv.add_executor("e2", "other")
    c.submit_func_spec(spec("for-e9", executorname="e9"), up)  # names exclude e1
    c.submit_func_spec(
        spec("big", conditions=Conditions(colonyname="dev", executortype="t", nodes=128)), up
    )  # >127: never
    p_other = c.submit_func_spec(spec("other", etype="other"), up)
    with pytest.raises(ColoniesConnectionError, match=NO_PROCESS):
        c.assign("dev", -1, srv.e1)  # one attempt, 404
    assert c.assign("dev", -1, other_type).processid == p_other.processid
    named = c.submit_func_spec(spec("for-e1", executorname="e1"), up)
    assert c.assign("dev", -1, srv.e1).processid == named.processid
    star = c.submit_func_spec(spec("star"), up)
    star_spec = star.spec
    assert star_spec.conditions.executornames is None
    assert c.assign("dev", -1, srv.e1).processid == star.processid
    stored = c.submit_func_spec(
        spec("storage", conditions=Conditions(colonyname="dev", executortype="t", storage="1Gi")), up
    )  # storage does not block (colonies' default, distributed assign, compares it with MaxInt64)
    assert c.assign("dev", -1, srv.e1).processid == stored.processid
    code, _, p, _ = raw_rpc(srv.handle.url, {"msgtype": "assignprocessmsg", "colonyname": "dev", "timeout": 0}, srv.e1)
    assert code == 400 and "timeout" in p["message"]
    code, _, p, _ = raw_rpc(srv.handle.url, {"msgtype": "assignprocessmsg", "colonyname": "dev", "timeout": -1}, srv.e1)
    assert (code, p["message"]) == (404, NO_PROCESS)


def test_assign_long_poll_wakes_on_submit_and_does_not_block_others(srv):
    c, up = srv.client(), srv.user_prvkey
    got = {}

    def poll():
        t = time.monotonic()
        got["p"] = c.assign("dev", 20, srv.e1)
        got["dt"] = time.monotonic() - t

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.5)
    t = time.monotonic()
    assert c.get_colony("dev", up)["name"] == "dev"  # not blocked by the long-poll
    assert time.monotonic() - t < 2
    p = c.submit_func_spec(spec(), up)
    th.join(10)
    assert got["p"].processid == p.processid and 0.4 < got["dt"] < 5
    assert got["p"].state == S.RUNNING and got["p"].isassigned
    assert got["p"].assignedexecutorid == c.get_executor("dev", "e1", up)["executorid"]
    t = time.monotonic()
    with pytest.raises(ColoniesConnectionError, match=NO_PROCESS):
        c.assign("dev", 1, srv.e1)
    assert 0.9 < time.monotonic() - t < 3
    assert c.get_executor("dev", "e1", up)["lastheardfromtime"].startswith("20")


def test_close_fail_and_output_state_rules(srv):
    c, up, e1 = srv.client(), srv.user_prvkey, srv.e1
    p = c.submit_func_spec(spec(), up)
    c.assign("dev", 5, e1)
    c.set_output(p.processid, ["partial"], e1)
    assert c.get_process(p.processid, up).output == ["partial"]
    c.set_output(p.processid, [], e1)  # empty output is not stored
    assert c.get_process(p.processid, up).output == ["partial"]
    c.close(p.processid, [], e1)  # empty out keeps the earlier output
    done = c.get_process(p.processid, up)
    assert done.state == S.SUCCESS and done.output == ["partial"] and done.endtime.year > 2000
    with pytest.raises(ColoniesConnectionError, match="successful state"):
        c.close(p.processid, ["again"], e1)
    with pytest.raises(ColoniesConnectionError, match="already successful"):
        c.fail(p.processid, ["late"], e1)
    with pytest.raises(ColoniesConnectionError, match="not running"):
        c.set_output(p.processid, ["x"], e1)
    q = c.submit_func_spec(spec(), up)
    c.assign("dev", 5, e1)
    c.fail(q.processid, ["boom", "detail"], e1)
    failed = c.get_process(q.processid, up)
    assert failed.state == S.FAILED and failed.errors == ["boom", "detail"]
    with pytest.raises(ColoniesConnectionError, match="failed state"):
        c.close(q.processid, [], e1)
    # an explicit fail is final: it is never re-queued
    with pytest.raises(ColoniesConnectionError, match=NO_PROCESS):
        c.assign("dev", -1, e1)
    with pytest.raises(ColoniesConnectionError, match="not found"):
        c.get_process("0" * 64, up)


def test_logs_attributes_and_stats(srv):
    c, up, e1 = srv.client(), srv.user_prvkey, srv.e1
    p = c.submit_func_spec(spec(), up)
    with pytest.raises(ColoniesConnectionError, match="not running"):
        c.add_log(p.processid, "too early", e1)
    c.assign("dev", 5, e1)
    assert c.get_process_log("dev", p.processid, 10, 0, up) is None
    for i in range(5):
        c.add_log(p.processid, f"line {i}", e1)
    logs = c.get_process_log("dev", p.processid, 100, 0, up)
    assert [x["message"] for x in logs] == [f"line {i}" for i in range(5)]
    assert all(x["executorname"] == "e1" and x["timestamp"] > 10**18 for x in logs)
    since = logs[2]["timestamp"]
    assert [x["message"] for x in c.get_process_log("dev", p.processid, 100, since, up)] == ["line 3", "line 4"]
    assert len(c.get_process_log("dev", p.processid, 2, 0, up)) == 2
    assert len(c.get_executor_log("dev", "e1", 100, 0, up)) == 5
    code, _, latest, _ = raw_rpc(
        srv.handle.url,
        {
            "msgtype": "getlogsmsg",
            "colonyname": "dev",
            "processid": p.processid,
            "count": 2,
            "since": 0,
            "latest": True,
        },
        up,
    )
    assert code == 200 and [x["message"] for x in latest] == ["line 3", "line 4"]
    a = c.add_attribute(p.processid, "result", "42", e1)
    assert a["attributetype"] == 1 and a["targetcolonyname"] == "dev"
    assert c.get_attribute(a["attributeid"], up)["value"] == "42"
    with pytest.raises(ColoniesConnectionError, match="already exists"):
        c.add_attribute(p.processid, "result", "43", e1)
    assert [x.key for x in c.get_process(p.processid, up).attributes] == ["result"]
    st = c.stats("dev", up)
    assert (st["runningprocesses"], st["executors"], st["activeexecutors"]) == (1, 1, 1)
    c.close(p.processid, [], e1)
    with pytest.raises(ColoniesConnectionError, match="not running"):
        c.add_log(p.processid, "after close", e1)
    with pytest.raises(ColoniesConnectionError, match="not running"):
        c.add_attribute(p.processid, "late", "x", e1)
    assert c.stats("dev", up)["successfulprocesses"] == 1


def test_list_filters_and_limits(srv):
    c, up = srv.client(), srv.user_prvkey
    c.submit_func_spec(spec("x", label="a"), up)
    c.submit_func_spec(spec("y", label="b", etype="u"), up)
    code, _, rows, _ = raw_rpc(
        srv.handle.url, {"msgtype": "getprocessesmsg", "colonyname": "dev", "count": 10, "state": 0, "label": "b"}, up
    )
    assert code == 200 and [r["spec"]["funcname"] for r in rows] == ["y"]
    code, _, rows, _ = raw_rpc(
        srv.handle.url,
        {
            "msgtype": "getprocessesmsg",
            "colonyname": "dev",
            "count": 10,
            "state": 0,
            "executortype": "t",
            "initiator": "hpcq-user",
        },
        up,
    )
    assert [r["spec"]["funcname"] for r in rows] == ["x"]
    with pytest.raises(ColoniesConnectionError, match="max count"):
        c.list_processes("dev", 101, S.WAITING, up)
    with pytest.raises(ColoniesConnectionError, match="invalid msg.State"):
        c.list_processes("dev", 10, 7, up)


def test_remove_rules(srv):
    c, up, e1 = srv.client(), srv.user_prvkey, srv.e1
    keep = c.submit_func_spec(spec(), up)
    run = c.assign("dev", 5, e1)
    gone = c.submit_func_spec(spec(), up)
    with pytest.raises(ColoniesConnectionError, match="running"):
        c.remove_process(run.processid, up)
    c.remove_process(gone.processid, up)
    with pytest.raises(ColoniesConnectionError, match="not found"):
        c.get_process(gone.processid, up)
    assert keep.processid == run.processid
    for _ in range(3):
        c.submit_func_spec(spec(), up)
    with pytest.raises(ColoniesConnectionError, match="not colony owner"):
        c.remove_all_processes("dev", up)
    c.remove_all_processes("dev", srv.colony_prvkey)  # state -1: all but running
    st = c.stats("dev", up)
    assert (st["waitingprocesses"], st["runningprocesses"]) == (0, 1)


def test_location_resources_and_star(srv):
    c, up = srv.client(), srv.user_prvkey
    url = srv.handle.url
    from hpcq.colonyos.signing import id_from_prvkey, new_prvkey

    lk = new_prvkey()
    c.add_executor(
        {
            "executorname": "lumi",
            "executorid": id_from_prvkey(lk),
            "colonyname": "dev",
            "executortype": "t",
            "locationname": "LUMI",
        },
        srv.colony_prvkey,
    )
    c.approve_executor("dev", "lumi", srv.colony_prvkey)
    placed = spec("placed")
    placed.conditions.executornames = ["*"]
    raw = placed.model_dump(by_alias=True)
    raw["conditions"]["locationname"] = "lumi"
    code, _, p, _ = raw_rpc(url, {"msgtype": "submitfuncspecmsg", "spec": raw}, up)
    assert code == 200
    with pytest.raises(ColoniesConnectionError, match=NO_PROCESS):
        c.assign("dev", -1, srv.e1)  # e1 has no location
    assert c.assign("dev", -1, lk).processid == p["processid"]  # case-insensitive match, "*"
    heavy = spec("heavy", conditions=Conditions(colonyname="dev", executortype="t", cpu="4000m", mem="8Gi"))
    h = c.submit_func_spec(heavy, up)
    small = {
        "msgtype": "assignprocessmsg",
        "colonyname": "dev",
        "timeout": -1,
        "availablecpu": "2000m",
        "availablemem": "16Gi",
    }
    code, _, p, _ = raw_rpc(url, small, srv.e1)
    assert code == 404  # needs 4000m, 2000m available
    code, _, p, _ = raw_rpc(url, dict(small, availablecpu="8000m", availablemem="4Gi"), srv.e1)
    assert code == 404  # needs 8192Mi, 4096Mi available
    code, _, p, _ = raw_rpc(url, dict(small, availablecpu="8000m"), srv.e1)
    assert code == 200 and p["processid"] == h.processid


def test_remaining_lookups_and_removals(srv):
    c, up, url = srv.client(), srv.user_prvkey, srv.handle.url
    code, _, u, _ = raw_rpc(url, {"msgtype": "getusermsg", "colonyname": "dev", "name": "hpcq-user"}, up)
    assert code == 200 and u["name"] == "hpcq-user"
    code, _, _, _ = raw_rpc(url, {"msgtype": "getusermsg", "colonyname": "dev", "name": "x"}, up)
    assert code == 404
    f = c.add_function("dev", "e1", "fn", srv.e1)
    code, _, p, _ = raw_rpc(url, {"msgtype": "removefunctionmsg", "functionid": f["functionid"]}, up)
    assert code == 403
    code, _, _, _ = raw_rpc(url, {"msgtype": "removefunctionmsg", "functionid": f["functionid"]}, srv.e1)
    assert code == 200 and c.get_functions_by_colony("dev", up) is None
    snap = c.create_snapshot("dev", "/empty", "s1", up)
    assert snap["fileids"] == [] and snap["label"] == "/empty"
    code, _, _, _ = raw_rpc(
        url, {"msgtype": "removesnapshotmsg", "colonyname": "dev", "snapshotid": snap["snapshotid"]}, up
    )
    assert code == 200 and c.get_snapshots("dev", up) is None
    with pytest.raises(ColoniesConnectionError, match="not found"):
        c.get_snapshot_by_name("dev", "s1", up)
