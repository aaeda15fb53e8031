"""hpcq.executor.resources.plan_process: one mapping (the profile's), no fallback; every refusal is a
PlanError naming the field (or the profile) and the fix."""

from __future__ import annotations

import pytest

from hpcq.executor import profiles
from hpcq.executor.profiles import schema
from hpcq.executor.resources import PlanError, plan_process
from hpcq.sim import memory


class _Sized:
    """A params object that knows its simulation's footprint (as SweepParams does): one statevector
    of ``n_qubits``."""

    def __init__(self, n_qubits: int):
        self.n_qubits = n_qubits

    def footprints(self, ranks: int = 1, gpus_per_rank: int = 0) -> list[memory.Footprint]:
        return [memory.footprint(self.n_qubits, "statevector", ranks=ranks, gpus_per_rank=gpus_per_rank)]


def test_conditions_map_through_the_profile():
    plan = plan_process(
        "local",
        {"nodes": 2, "processespernode": 4, "cpu": "2000m", "mem": "3Gi", "walltime": 90},
        None,
        mpi=True,
        maxexectime=600,
    )
    assert plan.ranks == 8 and plan.walltime_s == 90
    assert plan.params["nodes"] == 2 and plan.params["tasks_per_node"] == 4 and plan.params["cpus_per_task"] == 2
    assert plan.params["mem_gb"] == 3.0 and plan.params["timeout_min"] == 2
    assert plan.params["slurm_partition"] == "debug"  # a profile value: the fallback had none


def test_field_errors_name_the_condition():
    with pytest.raises(PlanError, match=r"^conditions.cpu: '2' is not millicores"):
        plan_process("local", {"cpu": "2"}, None, mpi=False, maxexectime=-1)
    with pytest.raises(PlanError, match=r"^conditions.mem: '3gb' has no valid unit"):
        plan_process("local", {"mem": "3gb"}, None, mpi=False, maxexectime=-1)
    with pytest.raises(PlanError, match=r"^conditions.nodes: 9 nodes exceed the profile local max of 3"):
        plan_process("local", {"nodes": 9}, None, mpi=True, maxexectime=-1)


def test_a_missing_profile_is_an_error_naming_it_the_places_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("HPCQ_CONFIG_DIR", str(tmp_path))
    with pytest.raises(PlanError) as ei:
        plan_process("nosuchsite", {}, None, mpi=False, maxexectime=-1)
    msg = str(ei.value)
    assert "unknown profile 'nosuchsite'" in msg
    assert str(tmp_path / "profiles") in msg and str(profiles.SHIPPED_DIR) in msg
    assert "hpcq profiles list" in msg and str(tmp_path / "profiles" / "nosuchsite.yaml") in msg
    with pytest.raises(PlanError, match="is not a profile name"):  # from a process spec: never a path
        plan_process("/etc/passwd", {}, None, mpi=False, maxexectime=-1, from_spec=True)


def test_a_broken_install_without_shipped_profiles_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(schema, "SHIPPED_DIR", tmp_path / "empty")
    with pytest.raises(PlanError, match=r"shipped profiles are missing .*reinstall hpcq"):
        plan_process("local", {}, None, mpi=False, maxexectime=-1)
    with pytest.raises(profiles.ProfileError, match="shipped profiles are missing"):
        profiles.list_profiles()


def test_sizing_refuses_what_cannot_fit():
    plan_process("local", {"mem": "2Gi"}, _Sized(20), mpi=False, maxexectime=-1)  # fits
    with pytest.raises(PlanError, match=r"^conditions\.\w+: .*per rank"):
        plan_process("local", {"mem": "2Gi"}, _Sized(35), mpi=False, maxexectime=-1)
