"""tests/qpu: the QPU route's tests that import the vendor clients (qrmi, iqm-client 35) run in
the venv of the extra qpu-iqm-qrmi (.venv-qpu, scripts/setup.sh; HPCQ_QPU_PYTHON overrides): in any
other interpreter they are not collected, and test_in_qpu_env.py runs them there instead."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IN_QPU_ENV = ["test_transpile_check.py", "test_qpu_route.py", "test_hybrid_twin.py", "test_primitives_qpu.py"]


def has_qpu_extra() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("qrmi", "iqm"))


def qpu_python() -> Path:
    return Path(os.environ.get("HPCQ_QPU_PYTHON") or ROOT / ".venv-qpu" / "bin" / "python")


collect_ignore = [] if has_qpu_extra() else IN_QPU_ENV
