"""Reference models in a notebook: build one by name, load a trained one, colorize tensors.

>>> import reference_models
>>> reference_models.list_models()
['msa', 'sa', 'spcolor']

``create_model("msa", **config)`` builds the network from its config's fields (unknown ones are an
error), ``load(checkpoint)`` rebuilds the network a checkpoint was trained as (the model and its
config are stored in the file) and loads its weights; every model has
``colorize(gray, reference, masks=None)`` on tensors (uint8 or float in [0, 1], ``(3, H, W)`` or
``(B, 3, H, W)``), which returns sRGB at the target's size.
"""

from __future__ import annotations

import json
import os

from bench.core.registry import resolve

from .registry import get_model

__all__ = ["create_model", "load", "model_config"]


def model_config(name: str, values: dict | None = None):
    """Model ``name``'s config object from ``values`` (its fields; unknown ones are an error)."""
    return resolve(get_model(name).config).from_dict(values)


def create_model(name: str, **config):
    """A new (untrained, or from its pretrained parts) network of model ``name``.

    Args:
        name: a registered model (``reference_models.list_models()``).
        config: fields of the model's config class (e.g. ``MSAConfig``: ``fusion="concat"``).
    """
    return resolve(get_model(name).model).from_config(model_config(name, config))


def load(checkpoint: str | os.PathLike, model: str | None = None, device: str = "cpu"):
    """The trained network in ``checkpoint``, in eval mode on ``device``.

    Args:
        checkpoint: a ``.safetensors`` written by ``colorbench train`` (it names its model and config),
            or a plain state dict (``.pt``/``.pth``, read with ``weights_only=True``; the SA authors'
            ``checkpoint.pt``), which needs ``model``.
        model: the model's name; checked against the file's when both are known.
    """
    from bench.core.device import resolve_device

    from .training.checkpoints import checkpoint_model, load_model_weights, load_weights

    weights = load_weights(checkpoint)
    name = checkpoint_model(checkpoint, weights[1], model)
    config = resolve(get_model(name).config).from_record(json.loads(weights[1].get("model_config", "{}")))
    network = resolve(get_model(name).model).for_checkpoint(config)
    load_model_weights(network, checkpoint, name, weights)
    return network.to(resolve_device(device)).eval()
