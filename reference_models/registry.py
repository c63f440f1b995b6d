"""The registry of reference models: what ``colorbench train MODEL`` and ``colorbench colorize MODEL`` run.

A model is a package under :mod:`reference_models` (its network, preprocessing, losses, config);
its registry entry names them by dotted path, so listing the models imports none of them (the
packages import torch). ``reference_models.create_model(name, **config)`` builds one.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.core.registry import Registry

__all__ = ["MODELS", "ModelSpec", "register_model", "get_model", "list_models"]


@dataclass(frozen=True)
class ModelSpec:
    """A reference model.

    Attributes:
        name: CLI name.
        description: one line for ``--help``.
        paper: the publication it implements.
        model: ``"module:Class"`` of the network (built from its config).
        config: ``"module:Class"`` of its config dataclass (``from_dict`` refuses unknown keys;
            ``from_record`` reads what a checkpoint stored, older forms included).
        task: ``"module:Class"`` of its training task (data, losses, optimisers), or empty when
            the model is inference-only. The split level each training phase takes is the
            task's ``phases``.
    """

    name: str
    description: str
    paper: str
    model: str
    config: str
    task: str = ""


#: Every reference model, by name.
MODELS: Registry[ModelSpec] = Registry("reference model", required=("name", "description", "paper", "model", "config"))


def register_model(spec: ModelSpec) -> ModelSpec:
    return MODELS.add(spec.name, spec)


def get_model(name: str) -> ModelSpec:
    """The spec of model ``name``; an unknown name is a one-line error with the closest names."""
    return MODELS.get(name)


def list_models() -> list[str]:
    return MODELS.names()


register_model(ModelSpec(
    "msa", "masked super-attention: (masked) super-attention inside the encoder at four levels; phase 1 on an "
           "image-level split, phase 2 (object masks) on an object-level split",
    "Carrillo et al., Object-guided attention (masked super-attention), 2023",
    model="reference_models.superattention.msa:MSAGenerator", config="reference_models.superattention.config:MSAConfig",
    task="reference_models.superattention.training:MSATask"))
register_model(ModelSpec(
    "sa", "super-attention as released: attention in the skip connections at three levels; loads the authors' "
          "checkpoint.pt",
    "Carrillo et al., Super-attention for exemplar-based image colorization, ACCV 2022",
    model="reference_models.superattention.sa:SAGenerator", config="reference_models.superattention.config:SAConfig",
    task="reference_models.superattention.training:SATask"))
register_model(ModelSpec(
    "spcolor", "SPColor: semantic-prior guided correspondence (vectorised over classes) and the colorization "
               "network, trained with an adversarial loss",
    "Chen et al., SPColor: Semantic prior guided exemplar-based image colorization, 2023",
    model="reference_models.spcolor.model:SPColor", config="reference_models.spcolor.config:SPColorConfig",
    task="reference_models.spcolor.training:SPColorTask"))
