import json

import pytest

from bench.core.atomic import atomic_path, write_json, write_text


def test_failed_write_keeps_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "result.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_temporary_keeps_suffix_for_format_detection(tmp_path):
    with atomic_path(tmp_path / "table.parquet") as tmp:
        assert tmp.suffix == ".parquet" and tmp.parent == tmp_path
        tmp.write_bytes(b"x")
    assert (tmp_path / "table.parquet").read_bytes() == b"x"


def test_json_is_stable(tmp_path):
    write_json(tmp_path / "a.json", {"b": 1, "a": [1, 2]})
    write_json(tmp_path / "b.json", {"a": [1, 2], "b": 1})
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    write_text(tmp_path / "t.txt", "é")
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "é"


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_respect_the_umask(tmp_path, umask):
    """Files get 0o666 less the umask, as any other tool's, not the temporary file's 0o600."""
    import os

    from bench.core.images import write_png

    old = os.umask(umask)
    try:
        write_json(tmp_path / "a.json", {"a": 1})
        write_png(tmp_path / "b.png", __import__("numpy").zeros((2, 2, 3), "uint8"))
        with atomic_path(tmp_path / "c.parquet") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(old)
    for name in ("a.json", "b.png", "c.parquet"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
