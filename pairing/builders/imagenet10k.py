"""ImageNet 10k: the ctest10k targets with references retrieved WITHIN THE SAME CLASS.

The targets are the images of a list in Larsson et al.'s format (``ctest10k.txt``, the
"ImageNet 10k" test set of SPColor and most exemplar-based papers)::

    /n04286575/ILSVRC2012_val_00042961.JPEG 818

one ``/<wnid>/<file> <label 0-999>`` per line (blank lines ignored; anything else is an error
naming the line). Each listed image is looked up as ``<images>/<wnid>/<file>``, then as
``<images>/<file>`` (ImageNet val comes both ways). Target ids are the file stems; the ``label``
column holds the list's label.

References come from ``pool_images`` (default: ``images``), laid out as class folders
``<pool>/<wnid>/*.JPEG`` (ImageNet train). Only pool images of the target's own class are
candidates; the target itself, byte-identical copies and near-duplicates
(:data:`pairing.knn.NEAR_DUPLICATE`) are excluded. Rankings (``ranking``):

* ``vgg19`` (default): the image-level descriptor (:mod:`pairing.describe`, ``relu5_4`` averaged
  over space by default, ``features``/``layer`` as in :func:`build_image_level`), exact L2 kNN
  within the class;
* ``he2018``: He et al. 2018's two-stage retrieval (:mod:`pairing.he2018`): fc6 cosine top 200,
  then pool5 local matching plus luminance histograms; the score is stored as ``distance``.
  Features are computed class by class (a class's pool at a time), so memory stays bounded on
  ImageNet train; the cache holds about 60 KB per image (float16 fc6 and pool5).

A class with fewer than ``top_k`` usable pool images has its targets skipped and counted in the
report (a split is never silently short); so is a target left with fewer than ``top_k`` after
the exclusions. ``synthetic`` TPS references are added as in :func:`build_image_level`.

A listed test set is kept whole: SPColor's filters (grayscale, small, near-monochrome) are
training filters, so by default they apply to the reference pool only, never to the listed
targets: published numbers are over the whole list, and a listed photograph the filters would
drop (small, near-monochrome) still belongs to it. ``filter_targets=True`` (``--filters``)
applies them to the targets too. A listed target that cannot be read stops the build (naming it
and the count); with ``skip_unreadable`` it is left out, with one warning line and the sidecar's
``unread_targets``.
Without a list (the ``imagenet`` training split) the filters apply to every image, as before.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.core import distributed
from bench.core.errors import ColorbenchError, ImageReadError
from bench.core.images import IMAGE_SUFFIXES
from bench.core.splits import sanitize_id
from bench.core.synthetic import DEFAULT_RECIPE, SyntheticRecipe, derive_tps_seed

from ..assemble import finish_split, new_meta, retrieved_row, synthetic_row, target_fields
from ..collection import Collection, Description, FilterSettings, ImageEntry, folder_collection
from ..describe import FeatureSettings, describe
from ..knn import NEAR_DUPLICATE, content_codes, knn
from ..registry import register_builder
from .common import Report, kept_entries, unread_targets

if TYPE_CHECKING:
    from bench.core.splits import Split

__all__ = ["build_imagenet10k", "parse_image_list", "ListEntry", "RANKINGS"]

RANKINGS = ("vgg19", "he2018")
NUM_LABELS = 1000

_NAME = r"[A-Za-z0-9_-][A-Za-z0-9_.-]*"
_LINE = re.compile(rf"^/?({_NAME})/({_NAME})\s+([0-9]+)$")


@dataclass(frozen=True)
class ListEntry:
    """One line of an ImageNet list: ``/<wnid>/<file> <label>``."""

    wnid: str
    file: str
    label: int
    line: int

    @property
    def image_id(self) -> str:
        return sanitize_id(self.file.rsplit(".", 1)[0])


def parse_image_list(path: str | os.PathLike) -> list[ListEntry]:
    """Read a ctest10k-style list strictly.

    Raises:
        ColorbenchError: naming the file and line, for a malformed line, a label outside 0-999, a
            wnid given two labels (or a label given to two wnids), or an image listed twice.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ColorbenchError(f"image list {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ColorbenchError(f"image list {path} cannot be read ({str(exc).splitlines()[0]})") from None
    entries: list[ListEntry] = []
    label_of: dict[str, tuple[int, int]] = {}
    wnid_of: dict[int, tuple[str, int]] = {}
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None or Path(match.group(2)).suffix.lower() not in IMAGE_SUFFIXES:
            raise ColorbenchError(f"{path}, line {number}: expected '/<wnid>/<image file> <label 0-999>'; "
                                  f"got {raw.strip()!r}")
        wnid, file, label = match.group(1), match.group(2), int(match.group(3))
        if label >= NUM_LABELS:
            raise ColorbenchError(f"{path}, line {number}: label {label} is outside 0-{NUM_LABELS - 1}")
        known = label_of.setdefault(wnid, (label, number))
        if known[0] != label:
            raise ColorbenchError(f"{path}, line {number}: class {wnid} has label {label} here but {known[0]} "
                                  f"on line {known[1]}")
        owner = wnid_of.setdefault(label, (wnid, number))
        if owner[0] != wnid:
            raise ColorbenchError(f"{path}, line {number}: label {label} is given to class {wnid} here but to "
                                  f"{owner[0]} on line {owner[1]}")
        entry = ListEntry(wnid, file, label, number)
        if entry.image_id in seen:
            raise ColorbenchError(f"{path}, line {number}: image {file} (id {entry.image_id}) is already listed "
                                  f"on line {seen[entry.image_id]}")
        seen[entry.image_id] = number
        entries.append(entry)
    if not entries:
        raise ColorbenchError(f"image list {path} lists no images")
    return entries


def list_class_folders(images: Path) -> list[ListEntry]:
    """Every image of the class folders ``images/<wnid>/*`` as list entries, labelled by the
    class's index among the sorted folder names (ImageNet's label order)."""
    classes = sorted(p.name for p in Path(images).iterdir() if p.is_dir())
    entries = [ListEntry(wnid, file.name, label, 0) for label, wnid in enumerate(classes)
               for file in sorted((Path(images) / wnid).iterdir()) if file.suffix.lower() in IMAGE_SUFFIXES]
    if not entries:
        raise ColorbenchError(f"image folder {images} holds no class folders of images (<wnid>/<image>); pass --list "
                              "for a flat folder")
    return entries


def _locate(listed: list[ListEntry], images: Path) -> tuple[list[tuple[ListEntry, str]], list[ListEntry]]:
    """(entry, path relative to ``images``) for the listed images found, and the missing entries."""
    found, missing = [], []
    for entry in listed:
        for relative in (f"{entry.wnid}/{entry.file}", entry.file):
            if (images / relative).is_file():
                found.append((entry, relative))
                break
        else:
            missing.append(entry)
    return found, missing


def _missing_error(missing: list[ListEntry], total: int, images: Path, list_file) -> ImageReadError:
    first = missing[0]
    return ImageReadError(
        f"cannot read image {images / first.wnid / first.file}: no such file (nor {images / first.file}; listed on "
        f"line {first.line} of {list_file}); {len(missing)} of {total} listed images are missing; add them, or pass "
        f"--skip-unreadable to leave them out")


def _union(parts: list[tuple[Path, list[str]]]) -> tuple[Collection, list[list[int]]]:
    """One collection over files from several roots (a file named twice appears once), and, per
    part, the union index of each of its files. Entries get ids ``u<index>``."""
    roots = [root.resolve() for root, _ in parts]
    common = Path(os.path.commonpath([str(root) for root in roots]))
    entries: list[ImageEntry] = []
    where: dict[str, int] = {}
    maps: list[list[int]] = []
    for root, (_, paths) in zip(roots, parts):
        indices = []
        for relative in paths:
            name = (root / relative).relative_to(common).as_posix()
            if name not in where:
                where[name] = len(entries)
                entries.append(ImageEntry(f"u{len(entries)}", name))
            indices.append(where[name])
        maps.append(indices)
    return Collection(common, entries), maps


def _subset(description: Description, union: list[int], entries: list[ImageEntry]) -> Description:
    """The rows ``union`` of a union's description, relabelled with ``entries`` (filter statistics
    only: the features stay in the union's description, indexed through ``union``)."""
    rows = np.asarray(union, dtype=np.int64)
    unreadable = {}
    for entry, u in zip(entries, union):
        reason = description.unreadable.get(description.entries[u].image_id)
        if reason is not None:
            unreadable[entry.image_id] = reason
    return Description(entries, [description.sha256[u] for u in union], description.width[rows],
                       description.height[rows], description.colourless[rows], description.dominant[rows], None,
                       unreadable)


@dataclass
class _Plan:
    """Targets and pool, grouped by class."""

    targets: list[ImageEntry]  # list order
    pool: Collection | None
    pool_by_class: dict[str, list[int]]  # wnid -> indices into pool.entries


@register_builder("imagenet", level="image", description=(
    "any ImageNet-style class-folder tree (--images <root>/<wnid>/*; e.g. ImageNet train, 1.28M images) as a "
    "training split: every image a target (or those of --list), references retrieved within its class "
    "(--ranking vgg19 or he2018), SPColor's filters"))
@register_builder("imagenet10k", level="image", description=(
    "SPColor's ImageNet-10k protocol: the ctest10k list (--list, lines '/<wnid>/<file> <label>'), references "
    "retrieved within the same class from --pool-images (class folders), --ranking vgg19 (default) or he2018"))
def build_imagenet10k(images: str | os.PathLike, list_file: str | os.PathLike | None = None,
                      pool_images: str | os.PathLike | None = None, top_k: int = 3, synthetic: int = 0,
                      ranking: str = "vgg19", features: str = "vgg19", layer: str | None = None,
                      filters: FilterSettings = FilterSettings(), near_duplicate: float = NEAR_DUPLICATE,
                      recipe: SyntheticRecipe = DEFAULT_RECIPE, seed: int = 0, device: str = "auto",
                      batch_size: int = 32, workers: int | None = None, skip_unreadable: bool = False,
                      progress: bool = True, filter_targets: bool | None = None) -> Split:
    """Build an ImageNet split; see the module docstring. Returns the :class:`Split`.

    Without ``list_file``, every image of the class folders ``images/<wnid>/*`` is a target, its
    label the class's index among the sorted folder names (ImageNet's own label order), and the
    pool defaults to the same tree (a target is never its own reference).

    ``filter_targets``: apply ``filters`` to the targets too; default False with a list (a test
    set is kept whole), True without one (a training split).
    """
    from bench.core.weights import file_sha256

    if top_k < 0 or synthetic < 0 or top_k + synthetic == 0:
        raise ColorbenchError("--top-k and --synthetic must be >= 0 and not both 0")
    if ranking not in RANKINGS:
        raise ColorbenchError(f"unknown ranking {ranking!r}; choose {' or '.join(RANKINGS)}")
    if ranking == "he2018" and (features != "vgg19" or layer):
        raise ColorbenchError("--ranking he2018 uses VGG19 fc6 and pool5 by definition; drop --features/--layer")
    images = Path(images)
    if not images.is_dir():
        raise ColorbenchError(f"image folder {images} does not exist or is not a folder")
    pool_root = Path(pool_images) if pool_images else images
    if filter_targets is None:
        filter_targets = list_file is None
    target_filters = filters if filter_targets else replace(filters, enabled=False)
    listed = parse_image_list(list_file) if list_file is not None else list_class_folders(images)
    report = Report()

    found, missing = _locate(listed, images)
    if missing and not skip_unreadable:
        raise _missing_error(missing, len(listed), images, list_file)
    for entry in missing:
        report.add("target dropped: missing", entry.image_id)
    if not found:
        raise ColorbenchError(f"none of the {len(listed)} images listed in {list_file} is in {images} "
                              "(as <wnid>/<file> or <file>)")
    targets = [ImageEntry(entry.image_id, relative, label=entry.label, group=entry.wnid) for entry, relative in found]
    plan = _Plan(targets, None, {})
    if top_k:
        plan.pool = folder_collection(pool_root, recursive=True)
        listed_classes = {entry.wnid for entry in listed}
        target_classes = {entry.group for entry in targets}
        for i, entry in enumerate(plan.pool.entries):
            if entry.group in target_classes:
                plan.pool_by_class.setdefault(entry.group, []).append(i)
            elif entry.group in listed_classes:
                report.add("pool images ignored: class has no target left", entry.path)
            else:
                report.add("pool images ignored: not in a folder named after a listed class", entry.path)

    if ranking == "he2018" and top_k:
        from ..he2018 import GLOBAL_TOP, HIST_WEIGHT, HeExtractor

        extractor = HeExtractor(device)
        record = extractor.record()  # fails early, naming the weight file, when VGG19 is missing
        ranked = _rank_he2018(plan, images, extractor, top_k, (target_filters, filters), near_duplicate, report,
                              skip_unreadable, batch_size, workers, progress)
        extra = {"layers": list(record["layers"]), "global_top": GLOBAL_TOP, "hist_weight": HIST_WEIGHT}
    else:
        settings = FeatureSettings(features if top_k else None, **({"layer": layer} if layer else {}))
        record = settings.record()
        ranked = _rank_global(plan, images, settings, top_k, (target_filters, filters), near_duplicate, report,
                              skip_unreadable, device, batch_size, workers, progress)
        extra = {"layers": [settings.layer] if settings.name == "vgg19" else None}
    if ranked is None:
        return None  # under torchrun: this process's share of the decoding is cached; rank 0 assembles
    results, sizes = ranked

    rows = []
    for t, entry in enumerate(targets):
        if t not in sizes:
            continue  # dropped by the filters (counted)
        result = results.get(t)
        if isinstance(result, str):
            report.add(result, entry.image_id)
            continue
        width, height, sha256 = sizes[t]
        target = target_fields("image", entry.image_id, entry.path, width, height, sha256, label=entry.label)
        rows += [retrieved_row(target, rank, ref.image_id, ref.path, ref_sha256, distance)
                 for rank, (ref, distance, ref_sha256) in enumerate(result or [], start=1)]
        rows += [synthetic_row(target, n, derive_tps_seed(seed, entry.image_id, n)) for n in range(1, synthetic + 1)]
    if not rows:
        hint = ""
        if top_k and not plan.pool_by_class:
            hint = f"; no pool image is in a class folder <pool>/<wnid>/ of a listed class under {pool_root}"
        raise ColorbenchError(f"the split would be empty ({report.summary()}){hint}")
    report.add("targets", n=len({row["target_id"] for row in rows}))
    weights = (record or {}).get("weights") or {}
    list_sha256 = file_sha256(list_file) if list_file is not None else None
    params = {"list_sha256": list_sha256, "listed": len(listed), "top_k": top_k, "synthetic": synthetic,
              "ranking": ranking if top_k else None, **extra, "weights_sha256": weights.get("sha256"),
              "filters": asdict(filters), "filter_targets": filter_targets, "near_duplicate": near_duplicate,
              "recipe": recipe.record(), "seed": seed, "same_pool": images.resolve() == pool_root.resolve()}
    meta = new_meta("imagenet10k" if list_file is not None else "imagenet", "image", params,
                    {"images": images, "pool": pool_root}, report.as_dict(), features=record)
    if list_file is not None:
        meta["unread_targets"] = unread_targets(report, len(listed), "listed targets")
    return finish_split(rows, meta)


_TOO_SMALL = "targets skipped: class has fewer than top_k usable pool images"
_SHORT = "targets skipped: fewer references than top_k after excluding the target, copies and near-duplicates"


def _excluded_mask(q_union, q_sha, p_union, p_sha, relative, near_duplicate) -> np.ndarray:
    same = (np.asarray(q_union)[:, None] == np.asarray(p_union)[None, :])
    same |= np.asarray(q_sha, dtype=object)[:, None] == np.asarray(p_sha, dtype=object)[None, :]
    return same | (relative < near_duplicate)


def _rank_global(plan: _Plan, images: Path, settings: FeatureSettings, top_k: int,
                 filters: tuple[FilterSettings, FilterSettings],
                 near_duplicate: float, report: Report, skip_unreadable: bool, device, batch_size, workers,
                 progress):
    """The ``vgg19`` ranking (or none, for ``top_k`` 0): one description of every target and every
    pool image of the targets' classes, then exact kNN class by class."""
    pool_indices = [i for wnid in sorted(plan.pool_by_class) for i in plan.pool_by_class[wnid]]
    parts = [(images, [entry.path for entry in plan.targets])]
    if plan.pool is not None:
        parts.insert(0, (plan.pool.root, [plan.pool.entries[i].path for i in pool_indices]))
    union, maps = _union(parts)
    p_union, t_union = (maps[0], maps[1]) if plan.pool is not None else ([], maps[0])
    description = describe(union, settings, device, batch_size, workers, progress)
    if description is None:
        return None

    target_desc = _subset(description, t_union, plan.targets)
    target_filters, pool_filters = filters
    kept_targets = kept_entries(Collection(images, plan.targets), target_desc, target_filters, report, "target",
                                skip_unreadable)
    sizes = {t: (int(target_desc.width[t]), int(target_desc.height[t]), target_desc.sha256[t]) for t in kept_targets}
    results: dict[int, object] = {}
    if not top_k:
        return results, sizes
    pool_entries = [plan.pool.entries[i] for i in pool_indices]
    pool_desc = _subset(description, p_union, pool_entries)
    kept_pool = kept_entries(Collection(plan.pool.root, pool_entries), pool_desc, pool_filters, report, "pool",
                             skip_unreadable)
    pool_by_class: dict[str, list[int]] = defaultdict(list)
    for p in kept_pool:
        pool_by_class[pool_entries[p].group].append(p)
    targets_by_class: dict[str, list[int]] = defaultdict(list)
    for t in kept_targets:
        targets_by_class[plan.targets[t].group].append(t)

    for wnid in sorted(targets_by_class):
        chosen, candidates = targets_by_class[wnid], pool_by_class.get(wnid, [])
        if len(candidates) < top_k:
            results.update({t: _TOO_SMALL for t in chosen})
            continue
        queries = description.features[[t_union[t] for t in chosen]]
        pool_features = description.features[[p_union[p] for p in candidates]]
        # the same file (or a byte-identical copy) has the same content hash, hence the same code
        query_codes, pool_codes = content_codes([description.sha256[t_union[t]] for t in chosen],
                                                [description.sha256[p_union[p]] for p in candidates])
        neighbours, distances = knn(queries, pool_features, top_k, query_codes, pool_codes, near_duplicate)
        for q, t in enumerate(chosen):
            if (neighbours[q] < 0).any():
                results[t] = _SHORT
            else:
                results[t] = [(pool_entries[candidates[c]], d, description.sha256[p_union[candidates[c]]])
                              for c, d in zip(neighbours[q], distances[q])]
    return results, sizes


def _rank_he2018(plan: _Plan, images: Path, extractor, top_k: int, filters: tuple[FilterSettings, FilterSettings],
                 near_duplicate: float,
                 report: Report, skip_unreadable: bool, batch_size, workers, progress):
    """The ``he2018`` ranking, class by class: describe the class's pool and targets together
    (each image decoded once, cached), then the two-stage retrieval."""
    from tqdm.auto import tqdm

    from ..he2018 import describe_he2018, fc6_distances, retrieve

    targets_by_class: dict[str, list[int]] = defaultdict(list)
    for t, entry in enumerate(plan.targets):
        targets_by_class[entry.group].append(t)
    classes = []  # per class: its targets, pool entries and the union of both that one pass describes
    for wnid in sorted(targets_by_class):
        pool_entries = [plan.pool.entries[i] for i in plan.pool_by_class.get(wnid, [])]
        target_entries = [plan.targets[t] for t in targets_by_class[wnid]]
        union, maps = _union([(plan.pool.root, [e.path for e in pool_entries]),
                              (images, [e.path for e in target_entries])])
        classes.append((targets_by_class[wnid], pool_entries, target_entries, union, maps))
    world = distributed.world()
    if world.active:
        # Under torchrun every process first decodes its share of every class into the cache (the
        # classes' chunks dealt round robin), then the main process alone retrieves, reading them back.
        for *_, union, _ in tqdm(classes, desc="describing (he2018)", unit="class",
                                 disable=not (progress and world.is_main)):
            describe_he2018(union, extractor, batch_size, workers, world=world, gather=False)
        world.barrier()
        if not world.is_main:
            return None
    alone = distributed.World()
    results: dict[int, object] = {}
    sizes: dict[int, tuple[int, int, str]] = {}  # target -> (width, height, SHA-256)
    for chosen_all, pool_entries, target_entries, union, (p_union, t_union) in tqdm(
            classes, desc="retrieving (he2018)", unit="class", disable=not progress):
        description, feats = describe_he2018(union, extractor, batch_size, workers, progress=False, world=alone)

        target_desc = _subset(description, t_union, target_entries)
        kept_t = kept_entries(Collection(images, target_entries), target_desc, filters[0], report, "target",
                              skip_unreadable)
        for k in kept_t:
            sizes[chosen_all[k]] = (int(target_desc.width[k]), int(target_desc.height[k]), target_desc.sha256[k])
        pool_desc = _subset(description, p_union, pool_entries)
        if pool_entries:
            kept_p = kept_entries(Collection(plan.pool.root, pool_entries), pool_desc, filters[1], report, "pool",
                                  skip_unreadable)
        else:
            kept_p = []
        if not kept_t:
            continue
        if len(kept_p) < top_k:
            results.update({chosen_all[k]: _TOO_SMALL for k in kept_t})
            continue
        q_rows, p_rows = [t_union[k] for k in kept_t], [p_union[p] for p in kept_p]
        queries, pool = feats.take(q_rows), feats.take(p_rows)
        distance = fc6_distances(queries.fc6, pool.fc6)
        norms_q = np.linalg.norm(queries.fc6.astype(np.float64), axis=1)
        norms_p = np.linalg.norm(pool.fc6.astype(np.float64), axis=1)
        scale = 0.5 * (norms_q[:, None] + norms_p[None, :])
        relative = np.where(scale > 0, distance / np.maximum(scale, 1e-30), 0.0)
        excluded = _excluded_mask(q_rows, [description.sha256[u] for u in q_rows], p_rows,
                                  [description.sha256[u] for u in p_rows], relative, near_duplicate)
        neighbours, scores = retrieve(queries, pool, top_k, excluded, device=_score_device(extractor))
        for q, k in enumerate(kept_t):
            t = chosen_all[k]
            if (neighbours[q] < 0).any():
                results[t] = _SHORT
            else:
                results[t] = [(pool_entries[kept_p[c]], d, pool_desc.sha256[kept_p[c]])
                              for c, d in zip(neighbours[q], scores[q])]
    return results, sizes


def _score_device(extractor):
    from bench.core.device import resolve_device

    return resolve_device(extractor.device)
