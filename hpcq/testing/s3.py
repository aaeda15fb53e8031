"""An S3-compatible object store for tests and benches: moto's server, in this process.

Why moto and not a real S3 server: of the real ones this machine's registries offer, SeaweedFS is
served by the Go module proxy only as an untagged pseudo-version, and `go install
github.com/seaweedfs/seaweedfs/weed@v0.0.0-20261109003541-7506e5f91cd6` is refused outright ("the
go.mod file for the module providing named packages contains one or more replace directives",
tried 2026-12-06); building it anyway would mean writing our own go.mod with its replace lines,
i.e. committing another project's build script. MinIO is AGPL, and gofakes3 is a library, not a
server. moto speaks the S3 REST protocol that boto3 (inside pycolonies) uses,
over real HTTP on a real port, which is the part hpcq exercises.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def s3_server(bucket: str = "hpcq-results") -> Iterator[dict[str, str]]:
    """Start moto's S3 server on a free port; yield the AWS_S3_* settings pycolonies reads."""
    from moto.server import ThreadedMotoServer

    srv = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    srv.start()
    try:
        host, port = srv.get_host_and_port()
        yield {
            "AWS_S3_ENDPOINT": f"{host}:{port}",
            "AWS_S3_ACCESSKEY": "test",
            "AWS_S3_SECRETKEY": "test",
            "AWS_S3_REGION": "us-east-1",
            "AWS_S3_TLS": "false",
            "AWS_S3_BUCKET": bucket,
            "AWS_S3_SKIPVERIFY": "false",
        }
    finally:
        srv.stop()
