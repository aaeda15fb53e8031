"""Signed submit -> assign -> close cycles per second: hpcq's embedded server and the real colonies server.

Run: nice -n 10 .venv/bin/python bench/bench_server.py [--seconds 6] [--workers 1,2,4]
         [--servers embedded,colonies] [--baseline REV] [--profile] [--markdown]

Why: the embedded server imitates ColonyOS; what a site gives up or gains by running it instead of
the real colonies server (Go + PostgreSQL) is a throughput and CPU question, answered here in one
run on one machine, so the load hits both sides.

Measured side by side in one run, a fresh server for each row, rows interleaved (for each worker
count and client: the embedded row, then the real server's row):
  servers     embedded  hpcq's server (this checkout's code; with --baseline also REV's code);
              colonies  the real colonies server (hpcq.testing.colonies_lab.RealServer, v1.9.12,
                        its binary's defaults, its own PostgreSQL cluster with fsync=off);
              by default both, the real one only where the lab can run (else left out, with
              the reason in the results as servers_left_out); named in --servers, it must run;
  clients     pycolonies  the unmodified pycolonies client (pure-Python signing, a new TCP connection
                          per request) in W client processes, each a submitter + an executor doing
                          submit -> assign -> close;
              hpcq        the same loop through hpcq's own client, exactly as hpcq ships it
                          (hpcq.colonyos.client: pycolonies with libsecp256k1 signing, byte-identical
                          signatures, one keep-alive connection per process and thread), W processes;
  inproc      the embedded server's request handling alone (api.handle on pre-signed envelopes, no
              HTTP), one thread, with a cProfile of it (--profile) to say where server time goes.
Server CPU is read from /proc/<pid>/stat for every process of the server: the embedded server's
process; for the real server the colonies process and all processes of its PostgreSQL cluster (the
postmaster named by the cluster's postmaster.pid and its process tree, backends included; processes
that exit during a row count through their parent's cutime/cstime), reported split as
server_cpu_parts_ms_per_cycle. server_idle_cpu_util is the same servers' CPU per wall second before
the clients start (the real server's background loops). CPU times are reported next to wall times
because the machine is shared: they do not depend on the load, wall times do. server_cpu_util is
the server's CPU seconds per wall second: near 1.0 for the embedded server, its one interpreter
(GIL) is saturated, so the server, not the clients, bounds the rate.
With --baseline REV the embedded hpcq rows and inproc are also run against the server code of git
revision REV (exported with `git archive` into a temporary folder, on PYTHONPATH for the server
process only), interleaved with the current code's rows: server CPU ms/cycle before and after.
Writes bench/results/server.json and prints it; --markdown prints the docs tables of that file.
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
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# HPCQ_BENCH_TREE: the hpcq to import (inproc_in runs this file against a baseline tree)
sys.path.insert(0, os.environ.get("HPCQ_BENCH_TREE") or str(ROOT))

from hpcq.colonyos.signing import id_from_prvkey, new_prvkey  # noqa: E402
from hpcq.server.launch import init_colony, start_server  # noqa: E402

CLIENTS = ("pycolonies", "hpcq")
SERVERS = ("embedded", "colonies")
INPROC_ROUNDS = 5
IDLE_S = 2.0  # the servers' background CPU is read over this long before the clients start
RESULT = ROOT / "bench" / "results" / "server.json"


def _make_client(which: str, host: str, port: int):
    if which == "hpcq":
        from hpcq.colonyos import client

        return client(host, port)
    from pycolonies import Colonies

    return Colonies(host, port)


def _timed(fn: Callable, sign_time: list) -> Callable:
    def timed(*args):
        t = time.thread_time()  # CPU: a preempted signer does not count its wait
        try:
            return fn(*args)
        finally:
            sign_time[0] += time.thread_time() - t

    return timed


def _time_signing(sign_time: list) -> None:
    """Wrap every signer a client may call with a timer: pycolonies' Crypto.sign, hpcq's FastCrypto.sign,
    and the module-level sign that hpcq's client (hpcq.colonyos.rpc) calls directly."""
    import crypto

    from hpcq.colonyos import rpc
    from hpcq.colonyos.signing import FastCrypto

    for cls in (crypto.Crypto, FastCrypto):
        cls.sign = _timed(cls.sign, sign_time)  # type: ignore[method-assign]
    if hasattr(rpc, "sign"):  # older hpcq signed through FastCrypto only
        rpc.sign = _timed(rpc.sign, sign_time)


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


def _stat_fields(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process (load-independent, unlike wall time)."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(root: int) -> float:
    """CPU seconds of a process tree: utime + stime + cutime + cstime of each live process under
    ``root`` (root included). A process that exits between two readings is not lost: its parent
    reaps it and its CPU moves into the parent's cutime/cstime, so the difference of two readings is
    the tree's CPU in between (PostgreSQL's backends and autovacuum workers come and go)."""
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            f = _stat_fields(int(d.name))
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited while we looked
        children.setdefault(int(f[1]), []).append(int(d.name))
        ticks[int(d.name)] = sum(int(x) for x in f[11:15])
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo += children.get(pid, [])
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class BenchServer:
    """One server under test: where clients reach it, its colony's keys, and the process trees
    whose CPU counts as the server's (by part: "hpcq", or "colonies" and "postgres")."""

    kind: str
    label: str  # "current" | "baseline" | "colonies"
    host: str
    port: int
    env: dict[str, str]
    roots: dict[str, int]
    code: str
    stop: Callable[[], None]
    version: str = ""
    counters: Callable[[], dict[str, int]] | None = None  # the real server's PostgreSQL work counters

    def cpu_parts(self) -> dict[str, float]:
        return {part: tree_cpu_s(pid) for part, pid in self.roots.items()}


def start_embedded(tree: Path | None) -> BenchServer:
    """A fresh embedded server from ``tree`` (or this checkout) with a colony "bench"."""
    data = Path(tempfile.mkdtemp(prefix="hpcq-bench-"))
    cwd = os.getcwd()
    os.chdir(tree or ROOT)  # `python -m hpcq.server` imports hpcq from its working directory first
    try:
        env = {"COLONIES_SERVER_PRVKEY": "", **({"PYTHONPATH": str(tree)} if tree is not None else {})}
        handle = start_server(data / "srv", env=env)
    finally:
        os.chdir(cwd)
    assert handle.proc is not None

    def stop() -> None:
        handle.stop()
        shutil.rmtree(data, ignore_errors=True)

    try:
        colony = init_colony(handle, colony="bench")
    except BaseException:
        stop()
        raise
    pid = handle.proc.pid
    code = os.readlink(f"/proc/{pid}/cwd")  # where its hpcq came from
    label = "baseline" if tree else "current"
    return BenchServer("embedded", label, handle.host, handle.port, colony, {"hpcq": pid}, code, stop)


def start_colonies() -> BenchServer:
    """A fresh real colonies server (the lab's RealServer: its own PostgreSQL cluster) with a colony
    "bench"; its CPU is the colonies process tree plus the postmaster's tree."""
    from hpcq.testing.colonies_lab import RealServer, lab_available

    ok, why = lab_available()
    if not ok:
        raise SystemExit(f"--servers colonies: the real colonies server cannot run here: {why} (or --servers embedded)")
    srv = RealServer().start()
    try:
        colony = srv.new_colony("bench")
        assert srv.proc is not None and srv.pg is not None
        postmaster = int((srv.pg.data_dir / "postmaster.pid").read_text().split()[0])
        code = os.readlink(f"/proc/{srv.proc.pid}/exe")
    except BaseException:
        srv.close()
        raise
    roots = {"colonies": srv.proc.pid, "postgres": postmaster}
    counters = partial(pg_counters, srv.pg.port)
    return BenchServer(
        "colonies", "colonies", srv.host, srv.port, colony, roots, code, srv.close, srv.version, counters
    )


PG_COUNTERS = ("xact_commit", "tup_returned", "tup_fetched", "tup_inserted", "tup_updated", "tup_deleted")


def pg_counters(port: int) -> dict[str, int]:
    """PostgreSQL's cumulative work counters of colonies' database (pg_stat_database "postgres"):
    transactions committed and rows read (tup_returned: by sequential and index scans) and written."""
    from hpcq.testing.colonies_lab import PG_BIN

    sql = f"SELECT {', '.join(PG_COUNTERS)} FROM pg_stat_database WHERE datname = 'postgres'"
    cmd = [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "postgres", "-Atc", sql]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    return dict(zip(PG_COUNTERS, (int(x) for x in out.split("|")), strict=True))


def add_executors(srv: BenchServer, n: int) -> list[str]:
    """``n`` approved executors of type "bench"; their private keys."""
    from pycolonies import Colonies

    admin, owner = Colonies(srv.host, srv.port), srv.env["COLONIES_COLONY_PRVKEY"]
    keys = []
    for i in range(n):
        k = new_prvkey()
        ex = {"executorname": f"ex{i}", "executorid": id_from_prvkey(k), "colonyname": "bench", "executortype": "bench"}
        admin.add_executor(ex, owner)
        admin.approve_executor("bench", f"ex{i}", owner)
        keys.append(k)
    return keys


def settled(counters: Callable[[], dict[str, int]], quiet_s: int = 3, limit_s: float = 15.0) -> dict[str, int]:
    """The counters once the load's last figures are in. PostgreSQL publishes a backend's counters
    when it idles, rate-limited to once a second per backend, so after a load they still grow for a
    few seconds (seen: 60 % of a row's transactions at once, no change for 1.5 s, then the rest):
    settled = no row written for ``quiet_s`` one-second reads in a row (the server's background
    loops only read)."""
    last, quiet, end = counters(), 0, time.monotonic() + limit_s
    while quiet < quiet_s and time.monotonic() < end:
        time.sleep(1.0)
        now = counters()
        same = all(now[k] == last[k] for k in ("tup_inserted", "tup_updated", "tup_deleted"))
        quiet, last = (quiet + 1 if same else 0), now
    return last


def _load(srv: BenchServer, which: str, workers: int, seconds: float) -> tuple[list[dict], dict, float, dict]:
    """The servers' idle CPU over IDLE_S, then W client processes for ``seconds``: (worker results,
    server CPU seconds by part, wall seconds, idle CPU seconds by part and the PostgreSQL counters'
    increase as "counters")."""
    keys = add_executors(srv, workers)
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    args = (srv.host, srv.port, "bench", srv.env["COLONIES_PRVKEY"])
    procs = [ctx.Process(target=_worker, args=(which, *args, keys[i], seconds, q)) for i in range(workers)]
    idle0 = srv.cpu_parts()
    time.sleep(IDLE_S)
    cpu0, t0 = srv.cpu_parts(), time.perf_counter()
    idle: dict = {k: cpu0[k] - idle0[k] for k in cpu0}
    n0 = srv.counters() if srv.counters else {}
    for p in procs:
        p.start()
    res = [q.get(timeout=seconds + 120) for _ in procs]
    cpu1, wall = srv.cpu_parts(), time.perf_counter() - t0
    for p in procs:
        p.join()
    if srv.counters:
        idle["counters"] = {k: v - n0[k] for k, v in settled(srv.counters).items()}
    return res, {k: cpu1[k] - cpu0[k] for k in cpu0}, wall, idle


def run_row(which: str, workers: int, seconds: float, kind: str = "embedded", tree: Path | None = None) -> dict:
    """A fresh server of ``kind`` (embedded: from ``tree``, or this checkout), W approved executors,
    W client processes."""
    srv = start_colonies() if kind == "colonies" else start_embedded(tree)
    try:
        res, cpu, wall, idle = _load(srv, which, workers, seconds)
    finally:
        srv.stop()
    cycles = sum(r["cycles"] for r in res)
    server_cpu = sum(cpu.values())
    return {
        "client": which,
        "server": srv.label,
        "server_kind": kind,
        **({"server_version": srv.version} if srv.version else {}),
        "server_code": srv.code,
        "workers": workers,
        "cycles": cycles,
        "cycles_per_s": round(cycles / max(r["wall"] for r in res), 1),
        "server_cpu_ms_per_cycle": round(1000 * server_cpu / cycles, 3),
        "server_cpu_parts_ms_per_cycle": {k: round(1000 * v / cycles, 3) for k, v in cpu.items()},
        "server_cpu_util": round(server_cpu / wall, 2),
        "server_idle_cpu_util": round(sum(v for k, v in idle.items() if k != "counters") / IDLE_S, 3),
        "client_cpu_ms_per_cycle": round(1000 * sum(r["cpu_s"] for r in res) / cycles, 2),
        "client_sign_cpu_ms_per_cycle": round(1000 * sum(r["sign_s"] for r in res) / cycles, 3),
        **(
            {"postgres_per_cycle": {k: round(v / cycles, 2) for k, v in idle["counters"].items()}}
            if srv.counters
            else {}
        ),
    }


def _envelope(msg: dict, key: str) -> bytes:
    from crypto import sign  # pycolonies' signer: outside the timed part, and in every hpcq version

    payload = base64.b64encode(json.dumps(msg).encode()).decode()
    return json.dumps({"payloadtype": msg["msgtype"], "payload": payload, "signature": sign(payload, key)}).encode()


def _inproc_setup(d: Path):
    """An opened server context on ``d`` with colony "bench", an approved executor; (ctx, call,
    the pre-signed submit and assign envelopes, the executor's key)."""
    from hpcq.server import api

    try:  # the server's settings and context since issue 20 ...
        from hpcq.config import ServerSettings as Config
        from hpcq.server.context import open_ctx
    except ImportError:  # ... and before (--baseline of an older revision)
        from hpcq.server.httpd import ServerConfig as Config  # type: ignore[no-redef,attr-defined]
        from hpcq.server.httpd import open_ctx

    env = init_colony(d, colony="bench")
    ctx = open_ctx(Config(data_dir=d))
    ek, owner = new_prvkey(), env["COLONIES_COLONY_PRVKEY"]

    def call(body):
        st, reply = api.handle(ctx, body)
        assert st == 200, reply
        return json.loads(base64.b64decode(json.loads(reply)["payload"]))

    ex = {"executorname": "ex", "executorid": id_from_prvkey(ek), "colonyname": "bench", "executortype": "bench"}
    call(_envelope({"msgtype": "addexecutormsg", "executor": ex}, owner))
    call(_envelope({"msgtype": "approveexecutormsg", "colonyname": "bench", "executorname": "ex"}, owner))
    spec = {
        "nodename": "bench",
        "funcname": "bench",
        "args": ["x"],
        "maxexectime": -1,
        "maxretries": -1,
        "maxwaittime": -1,
        "conditions": {"colonyname": "bench", "executortype": "bench"},
    }
    submit = _envelope({"msgtype": "submitfuncspecmsg", "spec": spec}, env["COLONIES_PRVKEY"])
    assign = _envelope({"msgtype": "assignprocessmsg", "colonyname": "bench", "timeout": -1}, ek)
    return ctx, call, submit, assign, ek


def _profile_top(prof: cProfile.Profile) -> list[str]:
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(20)
    lines = s.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    return [line.rstrip() for line in lines[start:] if line.strip()]


def inproc(seconds: float, profile: bool) -> dict:
    """Server handling alone: api.handle on envelopes signed beforehand, no HTTP, one thread.
    Uses only api.handle, open_ctx and init_colony, so it runs against older server code too."""
    ctx, call, submit, assign, ek = _inproc_setup(Path(tempfile.mkdtemp(prefix="hpcq-bench-inproc-")))
    prof = cProfile.Profile() if profile else None
    timing, signing, n, lat = [0.0], 0.0, 0, []

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
    cpu0 = time.process_time()  # every thread of this process: the WAL checkpointer too
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        pid = timed(lambda: call(submit))["processid"]
        # the close is signed outside the clock (and its CPU taken off): only the server's work counts
        s0 = time.thread_time()
        close = _envelope({"msgtype": "closesuccessfulmsg", "processid": pid, "out": ["ok"]}, ek)
        signing += time.thread_time() - s0
        assert timed(lambda: call(assign))["processid"] == pid
        timed(lambda close=close: call(close))
        n += 1
    cpu = time.process_time() - cpu0 - signing
    ctx.store.db.set_trace_callback(None)
    ctx.store.close()
    lat.sort()
    import hpcq

    out: dict[str, Any] = {
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
        out["profile_tottime_top20"] = _profile_top(prof)
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


ROW_ORDER = ("current", "colonies", "baseline")  # server.json files before the real server have no "colonies"


def _server_name(r: dict) -> str:
    if r["server"] == "colonies":
        return f"colonies {r.get('server_version', '')}".strip()
    return "embedded" + (" (baseline code)" if r["server"] == "baseline" else "")


def _rows_table(rows: list[dict]) -> list[str]:
    lines = [
        "| server | client | workers | cycles/s | server CPU ms/cycle | of it colonies + PostgreSQL | "
        "server CPU util | idle CPU util | client CPU ms/cycle | of it signing |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["workers"], CLIENTS.index(r["client"]), ROW_ORDER.index(r["server"]))):
        parts = r.get("server_cpu_parts_ms_per_cycle", {})
        split = f"{parts['colonies']} + {parts['postgres']}" if "postgres" in parts else ""
        lines.append(
            f"| {_server_name(r)} | {r['client']} | {r['workers']} | {r['cycles_per_s']} | "
            f"{r['server_cpu_ms_per_cycle']} | {split} | {r['server_cpu_util']} | "
            f"{r.get('server_idle_cpu_util', '')} | "
            f"{r['client_cpu_ms_per_cycle']} | {r['client_sign_cpu_ms_per_cycle']} |"
        )
    return lines


def _ratio_table(pairs: list[dict]) -> list[str]:
    lines = [
        "",
        "| client | workers | cycles/s embedded / real | real/embedded | server CPU ms/cycle embedded / real | "
        "real/embedded |",
        "|---|---|---|---|---|---|",
    ]
    for p in pairs:
        (ce, cr), (me, mr) = p["cycles_per_s"], p["server_cpu_ms_per_cycle"]
        lines.append(
            f"| {p['client']} | {p['workers']} | {ce} / {cr} | {p['ratio_cycles_per_s']} | {me} / {mr} | "
            f"{p['ratio_server_cpu']} |"
        )
    return lines


def _pg_table(rows: list[dict]) -> list[str]:
    rows = [r for r in rows if "postgres_per_cycle" in r]
    if not rows:
        return []
    lines = ["", "| real server's PostgreSQL, per cycle: client, workers | " + " | ".join(PG_COUNTERS) + " |"]
    lines.append("|---|" + "---|" * len(PG_COUNTERS))
    for r in rows:
        vals = [str(r["postgres_per_cycle"].get(k, "")) for k in PG_COUNTERS]
        lines.append(f"| {r['client']}, {r['workers']} | " + " | ".join(vals) + " |")
    return lines


def _inproc_table(inproc_result: dict) -> list[str]:
    trees = [k for k, v in inproc_result.items() if isinstance(v, dict)]
    lines = ["", "| in-process embedded server, one thread | " + " | ".join(trees) + " |"]
    lines.append("|---|" + "---|" * len(trees))
    for key in ("server_cpu_ms_per_cycle", "runs_cpu_ms", "sql_statements_per_cycle", "request_ms_p50_p99_max"):
        vals = [inproc_result[k].get(key, "") for k in trees]
        lines.append(f"| {key} | " + " | ".join(str(v) for v in vals) + " |")
    return lines


def markdown(result: dict) -> str:
    """The tables of docs/performance.md "Server throughput", from a server.json."""
    lines = _rows_table(result["rows"])
    pairs = result.get("summary", {}).get("colonies_vs_embedded")
    if pairs:
        lines += _ratio_table(pairs)
    lines += _pg_table(result["rows"])
    if result.get("inproc"):
        lines += _inproc_table(result["inproc"])
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


def _pairs(rows: list[dict], label: str) -> list[tuple[dict, dict]]:
    """Each row of server ``label`` with the current embedded row of the same client and workers."""
    out = []
    for r in rows:
        if r["server"] != label:
            continue
        key = (r["client"], r["workers"])
        cur = [x for x in rows if x["server"] == "current" and (x["client"], x["workers"]) == key]
        if cur:
            out.append((r, cur[0]))
    return out


def _vs_embedded(rows: list[dict]) -> list[dict]:
    """The real server next to the embedded one: same client, workers and moment; ratios real/embedded."""
    out = []
    for r, cur in _pairs(rows, "colonies"):
        parts = r["server_cpu_parts_ms_per_cycle"]
        out.append(
            {
                "client": r["client"],
                "workers": r["workers"],
                "cycles_per_s": [cur["cycles_per_s"], r["cycles_per_s"]],
                "server_cpu_ms_per_cycle": [cur["server_cpu_ms_per_cycle"], r["server_cpu_ms_per_cycle"]],
                "ratio_cycles_per_s": round(r["cycles_per_s"] / cur["cycles_per_s"], 2),
                "ratio_server_cpu": round(r["server_cpu_ms_per_cycle"] / cur["server_cpu_ms_per_cycle"], 2),
                "real_postgres_share": round(parts["postgres"] / max(r["server_cpu_ms_per_cycle"], 1e-9), 2),
            }
        )
    return out


def _vs_baseline(rows: list[dict]) -> list[dict]:
    """The same client, workers and moment: baseline server code vs current."""
    return [
        {
            "client": r["client"],
            "workers": r["workers"],
            "cycles_per_s": [r["cycles_per_s"], cur["cycles_per_s"]],
            "server_cpu_ms_per_cycle": [r["server_cpu_ms_per_cycle"], cur["server_cpu_ms_per_cycle"]],
        }
        for r, cur in _pairs(rows, "baseline")
    ]


def summarize(result: dict) -> dict:
    rows, summary = result["rows"], {}
    for label, suffix in (("current", ""), ("colonies", "_colonies")):
        best = {}
        for client in CLIENTS:
            rs = [r for r in rows if r["client"] == client and r["server"] == label]
            if rs:
                best[client] = summary[f"best_{client}_cycles_per_s{suffix}"] = max(r["cycles_per_s"] for r in rs)
        if len(best) == 2:
            summary[f"speedup_hpcq_vs_pycolonies{suffix}"] = round(best["hpcq"] / best["pycolonies"], 2)
    if "current" in result.get("inproc", {}):
        summary["server_cpu_ms_per_cycle_inproc"] = result["inproc"]["current"]["server_cpu_ms_per_cycle"]
    if _pairs(rows, "colonies"):
        summary["colonies_vs_embedded"] = _vs_embedded(rows)
    if "baseline" in result.get("inproc", {}):
        b = result["inproc"]["baseline"]["server_cpu_ms_per_cycle"]
        summary["server_cpu_ms_per_cycle_inproc_baseline"] = b
        summary["inproc_cpu_ratio_baseline_vs_current"] = round(b / summary["server_cpu_ms_per_cycle_inproc"], 2)
        summary["baseline_vs_current"] = _vs_baseline(rows)
    return summary


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True).stdout.strip()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--workers", default="1,2,4", help="client process counts, comma-separated")
    ap.add_argument(
        "--servers",
        default="",
        help="which servers to measure, comma-separated: embedded, colonies (default: both; only embedded, "
        "with a note in the results, where the real server cannot run; named explicitly, it must run)",
    )
    ap.add_argument("--baseline", default="", help="git revision whose embedded server code to measure beside this one")
    ap.add_argument("--profile", action="store_true", help="cProfile the in-process server loop")
    ap.add_argument("--inproc-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--markdown", action="store_true", help="print the docs tables of bench/results/server.json")
    args = ap.parse_args(argv)
    args.skipped = {}
    if not args.servers:
        from hpcq.testing.colonies_lab import lab_available

        ok, why = lab_available()
        args.servers = ",".join(SERVERS) if ok else "embedded"
        if not ok:
            args.skipped = {"colonies": why}
            print(f"bench_server: the real colonies server is left out: {why}", file=sys.stderr)
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    bad = [s for s in args.servers if s not in SERVERS]
    if bad or not args.servers:
        ap.error(f"--servers: unknown {bad or 'empty list'}; give a comma-separated subset of {','.join(SERVERS)}")
    try:
        args.workers = [int(x) for x in args.workers.split(",")]
    except ValueError:
        ap.error(f"--workers: {args.workers!r} is not a comma-separated list of client process counts, e.g. 1,2,4")
    if args.baseline and "embedded" not in args.servers:
        ap.error("--baseline compares embedded server code: add embedded to --servers")
    return args


def run_rows(args: argparse.Namespace, base: Path | None) -> list[dict]:
    """Interleaved: per worker count and client, embedded (current), the real server, embedded (baseline)."""
    rows = []
    for w in args.workers:
        for which in CLIENTS:
            for kind in args.servers:
                rows.append(run_row(which, w, args.seconds, kind))
            if base and which == "hpcq":
                rows.append(run_row(which, w, args.seconds, "embedded", base))
    return rows


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(RESULT.read_text())))
        return
    if args.inproc_only:
        print(json.dumps(inproc(args.seconds, args.profile)))
        return
    base, base_sha = export_tree(args.baseline) if args.baseline else (None, "")
    result: dict = {
        "machine": {"cpus": os.cpu_count(), "loadavg_start": os.getloadavg()},
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds_per_row": args.seconds,
        "servers": args.servers,
        **({"servers_left_out": args.skipped} if args.skipped else {}),
        "current": {"rev": _git("rev-parse", "HEAD"), "dirty": bool(_git("status", "--porcelain", "hpcq/server"))},
    }
    if base:
        result["baseline"] = {"rev": base_sha}
    result["rows"] = run_rows(args, base)
    if "embedded" in args.servers:
        result["inproc"] = inproc_rounds(base, args.seconds)
        if args.profile:  # a separate run: cProfile slows what it measures
            result["inproc"]["profile_current"] = inproc_in(None, args.seconds, True)["profile_tottime_top20"]
    result["machine"]["loadavg_end"] = os.getloadavg()
    result["finished_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    result["summary"] = summarize(result)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
