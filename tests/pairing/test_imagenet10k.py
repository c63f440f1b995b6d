"""The imagenet10k builder on a tiny fake ImageNet (class folders, flat val, a train pool).

Features come from random VGG19 weights (``random_weights``): they exercise the code paths, the
class restriction, the exclusions and He et al.'s scoring; they are never results.
"""

from __future__ import annotations

import io
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from bench.core.errors import ColorbenchError, ImageReadError
from bench.core.splits import load_split
from bench.core.synthetic import derive_tps_seed
from pairing.builders.imagenet10k import build_imagenet10k, parse_image_list
from pairing.collection import Collection, FilterSettings, ImageEntry
from pairing.he2018 import HeExtractor, cell_histograms, describe_he2018, local_scores

CTEST10K = Path("/work/shared/data/imagenet-lists/ctest10k.txt")

# wnid -> (label, pool images, val images); the last class is too small for top_k=2
CLASSES = {"n01000001": (0, 3, 2), "n01000002": (1, 3, 2), "n01000004": (3, 1, 1)}
SMALL = "n01000004"
TOO_SMALL = "targets skipped: class has fewer than top_k usable pool images"
SHORT = "targets skipped: fewer references than top_k after excluding the target, copies and near-duplicates"
OPTIONS = {"device": "cpu", "workers": 0, "progress": False}


def _photo(seed: int) -> bytes:
    """A colourful JPEG >= 256 px: smooth random colour field, a gradient and a few shapes."""
    rng = np.random.default_rng(seed)
    height, width = (256, 320) if seed % 2 else (320, 256)
    coarse = rng.integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    field = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC), dtype=np.float64)
    yy, xx = np.mgrid[0:height, 0:width]
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xx / width + np.sin(angle) * yy / height
    image = Image.fromarray(np.clip(field + ramp[..., None] * rng.uniform(-90, 90, size=3), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 7))):
        x0, y0 = int(rng.integers(0, width - 40)), int(rng.integers(0, height - 40))
        box = [x0, y0, x0 + int(rng.integers(20, 120)), y0 + int(rng.integers(20, 120))]
        colour = tuple(int(v) for v in rng.integers(0, 256, size=3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    """``train/<wnid>/*.JPEG`` pool, ``val/<wnid>/`` and ``val_flat/`` targets, ``list.txt``.

    The last pool image of the first class is a byte-identical copy of that class's first target.
    """
    root = tmp_path_factory.mktemp("imagenet")
    lines, seed, number = [], 0, 0
    for wnid, (label, n_pool, n_val) in CLASSES.items():
        (root / "train" / wnid).mkdir(parents=True)
        (root / "val" / wnid).mkdir(parents=True)
        (root / "val_flat").mkdir(exist_ok=True)
        vals = []
        for _ in range(n_val):
            number += 1
            name = f"ILSVRC2012_val_{number:08d}.JPEG"
            data = _photo(seed := seed + 1)
            (root / "val" / wnid / name).write_bytes(data)
            (root / "val_flat" / name).write_bytes(data)
            lines.append(f"/{wnid}/{name} {label}")
            vals.append(data)
        for i in range(n_pool):
            copy = wnid == "n01000001" and i == n_pool - 1
            (root / "train" / wnid / f"{wnid}_{i}.JPEG").write_bytes(vals[0] if copy else _photo(seed := seed + 1))
    (root / "train" / "n09999999").mkdir()  # a class that is not in the list: ignored, counted
    (root / "train" / "n09999999" / "n09999999_0.JPEG").write_bytes(_photo(999))
    (root / "list.txt").write_text("\n".join(lines[:3]) + "\n\n" + "\n".join(lines[3:]) + "\n")
    return root


def _build(fake, **kw):
    options = {"pool_images": fake / "train", "top_k": 2, **OPTIONS, **kw}
    return build_imagenet10k(options.pop("images", fake / "val"), options.pop("list_file", fake / "list.txt"),
                             **options)


def _wnid_of(path: str) -> str:
    return path.split("/")[0]


def _check_same_class(split, images: Path, pool: Path):
    retrieved = split.table[split.table["reference_kind"] == "retrieved"]
    assert len(retrieved)
    wnid_by_label = {label: wnid for wnid, (label, _, _) in CLASSES.items()}
    for row in retrieved.itertuples():
        assert _wnid_of(row.reference_path) == wnid_by_label[row.label]  # references from the same class only
        target_bytes = (images / row.target_path).read_bytes()
        assert (pool / row.reference_path).read_bytes() != target_bytes  # never itself, nor a byte copy
        assert math.isfinite(row.distance)
    for _, group in retrieved.groupby("target_id"):
        assert list(group["rank"]) == [1, 2]
        assert group["distance"].is_monotonic_increasing


# ------------------------------------------------------------------------------------------- list


@pytest.mark.skipif(not CTEST10K.is_file(), reason="the shared ctest10k list is not on this machine")
def test_parses_the_real_ctest10k_list():
    entries = parse_image_list(CTEST10K)
    assert len(entries) == 10_000
    labels = {entry.label for entry in entries}
    assert labels == set(range(1000))
    label_of = {}
    for entry in entries:
        assert label_of.setdefault(entry.wnid, entry.label) == entry.label
        assert entry.file.startswith("ILSVRC2012_val_") and entry.image_id == entry.file[:-5]
    assert len(label_of) == 1000 and len(set(label_of.values())) == 1000
    assert len({entry.image_id for entry in entries}) == 10_000


@pytest.mark.parametrize("bad, needle", [
    ("/n01000001/a.JPEG", "line 3"),  # no label
    ("n01000001 a.JPEG 0", "line 3"),  # no folder
    ("/n01000001/a.JPEG zero", "line 3"),
    ("/n01000001/a.JPEG 0 extra", "line 3"),
    ("/n01000001/a.txt 0", "line 3"),  # not an image
    ("/n01000001/a.JPEG 1000", "outside 0-999"),
    ("/n01000001/a.JPEG 5", "class n01000001 has label 5 here but 0 on line 1"),
    ("/n01000009/a.JPEG 0", "label 0 is given to class n01000009"),
    ("/n01000001/ILSVRC2012_val_1.JPEG 0", "already listed on line 1"),
])
def test_malformed_list_names_file_and_line(tmp_path, bad, needle):
    listing = tmp_path / "list.txt"
    listing.write_text(f"/n01000001/ILSVRC2012_val_1.JPEG 0\n\n{bad}\n")
    with pytest.raises(ColorbenchError) as info:
        parse_image_list(listing)
    assert str(listing) in str(info.value) and needle in str(info.value)
    assert "\n" not in str(info.value)


def test_blank_lines_and_windows_endings_are_fine(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_bytes(b"\r\n/n01/ILSVRC2012_val_1.JPEG 0\r\n\r\n/n02/ILSVRC2012_val_2.JPEG 1\r\n")
    entries = parse_image_list(listing)
    assert [(e.wnid, e.label, e.line) for e in entries] == [("n01", 0, 2), ("n02", 1, 4)]


# ------------------------------------------------------------------------------------ vgg19 ranking


def test_class_folder_val_vgg19(fake, random_weights):
    random_weights("vgg19")
    split = _build(fake, synthetic=1)
    table = split.table
    listed = {line.split()[0].split("/")[2][:-5] for line in (fake / "list.txt").read_text().split("\n") if line}
    small_target = next(p.stem for p in (fake / "val" / SMALL).iterdir())
    assert set(table["target_id"]) == listed - {small_target}
    assert split.meta["report"]["counts"][TOO_SMALL] == 1
    assert split.meta["report"]["examples"][TOO_SMALL] == [small_target]
    assert split.meta["report"]["counts"]["pool images ignored: not in a folder named after a listed class"] == 1
    _check_same_class(split, fake / "val", fake / "train")
    for row in table.itertuples():
        assert row.target_path == f"{_wnid_of(row.target_path)}/{row.target_id}.JPEG"
        assert row.label == CLASSES[_wnid_of(row.target_path)][0]
        assert row.level == "image" and (row.target_width, row.target_height) in ((320, 256), (256, 320))
        if row.reference_kind == "synthetic":
            assert row.pair_id == f"{row.target_id}-s1" and row.reference_path == ""
            assert row.tps_seed == derive_tps_seed(0, row.target_id, 1)
        else:
            assert row.pair_id == f"{row.target_id}-r{row.rank}"
    # the byte-identical copy of the first target is never its reference
    first = sorted((fake / "val" / "n01000001").iterdir())[0].stem
    refs = set(table[(table["target_id"] == first) & (table["reference_kind"] == "retrieved")]["reference_path"])
    assert refs == {"n01000001/n01000001_0.JPEG", "n01000001/n01000001_1.JPEG"}

    params = split.meta["params"]
    assert params["ranking"] == "vgg19" and params["layers"] == ["relu5_4"] and params["listed"] == 5
    assert len(params["list_sha256"]) == 64 and params["weights_sha256"] == split.meta["features"]["weights"]["sha256"]
    assert split.meta["builder"] == "imagenet10k" and split.meta["roots"]["pool"] == str((fake / "train").resolve())

    again = _build(fake, synthetic=1)  # determinism (and the cache: nothing is decoded again)
    assert again.split_id == split.split_id
    assert again.table.equals(table)


def test_flat_val_layout_gives_the_same_pairs(fake, random_weights):
    random_weights("vgg19")
    nested = _build(fake)
    flat = _build(fake, images=fake / "val_flat")
    assert all("/" not in path for path in flat.table["target_path"])
    columns = ["pair_id", "target_id", "reference_path", "rank", "distance", "label"]
    assert flat.table[columns].equals(nested.table[columns])
    _check_same_class(flat, fake / "val_flat", fake / "train")


def test_pool_defaults_to_the_images_and_excludes_the_target(fake):
    # val in class folders doubles as the pool: each target's only candidate is its classmate
    split = _build(fake, pool_images=None, top_k=1, features="histogram")
    for row in split.table.itertuples():
        assert _wnid_of(row.reference_path) == _wnid_of(row.target_path)
        assert row.reference_path != row.target_path
    assert len(split.table) == 4
    counts = split.meta["report"]["counts"]
    assert counts[SHORT] == 1  # the one-image class: only the target itself is left
    assert split.meta["params"]["same_pool"] is True


def test_missing_listed_image(fake, random_weights, tmp_path):
    random_weights("vgg19")
    listing = tmp_path / "list.txt"
    listing.write_text((fake / "list.txt").read_text() + "/n01000002/ILSVRC2012_val_00000099.JPEG 1\n")
    with pytest.raises(ImageReadError) as info:
        _build(fake, list_file=listing)
    message = str(info.value)
    assert "n01000002/ILSVRC2012_val_00000099.JPEG" in message and "1 of 6 listed images are missing" in message
    assert "\n" not in message
    split = _build(fake, list_file=listing, skip_unreadable=True)
    assert split.meta["report"]["counts"]["target dropped: missing"] == 1
    assert split.meta["report"]["examples"]["target dropped: missing"] == ["ILSVRC2012_val_00000099"]
    assert "ILSVRC2012_val_00000099" not in set(split.table["target_id"])
    assert split.table.equals(_build(fake).table)


def test_synthetic_only_needs_no_pool(fake):
    split = _build(fake, pool_images=fake / "does-not-exist", top_k=0, synthetic=2)
    assert len(split.table) == 2 * 5 and set(split.table["reference_kind"]) == {"synthetic"}
    assert split.meta["features"] is None and split.meta["params"]["ranking"] is None


def test_everything_skipped_is_an_error(fake):
    with pytest.raises(ColorbenchError, match="would be empty"):
        _build(fake, top_k=5, features="histogram")
    with pytest.raises(ColorbenchError, match="no pool image is in a class folder"):
        _build(fake, images=fake / "val_flat", pool_images=None, features="histogram")
    with pytest.raises(ColorbenchError, match="he2018"):
        _build(fake, ranking="he2018", features="histogram")


# ----------------------------------------------------------------------------------- he2018 ranking


def _slow_score(query_pool5, query_hist, cand_pool5, cand_hist):
    """He et al.'s local score, written out cell by cell (the published formula)."""
    qp, cp = query_pool5.astype(np.float64), cand_pool5.astype(np.float64)
    qh, ch = query_hist.astype(np.float64), cand_hist.astype(np.float64)
    feature_sum, hist_sum = 0.0, 0.0
    for i in range(len(qp)):
        best, best_j = -np.inf, 0
        for j in range(len(cp)):
            cosine = float(qp[i] @ cp[j]) / (np.linalg.norm(qp[i]) * np.linalg.norm(cp[j]))
            if cosine > best:
                best, best_j = cosine, j
        feature_sum += -best
        a, b = qh[i] - qh[i].mean(), ch[best_j] - ch[best_j].mean()
        hist_sum += 1.0 - float(a @ b) / math.sqrt(float(a @ a) * float(b @ b))
    dist0 = feature_sum / len(qp) + 1.0
    dist1 = (hist_sum / len(qp) + 1.0) / 2.0
    return dist0 + 0.25 * dist1


def test_cell_histograms_match_a_loop():
    gray = np.random.default_rng(3).integers(0, 256, size=(50, 37), dtype=np.uint8)
    hist = cell_histograms(gray)
    for cy in range(7):
        for cx in range(7):
            ys = [y for y in range(50) if y * 7 // 50 == cy]
            xs = [x for x in range(37) if x * 7 // 37 == cx]
            cell = gray[np.ix_(ys, xs)].astype(int)
            expected = np.bincount(cell.ravel() * 10 // 256, minlength=10) / cell.size
            np.testing.assert_allclose(hist[cy * 7 + cx], expected, rtol=0, atol=1e-7)


def test_he2018_ranking_follows_its_score(fake, random_weights):
    random_weights("vgg19")
    split = _build(fake, ranking="he2018")
    assert split.meta["params"]["ranking"] == "he2018" and split.meta["params"]["layers"] == ["fc6", "pool5"]
    assert split.meta["features"]["ranking"] == "he2018"
    assert split.meta["report"]["counts"][TOO_SMALL] == 1
    _check_same_class(split, fake / "val", fake / "train")

    # the first class, described as the builder does (its pool, then its targets): a cache hit
    wnid = "n01000001"
    pool_files = sorted((fake / "train" / wnid).iterdir())
    target_files = sorted((fake / "val" / wnid).iterdir())
    collection = Collection(fake, [ImageEntry(f"i{k}", p.relative_to(fake).as_posix())
                                   for k, p in enumerate(pool_files + target_files)])
    extractor = HeExtractor("cpu")
    _, feats = describe_he2018(collection, extractor, workers=0)
    assert extractor._model is None  # a cache hit: the very features the builder ranked with
    assert np.isfinite(feats.pool5.astype(np.float64)).all() and feats.pool5.std() > 0
    assert not np.allclose(feats.pool5[0], feats.pool5[1])  # the random weights tell images apart

    target = len(pool_files)  # the first target; the last pool image is its byte-identical copy
    candidates = list(range(len(pool_files) - 1))
    slow = np.array([_slow_score(feats.pool5[target], feats.hist[target], feats.pool5[c], feats.hist[c])
                     for c in candidates])
    fast = local_scores(feats.pool5[target], feats.hist[target], feats.pool5[candidates], feats.hist[candidates])
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-6)

    rows = split.table[(split.table["target_id"] == target_files[0].stem)
                       & (split.table["reference_kind"] == "retrieved")].sort_values("rank")
    order = np.argsort(slow, kind="stable")
    assert list(rows["reference_path"]) == [f"{wnid}/{pool_files[candidates[k]].name}" for k in order]
    np.testing.assert_allclose(rows["distance"].to_numpy(), slow[order], rtol=0, atol=1e-6)


def test_cli_builds_with_the_list(fake, cli, tmp_path):
    out = tmp_path / "in10k.parquet"
    result = cli("pairs", "imagenet10k", "--images", fake / "val", "--list", fake / "list.txt", "--pool-images",
                 fake / "train", "--out", out, "--top-k", "2", "--features", "histogram", "--min-size", "64",
                 "--workers", "0")
    assert result.returncode == 0, result.stderr
    split = load_split(out)
    assert split.meta["builder"] == "imagenet10k" and split.table.label.notna().all()
    assert split.table.equals(_build(fake, features="histogram", filters=FilterSettings(min_size=64)).table)


@pytest.mark.parametrize("ranking", ["vgg19", "he2018"])
def test_every_row_records_its_images_checksums_and_a_changed_image_is_refused(fake, random_weights, tmp_path,
                                                                               ranking):
    """imagenet10k rows carry target_sha256 / reference_sha256 like every split, so the scorer and the
    baselines check the images they read against the split."""
    import hashlib
    import shutil

    from baselines.run import run_baseline

    random_weights("vgg19")
    copy = tmp_path / "imagenet"
    shutil.copytree(fake, copy)
    split = _build(copy, images=copy / "val", pool_images=copy / "train", list_file=copy / "list.txt",
                   ranking=ranking, synthetic=1)
    for row in split.table.itertuples():
        assert row.target_sha256 == hashlib.sha256((copy / "val" / row.target_path).read_bytes()).hexdigest()
        reference = copy / "train" / row.reference_path if row.reference_kind == "retrieved" else \
            copy / "val" / row.target_path
        assert row.reference_sha256 == hashlib.sha256(reference.read_bytes()).hexdigest()
    assert set(split.table["reference_kind"]) == {"retrieved", "synthetic"}
    changed = split.table[split.table["reference_kind"] == "retrieved"].iloc[0]
    (copy / "train" / changed.reference_path).write_bytes(_photo(4242))
    with pytest.raises(ColorbenchError, match=rf"{changed.reference_path}.* changed since the split was built"):
        run_baseline("reinhard", split, tmp_path / "out", workers=0, progress=False)


def test_any_class_folder_tree_is_a_training_split_without_a_list(fake, random_weights, cli, tmp_path):
    """The imagenet builder: every image of <root>/<wnid>/ a target, labelled by the sorted class order,
    its references from its own class (never itself)."""
    from pairing import get_builder

    random_weights("vgg19")
    build = get_builder("imagenet")
    split = build(fake / "train", top_k=1, **OPTIONS)
    table = split.table
    classes = sorted(p.name for p in (fake / "train").iterdir() if p.is_dir())
    for row in table.itertuples():
        wnid = _wnid_of(row.target_path)
        assert row.label == classes.index(wnid)
        assert _wnid_of(row.reference_path) == wnid and row.reference_path != row.target_path
    assert split.meta["builder"] == "imagenet" and split.meta["params"]["list_sha256"] is None
    assert table["target_sha256"].notna().all() and table["reference_sha256"].notna().all()
    result = cli("pairs", "imagenet", "--images", fake / "train", "--top-k", "1", "--features", "histogram",
                 "--workers", "0", "--out", tmp_path / "train.parquet")
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="gloo processes on Linux")
@pytest.mark.parametrize("ranking", ["vgg19", "he2018"])
def test_two_processes_build_the_same_split(ranking, fake, tmp_path, cli, monkeypatch, random_weights):
    """``torchrun --nproc_per_node 2`` (gloo, CPU) builds the one-process split byte for byte; he2018
    describes class by class: every class's chunks are dealt round robin before rank 0 retrieves."""
    from tests.helpers import run_torchrun

    random_weights("vgg19")
    args = ["pairs", "imagenet10k", "--images", fake / "val", "--list", fake / "list.txt", "--pool-images",
            fake / "train", "--ranking", ranking, "--top-k", "2", "--batch-size", "1", "--workers", "0"]
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache-one"))
    single = cli(*args, "--out", tmp_path / "one.parquet")
    assert single.returncode == 0, single.stderr
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path / "cache-two"))
    launch = run_torchrun(tmp_path / "logs", *args, "--out", tmp_path / "two.parquet")
    assert launch.codes == {0: 0, 1: 0}, launch.output[-3000:]
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "two.parquet").read_bytes()
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "two.json").read_bytes()
    chunks = {path.name for path in (tmp_path / "cache-one").glob("*-chunk-*.npz")}
    assert len(chunks) > 1 and chunks == {path.name for path in (tmp_path / "cache-two").glob("*-chunk-*.npz")}


# ------------------------------------------------------------------------------- a test set kept whole


@pytest.fixture(scope="module")
def with_drab_targets(fake, tmp_path_factory):
    """The fake's list plus two listed targets that SPColor's training filters would drop: a
    grayscale photograph and a near-monochrome one (both in class n01000001, large enough)."""
    root = tmp_path_factory.mktemp("drab")
    shutil.copytree(fake / "val", root / "val")
    gray = Image.open(io.BytesIO(_photo(501))).convert("L").convert("RGB")
    gray.save(root / "val" / "n01000001" / "ILSVRC2012_val_00000501.JPEG", quality=95)
    mono = np.full((256, 320, 3), (200, 40, 30), np.uint8)
    mono[:30, :30] = (20, 180, 20)
    Image.fromarray(mono).save(root / "val" / "n01000001" / "ILSVRC2012_val_00000502.PNG")
    (root / "list.txt").write_text((fake / "list.txt").read_text() + "/n01000001/ILSVRC2012_val_00000501.JPEG 0\n"
                                   "/n01000001/ILSVRC2012_val_00000502.PNG 0\n")
    return root


def test_listed_targets_are_kept_whole_unless_filters_is_given(fake, with_drab_targets, cli, tmp_path):
    drab = {"ILSVRC2012_val_00000501", "ILSVRC2012_val_00000502"}
    kept = _build(fake, images=with_drab_targets / "val", list_file=with_drab_targets / "list.txt",
                  features="histogram")
    assert drab <= set(kept.table["target_id"])  # a published test list is kept whole by default
    counts = kept.meta["report"]["counts"]
    assert not any(reason.startswith("target dropped") for reason in counts)
    assert kept.meta["params"]["filter_targets"] is False and kept.meta["unread_targets"] is None

    filtered = _build(fake, images=with_drab_targets / "val", list_file=with_drab_targets / "list.txt",
                      features="histogram", filter_targets=True)
    assert not drab & set(filtered.table["target_id"])
    counts = filtered.meta["report"]["counts"]
    assert (counts["target dropped: grayscale"], counts["target dropped: near-monochrome"]) == (1, 1)
    assert filtered.split_id != kept.split_id

    out = tmp_path / "s.parquet"
    result = cli("pairs", "imagenet10k", "--images", with_drab_targets / "val", "--list",
                 with_drab_targets / "list.txt", "--pool-images", fake / "train", "--top-k", "2", "--features",
                 "histogram", "--workers", "0", "--filters", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "target dropped: grayscale: 1" in result.stdout
    assert load_split(out).split_id == filtered.split_id


def test_the_training_split_without_a_list_still_filters_its_targets(with_drab_targets):
    split = build_imagenet10k(with_drab_targets / "val", None, top_k=1, features="histogram", **OPTIONS)
    assert split.meta["params"]["filter_targets"] is True
    assert "ILSVRC2012_val_00000501" not in set(split.table["target_id"])
    assert split.meta["report"]["counts"]["target dropped: grayscale"] == 1


def test_an_unreadable_listed_target_is_warned_about_and_recorded(fake, tmp_path, capsys):
    val = tmp_path / "val"
    shutil.copytree(fake / "val", val)
    broken = sorted((val / "n01000002").iterdir())[0]
    broken.write_bytes(b"\xff\xd8\xff not a jpeg")
    listing = tmp_path / "list.txt"
    listing.write_text((fake / "list.txt").read_text() + "/n01000002/ILSVRC2012_val_00000099.JPEG 1\n")
    with pytest.raises(ImageReadError, match="1 of 6 listed images are missing"):
        _build(fake, images=val, list_file=listing, features="histogram")
    split = _build(fake, images=val, list_file=listing, features="histogram", skip_unreadable=True)
    warning = capsys.readouterr().err
    assert "warning: 2 of the 6 listed targets cannot be read" in warning
    assert "ILSVRC2012_val_00000099" in warning and broken.stem in warning
    record = split.meta["unread_targets"]
    assert record["count"] == 2 and record["listed"] == 6
    assert set(record["first"]) == {"ILSVRC2012_val_00000099", broken.stem}
    assert broken.stem not in set(split.table["target_id"])
