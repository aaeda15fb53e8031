"""Key and env files must be 0600; hpcq refuses looser modes with the fix in the message, and
writes its own key files 0600 from the first byte."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hpcq.config import ConfigError, Settings, check_private_file, write_env_file, write_private_file
from hpcq.executor.identity import load_or_create_key


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604, 0o660, 0o666, 0o755, 0o601])
def test_check_private_file_refuses_loose_modes(tmp_path, loose):
    p = tmp_path / "k"
    p.write_text("x")
    p.chmod(loose)
    with pytest.raises(ConfigError, match=rf"chmod 600 {p}"):
        check_private_file(p)


def test_written_files_are_0600(tmp_path):
    write_private_file(tmp_path / "a.key", "secret")
    write_env_file(tmp_path / "c.env", {"COLONIES_PRVKEY": "s"})
    assert mode(tmp_path / "a.key") == 0o600 and mode(tmp_path / "c.env") == 0o600


def test_env_file_with_loose_mode_refused(tmp_path, monkeypatch):
    env = tmp_path / "colonies.env"
    write_env_file(env, {"COLONIES_COLONY_NAME": "dev", "COLONIES_PRVKEY": "ab" * 32})
    env.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        Settings.load(env)
    env.chmod(0o600)
    assert Settings.load(env).colony_name == "dev"


def test_executor_key_mode(tmp_path):
    key = load_or_create_key(tmp_path)
    p = tmp_path / "executor.key"
    assert mode(p) == 0o600 and len(key) == 64
    p.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_or_create_key(tmp_path)


def test_server_data_dir_files(colonies_server):
    d = colonies_server.handle.data_dir
    assert mode(d / "server.key") == 0o600
    assert mode(colonies_server.env_file) == 0o600


def test_server_refuses_loose_server_key(colonies_server_factory, tmp_path):
    from hpcq.server.launch import ServerStartError, start_server

    srv = colonies_server_factory()
    srv.handle.stop()
    (srv.handle.data_dir / "server.key").chmod(0o644)
    with pytest.raises(ServerStartError, match="chmod 600"):
        start_server(srv.handle.data_dir, env={"COLONIES_SERVER_PRVKEY": ""}, timeout=20)


def test_executor_refuses_loose_env_file(colonies_server, tmp_path):
    import subprocess
    import sys

    colonies_server.env_file.chmod(0o644)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "hpcq.executor",
            "start",
            "--env-file",
            str(colonies_server.env_file),
            "--state-dir",
            str(tmp_path / "st"),
            "--backend",
            "local",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0 and "chmod 600" in r.stderr, r.stderr[-2000:]
    assert colonies_server.colony_prvkey not in r.stdout + r.stderr
