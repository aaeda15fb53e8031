"""One configuration directory, overridden by environment variables.

Layout (``$HPCQ_CONFIG_DIR``, default ``~/.config/hpcq``)::

    colonies.env     COLONIES_* variables (pycolonies' own names), mode 0600
    config.yaml      optional hpcq settings (default_profile, results_dir, ...)

Precedence: explicit argument > environment variable > colonies.env > built-in default.
pycolonies' ``colonies_client()`` reads the same variable names, so ``set -a; . colonies.env``
makes both work.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

# Variables pycolonies' colonies_client() reads, plus the S3 variables its file upload reads.
COLONIES_VARS = (
    "COLONIES_SERVER_HOST",
    "COLONIES_SERVER_PORT",
    "COLONIES_SERVER_TLS",
    "COLONIES_COLONY_NAME",
    "COLONIES_COLONY_PRVKEY",
    "COLONIES_EXECUTOR_NAME",
    "COLONIES_PRVKEY",
    "COLONIES_SERVER_PRVKEY",
)
S3_VARS = (
    "AWS_S3_ENDPOINT",
    "AWS_S3_ACCESSKEY",
    "AWS_S3_SECRETKEY",
    "AWS_S3_REGION",
    "AWS_S3_TLS",
    "AWS_S3_BUCKET",
    "AWS_S3_SKIPVERIFY",
)
SECRET_MARKERS = ("PRVKEY", "SECRET", "ACCESSKEY", "PASSWORD", "TOKEN")


class ConfigError(Exception):
    """A configuration problem; the message names the setting and the fix."""


def config_dir() -> Path:
    return Path(os.environ.get("HPCQ_CONFIG_DIR") or Path.home() / ".config" / "hpcq")


def env_file_path() -> Path:
    return Path(os.environ.get("HPCQ_ENV_FILE") or config_dir() / "colonies.env")


def is_secret(name: str) -> bool:
    return any(m in name.upper() for m in SECRET_MARKERS)


def mask(value: str | None) -> str:
    """Show enough of a secret to recognise it, never enough to use it."""
    if not value:
        return ""
    return value[:4] + "…" + f"({len(value)} chars)"


def check_private_file(path: Path) -> None:
    """Refuse key/env files readable by group or others (like ssh does)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"{path} has mode {mode:04o} but holds private keys; it must be 0600. "
            f"Fix: chmod 600 {path}"
        )


def write_private_file(path: Path, text: str) -> None:
    """Write atomically with mode 0600 from the first byte (never briefly world-readable)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def parse_env_file(path: Path) -> dict[str, str]:
    """Parse ``KEY=VALUE`` lines (optional ``export``, quotes, comments)."""
    out: dict[str, str] = {}
    for lineno, raw in enumerate(Path(path).read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].strip()
        if "=" not in line:
            raise ConfigError(f"{path}:{lineno}: expected KEY=VALUE, got {raw!r}")
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def write_env_file(path: Path, values: dict[str, str]) -> None:
    lines = ["# written by hpcq; source with: set -a; . THIS_FILE; set +a"]
    lines += [f"{k}={v}" for k, v in values.items()]
    write_private_file(path, "\n".join(lines) + "\n")


def load_env(path: Path | None = None) -> dict[str, str]:
    """The COLONIES_*/AWS_S3_* settings: env file first, then the process environment on top."""
    path = Path(path) if path else env_file_path()
    values: dict[str, str] = {}
    if path.exists():
        check_private_file(path)
        values.update(parse_env_file(path))
    for name in COLONIES_VARS + S3_VARS:
        if os.environ.get(name):
            values[name] = os.environ[name]
    return values


@dataclass
class Settings:
    """Everything a client or executor needs to reach a colony."""

    host: str = "127.0.0.1"
    port: int = 50080
    tls: bool = False
    colony_name: str = ""
    colony_prvkey: str = ""
    executor_name: str = ""
    prvkey: str = ""
    default_profile: str = "local"
    results_dir: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, env_file: Path | None = None) -> "Settings":
        env = load_env(env_file)
        s = cls(
            host=env.get("COLONIES_SERVER_HOST", cls.host),
            port=int(env.get("COLONIES_SERVER_PORT", cls.port)),
            tls=env.get("COLONIES_SERVER_TLS", "false").lower() == "true",
            colony_name=env.get("COLONIES_COLONY_NAME", ""),
            colony_prvkey=env.get("COLONIES_COLONY_PRVKEY", ""),
            executor_name=env.get("COLONIES_EXECUTOR_NAME", ""),
            prvkey=env.get("COLONIES_PRVKEY", ""),
        )
        yaml_path = config_dir() / "config.yaml"
        if yaml_path.exists():
            data = yaml.safe_load(yaml_path.read_text()) or {}
            if not isinstance(data, dict):
                raise ConfigError(f"{yaml_path}: expected a mapping of settings")
            known = {f.name for f in fields(cls)} - {"extra"}
            for key, value in data.items():
                if key in known:
                    setattr(s, key, value)
                else:
                    s.extra[key] = value
        s.default_profile = os.environ.get("HPCQ_PROFILE", s.default_profile)
        s.results_dir = os.environ.get("HPCQ_RESULTS_DIR", s.results_dir)
        return s

    def require(self, *names: str) -> None:
        env_names = {
            "colony_name": "COLONIES_COLONY_NAME",
            "colony_prvkey": "COLONIES_COLONY_PRVKEY",
            "executor_name": "COLONIES_EXECUTOR_NAME",
            "prvkey": "COLONIES_PRVKEY",
        }
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            vars_ = ", ".join(env_names.get(n, n) for n in missing)
            raise ConfigError(
                f"missing setting(s) {vars_}: set them in the environment or in {env_file_path()} "
                "(run `hpcq server init` to create one for the embedded server)"
            )

    def client(self):
        """A pycolonies client for these settings (hpcq talks to servers only through it)."""
        from pycolonies import Colonies

        return Colonies(self.host, self.port, tls=self.tls)

    def masked(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        for k in ("colony_prvkey", "prvkey"):
            d[k] = mask(d[k])
        return d
