"""The site profile: its schema (``Profile``, one YAML file per HPC partition), the errors every
profile step raises, and the loader that finds a profile by name or path.

Lookup order for a name: a file path, then ``$HPCQ_CONFIG_DIR/profiles/<name>.yaml`` (users' own,
wins), then the shipped profiles. Those live in the repository's top-level
``slurm_templates/profiles/`` and ship inside the package as ``hpcq._slurm_templates`` (setup.py
maps the folder; wheels and editable installs alike), so they are found through
importlib.resources wherever hpcq is installed. Format: slurm_templates/README.md and docs/profiles.md.
"""

from __future__ import annotations

import re
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


def _unwrap_markers(data: dict[str, Any], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """``key: {value: X, verify: true, note: ...}`` -> ``key: X`` + verify/notes entries."""
    data = dict(data)
    verify = list(data.get("verify") or [])
    notes = dict(data.get("notes") or {})
    for key, val in list(data.items()):
        if isinstance(val, dict) and "value" in val and key not in skip:
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


# How a site's Slurm grants a QPU (docs/qpu.md): QRMI's SPANK plugin (--qpu=NAME), a generic
# resource (--gres=qpu:1), licenses that cap concurrent jobs per QC (--licenses=iqm_qc_ALIAS:1),
# IQM's own QDMI SPANK plugin (--iqm-qc-alias=ALIAS). Sites differ, so the profile says
# (QpuSpec.request; hpcq.executor.profiles.render.qpu_request_lines).


class QpuTwin(BaseModel):
    """The digital twin a QPU's steps run on offline (``access: twin``, CI, dry runs): an IQM fake
    backend (``kind: iqm_fake``, ``fake``: adonis|deneb|garnet|apollo|aphrodite) or a star of
    ``qubits`` around one computational resonator (``kind: iqm_star``) with Deneb-like error numbers:
    shaped like the device, NOT its calibration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["iqm_star", "iqm_fake"] = "iqm_star"
    qubits: int = Field(default=6, ge=2, le=64)
    fake: str = Field(default="", pattern=r"^(|adonis|deneb|garnet|apollo|aphrodite)$")
    error_profile: Literal["deneb-like"] = "deneb-like"


class QpuSpec(BaseModel):
    """One QPU a site's jobs can reach (``qpus: {name: ...}`` in a profile). Any scalar may carry a
    ``{value: X, verify: true, note: ...}`` marker like the profile's own keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vendor: Literal["iqm", "ibm", "aqt", "pasqal"]
    access: Literal["qrmi", "iqm-qdmi", "iqm-client", "twin"]
    resource: str = Field(
        default="", pattern=r"^([A-Za-z0-9_][A-Za-z0-9_.+-]*)?$", description="name in the site's qrmi_config.json"
    )
    resource_type: str = Field(default="iqm-server", pattern=_WORD, description="QRMI_JOB_QPU_TYPES value")
    request: list[Literal["spank-qpu", "gres", "licenses", "iqm-spank"]] = Field(default_factory=list)
    gres: str = Field(default="qpu:1", pattern=r"^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?:[0-9]+$")
    license: str | None = Field(default=None, pattern=_WORD, description="default iqm_qc_<qc_alias or name>")
    qc_alias: str | None = Field(default=None, pattern=_WORD)
    partition: str | None = Field(default=None, pattern=_WORD, description="a 'quantum' partition, if any")
    max_shots: int = Field(default=100_000, gt=0)
    twin: QpuTwin = Field(default_factory=QpuTwin)
    python: str | None = Field(
        default=None,
        pattern=r"^/[A-Za-z0-9_./+-]+$",
        description="absolute path of the Python the jobs that drive this QPU (or its twin) run: a venv with the "
        "extra qpu-iqm-qrmi (docs/qpu.md); default: the executor's own",
    )
    verify: list[str] = Field(default_factory=list)
    notes: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _unwrap_verify_markers(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError("a QPU entry must be a mapping (vendor, access, resource, request, ...)")
        return _unwrap_markers(data, skip=("twin", "notes"))

    @model_validator(mode="after")
    def _consistent(self) -> QpuSpec:
        if self.access == "qrmi" and not self.resource:
            raise ValueError("access: qrmi needs resource (the name in the site's qrmi_config.json)")
        if "iqm-spank" in self.request and not self.qc_alias:
            raise ValueError("request iqm-spank (--iqm-qc-alias=) needs qc_alias")
        if len(set(self.request)) != len(self.request):
            raise ValueError(f"request {self.request} names a style twice")
        unknown = [k for k in self.verify if k not in type(self).model_fields]
        if unknown:
            raise ValueError(f"verify names unknown keys {unknown}")
        return self


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
    qpus: dict[str, QpuSpec] = Field(default_factory=dict, description="QPUs the site's jobs reach (docs/qpu.md)")
    verify: list[str] = Field(default_factory=list, description="keys a user must check")
    notes: dict[str, str] = Field(default_factory=dict)
    path: str = Field(default="", description="file it was loaded from (set by the loader)")

    @model_validator(mode="before")
    @classmethod
    def _unwrap_verify_markers(cls, data: Any) -> Any:
        """``key: {value: X, verify: true, note: ...}`` -> ``key: X`` + verify/notes entries."""
        if not isinstance(data, dict):
            raise ValueError("a profile must be a YAML mapping of keys to values")
        return _unwrap_markers(data, skip=("env", "notes", "qpus"))

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

    def qpu(self, name: str) -> QpuSpec:
        """The QPU ``name`` of this site, or a ConditionsError naming the QPUs it has and the fix."""
        if name in self.qpus:
            return self.qpus[name]
        have = ", ".join(sorted(self.qpus)) or "none"
        raise ConditionsError(
            "qpu",
            f"profile {self.name} has no QPU {name!r} (its QPUs: {have}); run the step at a site whose "
            "profile lists it under qpus (hpcq profiles show NAME), or use its twin (access: twin)",
        )


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
