"""settings_from_dict: one rule for every config class (unknown keys, wrong types, lists as tuples)."""

from dataclasses import dataclass, field

import pytest

from bench.core.errors import ColorbenchError
from bench.core.settings import settings_from_dict


@dataclass(frozen=True)
class Example:
    size: int = 8
    rate: float = 0.5
    name: str = "paper"
    flag: bool = False
    limit: int | None = None
    pair: tuple[float, float] = (0.9, 0.99)
    layers: tuple[str, ...] = ("relu3_2",)
    either: int | tuple[int, ...] | None = None
    table: dict = field(default_factory=dict)


def test_values_of_the_right_types_are_taken_and_lists_become_tuples():
    config = settings_from_dict(Example, {"size": 3, "rate": 2, "limit": None, "pair": [0.5, 1], "layers": ["a", "b"],
                                          "either": [300, 600], "table": {"k": [1]}, "flag": True})
    assert config == Example(3, 2, "paper", True, None, (0.5, 1), ("a", "b"), (300, 600), {"k": [1]})
    assert settings_from_dict(Example, {"size": 4}, base=Example(name="sa-code")) == Example(size=4, name="sa-code")


@pytest.mark.parametrize("values, message", [
    ({"size": "eight"}, "size must be an integer; got 'eight'"),
    ({"size": 8.0}, "size must be an integer"),
    ({"size": True}, "size must be an integer"),  # a bool is not a count
    ({"rate": "fast"}, "rate must be a number"),
    ({"flag": 1}, "flag must be true or false"),
    ({"limit": 1.5}, "limit must be an integer or null"),
    ({"pair": [0.9, "x"]}, r"pair must be a list \[number, number\]"),
    ({"pair": [0.9]}, r"pair must be a list \[number, number\]"),
    ({"layers": ["a", 3]}, "layers must be a list of strings"),
    ({"either": "all"}, "either must be an integer or a list of integers or null"),
    ({"table": 3}, "table must be a table"),
])
def test_a_value_of_the_wrong_type_is_one_line_naming_the_key_and_the_type(values, message):
    with pytest.raises(ColorbenchError, match=message) as error:
        settings_from_dict(Example, values, "example setting")
    assert str(error.value).startswith("example setting ") and "\n" not in str(error.value)


def test_an_unknown_key_names_it_and_the_known_ones():
    with pytest.raises(ColorbenchError, match="unknown example setting.*sise; known: .*size"):
        settings_from_dict(Example, {"sise": 3}, "example setting")


@dataclass(frozen=True)
class Inner:
    levels: int = 4
    compactness: float = 0.1


@dataclass(frozen=True)
class Outer:
    size: int = 224
    inner: Inner = field(default_factory=lambda: Inner(levels=3))


def test_a_nested_settings_dataclass_takes_a_table_checked_the_same_way():
    # keys the table leaves out keep the field's default (levels=3 here, not Inner's 4) or the base's
    assert settings_from_dict(Outer, {"inner": {"compactness": 10}}) == Outer(inner=Inner(levels=3, compactness=10))
    base = Outer(inner=Inner(levels=2, compactness=5.0))
    assert settings_from_dict(Outer, {"inner": {"compactness": 1}}, base=base).inner == Inner(2, 1)
    assert settings_from_dict(Outer, {"inner": Inner(1, 1.0)}).inner == Inner(1, 1.0)  # an instance as given
    with pytest.raises(ColorbenchError, match=r"unknown example setting\(s\) inner\.level; known: inner\.compactness"):
        settings_from_dict(Outer, {"inner": {"level": 3}}, "example setting")
    with pytest.raises(ColorbenchError, match="example setting inner.levels must be an integer; got 'x'"):
        settings_from_dict(Outer, {"inner": {"levels": "x"}}, "example setting")
    with pytest.raises(ColorbenchError, match="example setting inner must be a table; got 3"):
        settings_from_dict(Outer, {"inner": 3}, "example setting")


def test_every_config_class_goes_through_it():
    """The training settings (a TOML file's `batch_size = "eight"`), the model, loss and metric configs."""
    from bench.config import ScoreConfig
    from reference_models.training.config import TrainConfig

    with pytest.raises(ColorbenchError, match="training setting batch_size must be an integer; got 'eight'"):
        TrainConfig.from_dict({"batch_size": "eight"})
    assert TrainConfig.from_dict({"model": {"a": 1}}, TrainConfig(model={"b": 2})).model == {"b": 2, "a": 1}
    assert TrainConfig.from_dict({"task": {"lr": 1}}, TrainConfig(task={"loss": "x"})).task == {"loss": "x", "lr": 1}
    with pytest.raises(ColorbenchError, match="metric setting image_size must be an integer"):
        ScoreConfig.from_dict({"image_size": "256"})
