"""Output paths checked before work starts; split paths kept inside their root; one run per folder."""

from __future__ import annotations

import os

import pytest

from bench.core.errors import ColorbenchError
from bench.core.paths import LOCK_FILE, check_output_dir, check_output_file, exclusive_lock, resolve_inside


def test_output_dir(tmp_path):
    assert check_output_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    (tmp_path / "file").write_text("x")
    with pytest.raises(ColorbenchError, match=r"--out .*file is a file; it must be a folder"):
        check_output_dir(tmp_path / "file")
    with pytest.raises(ColorbenchError, match=r"file is a file, not a folder"):
        check_output_dir(tmp_path / "file" / "below")


def test_output_file(tmp_path):
    assert check_output_file(tmp_path / "t.md") == tmp_path / "t.md"
    (tmp_path / "folder").mkdir()
    with pytest.raises(ColorbenchError, match="is a folder; it must be a file path"):
        check_output_file(tmp_path / "folder")
    with pytest.raises(ColorbenchError, match="must end in .parquet"):
        check_output_file(tmp_path / "split.csv", suffixes=(".parquet",))


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(ColorbenchError, match="not writable"):
        check_output_dir(locked / "out")


def test_resolve_inside(tmp_path):
    assert resolve_inside(tmp_path, "a/b.png", "pair x: target_path") == tmp_path / "a" / "b.png"
    for bad in ("../../../etc/passwd", "/etc/passwd", "a/../../b.png"):
        with pytest.raises(ColorbenchError, match="pair x: target_path .* is not inside its root"):
            resolve_inside(tmp_path, bad, "pair x: target_path")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.png"
    outside.write_bytes(b"x")
    (tmp_path / "link.png").symlink_to(outside)
    with pytest.raises(ColorbenchError, match="outside its root"):
        resolve_inside(tmp_path, "link.png", "pair x: target_path")


def test_exclusive_lock(tmp_path):
    with exclusive_lock(tmp_path / "out", "scoring run"):
        assert (tmp_path / "out" / LOCK_FILE).read_text().strip() == str(os.getpid())
        with pytest.raises(ColorbenchError, match=r"in use by another colorbench scoring run \(pid \d+\)"):
            with exclusive_lock(tmp_path / "out", "scoring run"):
                pass
    with exclusive_lock(tmp_path / "out"):  # released on exit
        pass
