"""A resolved request -> what submitit needs: the lines the sbatch script runs before srun, the
time-limit warning lead, and the ``AutoExecutor.update_parameters`` keywords. Only profile values
and validated numbers appear (shell-quoted where they reach a shell line).
"""

from __future__ import annotations

import math
import shlex
from typing import TYPE_CHECKING, Any

from hpcq.executor.profiles.schema import Profile, QpuSpec

if TYPE_CHECKING:
    from hpcq.executor.profiles.resolve import JobResources


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
    if res.qpu:
        _qpu_params(params, res.qpu, profile.qpu(res.qpu))
    return params


def qpu_request_lines(name: str, spec: QpuSpec) -> dict[str, str]:
    """The sbatch options that ask Slurm for QPU ``name``, in the styles the profile lists and no
    other: ``qpu`` (QRMI's SPANK plugin), ``gres``, ``licenses``, ``iqm-qc-alias`` (IQM's plugin)."""
    lines: dict[str, str] = {}
    for style in spec.request:
        if style == "spank-qpu":
            lines["qpu"] = spec.resource or name
        elif style == "gres":
            lines["gres"] = spec.gres
        elif style == "licenses":
            lines["licenses"] = f"{spec.license or 'iqm_qc_' + (spec.qc_alias or name)}:1"
        elif style == "iqm-spank":
            lines["iqm-qc-alias"] = str(spec.qc_alias)
    return lines


def _qpu_params(params: dict[str, Any], name: str, spec: QpuSpec) -> None:
    lines = qpu_request_lines(name, spec)
    gres = lines.pop("gres", None)
    if gres:  # one --gres line: a GPU gres of the profile and the QPU's together
        params["slurm_gres"] = ",".join(g for g in (params.get("slurm_gres"), gres) if g)
    if lines:
        params["slurm_additional_parameters"] = {**params.get("slurm_additional_parameters", {}), **lines}
    if spec.partition:
        params["slurm_partition"] = spec.partition
