"""End-to-end latency of a trivial process through hpcq vs plain submitit, side by side.

hpcq:     pycolonies submit_func_spec(hpcq_echo) -> embedded server -> executor subprocess (assign,
          validate, journal, sbatch via submitit) -> Slurm job -> Outcome -> close -> the client
          sees SUCCESS (get_process polled every --client-poll s).
submitit: AutoExecutor(cluster="slurm").submit(the same function) -> job.done() polled every
          --client-poll s (the tight baseline), and job.result() as shipped (sleeps 1 s per poll).

Runs alternate (hpcq, submitit, submitit-default, ...) on the same cluster so drift hits all
equally. Writes bench/results/executor.json and prints it.

    .venv/bin/python bench/bench_executor.py [--runs 15] [--slurm-conf PATH]
(without --slurm-conf / SLURM_CONF it starts a throw-away lab cluster with scripts/slurm-up.sh)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hpcq.colonyos import ProcessState

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def hpcq_once(client, colony: str, prvkey: str, etype: str, poll: float, i: int) -> float:
    from pycolonies import func_spec

    from hpcq.functions import encode_kwargs

    spec = func_spec(
        "hpcq_echo",
        [],
        colony,
        etype,
        kwargs=encode_kwargs({"message": f"bench {i}"}),
        maxexectime=3600,
        maxretries=0,
        maxwaittime=-1,
    )
    spec.conditions.walltime = 60
    t0 = time.perf_counter()
    p = client.submit_func_spec(spec, prvkey)
    while True:
        p = client.get_process(p.processid, prvkey)
        if p.state == ProcessState.SUCCESS:
            return time.perf_counter() - t0
        if p.state == ProcessState.FAILED:
            raise RuntimeError(f"hpcq run {i} failed: {p.errors}")
        time.sleep(poll)


def submitit_once(folder: Path, poll: float | None, i: int) -> float:
    import submitit

    from hpcq.executor.profiles import signal_lead_s
    from hpcq.executor.selftest import echo
    from hpcq.functions import JobContext
    from hpcq.job.runner import job_python_command

    # the same Slurm request as hpcq's side: USR2 lead from the walltime and USR2 ignored at start
    # (submitit's --signal=USR2@90 on a 1-min limit killed jobs at once; issue 14 item 7)
    ex = submitit.AutoExecutor(folder=folder / "%j", cluster="slurm", slurm_python=job_python_command())
    ex.update_parameters(
        timeout_min=1,
        nodes=1,
        tasks_per_node=1,
        cpus_per_task=1,
        name=f"plain-{i}",
        slurm_signal_delay_s=signal_lead_s(60),
    )
    t0 = time.perf_counter()
    job = ex.submit(echo, {"message": f"bench {i}"}, JobContext())
    if poll is None:
        job.result()  # submitit as shipped: Job.wait() sleeps 1 s between checks
    else:
        while not job.done():
            time.sleep(poll)
        job.result()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--client-poll", type=float, default=0.02, help="client-side poll interval (s), both sides")
    ap.add_argument("--slurm-conf", default=os.environ.get("SLURM_CONF"))
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "executor.json")
    args = ap.parse_args()
    if args.runs < 10:
        ap.error("--runs must be >= 10")

    from pycolonies import Colonies

    from hpcq.executor.lab import local_cluster
    from hpcq.server.launch import init_colony, start_server

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hpcq-bench-")))
        if args.slurm_conf:
            os.environ["SLURM_CONF"] = args.slurm_conf
            cluster_note = f"existing cluster {args.slurm_conf}"
        else:
            cluster = stack.enter_context(local_cluster(tmp / "slurm-lab", nodes=2, cpus=8, set_env=True))
            cluster_note = (
                f"lab cluster {len(cluster.nodes)} nodes x {cluster.cpus} CPUs (slurm-up {cluster.up_seconds:.1f} s)"
            )
        handle = start_server(tmp / "server", port=0, env={"COLONIES_SERVER_PRVKEY": ""})
        stack.callback(handle.stop)
        env = init_colony(handle, colony="bench")
        client = Colonies(handle.host, handle.port)
        etype = "hpcq-bench"
        ex_env = {**os.environ, **env, "HPCQ_CONFIG_DIR": str(tmp / "cfg"), "PYTHONUNBUFFERED": "1"}
        ex_log = open(tmp / "executor.log", "w")  # noqa: SIM115 - the executor subprocess writes it; closed at the end
        ex = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hpcq.executor",
                "start",
                "--state-dir",
                str(tmp / "state"),
                "--type",
                etype,
                "--backend",
                "slurm",
                "--name",
                "bench-executor",
            ],
            env=ex_env,
            stdout=ex_log,
            stderr=subprocess.STDOUT,
        )
        stack.callback(lambda: (ex.terminate(), ex.wait(30)))
        deadline = time.monotonic() + 60
        while "serving colony" not in (tmp / "executor.log").read_text():
            if ex.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("executor did not start:\n" + (tmp / "executor.log").read_text())
            time.sleep(0.1)

        prv = env["COLONIES_PRVKEY"]
        series: dict[str, list[float]] = {"hpcq": [], "submitit_poll": [], "submitit_default": []}
        for i in range(args.warmup + args.runs):
            h = hpcq_once(client, env["COLONIES_COLONY_NAME"], prv, etype, args.client_poll, i)
            s = submitit_once(tmp / "plain", args.client_poll, i)
            d = submitit_once(tmp / "plain", None, i)
            if i >= args.warmup:
                series["hpcq"].append(h)
                series["submitit_poll"].append(s)
                series["submitit_default"].append(d)
            print(
                f"run {i:2d}{' (warm-up)' if i < args.warmup else ''}: hpcq {h:.3f} s, "
                f"submitit(poll {args.client_poll}s) {s:.3f} s, submitit default {d:.3f} s",
                flush=True,
            )

    med = {k: statistics.median(v) for k, v in series.items()}
    result = {
        "bench": "executor end-to-end latency, trivial process (hpcq_echo)",
        "runs": args.runs,
        "warmup": args.warmup,
        "client_poll_s": args.client_poll,
        "median_s": {k: round(v, 4) for k, v in med.items()},
        "ratio_hpcq_vs_submitit_poll": round(med["hpcq"] / med["submitit_poll"], 3),
        "ratio_hpcq_vs_submitit_default": round(med["hpcq"] / med["submitit_default"], 3),
        "goal_ratio": 1.15,
        "samples_s": {k: [round(x, 4) for x in v] for k, v in series.items()},
        "cluster": cluster_note,
        "host": {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps(
            {k: result[k] for k in ("median_s", "ratio_hpcq_vs_submitit_poll", "ratio_hpcq_vs_submitit_default")},
            indent=2,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
