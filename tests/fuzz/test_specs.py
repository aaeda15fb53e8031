"""Property-based fuzzing of function specs as the executor sees them (funcname, kwargs, conditions,
env, maxexectime): every spec is either accepted or refused with a PlanError naming a field, and
nothing from the spec reaches the sbatch script that submitit would write for it.

Default suite: HPCQ_FUZZ_EXAMPLES (200) cases; `-m slow`: 10,000 cases.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings

from hpcq.config import ExecutorSettings, Settings
from hpcq.executor.daemon import Executor, Paths
from hpcq.executor.resources import PlanError
from tests.fuzz.strategies import CI_EXAMPLES, FUZZ, LONG_EXAMPLES, any_spec, fuzz_strings

FIELD = re.compile(
    r"funcname|kwargs|conditions|maxexectime|walltime|profile|HPCQ_PROFILE|params|"
    r"nodes|processespernode|mem|cpu|gpu|env",
    re.I,
)
COMMAND = "/venv/bin/python -u -m submitit.core._submit /jobs/%j"


@pytest.fixture(scope="module")
def executor(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz-executor")
    ex = Executor(Settings(colony_name="dev", executor=ExecutorSettings(backend="local")), Paths.under(d))
    yield ex
    ex.journal.close()


def _process(fields: dict):
    from model import Conditions, FuncSpec  # pycolonies' model module

    cond = Conditions(colonyname="dev", executortype="hpcq", **fields["conditions"])
    spec = FuncSpec.model_construct(
        funcname=fields["funcname"],
        kwargs=fields["kwargs"],
        conditions=cond,
        env=fields["env"],
        maxexectime=fields["maxexectime"],
        args=[],
    )
    return SimpleNamespace(processid="f" * 64, spec=spec, input=[])


def sbatch_text(params: dict, folder: Path) -> str:
    """The sbatch script submitit would submit for these AutoExecutor parameters."""
    import submitit

    ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
    ex.update_parameters(**params)
    ex.update_parameters(name="hpcq-fuzz")
    return ex._executor._make_submission_file_text(COMMAND, "uid")


def check_one(executor, fields: dict, folder: Path, stats: dict) -> None:
    try:
        prepared = executor.prepare(_process(fields))
    except PlanError as exc:
        msg = str(exc)
        assert msg and FIELD.search(msg), f"refusal names no field: {msg!r} for {fields!r}"
        stats["refused"] = stats.get("refused", 0) + 1
        return
    # accepted: the catalog knows the function and the kwargs validated
    assert prepared.fd.name == fields["funcname"]
    script = sbatch_text(prepared.plan.params, folder)
    for s in fuzz_strings(fields):
        if len(s) >= 3 and not s.isalnum() and s not in ("hpcq", "dev"):
            assert s not in script, f"spec string {s!r} reached the sbatch script:\n{script}"
    assert "touch /tmp/hpcq-pwned" not in script and "`id`" not in script
    stats["accepted"] = stats.get("accepted", 0) + 1


def _run(executor, tmp_path, n):
    stats: dict = {}

    @settings(FUZZ, max_examples=n)
    @given(any_spec)
    def prop(fields):
        check_one(executor, fields, tmp_path, stats)

    prop()
    return stats


def test_fuzz_specs(executor, tmp_path):
    stats = _run(executor, tmp_path, CI_EXAMPLES)
    assert stats.get("refused", 0) > 0 and stats.get("accepted", 0) > 0, stats


@pytest.mark.slow
def test_fuzz_specs_long(executor, tmp_path):
    stats = _run(executor, tmp_path, LONG_EXAMPLES)
    print(f"spec fuzz: {sum(stats.values())} cases, {stats}")
    assert sum(stats.values()) >= min(LONG_EXAMPLES, 10_000)


def test_valid_specs_are_accepted(executor, tmp_path):
    """The property is not vacuous: ordinary specs pass and produce a script."""
    import json

    for name, params in [
        ("hpcq_echo", {"message": "hi; rm -rf ~"}),
        ("hpcq_sleep", {"seconds": 1}),
        ("vqe_sweep", {"problems": [{"kind": "tfim", "n_qubits": 2, "h": 1.0}]}),
    ]:
        fields = {
            "funcname": name,
            "kwargs": {"params": json.dumps(params)},
            "env": {},
            "conditions": {"nodes": 1, "processespernode": 1, "walltime": 60},
            "maxexectime": -1,
        }
        p = executor.prepare(_process(fields))
        script = sbatch_text(p.plan.params, tmp_path)
        assert "#SBATCH" in script and "rm -rf" not in script


def test_catalog_refuses_code_and_dotted_names(executor):
    for name in ["os.system", "subprocess.run", "hpcq.executor.selftest:echo", "builtins.exec"]:
        with pytest.raises(PlanError, match="not in hpcq's function catalog"):
            executor.prepare(
                _process(
                    {
                        "funcname": name,
                        "kwargs": {},
                        "env": {"code": "aW1wb3J0IG9z"},
                        "conditions": {},
                        "maxexectime": -1,
                    }
                )
            )
