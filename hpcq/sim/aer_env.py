"""Where Aer runs: CPU or GPU, which Aer build a job has, and whether Aer itself can use MPI.

The thread budget per rank has its own owner, hpcq.threads (pinned before Aer loads: with pip
MPICH and no binding, 2 ranks on 2 cores ran 6x slower than one process when each used every core).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

# thread pinning has one owner, hpcq.threads; pin_threads stays importable here for hpcq.results.h5cli
from hpcq.threads import pin_threads as pin_threads


@lru_cache(maxsize=1)
def available_devices() -> tuple[str, ...]:
    from qiskit_aer import AerSimulator

    return tuple(AerSimulator().available_devices())


def resolve_device(requested: str) -> str:
    """auto -> GPU when Aer reports one, else CPU; GPU without one is an error naming the field
    and the fix (the worker calls this at job start, before any task runs)."""
    devs = available_devices()
    if requested == "GPU" and "GPU" not in devs:
        info = aer_build()
        raise RuntimeError(
            f"device: 'GPU' requested but this job's Aer ({info['aer_package']} {info['aer_version']}, "
            f"build {info['aer_build']}) reports only {', '.join(devs)} "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '(unset)')}); run on a GPU "
            "partition with a profile that has aer: gpu and gpus_per_node > 0, install qiskit-aer-gpu "
            "(CUDA 12) in the job's venv (not next to qiskit-aer), or set device: auto / CPU in the sweep"
        )
    if requested in ("auto", "GPU") and "GPU" in devs:
        return "GPU"
    return "CPU"


def gpu_options(method: str, device: str) -> dict[str, bool]:
    """Aer options for a GPU run: cuStateVec (NVIDIA cuQuantum) for statevector, where it helps;
    the other methods keep Aer's own CUDA kernels. Nothing on CPU."""
    if device != "GPU":
        return {}
    return {"cuStateVec_enable": method == "statevector"}


@lru_cache(maxsize=1)
def aer_build() -> dict[str, str]:
    """Which Aer this process runs, for the file: the distribution (qiskit-aer or qiskit-aer-gpu),
    its version, the devices it reports and its build flavour: GPU when it has a CUDA/ROCm device
    backend, MPI when its extension links an MPI library (an AER_MPI build), else CPU ('GPU+MPI'
    for both)."""
    from importlib import metadata

    import qiskit_aer

    package = next((d for d in ("qiskit-aer-gpu", "qiskit-aer-gpu-cu11") if _has_dist(metadata, d)), "qiskit-aer")
    ext = ""
    for path in Path(qiskit_aer.__file__).parent.glob("backends/controller_wrappers*.so"):
        ext = str(path)
    linked = _linked_libraries(ext) if ext else ""
    flavour = []
    if "GPU" in available_devices() or package != "qiskit-aer" or "libcudart" in linked or "libamdhip" in linked:
        flavour.append("GPU")
    if "libmpi" in linked:
        flavour.append("MPI")
    return {
        "aer_package": package,
        "aer_version": qiskit_aer.__version__,
        "aer_devices": ",".join(available_devices()),
        "aer_build": "+".join(flavour) or "CPU",
    }


def _has_dist(metadata, name: str) -> bool:
    try:
        metadata.distribution(name)
        return True
    except metadata.PackageNotFoundError:
        return False


def _linked_libraries(so_path: str) -> str:
    """The shared libraries an extension needs (its ELF DT_NEEDED names and rpath), as one string:
    read from the file, no ldd (which may be missing on a compute node)."""
    try:
        data = Path(so_path).read_bytes()
    except OSError:
        return ""
    import re

    return " ".join(sorted({m.decode() for m in re.findall(rb"lib[A-Za-z0-9_+-]+\.so[.0-9]*", data)}))


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
