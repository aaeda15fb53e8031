"""Embedded-server pytest fixtures (see hpcq.testing): a real hpcq server subprocess in tmp_path,
used through the unmodified pycolonies client."""

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
    def server_prvkey(self) -> str:
        return (self.handle.data_dir / "server.key").read_text().strip()

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


def _make(tmp_path: Path, args: list[str] | None = None) -> ColoniesServer:
    data_dir = tmp_path / "colonies-server"
    handle = start_server(
        data_dir, port=0, args=args, env={"COLONIES_SERVER_PRVKEY": ""}
    )  # always the data-dir key in tests
    env_file = tmp_path / "colonies.env"
    env = init_colony(handle, colony="dev", env_file=env_file)
    return ColoniesServer(handle=handle, env=env, env_file=env_file)


@pytest.fixture
def colonies_server(tmp_path):
    """Fresh server + colony "dev" for one test; stopped (SIGTERM) afterwards."""
    srv = _make(tmp_path)
    try:
        yield srv
    finally:
        srv.handle.stop()


@pytest.fixture
def colonies_server_factory(tmp_path):
    """Start servers with extra `hpcq server start` args, e.g. ["--stale-executor-s", "2"]."""
    made: list[ColoniesServer] = []

    def make(args: list[str] | None = None, name: str = "s") -> ColoniesServer:
        srv = _make(tmp_path / f"{name}{len(made)}", args)
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
