"""Qiskit primitives V2 backed by hpcq: ``EstimatorV2`` / ``SamplerV2`` run locally, as a Slurm
job through ColonyOS, or inside a ``Session`` (one Slurm allocation for many calls).

Imported lazily: the executor imports ``hpcq.primitives.params`` (no Qiskit) through this package.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "EstimatorV2": "hpcq.primitives.estimator",
    "SamplerV2": "hpcq.primitives.sampler",
    "Session": "hpcq.primitives.session",
    "EstimatorOptions": "hpcq.primitives.options",
    "SamplerOptions": "hpcq.primitives.options",
    "OptionsError": "hpcq.primitives.options",
    "PrimitiveJobError": "hpcq.primitives.job",
    "JobTimeout": "hpcq.primitives.job",
}
__all__ = [
    "EstimatorOptions",
    "EstimatorV2",
    "JobTimeout",
    "OptionsError",
    "PrimitiveJobError",
    "SamplerOptions",
    "SamplerV2",
    "Session",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hpcq.primitives' has no attribute {name!r}")
