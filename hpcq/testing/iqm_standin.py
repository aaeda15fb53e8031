"""A loopback stand-in for an IQM Server's REST API (docs/qpu.md, testing the vendor route): the
paths QRMI 0.26.4's unmodified Rust client calls (qpu.md §1.2), served by stdlib ``http.server``
on 127.0.0.1, executing each submitted circuit batch on a digital twin: iqm-client's
``validate_circuit_instructions`` (native gates on coupled loci, as the server would) and
``deserialize_instructions``, then Aer with the twin's noise model (readout errors included).

A stand-in for the vendor's API, not a mock of hpcq: hpcq's QPU code and the QRMI client run
unchanged against it. It records every request (``requests``) and every submitted circuit
(``circuits``: name, instructions as JSON) so a test can check what reached the "device".
Needs the extra qpu-iqm-qrmi (iqm-client 35) and qiskit-aer.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

JOB_STATUSES = ("received", "execution_started", "execution_ended", "ready")  # timeline entries served


def _now() -> str:
    return datetime.now(UTC).isoformat()


class IqmStandin:
    """``with IqmStandin(twin, "vlq") as s: s.url`` serves quantum computer ``qc`` (also reachable
    by QRMI's resource-name convention: the last ``_`` becomes ``:``)."""

    def __init__(self, twin: Any, qc: str = "vlq", seed: int = 11, queue_s: float = 0.0):
        from iqm.station_control.interface.models import DynamicQuantumArchitecture

        self.twin, self.qc, self.seed, self.queue_s = twin, qc, seed, queue_s
        # a calibration-set id of its own (a fake's is the nil UUID), so provenance can be checked
        calset = uuid.uuid5(uuid.NAMESPACE_URL, f"hpcq-standin/{qc}/calibration")
        self.calset_id = str(calset)
        self.qc_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"hpcq-standin/{qc}"))
        self.dqa: DynamicQuantumArchitecture = twin.architecture.model_copy(update={"calibration_set_id": calset})
        self.requests: list[tuple[str, str]] = []
        self.circuits: list[dict[str, Any]] = []
        self.jobs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # ---- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> IqmStandin:
        handler = type("Handler", (_Handler,), {"standin": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True, name="iqm-standin").start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the stand-in first (with IqmStandin(...) as s)"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def env(self, resource: str, token: str = "standin-token") -> dict[str, str]:
        """The environment QRMI's SPANK plugin would export for ``resource`` on this server."""
        return {
            "QRMI_JOB_QPU_RESOURCES": resource,
            "QRMI_JOB_QPU_TYPES": "iqm-server",
            f"{resource}_QRMI_IQM_ISA_ENDPOINT": self.url,
            f"{resource}_QRMI_IQM_ISA_TOKEN": token,
            f"{resource}_QRMI_JOB_ACQUISITION_TOKEN": str(uuid.uuid4()),
        }

    # ---- the API's documents --------------------------------------------------------------
    def _obs_set(self, kind: str, set_id: str, describes: str | None) -> dict[str, Any]:
        return {
            "observation_set_type": kind,
            "observation_set_id": set_id,
            "describes_id": describes,
            "invalid": False,
            "dut_label": f"standin-{self.qc}",
            "created_timestamp": _now(),
            "end_timestamp": _now(),
            "observations": [],
        }

    def _qc(self) -> dict[str, Any]:
        return {"id": self.qc_id, "alias": self.qc, "display_name": f"{self.qc} (hpcq stand-in on a twin)"}

    def get(self, path: str) -> Any:
        qc, cal = f"/api/v1/quantum-computers/{self.qc}", f"/api/v1/calibration-sets/{self.qc}/"
        if path == "/api/v1/quantum-computers":
            return {"quantum_computers": [self._qc()]}
        if path in (qc, f"/api/v1/quantum-computers/{self.qc_id}"):
            return {**self._qc(), "status": {"health": {"healthy": True, "updated_at": _now()}}}
        if path == qc + "/artifacts/static-quantum-architectures":
            return [self._sqa()]
        if path.startswith(cal):
            rest = path[len(cal) :].split("/")
            if rest[0] not in ("default", self.calset_id):
                return None
            tail = "/".join(rest[1:])
            if tail == "dynamic-quantum-architecture":
                return json.loads(self.dqa.model_dump_json())
            if tail == "":
                return self._obs_set("calibration-set", self.calset_id, None)
            if tail == "metrics":
                return self._obs_set("quality-metric-set", str(uuid.uuid4()), self.calset_id)
            return None
        if path.startswith("/api/v1/jobs/"):
            parts = path[len("/api/v1/jobs/") :].split("/")
            job = self.jobs.get(parts[0])
            if job is None:
                return None
            if len(parts) == 1:
                return job["data"]
            if parts[1:] == ["artifacts", "measurements"]:
                return job["measurements"]
            if parts[1:] == ["artifacts", "measurement_counts"]:
                return job["counts"]
        if path == "/cocos/health":
            return {"status": "ok"}
        return None

    def _sqa(self) -> dict[str, Any]:
        connectivity = sorted(
            {tuple(locus) for g in ("cz", "move") if g in self.dqa.gates for locus in self.dqa.gates[g].loci}
        )
        return {
            "dut_label": f"standin-{self.qc}",
            "qubits": list(self.dqa.qubits),
            "computational_resonators": list(self.dqa.computational_resonators),
            "connectivity": [list(c) for c in connectivity],
        }

    def submit(self, body: bytes) -> dict[str, Any]:
        """Validate and run a RunRequest on the twin; the job document (already completed)."""
        from iqm.iqm_client.validation import validate_circuit_instructions
        from iqm.station_control.interface.models import RunRequest

        req = RunRequest.model_validate_json(body)
        job_id = str(uuid.uuid4())
        received = _now()
        validate_circuit_instructions(self.dqa, list(req.circuits))  # raises on a non-native gate or locus
        with self._lock:
            for c in req.circuits:
                self.circuits.append(
                    {"name": c.name, "instructions": [{"name": i.name, "locus": list(i.locus)} for i in c.instructions]}
                )
        started = _now()
        measurements, counts = self._execute(req)
        ended = _now()
        data = {
            "id": job_id,
            "status": "completed",
            "type": "circuit",
            "qc": {"id": self.qc_id},
            "artifacts": [{"type": "measurements"}, {"type": "measurement_counts"}],
            "runtime_ms": 0,
            "tag": None,
            "compilation": {"calibration_set_id": str(req.calibration_set_id or self.calset_id)},
            "execution": {"progress": {}},
            "messages": [],
            "errors": [],
            "queue_position": None,
            "timeline": [
                {"source": "iqm-server", "status": s, "timestamp": t}
                for s, t in zip(JOB_STATUSES, (received, started, ended, ended), strict=True)
            ],
        }
        self.jobs[job_id] = {"data": data, "measurements": measurements, "counts": counts}
        return data

    def _execute(self, req: Any) -> tuple[list[dict[str, list[list[int]]]], list[dict[str, Any]]]:
        from iqm.qiskit_iqm.iqm_transpilation import IQMReplaceGateWithUnitaryPass
        from iqm.qiskit_iqm.move_gate import MOVE_GATE_UNITARY
        from iqm.qiskit_iqm.qiskit_to_iqm import MeasurementKey, deserialize_instructions
        from qiskit import QuantumRegister
        from qiskit.transpiler import Layout
        from qiskit_aer import AerSimulator

        n = len(self.twin.architecture.qubits)
        circuits, keys = [], []
        for c in req.circuits:
            layout = Layout.from_intlist(list(range(n)), QuantumRegister(n, "q"))
            qc = deserialize_instructions(list(c.instructions), dict(self.twin._qb_to_idx), layout)
            if any(inst.operation.name == "move" for inst in qc.data):
                qc = IQMReplaceGateWithUnitaryPass("move", MOVE_GATE_UNITARY)(qc)
            circuits.append(qc)
            keys.append([i.args["key"] for i in c.instructions if i.name == "measure"])
        sim = AerSimulator(noise_model=self.twin.noise_model, seed_simulator=self.seed + len(self.jobs))
        result = sim.run(circuits, shots=int(req.shots), memory=True).result()
        measurements, counts = [], []
        for i, ks in enumerate(keys):
            memory = result.get_memory(i)
            per_shot = [[r[::-1] for r in reversed(m.split(" "))] for m in memory]  # per creg, bit j at j
            out: dict[str, list[list[int]]] = {}
            for k in ks:
                mk = MeasurementKey.from_string(k)
                out[k] = [[int(regs_[mk.creg_idx][mk.clbit_idx])] for regs_ in per_shot]
            measurements.append(out)
            hist: dict[str, int] = {}
            for s in range(len(memory)):
                bits = "".join(str(out[k][s][0]) for k in ks)
                hist[bits] = hist.get(bits, 0) + 1
            counts.append({"measurement_keys": ks, "counts": hist})
        return measurements, counts


class _Handler(BaseHTTPRequestHandler):
    standin: IqmStandin

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def _send(self, code: int, doc: Any) -> None:
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        self.standin.requests.append(("GET", self.path))
        doc = self.standin.get(url.path.rstrip("/") or "/")
        if doc is None:
            self._send(404, {"error_code": "not_found", "message": f"no such path {url.path}", "details": {}})
        else:
            self._send(200, doc)

    def do_POST(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        self.standin.requests.append(("POST", self.path))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if url.path != f"/api/v1/jobs/{self.standin.qc}/circuit":
            self._send(404, {"error_code": "not_found", "message": f"no such path {url.path}", "details": {}})
            return
        try:
            self._send(200, self.standin.submit(body))
        except Exception as exc:  # noqa: BLE001 - the server answers a bad request as IQM's would
            self._send(400, {"error_code": "invalid_input", "message": f"{type(exc).__name__}: {exc}", "details": {}})
