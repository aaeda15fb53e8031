"""Crons and generators as colonies v1.9.7 runs them, through pycolonies 1.0.25 (pack through a
raw signed message: pycolonies has no pack call). Short intervals, bounded waits."""

import json
import time

import pytest
from model import Workflow
from pycolonies import ColoniesConnectionError, func_spec

from hpcq.colonyos import ProcessState as S
from hpcq.server import cronexpr
from hpcq.testing import wait_for

from .conftest import raw_rpc


def workflow(*names):
    specs = []
    for i, n in enumerate(names):
        s = func_spec(n, [], "dev", "t")
        s.nodename = n
        s.conditions.dependencies = [names[i - 1]] if i else []
        specs.append(s)
    return Workflow(colonyname="dev", functionspecs=specs)


def graphs(c, up):
    return [g for st in (S.WAITING, S.RUNNING, S.SUCCESS) for g in c.get_processgraphs("dev", 100, up, state=st) or []]


def test_cron_expression_every_second_spawns_workflows(srv):
    c, up, e = srv.client(), srv.user_prvkey, srv.e1
    cron = c.add_cron("tick", "0/1 * * * * *", False, workflow("a", "b"), "dev", up)
    assert cron["name"] == "tick" and cron["interval"] == -1 and cron["nextrun"] == "0001-01-01T00:00:00Z"
    assert cron["initiatorname"] == "hpcq-user" and cron["waitforprevprocessgraph"] is False
    got = wait_for(lambda: len(graphs(c, up)) >= 2 and graphs(c, up), timeout=8)
    assert all(len(g["processids"]) == 2 for g in got)
    info = c.get_cron(cron["cronid"], up)
    assert info["lastrun"] != "0001-01-01T00:00:00Z" and info["checkerperiod"] == 1000
    assert info["prevprocessgraphid"] in {g["processgraphid"] for g in got}
    a = c.assign("dev", 5, e)
    c.close(a.processid, ["from-a"], e)
    b = c.assign("dev", 5, e)
    assert b.spec.nodename == "b" and b.input == ["from-a"]
    assert [x["cronid"] for x in c.get_crons("dev", 10, up)] == [cron["cronid"]]
    c.del_cron(cron["cronid"], up)
    assert c.get_crons("dev", 10, up) == []
    n = len(graphs(c, up))
    time.sleep(2.2)
    assert len(graphs(c, up)) == n  # removed: nothing more is spawned


def test_run_cron_and_validation(srv):
    c, up = srv.client(), srv.user_prvkey
    cron = c.add_cron("yearly", "0 0 0 1 1 *", False, workflow("only"), "dev", up)
    before = c.run_cron(cron["cronid"], up)
    assert before["cronid"] == cron["cronid"] and before["prevprocessgraphid"] == ""  # reply: the cron before the run
    after = c.get_cron(cron["cronid"], up)
    gs = graphs(c, up)
    assert len(gs) == 1 and after["prevprocessgraphid"] == gs[0]["processgraphid"]
    assert after["lastrun"] != "0001-01-01T00:00:00Z"
    # the previous workflow's leaf output becomes the next workflow's root input
    p = c.assign("dev", 5, srv.e1)
    c.close(p.processid, ["o1", 2], srv.e1)
    c.run_cron(cron["cronid"], up)
    p2 = c.assign("dev", 5, srv.e1)
    assert p2.spec.nodename == "only" and p2.input == ["o1", 2] and p2.processgraphid != p.processgraphid
    with pytest.raises(ColoniesConnectionError, match="6 fields"):
        c.add_cron("bad", "* * *", False, workflow("x"), "dev", up)
    with pytest.raises(ColoniesConnectionError, match="out of range"):
        c.add_cron("bad", "61 * * * * *", False, workflow("x"), "dev", up)
    with pytest.raises(ColoniesConnectionError, match="not found"):
        c.get_cron("0" * 64, up)
    from hpcq.colonyos.signing import new_prvkey

    with pytest.raises(ColoniesConnectionError, match="not member"):
        c.get_crons("dev", 10, new_prvkey())


def test_interval_cron_waits_for_previous_workflow(srv):
    """interval > 0 and waitforprevprocessgraph (sent raw: pycolonies misspells that field)."""
    up = srv.user_prvkey
    cron = {
        "name": "iv",
        "colonyname": "dev",
        "interval": 1,
        "waitforprevprocessgraph": True,
        "cronexpression": "",
        "workflowspec": json.dumps(workflow("w").model_dump(by_alias=True)),
    }
    st, _, added, err = raw_rpc(srv.url, {"msgtype": "addcronmsg", "cron": cron}, up)
    assert st == 200 and not err and added["interval"] == 1
    c = srv.client()
    wait_for(lambda: len(graphs(c, up)) == 1, timeout=6)
    time.sleep(2.5)
    assert len(graphs(c, up)) == 1  # the first one still waits: no second spawn
    p = c.assign("dev", 5, srv.e1)
    c.close(p.processid, [], srv.e1)
    wait_for(lambda: len(graphs(c, up)) == 2, timeout=6)


def test_generator_trigger_and_timeout(srv):
    c, up = srv.client(), srv.user_prvkey
    spec = json.dumps(workflow("gen").model_dump(by_alias=True))
    g = c.add_generator({"name": "batch", "colonyname": "dev", "workflowspec": spec, "trigger": 2, "timeout": 1}, up)
    assert g["trigger"] == 2 and g["queuesize"] == 0 and g["firstpack"] == "0001-01-01T00:00:00Z"
    assert [x["generatorid"] for x in c.get_generators("dev", up)] == [g["generatorid"]]

    def pack(arg):
        st, _, _, err = raw_rpc(
            srv.url, {"msgtype": "packgeneratormsg", "generatorid": g["generatorid"], "arg": arg}, up
        )
        assert st == 200 and not err

    for arg in ("x1", "x2", "x3"):
        pack(arg)
    first = wait_for(lambda: (gs := graphs(c, up)) and gs, timeout=5)
    p = c.get_process(first[0]["processids"][0], up)
    assert p.spec.args == ["x1", "x2"]  # trigger reached: the two oldest args replace the root's args
    # x3 stays queued until the timeout (1 s after that run) passes, then goes alone
    second = wait_for(lambda: len(gs := graphs(c, up)) == 2 and gs, timeout=6)
    args = sorted(tuple(c.get_process(x["processids"][0], up).spec.args) for x in second)
    assert args == [("x1", "x2"), ("x3",)]
    info = c.get_generator(g["generatorid"], up)
    assert info["queuesize"] == 0 and info["lastrun"] != "0001-01-01T00:00:00Z"
    c.remove_generator(g["generatorid"], up)
    assert c.get_generators("dev", up) == []
    with pytest.raises(ColoniesConnectionError, match="trigger"):
        c.add_generator({"name": "b", "colonyname": "dev", "workflowspec": spec, "trigger": 0}, up)


def test_cron_expression_parser():
    from datetime import datetime

    t0 = datetime(2026, 12, 24, 14, 59, 58)
    assert cronexpr.next_after("0 0 15 24 12 *", t0) == datetime(2026, 12, 24, 15, 0, 0)
    assert cronexpr.next_after("0/2 * * * * *", t0) == datetime(2026, 12, 24, 15, 0, 0)
    assert cronexpr.next_after("59 3 15 * * MON", t0) == datetime(2026, 12, 28, 15, 3, 59)
    assert cronexpr.next_after("@every 1m30s", t0) == datetime(2026, 12, 24, 15, 1, 28)
    assert cronexpr.next_after("@monthly", t0) == datetime(2027, 1, 1)
    with pytest.raises(cronexpr.CronError, match="day of week"):
        cronexpr.parse("0 0 0 * * FUNDAY")
