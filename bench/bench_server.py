"""Signed submit -> assign -> close cycles per second against the embedded server.

Run: nice -n 10 .venv/bin/python bench/bench_server.py [--seconds 6] [--workers 1,2,4] [--baseline REV]

Measured side by side in one run (same machine, same moment), a fresh server for each row:
  pycolonies  the unmodified pycolonies client (pure-Python signing) in W client processes, each
              a submitter + an executor doing submit -> assign -> close;
  hpcq        the same loop through hpcq's own client, exactly as hpcq ships it
              (hpcq.colonyos.client: pycolonies with libsecp256k1 signing, byte-identical
              signatures, and one keep-alive connection per process and thread), W processes;
  inproc      the server's request handling alone (api.handle on pre-signed envelopes, no HTTP),
              one thread, with a cProfile of it (--profile) to say where server time goes.
With --baseline REV the hpcq rows and inproc are also run against the server code of git
revision REV (exported with `git archive` into a temporary folder, on PYTHONPATH for the server
process only), interleaved with the current code's rows: server CPU ms/cycle before and after.
CPU times (clients inside the workers, the server from /proc/<pid>/stat) are reported next to
wall times because the machine is shared: they do not depend on the load, wall times do.
server_cpu_util is the server's CPU seconds per wall second: near 1.0, its one interpreter (GIL)
is saturated, so the server, not the clients, bounds the rate.
Writes bench/results/server.json and prints it.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import json
import multiprocessing as mp
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# HPCQ_BENCH_TREE: the hpcq to import (inproc_in runs this file against a baseline tree)
sys.path.insert(0, os.environ.get("HPCQ_BENCH_TREE") or str(ROOT))

from hpcq.colonyos.signing import id_from_prvkey, new_prvkey  # noqa: E402
from hpcq.server.launch import init_colony, start_server  # noqa: E402

CLIENTS = ("pycolonies", "hpcq")
INPROC_ROUNDS = 5


def _make_client(which: str, host: str, port: int):
    if which == "hpcq":
        from hpcq.colonyos import client

        return client(host, port)
    from pycolonies import Colonies

    return Colonies(host, port)


def _time_signing(sign_time: list) -> None:
    """Wrap both signers (pycolonies' Crypto, hpcq's FastCrypto) with a timer."""
    import crypto

    from hpcq.colonyos.signing import FastCrypto

    for cls in (crypto.Crypto, FastCrypto):
        orig = cls.sign

        def timed(self, data, prvkey, _orig=orig):
            t = time.thread_time()  # CPU: a preempted signer does not count its wait
            try:
                return _orig(self, data, prvkey)
            finally:
                sign_time[0] += time.thread_time() - t

        cls.sign = timed


def _worker(which, host, port, colony, user_key, ex_key, seconds, q):
    from pycolonies import func_spec

    sign_time = [0.0]
    _time_signing(sign_time)
    c = _make_client(which, host, port)
    spec = func_spec("bench", ["x"], colony, "bench")
    n = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    end = t0 + seconds
    while time.perf_counter() < end:
        c.submit_func_spec(spec, user_key)
        p = c.assign(colony, 10, ex_key)
        c.close(p.processid, ["ok"], ex_key)
        n += 1
    q.put({"cycles": n, "wall": time.perf_counter() - t0, "sign_s": sign_time[0], "cpu_s": time.process_time() - cpu0})


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process (load-independent, unlike wall time)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_env(tree: Path | None) -> dict:
    env = {"COLONIES_SERVER_PRVKEY": ""}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    return env


def run_row(which: str, workers: int, seconds: float, tree: Path | None) -> dict:
    """A fresh server (from ``tree``, or this checkout), W approved executors, W client processes."""
    from pycolonies import Colonies

    data = Path(tempfile.mkdtemp(prefix="hpcq-bench-"))
    cwd = os.getcwd()
    os.chdir(tree or ROOT)  # `python -m hpcq.server` imports hpcq from its working directory first
    try:
        handle = start_server(data / "srv", env=_server_env(tree))
    finally:
        os.chdir(cwd)
    try:
        env = init_colony(handle, colony="bench")
        admin = Colonies(handle.host, handle.port)
        keys = []
        for i in range(workers):
            k = new_prvkey()
            admin.add_executor(
                {
                    "executorname": f"ex{i}",
                    "executorid": id_from_prvkey(k),
                    "colonyname": "bench",
                    "executortype": "bench",
                },
                env["COLONIES_COLONY_PRVKEY"],
            )
            admin.approve_executor("bench", f"ex{i}", env["COLONIES_COLONY_PRVKEY"])
            keys.append(k)
        ctx = mp.get_context("fork")
        q = ctx.Queue()
        args = (handle.host, handle.port, "bench", env["COLONIES_PRVKEY"])
        procs = [ctx.Process(target=_worker, args=(which, *args, keys[i], seconds, q)) for i in range(workers)]
        server_code = os.readlink(f"/proc/{handle.proc.pid}/cwd")  # where its hpcq came from
        cpu0, t0 = proc_cpu_s(handle.proc.pid), time.perf_counter()
        for p in procs:
            p.start()
        res = [q.get(timeout=seconds + 120) for _ in procs]
        server_cpu, wall = proc_cpu_s(handle.proc.pid) - cpu0, time.perf_counter() - t0
        for p in procs:
            p.join()
    finally:
        handle.stop()
    cycles = sum(r["cycles"] for r in res)
    return {
        "client": which,
        "server": "baseline" if tree else "current",
        "server_code": server_code,
        "workers": workers,
        "cycles": cycles,
        "cycles_per_s": round(cycles / max(r["wall"] for r in res), 1),
        "server_cpu_ms_per_cycle": round(1000 * server_cpu / cycles, 3),
        "server_cpu_util": round(server_cpu / wall, 2),
        "client_cpu_ms_per_cycle": round(1000 * sum(r["cpu_s"] for r in res) / cycles, 2),
        "client_sign_cpu_ms_per_cycle": round(1000 * sum(r["sign_s"] for r in res) / cycles, 3),
    }


def inproc(seconds: float, profile: bool) -> dict:
    """Server handling alone: api.handle on envelopes signed beforehand, no HTTP, one thread.
    Uses only api.handle, open_ctx and init_colony, so it runs against older server code too."""
    from crypto import sign  # pycolonies' signer: outside the timed part, and in every hpcq version

    from hpcq.server import api

    try:  # the server's settings and context since issue 20 ...
        from hpcq.config import ServerSettings as Config
        from hpcq.server.context import open_ctx
    except ImportError:  # ... and before (--baseline of an older revision)
        from hpcq.server.httpd import ServerConfig as Config
        from hpcq.server.httpd import open_ctx

    d = Path(tempfile.mkdtemp(prefix="hpcq-bench-inproc-"))
    env = init_colony(d, colony="bench")
    ctx = open_ctx(Config(data_dir=d))
    ek, owner = new_prvkey(), env["COLONIES_COLONY_PRVKEY"]

    def envelope(msg, key):
        payload = base64.b64encode(json.dumps(msg).encode()).decode()
        return json.dumps({"payloadtype": msg["msgtype"], "payload": payload, "signature": sign(payload, key)}).encode()

    def call(body):
        st, reply = api.handle(ctx, body)
        assert st == 200, reply
        return json.loads(base64.b64decode(json.loads(reply)["payload"]))

    ex = {"executorname": "ex", "executorid": id_from_prvkey(ek), "colonyname": "bench", "executortype": "bench"}
    call(envelope({"msgtype": "addexecutormsg", "executor": ex}, owner))
    call(envelope({"msgtype": "approveexecutormsg", "colonyname": "bench", "executorname": "ex"}, owner))
    spec = {
        "nodename": "bench",
        "funcname": "bench",
        "args": ["x"],
        "maxexectime": -1,
        "maxretries": -1,
        "maxwaittime": -1,
        "conditions": {"colonyname": "bench", "executortype": "bench"},
    }
    submit = envelope({"msgtype": "submitfuncspecmsg", "spec": spec}, env["COLONIES_PRVKEY"])
    assign = envelope({"msgtype": "assignprocessmsg", "colonyname": "bench", "timeout": -1}, ek)
    prof = cProfile.Profile() if profile else None

    def timed(fn):
        t = time.perf_counter()
        if prof:
            prof.enable()
        try:
            return fn()
        finally:
            if prof:
                prof.disable()
            dt = time.perf_counter() - t
            timing[0] += dt
            lat.append(dt)

    statements = [0]  # SQL statements run (BEGIN/COMMIT included): work, whatever the load
    ctx.store.db.set_trace_callback(lambda _sql: statements.__setitem__(0, statements[0] + 1))
    timing, signing, n, lat = [0.0], 0.0, 0, []
    cpu0 = time.process_time()  # every thread of this process: the WAL checkpointer too
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        pid = timed(lambda: call(submit))["processid"]
        # the close is signed outside the clock (and its CPU taken off): only the server's work counts
        s0 = time.thread_time()
        close = envelope({"msgtype": "closesuccessfulmsg", "processid": pid, "out": ["ok"]}, ek)
        signing += time.thread_time() - s0
        assert timed(lambda: call(assign))["processid"] == pid
        timed(lambda close=close: call(close))
        n += 1
    cpu = time.process_time() - cpu0 - signing
    ctx.store.db.set_trace_callback(None)
    ctx.store.close()
    lat.sort()
    import hpcq

    out = {
        "hpcq": str(Path(hpcq.__file__).parent),
        "cycles": n,
        "server_cpu_ms_per_cycle": round(1000 * cpu / n, 3),
        "server_wall_ms_per_cycle": round(1000 * timing[0] / n, 3),
        "sql_statements_per_cycle": round(statements[0] / n, 2),
        # one request's time in api.handle (the store lock held): p50, p99, max
        "request_ms_p50_p99_max": [round(1000 * lat[int(q * (len(lat) - 1))], 2) for q in (0.5, 0.99, 1.0)],
    }
    out["cycles_per_s_one_thread"] = round(1000 / out["server_wall_ms_per_cycle"], 1)
    if prof:
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(20)
        lines = s.getvalue().splitlines()
        start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
        out["profile_tottime_top20"] = [line.rstrip() for line in lines[start:] if line.strip()]
    return out


def inproc_in(tree: Path | None, seconds: float, profile: bool) -> dict:
    """inproc() in a fresh interpreter whose hpcq is ``tree`` (or this checkout)."""
    env = dict(os.environ, HPCQ_BENCH_TREE=str(tree or ROOT))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--inproc-only", "--seconds", str(seconds)]
    if profile:
        cmd.append("--profile")
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, cwd=str(tree or ROOT)).stdout
    return json.loads(out)


def export_tree(rev: str) -> tuple[Path, str]:
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", rev], check=True, capture_output=True, text=True)
    d = Path(tempfile.mkdtemp(prefix="hpcq-bench-baseline-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "hpcq"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(d)], input=archive.stdout, check=True)
    return d, sha.stdout.strip()


def markdown(result: dict) -> str:
    """The tables of docs/performance.md "Server throughput", from a server.json."""
    rows = result["rows"]
    lines = [
        "| client | workers | cycles/s | server CPU ms/cycle | server CPU util | client CPU ms/cycle | of it signing |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["server"] != "current", CLIENTS.index(r["client"]), r["workers"])):
        name = r["client"] + (" (baseline server)" if r["server"] == "baseline" else "")
        lines.append(
            f"| {name} | {r['workers']} | {r['cycles_per_s']} | {r['server_cpu_ms_per_cycle']} | "
            f"{r['server_cpu_util']} | {r['client_cpu_ms_per_cycle']} | {r['client_sign_cpu_ms_per_cycle']} |"
        )
    trees = [k for k, v in result["inproc"].items() if isinstance(v, dict)]
    lines += ["", "| in-process server, one thread | " + " | ".join(trees) + " |"]
    lines.append("|---|" + "---|" * len(trees))
    for key in ("server_cpu_ms_per_cycle", "runs_cpu_ms", "sql_statements_per_cycle", "request_ms_p50_p99_max"):
        vals = [result["inproc"][k].get(key, "") for k in trees]
        lines.append(f"| {key} | " + " | ".join(str(v) for v in vals) + " |")
    return "\n".join(lines)


def inproc_rounds(base, seconds: float) -> dict:
    """In-process: ROUNDS short runs per tree, interleaved (the load moves); the median counts."""
    trees = {"current": None, **({"baseline": base} if base else {})}
    runs: dict = {k: [] for k in trees}
    for _ in range(INPROC_ROUNDS):
        for name, tree in trees.items():
            runs[name].append(inproc_in(tree, seconds / 2, False))
    out = {}
    for name, rs in runs.items():
        med = sorted(rs, key=lambda r: r["server_cpu_ms_per_cycle"])[len(rs) // 2]
        out[name] = dict(med, runs_cpu_ms=[r["server_cpu_ms_per_cycle"] for r in rs])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--baseline", default="", help="git revision whose server code to measure beside this one")
    ap.add_argument("--profile", action="store_true", help="cProfile the in-process server loop")
    ap.add_argument("--inproc-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--markdown", action="store_true", help="print the docs tables of bench/results/server.json")
    args = ap.parse_args()
    if args.markdown:
        print(markdown(json.loads((ROOT / "bench" / "results" / "server.json").read_text())))
        return
    if args.inproc_only:
        print(json.dumps(inproc(args.seconds, args.profile)))
        return
    counts = [int(x) for x in args.workers.split(",")]
    base, base_sha = export_tree(args.baseline) if args.baseline else (None, "")
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    result: dict = {
        "machine": {"cpus": os.cpu_count(), "loadavg_start": os.getloadavg()},
        "seconds_per_row": args.seconds,
        "current": {
            "rev": head,
            "dirty": bool(
                subprocess.run(
                    ["git", "-C", str(ROOT), "status", "--porcelain", "hpcq/server"], capture_output=True, text=True
                ).stdout.strip()
            ),
        },
        "rows": [],
    }
    if base:
        result["baseline"] = {"rev": base_sha}
    for w in counts:
        for which in CLIENTS:
            result["rows"].append(run_row(which, w, args.seconds, None))
        if base:
            for which in CLIENTS[1:]:
                result["rows"].append(run_row(which, w, args.seconds, base))
    result["inproc"] = inproc_rounds(base, args.seconds)
    if args.profile:  # a separate run: cProfile slows what it measures
        result["inproc"]["profile_current"] = inproc_in(None, args.seconds, True)["profile_tottime_top20"]
    result["machine"]["loadavg_end"] = os.getloadavg()

    def best(client, server="current"):
        rows = [r for r in result["rows"] if r["client"] == client and r["server"] == server]
        return max(rows, key=lambda r: r["cycles_per_s"])

    summary = {
        "best_pycolonies_cycles_per_s": best("pycolonies")["cycles_per_s"],
        "best_hpcq_cycles_per_s": best("hpcq")["cycles_per_s"],
        "speedup_hpcq_vs_pycolonies": round(best("hpcq")["cycles_per_s"] / best("pycolonies")["cycles_per_s"], 2),
        "server_cpu_ms_per_cycle_inproc": result["inproc"]["current"]["server_cpu_ms_per_cycle"],
    }
    if base:
        b = result["inproc"]["baseline"]["server_cpu_ms_per_cycle"]
        summary["server_cpu_ms_per_cycle_inproc_baseline"] = b
        summary["inproc_cpu_ratio_baseline_vs_current"] = round(b / summary["server_cpu_ms_per_cycle_inproc"], 2)
        ab = []  # the same client, workers and moment: baseline server code vs current
        for r in result["rows"]:
            if r["server"] != "baseline":
                continue
            cur = next(
                x
                for x in result["rows"]
                if x["server"] == "current" and x["client"] == r["client"] and x["workers"] == r["workers"]
            )
            ab.append(
                {
                    "client": r["client"],
                    "workers": r["workers"],
                    "cycles_per_s": [r["cycles_per_s"], cur["cycles_per_s"]],
                    "server_cpu_ms_per_cycle": [r["server_cpu_ms_per_cycle"], cur["server_cpu_ms_per_cycle"]],
                }
            )
        summary["baseline_vs_current"] = ab
    result["summary"] = summary
    out = ROOT / "bench" / "results" / "server.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
