"""File metadata and snapshots on the server; blobs through a local S3 (moto's
ThreadedMotoServer), uploaded and downloaded by pycolonies itself."""

import pytest
from pycolonies import ColoniesConnectionError


@pytest.fixture
def s3(monkeypatch):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for k, v in {
        "AWS_S3_ENDPOINT": f"{host}:{port}",
        "AWS_S3_ACCESSKEY": "test",
        "AWS_S3_SECRETKEY": "test",
        "AWS_S3_REGION": "us-east-1",
        "AWS_S3_TLS": "false",
        "AWS_S3_BUCKET": "hpcq",
        "AWS_S3_SKIPVERIFY": "false",
    }.items():
        monkeypatch.setenv(k, v)
    yield
    server.stop()


def test_upload_download_files_and_snapshots(colonies_server, s3, tmp_path):
    s, c, up = colonies_server, colonies_server.client(), colonies_server.user_prvkey
    src = tmp_path / "result.h5"
    src.write_bytes(b"\x89HDF\r\n" + bytes(range(256)) * 10)
    f1 = c.upload_file("dev", up, filepath=str(src), label="/results/run1")
    assert f1["label"] == "/results/run1" and f1["size"] == src.stat().st_size
    assert f1["ref"]["protocol"] == "s3" and len(f1["fileid"]) == 64
    assert f1["added"].startswith("20")
    f2 = c.upload_data("dev", up, filename="notes.txt", data=b"v1", label="/results/run1")
    f3 = c.upload_data("dev", up, filename="notes.txt", data=b"v2", label="/results/run1")
    assert f3["sequencenr"] > f2["sequencenr"] > f1["sequencenr"]
    c.upload_data("dev", up, filename="deep.txt", data=b"d", label="/results/run1/sub")
    out = c.download_file("dev", up, dst=str(tmp_path / "dl"), label="/results/run1", filename="result.h5")
    assert (tmp_path / "dl" / "result.h5").read_bytes() == src.read_bytes() and out
    assert c.download_data("dev", up, label="/results/run1", filename="notes.txt") == b"v2"
    # all revisions without latest, newest first
    revs = c.get_file("dev", up, label="/results/run1", filename="notes.txt", latest=False)
    assert [r["fileid"] for r in revs] == [f3["fileid"], f2["fileid"]]
    by_id = c.get_file("dev", up, fileid=f1["fileid"])
    assert by_id[0]["name"] == "result.h5"
    files = c.get_files("/results/run1", "dev", up)
    assert sorted((x["name"], x["size"]) for x in files) == [("notes.txt", 2), ("result.h5", f1["size"])]
    labels = c.get_file_labels("dev", up)
    assert {(x["name"], x["files"]) for x in labels} == {("/results/run1", 2), ("/results/run1/sub", 1)}
    assert [x["name"] for x in c.get_file_labels("dev", up, name="/results/run1", exact=True)] == ["/results/run1"]
    snap = c.create_snapshot("dev", "/results/run1", "snap-a", up)
    assert set(snap["fileids"]) == {f1["fileid"], f3["fileid"]} | {
        c.get_file("dev", up, label="/results/run1/sub", filename="deep.txt")[0]["fileid"]
    }
    with pytest.raises(ColoniesConnectionError, match="already exists"):
        c.create_snapshot("dev", "/results/run1", "snap-a", up)
    assert c.get_snapshot_by_id("dev", snap["snapshotid"], up)["name"] == "snap-a"
    assert [x["name"] for x in c.get_snapshots("dev", up)] == ["snap-a"]
    c.delete_file("dev", up, label="/results/run1", filename="notes.txt")
    with pytest.raises(ColoniesConnectionError, match="not found"):
        c.get_file("dev", up, label="/results/run1", filename="notes.txt")
    with pytest.raises(ColoniesConnectionError, match="Access denied"):
        c.get_files("/results/run1", "dev", s.colony_prvkey)
