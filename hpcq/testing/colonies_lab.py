"""The real ColonyOS server (colonies, Go + PostgreSQL) on one machine: the colonies lab.

Why: hpcq's embedded server imitates colonies' wire protocol; the real server is the oracle. This
module installs it, runs it the way a production deployment does (its own PostgreSQL, the binary's
defaults unless a caller overrides them) and tears it down, for tests, benchmarks and trials
(docs/server.md, "A production-like server on one machine").

- **Install:** the server is built from the Go module proxy at a pinned version (the published module
  ``github.com/colonyos/colonies``, package ``cmd``), in a throw-away module that requires exactly that
  version: the same result as ``go install github.com/colonyos/colonies/cmd@VERSION``, which this
  environment's module proxy refuses at its deprecation check (it serves no version *lists*). No
  colonies source is kept: only the binary, cached under ``$HPCQ_CACHE_DIR`` (default
  ``~/.cache/hpcq``)/colonies/VERSION/colonies, so a second run costs nothing.
- **PostgreSQL:** Debian's postgresql-15 binaries. Each server gets its own fresh cluster (``initdb``
  into a temporary directory, trust authentication on 127.0.0.1, its own port), so every version gets
  the fresh schema colonies needs (it has no migrations) and nothing system-wide is touched.
- **Ports:** HTTP, PostgreSQL and the embedded etcd (client, peer, relay) are all picked free; etcd is
  told to bind ``localhost`` (its default is 0.0.0.0).

``python -m hpcq.testing.colonies_lab up [--version V]`` starts one and prints its COLONIES_* lines.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

# The versions the lab runs. The Go module proxy reachable from the project's machines serves colonies
# v1.9.12 only (every other version answers 403 "This module version is not available"), so v1.9.7,
# the protocol before cancel messages, runs only where its binary is already in the cache; CI tests
# that protocol against the embedded server in its v1.9.7 mode instead (docs/server.md).
VERSIONS = ("v1.9.12", "v1.9.7")
DEFAULT_VERSION = VERSIONS[0]
MODULE = "github.com/colonyos/colonies"
# colonies' public development server key (docker-compose.env); a lab server is never exposed
SERVER_PRVKEY = "fcc79953d8a751bf41db661592dc34d30004b1a651ffa0725b03ac227641499d"
SERVER_ID = "039231c7644e04b6895471dd5335cf332681c54e27f81fac54f9067b3f2c0103"
PG_BIN = Path(os.environ.get("HPCQ_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"  # PostgreSQL refuses to run as root: the cluster belongs to this system user


class ColoniesLabError(RuntimeError):
    """The lab could not install or start something; the message says what and where its log is."""


def cache_dir() -> Path:
    return Path(os.environ.get("HPCQ_CACHE_DIR") or Path.home() / ".cache" / "hpcq")


def _go() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if not go:
        raise ColoniesLabError("no Go toolchain: colonies needs Go >= 1.24 on PATH (the polyglot machines have 1.26)")
    return go


def install(version: str = DEFAULT_VERSION, log=print) -> Path:
    """The colonies binary of ``version``, built from the Go module proxy on first use (about a minute
    on 2 cores with a warm module cache), then taken from the cache."""
    target = cache_dir() / "colonies" / version / "colonies"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, CGO_ENABLED="0", GOTOOLCHAIN="local", GOFLAGS="-buildvcs=false")
    with tempfile.TemporaryDirectory(prefix="colonies-build-") as work:
        steps = [
            [_go(), "mod", "init", "hpcq-colonies-lab"],
            [_go(), "get", f"{MODULE}/cmd@{version}"],
            [_go(), "build", "-trimpath", "-ldflags", "-s -w", "-o", f"{target}.tmp", f"{MODULE}/cmd"],
        ]
        log(f"colonies lab: building colonies {version} from the Go module proxy (cached in {target.parent})")
        for cmd in steps:
            r = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=1800)
            if r.returncode != 0:
                hint = " (the module proxy does not serve this version)" if "not available" in r.stderr else ""
                raise ColoniesLabError(
                    f"`{' '.join(cmd[1:3])}` failed for colonies {version}{hint}:\n{r.stderr[-3000:]}"
                )
    os.replace(f"{target}.tmp", target)
    return target


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1 (bound together, so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _as_pg(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", PG_USER, "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


@dataclass
class Postgres:
    """One private PostgreSQL cluster (trust auth on 127.0.0.1) in ``data_dir``."""

    data_dir: Path
    port: int

    def start(self) -> Postgres:
        if not (PG_BIN / "initdb").exists():
            raise ColoniesLabError(f"no PostgreSQL in {PG_BIN}: install Debian's postgresql-15 (scripts/setup.sh does)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            for d in (self.data_dir.parent, self.data_dir):
                shutil.chown(d, PG_USER, PG_USER)
        if not (self.data_dir / "PG_VERSION").exists():
            r = _as_pg(
                [str(PG_BIN / "initdb"), "-D", str(self.data_dir), "-A", "trust", "-U", "postgres", "-E", "UTF8"]
            )
            if r.returncode != 0:
                raise ColoniesLabError(f"initdb failed: {r.stderr[-2000:]}")
        opts = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = self.data_dir / "postgres.log"
        r = _as_pg([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-l", str(log), "-o", opts, "-w", "start"])
        if r.returncode != 0:
            raise ColoniesLabError(f"PostgreSQL did not start: {r.stderr[-1000:]} (log {log})")
        return self

    def stop(self, mode: str = "fast") -> None:
        _as_pg([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"])


@dataclass
class RealServer:
    """A colonies server process with its own PostgreSQL and etcd; ``env`` overrides the binary's
    defaults (e.g. COLONIES_ALLOW_EXECUTOR_REREGISTER, COLONIES_STALE_EXECUTOR_DURATION)."""

    version: str = DEFAULT_VERSION
    env: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 0
    root: Path | None = None
    proc: subprocess.Popen | None = None
    pg: Postgres | None = None
    _ports: list[int] = field(default_factory=list)

    server_prvkey: str = SERVER_PRVKEY

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/api"

    @property
    def log_path(self) -> Path:
        assert self.root is not None
        return self.root / "colonies.log"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 60.0) -> RealServer:
        binary = install(self.version)
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix=f"colonies-{self.version}-"))
            self.root.chmod(0o711)  # PostgreSQL's own user must reach its data directory below
        if not self._ports:
            self._ports = free_ports(5)
            self.port = self._ports[0]
        if self.pg is None:
            self.pg = Postgres(self.root / "pg" / "data", self._ports[1]).start()
        self._launch(binary, initdb=True, timeout=timeout)
        return self

    def _server_env(self) -> dict[str, str]:
        assert self.pg is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("COLONIES_")}
        env.update(
            TZ="UTC",
            COLONIES_DB_HOST="127.0.0.1",
            COLONIES_DB_PORT=str(self.pg.port),
            COLONIES_DB_USER="postgres",
            COLONIES_DB_PASSWORD="lab",  # trust auth: any password
            COLONIES_SERVER_ID=SERVER_ID,
            COLONIES_SERVER_PORT=str(self.port),
            COLONIES_TLS="false",
        )
        env.update(self.env)
        return env

    def _launch(self, binary: Path, initdb: bool, timeout: float) -> None:
        assert self.root is not None
        etcd_client, etcd_peer, relay = self._ports[2:5]
        etcd_dir = self.root / "etcd"
        shutil.rmtree(etcd_dir, ignore_errors=True)  # a leftover etcd dir can block a start
        cmd = [str(binary), "server", "start", "--port", str(self.port), "--etcdname", "lab", "--etcdhost",
               "localhost", "--etcdclientport", str(etcd_client), "--etcdpeerport", str(etcd_peer),
               "--relayport", str(relay), "--etcddatadir", str(etcd_dir)]  # fmt: skip
        if initdb:
            cmd.append("--initdb")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=self._server_env(), start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ColoniesLabError(
                    f"colonies {self.version} exited with {self.proc.returncode}; log {self.log_path}:\n"
                    f"{self.log_path.read_text(errors='replace')[-2000:]}"
                )
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        self.kill()
        raise ColoniesLabError(
            f"colonies {self.version} did not answer /health in {timeout:.0f} s; log {self.log_path}"
        )

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM the server and wait (SIGKILL if it does not exit); PostgreSQL keeps running."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def kill(self) -> int | None:
        """SIGKILL the server's process group (a crash); PostgreSQL keeps its state."""
        if self.alive():
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        return self.proc.returncode if self.proc else None

    def restart(self, timeout: float = 60.0) -> RealServer:
        """Stop (if running) and start again on the same port and database (no re-initialisation)."""
        self.stop()
        self._launch(install(self.version), initdb=False, timeout=timeout)
        return self

    def close(self) -> None:
        """Stop the server and its PostgreSQL and delete everything they wrote."""
        self.stop()
        if self.pg is not None:
            self.pg.stop("immediate")
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def new_colony(self, name: str | None = None) -> dict[str, str]:
        """A fresh colony and a user in it, created over RPC with the server's key (as an operator
        would); returns the COLONIES_* values a client or executor needs."""
        from pycolonies import Colonies

        from hpcq.colonyos.signing import id_from_prvkey, new_prvkey

        name = name or f"lab-{secrets.token_hex(4)}"
        colony_prv, user_prv = new_prvkey(), new_prvkey()
        c = Colonies(self.host, self.port)
        c.add_colony({"colonyid": id_from_prvkey(colony_prv), "name": name}, SERVER_PRVKEY)
        c.add_user(
            {"colonyname": name, "userid": id_from_prvkey(user_prv), "name": "lab-user", "email": "", "phone": ""},
            colony_prv,
        )
        return {
            "COLONIES_SERVER_HOST": self.host,
            "COLONIES_SERVER_PORT": str(self.port),
            "COLONIES_SERVER_TLS": "false",
            "COLONIES_COLONY_NAME": name,
            "COLONIES_COLONY_PRVKEY": colony_prv,
            "COLONIES_PRVKEY": user_prv,
        }


def lab_available() -> tuple[bool, str]:
    """Whether this machine can run the lab (Go and PostgreSQL present), and if not, why."""
    if not (shutil.which("go") or Path("/usr/local/go/bin/go").exists()) and not any(
        (cache_dir() / "colonies" / v / "colonies").exists() for v in VERSIONS
    ):
        return False, "no Go toolchain to build colonies (Go >= 1.24) and no cached binary"
    if not (PG_BIN / "initdb").exists():
        return False, f"no PostgreSQL binaries in {PG_BIN} (Debian's postgresql-15; scripts/setup.sh installs it)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return False, "runuser missing (PostgreSQL must run as its own user)"
    return True, ""


try:
    import pytest
except ImportError:  # the lab is also used without pytest (benchmarks, `python -m`)
    pytest = None

SERVER_KINDS = ("embedded", "colonies")


if pytest is not None:

    def pytest_configure(config):
        config.addinivalue_line(
            "markers",
            "both_servers: run once against hpcq's embedded server and once against the real colonies server "
            "(the fixture server_kind; docs/server.md)",
        )

    def pytest_generate_tests(metafunc):
        """Tests marked ``both_servers`` that use ``server_kind`` (directly or through a server
        fixture) run once per server; module-scoped fixtures keep one server per module and kind."""
        if "server_kind" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_servers"):
            metafunc.parametrize("server_kind", SERVER_KINDS, indirect=True, scope="module")

    @pytest.fixture(scope="module")
    def server_kind(request):
        """Which ColonyOS server a test runs against: "embedded" unless parametrised (both_servers);
        "colonies" needs the lab (fails under CI=true when it cannot run, else skips)."""
        kind = getattr(request, "param", "embedded")
        if kind == "colonies":
            from hpcq.testing import need

            ok, why = lab_available()
            need(ok, f"the real colonies server cannot run here: {why}")
        return kind

    @pytest.fixture(scope="session")
    def real_colonies_server():
        """One real colonies server (DEFAULT_VERSION, its own PostgreSQL) for the pytest session; tests
        isolate themselves with a fresh colony each (RealServer.new_colony)."""
        from hpcq.testing import need

        ok, why = lab_available()
        need(ok, f"the real colonies server cannot run here: {why}")
        srv = RealServer().start()
        try:
            yield srv
        finally:
            srv.close()

    @pytest.fixture
    def real_colonies_factory():
        """Start extra real servers (own PostgreSQL each) with environment overrides, e.g.
        ``make(COLONIES_STALE_EXECUTOR_DURATION="5")``; all are closed after the test."""
        from hpcq.testing import need

        ok, why = lab_available()
        need(ok, f"the real colonies server cannot run here: {why}")
        made: list[RealServer] = []

        def make(version: str = DEFAULT_VERSION, **env: str) -> RealServer:
            srv = RealServer(version, env=dict(env))
            made.append(srv)
            return srv.start()

        yield make
        for srv in made:
            srv.close()


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m hpcq.testing.colonies_lab", description=__doc__.split("\n")[0])
    p.add_argument("command", choices=["install", "up"])
    p.add_argument("--version", default=DEFAULT_VERSION, choices=VERSIONS)
    a = p.parse_args(argv)
    if a.command == "install":
        for v in VERSIONS if a.version == "all" else [a.version]:
            print(install(v))
        return 0
    srv = RealServer(a.version).start()
    for k, v in srv.new_colony().items():
        print(f"{k}={v}")
    print(f"# colonies {a.version} at {srv.base_url} (log {srv.log_path}); Ctrl-C stops it and deletes its data")
    try:
        while srv.alive():
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        srv.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
