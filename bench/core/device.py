"""Device selection shared by every command that runs a network."""

from __future__ import annotations

from .errors import ColorbenchError
from .lazy import lazy_import

torch = lazy_import("torch")

#: Accepted by every ``--device`` option: ``auto`` picks CUDA when it is available.
DEVICE_CHOICES_HELP = "auto (cuda when available, else cpu), cpu, cuda or cuda:N"


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Turn ``auto``/``cpu``/``cuda[:N]`` into a :class:`torch.device`, checking it exists."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
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
