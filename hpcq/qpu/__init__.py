"""QPUs as targets of a Slurm job (docs/qpu.md): open a vendor backend from the environment a
site's SPANK plugin exports (``hpcq.qpu.env``, ``hpcq.qpu.backend``), or a digital twin
(``hpcq.qpu.twin``); transpile to the device's native gates and check every transpile against
the logical circuit (``hpcq.qpu.transpile``); estimate with shots and readout mitigation
(``hpcq.qpu.mitigation``); the catalog step ``qpu_run`` (``hpcq.qpu.run``).

Knows nothing of ColonyOS or the executor: the executor hands the profile's QPU entry to the job
(``ctx.extra["qpu"]``). This module and ``hpcq.qpu.params`` import no Qiskit (the executor
validates QPU steps with them); the vendor clients come with the extra ``qpu-iqm-qrmi``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRA_IQM_QRMI = "qpu-iqm-qrmi"


class QpuError(RuntimeError):
    """A QPU step that cannot run; the message names what is missing and the fix."""


def require(module: str, extra: str = EXTRA_IQM_QRMI) -> ModuleType:
    """Import a vendor client module, or fail naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise QpuError(
            f"{module} is not importable ({exc}): the QPU route needs the extra {extra}; "
            f"install it with pip install 'hpcq[{extra}]' (docs/qpu.md: it pins iqm-client 35, "
            "so use its own venv, e.g. .venv-qpu from scripts/setup.sh)"
        ) from None
