"""A study file (YAML or TOML) -> validated Study. Errors name the file, the field and the fix.

Example (docs/studies.md has every field)::

    name: h2-noise
    mode: workflow            # workflow (seed-study DAG) | sweep (one process per task) | single
    resources: {nodes: 1, ranks_per_node: 1, cpus_per_rank: 1, mem: 2Gi, walltime: 600}
    sweep:                    # hpcq.sim.spec.SweepParams
      problems: [{kind: h2, bond_length: 0.735}]
      optimizers: [{kind: cobyla, maxiter: 80}]
      noise: [{kind: none}, {kind: depolarizing, p: 0.001}, {kind: depolarizing, p: 0.01}]
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hpcq import units
from hpcq.client.placement import Placement, check_mode
from hpcq.client.qpustudy import QpuStudy
from hpcq.client.specs import QUEUE_ALLOWANCE_S, maxexectime
from hpcq.sim.scan import ScanError
from hpcq.sim.scan import expand as expand_scans
from hpcq.sim.spec import SweepParams, error_location, error_text

Mode = Literal["workflow", "sweep", "single"]
MODES: tuple[Mode, ...] = get_args(Mode)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class StudyError(ValueError):
    """Invalid study; str() names the field(s) and the fix."""


class Resources(BaseModel):
    """Per Slurm job (one ColonyOS process). Maps onto FunctionSpec.conditions."""

    model_config = ConfigDict(extra="forbid")
    nodes: int = Field(default=1, ge=1, le=127)
    ranks_per_node: int = Field(default=1, ge=1, le=127, description="MPI ranks per node (processespernode)")
    cpus_per_rank: int = Field(default=1, ge=1, le=1024, description="cores per rank = Aer threads per rank")
    mem: str = Field(default="2Gi", description="memory per node, e.g. 2048Mi or 4Gi")
    walltime: int = Field(default=600, ge=10, le=30 * 86400, description="Slurm time limit, seconds")
    gpus: int = Field(default=0, ge=0, le=16, description="GPUs per node")

    @field_validator("mem")
    @classmethod
    def _mem(cls, v: str) -> str:
        if not units.is_mem_request(v):
            raise ValueError(f"{v!r} is not a memory size; write e.g. 2048Mi or 4Gi (units Mi, Gi, Ti)")
        return v

    def conditions(self) -> dict[str, Any]:
        c: dict[str, Any] = {
            "nodes": self.nodes,
            "processespernode": self.ranks_per_node,
            "cpu": f"{self.cpus_per_rank * 1000}m",
            "mem": units.server_mem(self.mem),
            "walltime": self.walltime,
        }
        if self.gpus:
            c["gpu"] = {"name": "", "mem": "", "count": self.gpus, "nodecount": self.nodes}
        return c


class ExecutorTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(default="hpcq", min_length=1, max_length=100)
    names: list[str] = Field(default_factory=list, description="pin to these executor names")


class Study(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    mode: Mode = "workflow"
    colony: str = Field("", description="default: COLONIES_COLONY_NAME")
    executor: ExecutorTarget = Field(default_factory=ExecutorTarget)
    resources: Resources = Field(default_factory=Resources)
    queue_allowance: int = Field(
        QUEUE_ALLOWANCE_S,
        ge=0,
        description="seconds of Slurm queue time allowed on top "
        "of walltime before ColonyOS re-queues the process (maxexectime)",
    )
    maxretries: int = Field(2, ge=-1, le=100, description="ColonyOS re-runs after maxexectime expiry")
    maxwaittime: int = Field(-1, ge=-1, description="seconds a process may wait to be assigned; -1 = forever")
    priority: int = Field(0, ge=-50000, le=50000)
    reoptimize_noise: bool = Field(
        False,
        description="workflow: each noise step also re-optimises under "
        "noise, starting from its parent VQE's optimal parameters",
    )
    placement: Placement | None = Field(
        None, description="where each step kind may run: sites, needs or any (docs/sites.md)"
    )
    qpu: QpuStudy | None = Field(
        None, description="workflow: evaluate every noiseless VQE optimum on a QPU and/or its twin (docs/studies.md)"
    )
    sweep: dict[str, Any]

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(
                f"{v!r} is not a valid study name; use letters, digits, '.', '_', '-' "
                "(max 100), starting with a letter or digit"
            )
        return v

    @model_validator(mode="after")
    def _sweep(self):
        data = dict(self.sweep)
        data.setdefault("study", self.name)
        try:  # a scan becomes ordinary problems here: the process kwargs carry one geometry per point
            data["problems"] = expand_scans(data.get("problems"))
        except ScanError as exc:
            raise ValueError(f"sweep.{exc}") from None
        try:
            SweepParams.model_validate(data)
        except ValidationError as exc:
            raise ValueError(" | ".join("sweep." + m for m in _messages(exc))) from None
        self.sweep = data
        return self

    @model_validator(mode="after")
    def _placement(self):
        if self.placement is not None:
            check_placement(self)
        return self

    @model_validator(mode="after")
    def _qpu(self):
        if self.qpu is not None:
            if self.mode != "workflow":
                raise ValueError(
                    f"qpu: the hybrid workflow's QPU steps are children of the workflow's VQE steps; "
                    f"use mode: workflow (not {self.mode}) or remove qpu"
                )
            self.qpu.check_profile()
        return self

    @property
    def params(self) -> SweepParams:
        return SweepParams.model_validate(self.sweep)

    @property
    def maxexectime(self) -> int:
        return maxexectime(self.resources.walltime, self.queue_allowance)


def check_placement(study: Study) -> None:
    """Placement rules must name the study's step kinds, and pin steps by site, not also by name."""
    assert study.placement is not None
    check_mode(study.placement, study.mode)
    if study.executor.names:
        raise ValueError(
            "placement: executor.names pins every step to named executors; use placement's sites "
            "(docs/sites.md) or executor.names, not both"
        )


def _messages(exc: ValidationError) -> list[str]:
    """'noise[2].p: message' per error (sweep-level messages come from hpcq.sim.spec)."""
    return [error_text(err) for err in exc.errors()]


def _format(exc: ValidationError) -> str:
    msgs = []
    for err in exc.errors():
        loc = error_location(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field; remove it or check its spelling (docs/studies.md lists the fields)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        msgs.append(f"{loc or '(study)'}: {msg}" if not msg.startswith("sweep.") else msg)
    return " | ".join(msgs)


def parse_study(data: Any, source: str = "<study>") -> Study:
    if not isinstance(data, dict):
        raise StudyError(f"{source}: a study must be a mapping of fields (name, mode, resources, sweep)")
    try:
        return Study.model_validate(data)
    except ValidationError as exc:
        raise StudyError(f"{source}: {_format(exc)}") from None


CLUSTER_PREFIX = "cluster:"
_BINARY = (".h5", ".hdf5", ".qpy")


def embed_geometry(entry: dict, base: Path, where: str) -> None:
    """``geometry: lih.xyz`` (relative to the study file) is read here and embedded as XYZ text."""
    from hpcq.sim.chem.files import MAX_EMBED_BYTES
    from hpcq.sim.chem.geometry import looks_like_xyz_path

    geo = entry.get("geometry")
    if not isinstance(geo, str) or not looks_like_xyz_path(geo):
        return
    path = (base / geo.strip()).expanduser()
    if not path.is_file():
        raise StudyError(f"{where}: {geo} not found (relative to {base}); fix the path or paste the XYZ text")
    raw = path.read_bytes()
    if len(raw) > MAX_EMBED_BYTES:
        raise StudyError(f"{where}: {geo} is {len(raw)} bytes, over the {MAX_EMBED_BYTES} byte embed limit")
    entry["geometry"] = raw.decode(errors="replace")


def embed_scan_geometries(entry: dict, base: Path, where: str) -> None:
    """``scan: {geometries: [a.xyz, b.xyz]}``: each XYZ file is embedded as ``geometry`` is."""
    scan = entry.get("scan")
    geos = scan.get("geometries") if isinstance(scan, dict) else None
    if not isinstance(geos, list):
        return
    for n, geo in enumerate(geos):
        one = {"geometry": geo}
        embed_geometry(one, base, f"{where}[{n}]")
        geos[n] = one["geometry"]


def embed_initial_point(entry: dict, base: Path, where: str) -> None:
    """``initial_point: x0.npy`` (or ``{kind: file, file: x0.txt}``), relative to the study file, is
    read here and embedded (.npy as base64, .txt as text), like problem files."""
    import base64

    from hpcq.sim.chem.files import MAX_EMBED_BYTES

    ip = entry.get("initial_point")
    if isinstance(ip, str) and ip.lower().endswith((".npy", ".txt")):
        ip = {"kind": "file", "file": ip}
    if not isinstance(ip, dict) or not isinstance(ip.get("file"), str) or "data" in ip:
        return
    path = (base / ip["file"]).expanduser()
    if not path.is_file():
        raise StudyError(f"{where}: {ip['file']} not found (relative to {base}); fix the path")
    raw = path.read_bytes()
    if len(raw) > MAX_EMBED_BYTES:
        raise StudyError(f"{where}: {ip['file']} is {len(raw)} bytes, over the {MAX_EMBED_BYTES} byte embed limit")
    npy = path.suffix.lower() == ".npy"
    entry["initial_point"] = dict(ip, file=path.name, data=base64.b64encode(raw).decode() if npy else raw.decode())


def embed_files(data: Any, base: Path, source: str) -> Any:
    """Problem/ansatz files travel with the study: ``file: ./x.fcidump`` (relative to the study file)
    is read here and embedded (text, or base64 for HDF5/QPY); ``file: cluster:/path`` stays a
    reference to the cluster filesystem (then give n_qubits for sizing)."""
    import base64

    from hpcq.sim.chem.files import MAX_EMBED_BYTES

    sweep = data.get("sweep") if isinstance(data, dict) else None
    if not isinstance(sweep, dict):
        return data
    for section in ("problems", "ansatze"):
        entries = sweep.get(section)
        if not isinstance(entries, list):
            continue  # validation names the field
        for i, entry in enumerate(entries):
            if section == "problems" and isinstance(entry, dict):
                embed_geometry(entry, base, f"{source}: sweep.problems[{i}].geometry")
                embed_scan_geometries(entry, base, f"{source}: sweep.problems[{i}].scan.geometries")
            if section == "ansatze" and isinstance(entry, dict):
                embed_initial_point(entry, base, f"{source}: sweep.ansatze[{i}].initial_point")
            if not isinstance(entry, dict) or not isinstance(entry.get("file"), str) or "data" in entry:
                continue
            ref = entry["file"]
            if ref.startswith(CLUSTER_PREFIX):
                entry["file"] = ref[len(CLUSTER_PREFIX) :]
                continue
            path = (base / ref).expanduser()
            if not path.is_file():
                raise StudyError(
                    f"{source}: sweep.{section}[{i}].file: {ref} not found (relative to {base}); "
                    f"fix the path, or write {CLUSTER_PREFIX}/abs/path for a file on the cluster"
                )
            raw = path.read_bytes()
            if len(raw) > MAX_EMBED_BYTES:
                raise StudyError(
                    f"{source}: sweep.{section}[{i}].file: {ref} is {len(raw)} bytes, over the "
                    f"{MAX_EMBED_BYTES} byte embed limit; copy it to the cluster and write "
                    f"{CLUSTER_PREFIX}/abs/path"
                )
            binary = path.suffix.lower() in _BINARY or raw[:8] == b"\x89HDF\r\n\x1a\n"
            entry["file"] = path.name
            if binary:
                entry["data"] = base64.b64encode(raw).decode()
                if section == "problems":
                    entry["encoding"] = "base64"
            else:
                try:
                    entry["data"] = raw.decode()
                except UnicodeDecodeError:
                    raise StudyError(
                        f"{source}: sweep.{section}[{i}].file: {ref} is not text; use a .h5/.qpy "
                        "suffix for binary files"
                    ) from None
    return data


# Studies shipped in the wheel (hpcq/client/studies/*.yaml): reachable by name ("water") or as
# "studies/water.yaml" from any directory, so a pip-installed hpcq can run them without a checkout.
SHIPPED_STUDIES = Path(__file__).parent / "studies"


def shipped_studies() -> list[str]:
    return sorted(p.stem for p in SHIPPED_STUDIES.glob("*.yaml"))


def resolve_study_path(path: str | Path) -> Path:
    """``path`` if it exists, else the shipped study it names (``water``, ``studies/water.yaml``)."""
    path = Path(path)
    if path.exists():
        return path
    name = path.stem if path.suffix in ("", ".yaml") and path.parent in (Path("."), Path("studies")) else None
    if name and (SHIPPED_STUDIES / f"{name}.yaml").exists():
        return SHIPPED_STUDIES / f"{name}.yaml"
    raise StudyError(
        f"{path}: no such study file; give a path to a .yaml/.toml/.json study, or the name of a shipped "
        f"study ({', '.join(shipped_studies())})"
    )


def load_study(path: str | Path) -> Study:
    """Read a .yaml/.yml/.toml/.json study file (problem/ansatz files it names are embedded)."""
    path = resolve_study_path(path)
    text = path.read_text()
    try:
        # YAML is a superset of JSON
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise StudyError(f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'YAML'}: {exc}") from None
    return parse_study(embed_files(data, path.parent, str(path)), str(path))
