"""A launch that hangs says where its ranks are (hpcq.testing.run_mpi, hpcq.logfmt.dump_stacks_on_signal).

The worker prints every thread's Python stack on SIGUSR1, also from inside MPI's C code. A rank that
hangs while MPI starts (here: a PMI server that accepts the connection and never answers, as a garbled
PMI2 exchange leaves it) is a failed start, which retry_mpi_start launches again like the executor
resubmits such jobs; a rank stuck later is reported with its stack and never retried.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from hpcq.testing import MpiHang, need, retry_mpi_start, run_mpi

pytestmark = pytest.mark.mpi

SWEEP = """{"study": "stuck", "problems": [{"kind": "tfim", "n_qubits": 3}],
 "optimizers": [{"kind": "cobyla", "maxiter": 2}]}"""


def _have_mpi4py() -> bool:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def silent_pmi():
    """A PMI 'server' that takes the connection and never replies: MPI_Init waits on it forever."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    yield f"127.0.0.1:{srv.getsockname()[1]}"
    srv.close()


def test_a_rank_hung_in_mpi_start_is_named_and_retried(silent_pmi, tmp_path):
    need(_have_mpi4py(), "mpi4py missing (pip install mpi4py mpich)")
    sweep = tmp_path / "sweep.json"
    sweep.write_text(SWEEP)
    out = tmp_path / "out"
    env = dict(os.environ, PMI_PORT=silent_pmi, PMI_RANK="0", PMI_SIZE="2", PMI_ID="0")
    cmd = [sys.executable, "-m", "hpcq.worker", str(sweep), "--out", str(out), "-q"]
    calls = []

    def launch():
        calls.append(1)
        return run_mpi(cmd, env=env, timeout=4, marker=str(out))

    with pytest.raises(MpiHang) as hang:
        retry_mpi_start(launch, attempts=2)
    assert len(calls) == 2  # a hung start is a failed start: launched again, then reported
    assert hang.value.in_start
    assert "1 rank process(es) found, 1 stack dump(s) (all still starting MPI)" in hang.value.report
    assert 'hpcq/mpi.py", line' in hang.value.report and "in mpi_world" in hang.value.report
    assert not any(out.glob("*.h5"))


STUCK = """
import time
from hpcq.logfmt import dump_stacks_on_signal

def evaluate_energy():  # stands for a rank stuck in a collective after MPI started
    time.sleep(600)

dump_stacks_on_signal()
evaluate_energy()
"""


def test_a_rank_stuck_after_start_is_reported_with_its_stack_not_retried(tmp_path):
    script = tmp_path / "stuck_rank.py"
    script.write_text(STUCK)
    calls = []

    def launch():
        calls.append(1)
        return run_mpi([sys.executable, str(script)], env=dict(os.environ), timeout=3, marker=str(script))

    with pytest.raises(MpiHang) as hang:
        retry_mpi_start(launch, attempts=3)
    assert calls == [1]
    assert not hang.value.in_start
    assert "in evaluate_energy" in hang.value.report and "stuck_rank.py" in hang.value.report


def test_a_launch_that_ends_is_returned_as_subprocess_run_would(tmp_path):
    r = run_mpi([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"],
                env=dict(os.environ), timeout=30, marker=str(tmp_path))  # fmt: skip
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")


def _catches_usr1(pid: int) -> bool:
    import signal

    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signal.SIGUSR1 - 1) & 1)
    return False


def test_the_worker_survives_the_stack_signal(tmp_path):
    """SIGUSR1's default action kills a process: the worker must only print its stacks and go on."""
    need(_have_mpi4py(), "mpi4py missing (pip install mpi4py mpich)")
    import signal
    import subprocess
    import time

    sweep = tmp_path / "sweep.json"
    sweep.write_text(SWEEP)
    out = tmp_path / "out"
    env = dict(os.environ, HPCQ_NO_MPI="1")
    p = subprocess.Popen([sys.executable, "-m", "hpcq.worker", str(sweep), "--out", str(out), "-q"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not _catches_usr1(p.pid):  # the handler is installed first thing, long before the run ends
        assert p.poll() is None and time.monotonic() < deadline, "the worker never installed its SIGUSR1 handler"
        time.sleep(0.01)
    p.send_signal(signal.SIGUSR1)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 0, stderr
    assert "Current thread 0x" in stderr and "most recent call first" in stderr  # the stacks, then on
    assert len(list(Path(out).glob("*.h5"))) == 1


IN_PROCESS = """
import io, os, signal, sys
sys.stderr = io.StringIO()  # as under a test's capture or in a notebook: no file descriptor
from hpcq.logfmt import dump_stacks_on_signal
dump_stacks_on_signal()
os.kill(os.getpid(), signal.SIGUSR1)
sys.__stderr__.write("alive\\n")
"""


def test_the_stack_signal_falls_back_to_fd_2_when_stderr_has_no_descriptor():
    import subprocess

    r = subprocess.run([sys.executable, "-c", IN_PROCESS], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith("Current thread 0x") and r.stderr.endswith("alive\n"), r.stderr
