"""PUBs <-> data (hpcq.primitives.params) and results <-> JSON. Both ends use this module: the
client (encode PUBs, decode results) and the job (decode PUBs, encode results)."""

from __future__ import annotations

import base64
import io
import zlib
from typing import Any

import numpy as np
from qiskit import qpy
from qiskit.primitives import PrimitiveResult
from qiskit.primitives.containers import BitArray, DataBin, PubResult, SamplerPubResult
from qiskit.primitives.containers.bindings_array import BindingsArray
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.observables_array import ObservablesArray
from qiskit.primitives.containers.sampler_pub import SamplerPub

from hpcq.primitives.params import PubPayload


# -- circuits ------------------------------------------------------------------------------------
def circuit_to_b64(circuit) -> str:
    buf = io.BytesIO()
    qpy.dump(circuit, buf)
    return base64.b64encode(buf.getvalue()).decode()


def circuit_from_b64(text: str):
    circuits = qpy.load(io.BytesIO(base64.b64decode(text)))
    if len(circuits) != 1:
        raise ValueError(f"a PUB's QPY payload holds {len(circuits)} circuits; it must hold exactly one")
    return circuits[0]


# -- PUBs ----------------------------------------------------------------------------------------
def _param_array(circuit, values: BindingsArray) -> np.ndarray:
    """bshape + (nparams,) in circuit.parameters order (what Aer binds)."""
    return np.asarray(values.as_array(circuit.parameters), dtype=float)


def encode_pub(pub: EstimatorPub | SamplerPub) -> dict[str, Any]:
    circuit = pub.circuit
    arr = _param_array(circuit, pub.parameter_values)
    d: dict[str, Any] = {
        "circuit": circuit_to_b64(circuit),
        "num_qubits": circuit.num_qubits,
        "parameter_values": arr.ravel().tolist(),
        "parameter_shape": list(arr.shape),
    }
    if isinstance(pub, EstimatorPub):
        obs = pub.observables
        d["observables"] = [{k: float(np.real(v)) for k, v in o.items()} for o in obs.ravel().tolist()]
        d["observables_shape"] = list(obs.shape)
        d["precision"] = float(pub.precision)
    else:
        d["shots"] = int(pub.shots)
    return d


def decode_pub(p: PubPayload, primitive: str) -> EstimatorPub | SamplerPub:
    circuit = circuit_from_b64(p.circuit)
    if circuit.num_qubits != p.num_qubits:
        raise ValueError(f"the circuit has {circuit.num_qubits} qubits but the PUB says {p.num_qubits}")
    arr = np.asarray(p.parameter_values, dtype=float).reshape(p.parameter_shape)
    if arr.shape[-1] != circuit.num_parameters:
        raise ValueError(
            f"the circuit has {circuit.num_parameters} parameters but the PUB gives "
            f"{arr.shape[-1]} values per parameter set"
        )
    values = (
        BindingsArray({tuple(circuit.parameters): arr})
        if circuit.num_parameters
        else BindingsArray(shape=tuple(p.bshape))
    )
    if primitive == "estimator":
        obs = np.empty(len(p.observables), dtype=object)
        for i, o in enumerate(p.observables):
            obs[i] = dict(o)
        obs = ObservablesArray(obs.reshape(p.observables_shape), num_qubits=p.num_qubits)
        return EstimatorPub(circuit, obs, values, p.precision, validate=True)
    return SamplerPub(circuit, values, p.shots, validate=True)


# -- results -------------------------------------------------------------------------------------
def _pack(a: np.ndarray) -> dict[str, Any]:
    return {
        "dtype": str(a.dtype),
        "shape": list(a.shape),
        "b64": base64.b64encode(zlib.compress(np.ascontiguousarray(a).tobytes(), 6)).decode(),
    }


def _unpack(d: dict[str, Any]) -> np.ndarray:
    raw = zlib.decompress(base64.b64decode(d["b64"]))
    return np.frombuffer(raw, dtype=d["dtype"]).reshape(d["shape"]).copy()


def estimator_pub_json(evs: np.ndarray, stds: np.ndarray, metadata: dict[str, Any]) -> dict[str, Any]:
    # plain lists: JSON floats round-trip exactly (repr), and the summary stays readable
    return {
        "shape": list(evs.shape),
        "evs": np.asarray(evs, dtype=float).ravel().tolist(),
        "stds": np.asarray(stds, dtype=float).ravel().tolist(),
        "metadata": metadata,
    }


def sampler_pub_json(
    arrays: dict[str, tuple[np.ndarray, int]], shape: tuple[int, ...], metadata: dict[str, Any]
) -> dict[str, Any]:
    return {
        "shape": list(shape),
        "metadata": metadata,
        "registers": {name: {"num_bits": nbits, "array": _pack(a)} for name, (a, nbits) in arrays.items()},
    }


def result_from_json(primitive: str, data: dict[str, Any]) -> PrimitiveResult:
    pubs = []
    for r in data["pubs"]:
        shape = tuple(r["shape"])
        if primitive == "estimator":
            evs = np.asarray(r["evs"], dtype=float).reshape(shape)
            stds = np.asarray(r["stds"], dtype=float).reshape(shape)
            pubs.append(PubResult(DataBin(evs=evs, stds=stds, shape=shape), metadata=r["metadata"]))
        else:
            meas = {name: BitArray(_unpack(reg["array"]), reg["num_bits"]) for name, reg in r["registers"].items()}
            pubs.append(SamplerPubResult(DataBin(**meas, shape=shape), metadata=r["metadata"]))
    return PrimitiveResult(pubs, metadata=data.get("metadata", {}))
