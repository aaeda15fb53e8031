"""Noise models from a NoiseSpec, and where each one acts.

Gate-level models act on the basis ["cx", "rz", "sx", "x"] that every circuit is transpiled to
(IBM-like); rz is virtual (a frame change) and stays noiseless, as on IBM hardware. ``p`` is the
error of one-qubit gates (sx, x), ``p2`` (default ``p``) that of cx.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np

from hpcq.sim.spec import NoiseSpec

BASIS_GATES = ["cx", "rz", "sx", "x"]
ONE_QUBIT_NOISY = ["sx", "x"]


def fake_backend(name: str):
    """A qiskit-ibm-runtime fake backend (offline; optional extra ``hpcq[fake-backends]``)."""
    try:
        from qiskit_ibm_runtime import fake_provider
    except ImportError as exc:  # pragma: no cover - extra not installed
        raise RuntimeError(
            f"noise kind 'fake_backend' needs qiskit-ibm-runtime ({exc}); pip install 'hpcq[fake-backends]'"
        ) from None
    return getattr(fake_provider, name)()


def build_noise_model(spec: NoiseSpec):
    """Aer NoiseModel for ``spec`` (None for kind 'none')."""
    from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error, pauli_error, thermal_relaxation_error

    k = spec.kind
    if k == "none":
        return None
    if k == "fake_backend":
        return NoiseModel.from_backend(fake_backend(spec.backend))
    # "id" included because NoiseModel.from_dict always adds it: keeps the JSON round trip exact
    nm = NoiseModel(basis_gates=sorted(BASIS_GATES + ["id"]))
    p2 = spec.p if spec.p2 is None else spec.p2
    if k == "depolarizing":
        nm.add_all_qubit_quantum_error(depolarizing_error(spec.p, 1), ONE_QUBIT_NOISY)
        nm.add_all_qubit_quantum_error(depolarizing_error(p2, 2), ["cx"])
    elif k == "bit_flip":
        e1 = pauli_error([("X", spec.p), ("I", 1 - spec.p)])
        e2 = pauli_error([("X", p2), ("I", 1 - p2)])
        nm.add_all_qubit_quantum_error(e1, ONE_QUBIT_NOISY)
        nm.add_all_qubit_quantum_error(e2.tensor(e2), ["cx"])
    elif k == "thermal":
        e1 = thermal_relaxation_error(spec.t1, spec.t2, spec.gate_time_1q)
        e2 = thermal_relaxation_error(spec.t1, spec.t2, spec.gate_time_2q)
        nm.add_all_qubit_quantum_error(e1, ONE_QUBIT_NOISY)
        nm.add_all_qubit_quantum_error(e2.tensor(e2), ["cx"])
    elif k == "readout":
        nm.add_all_qubit_readout_error(ReadoutError([[1 - spec.p, spec.p], [spec.p, 1 - spec.p]]))
    return nm


MATRIX_INSTRUCTIONS = ("kraus", "unitary", "superop", "mat")


def noise_model_to_json(nm) -> str:
    """NoiseModel.to_dict(serializable=True) as JSON, minus Aer's random per-error "id" (a UUID
    that would make identical models serialize differently)."""
    if nm is None:
        return "null"
    data = nm.to_dict(serializable=True)
    for err in data.get("errors", []):
        err.pop("id", None)
    data["basis_gates"] = sorted(nm.basis_gates)  # to_dict omits them; from_dict guesses
    return json.dumps(data, sort_keys=True)


def _complex_matrices(params: list) -> list:
    """serializable=True writes complex entries as [re, im]; from_dict wants complex arrays."""
    out = []
    for m in params:
        a = np.asarray(m, dtype=float)
        out.append(a[..., 0] + 1j * a[..., 1] if a.ndim >= 1 and a.shape[-1] == 2 else a)
    return out


def noise_model_from_json(text: str):
    from qiskit_aer.noise import NoiseModel

    data = json.loads(text)
    if data is None:
        return None
    basis = data.pop("basis_gates", None)
    for err in data.get("errors", []):
        for circ in err.get("instructions", []):
            for ins in circ:
                if ins.get("name") in MATRIX_INSTRUCTIONS and ins.get("params"):
                    ins["params"] = _complex_matrices(ins["params"])
    with warnings.catch_warnings():  # deprecated in Aer 0.15 but still the only JSON reader
        warnings.simplefilter("ignore", DeprecationWarning)
        nm = NoiseModel.from_dict(data)
    if basis is not None:  # restore the exact basis (add_basis_gates drops non-gates like delay)
        nm._basis_gates = set(basis)
    return nm


def readout_matrices(nm, physical_qubits: list[int]) -> list[np.ndarray | None]:
    """Per measured qubit, the 2x2 matrix P[true, measured] of the model's readout error (or None)."""
    if nm is None:
        return [None] * len(physical_qubits)
    data: dict[str, Any] = nm.to_dict()
    default, local = None, {}
    for err in data.get("errors", []):
        if err.get("type") != "roerror":
            continue
        mat = np.asarray(err["probabilities"], dtype=float)
        if err.get("gate_qubits"):
            for qs in err["gate_qubits"]:
                local[tuple(qs)] = mat
        else:
            default = mat
    return [local.get((q,), default) for q in physical_qubits]


def apply_readout(probs: np.ndarray, mats: list[np.ndarray | None]) -> np.ndarray:
    """Exact effect of independent readout errors on a distribution (little-endian index)."""
    n = len(mats)
    t = probs.reshape([2] * n)  # axis 0 = most significant = qubit n-1
    for q, m in enumerate(mats):
        if m is None:
            continue
        axis = n - 1 - q
        t = np.moveaxis(np.tensordot(m.T, np.moveaxis(t, axis, 0), axes=1), 0, axis)
    return t.reshape(-1)


def readout_attenuation(spec: NoiseSpec) -> float | None:
    """For symmetric readout flips p, <P> measured = (1-2p)^weight(P) <P>: the energy is exact
    with attenuated coefficients. None for every other kind (readout of a fake backend affects only
    the distributions, like Aer's estimator)."""
    return 1.0 - 2.0 * spec.p if spec.kind == "readout" else None
