"""Sites and placement, fast: capabilities from a profile and back, the colony's sites from its
executors, the placement model's errors, and the conditions each step gets (or the refusal before
anything is submitted), against hpcq.testing.fakes.FakeColony (no server, no Slurm). docs/sites.md."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from hpcq.client.api import Client
from hpcq.client.dag import build_specs
from hpcq.client.placement import PlacementError, place, step_kind
from hpcq.client.sites import colony_sites, sites_of
from hpcq.client.study import StudyError, parse_study
from hpcq.colonyos.sites import Capacity, heard_age_s, is_alive
from hpcq.executor.profiles import load_profile, parse_profile
from hpcq.executor.site import capacity_profile, site_capacity, site_name
from hpcq.testing.fakes import FakeBackend, FakeColony, make_executor

# colonies v1.9.12 pkg/core/executor.go: the JSON names of Hardware, GPU and Software. The real
# server stores these typed structs, so any other key would be lost on the way.
GO_HARDWARE = {"model", "nodes", "cpu", "cores", "mem", "storage", "gpu", "platform", "architecture", "network"}
GO_GPU = {"name", "mem", "count", "nodecount"}
GO_SOFTWARE = {"name", "type", "version"}

SMALL = """source: test
partition: debug
cores_per_node: 8
mem_per_node_gb: 3
max_walltime_s: 86400
max_nodes: 1
"""
GPU = """source: test
partition: gpu
cores_per_node: 32
gpus_per_node: 4
gpu_vendor: nvidia
gpu_model: NVIDIA A100
gpu_mem_gb: 64
mem_per_node_gb: 480
max_walltime_s: 86400
max_nodes: 8
"""


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("HPCQ_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("HPCQ_EXECUTOR_PRVKEY", raising=False)


def caps(text: str, name: str) -> dict:
    return site_capacity(parse_profile(text, name=name)).to_capabilities("test")


@pytest.fixture
def colony() -> FakeColony:
    """Three sites: small (3 GiB nodes), big (the local lab profile, 15.6 GiB), gpu (4 A100s)."""
    c = FakeColony()
    c.add_site_executor("ex-small", "small", caps(SMALL, "small"))
    c.add_site_executor("ex-big", "big", site_capacity(load_profile("local")).to_capabilities("test"))
    c.add_site_executor("ex-gpu", "gpu", caps(GPU, "gpu"))
    return c


def study(placement=None, **over):
    data = {
        "name": "placed",
        "colony": "dev",
        "executor": {"type": "hpcq-fake"},
        "resources": {"mem": "1024Mi", "walltime": 300},
        "sweep": {
            "problems": [{"kind": "h2", "bond_length": 0.735}],
            "optimizers": [{"kind": "cobyla", "maxiter": 5}],
            "noise": [{"kind": "none"}, {"kind": "depolarizing", "p": 0.01}],
        },
        **over,
    }
    if placement is not None:
        data["placement"] = placement
    return parse_study(data)


def placed(colony: FakeColony, placement, **over) -> dict[str, dict]:
    """step kind -> the conditions hpcq gives its (first) process."""
    s = study(placement, **over)
    specs = place(build_specs(s), s.placement, colony_sites(colony, "dev", colony.user_prvkey, "hpcq-fake"))
    out: dict[str, dict] = {}
    for spec in specs:
        out.setdefault(step_kind(spec), spec["conditions"])
    return out


# --- capabilities -----------------------------------------------------------------------------------
def test_capabilities_are_derived_from_the_profile_and_read_back():
    prof = load_profile("lumi-g")
    cap = site_capacity(prof)
    assert (cap.nodes, cap.cores, cap.gpus, cap.qpus) == (1024, 56, 8, 0)
    assert cap.mem_bytes == 480 * 1024**3 and cap.gpu_mem_bytes == 64 * 1024**3
    wire = json.loads(json.dumps(cap.to_capabilities("1.0")))
    for hw in wire["hardware"]:  # only fields the real server keeps
        assert set(hw) == GO_HARDWARE and set(hw["gpu"]) == GO_GPU
    assert all(set(sw) == GO_SOFTWARE for sw in wire["software"])
    assert wire["hardware"][0]["mem"] == "491520Mi" and wire["hardware"][0]["cpu"] == "56000m"
    assert Capacity.from_capabilities(wire) == cap
    assert Capacity.from_capabilities({"hardware": None, "software": None}) is None
    assert "8 GPUs/node" in cap.describe()


def test_site_name_defaults_to_the_profile_and_is_checked():
    prof = load_profile("local")
    assert site_name(prof) == "local" and site_name(prof, "site-a") == "site-a"
    with pytest.raises(ValueError, match="--site: 'a b' is not a site name"):
        site_name(prof, "a b")


def test_capacity_profile_gives_the_executor_checks_the_site_numbers():
    cap = Capacity.from_capabilities(caps(GPU, "gpu"))
    assert cap is not None
    prof = capacity_profile("GPU-site", cap)
    assert (prof.cores_per_node, prof.gpus_per_node, prof.max_nodes, prof.mem_per_node_gb) == (32, 4, 8, 480)


def test_alive_is_approved_and_heard_from_recently():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ex = {"state": 1, "lastheardfromtime": (now - timedelta(seconds=20)).isoformat().replace("+00:00", "Z")}
    assert heard_age_s(ex, now) == pytest.approx(20)
    assert is_alive(ex, 30, now) and not is_alive(ex, 10, now)
    assert not is_alive({**ex, "state": 0}, 30, now)
    assert heard_age_s({"lastheardfromtime": "0001-01-01T00:00:00Z"}) is None
    # the real server's nanoseconds and offset
    assert heard_age_s({"lastheardfromtime": "2025-12-31T23:59:50.123456789+00:00"}, now) == pytest.approx(9.876544)


def test_sites_group_executors_by_location(colony):
    colony.add_site_executor("ex-small-2", "SMALL", caps(SMALL, "small"), alive=False)
    colony.add_site_executor("other-type", "big", None, executortype="other")
    colony.add_site_executor("nowhere", "", None)
    sites = colony_sites(colony, "dev", colony.user_prvkey, "hpcq-fake")
    assert [s.name for s in sites] == ["", "big", "gpu", "small"]
    small = sites[-1]
    assert small.executor_names() == ["ex-small", "ex-small-2"] and small.alive
    assert [e.alive for e in small.executors] == [True, False]
    assert small.capacity is not None and small.capacity.mem_bytes == 3 * 1024**3
    assert sites_of([], "x") == []


def test_the_executor_registers_its_site_and_capabilities(tmp_path, colony):
    ex = make_executor(tmp_path, FakeBackend(), colony, name="site-ex", site="lab-a")
    ex.setup()
    reg = colony.executors["site-ex"]
    assert reg["locationname"] == "lab-a" and ex.site == "lab-a"
    assert Capacity.from_capabilities(reg["capabilities"]) == site_capacity(load_profile("local"))
    ex2 = make_executor(tmp_path, FakeBackend(), colony, name="default-site")
    ex2.setup()
    assert colony.executors["default-site"]["locationname"] == "local"


# --- the placement model -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("placement", "over", "message"),
    [
        ({"vqee": ["a"]}, {}, "placement: unknown step kind(s) vqee; rules are per step kind: integrals"),
        ({"vqe": "a"}, {}, "placement.vqe: 'a': write a list of sites ([a]), {needs: {...}} or any"),
        ({"vqe": {"needs": {"gpu": 1}}}, {}, "placement.vqe.needs.gpu: unknown field"),
        ({"vqe": {"needs": {"mem": "64GB"}}}, {}, "placement.vqe.needs.mem: '64GB' is not a memory size"),
        ({"vqe": {"needs": {"gpus": -1}}}, {}, "placement.vqe.needs.gpus"),
        ({"vqe": ["a b"]}, {}, "placement.vqe.sites: 'a b' is not a site name"),
        ({"fallback": ["x/y"]}, {}, "placement.fallback: 'x/y' is not a site name"),
        ({"sweep": ["a"]}, {}, "placement.sweep: mode workflow has no sweep steps"),
        ({"vqe": ["a"]}, {"mode": "sweep"}, "placement.vqe: mode sweep has no vqe steps"),
        ({"vqe": ["a"]}, {"executor": {"type": "hpcq-fake", "names": ["x"]}}, "executor.names pins every step"),
        (["a"], {}, "placement must map step kinds to rules"),
        ({"vqe": {"sites": ["a", "b"], "stay": True}}, {}, "placement.vqe: stay: true pins a step to one site, but"),
        ({"vqe": {"needs": {"gpus": 1}, "stay": True}}, {}, "write {sites: [SITE], stay: true}"),
    ],
)
def test_placement_errors_name_the_field_and_the_fix(placement, over, message):
    with pytest.raises(StudyError) as err:
        study(placement, **over)
    assert message in str(err.value)


def test_shorthands():
    p = study({"hamiltonian": ["a", "b"], "vqe": {"needs": {"gpus": 1, "mem": "64Gi"}}, "noise": "any"}).placement
    assert p is not None
    assert p.hamiltonian is not None and p.hamiltonian.sites == ["a", "b"]
    assert p.vqe is not None and p.vqe.needs is not None and p.vqe.needs.gpus == 1
    assert p.noise is not None and p.noise.is_any and p.aggregate is None


# --- conditions ----------------------------------------------------------------------------------------
def test_a_pinned_step_gets_its_site_as_locationname(colony):
    cond = placed(colony, {"hamiltonian": ["small"]})
    assert cond["hamiltonian"]["locationname"] == "small" and not cond["hamiltonian"]["executornames"]


def test_a_step_placed_by_need_goes_to_the_sites_that_offer_it(colony):
    cond = placed(colony, {"vqe": {"needs": {"gpus": 1}}, "noise": {"needs": {"mem": "8Gi"}}})
    assert cond["vqe"]["locationname"] == "gpu"
    assert cond["noise"]["executornames"] == ["ex-big", "ex-gpu"] and "locationname" not in cond["noise"]


def test_steps_without_a_rule_run_wherever_they_fit(colony):
    cond = placed(colony, {"hamiltonian": ["small"], "noise": "any"})
    assert "locationname" not in cond["ansatz"] and not cond["ansatz"].get("executornames")
    assert "locationname" not in cond["noise"] and not cond["noise"].get("executornames")
    # 4 GiB per node does not fit the small site: the unruled steps avoid it
    cond = placed(colony, {"hamiltonian": ["big"]}, resources={"mem": "4Gi", "walltime": 300})
    assert cond["vqe"]["executornames"] == ["ex-big", "ex-gpu"]


def test_several_sites_become_their_executors_names(colony):
    cond = placed(colony, {"vqe": ["small", "big"]})
    assert cond["vqe"]["executornames"] == ["ex-big", "ex-small"]


def test_fallback_when_the_rule_sites_are_silent(colony):
    colony.executors["ex-small"]["lastheardfromtime"] = 0  # never heard from: not alive
    assert placed(colony, {"vqe": ["small"], "fallback": ["big"]})["vqe"]["locationname"] == "big"
    # alive again: the rule's own site wins
    colony.add_site_executor("ex-small", "small", caps(SMALL, "small"))
    assert placed(colony, {"vqe": ["small"], "fallback": ["big"]})["vqe"]["locationname"] == "small"
    # nobody alive at a fitting site: the rule's site anyway (the step waits for it)
    colony.executors["ex-small"]["lastheardfromtime"] = 0
    assert placed(colony, {"vqe": ["small"]})["vqe"]["locationname"] == "small"


def test_a_step_that_stays_never_takes_the_fallback_and_cannot_move(colony):
    """stay: true = data that must stay at its site: locationname even while the site is silent
    (the step waits for it), where the same rule without stay goes to the fallback."""
    colony.executors["ex-small"]["lastheardfromtime"] = 0
    assert placed(colony, {"vqe": ["small"], "fallback": ["big"]})["vqe"]["locationname"] == "big"
    cond = placed(colony, {"vqe": {"sites": ["small"], "stay": True}, "fallback": ["big"]})["vqe"]
    assert cond["locationname"] == "small" and not cond["executornames"]
    # a step that may move on failover names several sites: any of their executors may take it
    colony.add_site_executor("ex-small", "small", caps(SMALL, "small"))
    assert placed(colony, {"vqe": ["small", "big"]})["vqe"]["executornames"] == ["ex-big", "ex-small"]


def test_a_step_too_big_for_its_sites_is_refused_with_the_numbers(colony):
    with pytest.raises(PlacementError) as err:
        placed(colony, {"vqe": ["small"], "noise": {"needs": {"gpus": 1, "qpus": 1}}}, resources={"mem": "4Gi"})
    text = str(err.value)
    assert "nothing was submitted" in text
    assert "(vqe) fits no site: small: conditions.mem: " in text and "site small" in text
    assert "(noise) fits no site:" in text and "needs.qpus: 1 wanted, the site has 0" in text
    assert "small: needs.gpus: 1 wanted, the site has 0" in text


def test_the_memory_model_is_checked_per_site(colony):
    """16 qubits as a density matrix need ~68 GiB a rank: more than the small and big sites' nodes
    (refused with the memory model's numbers), less than the GPU site's 480 GiB."""
    from hpcq.sim import memory

    tfim = {"problems": [{"kind": "tfim", "n_qubits": 16}], "method": "density_matrix"}
    need = memory.fmt_bytes(memory.footprint(16, "density_matrix").rank_bytes)  # THE model's number
    with pytest.raises(PlacementError, match=rf"small: conditions\.processespernode: .* {need} per rank") as err:
        placed(colony, {"sweep": ["small", "big"]}, mode="single", sweep=tfim)
    assert "big: conditions.processespernode" in str(err.value)
    resources = {"mem": "80Gi", "walltime": 300}
    assert placed(colony, {"sweep": "any"}, mode="single", sweep=tfim, resources=resources)["sweep"] == {
        **build_specs(study({"sweep": "any"}, mode="single", sweep=tfim, resources=resources))[0]["conditions"],
        "locationname": "gpu",
    }


def test_unknown_sites_and_a_colony_without_sites_are_explained(colony):
    with pytest.raises(PlacementError, match="site 'nowhere' is not in the colony .* start an executor with --site"):
        placed(colony, {"vqe": ["nowhere"]})
    with pytest.raises(PlacementError, match="the colony has no sites"):
        place([], study({"vqe": "any"}).placement, [])


def test_client_refuses_before_submitting_and_submits_with_locationname(colony):
    client = Client(colony.settings())
    client.colonies = colony
    with pytest.raises(PlacementError):
        client.submit(study({"sweep": ["small"]}, mode="sweep", resources={"mem": "4Gi"}), save=False)
    assert colony.processes == {}
    sub = client.submit(study({"sweep": {"needs": {"gpus": 1}}}, mode="sweep"), save=False)
    assert len(sub.processids) == 2
    assert {colony.process(pid)["spec"]["conditions"]["locationname"] for pid in sub.processids} == {"gpu"}
