"""Site profiles (one YAML file per HPC partition) and the mapping ColonyOS conditions -> Slurm job.

A profile says what a site's nodes have and how to ask for them (partition, account, qos, modules,
srun/MPI and GPU flag style, cores/GPUs/memory per node, max walltime). Three steps, one module each:

* ``schema``: the ``Profile`` model, its errors and the loader (``load_profile``, ``list_profiles``);
* ``resolve``: ``resolve_resources`` checks a process's ``conditions`` against a profile and refuses
  anything impossible *before* anything is queued;
* ``render``: ``submitit_params`` turns the result into submitit parameters in which only profile
  values and validated numbers appear, so nothing from a process spec reaches a shell.

Format: slurm_templates/README.md and docs/profiles.md.
"""

from hpcq.executor.profiles.render import (
    SIGNAL_LEAD_MAX_S,
    SIGNAL_LEAD_MIN_S,
    job_setup_lines,
    qpu_request_lines,
    signal_lead_s,
    submitit_params,
)
from hpcq.executor.profiles.resolve import (
    JobResources,
    parse_mem_bytes,
    parse_millicores,
    read_conditions,
    resolve_resources,
)
from hpcq.executor.profiles.schema import (
    SHIPPED_DIR,
    ConditionsError,
    Profile,
    ProfileError,
    QpuSpec,
    QpuTwin,
    ResourceError,
    list_profiles,
    load_profile,
    parse_profile,
    profile_files,
    shipped_files,
    user_dir,
)

__all__ = [
    "SHIPPED_DIR",
    "SIGNAL_LEAD_MAX_S",
    "SIGNAL_LEAD_MIN_S",
    "ConditionsError",
    "JobResources",
    "Profile",
    "ProfileError",
    "QpuSpec",
    "QpuTwin",
    "ResourceError",
    "job_setup_lines",
    "list_profiles",
    "load_profile",
    "parse_mem_bytes",
    "parse_millicores",
    "parse_profile",
    "profile_files",
    "qpu_request_lines",
    "read_conditions",
    "resolve_resources",
    "shipped_files",
    "signal_lead_s",
    "submitit_params",
    "user_dir",
]
