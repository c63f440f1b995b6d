"""Test-wide isolation: a temporary TORCH_HOME, offline mode, and random stand-in weights.

Every test runs with ``TORCH_HOME`` pointing at a session-wide temporary folder and with
downloads forbidden, so no test can touch the user's cache or the network. Tests that need a
network ask for it with the ``random_weights`` fixture, which writes randomly initialised
(BatchNorm-calibrated) weights under the exact file names the libraries expect; the real
loading code then runs unchanged. Numbers from these weights are never results.
"""

from __future__ import annotations

import pytest

from bench.core.weights import OFFLINE_ENV
from bench.testing import write_random_weights
from tests.helpers import run_colorbench


@pytest.fixture(scope="session")
def torch_home(tmp_path_factory):
    """The session's temporary TORCH_HOME folder (weights are added on demand)."""
    return tmp_path_factory.mktemp("torch_home")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, torch_home):
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    monkeypatch.setenv(OFFLINE_ENV, "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.fixture
def random_weights(torch_home):
    """Call with network names (see ``bench.core.weights.WEIGHTS``) to have their random
    stand-ins present in the temporary TORCH_HOME; returns the file paths."""

    def ensure(*names: str):
        return write_random_weights(torch_home, names)

    return ensure



@pytest.fixture
def cli():
    """``cli(*args)`` runs the colorbench command in a subprocess and returns the result."""
    return run_colorbench


@pytest.fixture
def empty_torch_home(monkeypatch, tmp_path):
    """A TORCH_HOME of this test's own, holding no weights at all (the session one may)."""
    home = tmp_path / "empty_torch_home"
    home.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home
