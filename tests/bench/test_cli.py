"""The ``colorbench`` command: help for every subcommand, weights listing, one-line errors."""

import json

import pytest

from bench.cli import COMMAND_ORDER, build_parser, main
from bench.testing import write_random_weights
from tests.helpers import run_colorbench as run_cli

SUBCOMMANDS = ("demo", "pairs", "materialize", "baseline", "score", "protocols", "leaderboard", "colorize", "train",
               "weights")


def test_every_subcommand_is_registered_in_loop_order():
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if a.dest == "command"]
    assert tuple(subparsers.choices) == SUBCOMMANDS == COMMAND_ORDER


def test_top_level_help_lists_every_subcommand():
    result = run_cli("--help")
    assert result.returncode == 0
    for name in SUBCOMMANDS:
        assert f"    {name}" in result.stdout


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_subcommand_help_describes_it(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: colorbench {name}")
    assert len(out.splitlines()) > 5


@pytest.mark.parametrize("name, options", [("pairs", ("--device", "--seed")), ("score", ("--device", "--seed")),
                                           ("train", ("--device", "--config")), ("colorize", ("--device",))])
def test_networked_subcommands_take_device_and_their_seed(name, options, capsys):
    with pytest.raises(SystemExit):
        main([name, "--help"])
    out = capsys.readouterr().out
    assert all(option in out for option in options)


def test_weights_list_shows_every_network(empty_torch_home):
    write_random_weights(empty_torch_home, ["alexnet"])
    result = run_cli("weights", "list")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert any("alexnet-owt-7be5be79.pth" in line and "present" in line for line in lines)
    assert any("vgg19-dcbb9e9d.pth" in line and "MISSING" in line for line in lines)
    assert "weights-inception-2015-12-05-6726825d.pth" in result.stdout


def test_weights_list_json_and_check(random_weights):
    random_weights("alexnet")
    rows = json.loads(run_cli("weights", "list", "--json").stdout)
    assert {row["name"] for row in rows} >= {"alexnet", "vgg16", "vgg19", "vgg19_bn", "resnet101", "inception_fid"}
    check = run_cli("weights", "check", "alexnet", "lpips_alex_linear")
    assert check.returncode == 1  # the random stand-in does not match the official checksum
    assert "mismatch" in check.stdout and "ok" in check.stdout


def test_weights_fetch_offline_is_one_line_error(empty_torch_home):
    result = run_cli("weights", "fetch", "vgg19")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "vgg19-dcbb9e9d.pth" in result.stderr and "download.pytorch.org" in result.stderr


def test_unknown_network_is_one_line_error():
    result = run_cli("weights", "check", "vgg99")
    assert result.returncode == 2 and "unknown network 'vgg99'" in result.stderr and "Traceback" not in result.stderr


def test_corrupt_image_is_one_line_error_naming_it(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    annotations = tmp_path / "instances.json"
    annotations.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "broken.jpg", "width": 4, "height": 4}],
        "annotations": [], "categories": [{"id": 1, "name": "person"}]}))
    result = run_cli("demo", "--images", str(images), "--annotations", str(annotations), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(error_lines) == 1 and str(images / "broken.jpg") in error_lines[0]
    assert not (tmp_path / "o" / "demo_set.json").exists()


def test_corrupt_annotation_file_is_one_line_error(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    result = run_cli("demo", "--images", str(tmp_path), "--annotations", str(tmp_path / "bad.json"), "--out",
                     str(tmp_path / "o"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "bad.json" in result.stderr and "not valid JSON" in result.stderr


def test_unknown_option_fails_with_usage():
    result = run_cli("score", "--split", "s", "--pred", "p", "--out", "o", "--no-such-flag")
    assert result.returncode == 2 and "unrecognized arguments" in result.stderr


@pytest.fixture(scope="module")
def saved_split(tiny_coco, tmp_path_factory):
    from pairing import build_image_level

    split = build_image_level(tiny_coco[0], features="histogram", top_k=1, synthetic=0, workers=0, progress=False)
    return split.save(tmp_path_factory.mktemp("split") / "split.parquet")


@pytest.mark.parametrize("command, wants", [
    ("baseline", "folder"), ("materialize", "folder"), ("demo", "folder"), ("pairs", "file"),
    ("leaderboard", "file"),
])
def test_every_command_checks_its_output_path_before_working(command, wants, saved_split, tiny_coco, tmp_path):
    """An --out that is a file where a folder is wanted (or the reverse) fails at once, nothing written."""
    from tests.helpers import assert_one_line_error

    taken = tmp_path / ("taken.parquet" if command == "pairs" else "taken")
    if wants == "folder":
        taken.write_text("a file")
    else:
        taken.mkdir()
    args = {"baseline": ["baseline", "gray", "--split", saved_split],
            "materialize": ["materialize", "--split", saved_split],
            "demo": ["demo"],
            "pairs": ["pairs", "folder", "--images", tiny_coco[0], "--features", "histogram"],
            "leaderboard": ["leaderboard", tmp_path]}[command]
    result = run_cli(*map(str, args), "--out", str(taken))
    message = "is a file; it must be a folder" if wants == "folder" else "is a folder; it must be a file path"
    assert_one_line_error(result, str(taken), message)
    assert [p.name for p in tmp_path.iterdir()] == [taken.name]


HEAVY = ("torch", "kornia", "pandas", "skimage")


@pytest.mark.parametrize("argv", [None, ["--help"], ["weights", "list"]] + [[name, "--help"] for name in SUBCOMMANDS])
def test_the_parser_help_and_weights_list_import_no_heavy_library(argv):
    """``colorbench --help``, ``COMMAND --help`` and ``weights list`` stay fast: no torch, kornia,
    pandas or scikit-image is imported (checked in a fresh interpreter)."""
    import subprocess
    import sys

    run = "build_parser()" if argv is None else f"main({argv!r})"
    code = ("import sys\nfrom bench.cli import build_parser, main\ntry:\n    " + run
            + "\nexcept SystemExit:\n    pass\n" + f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in result.stdout, result.stdout[-500:] + result.stderr[-2000:]
