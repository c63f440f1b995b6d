"""The split file format: a Parquet table of target/reference pairs plus a JSON sidecar.

Columns (every split has all of them; object-level ones are null at image level):

==================  =======  ==========================================================
pair_id             str      unique, file-name safe: ``<target>-r1``, ``<target>-s1``, ...
level               str      ``image`` or ``object``
target_id           str      the target image's id (file-name safe)
target_path         str      relative to the sidecar's ``roots.images``
target_width/height int      the target image's size (outputs must match it)
target_sha256       str      SHA-256 of the target file's bytes (materialize checks it)
reference_id        str      the reference image's id (the target's own for synthetic);
                             null in a reference-free split
reference_path      str      relative to ``roots.pool``; empty for synthetic references;
                             null in a reference-free split
reference_sha256    str      SHA-256 of the reference file (the target's for synthetic);
                             null in a reference-free split
reference_kind      str      ``retrieved`` (ranked), ``same-class`` (random, same category),
                             ``synthetic`` (TPS warp + appearance change of the target), or
                             ``none``: a reference-free split (automatic colorization), one
                             row per target whose ``pair_id`` is the target's id
rank                int      1-based rank within the target's references of that kind;
                             null for ``none``
distance            float    ranking distance (L2 of features), NaN where none
tps_seed            int      seed that re-renders a synthetic reference bit-exactly; null
                             otherwise
category_id         int      COCO category (object level; dominant object at image level)
label               int      class index where the collection has classes (ImageNet)
target_ann_id       int      object level: the target object's annotation id
reference_ann_id    int      object level: the reference object's annotation id
target_mask         str      object level: COCO RLE (JSON) of the target object
reference_mask      str      object level: COCO RLE (JSON) of the reference object (warped
                             alike for synthetic references)
==================  =======  ==========================================================

``split_id`` is a hash of the table's content and the build parameters (not of paths on disk),
so the same inputs and seed give the same id on any machine. :func:`load_split` derives it again
from the table it reads: a table edited after it was built is refused, never passed off under
its old id. Paths are checked too: ``target_path`` / ``reference_path`` must stay inside their
root (no absolute paths, no ``..``).

A *reference-free* split (``colorbench pairs folder --references 0``, ``imagenet-val5k``) holds
targets only: every row has ``reference_kind`` ``none`` (:data:`NO_REFERENCE`) and null reference
columns, and :attr:`Split.has_references` is False. A table mixing such rows with referenced
ones is refused on loading: a method either gets a reference for every pair or for none.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from .atomic import atomic_path, write_json
from .errors import ColorbenchError
from .lazy import lazy_import
from .paths import leaves_root, resolve_inside

pd = lazy_import("pandas")
pa = lazy_import("pyarrow")
pq = lazy_import("pyarrow.parquet")

__all__ = ["Split", "SPLIT_COLUMNS", "COLUMN_NAMES", "split_schema", "FORMAT_VERSION", "DISTANCE_DIGITS",
           "REFERENCE_KINDS", "NO_REFERENCE", "load_split", "plain_records", "sanitize_id", "unique_ids",
           "sidecar_path", "pandas_type", "compute_split_id", "hashed_meta"]

FORMAT_VERSION = 1

#: The columns of a split table and their Arrow types, in order.
SPLIT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("pair_id", "string"),
    ("level", "string"),
    ("target_id", "string"),
    ("target_path", "string"),
    ("target_width", "int32"),
    ("target_height", "int32"),
    ("target_sha256", "string"),
    ("reference_id", "string"),
    ("reference_path", "string"),
    ("reference_sha256", "string"),
    ("reference_kind", "string"),
    ("rank", "int32"),
    ("distance", "float64"),
    ("tps_seed", "int64"),
    ("category_id", "int64"),
    ("label", "int64"),
    ("target_ann_id", "int64"),
    ("reference_ann_id", "int64"),
    ("target_mask", "string"),
    ("reference_mask", "string"),
)


@functools.cache
def split_schema() -> "pa.Schema":
    """The Arrow schema of :data:`SPLIT_COLUMNS` (pyarrow is imported when a split is read or written)."""
    return pa.schema([(name, getattr(pa, kind)()) for name, kind in SPLIT_COLUMNS])


#: The column names, in order.
COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in SPLIT_COLUMNS)

#: ``reference_kind`` of the rows of a reference-free split (targets only, for automatic colorization).
NO_REFERENCE = "none"

REFERENCE_KINDS = ("retrieved", "same-class", "synthetic", NO_REFERENCE)

#: Anything but (Unicode) letters, digits, ``_``, ``.`` and ``-`` is unsafe in an id: letters and
#: digits of any script are safe file names (``写真``), separators and punctuation are not.
_UNSAFE = re.compile(r"[^\w.-]+")

#: Distances are stored to this many significant digits, so float noise in the last bits of a
#: feature does not change the table or the split_id.
DISTANCE_DIGITS = 6


def sanitize_id(raw: str) -> str:
    """A file-name-safe id: path separators become ``__``, anything else unsafe becomes ``_``.

    Ids from files never become paths without this; ``..`` and leading dots are neutralised.
    Unicode letters and digits are kept (after NFC normalisation, so a name spelled with combining
    accents, as macOS stores it, gives the same id as the precomposed one).
    """
    text = unicodedata.normalize("NFC", str(raw)).replace("\\", "/").strip("/")
    parts = [_UNSAFE.sub("_", part) for part in text.split("/") if part not in ("", ".", "..")]
    safe = "__".join(part.lstrip(".") or "_" for part in parts)
    if not safe:
        raise ColorbenchError(f"cannot make a file-name-safe id from {raw!r}")
    return safe


def unique_ids(names: list[str]) -> list[str]:
    """Image ids from file names: :func:`sanitize_id` of each name without its suffix, made unique:
    names whose ids collide (``a.jpg`` and ``a.png``, or two names differing only in unsafe
    characters) each get ``-`` and the first 8 hex digits of the SHA-256 of their full name, so the
    result does not depend on their order."""
    ids = [sanitize_id(name[:-len(suffix)] if (suffix := PurePosixPath(name).suffix) else name) for name in names]
    counts: dict[str, int] = {}
    for image_id in ids:
        counts[image_id] = counts.get(image_id, 0) + 1
    out = [image_id if counts[image_id] == 1 else
           f"{image_id}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}" for image_id, name in zip(ids, names)]
    if len(set(out)) != len(out):  # only identical names can still collide: a listing error
        dup = next(name for name, image_id in zip(names, out) if out.count(image_id) > 1)
        raise ColorbenchError(f"the image {dup!r} is listed twice; list each image once")
    return out


def pandas_type(arrow_type: "pa.DataType"):
    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype() if arrow_type == pa.int64() else pd.Int32Dtype()
    if pa.types.is_string(arrow_type):
        return pd.StringDtype()
    return None


@dataclass
class Split:
    """A built split: the pair table and its sidecar metadata.

    ``meta`` holds ``builder``, ``level``, ``params`` (every build parameter, seed included),
    ``features`` (extractor, layer, weight checksums), ``annotations_sha256``, ``roots``
    (``images``/``pool`` folders the relative paths start from), ``report`` (counts of
    everything dropped or skipped, with reasons), ``colorbench_version`` and ``split_id``.
    """

    table: "pd.DataFrame"
    meta: dict = field(default_factory=dict)

    @property
    def split_id(self) -> str:
        return self.meta["split_id"]

    @property
    def level(self) -> str:
        return self.meta["level"]

    @property
    def has_references(self) -> bool:
        """Whether its pairs have references: False for a reference-free split (every row of kind
        ``none``), on which metrics and methods that need a reference do not apply."""
        return not bool((self.table["reference_kind"] == NO_REFERENCE).any())

    def no_references_note(self) -> str:
        """For messages about a reference-free split: ``split <id> has no references (built with
        --references 0)``, or ``(built by imagenet-val5k)`` for a builder that has no references."""
        params = self.meta.get("params", {})
        how = "built with --references 0" if "top_k" in params else f"built by {self.meta.get('builder')}"
        return f"split {self.split_id} has no references ({how})"

    @property
    def recipe(self):
        """The synthetic-reference recipe the split was built with (the default when it has none)."""
        from .synthetic import SyntheticRecipe

        params = self.meta.get("params", {})
        return SyntheticRecipe(**params["recipe"]) if "recipe" in params else SyntheticRecipe()

    def root(self, which: str = "images", override: str | os.PathLike | None = None) -> Path:
        return Path(override) if override else Path(self.meta["roots"][which])

    def target_file(self, row, images_root: str | os.PathLike | None = None) -> Path:
        """The target file of ``row`` (inside its root, or a one-line error)."""
        return resolve_inside(self.root("images", images_root), row.target_path, f"pair {row.pair_id}: target_path")

    def reference_file(self, row, pool_root: str | os.PathLike | None = None) -> Path:
        """The reference file of ``row`` (inside its root, or a one-line error)."""
        return resolve_inside(self.root("pool", pool_root), row.reference_path, f"pair {row.pair_id}: reference_path")

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``path`` (Parquet; the sidecar is also embedded) and ``path`` with ``.json``."""
        path = Path(path)
        if path.suffix != ".parquet":
            raise ColorbenchError(f"split files end in .parquet; got {path}")
        table = pa.Table.from_pandas(self.table[list(COLUMN_NAMES)], schema=split_schema(), preserve_index=False)
        table = table.replace_schema_metadata({b"colorbench": json.dumps(self.meta, sort_keys=True).encode("utf-8")})
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
        write_json(sidecar_path(path), self.meta)
        return path


def _canonical_rows(table: "pd.DataFrame") -> list[list]:
    rows = []
    for record in table[list(COLUMN_NAMES)].itertuples(index=False, name=None):
        rows.append([None if (v is pd.NA or v is None or (isinstance(v, float) and math.isnan(v))) else
                     (int(v) if isinstance(v, np.integer) else v) for v in record])
    return rows


#: The sidecar fields the split_id covers besides the table (paths and reports are not content).
HASHED_FIELDS = ("builder", "level", "params", "features", "annotations_sha256")


def hashed_meta(meta: dict) -> dict:
    """The part of a sidecar that :func:`compute_split_id` hashes."""
    return {name: meta.get(name) for name in HASHED_FIELDS}


def compute_split_id(table: "pd.DataFrame", params: dict) -> str:
    """SHA-256 (first 16 hex digits) of the table's content and the build parameters."""
    payload = json.dumps({"format": FORMAT_VERSION, "params": params, "rows": _canonical_rows(table)},
                         sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def sidecar_path(path: str | os.PathLike) -> Path:
    return Path(path).with_suffix(".json")


def plain_records(table: "pd.DataFrame") -> list[dict]:
    """A pair table's rows as plain dicts, missing values (NA, NaN) as None: what per-pair code
    (DataLoader workers included) reads."""
    return [{key: (None if pd.isna(value) else value) for key, value in row.items()}
            for row in table.to_dict("records")]


def load_split(path: str | os.PathLike) -> Split:
    """Read a split written by :meth:`Split.save` (a one-line error if it is not one)."""
    path = Path(path)
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise ColorbenchError(f"split file {path} does not exist") from None
    except (pa.ArrowInvalid, OSError) as exc:
        reason = str(exc).splitlines()[0]
        raise ColorbenchError(f"split file {path} is not a readable Parquet file ({reason})") from None
    raw = (table.schema.metadata or {}).get(b"colorbench")
    missing = [name for name in COLUMN_NAMES if name not in table.column_names]
    if raw is None or missing:
        raise ColorbenchError(f"split file {path} was not written by colorbench pairs "
                              f"({'missing columns ' + ', '.join(missing) if missing else 'no colorbench metadata'})")
    meta = json.loads(raw)
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise ColorbenchError(f"split file {path} has format {meta['format_version']}; upgrade colorbench")
    frame = table.select(list(COLUMN_NAMES)).to_pandas(types_mapper=pandas_type)
    # Pair ids become file names (<pair_id>.png): a hand-edited split must not smuggle in a path.
    unsafe = [pid for pid in frame["pair_id"] if not isinstance(pid, str) or not pid or sanitize_id(pid) != pid]
    if unsafe:
        raise ColorbenchError(f"split file {path} has a pair id that is not a safe file name ({unsafe[0]!r}); "
                              "rebuild it with colorbench pairs")
    duplicated = frame["pair_id"][frame["pair_id"].duplicated()]
    if len(duplicated):
        raise ColorbenchError(f"split file {path} has the pair id {duplicated.iloc[0]!r} twice; rebuild it")
    _check_relative_paths(frame, path)
    _check_reference_kinds(frame, path)
    derived = compute_split_id(frame, hashed_meta(meta))
    if derived != meta.get("split_id"):
        raise ColorbenchError(f"split file {path} was changed after it was built (its table and parameters give "
                              f"split_id {derived}, its sidecar says {meta.get('split_id')}); rebuild it with "
                              "colorbench pairs instead of editing it")
    return Split(frame, meta)


def _check_relative_paths(frame: pd.DataFrame, path: Path) -> None:
    """Paths in a split are relative to their root and never climb out of it."""
    for column in ("target_path", "reference_path"):
        for pair_id, value in zip(frame["pair_id"], frame[column]):
            if isinstance(value, str) and value and leaves_root(value):
                raise ColorbenchError(f"split file {path}: pair {pair_id} has {column} {value!r}, which is not "
                                      "inside its root; rebuild the split")


def _check_reference_kinds(frame: pd.DataFrame, path: Path) -> None:
    """A split is reference-free throughout or not at all: a method, the scorer and
    :attr:`Split.has_references` decide per split, not per pair."""
    none = (frame["reference_kind"] == NO_REFERENCE).fillna(False).to_numpy(dtype=bool)
    if none.any() and not none.all():
        first = frame["pair_id"].iloc[int(none.argmax())]
        raise ColorbenchError(f"split file {path} mixes reference-free rows (pair {first}) with referenced ones; "
                              "rebuild it with colorbench pairs")
