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


def test_every_config_class_goes_through_it():
    """The training settings (a TOML file's `batch_size = "eight"`), the model, loss and metric configs."""
    from bench.config import ScoreConfig
    from reference_models.training.config import TrainConfig

    with pytest.raises(ColorbenchError, match="training setting batch_size must be an integer; got 'eight'"):
        TrainConfig.from_dict({"batch_size": "eight"})
    assert TrainConfig.from_dict({"model": {"a": 1}}, TrainConfig(model={"b": 2})).model == {"b": 2, "a": 1}
    with pytest.raises(ColorbenchError, match="metric setting image_size must be an integer"):
        ScoreConfig.from_dict({"image_size": "256"})
