#!/usr/bin/env bash
# GPU path check on ONE NVIDIA GPU machine (CUDA 12 driver), a few minutes. UNRUN: no GPU was available
# when it was written (issue 11 item 5). Installs qiskit-aer-gpu into a throwaway venv, checks that Aer
# reports a GPU, and times one 30-qubit statevector energy with cuStateVec off and on.
# Usage: bench/gpu_check.sh [QUBITS=30]   (30 qubits double = 16 GiB of GPU memory: use 28 on a 16 GB GPU)
set -euo pipefail
N="${1:-30}"
VENV="${GPU_VENV:-/tmp/hpcq-gpu-venv}"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q "qiskit>=2.0,<3" "qiskit-aer-gpu==0.18.2" "cuquantum-cu12>=23.3,<24.11"
"$VENV/bin/python" - "$N" <<'PY'
import sys, time
import numpy as np
from qiskit.circuit.library import real_amplitudes
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer import AerSimulator

n = int(sys.argv[1])
devs = AerSimulator().available_devices()
print("available_devices:", devs)
assert "GPU" in devs, "this qiskit-aer-gpu sees no GPU"
qc = real_amplitudes(n, reps=2)
x = np.random.default_rng(0).uniform(-np.pi, np.pi, qc.num_parameters)
H = SparsePauliOp.from_sparse_list([("ZZ", [i, i + 1], -1.0) for i in range(n - 1)]
                                   + [("X", [i], -1.0) for i in range(n)], n)
circ = qc.assign_parameters(x)
circ.save_expectation_value(H, list(range(n)), label="e")
out = {}
for cusv in (False, True):
    sim = AerSimulator(method="statevector", device="GPU", cuStateVec_enable=cusv)
    t = time.perf_counter()
    r = sim.run(circ).result()
    out[cusv] = (float(np.real(r.data(0)["e"])), time.perf_counter() - t, r.results[0].metadata.get("device"))
    print(f"cuStateVec={cusv}: E={out[cusv][0]:.12f} wall={out[cusv][1]:.2f} s device={out[cusv][2]}")
assert abs(out[False][0] - out[True][0]) < 1e-8, "cuStateVec on/off disagree"
PY
