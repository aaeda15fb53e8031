"""`hpcq server init`: create a colony and a user directly in the data dir's database (no running
server needed; safe while one runs, SQLite serialises the writers) and write the env file."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from hpcq.colonyos.signing import id_from_prvkey, new_prvkey
from hpcq.config import Settings, write_env_file, write_private_file
from hpcq.server.context import DB_NAME, INFO_NAME, server_prvkey
from hpcq.server.store import Store, dumps


class InitError(Exception):
    """init cannot proceed; the message says why and what to do."""


def running_address(data_dir: Path) -> tuple[str, int] | None:
    """(host, port) from <data_dir>/server.json if a server wrote one."""
    try:
        info = json.loads((Path(data_dir) / INFO_NAME).read_text())
        return info["host"], int(info["port"])
    except (OSError, ValueError, KeyError):
        return None


def init_data_dir(
    data_dir: Path,
    colony: str = "dev",
    host: str | None = None,
    port: int | None = None,
    executor_name: str | None = None,
    user_name: str = "hpcq-user",
    tls: bool = False,
    settings: Settings | None = None,
) -> dict[str, str]:
    """Create colony + user; return the COLONIES_* values (server key excluded). The address
    written is ``host``/``port``, else a running server's, else the settings' (loaded if not given)."""
    data_dir = Path(data_dir)
    if not colony or not colony.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise InitError(f"invalid colony name {colony!r}: use letters, digits, '-', '_' or '.'")
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    server_prvkey(data_dir)  # make sure the server key exists (generated once, 0600)
    colony_prv, user_prv = new_prvkey(), new_prvkey()
    _add_colony(data_dir, colony, id_from_prvkey(colony_prv), user_name, id_from_prvkey(user_prv))
    host, port = _address(data_dir, host, port, settings)
    return {
        "COLONIES_SERVER_HOST": host,
        "COLONIES_SERVER_PORT": str(port),
        "COLONIES_SERVER_TLS": "true" if tls else "false",
        "COLONIES_COLONY_NAME": colony,
        "COLONIES_COLONY_PRVKEY": colony_prv,
        "COLONIES_PRVKEY": user_prv,
        "COLONIES_EXECUTOR_NAME": executor_name or f"hpcq-{socket.gethostname()}",
    }


def _add_colony(data_dir: Path, colony: str, colony_id: str, user_name: str, user_id: str) -> None:
    """Insert the colony and its user into the data dir's database (one transaction)."""
    store = Store(data_dir / DB_NAME)
    try:
        with store.lock, store.tx():
            if store.scalar("SELECT 1 FROM colonies WHERE name=?", colony):
                raise InitError(
                    f"colony {colony!r} already exists in {data_dir}; its private key is only in "
                    "the env file written when it was created. Use that file, or pick another "
                    "name with --colony"
                )
            store.db.execute(
                "INSERT INTO colonies (name, colonyid, doc) VALUES (?,?,?)",
                (colony, colony_id, dumps({"colonyid": colony_id, "name": colony})),
            )
            user = {"colonyname": colony, "userid": user_id, "name": user_name, "email": "", "phone": ""}
            store.db.execute(
                "INSERT INTO users (colonyname, name, userid, doc) VALUES (?,?,?,?)",
                (colony, user_name, user_id, dumps(user)),
            )
    finally:
        store.close()


def _address(data_dir: Path, host: str | None, port: int | None, settings: Settings | None) -> tuple[str, int]:
    """``host``/``port`` where given, else a running server's (server.json), else the settings'."""
    if host and port:
        return host, port
    addr = running_address(data_dir)
    if addr is None:
        s = settings or Settings.load()
        addr = (s.host, s.port)
    return host or addr[0], port or addr[1]


def init_and_write(data_dir: Path, env_file: Path, **kw) -> dict[str, str]:
    values = init_data_dir(data_dir, **kw)
    write_env_file(Path(env_file), values)
    return values


def make_self_signed(data_dir: Path, hosts: list[str]) -> tuple[Path, Path]:
    """A self-signed certificate (and 0600 key) for ``hosts`` in the data dir, valid 1 year.
    Clients trust it with REQUESTS_CA_BUNDLE (pycolonies' HTTP) and WEBSOCKET_CLIENT_CA_BUNDLE
    (its websocket) pointing at the certificate."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for h in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_path, key_path = data_dir / "tls.crt", data_dir / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    write_private_file(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    )
    return cert_path, key_path
