"""ColonyOS server pytest fixtures (see hpcq.testing): a real server subprocess per test, used through
the unmodified pycolonies client: hpcq's embedded server in tmp_path, or, for tests of a module or
function marked ``both_servers``, also the real colonies server with its own PostgreSQL
(hpcq.testing.colonies_lab): the same test and assertions run once per server (ids ``embedded`` and
``colonies``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from hpcq.server.launch import ServerHandle, init_colony, start_server


def _handle_attr(name: str) -> property:
    return property(lambda self: getattr(self.handle, name), doc=f"The server handle's {name}.")


def _env_var(name: str) -> property:
    return property(lambda self: self.env[name], doc=f"{name} of the colony's env file.")


@dataclass
class ColoniesServer:
    """A running server with one colony and a user registered in it."""

    handle: ServerHandle
    env: dict[str, str]
    env_file: Path

    host = _handle_attr("host")
    port = _handle_attr("port")
    url = _handle_attr("url")
    colony = _env_var("COLONIES_COLONY_NAME")
    colony_prvkey = _env_var("COLONIES_COLONY_PRVKEY")
    user_prvkey = _env_var("COLONIES_PRVKEY")

    @property
    def kind(self) -> str:
        """ "embedded" (hpcq's server) or "colonies" (the real Go server)."""
        return "colonies" if hasattr(self.handle, "pg") else "embedded"

    @property
    def server_prvkey(self) -> str:
        real = getattr(self.handle, "server_prvkey", None)
        return real or (self.handle.data_dir / "server.key").read_text().strip()

    def close(self) -> None:
        """Stop the server (and delete the real server's database)."""
        getattr(self.handle, "close", self.handle.stop)()

    def client(self):
        from pycolonies import Colonies

        return Colonies(self.handle.host, self.handle.port)

    def add_executor(self, name: str, executortype: str = "hpcq-test", approve: bool = True) -> str:
        """Register (and approve) an executor with a fresh key; return its private key."""
        from hpcq.colonyos.signing import id_from_prvkey, new_prvkey

        prv = new_prvkey()
        c = self.client()
        c.add_executor(
            {
                "executorname": name,
                "executorid": id_from_prvkey(prv),
                "colonyname": self.colony,
                "executortype": executortype,
            },
            self.colony_prvkey,
        )
        if approve:
            c.approve_executor(self.colony, name, self.colony_prvkey)
        return prv

    def monkeypatch_env(self, monkeypatch) -> None:
        """Export the COLONIES_* variables (for code that calls colonies_client())."""
        for k, v in self.env.items():
            monkeypatch.setenv(k, v)


def make_server(tmp_path: Path, args: list[str] | None = None, kind: str = "embedded") -> ColoniesServer:
    if kind == "colonies":
        return _make_real(tmp_path)
    data_dir = tmp_path / "colonies-server"
    handle = start_server(
        data_dir, port=0, args=args, env={"COLONIES_SERVER_PRVKEY": ""}
    )  # always the data-dir key in tests
    env_file = tmp_path / "colonies.env"
    env = init_colony(handle, colony="dev", env_file=env_file)
    return ColoniesServer(handle=handle, env=env, env_file=env_file)


def _make_real(tmp_path: Path, env: dict[str, str] | None = None) -> ColoniesServer:
    """The real colonies server (its binary's defaults, e.g. no executor re-registration) with a
    colony "dev" and a user, created over RPC as an operator would."""
    from hpcq.config import write_env_file
    from hpcq.testing.colonies_lab import RealServer

    srv = RealServer(env=dict(env or {}))
    srv.start()
    values = srv.new_colony("dev")
    env_file = tmp_path / "colonies.env"
    env_file.parent.mkdir(parents=True, exist_ok=True)
    write_env_file(env_file, values)
    return ColoniesServer(handle=srv, env=values, env_file=env_file)  # type: ignore[arg-type]


@pytest.fixture
def colonies_server(tmp_path, server_kind):
    """Fresh server + colony "dev" for one test; stopped (SIGTERM) afterwards."""
    srv = make_server(tmp_path, kind=server_kind)
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def colonies_server_factory(tmp_path):
    """Start servers with extra `hpcq server start` args, e.g. ["--stale-executor-s", "2"]."""
    made: list[ColoniesServer] = []

    def make(args: list[str] | None = None, name: str = "s") -> ColoniesServer:
        srv = make_server(tmp_path / f"{name}{len(made)}", args)
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.handle.stop()


@pytest.fixture
def client_stack(colonies_server, slurm_cluster, tmp_path, monkeypatch):
    """The laptop's view of a whole installation: an hpcq Client of colony "dev" on a fresh server,
    served by an hpcq executor (a subprocess on the local Slurm cluster); the client's config dir
    and the COLONIES_* settings point at them for the test (so `hpcq ...` commands do too)."""
    from hpcq.client.api import Client
    from hpcq.config import Settings
    from hpcq.testing.faults import ExecutorProc

    monkeypatch.setenv("HPCQ_CONFIG_DIR", str(tmp_path / "cfg"))
    colonies_server.monkeypatch_env(monkeypatch)
    ex = ExecutorProc(env_file=colonies_server.env_file, state_dir=tmp_path / "executor", name="laptop-e2e")
    with ex.start():
        yield Client(Settings.load(colonies_server.env_file))
