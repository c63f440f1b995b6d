"""``benchmarks/gpu_suite.py --smoke``: every part of the GPU suite runs (on the CPU, at toy sizes) and
writes its report, so the suite is ready the day a GPU is lent. Its figures mean nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SUITE = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_suite.py"


def test_the_smoke_run_measures_every_part(tmp_path, monkeypatch):
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, str(SUITE), "--smoke", "--out", str(tmp_path / "report")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads((tmp_path / "report" / "gpu_suite.json").read_text())
    rows = report["rows"]
    figures = {}
    for row in rows:
        figures.setdefault(row["part"], []).append(row["figure"])
    assert set(figures) == {"scoring", "pairs", "training", "spc", "colorize", "torchrun"}
    assert all(isinstance(row["value"], float) and row["value"] > 0 for row in rows)
    # scoring: the decoding alone, colorbench's first and second method, torchmetrics
    assert len(figures["scoring"]) == 4 and figures["scoring"][-1].startswith("torchmetrics")
    assert len(figures["pairs"]) == 1 and "VGG19" in figures["pairs"][0]
    # training, per model: steps/s, then the loader alone with a cold and a warm view cache (no GPU memory on a CPU)
    assert [figure.split(",")[0] for figure in figures["training"]] == ["msa"] * 3 + ["spcolor"] * 3
    assert len(figures["spc"]) == 2  # k = 1 and 5
    assert {figure.split(",")[0] for figure in figures["colorize"]} == {"msa", "sa", "spcolor"}
    assert len(figures["torchrun"]) == 1 and "torchrun --nproc_per_node 2" in figures["torchrun"][0]
    assert "SMOKE RUN" in report["meta"]["note"] and "figures mean nothing" in result.stdout
    table = (tmp_path / "report" / "gpu_suite.md").read_text()
    assert table.count("\n| ") == len(rows) + 2  # the header, its rule and a row per figure
    assert all(f"| {row['part']} | {row['figure']} |" in table for row in rows)
