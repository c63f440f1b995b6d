"""Every pretrained network colorbench uses, resolved through the libraries' standard cache.

torchvision, lpips and torch-fidelity all look for ``$TORCH_HOME/hub/checkpoints/<file name>``
before downloading (``torch.hub.get_dir()``). colorbench resolves each network there *first*, so a
missing file is reported by name, with its URL and the folder to put it in, instead of surfacing
as a network error deep inside a library. Set ``COLORBENCH_OFFLINE=1`` (or pass ``offline=True``)
to never try a download.

Checksums: the libraries publish only the first 8 hex digits of each file's SHA-256 (in the file
name, which ``torch.hub`` verifies on download). Where the full SHA-256 of the official file is
known it is recorded too; ``verify`` checks the full digest when it has one, else the prefix.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

from .atomic import public_mode
from .cache import hub_dir
from .errors import MissingWeightsError
from .registry import Registry

__all__ = [
    "load_torch_file",
    "WeightSpec",
    "WEIGHTS",
    "get_weight_spec",
    "register_weights",
    "checkpoints_dir",
    "weight_path",
    "is_present",
    "ensure_weights",
    "read_state_dict",
    "verify_weights",
    "file_sha256",
    "is_offline",
    "OFFLINE_ENV",
]

#: Environment variable that forbids downloads when set to 1/true/yes.
OFFLINE_ENV = "COLORBENCH_OFFLINE"

_TORCHVISION = "https://download.pytorch.org/models/"


@dataclass(frozen=True)
class WeightSpec:
    """One pretrained network file.

    Attributes:
        name: colorbench's name for the network (``colorbench weights list`` shows it).
        file_name: the exact file name the loading library expects in its cache.
        url: where the official file is published.
        library: the library whose loader reads the file.
        used_for: what in colorbench needs it.
        sha256: the full SHA-256 of the official file, when known; else ``None``.
        bundled_in: for files that ship inside a Python package (lpips' linear heads), the
            package name; they are read from the installed package, never from the cache.
    """

    name: str
    file_name: str
    url: str
    library: str
    used_for: str
    sha256: str | None = None
    bundled_in: str | None = None

    @property
    def hash_prefix(self) -> str | None:
        """The SHA-256 prefix encoded in the file name (torch.hub's ``name-<hash>.pth``)."""
        stem = self.file_name.rsplit(".", 1)[0]
        tail = stem.rsplit("-", 1)[-1]
        if len(tail) >= 8 and all(c in "0123456789abcdef" for c in tail):
            return tail
        return None


_SPECS = (
    WeightSpec("alexnet", "alexnet-owt-7be5be79.pth", _TORCHVISION + "alexnet-owt-7be5be79.pth", "torchvision",
               "lpips (AlexNet backbone, the default LPIPS)",
               sha256="7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02"),
    WeightSpec("vgg16", "vgg16-397923af.pth", _TORCHVISION + "vgg16-397923af.pth", "torchvision",
               "lpips_vgg (VGG16 backbone)",
               sha256="397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0"),
    WeightSpec("vgg19", "vgg19-dcbb9e9d.pth", _TORCHVISION + "vgg19-dcbb9e9d.pth", "torchvision",
               "pair ranking (VGG19 features), lpips_r (contextual similarity), SPColor"),
    WeightSpec("vgg19_bn", "vgg19_bn-c79401a0.pth", _TORCHVISION + "vgg19_bn-c79401a0.pth", "torchvision",
               "MSA / super-attention value features"),
    WeightSpec("resnet101", "resnet101-63fe2227.pth", _TORCHVISION + "resnet101-63fe2227.pth", "torchvision",
               "top1 / top5 (ResNet-101, ImageNet IMAGENET1K_V1)"),
    WeightSpec("inception_fid", "weights-inception-2015-12-05-6726825d.pth",
               "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
               "weights-inception-2015-12-05-6726825d.pth", "torch-fidelity",
               "fid, fid_inf (Inception 2015-12-05, the TF-FID port)",
               sha256="6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"),
    # torchvision's current file for Inception_V3_Weights.IMAGENET1K_V1. DDColor and CT2 load the
    # older inception_v3_google-1a9a5a14.pth: the same tensors, re-saved by torchvision in torch's
    # zip format (pytorch/vision PR #3851, 2021, part of issue #2068's re-upload of old weights;
    # the old URL stays online), so either file gives the same features.
    WeightSpec("inception_v3_torchvision", "inception_v3_google-0cc3c7bd.pth",
               _TORCHVISION + "inception_v3_google-0cc3c7bd.pth", "torchvision",
               "fid / fid_inf / kid with fid_backbone torchvision (DDColor's and CT2's INCEPTION_V3_FID; they load "
               "the same weights as inception_v3_google-1a9a5a14.pth)"),
    WeightSpec("lpips_alex_linear", "alex.pth",
               "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/alex.pth", "lpips",
               "lpips v0.1 linear heads (ship with the lpips package)",
               sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0", bundled_in="lpips"),
    WeightSpec("lpips_vgg_linear", "vgg.pth",
               "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth", "lpips",
               "lpips_vgg v0.1 linear heads (ship with the lpips package)",
               sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868", bundled_in="lpips"),
    WeightSpec("stego_cocostuff27", "cocostuff27_vit_base_5.ckpt",
               "https://marhamilresearch4.blob.core.windows.net/stego-public/saved_models/cocostuff27_vit_base_5.ckpt",
               "colorbench", "SPColor's semantic prior (STEGO, DINO ViT-B/8 on COCO-Stuff 27; read without unpickling "
               "code; not needed with prior=\"kmeans\")"),
)

#: Every pretrained network file, in the order ``colorbench weights list`` shows them.
WEIGHTS: Registry[WeightSpec] = Registry("network", required=("name", "file_name", "url", "library", "used_for"))
for _spec in _SPECS:
    WEIGHTS.add(_spec.name, _spec)


def register_weights(spec: WeightSpec) -> WeightSpec:
    """Add a network file to the registry (``colorbench weights list`` shows it)."""
    return WEIGHTS.add(spec.name, spec)


def get_weight_spec(name: str) -> WeightSpec:
    """The spec of network ``name``; a clear error lists the known names."""
    return WEIGHTS.get(name)


def is_offline(offline: bool | None = None) -> bool:
    """``offline`` if given, else the ``COLORBENCH_OFFLINE`` environment variable."""
    if offline is not None:
        return offline
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def checkpoints_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch/hub/checkpoints``), read now."""
    return hub_dir() / "checkpoints"


def weight_path(name: str) -> Path:
    """Where network ``name``'s file is (or would be) read from."""
    spec = get_weight_spec(name)
    if spec.bundled_in:
        package = find_spec(spec.bundled_in)
        if package is None or package.origin is None:
            raise MissingWeightsError(f"{spec.name}: the {spec.bundled_in} package is not installed; pip install "
                                      f"{spec.bundled_in}")
        return Path(package.origin).parent / "weights" / "v0.1" / spec.file_name
    return checkpoints_dir() / spec.file_name


def is_present(name: str) -> bool:
    """Whether network ``name``'s file exists where its library will look."""
    return weight_path(name).is_file()


def _missing_message(spec: WeightSpec, folder: Path, reason: str) -> str:
    return (f"missing pretrained weights {spec.file_name} ({spec.name}, needed for {spec.used_for}): {reason}; "
            f"download {spec.url} and put it in {folder} (or point TORCH_HOME at a folder whose "
            f"hub/checkpoints holds it)")


def _download(spec: WeightSpec, dest: Path, timeout: float = 60.0) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(spec.url, timeout=timeout) as response:
            shutil.copyfileobj(response, out, length=1 << 20)
        digest = file_sha256(tmp)
        expected = spec.sha256 or spec.hash_prefix
        if expected and not digest.startswith(expected):
            raise MissingWeightsError(_missing_message(spec, dest.parent, f"the download's SHA-256 {digest[:12]}… "
                                                       f"does not match {expected[:12]}…"))
        os.chmod(tmp, public_mode())  # mkstemp's 0o600 would make a shared cache unreadable to others
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


def ensure_weights(name: str, offline: bool | None = None) -> Path:
    """Return the path of network ``name``'s file, downloading it unless offline.

    Raises:
        MissingWeightsError: absent and not downloadable; the message names the exact file,
            its URL and the folder to put it in.
    """
    spec = get_weight_spec(name)
    path = weight_path(name)
    if path.is_file():
        return path
    if spec.bundled_in:
        raise MissingWeightsError(_missing_message(spec, path.parent, f"the {spec.bundled_in} installation lacks it"))
    if is_offline(offline):
        raise MissingWeightsError(_missing_message(spec, path.parent, "not found and downloads are off "
                                                                      f"({OFFLINE_ENV}=1)"))
    try:
        _download(spec, path)
    except MissingWeightsError:
        raise
    except Exception as exc:  # any network failure: say what to do instead
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        message = _missing_message(spec, path.parent, f"not found and the download failed ({reason})")
        raise MissingWeightsError(message) from None
    return path


#: Files at least this large (network weights) have their SHA-256 remembered on disk, keyed by
#: path, size and modification time, so a new process does not hash hundreds of MB again.
_REMEMBER_BYTES = 16 << 20
_REMEMBERED = "file-sha256.json"


def _remembered_path() -> Path:
    from .cache import cache_dir

    return cache_dir() / _REMEMBERED


def _remembered(path: str, size: int, mtime_ns: int) -> str | None:
    try:
        entry = json.loads(_remembered_path().read_text()).get(path)
    except (OSError, ValueError, AttributeError):
        return None
    return entry[2] if isinstance(entry, list) and entry[:2] == [size, mtime_ns] else None


def _remember(path: str, size: int, mtime_ns: int, digest: str) -> None:
    from .atomic import write_json

    store = _remembered_path()
    try:
        known = json.loads(store.read_text())
    except (OSError, ValueError):
        known = {}
    known = known if isinstance(known, dict) else {}
    known[path] = [size, mtime_ns, digest]
    try:
        write_json(store, known)
    except OSError:
        pass  # a read-only cache only costs a re-hash next time


@lru_cache(maxsize=64)
def _sha256_cached(path: str, size: int, mtime_ns: int, use_remembered: bool = True) -> str:
    large = size >= _REMEMBER_BYTES
    if large and use_remembered:
        known = _remembered(path, size, mtime_ns)
        if known is not None:
            return known
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if large:
        _remember(path, size, mtime_ns, digest.hexdigest())
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike, use_remembered: bool = True) -> str:
    """SHA-256 of a file, cached by (path, size, mtime): in-process, and on disk for large files
    (network weights), so they are hashed once, not once per command (``use_remembered=False``:
    read the file again, as ``colorbench weights check`` does)."""
    stat = os.stat(path)
    return _sha256_cached(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, use_remembered)


def verify_weights(name: str) -> tuple[str, str]:
    """Check network ``name``'s file against its published checksum.

    Returns:
        ``(status, detail)`` with status one of ``ok`` (full SHA-256 matches), ``ok-prefix``
        (only the published prefix is known, and it matches), ``mismatch``, ``missing``.
    """
    spec = get_weight_spec(name)
    path = weight_path(name)
    if not path.is_file():
        return "missing", str(path)
    digest = file_sha256(path, use_remembered=False)
    if spec.sha256:
        return ("ok" if digest == spec.sha256 else "mismatch"), digest
    prefix = spec.hash_prefix
    if prefix:
        return ("ok-prefix" if digest.startswith(prefix) else "mismatch"), digest
    return "unverified", digest


def load_torch_file(path: str | os.PathLike, mmap: bool = False):
    """The one place colorbench calls ``torch.load``: always ``weights_only=True`` (tensors, numbers,
    strings, lists, dicts and allowlisted classes only; no pickle code runs), on the CPU;
    ``mmap``: memory-mapped when the file's format allows it (a legacy non-zip file is read whole)."""
    import torch

    if mmap:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # a file in torch's legacy (non-zip) format cannot be memory-mapped
            pass
    return torch.load(path, map_location="cpu", weights_only=True)


def read_state_dict(path: str | os.PathLike) -> dict:
    """The tensors of a library's weights file (:func:`load_torch_file`), memory-mapped when the file
    allows it, so a network that uses part of a file (the FID Inception up to its pool) reads only
    that part. The reader of the libraries' weight files; colorbench's own checkpoints go through
    ``reference_models.training.checkpoints.load_weights``, which reads with the same function."""
    return load_torch_file(path, mmap=True)
