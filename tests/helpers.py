"""Helpers shared by the tests: running the CLI, checking one-line errors, making images."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

WIDTH, HEIGHT = 400, 256  # 102,400 pixels: 29% = 116 x 256 columns, 31% = 124 x 256


def colour_image(seed: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """A colourful, varied photo stand-in: smooth colour fields plus a few discs."""
    rng = np.random.default_rng(seed)
    low = rng.uniform(0, 255, (4, 6, 3))
    image = np.asarray(Image.fromarray(low.astype(np.uint8)).resize((width, height), Image.BICUBIC), dtype=np.float64)
    yy, xx = np.mgrid[0:height, 0:width]
    for _ in range(4):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(20, 80)
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0, 255, 3)
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def degraded_pairs(count: int, height: int, width: int, seed: int = 0, noise: float = 20.0,
                   cast: float = 30.0):
    """``(pred, gt)`` uint8 ``(B, 3, H, W)`` tensors: photo stand-ins and degraded versions of
    them (Gaussian noise of std ``noise``, a per-image colour cast up to ``cast``)."""
    import torch

    rng = np.random.default_rng(seed)
    gt = np.stack([colour_image(seed + i, width, height) for i in range(count)])
    pred = gt + rng.normal(0, noise, gt.shape) + rng.uniform(-cast, cast, (count, 1, 1, 3))
    pred = np.clip(np.rint(pred), 0, 255).astype(np.uint8)
    return torch.from_numpy(pred).movedim(-1, 1).contiguous(), torch.from_numpy(gt).movedim(-1, 1).contiguous()


def columns_mask(first: int, count: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    mask = np.zeros((height, width), bool)
    mask[:, first:first + count] = True
    return mask


def rle(mask: np.ndarray) -> dict:
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in encoded["size"]], "counts": encoded["counts"].decode("ascii")}


def uncompressed_rle(mask: np.ndarray) -> dict:
    flat = mask.astype(np.uint8).flatten(order="F")
    changes = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    counts = np.diff(np.concatenate([[0], changes])).tolist()
    return {"size": list(mask.shape), "counts": counts}


def polygon(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0, x1, y0, x1, (y0 + y1) / 2, x1, y1, x0, y1]]


def run_colorbench(*args: str) -> subprocess.CompletedProcess:
    """The installed ``colorbench`` console script, as a user runs it (environment inherited)."""
    return subprocess.run(colorbench_script() + [str(a) for a in args], capture_output=True, text=True, timeout=600)


def colorbench_script() -> list[str]:
    """The command that starts the installed ``colorbench`` (the module when run from a source tree)."""
    script = Path(sys.executable).with_name("colorbench")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bench.cli"]


@dataclass
class Launch:
    """What ``torchrun`` and each of its processes did: the launcher's own exit code and output, and
    per rank (from torchrun's ``--redirects``) the exit code, stdout and stderr."""

    returncode: int
    output: str
    codes: dict[int, int]
    stdout: dict[int, str]
    stderr: dict[int, str]


def torchrun_command(log_dir: Path, *args, processes: int = 2) -> list[str]:
    """``torchrun --standalone --nproc_per_node N colorbench ARGS``, each process's output kept apart in
    ``log_dir``: a user's multi-process run, on the CPU (gloo)."""
    torchrun = Path(sys.executable).with_name("torchrun")
    launcher = [str(torchrun)] if torchrun.exists() else [sys.executable, "-m", "torch.distributed.run"]
    return [*launcher, "--standalone", f"--nproc_per_node={processes}", "--log-dir", str(log_dir), "--redirects",
            "3", *colorbench_script(), *[str(a) for a in args]]


def launch_result(process_returncode: int, output: str, log_dir: Path, processes: int = 2) -> Launch:
    """Read each rank's output and exit code after a :func:`torchrun_command` run. torchrun names each
    failed process's exit code in its failure report; a process not named there exited with 0."""
    import re

    codes = {rank: 0 for rank in range(processes)}
    for rank, code in re.findall(r"rank\s*:\s*(\d+) \(local_rank.*?\n\s*exitcode\s*:\s*(-?\d+)", output):
        codes[int(rank)] = int(code)
    stdout, stderr = {}, {}
    for rank in range(processes):
        folders = sorted(log_dir.glob(f"**/attempt_*/{rank}"))
        read = (lambda name: (folders[-1] / name).read_text(errors="replace")) if folders else (lambda name: "")
        stdout[rank], stderr[rank] = read("stdout.log"), read("stderr.log")
    return Launch(process_returncode, output, codes, stdout, stderr)


def run_torchrun(log_dir: Path, *args, processes: int = 2, env: dict | None = None) -> Launch:
    """Run colorbench ``args`` under torchrun (see :func:`torchrun_command`) and wait for it."""
    result = subprocess.run(torchrun_command(log_dir, *args, processes=processes), capture_output=True, text=True,
                            timeout=600, env=None if env is None else {**os.environ, **env})
    return launch_result(result.returncode, result.stdout + result.stderr, log_dir, processes)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit code 2, no traceback, and exactly one error line holding every fragment."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])


def png_16bit(rgb16: np.ndarray) -> bytes:
    """A 16-bit RGB PNG of a uint16 ``(H, W, 3)`` array (Pillow cannot write one)."""
    import struct
    import zlib

    height, width, _ = rgb16.shape
    raw = b"".join(b"\x00" + rgb16[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def photo_batch(count: int, height: int, width: int, seed: int = 0):
    """``count`` photo stand-ins (:func:`colour_image`) as a uint8 ``(B, 3, H, W)`` tensor."""
    import torch

    images = np.stack([colour_image(seed + i, width, height) for i in range(count)])
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()


def hwc(image) -> np.ndarray:
    """A ``(3, H, W)`` tensor as the ``(H, W, 3)`` numpy array the anchors (skimage, numpy) take."""
    return image.permute(1, 2, 0).numpy()


def zeros(*shape: int, dtype=None):
    """A zero tensor of ``shape`` (uint8 unless ``dtype``): bad-input cases for the metrics."""
    import torch

    return torch.zeros(shape, dtype=dtype or torch.uint8)
