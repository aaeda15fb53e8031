"""TLS terminated by a reverse proxy (Debian's nginx) in front of a ColonyOS server, as production does it.

Why: colonies v1.9.x serves plain HTTP even with ``COLONIES_TLS=true`` (it checks that the certificate
files exist, then calls a plain ``ListenAndServe``; /work/shared/reference/colonies-real.md), so a real
deployment puts TLS in a proxy. This module makes a throw-away certificate authority and a server
certificate for 127.0.0.1/localhost (openssl), writes an nginx configuration that forwards HTTPS and
WebSocket upgrades to the server's plain-HTTP port, and runs nginx in the foreground of its own process
group. Clients trust the CA through ``REQUESTS_CA_BUNDLE`` (pycolonies and hpcq both post with
requests, certificate verification on). docs/server.md shows the same configuration for a site.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

NGINX_CONF = """\
worker_processes 1;
daemon off;
user {user};
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
    server {{
        listen {host}:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        client_max_body_size 64m;
        location / {{
            proxy_pass http://{upstream_host}:{upstream_port};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_read_timeout 600s;   # assign long-polls last up to 300 s
            proxy_send_timeout 600s;
            proxy_buffering off;
        }}
    }}
}}
"""


class TLSProxyError(RuntimeError):
    """openssl or nginx is missing or failed; the message names the log."""


def _run(cmd: list[str]) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise TLSProxyError(f"{cmd[0]} failed: {r.stderr[-1500:]}")


def make_certificates(folder: Path, names: tuple[str, ...] = ("127.0.0.1", "localhost")) -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server.key): a CA and a server certificate signed by it for ``names``."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (folder / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    san = ",".join(f"IP:{n}" if n.replace(".", "").isdigit() else f"DNS:{n}" for n in names)
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=hpcq lab CA",
          "-keyout", str(ca_key), "-out", str(ca)])  # fmt: skip
    _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={names[0]}", "-keyout", str(key),
          "-out", str(csr)])  # fmt: skip
    ext = folder / "san.ext"
    ext.write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n")
    _run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
          "-days", "2", "-extfile", str(ext), "-out", str(cert)])  # fmt: skip
    os.chmod(key, 0o600)
    os.chmod(ca_key, 0o600)
    return ca, cert, key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class TLSProxy:
    """nginx terminating TLS on ``host:port`` for a plain-HTTP server at ``upstream``."""

    upstream_port: int
    upstream_host: str = "127.0.0.1"
    host: str = "127.0.0.1"
    port: int = 0
    root: Path | None = None
    ca: Path | None = None
    proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> TLSProxy:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(nginx).exists():
            raise TLSProxyError("no nginx: install Debian's nginx-light (scripts/setup.sh does, as root)")
        self.root = Path(tempfile.mkdtemp(prefix="hpcq-tls-proxy-"))
        (self.root / "tmp").mkdir()
        self.ca, cert, key = make_certificates(self.root / "certs")
        self.port = self.port or _free_port()
        conf = self.root / "nginx.conf"
        user = "root root" if os.geteuid() == 0 else f"{os.getuid()} {os.getgid()}"
        conf.write_text(
            NGINX_CONF.format(
                root=self.root,
                host=self.host,
                port=self.port,
                cert=cert,
                key=key,
                user=user,
                upstream_host=self.upstream_host,
                upstream_port=self.upstream_port,
            )  # fmt: skip
        )
        log = open(self.root / "nginx.out", "wb")  # noqa: SIM115 - handed to the child process
        self.proc = subprocess.Popen(
            [nginx, "-c", str(conf), "-p", str(self.root)], stdout=log, stderr=log, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TLSProxyError(f"nginx exited: {(self.root / 'error.log').read_text(errors='replace')[-1500:]}")
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), timeout=1):
                return self
            time.sleep(0.1)
        self.stop()
        raise TLSProxyError(f"nginx did not listen on {self.host}:{self.port} in {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
