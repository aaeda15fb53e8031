"""Signed submit + assign + close cycles per second against the embedded server.

Run: .venv/bin/python bench/bench_server.py [--seconds 6] [--workers 1,2,4]

Measured side by side in one run (same machine, same moment):
  client   the unmodified pycolonies client (pure-Python signing), W worker processes, each
           a submitter + an executor doing submit -> assign -> close; the client's own signing
           time per cycle is measured inside the workers (Crypto.sign wrapped with a timer).
  fastsign the same three requests over HTTP, signed with coincurve (libsecp256k1): what the
           server sustains when client-side signing is cheap.
  inproc   the server's request handling alone (api.handle, no HTTP), one thread.
CPU times (client inside the workers, server from /proc/<pid>/stat) are reported next to wall
times because the machine is shared: they do not depend on the load, wall times do.
Writes bench/results/server.json and prints it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hpcq.server.launch import init_colony, start_server  # noqa: E402
from hpcq.server.signing import id_from_prvkey, new_prvkey  # noqa: E402


def _client_worker(host, port, colony, user_key, ex_key, seconds, q):
    import crypto
    from pycolonies import Colonies, func_spec

    sign_time = [0.0]
    orig = crypto.Crypto.sign

    def timed(self, data, prvkey):
        t = time.perf_counter()
        try:
            return orig(self, data, prvkey)
        finally:
            sign_time[0] += time.perf_counter() - t

    crypto.Crypto.sign = timed
    c = Colonies(host, port)
    spec = func_spec("bench", ["x"], colony, "bench")
    n = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    end = t0 + seconds
    while time.perf_counter() < end:
        c.submit_func_spec(spec, user_key)
        p = c.assign(colony, 10, ex_key)
        c.close(p.processid, ["ok"], ex_key)
        n += 1
    q.put(
        {
            "cycles": n,
            "wall": time.perf_counter() - t0,
            "sign_s": sign_time[0],
            "client_cpu_s": time.process_time() - cpu0,
        }
    )


def _fast_sign(payload_b64: str, prv: str) -> str:
    import coincurve

    digest = hashlib.sha3_256(payload_b64.encode()).digest()
    return coincurve.PrivateKey(bytes.fromhex(prv)).sign_recoverable(digest, hasher=None).hex()


def _fast_worker(host, port, colony, user_key, ex_key, seconds, q):
    import requests

    url = f"http://{host}:{port}/api"
    spec = {
        "nodename": "bench",
        "funcname": "bench",
        "args": ["x"],
        "kwargs": {},
        "priority": 1,
        "maxwaittime": -1,
        "maxexectime": -1,
        "maxretries": -1,
        "conditions": {"colonyname": colony, "executortype": "bench"},
        "env": {},
    }

    def rpc(msg, key):
        payload = base64.b64encode(json.dumps(msg).encode()).decode()
        body = json.dumps({"payloadtype": msg["msgtype"], "payload": payload, "signature": _fast_sign(payload, key)})
        r = requests.post(url, data=body)
        assert r.status_code == 200, r.text
        return json.loads(base64.b64decode(r.json()["payload"]))

    n, t0 = 0, time.perf_counter()
    while time.perf_counter() < t0 + seconds:
        rpc({"msgtype": "submitfuncspecmsg", "spec": spec}, user_key)
        p = rpc({"msgtype": "assignprocessmsg", "colonyname": colony, "timeout": 10}, ex_key)
        rpc({"msgtype": "closesuccessfulmsg", "processid": p["processid"], "out": ["ok"]}, ex_key)
        n += 1
    q.put({"cycles": n, "wall": time.perf_counter() - t0})


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process (load-independent, unlike wall time)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_mode(target, handle, env, keys, workers, seconds):
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [
        ctx.Process(
            target=target,
            args=(handle.host, handle.port, env["COLONIES_COLONY_NAME"], env["COLONIES_PRVKEY"], keys[i], seconds, q),
        )
        for i in range(workers)
    ]
    t0 = time.perf_counter()
    cpu0 = proc_cpu_s(handle.proc.pid)
    for p in procs:
        p.start()
    res = [q.get(timeout=seconds + 120) for _ in procs]
    server_cpu = proc_cpu_s(handle.proc.pid) - cpu0
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    cycles = sum(r["cycles"] for r in res)
    out = {
        "workers": workers,
        "cycles": cycles,
        "cycles_per_s": round(cycles / max(r["wall"] for r in res), 1),
        "ms_per_cycle_per_worker": round(1000 * sum(r["wall"] for r in res) / cycles, 2),
        "wall_s_incl_startup": round(wall, 2),
        "server_cpu_ms_per_cycle": round(1000 * server_cpu / cycles, 2),
    }
    if "sign_s" in res[0]:
        out["client_sign_ms_per_cycle"] = round(1000 * sum(r["sign_s"] for r in res) / cycles, 2)
        out["client_cpu_ms_per_cycle"] = round(1000 * sum(r["client_cpu_s"] for r in res) / cycles, 2)
    return out


def inproc(seconds: float) -> dict:
    """Server handling alone: api.handle on pre-signed envelopes, no HTTP, one thread."""
    from hpcq.server import api
    from hpcq.server.httpd import ServerConfig, open_ctx

    d = Path(tempfile.mkdtemp(prefix="hpcq-bench-inproc-"))
    env = init_colony(d, colony="bench")
    ctx = open_ctx(ServerConfig(data_dir=d))
    ek = new_prvkey()
    with ctx.store.lock, ctx.store.tx():
        from hpcq.server.store import dumps

        doc = {
            "executorid": id_from_prvkey(ek),
            "executortype": "bench",
            "executorname": "ex",
            "colonyname": "bench",
            "state": 1,
            "requirefuncreg": False,
            "commissiontime": 1,
            "lastheardfromtime": 0,
            "locationname": "",
            "capabilities": {},
            "allocations": {},
        }
        ctx.store.db.execute(
            "INSERT INTO executors (colonyname, executorname, executorid, "
            "executortype, state, lastheard, doc) VALUES (?,?,?,?,?,?,?)",
            ("bench", "ex", doc["executorid"], "bench", 1, 0, dumps(doc)),
        )

    def env_of(msg, key):
        payload = base64.b64encode(json.dumps(msg).encode()).decode()
        return json.dumps(
            {"payloadtype": msg["msgtype"], "payload": payload, "signature": _fast_sign(payload, key)}
        ).encode()

    spec = {
        "funcname": "bench",
        "args": ["x"],
        "maxexectime": -1,
        "maxretries": -1,
        "maxwaittime": -1,
        "conditions": {"colonyname": "bench", "executortype": "bench"},
    }
    submit = env_of({"msgtype": "submitfuncspecmsg", "spec": spec}, env["COLONIES_PRVKEY"])
    assign = env_of({"msgtype": "assignprocessmsg", "colonyname": "bench", "timeout": -1}, ek)
    n, busy, t0 = 0, 0.0, time.perf_counter()
    while time.perf_counter() < t0 + seconds:
        close = None
        t = time.perf_counter()
        api.handle(ctx, submit)
        st, body = api.handle(ctx, assign)
        pid = json.loads(base64.b64decode(json.loads(body)["payload"]))["processid"]
        busy += time.perf_counter() - t
        close = env_of({"msgtype": "closesuccessfulmsg", "processid": pid, "out": ["ok"]}, ek)
        t = time.perf_counter()
        st, _ = api.handle(ctx, close)
        busy += time.perf_counter() - t
        assert st == 200
        n += 1
    ctx.store.close()
    return {
        "cycles": n,
        "server_ms_per_cycle": round(1000 * busy / n, 3),
        "cycles_per_s_one_thread": round(n / busy, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--workers", default="1,2,4")
    args = ap.parse_args()
    counts = [int(x) for x in args.workers.split(",")]
    data = Path(tempfile.mkdtemp(prefix="hpcq-bench-"))
    handle = start_server(data / "srv", env={"COLONIES_SERVER_PRVKEY": ""})
    result: dict = {
        "machine": {"cpus": os.cpu_count(), "loadavg_start": os.getloadavg()},
        "seconds_per_config": args.seconds,
    }
    try:
        env = init_colony(handle, colony="bench")
        from pycolonies import Colonies

        c = Colonies(handle.host, handle.port)
        keys = []
        for i in range(max(counts)):
            k = new_prvkey()
            c.add_executor(
                {
                    "executorname": f"ex{i}",
                    "executorid": id_from_prvkey(k),
                    "colonyname": "bench",
                    "executortype": "bench",
                },
                env["COLONIES_COLONY_PRVKEY"],
            )
            c.approve_executor("bench", f"ex{i}", env["COLONIES_COLONY_PRVKEY"])
            keys.append(k)
        result["client"] = [run_mode(_client_worker, handle, env, keys, w, args.seconds) for w in counts]
        result["fastsign"] = [run_mode(_fast_worker, handle, env, keys, w, args.seconds) for w in counts]
    finally:
        handle.stop()
    result["inproc"] = inproc(args.seconds)
    result["machine"]["loadavg_end"] = os.getloadavg()
    best = max(result["client"], key=lambda r: r["cycles_per_s"])
    result["summary"] = {
        "best_client_cycles_per_s": best["cycles_per_s"],
        "best_client_workers": best["workers"],
        "client_sign_ms_per_cycle": best["client_sign_ms_per_cycle"],
        "best_fastsign_cycles_per_s": max(r["cycles_per_s"] for r in result["fastsign"]),
        "server_ms_per_cycle_inproc": result["inproc"]["server_ms_per_cycle"],
        "server_cpu_ms_per_cycle_http": best["server_cpu_ms_per_cycle"],
        "client_cpu_ms_per_cycle": best["client_cpu_ms_per_cycle"],
        # what two idle cores could do if client and server shared them perfectly
        "cpu_bound_estimate_2_idle_cores": round(
            2000 / (best["client_cpu_ms_per_cycle"] + best["server_cpu_ms_per_cycle"]), 1
        ),
        "goal_cycles_per_s": 300,
    }
    out = ROOT / "bench" / "results" / "server.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
