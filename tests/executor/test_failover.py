"""One study over two sites, and failover between them (issue 22, item 4; docs/reliability.md).

Two lab Slurm clusters on this machine, each its own ClusterName, ports, state, spool and
accounting database ("sitea": 1 node x 4 CPUs; "siteb": 2 nodes x 8 CPUs), served by two executors
with different site profiles (site-a: 4 cores and 3 GiB per node, one node; site-b: 8 cores,
15.6 GiB, two nodes), each with its own state, jobs and results directories, against the REAL
colonies server (v1.9.12, PostgreSQL) and an S3 server (moto's: hpcq.testing.s3 says why), no
shared results directory: every file between sites goes through S3.

The water study (hpcq.testing.studies.trimmed_water) has its integrals pinned to site-a
(``{sites: [site-a], stay: true}``) and its VQE and noise steps placed by need (both sites offer
4 cores and 2 GiB, so both may take them). Checked: it runs end to end, each HDF5 file's
provenance names the site (and executor) ColonyOS assigned its process to, and the energies equal
the same study run at site-b alone to 1e-10.

Failover: site b's executor is stopped (still registered, still alive to placement), the study is
submitted, and once site a runs a step after the integrals its executor is SIGKILLed and its
Slurm cluster stopped. Site b's executor starts again and finishes the study: the waiting steps at
once, the step that was running at a after its maxexectime (40 s here) re-queued it. Counted from
the server and the files, not from the executors: 0 lost (every process SUCCESS), 0 completed twice
(one result outcome per process over both sites' job folders; except that a moved step may also
have completed at a between the kill and its Slurm's stop, unregistered), 0 closed twice (accepted
closes in both executors' logs), 0 registered twice (one ColonyFS entry per file name per process). A process
pinned to site a (locationname) submitted after a died stays WAITING: it never moves. Then site a
comes back late (Slurm and executor restarted, its journal still holding the moved step): it closes
and registers nothing of the study, and runs the pinned process. HPCQ_FAILOVER_FIGURES=FILE appends
the case's figures (failover time) as a JSON line (bench/bench_failover.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import pytest

from hpcq.colonyos import ProcessState as PS
from hpcq.testing.faults import ExecutorProc, closes_by_process, runs_by_process

pytestmark = [pytest.mark.slurm]
TYPE = "hpcq-fo"
SITES = ("site-a", "site-b")
PROFILE = """source: "test: lab cluster {cluster} seen as site {site}"
partition: debug
mpi: pmi2
cores_per_node: {cores}
mem_per_node_gb: {mem}
max_walltime_s: 86400
default_walltime_s: 600
max_nodes: {nodes}
"""
PLACED = {
    "integrals": {"sites": ["site-a"], "stay": True},  # its data stays at site a
    "vqe": {"needs": {"cores": 4}},
    "noise": {"needs": {"mem": "2Gi"}},
}
ONE_SITE = {kind: ["site-b"] for kind in ("integrals", "hamiltonian", "ansatz", "vqe", "noise", "aggregate")}
# walltime 30 + queue allowance: what bounds moving a running step (bench/bench_failover.py varies it)
FAILOVER_MAXEXECTIME = int(os.environ.get("HPCQ_FAILOVER_MAXEXECTIME", "40"))


@dataclass
class Site:
    name: str
    cluster: Any
    ex: ExecutorProc


@dataclass
class Col:
    """The user's side of the colony, through pycolonies."""

    client: Any
    colony: str
    prvkey: str
    env: dict[str, str]

    def get(self, pid: str) -> Any:
        return self.client.get_process(pid, self.prvkey)


@dataclass
class TwoSites:
    a: Site
    b: Site
    col: Col
    client: Any  # hpcq.client.api.Client
    tmp: Path
    cache: dict[str, Any] = field(default_factory=dict)

    def col_wait(self, pid: str, states: tuple, timeout: float) -> Any:
        return _wait(lambda: (p := self.col.get(pid)).state in states and p, timeout, f"{pid[:8]} in {states}")

    def executors(self) -> dict[str, dict]:
        """executor id -> its record (name, locationname)."""
        rows = self.col.client.list_executors(self.col.colony, self.col.prvkey) or []
        return {r["executorid"]: r for r in rows}


@pytest.fixture(scope="module")
def two_sites(tmp_path_factory):
    from hpcq.client.api import Client
    from hpcq.config import Settings
    from hpcq.executor.lab import prerequisites, start_cluster
    from hpcq.testing import need
    from hpcq.testing.colonies_lab import lab_available
    from hpcq.testing.s3 import s3_server
    from hpcq.testing.server import make_server

    need(*prerequisites())
    ok, why = lab_available()
    need(ok, f"the real colonies server cannot run here: {why}")
    tmp = tmp_path_factory.mktemp("failover")
    with contextlib.ExitStack() as stack:
        mp = stack.enter_context(pytest.MonkeyPatch.context())
        ca = start_cluster(tmp / "slurm-a", nodes=1, cpus=4, mem_mb=4096, name="sitea")
        stack.callback(ca.down)
        cb = start_cluster(tmp / "slurm-b", nodes=2, cpus=8, name="siteb")
        stack.callback(cb.down)
        assert ca.port != cb.port and ca.dir != cb.dir
        srv = make_server(tmp / "server", kind="colonies")  # the real colonies server, its own PostgreSQL
        stack.callback(srv.close)
        col = Col(srv.client(), srv.colony, srv.user_prvkey, srv.env)
        s3env = stack.enter_context(s3_server())
        cfg = tmp / "cfg"
        (cfg / "profiles").mkdir(parents=True)
        for site, cluster, cores, mem, nodes in (("site-a", ca, 4, 3, 1), ("site-b", cb, 8, 15.625, 2)):
            text = PROFILE.format(cluster=cluster.name, site=site, cores=cores, mem=mem, nodes=nodes)
            (cfg / "profiles" / f"{site}.yaml").write_text(text)
        sites = []
        for site, cluster in (("site-a", ca), ("site-b", cb)):
            env = cluster.env(**col.env, **s3env)  # SLURM_CONF: this site's cluster only
            env.update(HPCQ_CONFIG_DIR=str(cfg), PYTHONUNBUFFERED="1")
            env.pop("COLONIES_EXECUTOR_NAME", None)
            env.pop("HPCQ_EXECUTOR_PRVKEY", None)
            ex = ExecutorProc(
                env_file=None,
                env=env,
                state_dir=tmp / site / "state",
                name=f"exec-{site[-1]}",
                executor_type=TYPE,
                extra_args=["--site", site, "--profile", site],
            )
            stack.callback(ex.stop)
            sites.append(Site(site, cluster, ex.start()))
        for k, v in {**col.env, **s3env}.items():
            mp.setenv(k, v)
        mp.setenv("HPCQ_CONFIG_DIR", str(tmp / "client-cfg"))
        yield TwoSites(sites[0], sites[1], col, Client(Settings.load()), tmp)


def _study(name: str, placement: dict, walltime: int = 300, queue_allowance: int = 300):
    from hpcq.client.study import parse_study
    from hpcq.testing.studies import trimmed_water

    data = trimmed_water(name, TYPE, walltime=walltime)
    data.update(placement=placement, queue_allowance=queue_allowance, maxretries=1)
    return parse_study(data, name)


def _tasks(dest: Path) -> dict[str, tuple[float, Any, dict]]:
    """task id -> (energy, final parameters, the file's provenance), from fetched HDF5 files."""
    out = {}
    for path in dest.glob("*.h5"):
        with h5py.File(path) as h:
            prov = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in h["provenance"].attrs.items()}
            for tid, g in h["tasks"].items():
                out[tid] = (float(g["metrics"].attrs["energy"]), g["final_parameters"][()], prov)
    return out


def _run(s: TwoSites, name: str, placement: dict) -> Any:
    sub = s.client.submit(_study(name, placement))
    snap = s.client.watch(sub, timeout=600)
    assert snap.counts["done"] == len(sub.processids), (snap.line(), snap.failed)
    return sub


def _submit_reference(s: TwoSites) -> None:
    """Submit the same study at one site (site-b alone), once; _reference waits for it."""
    if "one-sub" not in s.cache:
        s.cache["one-sub"] = s.client.submit(_study("fo-one", ONE_SITE))


def _reference(s: TwoSites) -> dict:
    """The one-site run's tasks: task id -> energy, parameters, provenance."""
    if "one" not in s.cache:
        _submit_reference(s)
        sub = s.cache["one-sub"]
        snap = s.client.watch(sub, timeout=600)
        assert snap.counts["done"] == len(sub.processids), (snap.line(), snap.failed)
        s.client.fetch(sub, s.tmp / "fetched-one")
        s.cache["one"] = _tasks(s.tmp / "fetched-one")
        assert {p[2]["site"] for p in s.cache["one"].values()} == {"site-b"}
    return s.cache["one"]


def _check_provenance_and_energies(s: TwoSites, sub, dest: Path) -> dict[str, str]:
    """Fetch the study's files (from S3); each file's provenance names the site and executor its
    process was assigned to; energies and parameters equal the one-site run to 1e-10. Returns
    process id -> site."""
    import numpy as np

    executors = s.executors()
    site_of = {}
    for pid in sub.processids:
        p = s.col.get(pid)
        assert p.state == PS.SUCCESS
        site_of[pid] = executors[p.assignedexecutorid]["locationname"]
    s.client.fetch(sub, dest)
    got, ref = _tasks(dest), _reference(s)
    assert sorted(got) == sorted(ref) and len(ref) == 2
    for tid, (energy, x, prov) in got.items():
        assert prov["site"] == site_of[prov["colonies_process_id"]], (tid, prov)
        assert executors[s.col.get(prov["colonies_process_id"]).assignedexecutorid]["executorname"] == prov["executor"]
        assert abs(energy - ref[tid][0]) <= 1e-10, (tid, energy, ref[tid][0])
        np.testing.assert_allclose(x, ref[tid][1], rtol=0, atol=1e-10)
    return site_of


def test_water_over_two_clusters_placed_by_need_equals_one_site(two_sites):
    s = two_sites
    _submit_reference(s)  # both studies at once: the one-site run is the reference
    sub = _run(s, "fo-two", PLACED)
    site_of = _check_provenance_and_energies(s, sub, s.tmp / "fetched-two")
    kinds = {pid: s.client.colonies.get_process(pid, s.client.key).spec.funcname for pid in sub.processids}
    integrals = [pid for pid, f in kinds.items() if f == "study_integrals"]
    assert integrals and all(site_of[pid] == "site-a" for pid in integrals)  # pinned: stays at a
    # each site's jobs went to its own cluster: the job ids carry the cluster's port (FirstJobId)
    for site in (s.a, s.b):
        jobs = [a.value for pid in sub.processids if site_of[pid] == site.name
                for a in (s.col.get(pid).attributes or []) if a.key == "slurm_job_id"]  # fmt: skip
        assert all(int(j.split("_")[0]) // 1000 == site.cluster.port for j in jobs), (site.name, jobs)


def _ok_outcomes(jobs_dirs: list[Path]) -> Counter:
    """Completed runs per process: result Outcome files with ok=True, over every site's jobs."""
    done: Counter = Counter()
    for d in jobs_dirs:
        for f in d.glob("outcomes/*/*.json"):
            if json.loads(f.read_text()).get("ok"):
                done[f.stem] += 1
    return done


def _registrations(s: TwoSites, pid: str) -> Counter:
    from hpcq.colonyos import file_label

    rows = s.col.client.get_files(file_label(s.col.colony, pid), s.col.colony, s.col.prvkey) or []
    return Counter(r["name"] for r in rows)


def test_site_a_killed_mid_study_site_b_finishes_nothing_lost_or_twice(two_sites):
    from hpcq.client.specs import spec_for

    s = two_sites
    _reference(s)  # before the fault: site b serves it alone
    assert s.b.ex.stop() == 0  # b is away (still registered and alive to placement): a takes the work
    study = _study("fo-fail", PLACED, walltime=30, queue_allowance=FAILOVER_MAXEXECTIME - 30)
    assert study.maxexectime == FAILOVER_MAXEXECTIME
    sub = s.client.submit(study)
    funcs = {pid: s.client.colonies.get_process(pid, s.client.key).spec.funcname for pid in sub.processids}
    a_id = next(i for i, r in s.executors().items() if r["executorname"] == "exec-a")

    def running_at_a() -> list[str]:
        procs = {pid: s.col.get(pid) for pid in sub.processids}
        if any(p.state != PS.SUCCESS for pid, p in procs.items() if funcs[pid] == "study_integrals"):
            return []
        return [pid for pid, p in procs.items() if p.state == PS.RUNNING and p.assignedexecutorid == a_id]

    _wait(running_at_a, 300, "site a running a step after the integrals")
    t_kill = time.monotonic()
    s.a.ex.kill()  # SIGKILL: the site's executor dies ...
    moved = [
        pid for pid in sub.processids if (p := s.col.get(pid)).state == PS.RUNNING and p.assignedexecutorid == a_id
    ]
    s.a.cluster.down()  # ... and its Slurm stops (its jobs are killed with it)
    probe = spec_for("hpcq_echo", {"message": "pinned"}, {"walltime": 30, "locationname": "site-a",
                     "executortype": TYPE}, "fo-probe", nodename="probe", maxexectime_s=600)  # fmt: skip
    pinned = s.client.submit_specs("fo-probe", [probe], workflow=False, executortype=TYPE).processids[0]
    s.b.ex.start()

    first_at_b: dict[str, float] = {}
    deadline = time.monotonic() + 420
    while True:
        procs = {pid: s.col.get(pid) for pid in sub.processids}
        for pid in moved:
            if (
                pid not in first_at_b
                and procs[pid].state in (PS.RUNNING, PS.SUCCESS)
                and procs[pid].assignedexecutorid != a_id
            ):
                first_at_b[pid] = time.monotonic() - t_kill
        if all(p.state in (PS.SUCCESS, PS.FAILED) for p in procs.values()):
            break
        assert time.monotonic() < deadline, {pid[:8]: p.state for pid, p in procs.items()}
        time.sleep(0.5)

    # 0 lost
    assert all(p.state == PS.SUCCESS for p in procs.values()), {
        pid[:8]: (p.state, p.errors) for pid, p in procs.items()
    }
    for pid in moved:  # re-queued by maxexectime (retries 1), then taken by site b
        assert procs[pid].retries == 1 and procs[pid].assignedexecutorid != a_id
    # 0 completed twice, 0 closed twice, 0 registered twice
    jobs = [s.a.ex.jobs_dir, s.b.ex.jobs_dir]
    done = _ok_outcomes(jobs)
    assert all(done[pid] == 1 for pid in sub.processids if pid not in moved), done
    # a moved step may also have completed at site a between the kill and its Slurm's stop: that
    # result is never registered (a was dead), and b computes it again
    assert all(1 <= done[pid] <= 2 for pid in moved), done
    assert all(done[pid] == 1 for pid in moved if not _ok_outcomes([s.a.ex.jobs_dir])[pid]), done
    closes = closes_by_process(s.a.ex.log_text()) + closes_by_process(s.b.ex.log_text())
    assert {pid: closes[pid] for pid in sub.processids} == dict.fromkeys(sub.processids, 1), closes
    for pid in sub.processids:
        regs = _registrations(s, pid)
        assert all(n == 1 for n in regs.values()), (pid, regs)
    started = runs_by_process(s.a.ex.jobs_dir) + runs_by_process(s.b.ex.jobs_dir)
    assert all(started[pid] == 1 for pid in sub.processids if pid not in moved), started
    assert all(started[pid] <= 2 for pid in moved), started  # begun at a (killed with its Slurm), done at b
    # the pinned process never moved: it waits for site a
    p = s.col.get(pinned)
    assert (p.state, p.isassigned, p.retries) == (PS.WAITING, False, 0)
    # and the results equal the one-site run; every file names the site that made it
    site_of = _check_provenance_and_energies(s, sub, s.tmp / "fetched-fail")
    assert {site_of[pid] for pid in moved} == {"site-b"}
    failover_s = max(first_at_b.values())
    figures = {
        "case": "failover",
        "maxexectime_s": FAILOVER_MAXEXECTIME,
        "moved": len(moved),
        "failover_s": round(failover_s, 1),
        "sites": dict(Counter(site_of.values())),
        "completed_at_dead_site_unregistered": sum(_ok_outcomes([s.a.ex.jobs_dir])[pid] for pid in moved),
    }
    # bounded by maxexectime + the server's 1-s sweep + b's assign poll + b's restart (generous slack)
    assert moved and failover_s <= FAILOVER_MAXEXECTIME + 60, first_at_b

    # site a comes back late (its Slurm and executor restarted, its journal still holding the moved
    # step): it closes and registers nothing of the study, and runs the step pinned to it
    closes_before = closes_by_process(s.a.ex.log_text())
    back = _restart_cluster(s.a.cluster)
    try:
        s.a.ex.start()
        assert s.col_wait(pinned, (PS.SUCCESS,), 180).state == PS.SUCCESS
        _wait(lambda: "is gone on the ColonyOS side" in s.a.ex.log_text(), 60, "site a lets the moved step go")
        s.a.ex.stop()
    finally:
        back.down()
    late = closes_by_process(s.a.ex.log_text()) - closes_before
    assert dict(late) == {pinned: 1}, late
    for pid in sub.processids:
        assert all(n == 1 for n in _registrations(s, pid).values()), pid
        assert s.col.get(pid).state == PS.SUCCESS
    figures["late_site_closes"] = sum(late[pid] for pid in sub.processids)
    print(f"\nfailover: {figures}")
    out = os.environ.get("HPCQ_FAILOVER_FIGURES")
    if out:
        with open(out, "a") as fh:
            fh.write(json.dumps(figures) + "\n")


def _restart_cluster(old: Any) -> Any:
    """Site a's Slurm back in the same directory (a fresh state: slurm-up.sh starts clean), on free
    ports; the executor's SLURM_CONF (that directory's slurm.conf) points at it again."""
    from hpcq.executor.lab import start_cluster

    return start_cluster(old.dir, nodes=len(old.nodes), cpus=old.cpus, mem_mb=4096, name=old.name)


def _wait(fn, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
