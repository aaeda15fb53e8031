"""Thread budget, device choice and Aer-MPI detection."""

import pytest

from hpcq import threads
from hpcq.sim import aer_env


def test_threads_from_slurm_first(monkeypatch):
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "3")
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    assert threads.threads_per_rank() == 3
    monkeypatch.delenv("SLURM_CPUS_PER_TASK")
    assert threads.threads_per_rank() == 7
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert threads.threads_per_rank(default=2) == 2


def test_device_resolution_on_this_aer():
    devices = aer_env.available_devices()
    assert "CPU" in devices
    if "GPU" in devices:  # qiskit-aer-gpu on a GPU node
        assert aer_env.resolve_device("auto") == "GPU"
    else:
        assert aer_env.resolve_device("auto") == "CPU"
        with pytest.raises(RuntimeError, match="device: 'GPU' requested"):
            aer_env.resolve_device("GPU")
    assert aer_env.resolve_device("CPU") == "CPU"


def test_pypi_aer_has_no_mpi():
    assert aer_env.aer_mpi_processes() == 1
