"""hpcq.atomicfile: the one atomic write every module uses (keys, outcomes, inboxes, HDF5 images)."""

import os
import stat

import pytest

from hpcq.atomicfile import write_atomic


def test_replaces_whole_file_with_mode(tmp_path):
    p = tmp_path / "sub" / "key.env"
    write_atomic(p, "old")
    write_atomic(p, "secret", mode=0o600)
    assert p.read_text() == "secret"
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert [x.name for x in p.parent.iterdir()] == ["key.env"]


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path, monkeypatch):
    p = tmp_path / "a.json"
    write_atomic(p, b"old")

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(p, b"new")
    assert p.read_bytes() == b"old"
    assert [x.name for x in tmp_path.iterdir()] == ["a.json"]


def test_mkdir_false_fails_when_directory_is_gone(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "retired-inbox" / "t.json", "{}", mkdir=False)
    assert not (tmp_path / "retired-inbox").exists()
