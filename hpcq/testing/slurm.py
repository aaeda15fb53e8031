"""Local Slurm cluster pytest fixtures (see hpcq.testing).

The session fixture ``slurm_cluster`` brings one cluster (hpcq.executor.lab) up for the whole
pytest session (3 nodes x 8 overcommitted CPUs, slurmdbd on, free ports) and sets ``SLURM_CONF``
so that sbatch, sacct and submitit talk to it. Tests that use it skip with a reason when root or
Slurm is missing, and fail under CI=true (hpcq.testing.need).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

from hpcq.executor.lab import (  # noqa: F401 - the lab's API, re-exported for tests and benches
    LocalCluster,
    SlurmLabError,
    free_port_base,
    local_cluster,
    prerequisites,
    start_cluster,
)


def _sigterm_to_exit(signum, frame):  # so that fixture teardown runs when pytest is TERMed
    raise KeyboardInterrupt(f"signal {signum}")


try:
    import pytest
except ImportError:  # benches and the demo use local_cluster without pytest
    pytest = None

if pytest is not None:

    @pytest.fixture(scope="session")
    def slurm_cluster(tmp_path_factory) -> Iterator[LocalCluster]:
        """One real Slurm cluster for the session: 3 nodes x 8 CPUs, slurmdbd, pmi2, free ports;
        os.environ["SLURM_CONF"] points at it until the session ends (also on Ctrl-C/SIGTERM)."""
        from hpcq.testing import need

        ok, reason = prerequisites()
        need(ok, reason)
        old_handler = signal.getsignal(signal.SIGTERM)
        if old_handler is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _sigterm_to_exit)
        try:
            with local_cluster(
                tmp_path_factory.mktemp("slurm-lab"), nodes=3, cpus=8, dbd=True, set_env=True
            ) as cluster:
                yield cluster
        finally:
            if old_handler is signal.SIG_DFL:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
