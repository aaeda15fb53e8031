"""The one settings model: precedence argument > environment > config.yaml > env file > default,
validated values, unknown keys refused with the key and the fix."""

from __future__ import annotations

import pytest

from hpcq.config import ConfigError, Settings, write_env_file


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.setenv("HPCQ_CONFIG_DIR", str(tmp_path))
    for k in ("HPCQ_EXECUTOR_PACK", "HPCQ_EXECUTOR_BATCH_WAIT_S", "HPCQ_PROFILE", "COLONIES_SERVER_PORT"):
        monkeypatch.delenv(k, raising=False)
    return tmp_path


def test_precedence(cfg, monkeypatch):
    write_env_file(
        cfg / "colonies.env",
        {
            "COLONIES_SERVER_PORT": "5000",
            "HPCQ_EXECUTOR_PACK": "2",
            "HPCQ_EXECUTOR_BATCH_WAIT_S": "9",
            "HPCQ_PROFILE": "envfile",
        },
    )
    (cfg / "config.yaml").write_text("default_profile: yaml\nexecutor:\n  pack: 4\n  batch_wait_s: 1.5\n")
    monkeypatch.setenv("HPCQ_EXECUTOR_BATCH_WAIT_S", "0.5")
    s = Settings.load(overrides={"default_profile": "arg", "executor.assign_timeout_s": None})
    assert (s.port, s.executor.pack, s.executor.batch_wait_s, s.default_profile) == (5000, 4, 0.5, "arg")
    assert s.executor.assign_timeout_s == 10 and s.source("executor.assign_timeout_s") == "default"
    assert s.source("executor.batch_wait_s") == "environment HPCQ_EXECUTOR_BATCH_WAIT_S"
    assert s.source("executor.pack").endswith("config.yaml") and s.source("default_profile") == "command line"


def test_unknown_key_in_config_file_named_with_fix(cfg):
    (cfg / "config.yaml").write_text("executor:\n  batch_mx: 3\n")
    with pytest.raises(ConfigError, match=r"unknown setting 'executor.batch_mx'.*did you mean executor.batch_max"):
        Settings.load()


def test_unknown_env_file_name_and_bad_value(cfg, monkeypatch):
    write_env_file(cfg / "colonies.env", {"COLONIES_COLONY_NAM": "dev"})
    with pytest.raises(ConfigError, match="COLONIES_COLONY_NAM.*did you mean COLONIES_COLONY_NAME"):
        Settings.load()
    (cfg / "colonies.env").unlink()
    monkeypatch.setenv("HPCQ_EXECUTOR_PACK", "0")
    with pytest.raises(ConfigError, match="executor.pack='0' .from environment HPCQ_EXECUTOR_PACK"):
        Settings.load()
