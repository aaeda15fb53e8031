"""`hpcq server init|start|status`: env file, key files, defaults and clean shutdown."""

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time

import requests
from click.testing import CliRunner

from hpcq.colonyos.signing import id_from_prvkey, new_prvkey
from hpcq.config import Settings, parse_env_file
from hpcq.server.cli import server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_init_writes_env_file_readable_by_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("HPCQ_CONFIG_DIR", str(tmp_path / "cfg"))
    for k in list(os.environ):
        if k.startswith("COLONIES_") or k == "HPCQ_ENV_FILE":
            monkeypatch.delenv(k)
    r = CliRunner().invoke(server, ["init", "--colony", "lab", "--port", "50123"])
    assert r.exit_code == 0, r.output
    env_file = tmp_path / "cfg" / "colonies.env"
    assert mode(env_file) == 0o600
    assert mode(tmp_path / "cfg" / "server" / "server.key") == 0o600
    assert mode(tmp_path / "cfg" / "server") == 0o700
    env = parse_env_file(env_file)
    assert env["COLONIES_SERVER_TLS"] == "false" and env["COLONIES_COLONY_NAME"] == "lab"
    assert env["COLONIES_SERVER_PORT"] == "50123" and env["COLONIES_EXECUTOR_NAME"]
    s = Settings.load()
    assert (s.colony_name, s.port, s.prvkey) == ("lab", 50123, env["COLONIES_PRVKEY"])
    assert env["COLONIES_PRVKEY"] not in r.output and env["COLONIES_COLONY_PRVKEY"] not in r.output
    again = CliRunner().invoke(server, ["init", "--colony", "lab"])
    assert again.exit_code != 0 and "already exists" in again.output
    bad = CliRunner().invoke(server, ["init", "--colony", "no spaces"])
    assert bad.exit_code != 0 and "invalid colony name" in bad.output


def test_start_status_client_and_sigint(tmp_path):
    port = free_port()
    server_key = new_prvkey()
    env = dict(
        os.environ,
        HPCQ_CONFIG_DIR=str(tmp_path / "cfg"),
        COLONIES_SERVER_PORT=str(port),
        COLONIES_SERVER_HOST="127.0.0.1",
        COLONIES_SERVER_PRVKEY=server_key,
    )
    env.pop("HPCQ_ENV_FILE", None)
    hpcq = [sys.executable, "-m", "hpcq.cli", "server"]
    proc = subprocess.Popen(
        hpcq + ["start"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        info = json.loads((tmp_path / "cfg" / "server" / "server.json").read_text())
        assert info["port"] == port and info["serverid"] == id_from_prvkey(server_key)
        assert not (tmp_path / "cfg" / "server" / "server.key").exists()  # env key used
        out = subprocess.run(hpcq + ["init"], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        st = subprocess.run(hpcq + ["status", "--json"], env=env, capture_output=True, text=True, timeout=60)
        status = json.loads(st.stdout)
        assert st.returncode == 0 and status["running"] and status["colonies"] == 1
        # pycolonies' own colonies_client() reads the env file's variables
        script = (
            "from pycolonies import colonies_client, func_spec\n"
            "c, colony, _, _, prv = colonies_client()\n"
            "print(c.submit_func_spec(func_spec('f', [], colony, 't'), prv).state)\n"
        )
        file_env = parse_env_file(tmp_path / "cfg" / "colonies.env")
        run = subprocess.run(
            [sys.executable, "-c", script], env=dict(env, **file_env), capture_output=True, text=True, timeout=60
        )
        assert run.stdout.strip() == "0", run.stderr
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        logs = proc.communicate(timeout=20)[0].decode()
    assert proc.returncode == 0, logs
    assert "stopped" in logs and server_key not in logs
    assert not (tmp_path / "cfg" / "server" / "server.json").exists()
    st = subprocess.run(hpcq + ["status"], env=env, capture_output=True, text=True, timeout=60)
    assert st.returncode == 1


def test_start_refuses_a_readable_key_file(tmp_path, monkeypatch):
    monkeypatch.delenv("COLONIES_SERVER_PRVKEY", raising=False)
    key = tmp_path / "srv" / "server.key"
    key.parent.mkdir()
    key.write_text(new_prvkey())
    key.chmod(0o644)
    r = CliRunner().invoke(server, ["start", "--data-dir", str(tmp_path / "srv"), "--port", "0"])
    assert r.exit_code != 0 and "chmod 600" in r.output


def test_second_server_on_the_same_data_dir_is_refused(colonies_server):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "hpcq.server",
            "start",
            "--data-dir",
            str(colonies_server.handle.data_dir),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0 and "another hpcq server" in r.stderr
