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
    parts = {row["part"] for row in report["rows"]}
    assert parts == {"scoring", "pairs", "training", "spc", "colorize", "torchrun"}
    assert all(isinstance(row["value"], float) and row["value"] > 0 for row in report["rows"])
    assert {row["figure"].split(",")[0] for row in report["rows"] if row["part"] == "colorize"} == {"msa", "sa",
                                                                                                   "spcolor"}
    assert "SMOKE RUN" in report["meta"]["note"] and "figures mean nothing" in result.stdout
    table = (tmp_path / "report" / "gpu_suite.md").read_text()
    assert table.count("\n| ") == len(report["rows"]) + 2  # the header, its rule and a row per figure
