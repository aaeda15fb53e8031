"""Run the server as a subprocess (own process group) from other code, tests and benchmarks."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from hpcq.server.admin import init_and_write, init_data_dir
from hpcq.server.context import INFO_NAME


class ServerStartError(RuntimeError):
    """The server process exited or did not answer /health in time (see its log)."""


@dataclass
class ServerHandle:
    data_dir: Path
    host: str
    port: int
    args: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    proc: subprocess.Popen | None = None

    @property
    def tls_cert(self) -> str | None:
        return self.args[self.args.index("--tls-cert") + 1] if "--tls-cert" in self.args else None

    @property
    def url(self) -> str:
        return f"{self.base_url}/api"

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls_cert else 'http'}://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _launch(self, port: int, timeout: float) -> None:
        info = self.data_dir / INFO_NAME  # ready once it names our pid
        cmd = [
            sys.executable,
            "-m",
            "hpcq.server",
            "start",
            "--data-dir",
            str(self.data_dir),
            "--host",
            self.host,
            "--port",
            str(port),
            *self.args,
        ]
        env = dict(os.environ, **(self.env or {}))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerStartError(
                    f"server exited with {self.proc.returncode}; log: "
                    f"{self.log_path}\n{self.log_path.read_text()[-2000:]}"
                )
            try:
                data = json.loads(info.read_text())
                if data.get("pid") == self.proc.pid:
                    self.port = int(data["port"])
                    if (
                        requests.get(f"{self.base_url}/health", timeout=2, verify=self.tls_cert or True).status_code
                        == 200
                    ):
                        return
            except (OSError, ValueError, requests.RequestException):
                pass
            time.sleep(0.05)
        self.kill()
        raise ServerStartError(f"server did not answer /health within {timeout}s; log: {self.log_path}")

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM and wait (clean shutdown); SIGKILL if it does not exit in time."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def kill(self) -> int | None:
        """SIGKILL the whole process group (simulates a crash)."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        return proc.returncode if proc else None

    def restart(self, timeout: float = 20.0) -> ServerHandle:
        """Stop (if running) and start again on the same port and data dir."""
        self.stop()
        self._launch(self.port, timeout)
        return self

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_server(
    data_dir: Path | str,
    host: str = "127.0.0.1",
    port: int = 0,
    args: list[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 20.0,
) -> ServerHandle:
    """Launch ``python -m hpcq.server start`` and wait for /health. Port 0 picks a free port
    (the server writes the bound port to <data_dir>/server.json)."""
    handle = ServerHandle(data_dir=Path(data_dir), host=host, port=port, args=list(args or []), env=env)
    handle._launch(port, timeout)
    return handle


def init_colony(
    handle_or_data_dir: ServerHandle | Path | str, colony: str = "dev", env_file: Path | str | None = None, **kw
) -> dict[str, str]:
    """Create a colony + user key; write ``env_file`` (0600) if given; return the COLONIES_* values."""
    if isinstance(handle_or_data_dir, ServerHandle):
        h = handle_or_data_dir
        data_dir, kw = h.data_dir, dict(kw, host=kw.get("host") or h.host, port=kw.get("port") or h.port)
    else:
        data_dir = Path(handle_or_data_dir)
    if env_file is not None:
        return init_and_write(Path(data_dir), Path(env_file), colony=colony, **kw)
    return init_data_dir(Path(data_dir), colony=colony, **kw)
