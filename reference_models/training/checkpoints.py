"""Training checkpoints: weights as safetensors, everything else as a ``weights_only`` torch file.

Under ``RUN/checkpoints/``, each checkpoint is two files written atomically, then ``latest.json``
pointing at them (so a reader never sees a half-written checkpoint):

* ``step-00000500.safetensors``: the model's ``state_dict`` (its ``checkpoint_state_dict`` when it
  has one: SPColor leaves out the frozen networks read from their own files; no pickle), with metadata naming the
  model (``colorbench_model``) and its config (``model_config``, JSON), so
  :func:`reference_models.load` rebuilds the right network from the file alone;
* ``step-00000500.state.pt``: what an exact resume needs: the optimisers' and schedulers' state,
  the step, the epoch and the batch within it, the torch random generators' state, and the task's
  own state; only tensors, numbers, strings, lists and dicts, so ``torch.load(weights_only=True)``
  reads it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from bench.core.atomic import atomic_path, write_json
from bench.core.errors import ColorbenchError
from bench.core.weights import load_torch_file

__all__ = ["CHECKPOINTS", "save_checkpoint", "latest_checkpoint", "load_weights", "load_state", "load_model_weights",
           "checkpoint_model", "rng_state", "set_rng_state"]

CHECKPOINTS = "checkpoints"
_LATEST = "latest.json"


def rng_state() -> dict:
    """The torch random generators' state (CPU, and CUDA when used)."""
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(run_dir: str | os.PathLike, step: int, model: torch.nn.Module, model_name: str,
                    model_config: dict, state: dict) -> Path:
    """Write the checkpoint of ``step``; returns the weights file."""
    from safetensors.torch import save_file

    folder = Path(run_dir) / CHECKPOINTS
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / f"step-{step:08d}.safetensors"
    # a model whose frozen parts come from their own files saves the rest (SPColor: not VGG19, not STEGO)
    saved = model.checkpoint_state_dict()
    tensors = {name: value.detach().contiguous().cpu() for name, value in saved.items()}
    metadata = {"colorbench_model": model_name, "model_config": json.dumps(model_config, sort_keys=True),
                "step": str(step)}
    with atomic_path(weights) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    state_file = folder / f"step-{step:08d}.state.pt"
    with atomic_path(state_file) as tmp:
        torch.save({**state, "step": step}, tmp)
    write_json(folder / _LATEST, {"step": step, "weights": weights.name, "state": state_file.name})
    return weights


def latest_checkpoint(run_dir: str | os.PathLike) -> tuple[Path, Path] | None:
    """``(weights, state)`` of the run's last checkpoint, or None when it has none."""
    folder = Path(run_dir) / CHECKPOINTS
    try:
        latest = json.loads((folder / _LATEST).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ColorbenchError(f"{folder / _LATEST} is damaged ({exc}); remove {folder} to start again") from None
    return folder / latest["weights"], folder / latest["state"]


def load_weights(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """``(state_dict, metadata)`` of a weights file: our safetensors (metadata: ``colorbench_model``,
    ``model_config``), or a plain ``torch.save``d state dict (optionally under ``state_dict``, as
    the SA authors' ``checkpoint.pt``), read with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise ColorbenchError(f"checkpoint {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt") as handle:
                metadata = handle.metadata() or {}
                return {name: handle.get_tensor(name) for name in handle.keys()}, metadata
        except (SafetensorError, OSError, ValueError) as exc:
            raise ColorbenchError(f"checkpoint {path} is not a readable safetensors file ({exc})") from None
    try:
        state = load_torch_file(path)
    except Exception as exc:  # an arbitrary pickle (refused by weights_only) or a broken file
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ColorbenchError(f"checkpoint {path} cannot be read safely ({reason[:200]}); colorbench reads "
                              "safetensors files and plain tensor state dicts only") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ColorbenchError(f"checkpoint {path} holds no state dict of tensors")
    return state, {}


def load_state(path: str | os.PathLike) -> dict:
    """The resume state of a checkpoint (:func:`~bench.core.weights.load_torch_file`: ``weights_only``)."""
    try:
        return load_torch_file(path)
    except Exception as exc:
        raise ColorbenchError(f"checkpoint state {path} cannot be read ({str(exc).splitlines()[0][:200]}); remove "
                              "the run's checkpoints folder to start again") from None


def checkpoint_model(path: str | os.PathLike, metadata: dict, model: str | None) -> str:
    """The model a weights file holds: the one its metadata names, checked against ``model`` when
    both are known (one-line error otherwise); ``model`` for a plain state dict that names none."""
    saved = metadata.get("colorbench_model")
    if model and saved and saved != model:
        raise ColorbenchError(f"checkpoint {path} holds a {saved} model, not {model}; pass a {model} checkpoint")
    if not (model or saved):
        raise ColorbenchError(f"checkpoint {path} does not say which model it holds; pass the model's name")
    return model or saved


def load_model_weights(model, path: str | os.PathLike, model_name: str, weights=None) -> dict:
    """Load a weights file into ``model`` (a :class:`~reference_models.base.ColorizationModel`)
    strictly; a file of another model, or of this model with other shapes, is a one-line error
    naming the file. ``weights``: the file's ``(state, metadata)`` when already read. Returns the
    file's metadata."""
    state, metadata = weights if weights is not None else load_weights(path)
    checkpoint_model(path, metadata, model_name)
    try:
        model.load_checkpoint_state_dict(state)
    except RuntimeError as exc:
        first = [line.strip() for line in str(exc).splitlines() if line.strip()][1:2] or [str(exc)[:200]]
        raise ColorbenchError(f"checkpoint {path} does not fit {model_name} with this configuration "
                              f"({first[0][:200]}); pass the matching --config or another checkpoint") from None
    return metadata
