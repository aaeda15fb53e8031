"""No private key ever appears in a log, a DB, a job file, process output or CLI output; only
catalogued functions run (a funcname like "os.system" or pycolonies' env["code"] never runs code);
names that could traverse paths are refused."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pycolonies import func_spec

from hpcq.colonyos import ProcessState as PS
from hpcq.functions import encode_kwargs
from hpcq.testing.faults import ExecutorProc, files_containing, make_spec, wait_final

MARK = Path("/tmp/hpcq-security-pwned")
CODE = f"import pathlib; pathlib.Path({str(MARK)!r}).write_text('pwned')"


def _hpcq(args: list[str], env_file: Path, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "HPCQ_ENV_FILE": str(env_file), "HPCQ_CONFIG_DIR": str(env_file.parent / "cfg")}
    return subprocess.run(
        [sys.executable, "-m", "hpcq.cli", *args], capture_output=True, text=True, env=env, timeout=120, **kw
    )


@pytest.fixture
def flow(colonies_server, tmp_path):
    """One executor (local backend) that ran a success, a failure, refusals and code-injection tries."""
    MARK.unlink(missing_ok=True)
    s, c = colonies_server, colonies_server.client()
    ex = ExecutorProc(env_file=s.env_file, state_dir=tmp_path / "executor", backend="local")
    specs = [
        make_spec(s.colony, "hpcq_echo", {"message": "hello"}),
        make_spec(s.colony, "hpcq_fail", {"message": "boom"}),
        func_spec(
            "os.system",
            ["touch " + str(MARK)],
            s.colony,
            "hpcq",
            kwargs={"command": "id"},
            maxexectime=-1,
            maxretries=0,
        ),
        func_spec(
            "hpcq_echo",
            [],
            s.colony,
            "hpcq",
            code=CODE,
            kwargs=encode_kwargs({"message": "x"}),
            maxexectime=-1,
            maxretries=0,
        ),  # pycolonies puts base64 code into env["code"]
        func_spec("exec", [], s.colony, "hpcq", code=CODE, maxexectime=-1, maxretries=0),
    ]
    with ex.start():
        pids = [c.submit_func_spec(sp, s.user_prvkey).processid for sp in specs]
        procs = wait_final(c, s.user_prvkey, pids, 120)
        logs = {p: c.get_process_log(s.colony, p, 100, 0, s.user_prvkey) for p in pids}
    return {"server": s, "ex": ex, "pids": pids, "procs": procs, "logs": logs, "tmp": tmp_path}


def test_only_catalogued_functions_run(flow):
    procs, pids = flow["procs"], flow["pids"]
    echo, fail, system, code_env, exec_ = (procs[p] for p in pids)
    assert echo.state == PS.SUCCESS and json.loads(echo.output[1])["message"] == "hello"
    assert fail.state == PS.FAILED and "boom" in fail.errors[0]
    for p in (system, exec_):
        assert p.state == PS.FAILED and "not in hpcq's function catalog" in p.errors[0], p.errors
    # env["code"] is ignored: hpcq_echo ran as itself, the code never did
    assert code_env.spec.env.get("code") == base64.b64encode(CODE.encode()).decode()
    assert code_env.state == PS.SUCCESS and json.loads(code_env.output[1])["message"] == "x"
    assert not MARK.exists(), "injected code ran"


def test_no_private_key_anywhere(flow):
    s, ex, tmp = flow["server"], flow["ex"], flow["tmp"]
    secrets = [s.colony_prvkey, s.user_prvkey, s.server_prvkey, (ex.state_dir / "executor.key").read_text().strip()]
    assert all(len(k) == 64 for k in secrets)
    # CLI output too (config show masks, status/logs talk to the server)
    outs = [
        _hpcq(["config", "show"], s.env_file),
        _hpcq(["executor", "journal", "--state-dir", str(ex.state_dir)], s.env_file),
        _hpcq(["server", "--help"], s.env_file),
    ]
    for r in outs:
        for k in secrets:
            assert k not in r.stdout + r.stderr, r.args
    # process outputs, errors and ColonyOS logs
    blob = json.dumps([{"out": p.output, "err": p.errors, "spec": p.spec.model_dump()} for p in flow["procs"].values()])
    blob += json.dumps(flow["logs"], default=str)
    for k in secrets:
        assert k not in blob
    # every file written: server log + DB (+WAL), executor log, journal, submitit pickles and logs, outcomes
    allowed = {s.handle.data_dir / "server.key", s.env_file, ex.state_dir / "executor.key"}
    hits = [(f, k) for f, k in files_containing(tmp, secrets) if Path(f) not in allowed]
    assert hits == [], f"private key material found in {hits}"
    assert (s.handle.data_dir / "colonies.db").exists() and ex.log_path.exists()


def test_study_and_result_names_cannot_traverse():
    from hpcq.functions import validate_kwargs

    for study in ["../evil", "a/b", "x\x00y", "/abs", "../../etc/passwd"]:
        with pytest.raises(ValueError, match="study"):
            validate_kwargs("vqe_sweep", {"study": study, "problems": [{"kind": "tfim", "n_qubits": 2}]})


def test_registered_file_names_cannot_traverse(colonies_server):
    """A member must not be able to register a ColonyFS file whose name escapes the download
    directory (pycolonies' download_file writes to <dst>/<name>)."""
    from hpcq.colonyos import client
    from hpcq.executor.outputs import file_ref

    s = colonies_server
    c = client(s.handle.host, s.handle.port)
    refused = 0
    for name in ["../../.bashrc", "/etc/passwd", "a/../../b", ".."]:
        ref = file_ref(s.colony, "/hpcq/dev/x", __file__)
        ref["name"] = name
        try:
            c.add_file_ref(ref, s.user_prvkey)
        except Exception as exc:  # noqa: BLE001
            assert "name" in str(exc)
            refused += 1
    assert refused == 4
