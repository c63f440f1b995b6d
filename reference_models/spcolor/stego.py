"""The paper's semantic prior: STEGO (Hamilton et al. 2022), ``cocostuff27_vit_base_5.ckpt``, as a
:class:`~reference_models.spcolor.prior.SemanticPrior`.

What SPColor's released code does with it (``stego_models/stego_segmentation.py``,
``STEGO_seg.my_app``): the image, ImageNet-normalised at 256 x 256, goes through the DINO ViT-B/8
(the last block's patch tokens, layer-normed: 768 x 32 x 32), STEGO's projection head gives a
90-d code per patch, and ``ClusterLookup`` gives ``probs = softmax_c(10 cos(code, mu_c))`` over
the 27 cluster centres ``mu``; ``confidence = max_c probs``, ``class = argmax_c probs``. For
``k < 27`` the 27 centres are first clustered into ``k`` by k-means (``kmeans_pytorch``, Euclidean,
initial centres ``np.random.seed(122); np.random.choice(27, k, replace=False)``), and the ``k``
means replace them (:func:`reduce_centroids`). The 32 x 32 maps are nearest-resized to the
correspondence's 64 x 64.

This module builds the architecture itself (a plain ViT in torch; no ``timm``, ``pytorch_lightning``
or ``omegaconf``): :class:`DinoViT` (the DINO ``VisionTransformer`` with its positional-embedding
interpolation, quirks included), :class:`StegoHead` (``DinoFeaturizer``'s ``cluster1`` + ``cluster2``)
and :class:`StegoPrior`. :func:`load_stego_prior` reads the checkpoint.

**Reading the checkpoint safely.** The file is a PyTorch-Lightning checkpoint: besides tensors it
pickles the hyper-parameters (an ``omegaconf`` ``DictConfig``) and training state.
:func:`read_stego_checkpoint` never unpickles arbitrary objects: it lists the file's pickled
globals without running anything (``torch.serialization.get_unsafe_globals_in_checkpoint``),
refuses the file if any is outside :data:`HPARAM_GLOBALS`, and otherwise reads it with
``torch.load(weights_only=True)`` where each allowlisted name is bound to an inert stand-in
(:class:`_Opaque`, or a plain ``dict``): no ``omegaconf`` or Lightning code runs, and only
``state_dict`` is kept. A refused file gets a one-line :class:`~bench.core.errors.ColorbenchError`
with the conversion to a plain ``.safetensors`` file (which is read directly).
"""

from __future__ import annotations

import math
import os
import pickle
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.core.errors import ColorbenchError
from bench.core.weights import load_torch_file
from bench.features.vgg import IMAGENET_MEAN, IMAGENET_STD
from reference_models.spcolor.prior import PriorOutput, check_images, cluster_maps, cluster_probabilities, gray_from_l

__all__ = [
    "AUTHORS_SEED",
    "HPARAM_GLOBALS",
    "STEGO_FILE_NAME",
    "STEGO_WEIGHTS",
    "DinoViT",
    "StegoHead",
    "StegoPrior",
    "load_stego_prior",
    "read_stego_checkpoint",
    "reduce_centroids",
]

#: The weights-registry name :func:`load_stego_prior` resolves when no path is given.
STEGO_WEIGHTS = "stego_cocostuff27"
#: The released file (``STEGO/src/download_models.py``, ``saved_models``).
STEGO_FILE_NAME = "cocostuff27_vit_base_5.ckpt"
#: The seed the released code sets before clustering the 27 centres into k.
AUTHORS_SEED = 122

#: Pickled globals a Lightning checkpoint of STEGO may hold besides tensors: the hyper-parameter
#: containers (omegaconf) and the types they record, and Lightning's callback / dict types. Each
#: is bound to an inert stand-in while reading; anything else refuses the file.
HPARAM_GLOBALS = (
    "omegaconf.dictconfig.DictConfig",
    "omegaconf.listconfig.ListConfig",
    "omegaconf.base.ContainerMetadata",
    "omegaconf.base.Metadata",
    "omegaconf.nodes.AnyNode",
    "omegaconf.nodes.StringNode",
    "omegaconf.nodes.IntegerNode",
    "omegaconf.nodes.FloatNode",
    "omegaconf.nodes.BooleanNode",
    "omegaconf.nodes.BytesNode",
    "omegaconf.nodes.PathNode",
    "typing.Any",
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.int",
    "builtins.float",
    "builtins.str",
    "builtins.bool",
    "builtins.object",
    "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint",
    "collections.defaultdict",
    "pytorch_lightning.utilities.parsing.AttributeDict",
)


class _Opaque:
    """Stands in for a pickled hyper-parameter object while a checkpoint is read: it keeps the
    pickled arguments and state as plain data and runs none of the original class's code."""

    def __init__(self, *args) -> None:
        self.args = args

    def __setstate__(self, state) -> None:
        self.state = state


def _empty_dict(*args) -> dict:
    # ``defaultdict(factory)`` is rebuilt by calling it, then filled item by item: a plain dict
    # takes the items (the weights-only reader fills dicts only) and the factory is dropped.
    return {}


def _stand_in(name: str):
    if name == "collections.defaultdict":
        return _empty_dict
    if name.endswith("AttributeDict"):
        return dict  # a dict subclass, rebuilt with __new__ then filled: a plain dict does both
    return _Opaque


def _refusal(path: Path, names: list[str]) -> ColorbenchError:
    convert = (f"python -c \"import torch; from safetensors.torch import save_file; "
               f"c = torch.load('{path}', map_location='cpu', weights_only=False); "
               f"save_file({{k: v.contiguous() for k, v in c['state_dict'].items()}}, "
               f"'stego_cocostuff27.safetensors')\"")
    return ColorbenchError(f"{path}: refusing to unpickle {', '.join(names)} (not a tensor or a STEGO hyper-parameter "
                           f"type); if you trust the file, convert it once where STEGO is installed: {convert} and "
                           "pass the .safetensors file instead")


def read_stego_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The ``state_dict`` of a STEGO checkpoint, read without unpickling arbitrary objects.

    Args:
        path: the Lightning ``.ckpt`` (or any ``torch.save`` file of a dict holding ``state_dict``,
            or of a state dict itself), or a ``.safetensors`` conversion of it.

    Returns:
        ``{name: tensor}`` on the CPU.

    Raises:
        ColorbenchError: the file is missing, pickles a global outside :data:`HPARAM_GLOBALS`
            (the message gives the conversion to ``.safetensors``), or holds no state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise ColorbenchError(f"STEGO checkpoint {path} not found; download {STEGO_FILE_NAME} (STEGO's "
                              "src/download_models.py lists its URL) and pass its path")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    try:
        names = set(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except (ValueError, RuntimeError):
        names = None  # not a zip checkpoint: the weights-only reader below still refuses any stranger
    if names is not None:
        unexpected = sorted(names - set(HPARAM_GLOBALS))
        if unexpected:
            raise _refusal(path, unexpected)
    allowed = [(_stand_in(name), name) for name in HPARAM_GLOBALS]
    try:
        with torch.serialization.safe_globals(allowed):
            checkpoint = load_torch_file(path)
    except pickle.UnpicklingError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _refusal(path, [detail.rstrip(".")]) from None
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, Mapping) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ColorbenchError(f"{path} holds no state dict of tensors; pass STEGO's {STEGO_FILE_NAME}")
    return dict(state)


class _Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        attn = torch.softmax((q @ k.transpose(-2, -1)) * (c // self.num_heads) ** -0.5, dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class _Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class _Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = _Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = _Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class _PatchEmbed(nn.Module):
    def __init__(self, patch_size: int, dim: int):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class DinoViT(nn.Module):
    """DINO's ``VisionTransformer`` (``vit_base``: 768 wide, 12 blocks, 12 heads, patch 8), for features.

    Module names match DINO's, so its state dict (STEGO's ``net.model.*``) loads strictly.

    Args:
        patch_size: patch side (8).
        embed_dim: token width (768).
        depth: blocks (12).
        num_heads: attention heads (12; DINO's heads are 64 wide).
        mlp_ratio: MLP hidden width / ``embed_dim`` (4).
        grid: side of the positional-embedding grid (28: DINO trained at 224 / 8).
    """

    def __init__(self, patch_size: int = 8, embed_dim: int = 768, depth: int = 12, num_heads: int = 12,
                 mlp_ratio: float = 4.0, grid: int = 28):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} must be divisible by num_heads {num_heads}")
        self.patch_size, self.embed_dim = patch_size, embed_dim
        self.patch_embed = _PatchEmbed(patch_size, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + 1, embed_dim))
        self.blocks = nn.ModuleList(_Block(embed_dim, num_heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def interpolate_pos_encoding(self, tokens: int, height: int, width: int) -> torch.Tensor:
        """DINO's resizing of the 28 x 28 positional embedding to ``height x width`` pixels.

        Bicubic, with DINO's ``scale_factor = (rows + 0.1) / 28`` (the 0.1 "avoids floating point
        error"; with an explicit scale factor PyTorch also uses it to map coordinates, so it is
        part of the result and is kept).
        """
        grid = self.pos_embed.shape[1] - 1
        if tokens - 1 == grid and height == width:
            return self.pos_embed
        side = int(math.sqrt(grid))
        rows, cols = height // self.patch_size + 0.1, width // self.patch_size + 0.1
        patch_pos = self.pos_embed[:, 1:].reshape(1, side, side, -1).permute(0, 3, 1, 2)
        patch_pos = F.interpolate(patch_pos, scale_factor=(rows / side, cols / side), mode="bicubic")
        if (int(rows), int(cols)) != tuple(patch_pos.shape[-2:]):
            raise ValueError(f"positional embedding resized to {tuple(patch_pos.shape[-2:])}, expected "
                             f"{(int(rows), int(cols))}")
        patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, -1, self.embed_dim)
        return torch.cat([self.pos_embed[:, :1], patch_pos], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised image :math:`(B, 3, H, W)` (H, W divisible by the patch) -> the last block's
        layer-normed patch tokens :math:`(B, D, H/p, W/p)` (STEGO's ``feat``)."""
        b, _, h, w = x.shape
        if h % self.patch_size or w % self.patch_size:
            raise ValueError(f"image sides must be divisible by the patch size {self.patch_size}; got {h} x {w}")
        tokens = torch.cat([self.cls_token.expand(b, -1, -1), self.patch_embed(x)], dim=1)
        tokens = tokens + self.interpolate_pos_encoding(tokens.shape[1], h, w)
        for block in self.blocks:
            tokens = block(tokens)
        feat = self.norm(tokens)[:, 1:]
        return feat.reshape(b, h // self.patch_size, w // self.patch_size, -1).permute(0, 3, 1, 2)


class StegoHead(nn.Module):
    """STEGO's projection (``DinoFeaturizer``, ``projection_type: nonlinear``): ``code =
    cluster1(f) + cluster2(f)``, ``cluster1`` a 1x1 conv ``D -> dim``, ``cluster2`` 1x1 conv, ReLU,
    1x1 conv ``D -> D -> dim``. (STEGO's dropout before it is off in evaluation.)"""

    def __init__(self, in_dim: int = 768, dim: int = 90, nonlinear: bool = True):
        super().__init__()
        self.cluster1 = nn.Sequential(nn.Conv2d(in_dim, dim, 1))
        self.cluster2 = nn.Sequential(nn.Conv2d(in_dim, in_dim, 1), nn.ReLU(), nn.Conv2d(in_dim, dim, 1)) \
            if nonlinear else None

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        code = self.cluster1(features)
        return code + self.cluster2(features) if self.cluster2 is not None else code


def reduce_centroids(centroids: torch.Tensor, k: int, seed: int = AUTHORS_SEED, tol: float = 1e-4,
                     max_iterations: int = 1000) -> torch.Tensor:
    """Cluster STEGO's centres into ``k`` (the released code's ``kmeans_pytorch.kmeans``, Euclidean).

    Initial centres: rows ``np.random.RandomState(seed).choice(n, k, replace=False)`` (what
    ``np.random.seed(122); np.random.choice(...)`` draws); then Lloyd steps (assign to the nearest
    centre in squared Euclidean distance, move each centre to its cluster's mean) until the sum of
    the centres' shifts, squared, is below ``tol``. In float32, as the released call. An emptied
    cluster takes a random row (the released code draws it from torch's unseeded global generator;
    here from a generator seeded with ``seed``).

    Args:
        centroids: :math:`(n, D)` cluster centres (27 x 90 for the COCO-Stuff checkpoint).
        k: ``1 <= k <= n``; ``k == n`` returns them unchanged.

    Returns:
        :math:`(k, D)` float32 centres, in k-means' cluster order (the new class ids).
    """
    if centroids.ndim != 2 or not 1 <= k <= centroids.shape[0]:
        raise ValueError(f"need (n, D) centroids and 1 <= k <= n; got {tuple(centroids.shape)} and k = {k}")
    x = centroids.detach().float().cpu()
    if k == x.shape[0]:
        return x.clone()
    state = x[torch.from_numpy(np.random.RandomState(seed).choice(x.shape[0], k, replace=False))].clone()
    generator = torch.Generator().manual_seed(seed)
    for _ in range(max_iterations):
        choice = ((x[:, None, :] - state[None, :, :]) ** 2).sum(-1).argmin(1)
        previous = state.clone()
        sums = torch.zeros_like(state).index_add_(0, choice, x)
        counts = torch.bincount(choice, minlength=k)
        empty = counts == 0
        if bool(empty.any()):
            sums[empty] = x[torch.randint(x.shape[0], (int(empty.sum()),), generator=generator)]
            counts = torch.where(empty, 1, counts)
        state = sums / counts[:, None].to(state.dtype)
        shift = torch.sqrt(((state - previous) ** 2).sum(1)).sum()
        if float(shift) ** 2 < tol:
            break
    return state


class StegoPrior(nn.Module):
    """STEGO as a :class:`~reference_models.spcolor.prior.SemanticPrior` (frozen, eval mode).

    Args:
        vit: the DINO backbone.
        head: STEGO's projection.
        centroids: :math:`(k, dim)` cluster centres (already reduced to ``k``).
        input_size: images are resized to this square (bilinear), as the released code (256).
        out_size: side of the returned maps (64).
        alpha: softmax sharpness of ``ClusterLookup`` (10).
        gray_reference: False: the reference is seen in colour, as the released code.
    """

    def __init__(self, vit: DinoViT, head: StegoHead, centroids: torch.Tensor, input_size: int = 256,
                 out_size: int = 64, alpha: float = 10.0, gray_reference: bool = False):
        super().__init__()
        self.vit, self.head = vit, head
        self.register_buffer("centroids", centroids.detach().clone().float())
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.num_classes = centroids.shape[0]
        self.input_size, self.out_size, self.alpha, self.gray_reference = input_size, out_size, alpha, gray_reference
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> StegoPrior:
        return super().train(False)  # always frozen

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> PriorOutput:
        """Images :math:`(B, 3, H, W)` RGB in [0, 1] (or :math:`(B, 1, H, W)` CIELAB L, seen as its gray
        image) -> :class:`~reference_models.spcolor.prior.PriorOutput` at ``out_size`` (class = argmax,
        confidence = max of ``softmax(10 cos(code, mu))``)."""
        check_images(images)
        if images.shape[1] == 1:
            images = gray_from_l(images)
        x = (images - self.mean) / self.std
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False)
        return cluster_maps(cluster_probabilities(self.head(self.vit(x)), self.centroids, self.alpha), self.out_size)


def _require(state: Mapping[str, torch.Tensor], keys: list[str], path) -> None:
    missing = [key for key in keys if key not in state]
    if missing:
        raise ColorbenchError(f"{path} is not a STEGO (DINO ViT) checkpoint: it lacks {', '.join(missing[:4])}")


def load_stego_prior(path: str | os.PathLike | None = None, num_classes: int = 27, seed: int = AUTHORS_SEED,
                     out_size: int = 64, input_size: int = 256) -> StegoPrior:
    """Build a :class:`StegoPrior` from a STEGO checkpoint (read with :func:`read_stego_checkpoint`).

    The ViT's size (width, depth, patch, grid) and the head's are read from the tensors' shapes
    (heads = width / 64, DINO's convention); ``cluster_probe.clusters`` are the centres.

    Args:
        path: the checkpoint; ``None`` = the weights registry's :data:`STEGO_WEIGHTS` entry.
        num_classes: ``k``; below the checkpoint's 27 the centres are reduced by :func:`reduce_centroids`.
        seed: the reduction's seed (the released 122).
        out_size: side of the maps (64).
        input_size: resize side before the ViT (256).

    Raises:
        ColorbenchError: unreadable, refused, or not a STEGO checkpoint; ``num_classes`` out of range.
    """
    if path is None:
        from bench.core.weights import ensure_weights

        path = ensure_weights(STEGO_WEIGHTS)
    state = read_stego_checkpoint(path)
    _require(state, ["net.model.cls_token", "net.model.pos_embed", "net.model.patch_embed.proj.weight",
                     "net.cluster1.0.weight", "cluster_probe.clusters"], path)
    vit_state = {k[len("net.model."):]: v for k, v in state.items() if k.startswith("net.model.")
                 and not k.startswith("net.model.head.")}
    embed_dim = vit_state["cls_token"].shape[-1]
    patch = vit_state["patch_embed.proj.weight"].shape[-1]
    depth = len({k.split(".")[1] for k in vit_state if k.startswith("blocks.")})
    hidden = vit_state["blocks.0.mlp.fc1.weight"].shape[0] if "blocks.0.mlp.fc1.weight" in vit_state else 4 * embed_dim
    grid = math.isqrt(vit_state["pos_embed"].shape[1] - 1)
    vit = DinoViT(patch, embed_dim, depth, max(1, embed_dim // 64), hidden / embed_dim, grid)
    try:
        vit.load_state_dict(vit_state, strict=True)
    except RuntimeError as exc:
        raise ColorbenchError(f"{path}: the DINO backbone does not match a ViT ({str(exc).splitlines()[0]})") from None
    dim = state["net.cluster1.0.weight"].shape[0]
    nonlinear = "net.cluster2.0.weight" in state
    head = StegoHead(embed_dim, dim, nonlinear)
    head.load_state_dict({k[len("net."):]: v for k, v in state.items()
                          if k.startswith(("net.cluster1.", "net.cluster2."))})
    centroids = state["cluster_probe.clusters"]
    if not 1 <= num_classes <= centroids.shape[0]:
        raise ColorbenchError(f"num_classes must be between 1 and the checkpoint's {centroids.shape[0]}; "
                              f"got {num_classes}")
    return StegoPrior(vit, head, reduce_centroids(centroids, num_classes, seed), input_size, out_size)
