"""Device selection shared by every command that runs a network."""

from __future__ import annotations

from .distributed import launched, local_rank
from .errors import ColorbenchError
from .lazy import lazy_import

torch = lazy_import("torch")

#: Accepted by every ``--device`` option: ``auto`` picks CUDA when it is available.
DEVICE_CHOICES_HELP = "auto (cuda when available, else cpu), cpu, cuda or cuda:N"


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Turn ``auto``/``cpu``/``cuda[:N]`` into a :class:`torch.device`, checking it exists.

    Under a launcher (``torchrun``), ``auto`` and a bare ``cuda`` mean this process's own GPU, the
    one of its local rank (modulo the GPUs present, so several processes may share one GPU); an
    explicit ``cuda:N`` is taken as given."""
    if device is None or str(device) in ("auto", "cuda"):
        if not torch.cuda.is_available():
            if str(device) == "cuda":
                raise ColorbenchError(f"device {device!r} requested but no CUDA device is available; use --device cpu")
            return torch.device("cpu")
        return torch.device("cuda", local_rank() % torch.cuda.device_count()) if launched() else torch.device("cuda")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ColorbenchError(f"unknown device {device!r}; use {DEVICE_CHOICES_HELP}") from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ColorbenchError(f"device {device!r} requested but no CUDA device is available; use --device cpu")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ColorbenchError(
                f"device {device!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist"
            )
    elif resolved.type != "cpu":
        raise ColorbenchError(f"unsupported device {device!r}; use {DEVICE_CHOICES_HELP}")
    return resolved


def move_to(batch, device: torch.device | str, non_blocking: bool = False):
    """``batch`` with every tensor on ``device``: a tensor, or dicts, lists, tuples and dataclasses of
    them (any nesting); anything else is returned as is. The one way a batch reaches a device."""
    from dataclasses import fields, is_dataclass, replace

    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, dict):
        return {key: move_to(value, device, non_blocking) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(value, device, non_blocking) for value in batch)
    if is_dataclass(batch) and not isinstance(batch, type):
        return replace(batch, **{f.name: move_to(getattr(batch, f.name), device, non_blocking)
                                 for f in fields(batch) if f.init})
    return batch
