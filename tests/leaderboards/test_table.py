"""Leaderboards from result files: bolding by direction, every format, mixed splits flagged."""

import json

import pandas as pd
import pytest

from bench.core.errors import ColorbenchError
from leaderboards.published_tables import load_published
from leaderboards.render import FORMATS, provenance, render, to_frame
from leaderboards.results import load_result
from leaderboards.table import build_leaderboard
from tests.helpers import assert_one_line_error

CONFIG = {"his_bins": 21, "his_width": 0.1, "fid_inf_min_n": None}


def summary(method, ssim, lpips, psnr, split_id="split-a", config=CONFIG, fid_inf=None, level="", scored=10, total=10,
            pairs_sha="all"):
    metrics = {f"ssim{level}": {"value": ssim, "ci95": [ssim - 0.01, ssim + 0.01], "direction": "higher", "n": 10},
               f"lpips{level}": {"value": lpips, "ci95": [lpips - 0.02, lpips + 0.02], "direction": "lower", "n": 10},
               f"psnr{level}": {"value": psnr, "ci95": None, "direction": "higher", "n": 10}}
    if fid_inf is not None:
        metrics[f"fid_inf_300{level}"] = {"value": fid_inf, "std": 0.3, "min_n": 300, "direction": "lower", "n": 900,
                                          "metric": "fid_inf"}
    return {"schema_version": 2, "method": method, "split_id": split_id, "level": "image", "metrics": metrics,
            "pairs": {"scored": scored, "total": total, "sha256": pairs_sha},
            "skipped": {"top1": "the split has no class labels"},
            "meta": {"config": config, "networks": {"alexnet": {"file": "alexnet.pth", "sha256": "abc"}}}}


def write(tmp_path, *summaries):
    paths = []
    for i, entry in enumerate(summaries):
        folder = tmp_path / f"r{i}"
        folder.mkdir()
        (folder / "summary.json").write_text(json.dumps(entry))
        paths.append(folder)
    return paths


@pytest.fixture
def three(tmp_path):
    return write(tmp_path, summary("gray", 0.81, 0.30, 20.0), summary("reinhard", 0.86, 0.21, 24.0),
                 summary("oracle", 1.0, 0.21, "inf"))


def best(board, column):
    return sorted(row.method for row in board.rows if column in row.cells and row.cells[column].bold)


def test_best_per_column_honours_direction_and_ties(three):
    board = build_leaderboard([load_result(p) for p in three])
    assert best(board, "ssim") == ["oracle"]  # higher is better
    assert best(board, "lpips") == ["oracle", "reinhard"]  # lower is better; a tie at 4 decimals bolds both
    assert best(board, "psnr") == ["oracle"]  # inf is the best psnr
    assert not board.mixed and not [f for f in board.flags if "MIXED" in f]
    assert board.notes == ["skipped top1 (all methods): the split has no class labels"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_values_bold_and_notes(three, fmt):
    text = render(build_leaderboard([load_result(p) for p in three]), fmt)
    bold = {"md": "**1.0000**", "latex": r"\textbf{1.0000}", "html": '">1.0000<', "csv": None}[fmt]
    assert "reinhard" in text and ("0.86," if fmt == "csv" else "0.8600") in text
    if fmt == "html":  # bold is a class on the cell: count the best cells by their values
        import re

        best = re.findall(r'<td class="best" data-value="[^"]*">([^<]*)<', text)
        assert sorted(best) == ["0.2100", "0.2100", "1.0000", "inf"]
        assert "0.8100" in text and "0.8100" not in best
    elif bold:
        assert bold in text
        assert text.count(bold.replace("1.0000", "0.2100")) == 2  # the lpips tie
        assert "0.8100" in text and bold.replace("1.0000", "0.8100") not in text  # gray is not bold
    if fmt != "csv":  # the CSV is plain data; its notes are in the provenance sidecar
        assert "skipped top1 (all methods)" in text


def test_csv_is_machine_readable(three, tmp_path):
    board = build_leaderboard([load_result(p) for p in three])
    path = tmp_path / "t.csv"
    path.write_text(render(board, "csv"))
    frame = pd.read_csv(path).set_index("method")  # plain data: no comment lines to skip
    assert frame.loc["oracle", "ssim:best"] and not frame.loc["gray", "ssim:best"]
    assert frame.loc["reinhard", "ssim"] == pytest.approx(0.86)
    assert frame.loc["reinhard", "ssim:ci_low"] == pytest.approx(0.85)
    assert frame.loc["gray", "lpips:direction"] == "lower"
    assert to_frame(board).shape[0] == 3


def test_a_mixed_split_is_flagged_and_never_ranked_across(tmp_path):
    paths = write(tmp_path, summary("gray", 0.81, 0.30, 20.0), summary("reinhard", 0.86, 0.21, 24.0),
                  summary("welsh", 0.95, 0.10, 30.0, split_id="split-b"))
    board = build_leaderboard([load_result(p) for p in paths])
    assert board.mixed
    assert best(board, "ssim") == ["reinhard"]  # welsh is alone in its group: not ranked against A
    for fmt in ("md", "latex", "html"):
        assert "MIXED" in render(board, fmt)
    assert any("MIXED" in flag for flag in provenance(board)["flags"])  # the CSV's sidecar; rows carry the group
    groups = {row.method: row.group for row in board.rows}
    assert groups["gray"] == groups["reinhard"] != groups["welsh"]


def test_other_metric_settings_on_the_same_split_are_flagged(tmp_path):
    paths = write(tmp_path, summary("a", 0.8, 0.3, 20.0),
                  summary("b", 0.9, 0.2, 21.0, config={**CONFIG, "his_bins": 11}))
    board = build_leaderboard([load_result(p) for p in paths])
    assert board.mixed and any("his_bins: 21 vs 11" in flag for flag in board.flags)


def test_published_table_beside_measured_rows(three):
    board = build_leaderboard([load_result(p) for p in three], load_published("msa-table3"))
    quoted = [row for row in board.rows if row.source == "quoted"]
    assert [row.origin for row in quoted][:1] == ["MSA Table III"] and len(quoted) == 5
    assert [c.key for c in board.columns][:5] == ["ssim", "lpips", "fid", "lpips_r", "delta_his"]
    assert best(board, "ssim") == ["Super-attention [9]", "oracle"]  # each group ranked on its own
    assert any("QUOTED" in flag for flag in board.flags)
    md = render(board, "md")
    assert "quoted: MSA Table III" in md and "| oracle | measured |" in md and "**0.92**" in md


def test_object_level_published_table_aligns_fid_inf_by_min_n(tmp_path):
    paths = write(tmp_path, summary("ours", 0.8, 0.16, 20.0, fid_inf=7.5, level="@object"),
                  summary("other", 0.7, 0.2, 19.0, fid_inf=8.5, level="@object"))
    board = build_leaderboard([load_result(p) for p in paths], load_published("msa-table4"))
    keys = [c.key for c in board.columns]
    assert "fid_inf_300@object" in keys and "fid_inf_600@object" in keys and "lpips@object" in keys
    row = next(r for r in board.rows if r.method == "ours")
    assert row.cells["fid_inf_300@object"].value == 7.5 and row.cells["fid_inf_300@object"].pm == 0.3
    assert best(board, "fid_inf_300@object") == ["Ours", "ours"]
    md = render(board, "md")
    assert "**7.5000** ± 0.3000" in md and "**6.80** ± 0.28" in md and "| 8.22 ± 0.28 |" in md, md


@pytest.mark.parametrize("content, message", [(None, "is not a summary.json"), ("{", "is not valid JSON"),
                                              ('{"method": "x"}', "lacks the field split_id"),
                                              ('{"method": "x", "split_id": "s", "metrics": []}', "field metrics ")])
def test_bad_result_files(tmp_path, content, message):
    path = tmp_path / "summary.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ColorbenchError, match=message):
        load_result(path if content is not None else tmp_path / "missing.json")


def test_cli_writes_table_and_chart_and_reports_bad_input(three, tmp_path, cli):
    out = tmp_path / "board.md"
    result = cli("leaderboard", *three, "--out", out, "--published", "msa-table3")
    assert result.returncode == 0, result.stderr
    assert "QUOTED" in result.stdout and out.read_text().startswith("| method |")
    assert (tmp_path / "board-chart.png").stat().st_size > 10_000
    assert_one_line_error(cli("leaderboard", tmp_path / "nothing", "--out", out), "nothing", "summary.json")
    assert_one_line_error(cli("leaderboard", *three, "--out", out, "--published", "msa-tabel3"), "msa-table3")


def test_a_partial_result_is_marked_and_never_ranked_with_full_ones(tmp_path):
    """--allow-missing scores 7 of 10 pairs: a better-looking partial row is not bold among full rows."""
    paths = write(tmp_path, summary("gray", 0.81, 0.30, 20.0), summary("reinhard", 0.86, 0.21, 24.0),
                  summary("cherry-picked", 0.99, 0.01, 40.0, scored=7, pairs_sha="seven"))
    board = build_leaderboard([load_result(p) for p in paths])
    groups = {row.method: row.group for row in board.rows}
    assert groups["gray"] == groups["reinhard"] != groups["cherry-picked"]
    assert best(board, "ssim") == ["reinhard"] and best(board, "lpips") == ["reinhard"]
    partial = next(row for row in board.rows if row.method == "cherry-picked")
    assert partial.partial and not any(cell.bold for cell in partial.cells.values())
    assert any(flag.startswith("PARTIAL") for flag in board.flags)
    for fmt in ("md", "latex", "html"):
        assert "PARTIAL: 7 of 10 pairs" in render(board, fmt), fmt
    frame = to_frame(board).set_index("method")
    assert bool(frame.loc["cherry-picked", "partial"]) and frame.loc["cherry-picked", "pairs_scored"] == 7
    assert not bool(frame.loc["gray", "partial"])


def test_the_same_pair_counts_over_other_pairs_are_other_groups(tmp_path):
    paths = write(tmp_path, summary("a", 0.8, 0.3, 20.0, scored=7, pairs_sha="first7"),
                  summary("b", 0.9, 0.2, 21.0, scored=7, pairs_sha="other7"),
                  summary("c", 0.7, 0.4, 19.0, scored=7, pairs_sha="first7"))
    board = build_leaderboard([load_result(p) for p in paths])
    groups = {row.method: row.group for row in board.rows}
    assert groups["a"] == groups["c"] != groups["b"]
    assert best(board, "ssim") == ["a"]  # ranked only against c, which scored the same pairs
    assert any("other pairs scored (7 of 10)" in flag for flag in board.flags)


def test_csv_has_a_provenance_sidecar(three, tmp_path):
    from leaderboards.make import make_leaderboard

    files = make_leaderboard(three, tmp_path / "board.csv", fmt="csv", chart=False)
    assert files.provenance == tmp_path / "board.json"
    frame = pd.read_csv(tmp_path / "board.csv")
    assert list(frame["method"]) == ["gray", "reinhard", "oracle"]
    sidecar = json.loads(files.provenance.read_text())
    assert sidecar["notes"] == ["skipped top1 (all methods): the split has no class labels"]
    assert [row["origin"] for row in sidecar["rows"]] == [str(p / "summary.json") for p in three]


def test_cli_names_the_bad_field(three, tmp_path, cli):
    bad = json.loads((three[0] / "summary.json").read_text())
    bad["metrics"]["ssim"]["ci95"] = [0.1]
    (three[0] / "summary.json").write_text(json.dumps(bad))
    assert_one_line_error(cli("leaderboard", *three, "--out", tmp_path / "b.md"), "summary.json",
                          "metrics.ssim.ci95")
    (tmp_path / "folder").mkdir()
    assert_one_line_error(cli("leaderboard", *three[1:], "--out", tmp_path / "folder"), "is a folder")


def test_html_is_a_self_contained_page(tmp_path):
    """Doctype and charset, embedded style and sorting script, a captioned table per group (measured first, the
    paper's rows in their own marked table), best bold, intervals muted, values escaped, figures inline, and no
    request to anything outside the file."""
    import re
    from html.parser import HTMLParser

    from leaderboards.make import make_leaderboard

    paths = write(tmp_path, summary("gray", 0.81, 0.30, 20.0), summary("<b>evil</b> & co", 0.86, 0.21, 24.0))
    files = make_leaderboard(paths, tmp_path / "board.html", fmt="html", published="msa-table3")
    page = files.table.read_text()
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert "<style>" in page and "<script>" in page and "aria-sort" in page

    class Tables(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tables, self.captions, self.sources, self.text = [], [], [], []
            self._caption = False

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "table":
                self.tables.append(attrs.get("class", ""))
            self._caption = tag == "caption"
            for name in ("src", "href"):
                if name in attrs:
                    self.sources.append(attrs[name])

        def handle_endtag(self, tag):
            self._caption = False

        def handle_data(self, data):
            if self._caption:
                self.captions.append(data)
            self.text.append(data)

    parsed = Tables()
    parsed.feed(page)
    assert parsed.tables == ["board measured", "board quoted"]
    assert parsed.captions[0].startswith("Group A: split split-a, image level, n = 10 pairs")
    assert "quoted from the paper" in parsed.captions[1] and "MSA Table III" in parsed.captions[1]
    assert all(source.startswith("data:image/png;base64,") for source in parsed.sources) and parsed.sources
    assert "<b>evil</b> & co" in "".join(parsed.text) and "<b>evil</b>" not in page  # escaped, shown as text
    assert re.search(r'<td class="best" data-value="0.86">0.8600<span class="ci">\[0.8500, 0.8700\]</span></td>',
                     page)
    assert "split split-a, image level, n = 10 pairs" in files.board.title


def test_chart_title_names_the_split_level_and_n(three):
    board = build_leaderboard([load_result(p) for p in three])
    assert board.title == "split split-a, image level, n = 10 pairs"


def test_results_on_other_fid_backbones_are_other_groups(tmp_path):
    from leaderboards.results import load_results
    from leaderboards.table import build_leaderboard

    tv = {**CONFIG, "fid_backbone": "torchvision"}
    board = build_leaderboard(load_results(write(tmp_path, summary("a", 0.8, 0.3, 20.0), summary("b", 0.9, 0.2, 21.0,
                                                                                                config=tv))))
    assert len({row.group for row in board.rows}) == 2
    assert any("fid_backbone: None vs torchvision" in flag or "fid_backbone" in flag for flag in board.flags)
    assert best(board, "ssim") == []  # nothing ranked across the two backbones


def test_published_rows_stand_only_beside_results_under_the_same_protocol(tmp_path):
    from bench.core.errors import ColorbenchError
    from leaderboards.published_tables import load_published
    from leaderboards.results import load_results
    from leaderboards.table import build_leaderboard

    table = load_published("msa-table3")
    assert table.meta["colorbench_protocol"] == "msa-image"
    same = summary("ours", 0.9, 0.2, 21.0)  # colorbench's defaults: MSA's rules
    for name in ("same", "other", "ct2"):
        (tmp_path / name).mkdir()
    board = build_leaderboard(load_results(write(tmp_path / "same", same)), table)
    assert {row.source for row in board.rows} == {"measured", "quoted"}
    other = summary("ours", 0.9, 0.2, 21.0, config={**CONFIG, "fid_backbone": "torchvision"})
    with pytest.raises(ColorbenchError, match="other rules than published table msa-table3 .*fid_backbone"):
        build_leaderboard(load_results(write(tmp_path / "other", other)), table)
    ct2 = summary("ours", 0.9, 0.2, 21.0)
    ct2["meta"]["protocol"] = {"name": "ct2-imagenet-val5k"}
    with pytest.raises(ColorbenchError, match="scored under protocol ct2-imagenet-val5k.*--protocol msa-image"):
        build_leaderboard(load_results(write(tmp_path / "ct2", ct2)), table)
