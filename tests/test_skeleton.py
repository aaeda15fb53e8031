import os
import stat

import pytest
from click.testing import CliRunner

from hpcq import config, functions
from hpcq.cli import main


def test_cli_help_lists_commands():
    res = CliRunner().invoke(main, ["--help"])
    assert res.exit_code == 0
    for name in ("server", "executor", "submit", "ui", "results"):
        assert name in res.output


def test_env_file_written_0600_and_checked(tmp_path):
    p = tmp_path / "colonies.env"
    config.write_env_file(p, {"COLONIES_SERVER_HOST": "127.0.0.1", "COLONIES_PRVKEY": "ab" * 32})
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert config.parse_env_file(p)["COLONIES_PRVKEY"] == "ab" * 32
    os.chmod(p, 0o644)
    with pytest.raises(config.ConfigError, match="chmod 600"):
        config.load_env(p)


def test_unknown_function_names_known_ones():
    with pytest.raises(functions.UnknownFunction, match="hpcq_echo"):
        functions.get("os.system")
