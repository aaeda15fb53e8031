"""Inputs from another site (hpcq.executor.staging): parent files not under this executor's own
directories are fetched from ColonyOS file storage, checksum-checked, and the inputs rewritten."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from hpcq.colonyos import file_label
from hpcq.executor.staging import FileTransferError, stage_inputs

COLONY = "dev"


class FakeStore:
    """get_files/download_file as pycolonies has them, over a dict of S3 objects."""

    def __init__(self):
        self.files: dict[str, list[dict]] = {}
        self.objects: dict[str, bytes] = {}
        self.downloads = 0

    def put(self, parent: str, name: str, data: bytes, *, s3: bool = True, path: str = "", checksum: str = ""):
        obj = f"obj-{len(self.objects)}"
        self.objects[obj] = data
        meta = {
            "name": name,
            "checksum": checksum or hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "ref": {
                "protocol": "s3",
                "s3object": {"server": "s3.site-a" if s3 else "", "bucket": "b" if s3 else "", "object": path or obj},
            },
        }
        self.files.setdefault(file_label(COLONY, parent), []).append(meta)

    def get_files(self, label, colony, prvkey):  # names and checksums only, as ColonyOS lists them
        return [{"name": m["name"], "checksum": m["checksum"], "size": m["size"]} for m in self.files.get(label, [])]

    def get_file(self, colony, prvkey, label, filename, latest=True):
        return [m for m in reversed(self.files.get(label, [])) if m["name"] == filename][:1]

    def download_file(self, colony, prvkey, dst, label, filename):
        self.downloads += 1
        meta = next(m for m in self.files[label] if m["name"] == filename)
        Path(dst, filename).write_bytes(self.objects[meta["ref"]["s3object"]["object"]])
        return str(Path(dst, filename))


def _proc(inputs, parents):
    return SimpleNamespace(input=inputs, parents=parents, processid="child")


def _stage(store, proc, tmp_path):
    local = tmp_path / "site-b"
    return stage_inputs(store, COLONY, "key", proc, local / "results" / COLONY / "child" / "inputs", [local])


def test_a_parents_file_at_another_site_is_downloaded_and_the_inputs_rewritten(tmp_path):
    store = FakeStore()
    store.put("p1", "h2o.fcidump", b"integrals")
    foreign = f"/site-a/results/{COLONY}/p1/h2o.fcidump"
    inputs = [foreign, json.dumps({"fcidump": foreign, "energy": -74.9})]
    new, records = _stage(store, _proc(inputs, ["p1"]), tmp_path)
    local = tmp_path / "site-b" / "results" / COLONY / "child" / "inputs" / "p1" / "h2o.fcidump"
    assert local.read_bytes() == b"integrals"
    assert new[0] == str(local) and json.loads(new[1]) == {"fcidump": str(local), "energy": -74.9}
    (r,) = records
    assert (r["process_id"], r["name"], r["bytes"]) == ("p1", "h2o.fcidump", 9)
    assert r["sha256"] == hashlib.sha256(b"integrals").hexdigest() and r["source"] == "s3://b/obj-0"


def test_files_of_this_site_are_left_alone(tmp_path):
    store = FakeStore()
    mine = str(tmp_path / "site-b" / "results" / COLONY / "p1" / "x.h5")
    new, records = _stage(store, _proc([mine, json.dumps({"h5": mine})], ["p1"]), tmp_path)
    assert new == [mine, json.dumps({"h5": mine})] and records == [] and store.downloads == 0


def test_a_parent_work_directory_is_not_a_file_to_move(tmp_path):
    workdir = f"/site-a/results/{COLONY}/p1"
    new, records = _stage(FakeStore(), _proc([workdir, "{}"], ["p1"]), tmp_path)
    assert new == [workdir, "{}"] and records == []


def test_a_copy_with_other_bytes_is_refused_and_deleted(tmp_path):
    store = FakeStore()
    store.put("p1", "v.h5", b"tampered", checksum=hashlib.sha256(b"original").hexdigest())
    with pytest.raises(FileTransferError, match="differs from the .* ColonyOS registered"):
        _stage(store, _proc([f"/site-a/r/{COLONY}/p1/v.h5"], ["p1"]), tmp_path)
    assert not list((tmp_path / "site-b").rglob("v.h5"))


def test_a_file_only_on_the_other_sites_disk_names_the_fix(tmp_path):
    store = FakeStore()
    path = f"/site-a/results/{COLONY}/p1/v.h5"
    store.put("p1", "v.h5", b"x", s3=False, path=path)
    with pytest.raises(FileTransferError, match=r"only on the filesystem of the site that ran it .*AWS_S3_\*"):
        _stage(store, _proc([path], ["p1"]), tmp_path)


def test_a_readable_shared_filesystem_reference_is_checked_in_place(tmp_path):
    shared = tmp_path / "shared" / COLONY / "p1" / "v.h5"
    shared.parent.mkdir(parents=True)
    shared.write_bytes(b"on the shared disk")
    store = FakeStore()
    store.put("p1", "v.h5", b"on the shared disk", s3=False, path=str(shared))
    new, (r,) = _stage(store, _proc([str(shared)], ["p1"]), tmp_path)
    assert new == [str(shared)] and r["source"] == f"file://{shared}" and store.downloads == 0


def test_a_path_no_parent_registered_is_refused_with_the_parents(tmp_path):
    with pytest.raises(FileTransferError, match="names no file a parent registered .*parents: p1"):
        _stage(FakeStore(), _proc([f"/elsewhere/{COLONY}/p9/z.h5"], ["p1"]), tmp_path)


def test_a_file_passed_on_by_the_parent_comes_from_the_step_that_registered_it(tmp_path):
    """The ansatz step passes the Hamiltonian file on: the child sees the ansatz step's staged copy
    (<ansatz id>/inputs/<hamiltonian id>/ham.json), which only the hamiltonian step registered."""
    ham, ansatz = "a" * 64, "b" * 64
    store = FakeStore()
    store.put(ham, "ham.json", b"{}")
    passed_on = f"/site-a/results/{COLONY}/{ansatz}/inputs/{ham}/ham.json"
    new, (r,) = _stage(
        store, _proc([f"/site-a/results/{COLONY}/{ansatz}", json.dumps({"h": passed_on})], [ansatz]), tmp_path
    )
    assert r["process_id"] == ham and new[0] == f"/site-a/results/{COLONY}/{ansatz}"  # its work dir: left as is
    assert json.loads(new[1])["h"].endswith(f"/child/inputs/{ham}/ham.json")
