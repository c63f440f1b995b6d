import csv
import math
import re
from importlib.resources import files
from pathlib import Path

import pandas as pd
import pytest

from bench.core.errors import ColorbenchError
from bench.metrics.registry import list_metrics
from leaderboards.published_tables import DIRECTIONS, PublishedTable, list_published, load_index, load_published

PAPERS = Path(__file__).resolve().parents[2].parent / "shared" / "papers"
IDS = ["msa-table1", "msa-table2", "msa-table3", "msa-table4", "spcolor-table1", "spcolor-table2", "spcolor-table3"]

# (table, method, metric) -> (value, plus_minus or None, bold), read by hand from the paper text.
EXPECTED = {
    ("msa-table1", "Super-attention [9]", "ssim"): (0.92, None, True),
    ("msa-table1", "Super-attention [9]", "fid"): (11.24, None, False),
    ("msa-table1", "Ours w/o seg", "lpips_r"): (2.01, None, True),
    ("msa-table1", "Ours w/o seg", "delta_his"): (0.18, None, True),
    ("msa-table2", "Ours w/o fine-tune.", "fid_inf_300"): (10.87, 0.29, False),
    ("msa-table2", "Ours w/o fine-tune.", "lpips_r"): (1.92, None, True),
    ("msa-table2", "Ours", "fid_inf_600"): (2.67, 0.32, True),
    ("msa-table2", "Ours", "delta_his"): (0.17, None, True),
    ("msa-table3", "Unicolor [16]", "fid"): (9.70, None, False),
    ("msa-table3", "Gray2ColorNet [5]", "delta_his"): (0.34, None, False),
    ("msa-table3", "Just attention [6]", "lpips_r"): (2.23, None, False),
    ("msa-table3", "Ours w/o seg", "delta_his"): (0.18, None, False),  # best, yet not bold here
    ("msa-table4", "Super-attention [9]", "fid_inf_600"): (4.28, 0.38, False),
    ("msa-table4", "Gray2ColorNet [5]", "fid_inf_300"): (19.04, 0.31, False),
    ("msa-table4", "Unicolor [16]", "lpips_r"): (1.87, None, True),
    ("msa-table4", "Just attention [6]", "fid"): (39.65, None, False),
    ("msa-table4", "Ours", "delta_his"): (0.16, None, True),
    ("spcolor-table1", "Grayscale Image", "top5"): (87.93, None, False),
    ("spcolor-table1", "Ground Truth", "fid"): (0.0, None, False),
    ("spcolor-table1", "Zhao [8]", "fid"): (4.30, None, False),
    ("spcolor-table1", "SPColor(ours)", "top1"): (72.25, None, False),
    ("spcolor-table2", "Non-local + Perc. loss", "fid"): (4.98, None, False),
    ("spcolor-table2", "SPC + Perc. loss", "top5"): (91.13, None, False),
    ("spcolor-table2", "SPC + SMP loss", "top1"): (72.25, None, False),
    ("spcolor-table3", "k=22", "fid"): (3.728, None, False),
    ("spcolor-table3", "k=1", "time_ms"): (4.5, None, False),
    ("spcolor-table3", "k=25", "top5"): (91.26, None, False),
    ("spcolor-table3", "k=9", "time_ms"): (6.0, None, False),
}

# SPColor Table II rows are checkmark combinations: label -> the checked columns of (Non-local, SPC, Perc, SMP).
SPCOLOR_T2_CHECKS = {
    "Non-local + Perc. loss": (True, False, True, False),
    "SPC + Perc. loss": (False, True, True, False),
    "SPC + SMP loss": (False, True, False, True),
}


def _raw_rows(entry: dict) -> list[dict]:
    """The CSV rows as printed strings (no float conversion), straight from the package data."""
    with (files("leaderboards.published") / entry["file"]).open("r", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _number_in(text: str, number: str) -> bool:
    """``number`` occurs in ``text`` as a whole printed number (not inside a longer one)."""
    return re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", text) is not None


@pytest.mark.parametrize(("key", "expected"), list(EXPECTED.items()), ids=["/".join(key) for key in EXPECTED])
def test_cells_match_the_paper(key, expected):
    table_id, method, metric = key
    value, pm, bold = expected
    cells = load_published(table_id).cells
    row = cells[(cells["method"] == method) & (cells["metric"] == metric)]
    assert len(row) == 1
    row = row.iloc[0]
    assert row["value"] == pytest.approx(value)
    assert math.isnan(row["plus_minus"]) if pm is None else row["plus_minus"] == pytest.approx(pm)
    assert bool(row["bold_in_paper"]) is bold


def test_every_table_has_hand_checked_cells():
    per_table = {table_id: sum(key[0] == table_id for key in EXPECTED) for table_id in IDS}
    assert all(n >= 3 for n in per_table.values()), per_table


def test_csv_rows_are_on_their_source_lines():
    if not PAPERS.is_dir():
        pytest.skip(f"paper texts not found at {PAPERS} (only present next to the development checkout)")
    texts: dict[str, list[str]] = {}
    for entry in load_index():
        lines = texts.setdefault(entry["source_file"],
                                 (PAPERS / entry["source_file"]).read_text(encoding="utf-8").split("\n"))
        for row in _raw_rows(entry):
            line = lines[int(row["source_line"]) - 1]
            where = f"{entry['file']} {row['method']!r} {row['metric']} (line {row['source_line']})"
            assert _number_in(line, row["value"]), where
            if row["plus_minus"]:
                assert re.search(rf"{re.escape(row['value'])}\s*(?:\$\\pm\$|<math>\\pm</math>)\s*"
                                 rf"{re.escape(row['plus_minus'])}", line), where
            cells = line.split("\t")
            # ...and in the column of its metric (index metric order = printed column order).
            first = 4 if entry["id"] == "spcolor-table2" else 1  # label columns before the values
            column = cells[first + list(entry["metrics"]).index(row["metric"])]
            assert _number_in(column, row["value"]) and row["plus_minus"] in column, where
            if entry["id"] == "spcolor-table3":  # rows are labelled by the bare k
                assert cells[0] == row["method"].removeprefix("k="), where
            elif entry["id"] == "spcolor-table2":  # rows are checkmark combinations
                checked = tuple(bool(re.sub(r"</?b>", "", c).strip()) for c in cells[:4])
                assert checked == SPCOLOR_T2_CHECKS[row["method"]], where
            else:
                assert row["method"].split()[0] in line, where
            # A value the paper prints bold sits inside <b>...</b> in its column.
            assert ("<b>" in column) == (row["bold_in_paper"] == "1"), where


def test_all_tables_load_with_consistent_metadata():
    assert list_published() == IDS
    registry = set(list_metrics())
    for table_id in IDS:
        table = load_published(table_id)
        assert isinstance(table, PublishedTable) and table.id == table_id
        meta, cells = table.meta, table.cells
        assert meta["level"] in ("image", "object") and meta["paper_short"] in ("MSA", "SPColor")
        assert meta["caption"] and meta["protocol"] and meta["dataset"] and meta["notes"]
        for key, spec in meta["metrics"].items():
            assert spec["direction"] in DIRECTIONS, (table_id, key)
            assert spec["colorbench_metric"] is None or spec["colorbench_metric"] in registry, (table_id, key)
            assert isinstance(spec["setting"], dict)
        assert cells["value"].notna().all() and cells["bold_in_paper"].dtype == bool
        wide = table.wide()
        methods = list(dict.fromkeys(cells["method"]))
        n_pm = sum(cells.loc[cells["metric"] == m, "plus_minus"].notna().any() for m in meta["metrics"])
        assert wide.shape == (len(methods), len(meta["metrics"]) + n_pm)
        assert list(wide.index) == methods and (wide.dtypes == "float64").all()


def test_wide_layout_and_settings():
    wide = load_published("msa-table4").wide()
    assert list(wide.columns) == ["lpips", "fid", "fid_inf_300", "fid_inf_300_pm", "fid_inf_600",
                                  "fid_inf_600_pm", "lpips_r", "delta_his"]
    assert wide.loc["Super-attention [9]", "fid_inf_600"] == pytest.approx(4.28)
    assert wide.loc["Super-attention [9]", "fid_inf_600_pm"] == pytest.approx(0.38)
    meta = load_published("msa-table4").meta
    assert meta["metrics"]["fid_inf_600"]["colorbench_metric"] == "fid_inf"
    assert meta["metrics"]["fid_inf_600"]["setting"]["fid_inf_min_n"] == 600
    assert load_published("spcolor-table3").meta["metrics"]["time_ms"]["colorbench_metric"] is None
    assert list(load_published("spcolor-table3").wide().index[:3]) == ["k=1", "k=2", "k=3"]


def test_msa_ours_disagrees_between_tables_2_and_4_only_on_delta_his():
    t2 = load_published("msa-table2").wide().loc["Ours"]
    t4 = load_published("msa-table4").wide().loc["Ours"]
    differs = [col for col in t2.index if t2[col] != pytest.approx(t4[col])]
    assert differs == ["delta_his"]
    assert any("0.17" in note and "0.16" in note for note in load_published("msa-table4").meta["notes"])


def test_unknown_id_suggests_close_match():
    with pytest.raises(ColorbenchError, match=r"did you mean msa-table4") as info:
        load_published("msa-tabel4")
    assert "spcolor-table3" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ColorbenchError, match="known: msa-table1"):
        load_published("zzz")


def test_validation_names_the_file(monkeypatch):
    import leaderboards.published_tables as pt

    real = pt.load_index()

    def patched(drop_metric=None, extra_metric=None):
        index = [dict(e) for e in real]
        entry = next(e for e in index if e["id"] == "msa-table1")
        metrics = dict(entry["metrics"])
        if drop_metric:
            metrics.pop(drop_metric)
        if extra_metric:
            metrics[extra_metric] = {"label": "", "direction": "lower", "colorbench_metric": None, "setting": {}}
        entry["metrics"] = metrics
        return index

    monkeypatch.setattr(pt, "load_index", lambda: patched(drop_metric="fid"))
    with pytest.raises(ColorbenchError, match=r"msa_table1\.csv.*not declared"):
        pt.load_published("msa-table1")
    monkeypatch.setattr(pt, "load_index", lambda: patched(extra_metric="psnr"))
    with pytest.raises(ColorbenchError, match=r"msa_table1\.csv.*no cell"):
        pt.load_published("msa-table1")
    cells = pt._read_cells("msa_table1.csv")
    doubled = pd.concat([cells, cells.iloc[[0]]], ignore_index=True)
    with pytest.raises(ColorbenchError, match=r"msa_table1\.csv: duplicate cell"):
        pt._validate(real[0], doubled)
