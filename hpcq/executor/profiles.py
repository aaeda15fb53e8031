"""Site profiles (one YAML file per HPC partition) and the mapping ColonyOS conditions -> Slurm job.

A profile says what a site's nodes have and how to ask for them (partition, account, qos, modules,
srun/MPI and GPU flag style, cores/GPUs/memory per node, max walltime). ``resolve_resources``
checks a process's ``conditions`` against it and refuses anything impossible *before* anything is
queued; ``submitit_params`` turns the result into submitit parameters in which only profile values
and validated numbers appear, so nothing from a process spec reaches a shell.

Format: slurm_templates/README.md and docs/profiles.md. Lookup order for a name: a file path,
then ``$HPCQ_CONFIG_DIR/profiles/<name>.yaml`` (users' own, wins), then the shipped profiles. Those
live in the repository's top-level ``slurm_templates/profiles/`` and ship inside the package as
``hpcq._slurm_templates`` (setup.py maps the folder; wheels and editable installs alike), so they
are found through importlib.resources wherever hpcq is installed.
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hpcq.config import config_dir

# installed packages are plain directories (pip unpacks wheels), so a Path is safe here
SHIPPED_DIR = Path(str(resources.files("hpcq._slurm_templates") / "profiles"))

_WORD = r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$"  # partition, account, qos, gres name
_MODULE = r"^[A-Za-z0-9_][A-Za-z0-9_./+:@-]*$"  # e.g. LUMI/24.03, partition/C, cray-python
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
MIB = 1024 * 1024


class ResourceError(ValueError):
    """A request that cannot run; ``field`` names what to change and str() says how."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class ProfileError(ResourceError):
    """A profile that cannot be found, parsed or used (field = the profile key or 'profile')."""


class ConditionsError(ResourceError):
    """Process conditions the profile's nodes cannot satisfy; str() starts with conditions.<field>."""

    def __init__(self, field: str, message: str):
        super().__init__(f"conditions.{field}", message)


class Profile(BaseModel):
    """One site partition. Any scalar may be written ``{value: X, verify: true, note: "..."}`` in
    YAML to say a user must check it (account/project, partition for their allocation ...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    description: str = ""
    source: str = Field(min_length=1, description="where the values come from (docs page, date)")
    docs_url: str = ""
    site: str = ""
    partition: str | None = Field(default=None, pattern=_WORD)
    account: str | None = Field(default=None, pattern=_WORD)
    account_required: bool = False
    qos: str | None = Field(default=None, pattern=_WORD)
    qos_required: bool = False
    modules: list[str] = Field(default_factory=list)
    setup: list[str] = Field(default_factory=list, description="shell lines run before srun (trusted)")
    env: dict[str, str] = Field(default_factory=dict, description="exported, values shell-quoted")
    srun_args: list[str] = Field(default_factory=list)
    mpi: str | None = Field(default=None, pattern=r"^(pmi2|pmix|pmix_v[0-9]|cray_shasta|none)$")
    gpu_flag_style: Literal["gpus-per-node", "gres"] = "gpus-per-node"
    gres_name: str = Field(default="gpu", pattern=_WORD)
    gpu_vendor: Literal["none", "nvidia", "amd", "intel"] = "none"
    gpu_model: str = ""
    gpu_mem_gb: float = Field(default=0, ge=0)
    cores_per_node: int = Field(gt=0)
    gpus_per_node: int = Field(default=0, ge=0)
    mem_per_node_gb: float = Field(gt=0, description="memory a job may use per node")
    send_mem: bool = Field(default=True, description="False where the site forbids --mem")
    exclusive: bool = Field(default=False, description="partition allocates whole nodes")
    max_walltime_s: int = Field(gt=0)
    default_walltime_s: int = Field(default=3600, gt=0)
    max_nodes: int = Field(default=1, gt=0)
    aer: Literal["pypi", "mpi", "gpu"] = Field(
        default="pypi",
        description="which qiskit-aer the site's jobs run: pypi wheel (no MPI), mpi (built with "
        "scripts/build-aer-mpi.sh: one statevector over ranks), gpu (qiskit-aer-gpu); hpcq.executor.sizing",
    )
    verify: list[str] = Field(default_factory=list, description="keys a user must check")
    notes: dict[str, str] = Field(default_factory=dict)
    path: str = Field(default="", description="file it was loaded from (set by the loader)")

    @model_validator(mode="before")
    @classmethod
    def _unwrap_verify_markers(cls, data: Any) -> Any:
        """``key: {value: X, verify: true, note: ...}`` -> ``key: X`` + verify/notes entries."""
        if not isinstance(data, dict):
            raise ValueError("a profile must be a YAML mapping of keys to values")
        data = dict(data)
        verify = list(data.get("verify") or [])
        notes = dict(data.get("notes") or {})
        for key, val in list(data.items()):
            if isinstance(val, dict) and "value" in val and key not in ("env", "notes"):
                extra = set(val) - {"value", "verify", "note"}
                if extra:
                    raise ValueError(f"{key}: unknown marker key(s) {sorted(extra)}; use value/verify/note")
                data[key] = val["value"]
                if val.get("verify") and key not in verify:
                    verify.append(key)
                if val.get("note"):
                    notes[key] = str(val["note"])
        data["verify"] = verify
        data["notes"] = notes
        return data

    @field_validator("modules")
    @classmethod
    def _modules(cls, v: list[str]) -> list[str]:
        for m in v:
            if not re.match(_MODULE, m):
                raise ValueError(f"module {m!r} has characters a module name cannot have")
        return v

    @field_validator("setup", "srun_args")
    @classmethod
    def _single_lines(cls, v: list[str]) -> list[str]:
        for line in v:
            if "\n" in line or "\r" in line or "\0" in line:
                raise ValueError(f"{line!r}: one line per entry (no newlines)")
        return v

    @field_validator("srun_args")
    @classmethod
    def _srun_flags(cls, v: list[str]) -> list[str]:
        for a in v:
            if not a.startswith("-"):
                raise ValueError(f"srun argument {a!r} must be a flag like --cpu-bind=none")
        return v

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for k, val in v.items():
            if not re.match(_ENV_NAME, k):
                raise ValueError(f"env name {k!r} is not a shell variable name")
            if "\n" in str(val) or "\0" in str(val):
                raise ValueError(f"env {k}: value must be one line")
        return {k: str(val) for k, val in v.items()}

    @model_validator(mode="after")
    def _consistent(self) -> Profile:
        if self.default_walltime_s > self.max_walltime_s:
            raise ValueError(
                f"default_walltime_s {self.default_walltime_s} exceeds max_walltime_s {self.max_walltime_s}"
            )
        if self.gpus_per_node and self.gpu_vendor == "none":
            raise ValueError("gpus_per_node > 0 needs gpu_vendor (nvidia, amd or intel)")
        if not self.gpus_per_node and self.gpu_vendor != "none":
            raise ValueError(f"gpu_vendor {self.gpu_vendor} but gpus_per_node is 0")
        unknown = [k for k in self.verify if k not in type(self).model_fields]
        if unknown:
            raise ValueError(f"verify names unknown keys {unknown}")
        return self

    @property
    def has_gpus(self) -> bool:
        return self.gpus_per_node > 0


# --- loading -------------------------------------------------------------------------------------


def user_dir() -> Path:
    return config_dir() / "profiles"


def _yaml_files(d: Path) -> list[Path]:
    return sorted(p for p in d.glob("*.y*ml") if p.suffix in (".yaml", ".yml")) if d.is_dir() else []


def shipped_files() -> list[Path]:
    """The profiles shipped with hpcq; none at all means a broken install, which is an error
    (an executor must never run without its profiles)."""
    files = _yaml_files(SHIPPED_DIR)
    if not files:
        raise ProfileError(
            "profile",
            f"hpcq's shipped profiles are missing (no .yaml in {SHIPPED_DIR}): "
            "the install is incomplete; reinstall hpcq (pip install --force-reinstall hpcq)",
        )
    return files


def profile_files() -> dict[str, Path]:
    """name -> file; user profiles override shipped ones of the same name."""
    files = {p.stem: p for p in shipped_files()}
    files.update({p.stem: p for p in _yaml_files(user_dir())})
    return files


def _format_validation(exc: pydantic.ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(profile)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def parse_profile(text: str, path: str | Path = "<string>", name: str | None = None) -> Profile:
    """Validate YAML text as a profile; ``name`` defaults to the file stem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # say where, never echo the file's text (it may not be a profile)
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ProfileError(
            "profile", f"{path} is not valid YAML{where}: {getattr(exc, 'problem', None) or type(exc).__name__}"
        ) from None
    if not isinstance(data, dict):
        raise ProfileError("profile", f"{path}: expected a mapping of profile keys (see slurm_templates/README.md)")
    data.setdefault("name", name or Path(str(path)).stem)
    data["path"] = str(path)
    try:
        return Profile.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ProfileError(
            "profile", f"{path}: {_format_validation(exc)}; fix the file (format: slurm_templates/README.md)"
        ) from None


def load_profile(name_or_path: str | Path, overrides: dict[str, Any] | None = None, allow_path: bool = True) -> Profile:
    """A profile by name (user dir first, then shipped) or by YAML file path; ``overrides``
    replaces keys (e.g. {"account": "project_465000123"}) and is validated like the file.
    Pass allow_path=False when the name comes from a process spec: then only a plain profile
    name is accepted, never a path on the login node."""
    s = str(name_or_path)
    path = Path(s)
    looks_like_path = s.endswith((".yaml", ".yml")) or "/" in s or s.startswith(".")
    if not allow_path and (looks_like_path or not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", s)):
        raise ProfileError("profile", f"{s!r} is not a profile name; use one of `hpcq profiles list`")
    if looks_like_path:
        if not path.is_file():
            raise ProfileError(
                "profile", f"no profile file {path}; give an existing .yaml path or a name from `hpcq profiles list`"
            )
    else:
        files = profile_files()
        if s not in files:
            raise ProfileError(
                "profile",
                f"unknown profile {s!r}: no {s}.yaml in {user_dir()} (yours) nor in "
                f"{SHIPPED_DIR} (shipped); use one of {', '.join(sorted(files))} "
                f"(`hpcq profiles list`) or write {user_dir()}/{s}.yaml",
            )
        path = files[s]
    prof = parse_profile(path.read_text(), path)
    if overrides:
        data = prof.model_dump()
        data.update(overrides)
        data["verify"] = [k for k in prof.verify if k not in overrides]
        try:
            prof = Profile.model_validate(data)
        except pydantic.ValidationError as exc:
            raise ProfileError("profile", f"override of {prof.name}: {_format_validation(exc)}") from None
    return prof


def list_profiles() -> list[Profile]:
    """Every profile that loads (shipped + user); a broken file raises ProfileError naming it."""
    return [parse_profile(p.read_text(), p) for _, p in sorted(profile_files().items())]


# --- conditions -> resources --------------------------------------------------------------------


@dataclass
class JobResources:
    """What one Slurm job asks for (validated numbers + profile values only)."""

    nodes: int
    tasks_per_node: int
    cpus_per_task: int
    mem_gb: float  # per node
    gpus_per_node: int
    walltime_s: int
    partition: str | None
    account: str | None
    qos: str | None
    setup: list[str] = field(default_factory=list)
    srun_args: list[str] = field(default_factory=list)
    profile: str = ""

    @property
    def ranks(self) -> int:
        return self.nodes * self.tasks_per_node

    @property
    def mem_per_rank_bytes(self) -> int:
        return int(self.mem_gb * 1024 * MIB) // self.tasks_per_node


def _int(conditions: dict, key: str, label: str | None = None) -> int:
    v = conditions.get(key)
    label = label or key
    if v is None or v == "":
        return 0
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, float) and v.is_integer() or isinstance(v, str) and re.fullmatch(r"-?\d+", v.strip()):
            v = int(v)
        else:
            raise ConditionsError(label, f"{v!r} is not a whole number")
    if v < 0:
        raise ConditionsError(label, f"{v} is negative; use a positive number or 0 for the default")
    return v


def parse_millicores(v: Any, label: str = "cpu") -> int:
    """'4000m' -> 4000 (millicores; ColonyOS stores cpu this way). ''/None/0 -> 0."""
    if v is None or v == "" or v == 0:
        return 0
    if isinstance(v, str):
        m = re.fullmatch(r"\s*(-?\d+)m\s*", v)
        if m:
            n = int(m.group(1))
            if n < 0:
                raise ConditionsError(label, f"{v!r} is negative")
            return n
    raise ConditionsError(label, f"{v!r} is not millicores; write e.g. '4000m' for 4 cores per rank")


_MEM_UNITS = {"Ki": 1024, "Mi": MIB, "Gi": 1024 * MIB, "Ti": 1024 * 1024 * MIB}


def parse_mem_bytes(v: Any, label: str = "mem") -> int:
    """'2048Mi' / '2Gi' / '512Ki' / '1Ti' -> bytes (ColonyOS returns Mi). ''/None/0 -> 0."""
    if v is None or v == "" or v == 0:
        return 0
    if isinstance(v, str):
        m = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti)\s*", v)
        if m:
            n = float(m.group(1))
            if n < 0:
                raise ConditionsError(label, f"{v!r} is negative")
            return int(n * _MEM_UNITS[m.group(2)])
    raise ConditionsError(
        label, f"{v!r} has no valid unit; write e.g. '2048Mi' or '4Gi' (Ki, Mi, Gi, Ti; case matters)"
    )


def _fmt_s(s: int) -> str:
    h, rem = divmod(s, 3600)
    return f"{s} s ({h}:{rem // 60:02d}:{rem % 60:02d})"


def resolve_resources(profile: Profile, conditions: dict | None) -> JobResources:
    """Map a ColonyOS FunctionSpec.conditions dict (as the server returns it) onto the profile.

    Units: nodes, processespernode (ranks per node), cpu = millicores *per rank* ('4000m'),
    mem = per node ('2048Mi'), walltime = seconds, gpu.count = GPUs per node. Absent/0 means
    default: 1 node, 1 rank/node, 1 core/rank, mem = the ranks' share of the node (whole node on
    exclusive partitions), walltime = profile default."""
    c = dict(conditions or {})
    p = profile
    nodes = _int(c, "nodes") or 1
    ppn = _int(c, "processespernode")
    procs = _int(c, "processes")
    if ppn == 0 and procs:
        if procs % nodes:
            raise ConditionsError(
                "processes",
                f"{procs} processes do not divide evenly over {nodes} nodes; set conditions.processespernode instead",
            )
        ppn = procs // nodes
    ppn = ppn or 1
    if procs and procs != nodes * ppn:
        raise ConditionsError(
            "processes",
            f"{procs} != nodes {nodes} x processespernode {ppn}; drop conditions.processes or make them agree",
        )
    millicores = parse_millicores(c.get("cpu"))
    cpt = max(1, math.ceil(millicores / 1000)) if millicores else 1
    mem_bytes = parse_mem_bytes(c.get("mem"))
    walltime = _int(c, "walltime")
    gpu = c.get("gpu") or {}
    if not isinstance(gpu, dict):
        raise ConditionsError("gpu", f"{gpu!r} must be a mapping like {{count: 1}}")
    gpus = _int(gpu, "count", "gpu.count")
    gpu_mem = parse_mem_bytes(gpu.get("mem"), "gpu.mem")
    gpu_name = str(gpu.get("name") or "")

    where = f"profile {p.name}"
    if nodes > p.max_nodes:
        raise ConditionsError(
            "nodes", f"{nodes} nodes exceed the {where} max of {p.max_nodes}; use fewer nodes or pick another profile"
        )
    if ppn > p.cores_per_node:
        raise ConditionsError(
            "processespernode",
            f"{ppn} ranks per node exceed the {p.cores_per_node} cores "
            f"per node of {where}; use fewer ranks per node or more nodes",
        )
    if ppn * cpt > p.cores_per_node:
        raise ConditionsError(
            "cpu",
            f"{ppn} ranks/node x {cpt} cores = {ppn * cpt} cores > "
            f"{p.cores_per_node} cores per node of {where}; lower conditions.cpu or "
            "conditions.processespernode",
        )
    node_mem = p.mem_per_node_gb * 1024 * MIB
    if mem_bytes > node_mem:
        raise ConditionsError(
            "mem",
            f"{mem_bytes / 1024**3:.1f} GiB per node > {p.mem_per_node_gb:g} GiB "
            f"per node of {where}; ask for less or pick another profile",
        )
    if gpus or gpu_mem or gpu_name:
        if not p.has_gpus:
            raise ConditionsError(
                "gpu.count" if gpus else "gpu",
                f"{where} has no GPUs (CPU-only nodes); "
                "drop conditions.gpu or pick a GPU profile (see `hpcq profiles list`)",
            )
        if gpus > p.gpus_per_node:
            raise ConditionsError("gpu.count", f"{gpus} GPUs per node > {p.gpus_per_node} on {where}")
        if gpu_mem and p.gpu_mem_gb and gpu_mem > p.gpu_mem_gb * 1024 * MIB:
            raise ConditionsError("gpu.mem", f"{gpu_mem / 1024**3:.1f} GiB > {p.gpu_mem_gb:g} GiB per GPU on {where}")
        if gpu_name and p.gpu_model and gpu_name.lower() not in p.gpu_model.lower():
            raise ConditionsError("gpu.name", f"{gpu_name!r} does not match the {p.gpu_model} GPUs of {where}")
        gpus = gpus or 1
    if walltime > p.max_walltime_s:
        raise ConditionsError(
            "walltime",
            f"{walltime} s exceeds the {where} max of {p.max_walltime_s} s; lower it or pick another profile",
        )
    if p.account_required and not p.account:
        raise ProfileError(
            "account",
            f"{where} needs a Slurm account (project) but has none; "
            f"copy {p.path or 'the profile'} to {user_dir()}/{p.name}.yaml and set account"
            + (f" ({p.notes['account']})" if "account" in p.notes else ""),
        )
    if p.qos_required and not p.qos:
        raise ProfileError(
            "qos",
            f"{where} needs a Slurm QOS but has none; copy {p.path or 'the profile'} "
            f"to {user_dir()}/{p.name}.yaml and set qos" + (f" ({p.notes['qos']})" if "qos" in p.notes else ""),
        )
    if mem_bytes == 0:
        share = 1.0 if p.exclusive else min(1.0, ppn * cpt / p.cores_per_node)
        mem_gb = math.floor(p.mem_per_node_gb * share * 1024) / 1024
    else:
        mem_gb = math.ceil(mem_bytes / MIB) / 1024
    mem_gb = max(mem_gb, 1 / 1024)
    res = JobResources(
        nodes=nodes,
        tasks_per_node=ppn,
        cpus_per_task=cpt,
        mem_gb=mem_gb,
        gpus_per_node=gpus,
        walltime_s=walltime or p.default_walltime_s,
        partition=p.partition,
        account=p.account,
        qos=p.qos,
        profile=p.name,
    )
    res.setup = job_setup_lines(p, res)
    # --kill-on-bad-exit: one rank dying (e.g. MPI_Init failing) ends the whole step at once
    # instead of leaving the other ranks blocked in MPI until the time limit
    res.srun_args = ["--kill-on-bad-exit=1"] + list(p.srun_args) + ([f"--mpi={p.mpi}"] if p.mpi else [])
    return res


def job_setup_lines(profile: Profile, res: JobResources) -> list[str]:
    """Lines for the sbatch script before srun: module loads (quoted), the profile's own setup
    lines (trusted: they come from the profile file, never from a process), env exports (quoted),
    and thread counts pinned to cpus-per-task so ranks x threads never oversubscribe cores."""
    lines = [f"module load {shlex.quote(m)}" for m in profile.modules]
    lines += list(profile.setup)
    lines += [f"export {k}={shlex.quote(v)}" for k, v in profile.env.items()]
    lines += [f"export OMP_NUM_THREADS={int(res.cpus_per_task)}"]
    return lines


SIGNAL_LEAD_MIN_S = 10
SIGNAL_LEAD_MAX_S = 90  # submitit's fixed default, right for hour-long jobs


def signal_lead_s(time_limit_s: int) -> int:
    """Seconds before the Slurm time limit at which USR2 warns the job (``--signal=USR2@lead``):
    a tenth of the limit, 10 s at least and 90 s at most. submitit's fixed 90 s exceeded a
    60-s limit, so the warning came at once (issue 14 item 7)."""
    return int(min(SIGNAL_LEAD_MAX_S, max(SIGNAL_LEAD_MIN_S, time_limit_s // 10)))


def submitit_params(res: JobResources, profile: Profile) -> dict[str, Any]:
    """Keyword arguments for submitit.AutoExecutor.update_parameters."""
    timeout_min = max(1, math.ceil(int(res.walltime_s) / 60))
    params: dict[str, Any] = {
        "nodes": int(res.nodes),
        "tasks_per_node": int(res.tasks_per_node),
        "cpus_per_task": int(res.cpus_per_task),
        "timeout_min": timeout_min,
        "slurm_signal_delay_s": signal_lead_s(timeout_min * 60),
        "slurm_setup": list(res.setup),
        "slurm_srun_args": list(res.srun_args),
    }
    if profile.send_mem:
        params["mem_gb"] = float(res.mem_gb)
    if res.partition:
        params["slurm_partition"] = res.partition
    if res.account:
        params["slurm_account"] = res.account
    if res.qos:
        params["slurm_qos"] = res.qos
    if profile.exclusive:
        params["slurm_exclusive"] = True
    if res.gpus_per_node:
        if profile.gpu_flag_style == "gres":
            params["slurm_gres"] = f"{profile.gres_name}:{int(res.gpus_per_node)}"
        else:
            params["slurm_gpus_per_node"] = int(res.gpus_per_node)
    return params
