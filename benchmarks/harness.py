"""What every benchmark here shares: real photographs to time on, fresh processes to time, and figures.

* :func:`photo_crops`: crops of the colour photographs that ship with colorbench's demo set and with
  scikit-image (no download), at several scales and offsets, so N images all differ and decode like
  photographs (smooth synthetic images compress and decode faster than photos do).
* :func:`timed`: one command as a whole fresh process (start-up included, as a user pays it), its
  wall time, CPU time and peak resident memory.
* :func:`stand_in_weights`: the environment a run needs when the real weights are absent: random
  stand-ins under the official file names in a temporary TORCH_HOME (figures are then speeds only).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = ["TORCHMETRICS_SCRIPT", "Run", "colorbench_command", "median_spread", "photo_crops", "photos",
           "stand_in_weights", "timed", "torchrun_command"]

#: scikit-image's colour photographs besides those the demo set copies (file names in skimage/data).
SKIMAGE_EXTRA_PHOTOS = ("retina.jpg", "logo.png", "rocket.jpg", "coffee.png", "chelsea.png", "astronaut.png")


def photos() -> list[Path]:
    """The colour photographs crops come from: the demo set and scikit-image's (those that are present)."""
    import skimage

    from bench.core.images import list_images
    from bench.demo_data import demo_images_dir

    extra = Path(skimage.__file__).parent / "data"
    demo = list_images(demo_images_dir())
    seen = {path.stem for path in demo}
    return demo + [extra / name for name in SKIMAGE_EXTRA_PHOTOS
                   if (extra / name).is_file() and Path(name).stem not in seen]


def photo_crops(folder: Path, n: int, width: int, height: int | None = None, suffix: str = ".png",
                seed: int = 0) -> list[Path]:
    """Write ``n`` different ``width x height`` crops into ``folder``: photograph i mod P, a window of
    that aspect ratio and a random scale (from the target size to the largest that fits) at a random
    offset, resized (Lanczos). ``suffix`` ``.jpg`` writes JPEGs (quality 90), as photo collections are."""
    from PIL import Image

    from bench.core.images import read_rgb

    height = height or width
    sources = [read_rgb(path) for path in photos()]
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(n):
        photo = sources[i % len(sources)]
        rows, cols = photo.shape[:2]
        largest = min(cols / width, rows / height)
        scale = float(rng.uniform(min(1.0, largest), largest))
        w, h = max(1, int(width * scale)), max(1, int(height * scale))
        top, left = int(rng.integers(0, rows - h + 1)), int(rng.integers(0, cols - w + 1))
        crop = Image.fromarray(photo[top:top + h, left:left + w]).resize((width, height), Image.LANCZOS)
        path = folder / f"{i:06d}{suffix}"
        crop.save(path, **({"quality": 90} if suffix == ".jpg" else {}))
        files.append(path)
    return files


#: torchmetrics as its users write it: ``python SCRIPT PAIRS.json [DEVICE] [FID_FEATURES]``, where PAIRS.json
#: lists ``[ground truth, output]`` paths; SSIM, LPIPS (AlexNet) and FID (2048 features unless FID_FEATURES
#: says otherwise: 64 in a smoke run, whose 2048 x 2048 eigenvalue problem alone takes 15-60 s on a 2-core
#: CPU) in batches of 32; prints the values.
TORCHMETRICS_SCRIPT = '''\
import json
import sys

import numpy as np
import torch
from PIL import Image
from torchmetrics.image import (
    FrechetInceptionDistance,
    LearnedPerceptualImagePatchSimilarity,
    StructuralSimilarityIndexMeasure,
)


def read(path):
    return torch.from_numpy(np.asarray(Image.open(path).convert("RGB"))).permute(2, 0, 1)


pairs = json.load(open(sys.argv[1]))
device = torch.device(sys.argv[2] if len(sys.argv) > 2 else "cpu")
ssim = StructuralSimilarityIndexMeasure(data_range=1.0).to(device)
lpips = LearnedPerceptualImagePatchSimilarity(net_type="alex", normalize=True).to(device)
fid = FrechetInceptionDistance(feature=int(sys.argv[3]) if len(sys.argv) > 3 else 2048).to(device)
with torch.no_grad():
    for first in range(0, len(pairs), 32):
        chunk = pairs[first:first + 32]
        gt = torch.stack([read(g) for g, _ in chunk]).to(device)
        pred = torch.stack([read(p) for _, p in chunk]).to(device)
        ssim.update(pred.float() / 255, gt.float() / 255)
        lpips.update(pred.float() / 255, gt.float() / 255)
        fid.update(gt, real=True)
        fid.update(pred, real=False)
    values = {"ssim": float(ssim.compute()), "lpips": float(lpips.compute()), "fid": float(fid.compute())}
print(json.dumps(values))
'''



class Run(NamedTuple):
    seconds: float  # wall time, from the parent
    cpu: float  # user + system CPU seconds of the process and the children it waited for
    rss: float  # peak resident set size in GB of its largest process (itself or a DataLoader worker)
    stdout: str


def timed(command: list[str], env: dict, log: Path) -> Run:
    """Run ``command`` as a fresh process (stdout and stderr to ``log``.out / .err); a failure stops the
    benchmark with the command's error output."""
    with open(log.with_suffix(".out"), "w") as out, open(log.with_suffix(".err"), "w") as err:
        start = time.perf_counter()
        process = subprocess.Popen([str(part) for part in command], env=env, stdout=out, stderr=err)
        # wait4's rusage covers the process and the children it reaped (its DataLoader workers);
        # ru_maxrss (KiB on Linux) is the largest of their peaks, as /usr/bin/time -v reports it
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(map(str, command))} failed ({code}):\n{log.with_suffix('.err').read_text()}")
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024**2, log.with_suffix(".out").read_text())


def colorbench_command() -> list[str]:
    """The ``colorbench`` console script of this environment (the module from a source tree)."""
    script = Path(sys.executable).with_name("colorbench")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "bench.cli"]


def torchrun_command(processes: int, colorbench: bool = False) -> list[str]:
    """``torchrun --standalone --nproc_per_node N`` of this environment (followed by the ``colorbench``
    command it starts, with ``colorbench``)."""
    script = Path(sys.executable).with_name("torchrun")
    launcher = [str(script)] if script.is_file() else [sys.executable, "-m", "torch.distributed.run"]
    launcher += ["--standalone", f"--nproc_per_node={processes}"]
    if colorbench:
        command = colorbench_command()
        launcher += command if len(command) == 1 else ["-m", "bench.cli"]  # the script, or the module
    return launcher


def stand_in_weights(root: Path, names: list[str], processes: int = 1) -> tuple[dict, bool]:
    """The environment the timed commands run in, and whether its weights are random stand-ins (written
    under ``root`` when any of ``names`` is absent from ``$TORCH_HOME``). ``processes`` > 1 writes them
    that many at a time, one network per forked process (each stand-in is seeded by its name: the same
    files); only where nothing has touched CUDA or torch's thread pools yet (a smoke run's start)."""
    from bench.core.weights import is_present

    env = {**os.environ, "COLORBENCH_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    if all(is_present(name) for name in names):
        return env, False
    from bench.testing import write_random_weights

    home = root / "torch_home"
    if processes > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
            list(pool.map(write_random_weights, [home] * len(names), [[name] for name in names]))
    write_random_weights(home, names)  # (with processes > 1: every file is there; it checks and keeps them)
    return {**env, "TORCH_HOME": str(home)}, True


def median_spread(values: list[float], digits: int = 1) -> str:
    """``median (min-max)`` of several runs."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"
