"""Where Aer runs: threads per rank, CPU or GPU, and whether Aer itself can use MPI.

Thread budget must be explicit: with pip MPICH (no binding) each rank's Aer/OpenMP would otherwise
use every core, and 2 ranks on 2 cores ran 6x slower than one process (aer-lab.md).
"""

from __future__ import annotations

from functools import lru_cache

from hpcq.threads import pin_threads, threads_per_rank

__all__ = ["pin_threads", "threads_from_env"]  # re-exported

# thread pinning has one owner, hpcq.threads; these names stay for the sim/worker callers
threads_from_env = threads_per_rank


@lru_cache(maxsize=1)
def available_devices() -> tuple[str, ...]:
    from qiskit_aer import AerSimulator

    return tuple(AerSimulator().available_devices())


def resolve_device(requested: str) -> str:
    """auto -> GPU when Aer reports one, else CPU; GPU without one is an error."""
    devs = available_devices()
    if requested == "GPU" and "GPU" not in devs:
        raise RuntimeError(
            "device: 'GPU' requested but this qiskit-aer reports only "
            f"{', '.join(devs)}; install qiskit-aer-gpu on a GPU node or use device 'auto'"
        )
    if requested in ("auto", "GPU") and "GPU" in devs:
        return "GPU"
    return "CPU"


@lru_cache(maxsize=1)
def aer_mpi_processes() -> int:
    """How many MPI processes Aer itself sees (> 1 only for an Aer built with AER_MPI and run
    under MPI). The PyPI wheel reports 1: one circuit cannot be split across ranks
    (blocking_enable/blocking_qubits need an AER_MPI source build); ranks share the sweep instead."""
    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator

    qc = QuantumCircuit(1)
    qc.x(0)
    qc.save_statevector()
    meta = AerSimulator(method="statevector").run(qc).result().metadata
    return int(meta.get("num_mpi_processes", 1) or 1)
