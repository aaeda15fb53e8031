"""A restart (SIGTERM) mid-run loses nothing; a SIGKILL loses nothing that was committed."""

import threading
import time

import requests
from model import Workflow
from pycolonies import ColoniesConnectionError, func_spec

from hpcq.colonyos import ProcessState as S

from .conftest import raw_rpc


def test_restart_mid_run_keeps_everything(srv):
    c, up, e = srv.client(), srv.user_prvkey, srv.e1
    c.add_function("dev", "e1", "simulate", e)
    waiting = c.submit_func_spec(func_spec("simulate", ["w"], "dev", "t", priority=0), up)
    running = c.submit_func_spec(func_spec("simulate", ["r"], "dev", "t", priority=5), up)
    assert c.assign("dev", 5, e).processid == running.processid
    c.add_log(running.processid, "before restart", e)
    attr = c.add_attribute(running.processid, "k", "v", e)
    a = func_spec("a", [], "dev", "t", priority=9)
    b = func_spec("b", [], "dev", "t", priority=9)
    b.conditions.dependencies = ["a"]
    g = c.submit_workflow(Workflow(colonyname="dev", functionspecs=[a, b]), up)
    raw_rpc(
        srv.handle.url,
        {
            "msgtype": "addfilemsg",
            "file": {
                "colonyname": "dev",
                "label": "/res",
                "name": "r.h5",
                "size": 3,
                "checksum": "abc",
                "checksumalg": "SHA256",
                "ref": {"protocol": "s3", "s3object": {"object": "o", "bucket": "b"}},
            },
        },
        up,
    )
    snap = c.create_snapshot("dev", "/res", "snap1", up)
    before = c.stats("dev", up)
    key = srv.server_prvkey

    old_pid = srv.handle.proc.pid
    srv.handle.restart()
    assert srv.handle.proc.pid != old_pid

    assert c.stats("dev", up) == before
    assert [x["name"] for x in c.list_colonies(key)] == ["dev"]
    assert c.get_executor("dev", "e1", up)["state"] == 1
    assert {u["name"] for u in c.get_users("dev", up)} == {"hpcq-user"}
    assert c.get_functions_by_executor("dev", "e1", up)[0]["funcname"] == "simulate"
    assert c.get_process(waiting.processid, up).state == S.WAITING
    r = c.get_process(running.processid, up)
    assert r.state == S.RUNNING and r.isassigned and r.attributes[0].key == "k"
    assert c.get_attribute(attr["attributeid"], up)["value"] == "v"
    assert [x["message"] for x in c.get_process_log("dev", running.processid, 10, 0, up)] == ["before restart"]
    assert c.get_processgraph(g.processgraphid, up).processids == g.processids
    assert c.get_file("dev", up, label="/res", filename="r.h5")[0]["checksum"] == "abc"
    assert c.get_snapshot_by_name("dev", "snap1", up)["snapshotid"] == snap["snapshotid"]
    # the run goes on: the executor closes its process, and the queue order survived
    c.add_log(running.processid, "after restart", e)
    c.close(running.processid, ["ok"], e)
    assert c.assign("dev", 5, e).spec.funcname == "a"


def test_sigkill_loses_nothing_committed(srv):
    c, up = srv.client(), srv.user_prvkey
    acked: list[str] = []
    stop = threading.Event()

    def submitter():
        while not stop.is_set():
            try:
                acked.append(c.submit_func_spec(func_spec("f", [], "dev", "t"), up).processid)
            except ColoniesConnectionError:
                return  # the server died under us

    th = threading.Thread(target=submitter)
    th.start()
    time.sleep(1.5)
    srv.handle.kill()  # SIGKILL the process group mid-write
    stop.set()
    th.join(30)
    assert len(acked) > 10
    srv.handle.restart()
    assert requests.get(srv.handle.base_url + "/health", timeout=5).status_code == 200
    for pid in acked:
        assert c.get_process(pid, up).state == S.WAITING
    n = c.stats("dev", up)["waitingprocesses"]
    assert len(acked) <= n <= len(acked) + 1  # at most the one in flight was also committed


def test_sigterm_with_long_polls_in_flight_exits_cleanly(srv):
    c = srv.client()
    errors = []

    def poll():
        try:
            c.assign("dev", 60, srv.e1)
        except ColoniesConnectionError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=poll) for _ in range(3)]
    for th in threads:
        th.start()
    time.sleep(0.5)
    t = time.monotonic()
    assert srv.handle.stop() == 0
    assert time.monotonic() - t < 5
    for th in threads:
        th.join(10)
    assert len(errors) == 3  # the pollers see an error, not a hang
    assert "Traceback" not in srv.handle.log_path.read_text()
