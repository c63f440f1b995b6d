"""Heavy modules imported on first use; lazy package exports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.core.lazy import lazy_exports, lazy_import


def test_a_lazy_module_is_imported_on_first_attribute_only():
    code = ("import sys\nfrom bench.core.lazy import lazy_import\nm = lazy_import('fractions')\n"
            "print('fractions' in sys.modules)\nm.Fraction\nprint('fractions' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]


def test_it_forwards_to_the_real_module():
    json = lazy_import("json")
    assert json.dumps([1]) == "[1]" and "lazy module 'json' (imported)" in repr(json)


def test_lazy_exports():
    getter = lazy_exports("bench", {"ScoreConfig": ".config"})
    from bench.config import ScoreConfig

    assert getter("ScoreConfig") is ScoreConfig
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        getter("nothing")


def test_importing_the_packages_imports_no_torch():
    code = ("import sys\nimport bench, pairing, baselines, leaderboards, reference_models\n"
            "print(sorted(m for m in ('torch', 'pandas', 'kornia', 'skimage') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"


@pytest.mark.parametrize("package", ["bench", "pairing", "baselines", "leaderboards"])
def test_every_export_is_what_it_names_even_after_its_modules_are_imported(package):
    """A lazily exported function named like its module (``pairing.materialize``) must not turn into the
    module once that module is imported (Python sets the package attribute on import)."""
    import importlib
    import inspect
    import types

    module = importlib.import_module(package)
    for name in module.__all__:
        getattr(module, name)  # imports the defining modules
    for name in module.__all__:
        value = getattr(module, name)
        assert not isinstance(value, types.ModuleType), f"{package}.{name} is a module"
        assert inspect.isclass(value) or callable(value) or name == "__version__", f"{package}.{name}"
