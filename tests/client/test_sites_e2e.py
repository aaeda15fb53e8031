"""Two sites on one colony, end to end, on both servers: two executors on the one lab Slurm cluster,
registered as sites a (a small-node profile, 3 GiB nodes) and b (the lab's own profile, 15.6 GiB
nodes); a study pins one step kind to site a and places another by need (8 GiB nodes: only b).
Each process must run at its site (the executor ColonyOS assigned it to, and the site its HDF5
provenance names), and a step no site can take is refused before anything is submitted. docs/sites.md."""

from __future__ import annotations

import json

import h5py
import pytest
from click.testing import CliRunner

from hpcq.cli import main
from hpcq.colonyos import ProcessState
from hpcq.testing.faults import ExecutorProc

pytestmark = pytest.mark.both_servers

SMALL_PROFILE = """source: "test: the lab cluster seen as a site with 3 GiB nodes"
partition: debug
mpi: pmi2
cores_per_node: 8
mem_per_node_gb: 3
max_walltime_s: 86400
default_walltime_s: 600
max_nodes: 1
"""
STUDY = """name: {name}
mode: workflow
resources: {{walltime: 300, mem: {mem}}}
placement:
  hamiltonian: [a]
  vqe: {{needs: {{mem: 8Gi}}}}
  noise: {noise}
sweep:
  problems: [{{kind: h2, bond_length: 0.735}}]
  ansatze: [{{kind: efficient_su2, reps: 1}}]
  optimizers: [{{kind: cobyla, maxiter: 20}}]
  noise: [{{kind: none}}, {{kind: depolarizing, p: 0.01}}]
  method: density_matrix
"""


def cli(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def two_sites(colonies_server, slurm_cluster, tmp_path, monkeypatch):
    """Executors exec-a (--site a, profile lab-small) and exec-b (--site b, profile local), each
    with its own state and results directory; the test's config dir holds lab-small."""
    cfg = tmp_path / "cfg"
    (cfg / "profiles").mkdir(parents=True)
    (cfg / "profiles" / "lab-small.yaml").write_text(SMALL_PROFILE)
    monkeypatch.setenv("HPCQ_CONFIG_DIR", str(cfg))
    colonies_server.monkeypatch_env(monkeypatch)
    env_file = colonies_server.env_file
    a = ExecutorProc(env_file, tmp_path / "site-a", name="exec-a", extra_args=["--site", "a", "--profile", "lab-small"])
    b = ExecutorProc(env_file, tmp_path / "site-b", name="exec-b", extra_args=["--site", "b", "--profile", "local"])
    with a.start(), b.start():
        yield a, b


def _provenance(path: str) -> dict:
    with h5py.File(path, "r") as f:
        return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f["provenance"].attrs.items()}


def test_steps_run_at_the_sites_their_placement_names(two_sites, tmp_path):
    res = cli("sites", "--json")
    assert res.exit_code == 0, res.output
    sites = {s["site"]: s for s in json.loads(res.output)["sites"]}
    assert sites["a"]["alive"] and sites["b"]["alive"], sites
    assert [e["name"] for e in sites["a"]["executors"]] == ["exec-a"]
    assert sites["a"]["capacity"]["mem_bytes"] == 3 * 1024**3 and sites["b"]["capacity"]["cores"] == 8
    assert "a" in cli("sites").output

    # refused before submission: 4 GiB per node does not fit site a's 3 GiB nodes
    bad = tmp_path / "bad.yaml"
    bad.write_text(STUDY.format(name="unplaceable", mem="4096Mi", noise="[a]"))
    res = cli("submit", str(bad), "--no-watch")
    assert res.exit_code != 0
    assert "nothing was submitted" in res.output and "(noise) fits no site: a: conditions.mem" in res.output
    assert cli("status", "unplaceable").exit_code != 0  # no submission was recorded

    good = tmp_path / "good.yaml"
    good.write_text(STUDY.format(name="two-sites", mem="1024Mi", noise="any"))
    res = cli("submit", str(good), "--timeout", "300")
    assert res.exit_code == 0, res.output
    assert "5 done / 0 failed" in res.output

    res = cli("status", "two-sites", "--json")
    st = json.loads(res.output)
    kinds = {p["node"].split("-")[0]: p for p in st["processes"]}
    assert (kinds["hamiltonian"]["site"], kinds["hamiltonian"]["executor"]) == ("a", "exec-a")
    assert (kinds["vqe"]["site"], kinds["vqe"]["executor"]) == ("b", "exec-b")
    assert all(p["state"] == "done" and p["site"] in ("a", "b") for p in st["processes"])
    assert sum(c["done"] for c in st["sites"].values()) == 5
    assert "by site" in cli("status", "two-sites").output

    # each result file names the site and executor that ran it
    from hpcq.client.api import Client

    client = Client()
    for kind in ("vqe", "noise"):
        proc = client.colonies.get_process(kinds[kind]["processid"], client.key)
        assert proc.state == ProcessState.SUCCESS
        h5 = [o for o in proc.output if str(o).endswith(".h5")][0]
        prov = _provenance(h5)
        assert (prov["site"], prov["executor"]) == (kinds[kind]["site"], kinds[kind]["executor"])
        assert f"/site-{prov['site']}/results/" in h5  # written in that site's own results directory


def test_what_colonyos_matches_at_assign(colonies_server):
    """What a process's conditions make ColonyOS check, on both servers: the location (any case),
    not the executor's capabilities (GPUs, memory), nor the storage condition (the real server's
    default, distributed assign, passes storage <= MaxInt64). hpcq.client.placement rests on this."""
    from hpcq.colonyos import NO_PROCESS
    from hpcq.colonyos.rpc import funcspec
    from hpcq.colonyos.signing import id_from_prvkey, new_prvkey
    from hpcq.executor.profiles import load_profile
    from hpcq.executor.site import site_capacity

    c, up, colony = colonies_server.client(), colonies_server.user_prvkey, colonies_server.colony
    key = new_prvkey()
    caps = site_capacity(load_profile("local")).to_capabilities("test")  # no GPUs, 15.6 GiB nodes
    executor = {"executorname": "ex-a", "executorid": id_from_prvkey(key), "colonyname": colony, "executortype": "t"}
    c.add_executor({**executor, "locationname": "Site-A", "capabilities": caps}, colonies_server.colony_prvkey)
    c.approve_executor(colony, "ex-a", colonies_server.colony_prvkey)
    stored = next(e for e in c.list_executors(colony, up) if e["executorname"] == "ex-a")
    assert stored["locationname"] == "Site-A" and stored["capabilities"]["hardware"] == caps["hardware"]

    def submit(nodename: str, **conditions) -> str:
        cond = {"colonyname": colony, "executortype": "t", "walltime": 60, **conditions}
        spec = {"nodename": nodename, "funcname": "f", "maxexectime": -1, "conditions": cond}
        return c.submit_func_spec(funcspec(spec), up).processid

    elsewhere = submit("elsewhere", locationname="site-b")
    with pytest.raises(Exception, match=NO_PROCESS):
        c.assign(colony, -1, key)  # another site's process: never ours
    big = submit("big", locationname="site-a", gpu={"name": "", "mem": "", "count": 4, "nodecount": 1}, mem="64Gi")
    assert c.assign(colony, -1, key).processid == big  # location in any case; GPUs and memory unchecked
    stored_process = c.get_process(elsewhere, up)
    assert stored_process.state == ProcessState.WAITING
    storage = submit("storage", storage="1Gi")
    assert c.assign(colony, -1, key).processid == storage


def test_a_requeued_step_moves_to_another_site_and_the_old_site_is_refused(colonies_server, tmp_path):
    """What failover rests on, on both servers (docs/reliability.md, "Failover between sites"): a
    step that two sites' executors may take (executornames), assigned to a, is re-queued by its
    maxexectime and assigned to b; a's close, fail and attributes are then refused, but a file a
    registers under the process's label is accepted by both servers (addfilemsg checks membership
    only), which is why hpcq's watcher asks whether the process is still its own before it
    registers files. A step pinned to a (locationname) never goes to b."""
    from hpcq.colonyos import NO_PROCESS, file_label
    from hpcq.colonyos import client as make_client
    from hpcq.colonyos.rpc import funcspec
    from hpcq.colonyos.signing import id_from_prvkey, new_prvkey
    from hpcq.executor.outputs import file_ref
    from hpcq.testing import wait_for

    c = make_client(colonies_server.host, colonies_server.port)
    up, colony = colonies_server.user_prvkey, colonies_server.colony
    keys = {}
    for name, site in (("ex-a", "site-a"), ("ex-b", "site-b")):
        keys[name] = key = new_prvkey()
        ex = {"executorname": name, "executorid": id_from_prvkey(key), "colonyname": colony, "executortype": "t"}
        c.add_executor({**ex, "locationname": site}, colonies_server.colony_prvkey)
        c.approve_executor(colony, name, colonies_server.colony_prvkey)

    def submit(nodename: str, maxexectime: int, **conditions) -> str:
        cond = {"colonyname": colony, "executortype": "t", "walltime": 1, **conditions}
        spec = {"nodename": nodename, "funcname": "f", "maxexectime": maxexectime, "maxretries": 1, "conditions": cond}
        return c.submit_func_spec(funcspec(spec), up).processid

    pinned = submit("pinned", -1, locationname="site-a")
    movable = submit("movable", 2, executornames=["ex-a", "ex-b"])
    assert c.assign(colony, 5, keys["ex-a"]).processid == pinned
    assert c.assign(colony, 5, keys["ex-a"]).processid == movable  # then site a goes silent

    def taken_by_b():
        try:
            return c.assign(colony, 1, keys["ex-b"]).processid
        except Exception as exc:  # noqa: BLE001
            assert NO_PROCESS in str(exc), exc
            return None

    assert wait_for(taken_by_b, 30, 0.1, "the re-queued step at site b") == movable
    p = c.get_process(movable, up)
    assert (p.state, p.retries, p.assignedexecutorid) == (ProcessState.RUNNING, 1, id_from_prvkey(keys["ex-b"]))
    for late in (
        lambda: c.close(movable, ["late"], keys["ex-a"]),
        lambda: c.fail(movable, ["late"], keys["ex-a"]),
        lambda: c.add_attribute(movable, "late", "1", keys["ex-a"]),
    ):
        with pytest.raises(Exception):  # noqa: B017 - refused: a is not the assignee any more
            late()
    result = tmp_path / "late.h5"
    result.write_bytes(b"site a's late result")
    c.add_file_ref(file_ref(colony, file_label(colony, movable), result), keys["ex-a"])  # accepted
    assert [f["name"] for f in c.get_files(file_label(colony, movable), colony, up)] == ["late.h5"]
    c.close(movable, ["done"], keys["ex-b"])
    assert c.get_process(movable, up).state == ProcessState.SUCCESS
    with pytest.raises(Exception, match=NO_PROCESS):
        c.assign(colony, 1, keys["ex-b"])  # the pinned step is not b's
    assert c.get_process(pinned, up).assignedexecutorid == id_from_prvkey(keys["ex-a"])
