"""hpcq's EstimatorV2: Qiskit's estimator interface, run by Aer in-process (mode="local"), in a
Slurm job through ColonyOS (mode="remote") or in a running Session's Slurm allocation."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from qiskit.primitives import BaseEstimatorV2
from qiskit.primitives.containers.estimator_pub import EstimatorPub

from hpcq.primitives.base import _Primitive
from hpcq.primitives.options import EstimatorOptions


class EstimatorV2(_Primitive, BaseEstimatorV2):
    """``EstimatorV2(mode="local" | "remote" | session, options={...}, **options)``.

    Semantics are those of ``qiskit_aer.primitives.EstimatorV2``: precision 0 (the default) gives
    exact expectation values, precision > 0 adds Gaussian noise of that width (seeded by ``seed``).
    Options: see hpcq.primitives.options (method, device, noise, noise_model, backend, seed,
    default_precision, resources, profile, executor_type, h5, label, ...)."""

    _primitive = "estimator"
    _options_cls = EstimatorOptions

    def run(self, pubs: Iterable[Any], *, precision: float | None = None):
        if precision is None:
            precision = self._options.default_precision
        if precision < 0:
            raise ValueError(f"precision={precision}: use precision >= 0 (0 = exact)")
        coerced = []
        for i, pub in enumerate(pubs):
            try:
                coerced.append(EstimatorPub.coerce(pub, precision))
            except Exception as exc:  # noqa: BLE001 - Qiskit raises ValueError/TypeError/QiskitError
                raise ValueError(
                    f"pubs[{i}] is not a valid estimator PUB (circuit, observables[, parameter "
                    f"values[, precision]]): {exc}"
                ) from None
        return self._submit(coerced)
