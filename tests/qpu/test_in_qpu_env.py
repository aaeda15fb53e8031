"""Run the QPU route's tests (conftest.IN_QPU_ENV) in the QPU venv, from any other interpreter."""

from __future__ import annotations

import subprocess

from hpcq.testing import need
from tests.qpu.conftest import IN_QPU_ENV, ROOT, has_qpu_extra, qpu_python


def test_qpu_route_tests_pass_in_the_qpu_venv():
    if has_qpu_extra():  # this interpreter is the QPU venv: pytest collects those files itself
        return
    py = qpu_python()
    need(py.is_file(), f"no QPU venv at {py}: run scripts/setup.sh (or set HPCQ_QPU_PYTHON)")
    files = [str(ROOT / "tests" / "qpu" / f) for f in IN_QPU_ENV if (ROOT / "tests" / "qpu" / f).is_file()]
    r = subprocess.run(
        [str(py), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
