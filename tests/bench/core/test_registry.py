"""The one registry mechanism: lazy registration, lookups with "did you mean", overrides for tests."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

import pytest

from bench.core.errors import ColorbenchError
from bench.core.registry import REGISTRIES, Registry, resolve


@dataclass(frozen=True)
class Thing:
    name: str
    description: str


@pytest.fixture
def registry(monkeypatch):
    """A registry of things whose entries a fake module registers when it is imported."""
    imported = []
    module = types.ModuleType("fake_things")

    def register():
        imported.append(True)
        things.add("apple", Thing("apple", "a fruit"))
        things.add("apricot", Thing("apricot", "another fruit"))

    things = Registry("thing-for-a-test", modules=("fake_things",), required=("name", "description"))
    monkeypatch.setitem(sys.modules, "fake_things", module)
    module.__getattr__ = None  # make the module importable as is; registration happens on first lookup
    monkeypatch.setattr("importlib.import_module", lambda name: register() or module)
    yield things, imported
    del REGISTRIES["thing-for-a-test"]


def test_modules_are_imported_on_first_lookup_only(registry):
    things, imported = registry
    assert not imported
    assert things.names() == ["apple", "apricot"] and len(imported) == 1
    assert things.get("apple").description == "a fruit" and "apricot" in things and len(things) == 2
    assert len(imported) == 1


def test_a_miss_names_the_closest_entries(registry):
    things, _ = registry
    with pytest.raises(ColorbenchError, match=r"unknown thing-for-a-test 'aple'; did you mean apple\?"):
        things.get("aple")


def test_override_swaps_and_restores(registry):
    things, _ = registry
    with things.override("apple", Thing("apple", "a stand-in")):
        assert things.get("apple").description == "a stand-in"
    assert things.get("apple").description == "a fruit"
    with things.override("banana", Thing("banana", "new")):
        assert "banana" in things
    assert "banana" not in things


def test_a_second_entry_of_one_name_is_refused_and_incomplete_specs_are_found(registry):
    things, _ = registry
    things.names()
    with pytest.raises(ValueError, match="registered twice"):
        things.add("apple", Thing("apple", "something else"))
    things.add("blank", Thing("blank", ""))
    things.add("alias", Thing("other", "wrong name"))
    assert things.incomplete() == {"blank": ["description"], "alias": ["name ('other' registered as 'alias')"]}


def test_resolve_dotted_paths():
    assert resolve("os.path:join") is __import__("os").path.join
    with pytest.raises(ColorbenchError, match="cannot load os.path:nothing"):
        resolve("os.path:nothing")
