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
