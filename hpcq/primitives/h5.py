"""Primitive results as an hpcq HDF5 file (format of hpcq.results.h5format, with provenance), on
request (option ``h5=True``). The file is a valid hpcq result file with no VQE tasks plus a group
``/primitive``: ``kind``, ``result_json`` (the whole result, as the process output), ``params_json``
(the call: PUBs as QPY + observables + parameter arrays, options) and per PUB ``pubs/<i>/`` with
``evs``/``stds`` (estimator) or one uint8 bit array per classical register (sampler). A call on a
QPU (option ``target``) adds ``/primitive/qpu``: the result's ``qpu`` provenance as attributes
(backend, calibration_set_id, shots_total, qpu_time_s, queue_time_s, ...) and the profile's twin
(``twin_json``), per PUB the transpiled circuits as QPY (``pubs/<i>/isa_qpy``), their roles,
raw counts, transpile checks and job timelines (JSON), and the readout calibration if measured."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


def _provenance(params, ctx) -> dict[str, Any]:
    from hpcq.results.h5format import now_iso
    from hpcq.worker.provenance import job_provenance

    return {
        **job_provenance(ctx, ctx.size, ctx.threads),
        "workflow_id": "",
        "started": now_iso(),
        "finished": now_iso(),
        "wall_time_s": 0.0,
        "command": f"primitive_run ({params.primitive})",
        "seeds": [params.options.seed or 0],
        "sweep_json": params.model_dump_json(),
    }


def _qpu_group(g, result: dict[str, Any], runs: list[dict[str, Any]], entry: dict[str, Any]) -> None:
    import numpy as np

    from hpcq.qpu.run import _qpy
    from hpcq.results.h5format import STR

    q = g.create_group("qpu")
    for k, v in result["metadata"]["qpu"].items():
        q.attrs[k] = json.dumps(v) if isinstance(v, list) else v
    q.attrs["twin_json"] = json.dumps(entry.get("twin") or {})
    for i, run in enumerate(runs):
        pg = q.create_group(f"pubs/{i}")
        pg.create_dataset("isa_qpy", data=_qpy(run["isas"]))
        pg.create_dataset("circuits_json", data=json.dumps(run["roles"]), dtype=STR)
        pg.create_dataset("counts_json", data=json.dumps(run["counts"]), dtype=STR)
        pg.create_dataset("checks_json", data=json.dumps(run["checks"], default=float), dtype=STR)
        pg.create_dataset("timeline_json", data=json.dumps(run["jobs"], default=str), dtype=STR)
        cal = run.get("calibration")
        if cal is not None:
            pg.create_dataset("mitigation_qubits", data=np.asarray(cal.qubits, dtype=np.int64))
            pg.create_dataset("mitigation_matrices", data=cal.matrices)


def write_primitive_h5(params, result: dict[str, Any], ctx, qpu_runs=None, qpu_entry=None) -> Path:
    import numpy as np

    from hpcq.primitives.wire import _unpack
    from hpcq.results.h5format import STR, write_file

    tag = ctx.slurm_job_id or ctx.process_id[:16] or time.strftime("%Y%m%dT%H%M%S")
    path = Path(ctx.workdir) / f"{params.label}-{tag}.h5"
    prov = _provenance(params, ctx)
    prov["wall_time_s"] = float(result["metadata"]["hpcq"]["wall_time_s"])

    def extend(f) -> None:
        g = f.create_group("primitive")
        g.attrs["kind"] = params.primitive
        g.create_dataset("result_json", data=json.dumps(result, sort_keys=True), dtype=STR)
        g.create_dataset("params_json", data=params.model_dump_json(), dtype=STR)
        pubs = g.create_group("pubs")
        for i, r in enumerate(result["pubs"]):
            pg = pubs.create_group(str(i))
            shape = tuple(r["shape"])
            if params.primitive == "estimator":
                pg.create_dataset("evs", data=np.asarray(r["evs"], dtype=np.float64).reshape(shape))
                pg.create_dataset("stds", data=np.asarray(r["stds"], dtype=np.float64).reshape(shape))
            else:
                for name, reg in r["registers"].items():
                    ds = pg.create_dataset(name, data=_unpack(reg["array"]))
                    ds.attrs["num_bits"] = int(reg["num_bits"])
        if qpu_runs is not None:
            _qpu_group(g, result, qpu_runs, qpu_entry or {})

    write_file(path, params.label, [], prov, extend=extend)
    return path
