"""Every entry of every registry is complete: one test over all of them (metrics, split builders,
baselines, pretrained networks, reference models)."""

from __future__ import annotations

import dataclasses
import inspect
import json

import pytest

import baselines.registry
import bench.metrics.registry
import pairing.registry
from bench.core.registry import REGISTRIES
from bench.core.weights import WEIGHTS


def _all_registries():
    import reference_models.registry  # noqa: F401  (registers the model registry)

    assert {"metric", "split builder", "baseline", "network", "reference model"} <= set(REGISTRIES)
    return sorted(REGISTRIES.items())


@pytest.mark.parametrize("kind", ["metric", "split builder", "baseline", "network", "reference model"])
def test_every_entry_is_complete(kind):
    registry = dict(_all_registries())[kind]
    assert len(registry) > 0
    assert registry.incomplete() == {}


def test_metric_specs_say_what_the_scorer_and_leaderboard_need():
    for name, spec in bench.metrics.registry.METRICS.items():
        assert spec.direction in ("higher", "lower")
        assert (spec.features is not None) == (spec.output == "per_set"), name
        assert all(network in WEIGHTS for network in spec.networks), name
        assert list(inspect.signature(spec.factory).parameters) == ["config", "device"], name


def test_builders_and_baselines_are_callable_with_their_documented_arguments():
    for name, spec in pairing.registry.BUILDERS.items():
        assert spec.level in ("image", "object") and "seed" in pairing.registry.builder_options(name), name
    for name, spec in baselines.registry.BASELINES.items():
        assert list(inspect.signature(spec.fn).parameters)[:2] == ["pair", "rng"], name


def test_networks_name_their_file_and_where_it_comes_from():
    for name, spec in WEIGHTS.items():
        assert spec.url.startswith("https://") and spec.file_name in spec.url or spec.bundled_in, name


def test_the_default_metric_set_leaves_out_variants_that_run_when_named():
    from bench.metrics.registry import get_metric, list_metrics

    everything, default = list_metrics(), list_metrics(default_only=True)
    assert "lpips_vgg" in everything and "lpips_vgg" not in default
    assert set(default) == set(everything) - {"lpips_vgg", "kid", "colorfulness_set_diff"}
    assert not get_metric("lpips_vgg").default and get_metric("lpips").default


def test_every_reference_model_names_importable_parts_that_agree():
    from bench.core.registry import resolve
    from reference_models.registry import MODELS

    for name, spec in MODELS.items():
        model, config, task = resolve(spec.model), resolve(spec.config), resolve(spec.task)
        assert hasattr(model, "from_config") and hasattr(config, "from_dict"), name
        assert task.name == name and task.config_class is config and task.model_class is model, name
        # every model config reads what a checkpoint stores (its own as_dict, through JSON)
        default = config.from_dict({})
        assert config.from_record(json.loads(json.dumps(default.as_dict()))) == default, name
        # the task's settings: a frozen dataclass of its own, defaults valid
        assert dataclasses.is_dataclass(task.task_config_class) and task.task_config_class(), name
        assert task.phases and set(task.phases.values()) <= {"image", "object"}, name
        assert task.phases[1] == "image", name
        for method in ("colorize", "preparer", "colorize_prepared"):
            assert callable(getattr(model, method)), (name, method)
