"""One small real sweep (noiseless + noisy tasks) written once per session for the h5 tests."""

import pytest

from hpcq.functions import JobContext
from hpcq.testing.synthetic import H2, real_sweep

SWEEP = real_sweep(
    "h5test",
    problems=[H2, {"kind": "tfim", "n_qubits": 3}],
    noise=[
        {"kind": "none"},
        {"kind": "depolarizing", "p": 0.01},
        {"kind": "thermal", "t1": 5e-5, "t2": 7e-5},
        {"kind": "readout", "p": 0.02},
    ],
    maxiter=25,
    seed=7,
)


@pytest.fixture(scope="session")
def result_file(tmp_path_factory):
    from hpcq.worker.entry import run_sweep

    out = tmp_path_factory.mktemp("h5")
    res = run_sweep(
        SWEEP, JobContext(process_id="proc-123", workdir=str(out), threads=1, extra={"workflow_id": "wf-9"})
    )
    return res.files[0]
