"""Round trip of one small EstimatorV2.run() (2 qubits, 1 parameter set, 3 Pauli terms; run() ->
result()) in three modes, side by side in one run, alternating so drift hits all equally:

  local    mode="local": the same primitive_run function in-process
  session  mode=Session: a ColonyOS process routed by the executor into a running Slurm job
  fresh    mode="remote": a ColonyOS process -> executor -> a new Slurm job (sbatch, python, Aer)

It starts its own lab Slurm cluster, embedded server and executor. Writes
bench/results/primitives.json and prints it.

    .venv/bin/python bench/bench_primitives.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()

    import numpy as np
    from qiskit.circuit.library import efficient_su2
    from qiskit.quantum_info import SparsePauliOp

    from hpcq.config import Settings
    from hpcq.executor.lab import local_cluster
    from hpcq.primitives import EstimatorV2, Session
    from hpcq.server.launch import init_colony, start_server
    from hpcq.testing.faults import ExecutorProc

    qc = efficient_su2(2, reps=1)
    ham = SparsePauliOp.from_list([("ZZ", 1.0), ("XI", 0.4), ("IX", 0.4)])
    x = np.linspace(0, 1, qc.num_parameters)
    samples: dict[str, list[float]] = {"local": [], "session": [], "fresh": []}
    with tempfile.TemporaryDirectory(prefix="hpcq-bench-prim-") as tmp_s:
        tmp = Path(tmp_s)
        with local_cluster(tmp / "lab", nodes=2, cpus=8, dbd=True, set_env=True) as cluster:
            handle = start_server(tmp / "server", port=0, env={"COLONIES_SERVER_PRVKEY": ""})
            env = init_colony(handle, colony="dev", env_file=tmp / "colonies.env")
            settings = Settings(
                host=handle.host,
                port=handle.port,
                colony_name=env["COLONIES_COLONY_NAME"],
                prvkey=env["COLONIES_PRVKEY"],
            )
            xenv = cluster.env(**env)
            xenv.update(HPCQ_CONFIG_DIR=str(tmp / "config"))
            xenv.pop("HPCQ_EXECUTOR_PRVKEY", None)
            ex = ExecutorProc(
                env_file=None,
                state_dir=tmp / "state",
                name="bench-prim",
                executor_type="hpcq-bench",
                extra_args=["--poll", "0.02"],
                env=xenv,
            ).start()
            try:
                opts = {"executor_type": "hpcq-bench", "profile": "local", "resources": {"walltime": 600, "mem": "1Gi"}}
                local = EstimatorV2(mode="local")
                fresh = EstimatorV2(mode="remote", settings=settings, **opts)
                with Session(settings=settings, idle_timeout_s=300, **opts) as session:
                    in_session = EstimatorV2(mode=session, **opts)
                    for est in (local, in_session, fresh):  # warm-up: imports, the session's job start
                        est.run([(qc, ham, x)]).result()
                    for _ in range(args.runs):
                        for name, est in (("local", local), ("session", in_session), ("fresh", fresh)):
                            t0 = time.perf_counter()
                            est.run([(qc, ham, x)]).result()
                            samples[name].append(time.perf_counter() - t0)
            finally:
                ex.stop()
                handle.stop()
    med = {k: statistics.median(v) for k, v in samples.items()}
    out = {
        "bench": "primitives round trip (EstimatorV2.run(...).result(), 2 qubits, 1 parameter set)",
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "host": platform.node(),
        "runs": args.runs,
        "median_s": {k: round(v, 4) for k, v in med.items()},
        "min_s": {k: round(min(v), 4) for k, v in samples.items()},
        "max_s": {k: round(max(v), 4) for k, v in samples.items()},
        "fresh_over_session": round(med["fresh"] / med["session"], 2),
        "session_over_local": round(med["session"] / med["local"], 2),
        "samples_s": {k: [round(s, 4) for s in v] for k, v in samples.items()},
    }
    path = REPO / "bench" / "results" / "primitives.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "samples_s"}, indent=2))


if __name__ == "__main__":
    main()
