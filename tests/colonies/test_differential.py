"""The real colonies server as the oracle for hpcq's embedded one: the same random sequences of client
operations go to both, and what a client can observe must agree (issue 21).

Each hypothesis example makes a fresh colony with an executor and a user on both servers, then runs
a sequence of operations (submit, workflow, assign, close, fail, attribute, log, cancel, remove, get,
wait for a maxexectime expiry) on both and compares, step by step: success or refusal (and the
refusal's class), the process each assign hands out (by submission index), and each process's state,
output, retry count and assignment flag. Differences that are deliberate are listed in
docs/server.md ("Differences from colonies") and normalised in ``observe``; anything else fails here.

CI runs a bounded number of sequences (``HPCQ_DIFF_EXAMPLES``, default 12); the long form:
``HPCQ_DIFF_EXAMPLES=300 pytest tests/colonies/test_differential.py`` (figures in docs/reliability.md).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from dataclasses import dataclass, field

import pytest
import requests
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from hpcq.colonyos.signing import id_from_prvkey, new_prvkey, sign

pytestmark = pytest.mark.real_colonies

EXAMPLES = int(os.environ.get("HPCQ_DIFF_EXAMPLES", "12"))
STEPS = int(os.environ.get("HPCQ_DIFF_STEPS", "14"))
SHRINK = os.environ.get("HPCQ_DIFF_SHRINK") == "1"  # minimal failing sequence (slow: every replay sleeps)
EXECUTOR_TYPE = "diff"


def rpc(base_url: str, msg: dict, prvkey: str) -> tuple[int, object]:
    """One signed request; (HTTP status, decoded payload)."""
    payload = base64.b64encode(json.dumps(msg).encode()).decode()
    env = {"payloadtype": msg["msgtype"], "payload": payload, "signature": sign(payload, prvkey)}
    r = requests.post(f"{base_url}/api", data=json.dumps(env), timeout=30)
    body = r.json()
    return r.status_code, json.loads(base64.b64decode(body["payload"]))


def error_class(status: int, payload: object) -> str:
    """What a client can tell apart: success, or the class of the refusal."""
    if status == 200:
        return "ok"
    text = str(payload.get("message", "") if isinstance(payload, dict) else payload).lower()
    if "not found" in text or "does not exist" in text or "is nil" in text:
        return "not-found"
    if status == 403:
        return "forbidden"
    return "refused"


@dataclass
class Side:
    """One server seen through a colony made for one example."""

    base_url: str
    server_prvkey: str
    colony: str = ""
    colony_prv: str = ""
    user_prv: str = ""
    exec_prv: str = ""
    pids: list[str] = field(default_factory=list)  # by submission index
    graphs: list[str] = field(default_factory=list)
    expiring: bool = False  # a process with maxexectime 1 s was assigned: waiting for expiry is worth it

    def setup(self) -> None:
        self.colony, self.colony_prv = f"diff-{secrets.token_hex(4)}", new_prvkey()
        self.user_prv, self.exec_prv = new_prvkey(), new_prvkey()
        self.must({"msgtype": "addcolonymsg", "colony": {"colonyid": id_from_prvkey(self.colony_prv),
                   "name": self.colony}}, self.server_prvkey)  # fmt: skip
        self.must({"msgtype": "addusermsg", "user": {"colonyname": self.colony, "userid": id_from_prvkey(self.user_prv),
                   "name": "u", "email": "", "phone": ""}}, self.colony_prv)  # fmt: skip
        executor = {"executorname": "x", "executorid": id_from_prvkey(self.exec_prv), "colonyname": self.colony,
                    "executortype": EXECUTOR_TYPE}  # fmt: skip
        self.must({"msgtype": "addexecutormsg", "executor": executor}, self.colony_prv)
        self.must({"msgtype": "approveexecutormsg", "colonyname": self.colony, "executorname": "x"}, self.colony_prv)

    def must(self, msg: dict, prvkey: str) -> object:
        status, payload = rpc(self.base_url, msg, prvkey)
        assert status == 200, (self.base_url, msg["msgtype"], payload)
        return payload

    def call(self, msg: dict, prvkey: str) -> tuple[str, object]:
        status, payload = rpc(self.base_url, msg, prvkey)
        return error_class(status, payload), payload

    def spec(
        self, name: str, maxexectime: int, maxretries: int, priority: int, deps: list[str] | None = None, mem: str = ""
    ) -> dict:
        return {
            "nodename": name,
            "funcname": "f",
            "args": [name],
            "kwargs": {},
            "priority": priority,
            "maxwaittime": -1,
            "maxexectime": maxexectime,
            "maxretries": maxretries,
            "conditions": {
                "colonyname": self.colony,
                "executortype": EXECUTOR_TYPE,
                "dependencies": deps or [],
                "mem": mem,
            },
            "label": "",
            "fs": {},
            "env": {},
        }

    def observe(self, i: int) -> dict:
        cls, p = self.call({"msgtype": "getprocessmsg", "processid": self.pids[i]}, self.user_prv)
        if cls != "ok" or not isinstance(p, dict):
            return {"found": cls}
        state = p.get("state")
        return {
            "state": state,
            # colonies stores a close's output before it refuses the close of a process that is no
            # longer RUNNING; the embedded server refuses in one transaction (docs/server.md)
            "out": (p.get("out") or []) if state not in (3, 4) else "-",
            "errors": bool(p.get("errors")),
            "retries": p.get("retries"),
            "assigned": bool(p.get("isassigned")),
        }


class Differential(RuleBasedStateMachine):
    """Drives the embedded and the real server with the same operations."""

    embedded: Side
    real: Side

    @initialize()
    def colonies(self):
        for side in (self.embedded, self.real):
            side.pids, side.graphs, side.expiring = [], [], False
            side.setup()
        self.log: list[str] = []

    def both(self, what: str, make) -> tuple[tuple[str, object], tuple[str, object]]:
        a, b = make(self.embedded), make(self.real)
        self.log.append(f"{what}: embedded={a[0]} real={b[0]}")
        assert a[0] == b[0], f"{what}: embedded {a} but real {b}\n" + "\n".join(self.log)
        return a, b

    @rule(
        maxexectime=st.sampled_from([-1, 1]),
        retries=st.sampled_from([0, 1]),
        priority=st.sampled_from([0, 5]),
        mem=st.sampled_from(["", "512Mi", "2Gi", "1Ti", "1TiB", "1024", "4gb"]),
    )
    def submit(self, maxexectime, retries, priority, mem):
        def go(s: Side):
            spec = s.spec(f"p{len(s.pids)}", maxexectime, retries, priority, mem=mem)
            cls, p = s.call({"msgtype": "submitfuncspecmsg", "spec": spec}, s.user_prv)
            if cls == "ok":
                s.pids.append(p["processid"])
            return cls, p

        self.both(f"submit maxexectime={maxexectime} retries={retries} priority={priority} mem={mem!r}", go)

    @rule(fanout=st.booleans())
    def workflow(self, fanout):
        def go(s: Side):
            names = ["a", "b", "c"]
            deps = {"a": [], "b": ["a"], "c": ["a"] if fanout else ["b"]}
            specs = [s.spec(n, -1, 0, 0, deps[n]) for n in names]
            cls, g = s.call({"msgtype": "submitworkflowspecmsg", "spec": {"colonyname": s.colony,
                             "functionspecs": specs}}, s.user_prv)  # fmt: skip
            if cls == "ok":
                s.graphs.append(g["processgraphid"])
                s.pids.extend(g["processids"])  # spec order on both servers
            return cls, g

        self.both(f"workflow fanout={fanout}", go)

    def _waiting(self) -> bool:
        cls, p = self.embedded.call({"msgtype": "getprocessesmsg", "colonyname": self.embedded.colony, "count": 100,
                                     "state": 0}, self.embedded.user_prv)  # fmt: skip
        return cls == "ok" and bool(p)

    @rule()
    def assign(self):
        if not self._waiting():  # an empty assign costs its whole timeout on each server
            return

        def go(s: Side):
            cls, p = s.call({"msgtype": "assignprocessmsg", "colonyname": s.colony, "timeout": 2}, s.exec_prv)
            if cls == "ok" and p["spec"]["maxexectime"] > 0:
                s.expiring = True
            return cls, (s.pids.index(p["processid"]) if cls == "ok" and p["processid"] in s.pids else p)

        a, b = self.both("assign", go)
        if a[0] == "ok":
            assert a[1] == b[1], f"assign handed out process #{a[1]} on embedded, #{b[1]} on real\n" + "\n".join(
                self.log
            )

    def _pick(self, data) -> int:
        return data.draw(st.integers(0, len(self.embedded.pids) - 1), label="process")

    @precondition(lambda self: self.embedded.pids)
    @rule(data=st.data(), op=st.sampled_from(["close", "fail", "attribute", "log", "remove", "cancel"]))
    def act(self, data, op):
        i = self._pick(data)

        def go(s: Side):
            pid = s.pids[i]
            msg = {
                "close": {"msgtype": "closesuccessfulmsg", "processid": pid, "out": ["o", str(i)]},
                "fail": {"msgtype": "closefailedmsg", "processid": pid, "errors": ["boom"]},
                "attribute": {
                    "msgtype": "addattributemsg",
                    "attribute": {
                        "targetid": pid,
                        "key": f"k{i}",
                        "value": "v",
                        "attributetype": 1,
                        "targetcolonyname": s.colony,
                    },
                },  # fmt: skip
                "log": {"msgtype": "addlogmsg", "processid": pid, "message": "hello"},
                "remove": {"msgtype": "removeprocessmsg", "processid": pid, "all": False},
                "cancel": {"msgtype": "cancelprocessmsg", "processid": pid},
            }[op]
            key = s.user_prv if op in ("remove", "cancel") else s.exec_prv
            return s.call(msg, key)

        self.both(f"{op} #{i}", go)

    @precondition(lambda self: self.embedded.graphs)
    @rule(data=st.data())
    def cancel_workflow(self, data):
        g = data.draw(st.integers(0, len(self.embedded.graphs) - 1), label="graph")
        self.both(f"cancel workflow {g}", lambda s: s.call({"msgtype": "cancelprocessgraphmsg",
                                                             "processgraphid": s.graphs[g]}, s.user_prv))  # fmt: skip

    @precondition(lambda self: self.embedded.expiring)
    @rule()
    def expire(self):
        time.sleep(2.2)  # both servers check maxexectime every second, in whole seconds
        self.embedded.expiring = self.real.expiring = False
        self.log.append("slept 2.2 s")

    @invariant()
    def same_processes(self):
        for i in range(len(getattr(self.embedded, "pids", []))):
            # a maxexectime expiry lands on either server within its 1-s timeout loop: the same state
            # must be reached within a few seconds, not at the same instant
            deadline = time.monotonic() + 4
            while (a := self.embedded.observe(i)) != (b := self.real.observe(i)) and time.monotonic() < deadline:
                time.sleep(0.25)
            assert a == b, f"process #{i}: embedded {a} but real {b}\n" + "\n".join(self.log)


@pytest.fixture(scope="module")
def both_servers(tmp_path_factory, real_colonies_server):
    from hpcq.server.launch import start_server

    handle = start_server(tmp_path_factory.mktemp("embedded"), port=0, env={"COLONIES_SERVER_PRVKEY": ""})
    try:
        yield (
            Side(handle.base_url, (handle.data_dir / "server.key").read_text().strip()),
            Side(real_colonies_server.base_url, real_colonies_server.server_prvkey),
        )
    finally:
        handle.stop()


def test_embedded_matches_real(both_servers):
    Differential.embedded, Differential.real = both_servers
    t0 = time.monotonic()
    run_state_machine_as_test(
        Differential,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=list(Phase) if SHRINK else [Phase.explicit, Phase.reuse, Phase.generate],
        ),
    )
    print(f"differential: {EXAMPLES} sequences of up to {STEPS} steps in {time.monotonic() - t0:.1f} s")
