"""Every laptop command: --help works, and each one does its job against the real embedded server
(through pycolonies). The full path with an executor and Slurm is in test_e2e.py."""

import json

import pytest
from click.testing import CliRunner

from hpcq.cli import COMMANDS, main

H2_STUDY = """name: clitest
mode: {mode}
sweep:
  problems: [{{kind: h2, bond_length: 0.735}}]
  noise: [{{kind: none}}, {{kind: depolarizing, p: 0.01}}]
"""


@pytest.fixture
def env(colonies_server, tmp_path, monkeypatch):
    monkeypatch.setenv("HPCQ_CONFIG_DIR", str(tmp_path / "cfg"))
    colonies_server.monkeypatch_env(monkeypatch)
    return colonies_server


def run(*args, ok=True):
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    if ok:
        assert res.exit_code == 0, res.output
    return res


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name):
    res = run(name, "--help")
    assert "Usage:" in res.output and "unavailable" not in res.output


def test_submit_bad_study_names_field(tmp_path, monkeypatch):
    monkeypatch.setenv("HPCQ_CONFIG_DIR", str(tmp_path / "cfg"))
    f = tmp_path / "bad.yaml"
    f.write_text("name: x\nsweep:\n  problems: [{kind: tfim, n_qubits: 1}]\n")
    res = run("submit", str(f), ok=False)
    assert res.exit_code != 0
    assert "sweep.problems[0]" in res.output and "n_qubits 1 is out of range" in res.output
    # too big for any node: refused by the memory model with the numbers and what would fit
    f.write_text("name: x\nsweep:\n  problems: [{kind: tfim, n_qubits: 40}]\n")
    res = run("submit", str(f), ok=False)
    assert res.exit_code != 0
    assert "40-qubit statevector" in res.output and "would fit: at most 38 qubits" in res.output


def test_status_without_submissions_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("HPCQ_CONFIG_DIR", str(tmp_path / "cfg"))
    res = run("status", ok=False)
    assert "hpcq submit" in res.output


@pytest.mark.both_servers
def test_submit_status_logs_cancel_workflow(env, tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(H2_STUDY.format(mode="workflow"))
    res = run("submit", str(f), "--no-watch")
    assert "submitted study clitest (workflow): 5 process(es)" in res.output
    res = run("status", "clitest", "--json")
    st = json.loads(res.output)
    assert st["total"] == 5 and st["counts"]["waiting"] == 5
    res = run("logs", "clitest", "--node", "nope", ok=False)
    assert "no such step" in res.output and "aggregate-clitest" in res.output
    run("logs", "clitest", "--node", "aggregate-clitest")  # no lines yet, but a real getlogsmsg
    res = run("cancel", "clitest", "--yes")
    assert "5 cancelled" in res.output  # the embedded server cancels (colonies >= v1.9.12)
    st = json.loads(run("status", "clitest", "--json").output)
    assert st["counts"]["cancelled"] == 5 and st["counts"]["removed"] == 0  # cancelled, not gone
    assert "5 cancelled of 5" in run("status", "clitest").output


@pytest.mark.both_servers
def test_sweep_mode_one_process_per_task_and_cancel(env, tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(H2_STUDY.format(mode="workflow"))
    res = run("sweep", str(f), "--no-watch")
    assert "(sweep): 2 process(es)" in res.output
    c = env.client()
    procs = c.list_processes(env.colony, 100, 0, env.user_prvkey)
    assert sorted(p["spec"]["funcname"] for p in procs) == ["vqe_sweep", "vqe_sweep"]
    assert all(p["spec"]["label"] == "clitest" for p in procs)
    assert "2 cancelled" in run("cancel", "--yes").output  # latest submission


@pytest.mark.both_servers
def test_memory_units_every_server_parses(env, tmp_path):
    """colonies' Go parser refuses '1Ti' (it knows TiB, not Ti): hpcq sends a study's Ti as Gi, so the
    submit is accepted by both servers and means the same bytes."""
    from hpcq import units

    f = tmp_path / "s.yaml"
    f.write_text(H2_STUDY.format(mode="sweep") + "resources: {mem: 1Ti, walltime: 60}\n")
    assert "2 process(es)" in run("submit", str(f), "--no-watch").output
    procs = env.client().list_processes(env.colony, 10, 0, env.user_prvkey)
    assert [units.go_mem_mib(p["spec"]["conditions"]["mem"]) for p in procs] == [1024 * 1024] * 2  # 1 TiB in MiB
    run("cancel", "--yes")


def test_config_show_masks_keys(env):
    res = run("config", "show")
    assert env.colony in res.output
    assert env.user_prvkey not in res.output and env.colony_prvkey not in res.output
    assert env.user_prvkey[:4] + "…" in res.output
