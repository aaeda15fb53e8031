#!/usr/bin/env bash
# GPU path check on ONE NVIDIA GPU machine (CUDA 12 driver), a few minutes (issue 11 item 5).
# UNRUN on a GPU: none was lent when it was written; its CPU parts run here (GPU_CHECK_CPU=1, tested).
#
#  1. installs hpcq + qiskit-aer-gpu (CUDA 12 wheel, cuStateVec from cuquantum-cu12) into a throwaway
#     venv; qiskit-aer is removed first: both wheels ship the module qiskit_aer, the last one wins;
#  2. checks that Aer reports a GPU and what hpcq records about it (hpcq.sim.aer_env.aer_build);
#  3. times one N-qubit statevector energy (real_amplitudes reps 2, TFIM, one operator) with
#     cuStateVec off and on (same energy to 1e-8), and a 1-evaluation hpcq task with device: GPU;
#  4. writes the figures to $RESULT (bench/results/gpu_check.json) and prints them.
#
# Usage: bench/gpu_check.sh [QUBITS]    30 qubits (double) = 16 GiB of GPU memory; 28 on a 16 GB GPU
#   GPU_VENV=DIR  venv to create (default /tmp/hpcq-gpu-venv)
#   GPU_CHECK_CPU=1  no install, this repo's .venv, device CPU, 12 qubits: the script's own check
#   RESULT=FILE   where the figures go
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${GPU_CHECK_CPU:-0}" == 1 ]]; then
  N="${1:-12}"; DEVICE=CPU; PY="${PYTHON:-.venv/bin/python}"
else
  N="${1:-30}"; DEVICE=GPU
  VENV="${GPU_VENV:-/tmp/hpcq-gpu-venv}"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -e .
  "$VENV/bin/pip" uninstall -q -y qiskit-aer
  "$VENV/bin/pip" install -q "qiskit-aer-gpu==0.18.2" "cuquantum-cu12>=23.3,<24.11"
  PY="$VENV/bin/python"
fi
RESULT="${RESULT:-bench/results/gpu_check.json}"
mkdir -p "$(dirname "$RESULT")"
HPCQ_NO_MPI=1 "$PY" - "$N" "$DEVICE" "$RESULT" <<'PY'
import json, platform, sys, time

import numpy as np
from qiskit.circuit.library import real_amplitudes
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer import AerSimulator

from hpcq.sim import aer_env
from hpcq.sim.spec import parse_sweep
from hpcq.sim.vqe import run_task

n, device, result = int(sys.argv[1]), sys.argv[2], sys.argv[3]
build = aer_env.aer_build()
print("aer:", build)
if device == "GPU" and "GPU" not in build["aer_devices"].split(","):
    sys.exit(f"this qiskit-aer-gpu sees no GPU: {build}")
out = {"host": platform.node(), "device": device, "qubits": n, "aer": build, "raw_aer": {}}
qc = real_amplitudes(n, reps=2)
x = np.random.default_rng(0).uniform(-np.pi, np.pi, qc.num_parameters)
H = SparsePauliOp.from_sparse_list(
    [("ZZ", [i, i + 1], -1.0) for i in range(n - 1)] + [("X", [i], -1.0) for i in range(n)], n
)
circ = qc.assign_parameters(x)
circ.save_expectation_value(H, list(range(n)), label="e")
for cusv in ((False, True) if device == "GPU" else (False,)):
    sim = AerSimulator(method="statevector", device=device, cuStateVec_enable=cusv)
    t = time.perf_counter()
    r = sim.run(circ).result()
    wall = time.perf_counter() - t
    e = float(np.real(r.data(0)["e"]))
    md = r.results[0].metadata
    out["raw_aer"][f"custatevec_{'on' if cusv else 'off'}"] = {
        "energy": e, "wall_s": round(wall, 3), "device": md.get("device"), "cuStateVec_enable": md.get("cuStateVec_enable")
    }
    print(f"{n} qubits, cuStateVec={cusv}: E={e:.12f} wall={wall:.2f} s device={md.get('device')}", flush=True)
raw = out["raw_aer"]
if len(raw) == 2:
    assert abs(raw["custatevec_on"]["energy"] - raw["custatevec_off"]["energy"]) < 1e-8, "cuStateVec on/off disagree"
# hpcq's own path: one evaluation of a TFIM task with device set, what the task records
m = min(n, 24)
spec = parse_sweep({
    "problems": [{"kind": "tfim", "n_qubits": m}], "ansatze": [{"kind": "real_amplitudes", "reps": 1}],
    "optimizers": [{"kind": "cobyla", "maxiter": 1}], "method": "statevector", "device": device,
}).tasks()[0]
t = time.perf_counter()
r = run_task(spec, x0=np.zeros(2 * m), optimize=False)  # real_amplitudes reps 1: 2 angles per qubit
out["hpcq_task"] = {
    "qubits": m, "device": r.device, "energy": r.metrics["energy"], "custatevec": r.metrics.get("custatevec"),
    "wall_s": round(time.perf_counter() - t, 3),
}
print("hpcq task:", out["hpcq_task"])
assert r.device == device
if device == "GPU":
    assert r.metrics.get("custatevec") == 1.0
with open(result, "w") as f:
    json.dump(out, f, indent=1)
print("figures in", result)
PY
