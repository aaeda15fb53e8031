"""The one settings model of hpcq: every command (client, executor, server helpers) reads it.

Layout (``$HPCQ_CONFIG_DIR``, default ``~/.config/hpcq``)::

    colonies.env     COLONIES_* variables (pycolonies' own names), mode 0600
    config.yaml      optional hpcq settings (default_profile, results_dir, executor: {...})

Precedence, highest first (docs/configuration.md):
command-line argument > environment variable > config.yaml > colonies.env > built-in default.
Values are validated (pydantic) and unknown keys are refused with the key's name and the fix.
pycolonies' ``colonies_client()`` reads the same COLONIES_* names, so ``set -a; . colonies.env``
makes both work.
"""

from __future__ import annotations

import difflib
import os
import stat
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from hpcq.atomicfile import write_atomic

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
        raise ConfigError(f"{path} has mode {mode:04o} but holds private keys; it must be 0600. Fix: chmod 600 {path}")


def write_private_file(path: Path, text: str) -> None:
    """Write atomically with mode 0600 from the first byte (never briefly world-readable)."""
    write_atomic(path, text, mode=0o600)


def parse_env_file(path: Path) -> dict[str, str]:
    """Parse ``KEY=VALUE`` lines (optional ``export``, quotes, comments)."""
    out: dict[str, str] = {}
    for lineno, raw in enumerate(Path(path).read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].strip()
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


class ExecutorSettings(BaseModel):
    """Tuning of `hpcq executor start` (config.yaml ``executor:``, HPCQ_EXECUTOR_<NAME>, --<name>).

    The executor reads these fields as they are (hpcq.executor.daemon, packing, watcher): the
    defaults and ranges here are the only ones."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field("hpcq", min_length=1, description="ColonyOS executortype to serve")
    backend: Literal["auto", "slurm", "local"] = Field("auto", description="auto = slurm when sbatch is on PATH")
    assign_timeout_s: int = Field(
        10, ge=1, le=300, description="assign long-poll (the server drops executors silent for 600 s)"
    )
    batch_max: int = Field(100, ge=1, le=10000, description="max processes per Slurm job array")
    batch_wait_s: float = Field(2.0, ge=0, le=600, description="max time a batch waits to fill")
    burst_gap_s: float = Field(
        1.0,
        ge=0,
        le=600,
        description="arrivals closer than this form a burst; a process after a longer gap goes at once",
    )
    pack: int = Field(1, ge=1, le=10000, description="processes run one after another in one array element")
    poll_s: float = Field(0.05, ge=0.01, le=60, description="outcome-file poll interval")
    query_every_s: float = Field(2.0, ge=0.1, le=600, description="squeue/sacct interval")
    query_young_s: float = Field(
        0.5, ge=0.05, le=600, description="squeue interval while some job has not been seen running yet"
    )
    log_every_s: float = Field(1.0, ge=0.05, le=600, description="job stdout/stderr -> ColonyOS logs interval")
    colony_every_s: float = Field(
        5.0, ge=0.1, le=3600, description="interval of the check that watched processes are still ours in ColonyOS"
    )
    grace_s: float = Field(
        3.0, ge=0, le=600, description="a job in a final state without an outcome file is lost after this long"
    )
    stderr_lines: int = Field(20, ge=1, le=10000, description="last stderr lines quoted in a failure")
    backoff_max_s: float = Field(
        30.0, ge=1, le=3600, description="cap of every backoff (unreachable server, assign errors, sbatch retries)"
    )
    slurm_down_pause_s: float = Field(
        30.0,
        ge=0,
        le=86400,
        description="stop taking new processes while sbatch has failed for this long (Slurm not "
        "answering), so that other sites take them (docs/reliability.md, failover)",
    )
    wait_server_s: float = Field(
        300.0, ge=0, le=86400, description="at start, how long to wait for an unreachable ColonyOS server"
    )


class ServerSettings(BaseModel):
    """`hpcq server start|init|status` (config.yaml ``server:``, HPCQ_SERVER_<NAME>, --<name>)."""

    model_config = ConfigDict(extra="forbid")

    host: str | None = Field(default=None, description="bind address of `start`; unset = the `host` setting")
    port: int | None = Field(
        default=None, ge=0, le=65535, description="port of `start` (0 = any free one); unset = `port`"
    )
    data_dir: Path = Field(
        default_factory=lambda: config_dir() / "server", description="database, server key and server.json"
    )
    reregister: bool = Field(default=True, description="addexecutor with an existing name replaces it (false: refused)")
    stale_executor_s: float = Field(
        default=600.0, gt=0, description="remove executors not heard from (assign) this long"
    )
    cleanup_interval_s: float = Field(default=60.0, gt=0, description="how often to look for stale executors")
    tls_cert: Path | None = Field(default=None, description="PEM certificate (chain): serve HTTPS and WSS")
    tls_key: Path | None = Field(default=None, description="PEM private key of tls_cert")


class Settings(BaseModel):
    """Everything a client or executor needs: where the colony is, the keys, and the tuning."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(50080, ge=1, le=65535)
    tls: bool = False
    colony_name: str = ""
    colony_prvkey: str = ""
    executor_name: str = ""
    prvkey: str = ""
    default_profile: str = "local"
    results_dir: str = ""
    watch_interval_s: float = Field(1.0, gt=0, le=600, description="client progress poll interval")
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)
    server: ServerSettings = Field(default_factory=lambda: ServerSettings())
    _sources: dict[str, str] = PrivateAttr(default_factory=dict)

    @classmethod
    def load(
        cls, env_file: Path | None = None, overrides: dict[str, Any] | None = None, config_file: Path | None = None
    ) -> Settings:
        """Merge the sources in precedence order (``overrides`` = command-line arguments, dotted
        keys such as ``"executor.pack"``; None values are ignored) and validate the result."""
        data: dict[str, Any] = {}
        sources: dict[str, str] = {}

        def put(key: str, value: Any, source: str) -> None:
            node = data
            *parents, leaf = key.split(".")
            for part in parents:
                if not isinstance(node.get(part), dict):
                    node[part] = {}
                node = node[part]
            node[leaf] = value
            sources[key] = source

        path = Path(env_file) if env_file else env_file_path()
        for key, value, source in _env_file_settings(path):
            put(key, value, source)
        cfg = Path(config_file) if config_file else config_dir() / "config.yaml"
        for key, value in _config_file_settings(cfg):
            put(key, value, str(cfg))
        for name, key in ENV_NAMES.items():
            if os.environ.get(name):
                put(key, os.environ[name], f"environment {name}")
        for key, value in (overrides or {}).items():
            if value is not None:
                put(key, value, "command line")
        try:
            s = cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_explain(exc, sources)) from None
        s._sources = sources
        return s

    def source(self, key: str) -> str:
        """Where a setting's value came from ("default" when no source set it)."""
        return self._sources.get(key, "default")

    def require(self, *names: str) -> None:
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            vars_ = ", ".join(FIELD_ENV.get(n, n) for n in missing)
            raise ConfigError(
                f"missing setting(s) {vars_}: set them in the environment or in {env_file_path()} "
                "(run `hpcq server init` to create one for the embedded server)"
            )

    def masked(self) -> dict[str, Any]:
        """Every setting as a flat dotted mapping, private keys masked."""
        d = dict(_flatten(self.model_dump()))
        for k in ("colony_prvkey", "prvkey"):
            d[k] = mask(d[k])
        return d


def _env_file_settings(path: Path) -> list[tuple[str, str, str]]:
    """(setting, value, source) from colonies.env; an unknown COLONIES_/HPCQ_ name is refused."""
    if not path.exists():
        return []
    check_private_file(path)
    out = []
    for name, value in parse_env_file(path).items():
        if value == "":
            continue  # an empty line value means "not set", as in the environment
        if name in ENV_NAMES:
            out.append((ENV_NAMES[name], value, f"{path} ({name})"))
        elif name.startswith(("COLONIES_", "HPCQ_")) and name not in OTHER_VARS:
            raise ConfigError(
                f"{path}: unknown setting {name}{_did_you_mean(name, [*ENV_NAMES, *OTHER_VARS])}"
                f". Fix: rename or remove it (settings: docs/configuration.md)"
            )
    return out


def _config_file_settings(cfg: Path) -> list[tuple[str, Any]]:
    """(dotted setting, value) from config.yaml."""
    if not cfg.exists():
        return []
    loaded = yaml.safe_load(cfg.read_text()) or {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{cfg}: expected a mapping of settings (key: value lines)")
    return _flatten(loaded)


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        out += _flatten(v, key + ".") if isinstance(v, dict) else [(key, v)]
    return out


def _all_keys() -> list[str]:
    return [k for k, _ in _flatten(Settings().model_dump())]


def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _explain(exc: ValidationError, sources: dict[str, str]) -> str:
    """One line per problem: the setting, its value, where it came from, and the fix."""
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(
                f"unknown setting {key!r} (from {sources.get(key, '?')}){_did_you_mean(key, _all_keys())}. "
                f"Fix: rename or remove it; known settings: {', '.join(_all_keys())}"
            )
        else:
            lines.append(
                f"setting {key}={err.get('input')!r} (from {sources.get(key, 'default')}): {err['msg']}. "
                f"Fix: change it there, or override it with {KEY_ENV.get(key, key)} or the command line"
            )
    return "; ".join(lines)


# environment / env-file variable -> setting (the same names in both places)
FIELD_ENV = {
    "host": "COLONIES_SERVER_HOST",
    "port": "COLONIES_SERVER_PORT",
    "tls": "COLONIES_SERVER_TLS",
    "colony_name": "COLONIES_COLONY_NAME",
    "colony_prvkey": "COLONIES_COLONY_PRVKEY",
    "executor_name": "COLONIES_EXECUTOR_NAME",
    "prvkey": "COLONIES_PRVKEY",
    "default_profile": "HPCQ_PROFILE",
    "results_dir": "HPCQ_RESULTS_DIR",
    "watch_interval_s": "HPCQ_WATCH_INTERVAL_S",
}
KEY_ENV = {**FIELD_ENV, **{f"executor.{k}": f"HPCQ_EXECUTOR_{k.upper()}" for k in ExecutorSettings.model_fields}}
KEY_ENV.update({f"server.{k}": f"HPCQ_SERVER_{k.upper()}" for k in ServerSettings.model_fields})
KEY_ENV["server.reregister"] = "COLONIES_ALLOW_EXECUTOR_REREGISTER"  # the Go server's name for it
ENV_NAMES = {v: k for k, v in KEY_ENV.items()}
# variables hpcq or pycolonies read that are not settings (environment-only or other programs')
OTHER_VARS = ("COLONIES_SERVER_PRVKEY", "HPCQ_EXECUTOR_PRVKEY", "HPCQ_CONFIG_DIR", "HPCQ_ENV_FILE")
