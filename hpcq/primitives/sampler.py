"""hpcq's SamplerV2: Qiskit's sampler interface, run by Aer in-process (mode="local"), in a Slurm
job through ColonyOS (mode="remote") or in a running Session's Slurm allocation."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from qiskit.primitives import BaseSamplerV2
from qiskit.primitives.containers.sampler_pub import SamplerPub

from hpcq.primitives.base import _Primitive
from hpcq.primitives.options import SamplerOptions


class SamplerV2(_Primitive, BaseSamplerV2):
    """``SamplerV2(mode="local" | "remote" | session, options={...}, **options)``; semantics of
    ``qiskit_aer.primitives.SamplerV2`` (``seed`` seeds the shots; default_shots 1024)."""

    _primitive = "sampler"
    _options_cls = SamplerOptions

    def run(self, pubs: Iterable[Any], *, shots: int | None = None):
        if shots is None:
            shots = self._options.default_shots
        coerced = []
        for i, pub in enumerate(pubs):
            try:
                pub = SamplerPub.coerce(pub, shots)
            except Exception as exc:  # noqa: BLE001
                raise ValueError(
                    f"pubs[{i}] is not a valid sampler PUB (circuit[, parameter values[, shots]]): {exc}"
                ) from None
            if not pub.circuit.cregs:
                raise ValueError(
                    f"pubs[{i}]: the circuit has no classical registers, so there is nothing to "
                    "sample; add measurements (e.g. circuit.measure_all())"
                )
            coerced.append(pub)
        return self._submit(coerced)
