"""The laptop experience end to end: a real server (hpcq's embedded one, and the real colonies
server), real local Slurm, a real executor subprocess; the laptop side uses only hpcq's client
(pycolonies underneath)."""

import json

import pytest
from click.testing import CliRunner

from hpcq.cli import main
from hpcq.client.dag import study_spec
from hpcq.client.study import parse_study

pytestmark = pytest.mark.both_servers


def cli(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_failing_step_is_named_with_its_error(client_stack):
    study = parse_study(
        {
            "name": "failing",
            "colony": client_stack.colony,
            "resources": {"walltime": 60},
            "sweep": {"problems": [{"kind": "h2", "bond_length": 0.735}]},
        }
    )
    specs = [
        study_spec(study, "prepare", "hpcq_echo", {"message": "ready"}, study.resources.conditions()),
        study_spec(
            study,
            "boom",
            "hpcq_fail",
            {"message": "deliberate failure in step boom"},
            study.resources.conditions(),
            ["prepare"],
        ),
        study_spec(study, "after", "hpcq_echo", {"message": "never"}, study.resources.conditions(), ["boom"]),
    ]
    sub = client_stack.submit_specs("failing", specs, workflow=True)
    res = cli("status", "failing", "--watch")
    assert res.exit_code == 0, res.output
    assert "boom" in res.output and "deliberate failure in step boom" in res.output
    st = json.loads(cli("status", "failing", "--json").output)
    errors = {f["node"]: f["errors"] for f in st["failed"]}
    assert any("deliberate failure in step boom" in e for e in errors["boom"])
    # ColonyOS fails the whole graph; the steps that did not fail themselves are marked as such
    assert st["counts"]["done"] + st["counts"]["failed"] == len(sub.processids)


def test_small_study_runs_fetches_and_ranks(client_stack, tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("""name: e2e-small
mode: workflow
resources: {walltime: 300, mem: 1024Mi}
sweep:
  problems: [{kind: h2, bond_length: 0.735}]
  ansatze: [{kind: efficient_su2, reps: 1}]
  optimizers: [{kind: cobyla, maxiter: 40}]
  noise: [{kind: none}, {kind: depolarizing, p: 0.01}]
  method: density_matrix
""")
    res = cli("submit", str(f), "--timeout", "600")
    assert res.exit_code == 0, res.output
    assert "5 done / 0 failed" in res.output
    dest = tmp_path / "results"
    res = cli("fetch", "e2e-small", "--dest", str(dest))
    assert res.exit_code == 0, res.output
    assert "fetched 2 result file(s)" in res.output
    assert len(list(dest.glob("*.h5"))) == 2
    res = cli("results", "rank", "--db", str(dest / ".hpcq-catalog.sqlite"), "--by", "abs_error:min")
    assert res.exit_code == 0, res.output
