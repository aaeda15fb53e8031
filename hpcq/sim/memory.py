"""THE memory model: how many bytes one rank (and one GPU) needs to simulate a circuit with Qiskit
Aer, and from that the largest problem an allocation holds. Imports no Qiskit: the executor sizes
jobs with it on the login node, ``hpcq run`` on a laptop. Documented in docs/simulation.md "Sizing".

Why these numbers (measured on Aer 0.18.2; the table and the examples: docs/simulation.md "Sizing"):
- state: statevector 16*2^n bytes (complex128) or 8*2^n (``precision: single``); density_matrix and
  unitary 16*4^n; superop 16*16^n. Peak RSS (VmHWM) of one evaluation: the state x 1.00-1.02 on
  hpcq's read-out path (EstimatorV2: 1.02-1.09) plus the process itself, 175-240 MiB for the MPI
  worker before its state (bench/bench_capacity.py): ``AER_WORK_FACTOR`` and ``BASE_PROCESS_BYTES``.
- distributed statevector (Aer built with MPI, one circuit over P = 2^k ranks): each rank holds
  2^n/P amplitudes in chunks of 2^b (``distributed_layout``: ``blocking_qubits`` b, a rank's share
  split into 2^BUFFER_SHIFT chunks) plus ONE chunk's MPI receive buffer at a time: the build of
  scripts/build-aer-mpi.sh frees it after each exchange (scripts/aer-mpi-patches/0001; unpatched Aer
  keeps one per chunk, so every rank held its share twice, open issue Qiskit/qiskit-aer#2256) and
  ``chunk_swap_buffer_qubits`` = b - 1 turns off the multi-chunk swap (its buffers live together).
- matrix_product_state: n site tensors of 2*chi^2 amplitudes, chi capped at 2^(n/2), plus the
  two-site SVD work space. chi is the least of the user's ``bond_dimension``, 2^(n/2) and the bound
  the circuit itself sets (``mps_bond_bound``: the entangling gates across each cut), so a shallow
  100-qubit circuit needs no guess; a circuit without a derivable bound budgets 2^(n/2).
- stabilizer / extended_stabilizer: a 2n x 2n bit tableau; the base process dominates.
- parallel experiments: Aer evaluates the bound points of one run (an SPSA step's two points, a
  gradient's shifts) side by side, each with its own state, up to ``max_parallel_experiments``:
  0.98-1.63x the speed of one point after the other at 12-22 qubits on 2 threads
  (bench/bench_experiments.py), but
  ``experiments`` states at once, and Aer sizes that from the node's memory, not the job's cgroup.
  ``parallel_experiments`` picks how many fit what this process may use; ``footprint(experiments=)``
  counts them (the worker at 24 and 26 qubits on 2 threads peaked at two states, measured).
- GPU: the state lives in GPU memory (split over the GPUs of a process by Aer's chunking); the
  host keeps the base process plus a CUDA context per GPU.
- dense results: up to ``DENSE_MAX_QUBITS`` the runner also keeps the final statevector and two
  probability vectors (ideal, noisy) to store full distributions; above, it stores sampled counts.
- the exact reference of a chemistry problem runs in the same process before the simulation:
  ``fci_bytes`` (PySCF FCI/CASCI: peak RSS measured 29-31 CI vectors of 8 bytes per determinant
  for H10, H12 and water/6-31G, budgeted as ``FCI_VECTORS``) and ``sector_bytes`` (the qubit
  Hamiltonian restricted to one (N_alpha, N_beta) sector, hpcq.sim.chem.sector). A rank needs the
  larger of reference and simulation (``footprint(reference_bytes=)``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

GiB = 1024**3
MiB = 1024**2
BASE_PROCESS_BYTES = 256 * MiB  # Python + Qiskit + Aer + mpi4py + h5py; measured VmHWM 175-240 MiB
AER_WORK_FACTOR = 1.05  # Aer's buffers on top of the state, measured 1.00-1.02 (EstimatorV2 1.02-1.09)
BUFFER_SHIFT = 3  # a distributed rank's share is split into 2^BUFFER_SHIFT chunks: receive buffer = share / 8
MAX_CHUNK_BYTES = 1 << 30  # Aer sends a chunk as one MPI message of int count bytes: keep it well under 2 GiB
MIN_CHUNK_QUBITS = 6  # Aer widens blocking_qubits to its widest fused gate (fusion_max_qubit 5)
CUDA_CONTEXT_BYTES = 512 * MiB  # host memory per GPU used by a process (CUDA runtime, cuStateVec)
DENSE_MAX_QUBITS = 20  # up to here results keep full 2^n distributions; above, sampled counts
AMPLITUDE_BYTES = {"double": 16, "single": 8}
STATE_EXPONENT = {"statevector": 1, "density_matrix": 2, "unitary": 2, "superop": 4}
TABLEAU_METHODS = ("stabilizer", "extended_stabilizer")
MPS = "matrix_product_state"
METHODS = (*STATE_EXPONENT, MPS, *TABLEAU_METHODS)
FCI_VECTORS = 40  # PySCF direct_spin1 Davidson: measured 29-31 vectors of the CI space at peak
SECTOR_ENTRY_BYTES = 88  # per stored matrix element: (row, col, value) lists, their concatenation, CSR
SECTOR_STATE_BYTES = 64  # per sector state: occupations, indices, search temporaries
SECTOR_CROSSCHECK_BYTES = 256 * MiB  # integrals problems: the sector cross-checks PySCF up to here
SECTOR_DENSE_MAX_DIM = 4000  # dense eigvalsh up to here (hpcq.sim.chem.sector), Lanczos above
MAX_NODE_BYTES = 8 * 1024**4  # more than any node a profile describes: a sweep asking more is refused at once


class SizingError(ValueError):
    """The request cannot be sized or cannot fit; the message has the numbers and the fix."""


def fmt_bytes(n: float) -> str:
    """Binary units, 3 significant digits: '4.00 GiB', '384 MiB'."""
    for unit, size in (("PiB", 1024**5), ("TiB", 1024**4), ("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= size:
            v = n / size
            return f"{v:.3g} {unit}" if v < 100 else (f"{v:.0f} {unit}" if v < 1e4 else f"{v:.2e} {unit}")
    return f"{int(n)} B"


def _check(n: int, method: str, precision: str) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise SizingError(f"n_qubits must be a positive integer, got {n!r}")
    if precision not in AMPLITUDE_BYTES:
        raise SizingError(f"precision must be 'double' or 'single', got {precision!r}")
    if method not in METHODS:
        raise SizingError(
            f"cannot size method {method!r}; use one of: {', '.join(METHODS)} "
            "(resolve 'automatic' first: TaskSpec.resolved_method)"
        )


def mps_bond(n: int, bond_dimension: int | None, circuit_bond: int | None = None) -> int:
    """The largest bond an n-qubit MPS can reach: min(cap, circuit bound, 2^floor(n/2))."""
    chi = 1 << min(n // 2, 62)
    for cap in (bond_dimension, circuit_bond):
        if cap is not None:
            chi = min(chi, int(cap))
    return chi


# Operator Schmidt rank of a two-qubit gate across the cut between its qubits: a state's Schmidt rank
# across a cut grows at most by this factor when the gate acts across it (U = sum_k A_k (x) B_k with r
# terms maps sum_j a_j (x) b_j to sum_jk A_k a_j (x) B_k b_j). Controlled gates (|0><0| (x) I +
# |1><1| (x) V) and exp(-i t P (x) Q) rotations (cos I (x) I - i sin P (x) Q) have rank 2; so does every
# prefix of their basis decomposition (cx, 1-qubit gates, cx), which is what Aer applies, one at a time.
# Any other two-qubit gate (swap, iswap, a general unitary): rank <= 4.
SCHMIDT_RANK_2 = frozenset(
    [
        "cx",
        "cy",
        "cz",
        "ch",
        "cp",
        "cs",
        "csdg",
        "csx",
        "crx",
        "cry",
        "crz",
        "cu",
        "cu1",
        "cu3",
        "rxx",
        "ryy",
        "rzz",
        "rzx",
        "ecr",
    ]
)


def gate_schmidt_rank(name: str) -> int:
    """The operator Schmidt rank bound of a named two-qubit gate (2 or 4; see SCHMIDT_RANK_2)."""
    return 2 if name in SCHMIDT_RANK_2 else 4


def mps_bond_bound(n: int, gates: Iterable[tuple[int, int, int]]) -> int:
    """The largest bond dimension an exact MPS of the n-qubit circuit can reach, from its two-qubit
    gates ``(q0, q1, rank)`` (rank: ``gate_schmidt_rank``); 1-qubit gates never change a bond.

    Gates on neighbours only (|q0 - q1| = 1): Aer's MPS keeps the qubits in their order and the bond
    across the cut after qubit c is the state's Schmidt rank there, at most the product of the ranks
    of the gates on (c, c+1) and at most 2^min(c+1, n-c-1): the bound is the largest over the cuts.
    Any gate between distant qubits: Aer moves qubits next to each other with internal swaps and keeps
    the new order, so a bond may separate any set of qubits; every such set is crossed by at most all
    the gates: min(2^floor(n/2), product of all ranks). Exact in exact arithmetic; with truncation
    (bond_dimension, truncation_threshold) the bonds are smaller still."""
    full = n // 2
    per_cut = [0.0] * max(n - 1, 0)  # log2 of the product of ranks across each cut
    total, local = 0.0, True
    for q0, q1, rank in gates:
        lo, hi = sorted((int(q0), int(q1)))
        if not 0 <= lo < hi < n:
            raise SizingError(f"gate on qubits ({q0}, {q1}) outside an {n}-qubit register")
        bits = math.log2(rank)
        total += bits
        if hi - lo == 1:
            per_cut[lo] += bits
        else:
            local = False
    if not local:
        return 1 << min(full, math.ceil(total - 1e-9), 62)
    best = 0
    for c, bits in enumerate(per_cut):
        best = max(best, min(c + 1, n - c - 1, math.ceil(bits - 1e-9)))
    return 1 << min(best, 62)


def state_bytes(
    n: int,
    method: str,
    precision: str = "double",
    bond_dimension: int | None = None,
    circuit_bond: int | None = None,
) -> int:
    """Bytes of the simulator state alone (whole state, not per rank)."""
    _check(n, method, precision)
    amp = AMPLITUDE_BYTES[precision]
    if method in TABLEAU_METHODS:
        return (2 * n) * (2 * n + 1) // 8 + 1
    if method == MPS:
        chi = mps_bond(n, bond_dimension, circuit_bond)
        return n * 2 * chi * chi * amp + n * chi * 8  # Gamma tensors + lambda vectors
    return amp * (1 << (n * STATE_EXPONENT[method]))


def sector_dim(norb: int, nelec: tuple[int, int]) -> int:
    """Determinants (= sector states) with nelec = (N_alpha, N_beta) in norb spatial orbitals."""
    return math.comb(norb, int(nelec[0])) * math.comb(norb, int(nelec[1]))


def fci_bytes(norb: int, nelec: tuple[int, int]) -> int:
    """Peak bytes of PySCF's FCI (CASCI) in the active space, beyond the base process."""
    return 8 * FCI_VECTORS * sector_dim(norb, nelec) + 3 * 8 * norb**4


def sector_bytes(dim: int, x_patterns: int, n_qubits: int) -> int:
    """Peak bytes of the qubit-sector diagonalisation: ``dim`` states, a Hamiltonian with
    ``x_patterns`` distinct X/Y supports (each connects a state to at most one other state)."""
    entries = dim * min(x_patterns, dim)
    solve = 32 * dim * dim if dim <= SECTOR_DENSE_MAX_DIM else 40 * 16 * dim  # dense copy | Lanczos vectors
    return dim * (2 * n_qubits + SECTOR_STATE_BYTES) + entries * SECTOR_ENTRY_BYTES + solve


def _cgroup_free() -> list[int]:
    """Limit less usage of this process's memory cgroup (v2 memory.max, v1 memory.limit_in_bytes)."""
    from pathlib import Path

    out = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        _, ctrl, rel = line.split(":", 2)
        if ctrl == "":
            files = (Path("/sys/fs/cgroup") / rel.lstrip("/"), "memory.max", "memory.current")
        elif "memory" in ctrl.split(","):
            files = (Path("/sys/fs/cgroup/memory") / rel.lstrip("/"), "memory.limit_in_bytes", "memory.usage_in_bytes")
        else:
            continue
        try:
            top = (files[0] / files[1]).read_text().strip()
            if top != "max" and int(top) < 1 << 60:
                out.append(int(top) - int((files[0] / files[2]).read_text()))
        except (OSError, ValueError):
            pass
    return out


def available_bytes() -> int:
    """Memory this process may still use: the least of the machine's MemAvailable, the cgroup's
    limit less its usage (a Slurm allocation), and RLIMIT_AS less the address space in use."""
    import resource
    from pathlib import Path

    cands = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                cands.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    cands.extend(_cgroup_free())
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    if soft != resource.RLIM_INFINITY:
        cands.append(soft - proc_status_bytes("VmSize"))
    return max(0, min(cands)) if cands else 1 << 62


@dataclass(frozen=True)
class Footprint:
    """Memory of one simulation, per rank (host) and per GPU, with how it was derived."""

    n_qubits: int
    method: str
    precision: str
    ranks: int  # ranks sharing ONE state (1 unless distributed)
    gpus_per_rank: int
    state_bytes: int  # the whole state
    rank_bytes: int  # host memory one rank needs (what --mem must cover per rank)
    gpu_bytes: int  # memory one GPU needs (0 on CPU)
    blocking_qubits: int | None  # Aer chunk size for a distributed statevector, else None
    reference_bytes: int = 0  # the exact reference's peak (run before the simulation, same process)
    mps_bond: int = 0  # matrix_product_state: the bond dimension budgeted (0 otherwise)
    mps_bond_from: str = ""  # where it comes from: "bond_dimension", "the circuit" or "2^(n/2)"

    @property
    def label(self) -> str:
        where = f" over {self.ranks} ranks" if self.ranks > 1 else ""
        return f"{self.n_qubits}-qubit {self.method} ({self.precision}){where}"

    def describe(self) -> str:
        gpu = f", {fmt_bytes(self.gpu_bytes)} per GPU" if self.gpus_per_rank else ""
        ref = f", exact reference {fmt_bytes(self.reference_bytes)}" if self.reference_bytes else ""
        bond = ""
        if self.mps_bond:
            chi = self.mps_bond
            pow2 = f" = 2^{chi.bit_length() - 1}" if chi > 1024 and chi & (chi - 1) == 0 else ""
            bond = f" (bond dimension {chi}{pow2}, from {self.mps_bond_from})"
        return (
            f"{self.label}: state {fmt_bytes(self.state_bytes)}{bond}{ref}, {fmt_bytes(self.rank_bytes)} per rank{gpu}"
        )


def _check_split(n: int, method: str, ranks: int) -> None:
    """One state over ``ranks``: what Aer can distribute, refused with the fix otherwise."""
    if ranks < 1 or ranks & (ranks - 1):
        raise SizingError(
            f"ranks={ranks}: a distributed statevector needs a power-of-two rank count "
            "(1, 2, 4, ...); set conditions.processespernode x conditions.nodes accordingly"
        )
    if ranks > 1 and method != "statevector":
        raise SizingError(
            f"method {method!r} cannot be distributed over ranks (Aer distributes only "
            "statevector); set parallel: tasks (each rank its own state), or method: statevector"
        )
    if ranks > 1 and ranks.bit_length() - 1 > n - 2:
        raise SizingError(
            f"{n} qubits cannot be split over {ranks} ranks (each rank needs a chunk of at "
            "least 2 qubits); use fewer ranks"
        )


def footprint(
    n: int,
    method: str,
    precision: str = "double",
    *,
    ranks: int = 1,
    gpus_per_rank: int = 0,
    bond_dimension: int | None = None,
    dense_results: bool | None = None,
    reference_bytes: int = 0,
    circuit_bond: int | None = None,
    experiments: int = 1,
) -> Footprint:
    """Per-rank (and per-GPU) bytes to simulate ``n`` qubits with Aer ``method``.

    ``ranks`` > 1 means ONE state distributed over that many ranks (statevector only, power of two,
    an MPI-built Aer); ranks that share a sweep each hold their own state: pass ranks=1 for them.
    ``dense_results``: the runner keeps full distributions (default: n <= DENSE_MAX_QUBITS).
    ``reference_bytes``: the exact reference's peak (``fci_bytes`` / ``sector_bytes``); it runs
    before the simulation, so a rank needs the larger of the two on top of the base process.
    ``circuit_bond``: the bond dimension the circuit can reach (``mps_bond_bound``), None = unknown.
    ``experiments``: states simulated side by side in one process (``parallel_experiments``)."""
    state = state_bytes(n, method, precision, bond_dimension, circuit_bond)
    _check_split(n, method, ranks)
    dense = n <= DENSE_MAX_QUBITS if dense_results is None else dense_results
    # full distributions: final statevector (complex128) + two probability vectors, on rank 0
    results = (16 + 2 * 8) * (1 << n) if dense else 0
    blocking = None
    bond = (0, "")
    if method == MPS:
        chi = mps_bond(n, bond_dimension, circuit_bond)
        bond = (chi, _bond_source(n, chi, bond_dimension, circuit_bond))
        work = 4 * (2 * chi) ** 2 * AMPLITUDE_BYTES[precision]  # two-site SVD: theta, U, S, V
        sim = state + work
    elif method in TABLEAU_METHODS:
        sim = state
    elif ranks > 1:
        blocking, _ = distributed_layout(n, ranks, precision)
        sim = state // ranks + AMPLITUDE_BYTES[precision] * (1 << blocking)  # share + one receive buffer
    else:
        sim = math.ceil(state * AER_WORK_FACTOR)
    if gpus_per_rank > 0:
        gpu = math.ceil(sim / gpus_per_rank)
        host = BASE_PROCESS_BYTES + gpus_per_rank * CUDA_CONTEXT_BYTES + max(results, reference_bytes)
        if gpus_per_rank > 1 and method == "statevector":
            blocking = n - (gpus_per_rank - 1).bit_length()  # Aer chunks the state over the GPUs
        return Footprint(n, method, precision, ranks, gpus_per_rank, state, host, gpu, blocking, reference_bytes, *bond)
    host = BASE_PROCESS_BYTES + max(max(1, experiments) * sim + results, reference_bytes)
    return Footprint(n, method, precision, ranks, 0, state, host, 0, blocking, reference_bytes, *bond)


def parallel_experiments(
    n: int,
    method: str,
    precision: str = "double",
    *,
    threads: int,
    ranks: int = 1,
    gpus_per_rank: int = 0,
    budget_bytes: int | None = None,
) -> int:
    """How many bound points Aer may simulate side by side (its ``max_parallel_experiments``): up to
    ``threads``, as many as fit ``budget_bytes`` (default: what this process may still use,
    ``available_bytes``, which sees a Slurm job's cgroup) for methods whose memory is the state
    (module docstring); 1 for a state distributed over ranks, ``threads`` for MPS, tableaux and GPUs."""
    threads = max(1, int(threads))
    if ranks > 1:
        return 1
    if method not in STATE_EXPONENT or gpus_per_rank > 0:
        return threads
    # what is free plus this process's resident bytes: the base process is counted in footprint
    budget = available_bytes() + proc_status_bytes("VmRSS") if budget_bytes is None else budget_bytes
    k = threads
    while k > 1 and footprint(n, method, precision, experiments=k).rank_bytes > budget:
        k -= 1
    return k


def proc_status_bytes(field: str) -> int:
    """A kB field of /proc/self/status in bytes (VmRSS, VmSize, ...); 0 where there is none."""
    from pathlib import Path

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _bond_source(n: int, chi: int, bond_dimension: int | None, circuit_bond: int | None) -> str:
    """Which limit set an MPS's budgeted bond dimension (for the refusal message)."""
    if bond_dimension is not None and chi == int(bond_dimension):
        return "mps.bond_dimension"
    if circuit_bond is not None and chi == int(circuit_bond) and chi < 1 << min(n // 2, 62):
        return "the circuit's entangling gates across its cuts"
    why = "the circuit's gates bound it no lower" if circuit_bond is not None else "no bound from the circuit"
    return f"2^(n/2), the most {n} qubits allow: {why}"


def rank_bytes(n: int, method: str, precision: str = "double", **kw) -> int:
    """Host bytes one rank needs (see ``footprint``)."""
    return footprint(n, method, precision, **kw).rank_bytes


def fits(fp: Footprint, mem_per_rank_bytes: float, gpu_mem_bytes: float = 0) -> bool:
    if fp.rank_bytes > mem_per_rank_bytes:
        return False
    return not fp.gpus_per_rank or fp.gpu_bytes <= gpu_mem_bytes


def max_qubits(
    method: str,
    precision: str,
    mem_per_rank_bytes: float,
    *,
    ranks: int = 1,
    gpus_per_rank: int = 0,
    gpu_mem_bytes: float = 0,
    bond_dimension: int | None = None,
    limit: int = 4096,
) -> int:
    """The largest qubit count whose footprint fits (0 if none); MPS and tableaux grow slowly, so
    the search stops at ``limit``."""
    lo = 0
    for n in range(ranks.bit_length() + 1 if ranks > 1 else 1, limit + 1):  # a chunk needs >= 2 qubits
        try:
            ok = fits(
                footprint(
                    n, method, precision, ranks=ranks, gpus_per_rank=gpus_per_rank, bond_dimension=bond_dimension
                ),
                mem_per_rank_bytes,
                gpu_mem_bytes,
            )
        except SizingError:
            ok = False
        if ok:
            lo = n
        elif method in STATE_EXPONENT:
            break  # exponential: nothing larger fits
    return lo


def min_ranks(n: int, precision: str, mem_per_rank_bytes: float, max_ranks: int) -> int | None:
    """The smallest power-of-two rank count (<= max_ranks) over which an n-qubit statevector fits."""
    p = 1
    while p <= max_ranks:
        try:
            if footprint(n, "statevector", precision, ranks=p).rank_bytes <= mem_per_rank_bytes:
                return p
        except SizingError:
            return None
        p *= 2
    return None


def distributed_layout(n: int, ranks: int, precision: str = "double") -> tuple[int, int]:
    """Aer's ``(blocking_qubits, chunk_swap_buffer_qubits)`` for an n-qubit statevector over ``ranks``
    ranks: chunks of 2^b amplitudes, b = the rank's share less BUFFER_SHIFT qubits (so the one receive
    buffer alive at a time is an eighth of the share), at most MAX_CHUNK_BYTES, at least
    MIN_CHUNK_QUBITS (small states: fewer, larger chunks); ``chunk_swap_buffer_qubits`` = b - 1 keeps
    Aer to one chunk exchange at a time (its multi-chunk swap fills one buffer per chunk at once)."""
    if ranks < 1 or ranks & (ranks - 1):
        raise SizingError(f"ranks={ranks}: use a power of two")
    top = n - (ranks.bit_length() - 1)
    if top < 2:
        raise SizingError(f"{n} qubits over {ranks} ranks leaves chunks under 2 qubits; use fewer ranks")
    largest = (MAX_CHUNK_BYTES // AMPLITUDE_BYTES[precision]).bit_length() - 1
    b = min(top, max(top - BUFFER_SHIFT, min(MIN_CHUNK_QUBITS, top)), largest)
    return b, b - 1


def blocking_qubits(n: int, ranks: int, precision: str = "double", mem_per_rank_bytes: float | None = None) -> int:
    """Aer's ``blocking_qubits`` for an n-qubit statevector over ``ranks`` ranks: the qubits of one
    chunk (``distributed_layout``). It must be <= n - log2(ranks) (every rank at least one chunk) and
    >= 2 (the widest gate). With ``mem_per_rank_bytes``: smaller still until the share + one chunk's
    receive buffer fits. Aer's automatic choice gives wrong energies: always set it."""
    b, _ = distributed_layout(n, ranks, precision)
    if mem_per_rank_bytes is None:
        return b
    budget = mem_per_rank_bytes - BASE_PROCESS_BYTES
    amp = AMPLITUDE_BYTES[precision]
    share = amp * (1 << (n - (ranks.bit_length() - 1)))
    while b > 2 and share + amp * (1 << b) > budget:
        b -= 1
    return b


def advice(
    n: int,
    method: str,
    precision: str,
    mem_per_rank_bytes: float,
    *,
    gpus_per_rank: int = 0,
    gpu_mem_bytes: float = 0,
    bond_dimension: int | None = None,
) -> str:
    """What would fit in this much memory per rank, as a phrase for a refusal message (the
    executor adds distributed layouts from the profile's nodes: hpcq.executor.sizing)."""
    parts = []
    best = max_qubits(
        method,
        precision,
        mem_per_rank_bytes,
        gpus_per_rank=gpus_per_rank,
        gpu_mem_bytes=gpu_mem_bytes,
        bond_dimension=bond_dimension,
    )
    parts.append(
        f"at most {best} qubits with {method} ({precision}) per rank"
        if best
        else f"no {method} ({precision}) simulation at all in {fmt_bytes(mem_per_rank_bytes)} per rank"
    )
    if method in STATE_EXPONENT and precision == "double":
        single = max_qubits(
            method, "single", mem_per_rank_bytes, gpus_per_rank=gpus_per_rank, gpu_mem_bytes=gpu_mem_bytes
        )
        if single > best:
            parts.append(f"{single} in single precision")
    if method == "density_matrix":
        parts.append(f"statevector up to {max_qubits('statevector', precision, mem_per_rank_bytes)} qubits")
    if method == MPS and bond_dimension is None:
        parts.append("set mps.bond_dimension to cap the MPS (truncating it), or use a shallower ansatz")
    return "; ".join(parts)
