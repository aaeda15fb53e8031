"""Quantum-aware sizing: how much memory a Qiskit Aer simulation needs per MPI rank, and whether a
job's ranks fit on the profile's nodes, so impossible requests are refused before queueing.

Model (measured, docs/profiles.md "Sizing"): bytes = state * OVERHEAD_FACTOR + BASE_PROCESS_BYTES.
state = 16 * 2^n (statevector, complex128), 16 * 4^n (density_matrix, unitary), 16 * 16^n
(superop); half that in single precision. Measured here with EstimatorV2 on one thread: peak RSS
minus the process's base was 1.02-1.09 x state (statevector 22/24 qubits, density_matrix 11/12
qubits), and a Python process with Qiskit + Aer loaded sat at ~100 MB, hence 1.10 and 256 MiB
(room for mpi4py, h5py and the runner). Each rank holds its own state: hpcq's ranks share a
sweep, they do not split one state vector (the PyPI Aer wheel has no MPI).
"""

from __future__ import annotations

import math

from hpcq.executor.profiles import ConditionsError, JobResources, Profile

OVERHEAD_FACTOR = 1.10
BASE_PROCESS_BYTES = 256 * 1024 * 1024
AUTOMATIC_DM_MAX_QUBITS = 10  # Aer's "automatic" picks density_matrix only for small noisy circuits
STATE_EXPONENT = {"statevector": 1, "density_matrix": 2, "unitary": 2, "superop": 4}
TINY_METHODS = ("stabilizer", "extended_stabilizer")  # polynomial memory: base process only


def effective_method(n_qubits: int, method: str) -> str:
    """The method whose memory to budget. For "automatic" Aer picks density_matrix for small noisy
    circuits (measured: up to ~10 qubits) and statevector above; budgeting that is an upper bound
    whatever the circuit (a 10-qubit density matrix is only 16 MiB)."""
    if method == "automatic":
        return "density_matrix" if n_qubits <= AUTOMATIC_DM_MAX_QUBITS else "statevector"
    return method


def state_bytes(n_qubits: int, method: str, precision: str = "double") -> int:
    """Bytes of the simulator state alone."""
    if not isinstance(n_qubits, int) or isinstance(n_qubits, bool) or n_qubits < 1:
        raise ValueError(f"n_qubits must be a positive integer, got {n_qubits!r}")
    if precision not in ("double", "single"):
        raise ValueError(f"precision must be 'double' or 'single', got {precision!r}")
    m = effective_method(n_qubits, method)
    if m in TINY_METHODS:
        return 2 * n_qubits * n_qubits  # tableau bits, rounded up generously
    if m not in STATE_EXPONENT:
        known = ", ".join(["automatic", *STATE_EXPONENT, *TINY_METHODS])
        raise ValueError(f"cannot size method {method!r} (matrix_product_state and tensor_network depend "
                         f"on entanglement); use one of: {known}")
    amp = 16 if precision == "double" else 8
    return amp * (1 << (n_qubits * STATE_EXPONENT[m]))


def memory_bytes(n_qubits: int, method: str, precision: str = "double") -> int:
    """Memory one rank needs to simulate ``n_qubits`` with Aer ``method`` (state x overhead + base)."""
    return math.ceil(state_bytes(n_qubits, method, precision) * OVERHEAD_FACTOR) + BASE_PROCESS_BYTES


def gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def max_ranks_per_node(mem_per_rank_bytes: int, profile: Profile) -> int:
    """How many such ranks fit in one of the profile's nodes (0 = not even one)."""
    return int(profile.mem_per_node_gb * 1024**3 // max(1, mem_per_rank_bytes))


def check_fits(mem_per_rank_bytes: int, res: JobResources, profile: Profile, what: str = "") -> None:
    """Refuse a job whose ranks cannot hold their simulations: on a node of the profile, or in the
    memory the job asked for. The ConditionsError carries the numbers and the fix."""
    need = int(mem_per_rank_bytes)
    label = f"{what} needs" if what else "the simulation needs"
    node = profile.mem_per_node_gb * 1024**3
    total = res.tasks_per_node * need
    if need > node:
        raise ConditionsError("processespernode", f"{label} {gb(need)} per rank, more than the {gb(node)} of "
                              f"a whole node of profile {profile.name}; use fewer qubits, statevector instead of "
                              "density_matrix, or a profile with bigger nodes")
    if total > node:
        fit = max_ranks_per_node(need, profile)
        raise ConditionsError("processespernode", f"{label} {gb(need)} per rank; {res.tasks_per_node} ranks/node x "
                              f"{gb(need)} = {gb(total)} > {gb(node)} of profile {profile.name}'s nodes; use at "
                              f"most {fit} ranks per node (more nodes), or statevector")
    asked = res.mem_gb * 1024**3
    if profile.send_mem and total > asked:
        mib = math.ceil(total / 1024**2)
        raise ConditionsError("mem", f"{label} {gb(need)} per rank; {res.tasks_per_node} ranks/node x {gb(need)} = "
                              f"{gb(total)} > the {gb(asked)} per node the job asks for; set conditions.mem to at "
                              f"least {mib}Mi or leave it empty")
