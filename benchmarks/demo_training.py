"""Train the reference models on the bundled demo photographs, on whatever device is here, and put
their colorizations beside the baselines'.

    python benchmarks/demo_training.py [--out demo-training] [--models msa,spcolor] [--steps 40] [--steps2 20]
                                       [--device auto] [--figures docs/figures]

For each model: a training split of the seven photographs (image level: 3 retrieved + 2 synthetic
references per target, the MSA protocol); for MSA also phase 2 on the object split (the demo set
has one object per category, so its object references are the synthetic ones: the object warped
with its mask) from phase 1's last checkpoint. Then the evaluation splits of ``colorbench demo``
(one reference per target) are colorized with the last checkpoint, scored, and shown in a
leaderboard with a qualitative grid beside the baselines. It prints the steps, seconds and first /
last loss of every run, and writes ``<figures>/demo-training-loss.png`` (the loss curves) and
``<figures>/demo-training-grid.png``.

The demo photographs are both the training and the evaluation images: this shows that the loop
learns, not how well a model generalises. Without the pretrained files (phi's VGG19, LPIPS' VGG16)
their random stand-ins are written into ``<out>/stand-in-torch-home`` (used as TORCH_HOME) and said
so. SPColor runs the paper's networks and losses with the k-means prior at batch 2 unless
``--config spcolor=FILE`` says otherwise.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
from pathlib import Path

NETWORKS = ["vgg19", "vgg16", "alexnet", "inception_fid"]


def _splits(out: Path) -> dict[str, Path]:
    from bench.core.weights import is_present
    from bench.demo_data import demo_annotations_path, demo_images_dir
    from pairing import build_folder, build_object_level

    images, annotations = demo_images_dir(), demo_annotations_path()
    features = "vgg19" if is_present("vgg19") else "histogram"
    builds = {
        "train-image": lambda: build_folder(images, annotations=annotations, features=features, top_k=3, synthetic=2,
                                            progress=False),
        "train-object": lambda: build_object_level(images, annotations, refs=0, synthetic=2, progress=False),
        "eval-image": lambda: build_folder(images, annotations=annotations, features=features, top_k=1, synthetic=0,
                                           progress=False),
        "eval-object": lambda: build_object_level(images, annotations, refs=1, synthetic=0, progress=False),
    }
    return {name: build().save(out / "splits" / f"{name}.parquet") for name, build in builds.items()}


#: Settings for a model without a ``--config``: SPColor's k-means prior (the STEGO file is the
#: user's) at batch 2, so that its paper-sized networks train on a CPU in minutes.
DEFAULT_SETTINGS = {"spcolor": {"batch_size": 2, "model": {"prior": "kmeans"}}}


def _log(run: Path) -> list[dict[str, float]]:
    with (run / "log.csv").open() as handle:
        return [{k: float(v) for k, v in row.items() if k not in ("epoch", "seconds")}
                for row in csv.DictReader(handle)]


def _loss_figure(runs: dict[str, Path], path: Path) -> Path:
    """A panel per model: every logged loss term against the step (phases one after the other)."""
    from leaderboards.figures import pyplot, save_figure

    plt = pyplot()
    models = list(dict.fromkeys(label.split(" ")[0] for label in runs))
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 3.6), squeeze=False)
    offset = {}
    for label, run in runs.items():
        model = label.split(" ")[0]
        ax, rows, start = axes[0][models.index(model)], _log(run), offset.get(model, 0)
        for term in [k for k in rows[0] if k != "step"]:
            ax.plot([start + row["step"] for row in rows], [row[term] for row in rows],
                    label=f"{term}" + (f" ({label.split(' ', 1)[1]})" if label.count(" ") else ""))
        offset[model] = start + rows[-1]["step"]
        ax.set_title(f"{model} on the demo photographs (CPU)", fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel("training loss (weighted terms)")
        ax.set_yscale("symlog", linthresh=1e-2)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo-training")
    parser.add_argument("--models", default="msa,spcolor")
    parser.add_argument("--steps", type=int, default=40, help="phase 1 steps (each model)")
    parser.add_argument("--steps2", type=int, default=20, help="MSA phase 2 steps")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--figures", default="docs/figures")
    parser.add_argument("--config", action="append", default=[], metavar="MODEL=FILE",
                        help="a settings file for a model, e.g. spcolor=fast.toml")
    args = parser.parse_args()

    from baselines import run_baseline
    from bench import score
    from bench.core.weights import is_present
    from leaderboards import make_leaderboard
    from reference_models import colorize_split, train

    out = Path(args.out)
    if not all(is_present(name) for name in NETWORKS):
        from bench.testing import write_random_weights

        # Kept with the run (not in a temporary folder that would leak 1.4 GB per run): the
        # checkpoints need these very networks to colorize again, and a rerun reuses them.
        home = out / "stand-in-torch-home"
        os.environ["TORCH_HOME"] = str(home)
        if not all(is_present(name) for name in NETWORKS):
            write_random_weights(home, NETWORKS)
        print(f"(pretrained files absent: random stand-ins in {home}; the figures show the loop learning, "
              "never a model's quality)")
    configs = dict(item.split("=", 1) for item in args.config)
    splits = _splits(out)
    runs, last = {}, {}
    for model in args.models.split(","):
        phases = [(1, splits["train-image"], args.steps)] + ([(2, splits["train-object"], args.steps2)]
                                                              if model == "msa" else [])
        init = None
        for phase, split, steps in phases:
            run_dir = out / "runs" / f"{model}-phase{phase}"
            shutil.rmtree(run_dir, ignore_errors=True)
            defaults = {} if model in configs else DEFAULT_SETTINGS.get(model, {})
            run = train(model, split, run_dir, phase=phase, init=init, config_file=configs.get(model),
                        config={**defaults, "checkpoint_every": 10 ** 6, "log_every": 1}, max_steps=steps,
                        device=args.device)
            print(f"{model} phase {phase}: {run.steps} steps in {run.seconds:.0f} s ({run.seconds / run.steps:.1f} "
                  f"s/step), loss {run.first_loss:.4f} -> {run.last_loss:.4f} (log: {run_dir / 'log.csv'})")
            runs[f"{model} phase {phase}"] = run_dir
            init = last[model] = run.checkpoint
    figures = Path(args.figures)
    print(f"wrote {_loss_figure(runs, figures / 'demo-training-loss.png')}")

    for level in ("image", "object"):
        split = splits[f"eval-{level}"]
        results = []
        for name in ("gray", "reinhard", "welsh"):
            pred = out / "outputs" / level / name
            run_baseline(name, split, pred, overwrite=True, progress=False)
            results.append(score(split, pred, method=name, out_dir=out / "scores" / level / name, overwrite=True,
                                 progress=False).summary)
        for model, checkpoint in last.items():
            pred = out / "outputs" / level / model
            colorize_split(model, checkpoint, split, pred, device=args.device, overwrite=True, progress=False)
            score(split, pred, method=model, out_dir=out / "scores" / level / model, overwrite=True, progress=False)
        summaries = sorted((out / "scores" / level).glob("*/summary.json"))
        from bench.core.splits import load_split

        grid = load_split(split).table["pair_id"].tolist()[:3]
        files = make_leaderboard(summaries, out / f"leaderboard-{level}.md", grid=grid, split=split)
        print(f"\n## {level} level\n\n{files.text}")
        if level == "image":
            shutil.copyfile(files.grid, figures / "demo-training-grid.png")
            print(f"wrote {figures / 'demo-training-grid.png'}")


if __name__ == "__main__":
    main()
