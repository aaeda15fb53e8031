"""Digital twins of QPUs (``access: twin``, docs/qpu.md): IQM fake backends (iqm-client's static
error snapshots), or a star of N qubits around one computational resonator (VLQ's shape) with
Deneb's illustrative error numbers. A twin is shaped like the device; it is NOT its calibration,
and says so in its label."""

from __future__ import annotations

from typing import Any

from hpcq.qpu import require

FAKES = {"adonis": "IQMFakeAdonis", "deneb": "IQMFakeDeneb", "apollo": "IQMFakeApollo", "aphrodite": "IQMFakeAphrodite"}
# Deneb's published fake numbers (iqm-client fake_deneb.py): illustrative, not any device's calibration
DENEB_LIKE = {"t1": 35000.0, "t2": 33000.0, "t1_cr": 5400.0, "t2_cr": 10800.0, "prx": 0.0002, "cz": 0.0128,
              "readout": 0.02, "prx_ns": 40.0, "cz_ns": 120.0, "move_ns": 96.0}  # fmt: skip


def star_twin(qubits: int, name: str = "") -> Any:
    """An IQMFakeBackend: ``qubits`` qubits star-coupled to one computational resonator CR1."""
    fb = require("iqm.qiskit_iqm.fake_backends.iqm_fake_backend")
    models = require("iqm.station_control.interface.models")
    q = [f"QB{i + 1}" for i in range(qubits)]
    d = DENEB_LIKE
    sqa = models.StaticQuantumArchitecture(
        dut_label=f"hpcq-star-{qubits}",
        qubits=q,
        computational_resonators=["CR1"],
        connectivity=[("CR1", x) for x in q],
    )
    profile = fb.IQMErrorProfile(
        t1s={"CR1": d["t1_cr"], **{x: d["t1"] for x in q}},
        t2s={"CR1": d["t2_cr"], **{x: d["t2"] for x in q}},
        single_qubit_gate_depolarizing_error_parameters={"prx": {x: d["prx"] for x in q}},
        two_qubit_gate_depolarizing_error_parameters={
            "cz": {(x, "CR1"): d["cz"] for x in q},
            "move": {(x, "CR1"): 0.0 for x in q},
        },
        single_qubit_gate_durations={"prx": d["prx_ns"]},
        two_qubit_gate_durations={"cz": d["cz_ns"], "move": d["move_ns"]},
        readout_errors={x: {"0": d["readout"], "1": d["readout"]} for x in q},
        name=f"star{qubits}-deneb-like",
    )
    return fb.IQMFakeBackend(sqa, profile, name=name or f"hpcq-twin-star{qubits}")


def make_twin(twin: dict[str, Any]) -> tuple[Any, str]:
    """(backend, label) for a profile's ``twin`` entry."""
    kind = twin.get("kind", "iqm_star")
    if kind == "iqm_star":
        n = int(twin.get("qubits", 6))
        return star_twin(n), f"twin iqm_star {n} qubits, deneb-like error numbers: NOT calibrated on the device"
    fake = twin.get("fake") or "deneb"
    if fake == "garnet":
        backend = require("iqm.qiskit_iqm.fake_backends.fake_garnet").IQMFakeGarnet()
    else:
        backend = getattr(require("iqm.qiskit_iqm.fake_backends"), FAKES[fake])()
    return backend, f"twin iqm_fake {fake}: iqm-client's static snapshot, NOT the device's calibration"
