"""Two sites without a shared results directory: the water workflow with its steps alternating
between two executors (each with its own results and jobs directories), every parent->child edge
crossing sites, files moving through ColonyOS file storage (S3: moto's server, hpcq.testing.s3).
The same study run at one site is the reference: energies and parameters equal to 1e-10."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from hpcq.colonyos import ProcessState as PS

pytestmark = [pytest.mark.slurm, pytest.mark.both_servers]
TYPE = "hpcq-xs"


def _study(name: str):
    from hpcq.client.study import parse_study
    from hpcq.testing.studies import trimmed_water

    return parse_study(trimmed_water(name, TYPE), name)


def _tasks(dest) -> dict:
    out = {}
    for path in dest.glob("*.h5"):
        with h5py.File(path) as h:
            prov = dict(h["provenance"].attrs)
            for tid, g in h["tasks"].items():
                out[tid] = (g.attrs["step"], float(g["metrics"].attrs["energy"]), g["final_parameters"][()], prov)
    return out


def test_water_over_two_sites_through_s3_equals_one_site(lab, tmp_path, monkeypatch):
    from hpcq.client.api import Client
    from hpcq.client.dag import build_specs
    from hpcq.config import Settings
    from hpcq.testing.s3 import s3_server

    with s3_server() as s3env:
        a = lab.executor("site-a", "--site", "site-a", executor_type=TYPE, extra_env=s3env)
        b = lab.executor("site-b", "--site", "site-b", executor_type=TYPE, extra_env=s3env)
        assert a.results_dir != b.results_dir and not b.results_dir.is_relative_to(a.results_dir)
        for k, v in {**lab.col.env, **s3env}.items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("HPCQ_CONFIG_DIR", str(tmp_path / "cfg"))
        client = Client(Settings.load())
        two = build_specs(_study("xs-two"))
        for i, spec in enumerate(two):  # integrals@a -> hamiltonian@b -> ansatz@a -> vqe@b -> noise@a, b
            spec["conditions"]["executornames"] = ["site-a" if i % 2 == 0 else "site-b"]
        one = build_specs(_study("xs-one"))
        for spec in one:
            spec["conditions"]["executornames"] = ["site-a"]
        subs = {
            name: client.submit_specs(name, specs, workflow=True, executortype=TYPE)
            for name, specs in (("xs-two", two), ("xs-one", one))
        }
        got = {}
        for name, sub in subs.items():
            snap = client.watch(sub, timeout=600)
            assert snap.counts["done"] == len(sub.processids), (snap.line(), snap.failed)
            got[name] = _tasks_fetched(client, sub, tmp_path / name)
        staged = _staged(lab, subs["xs-two"])
        assert a.stop() == 0 and b.stop() == 0
    two_t, one_t = got["xs-two"], got["xs-one"]
    assert sorted(two_t) == sorted(one_t) and len(one_t) == 2
    for tid, (step, energy, x, prov) in one_t.items():
        s2, e2, x2, prov2 = two_t[tid]
        assert s2 == step and abs(e2 - energy) <= 1e-10, (tid, e2, energy)
        np.testing.assert_allclose(x2, x, rtol=0, atol=1e-10)
        assert json.loads(prov["inputs_from"]) == []  # one site: nothing moved
        moved = json.loads(prov2["inputs_from"])  # two sites: this step's parent file came through S3
        assert moved and all(m["source"].startswith("s3://hpcq-results/") for m in moved), moved
    # every child of the two-site study fetched its parent's file from storage, checksum-checked
    assert len(staged) == len(subs["xs-two"].processids) - 1, staged
    for pid, records in staged.items():
        for r in records:
            assert len(r["sha256"]) == 64 and r["bytes"] > 0, (pid, r)
    _sites_in_catalog_and_graph(tmp_path)


def _sites_in_catalog_and_graph(tmp_path) -> None:
    """The fetched files, catalogued: each run's site and executor, the bytes and seconds its
    step's inputs took to come from the other site; the graph draws both (the dashboard's view)."""
    from hpcq.results.catalog import Catalog
    from hpcq.results.graph import build_graph, elements, site_legend_items

    cat = Catalog(tmp_path / "xs.sqlite")
    assert cat.index(tmp_path / "xs-two").errors == {}
    runs = cat.runs().set_index("step")
    assert runs.loc["vqe", "site"] == "site-b" and runs.loc["noise", "site"] == "site-a"  # specs 3 and 4
    assert runs.loc["vqe", "executor"] == "site-b" and runs.loc["noise", "executor"] == "site-a"
    assert (runs["inputs_bytes"] > 0).all() and (runs["inputs_s"] > 0).all()
    els = elements(build_graph(cat.runs()))
    assert [s for s, _ in site_legend_items(els)] == ["site-a", "site-b"]
    into = {e["data"]["target"]: e["data"].get("label", "") for e in els if "source" in e["data"]}
    assert all(into[f"task:{t}"].endswith(" s") for t in runs["task_id"]), into


def _tasks_fetched(client, sub, dest) -> dict:
    client.fetch(sub, dest)  # downloads from S3: no shared disk with either site assumed
    return _tasks(dest)


def _staged(lab, sub) -> dict[str, list[dict]]:
    """process id -> the transfer records its executor attached (inputs_from attribute)."""
    out = {}
    for pid in sub.processids:
        p = lab.col.get(pid)
        assert p.state == PS.SUCCESS
        attrs = lab.col.attrs(p)
        if "inputs_from" in attrs:
            out[pid] = json.loads(attrs["inputs_from"])
    return out
