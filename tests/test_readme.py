"""The README's set-up commands are the ones CI runs, and its API tour runs as written."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _block_after(marker: str, language: str) -> str:
    match = re.search(re.escape(marker) + r".*?```" + language + r"\n(.*?)```", README, re.S)
    assert match, f"no ```{language} block after {marker!r} in README.md"
    return match.group(1).strip()


def test_exactly_two_setup_commands():
    setup = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    assert setup.count("```sh") == 2


def test_demo_command_runs_the_demo_in_a_fresh_venv():
    demo = _block_after("**Run the demo**", "sh")
    assert len(demo.splitlines()) == 1
    assert demo.startswith("python3 -m venv .venv && ") and "colorbench demo" in demo


def test_ci_runs_the_readme_test_command():
    command = _block_after("**Run the tests**", "sh")
    assert len(command.splitlines()) == 1 and "pytest" in command
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert f'TEST_COMMAND="{command}"' in ci
    assert 'bash -c "$TEST_COMMAND"' in ci


def test_api_examples_run_as_written(random_weights, tmp_path, monkeypatch):
    """The README's Python API examples, as a doctest, in a scratch folder."""
    import doctest

    random_weights("inception_fid", "vgg19")
    monkeypatch.chdir(tmp_path)
    failures, tried = doctest.testfile(str(ROOT / "README.md"), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert tried > 15 and failures == 0
    assert (tmp_path / "demo-split.json").is_file() and (tmp_path / "demo-files" / "pairs.csv").is_file()
