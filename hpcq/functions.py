"""The registry of functions an hpcq executor will run (the function catalog). Nothing else runs on the cluster.
Every registered function and the contract: docs/functions.md.

A ColonyOS process names a function (``spec.funcname``) and passes string kwargs. The executor
looks the name up here; an unknown name fails the process before anything is queued. Entries
refer to their implementation by import path, so the executor (login node) never imports
Qiskit: only the Slurm job does.

Contract for an implementation ``target``::

    def fn(kwargs: dict, ctx: JobContext) -> FunctionResult | None

It runs on every MPI rank of the job (``ctx.rank``/``ctx.size``); rank 0 returns the result,
other ranks return None. ``kwargs`` has already been validated by ``params`` (a pydantic
model, also given by import path, that must not import Qiskit).
"""

from __future__ import annotations

import importlib
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Function names that other modules build process specs for or route on (one spelling each).
VQE_SWEEP = "vqe_sweep"
PRIMITIVE_RUN = "primitive_run"
PRIMITIVE_SESSION = "primitive_session"
# A control process, not a catalog function: the executor that owns the processes it names cancels
# them (the fallback for servers without cancel messages, colonies < v1.9.12; docs/executor.md).
HPCQ_CANCEL = "hpcq_cancel"
# The key of a process spec's ``env`` that names the site profile for that one process (the
# executor's own default profile is the HPCQ_PROFILE setting: hpcq.config).
SPEC_PROFILE_KEY = "hpcq_profile"


@dataclass
class JobContext:
    """What a function knows about where it runs (filled in inside the Slurm job)."""

    process_id: str = ""
    workdir: str = "."  # a per-process output directory on the shared filesystem
    slurm_job_id: str = ""
    nodes: str = ""
    rank: int = 0
    size: int = 1
    threads: int = 1  # Aer/OpenMP threads this rank may use (= cpus-per-task)
    gpu: bool = False
    inputs: list[Any] = field(default_factory=list)  # parents' outputs (ColonyOS `in`)
    extra: dict[str, Any] = field(default_factory=dict)
    site: str = ""  # the site (ColonyOS locationname) and executor that run the job (docs/sites.md)
    executor: str = ""

    @classmethod
    def from_env(
        cls,
        process_id: str = "",
        workdir: str = ".",
        *,
        threads: int = 1,
        rank_size: tuple[int, int] | None = None,
        gpu: bool = False,
        inputs: list[Any] | None = None,
        extra: dict[str, Any] | None = None,
        site: str = "",
        executor: str = "",
    ) -> JobContext:
        """The context of this process, read from the Slurm / submitit environment (the one reader
        of SLURM_JOB_ID and friends). ``threads`` comes from the caller (hpcq.threads owns that
        rule); ``rank_size``: the MPI world's (rank, size) where the caller has one, else Slurm's
        task ids, else submitit's local executor, else (0, 1)."""
        rank, size = rank_size or _rank_and_size()
        return cls(
            process_id=process_id,
            workdir=workdir,
            slurm_job_id=slurm_job_id(),
            nodes=os.environ.get("SLURM_JOB_NODELIST", socket.gethostname()),
            rank=rank,
            size=size,
            threads=threads,
            gpu=gpu,
            inputs=list(inputs or []),
            extra={"hostname": socket.gethostname(), **(extra or {})},
            site=site,
            executor=executor,
        )


def slurm_job_id() -> str:
    """`123_4` for an array element, `123` otherwise (same spelling as sacct and submitit)."""
    array_id, task_id = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array_id and task_id:
        return f"{array_id}_{task_id}"
    return os.environ.get("SLURM_JOB_ID", "")


def _int_env(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, "") or default)
    except ValueError:
        return default


def _rank_and_size() -> tuple[int, int]:
    """Global rank and world size: Slurm's task ids (srun), else submitit's local executor, else 0/1."""
    if "SLURM_PROCID" in os.environ:
        return _int_env("SLURM_PROCID", 0), max(1, _int_env("SLURM_NTASKS", 1))
    if "SUBMITIT_LOCAL_GLOBAL_RANK" in os.environ:
        return _int_env("SUBMITIT_LOCAL_GLOBAL_RANK", 0), max(1, _int_env("SUBMITIT_LOCAL_NTASKS", 1))
    return 0, 1


@dataclass
class FunctionResult:
    """summary: small JSON-able dict (becomes process output); files: result files to register."""

    summary: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FunctionDef:
    name: str
    target: str  # "module:function"
    params: str | None = None  # "module:PydanticModel" validating kwargs, or None (no kwargs)
    doc: str = ""
    mpi: bool = False  # True: the job may run several MPI ranks (processespernode/nodes > 1)

    def load(self) -> Callable[..., Any]:
        return _import(self.target)

    def params_model(self):
        return _import(self.params) if self.params else None


def _import(path: str):
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


FUNCTIONS: dict[str, FunctionDef] = {}


def register(fd: FunctionDef) -> FunctionDef:
    if fd.name in FUNCTIONS:
        raise ValueError(f"function {fd.name!r} registered twice")
    FUNCTIONS[fd.name] = fd
    return fd


class UnknownFunction(KeyError):
    pass


def get(name: str) -> FunctionDef:
    try:
        return FUNCTIONS[name]
    except KeyError:
        known = ", ".join(sorted(FUNCTIONS))
        raise UnknownFunction(
            f"funcname {name!r} is not in hpcq's function catalog; known functions: {known}"
        ) from None


PARAMS_KEY = "params"


def encode_kwargs(params: dict[str, Any]) -> dict[str, str]:
    """pycolonies only accepts str (or list[str]) kwarg values, so structured parameters travel
    as one JSON string under kwargs["params"]."""
    return {PARAMS_KEY: json.dumps(params, sort_keys=True)}


def decode_kwargs(kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """Inverse of encode_kwargs; plain string kwargs (no "params" key) pass through unchanged."""
    kwargs = dict(kwargs or {})
    if PARAMS_KEY in kwargs:
        raw = kwargs.pop(PARAMS_KEY)
        if kwargs:
            raise ValueError(
                f"kwargs: use either kwargs.params (JSON) or plain kwargs, not both "
                f"(extra: {', '.join(sorted(kwargs))})"
            )
        try:
            value = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError as exc:
            raise ValueError(f"kwargs.params is not valid JSON ({exc}); encode it with json.dumps") from None
        if not isinstance(value, dict):
            raise ValueError("kwargs.params must be a JSON object")
        return value
    return kwargs


def validate_kwargs(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Validate (decoded) kwargs for ``name``; raises ValueError naming the field and the fix."""
    fd = get(name)
    model = fd.params_model()
    if model is None:
        if kwargs:
            raise ValueError(f"function {name!r} takes no kwargs, got: {', '.join(sorted(kwargs))}")
        return {}
    from pydantic import ValidationError

    try:
        return model.model_validate(kwargs).model_dump(mode="json")
    except ValidationError as exc:
        msgs = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(kwargs)"
            msgs.append(f"kwargs.{loc}: {err['msg']}")
        raise ValueError(f"invalid kwargs for {name!r}: " + "; ".join(msgs)) from None


# --- the registered functions ------------------------------------------------------------------

# Diagnostics used by `hpcq executor selftest` and the executor tests.
register(
    FunctionDef(
        "hpcq_echo",
        "hpcq.executor.selftest:echo",
        "hpcq.executor.selftest:EchoParams",
        "Return the given message; proves the path ColonyOS -> Slurm -> ColonyOS.",
    )
)
register(
    FunctionDef(
        "hpcq_sleep",
        "hpcq.executor.selftest:sleep",
        "hpcq.executor.selftest:SleepParams",
        "Sleep for `seconds` (time-limit and cancellation tests).",
    )
)
register(
    FunctionDef(
        "hpcq_fail",
        "hpcq.executor.selftest:fail",
        "hpcq.executor.selftest:FailParams",
        "Raise RuntimeError(message) (error-propagation tests).",
    )
)

# The noise-study workflow's light steps (hpcq/workflow/steps.py); VQE/noise steps use vqe_sweep.
register(
    FunctionDef(
        "study_hamiltonian",
        "hpcq.workflow.steps:hamiltonian",
        "hpcq.workflow.params:HamiltonianParams",
        "Problem Hamiltonian and exact ground energy (workflow root).",
    )
)
register(
    FunctionDef(
        "study_ansatz",
        "hpcq.workflow.steps:ansatz",
        "hpcq.workflow.params:AnsatzParams",
        "Ansatz size report for a problem (workflow step 2).",
    )
)
register(
    FunctionDef(
        "study_integrals",
        "hpcq.workflow.steps:integrals",
        "hpcq.workflow.params:IntegralsParams",
        "PySCF RHF + active space -> FCIDUMP result file (chemistry workflow root).",
    )
)
register(
    FunctionDef(
        "study_vqe",
        "hpcq.workflow.steps:vqe",
        "hpcq.sim.spec:SweepParams",
        "Noiseless VQE on the parent hamiltonian step's operator file (one task).",
        mpi=True,
    )
)
register(
    FunctionDef(
        "study_noise",
        "hpcq.workflow.steps:noise",
        "hpcq.workflow.params:NoiseStepParams",
        "Energy under noise at the parent VQE's optimal parameters (+ optional re-optimisation).",
    )
)
register(
    FunctionDef(
        "study_aggregate",
        "hpcq.workflow.steps:aggregate",
        "hpcq.workflow.params:AggregateParams",
        "Gather every run's HDF5 file from the parents' outputs and rank the noise runs.",
    )
)

# MPI-parallel Aer VQE sweeps (hpcq.worker); kwargs = hpcq.sim.spec:SweepParams (no Qiskit import).
register(
    FunctionDef(
        VQE_SWEEP,
        "hpcq.worker.entry:run_sweep",
        "hpcq.sim.spec:SweepParams",
        "VQE sweep problems x ansatze x optimizers x noise x seeds on Qiskit Aer; ranks "
        "share the tasks; writes one HDF5 result file (docs/results-format.md).",
        mpi=True,
    )
)

# Qiskit primitives V2 (hpcq.primitives, issue 12): PUBs travel as data (QPY + Pauli labels + arrays).
register(
    FunctionDef(
        PRIMITIVE_RUN,
        "hpcq.primitives.engine:primitive_run",
        "hpcq.primitives.params:PrimitiveRunParams",
        "Run EstimatorV2/SamplerV2 PUBs on Qiskit Aer; parameter sets and PUBs are split over "
        "the MPI ranks; the result is the process output (docs/primitives.md).",
        mpi=True,
    )
)
register(
    FunctionDef(
        PRIMITIVE_SESSION,
        "hpcq.job.session:serve",
        "hpcq.primitives.params:SessionParams",
        "A Slurm allocation serving primitive_run calls routed to it until close, idle timeout "
        "or walltime (docs/primitives.md).",
        mpi=True,
    )
)

# A QPU step (hpcq.qpu, docs/qpu.md): one task on the QPU the site's Slurm granted, or its twin.
QPU_RUN = "qpu_run"
register(
    FunctionDef(
        QPU_RUN,
        "hpcq.qpu.run:qpu_run",
        "hpcq.qpu.params:QpuRunParams",
        "On a QPU of the site profile (or its twin): GHZ check and the TFIM energy of a hardware-efficient "
        "ansatz at given parameters, shots + readout mitigation; HDF5 with backend, calibration set, "
        "transpiled circuits (QPY), counts, QPU/queue time (docs/qpu.md). Needs the extra qpu-iqm-qrmi.",
    )
)
register(
    FunctionDef(
        "study_qpu",
        "hpcq.qpu.hybrid:study_qpu",
        "hpcq.qpu.params:QpuStepParams",
        "The hybrid workflow: the parent VQE's optimum (parameters, ansatz, Hamiltonian from its HDF5) "
        "on a QPU of the site profile or its twin, shots + readout mitigation (docs/qpu.md). Needs the "
        "extra qpu-iqm-qrmi.",
    )
)
# `hpcq rerun` of a QPU result replays it on its twin (hpcq.worker.rerun, below hpcq.qpu: by name)
QPU_REPLAY = "hpcq.qpu.hybrid:replay_on_twin"


def load_target(path: str) -> Callable[..., Any]:
    """A "module:attribute" target (as FunctionDef.target), imported when called."""
    return _import(path)
