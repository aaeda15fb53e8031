"""The executor (its assign path included) and the dashboard never import Qiskit: a login node
or a laptop without Qiskit must run them, and Qiskit's import costs seconds per start."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = (
    "import sys; {imports}; bad = sorted(m for m in sys.modules if m.split('.')[0] in ('qiskit', 'qiskit_aer'));"
    " assert not bad, bad"
)


@pytest.mark.parametrize(
    "modules",
    [
        # executor daemon, watcher, CLI and the modules of the assign path (validation, sizing, packing)
        "hpcq.executor.daemon, hpcq.executor.watcher, hpcq.executor.cli, hpcq.executor.resources, "
        "hpcq.executor.packing, hpcq.executor.identity, hpcq.executor.backends.slurm, hpcq.functions, hpcq.config",
        "hpcq.ui.app, hpcq.ui.data",
    ],
)
def test_never_imports_qiskit(modules):
    code = CHECK.format(imports="; ".join(f"import {m.strip()}" for m in modules.split(",")))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]


def test_assign_path_validates_without_qiskit():
    """Planning a real catalog function (kwargs model + sizing) imports no Qiskit either."""
    code = (
        "import sys; from hpcq import functions; fd = functions.get('vqe_sweep'); fd.params_model(); "
        "bad = sorted(m for m in sys.modules if m.startswith('qiskit')); assert not bad, bad"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
