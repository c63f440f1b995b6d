"""The STEGO prior: reading a Lightning checkpoint through the allowlist, the architecture, the k < 27 reduction.

The real ``cocostuff27_vit_base_5.ckpt`` cannot be downloaded here. The synthetic checkpoints below
mimic its structure: a dict with ``state_dict`` (``net.model.*`` DINO ViT, ``net.cluster1/2.*``,
``cluster_probe.clusters``, probes), Lightning's bookkeeping, and ``hyper_parameters`` holding an
omegaconf-like ``DictConfig`` (stand-in classes registered under omegaconf's module names, so the
pickle names the same globals as the real file: DictConfig, ContainerMetadata, Metadata, AnyNode,
typing.Any, builtins.dict, collections.defaultdict).
"""

from __future__ import annotations

import collections
import sys
import types
import typing

import numpy as np
import pytest
import torch

from bench.core.errors import ColorbenchError
from reference_models.spcolor.prior import gray_from_l
from reference_models.spcolor.stego import (
    DinoViT,
    StegoHead,
    load_stego_prior,
    read_stego_checkpoint,
    reduce_centroids,
)

EMBED, DEPTH, PATCH, GRID, DIM = 64, 2, 8, 4, 6


def _fake_omegaconf(monkeypatch):
    """Classes named like omegaconf's, registered in sys.modules so pickle can name them."""
    made = {}
    for module_name, class_name in (("omegaconf.dictconfig", "DictConfig"), ("omegaconf.base", "ContainerMetadata"),
                                    ("omegaconf.base", "Metadata"), ("omegaconf.nodes", "AnyNode")):
        module = sys.modules.get(module_name) or types.ModuleType(module_name)
        cls = type(class_name, (), {"__module__": module_name})
        setattr(module, class_name, cls)
        monkeypatch.setitem(sys.modules, module_name, module)
        made[class_name] = cls
    monkeypatch.setitem(sys.modules, "omegaconf", sys.modules.get("omegaconf") or types.ModuleType("omegaconf"))
    metadata = made["ContainerMetadata"]()
    metadata.__dict__.update(ref_type=typing.Any, object_type=dict, optional=True, key=None, flags={},
                             resolver_cache=collections.defaultdict(dict), key_type=typing.Any, element_type=typing.Any)
    node = made["AnyNode"]()
    node.__dict__.update(_val="vit_base", _metadata=made["Metadata"](), _parent=None)
    config = made["DictConfig"]()
    config.__dict__.update(_metadata=metadata, _parent=None, _content={"model_type": node})
    return config


def _stego_state(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    vit = DinoViT(PATCH, EMBED, DEPTH, 1, 4.0, GRID)
    head = StegoHead(EMBED, DIM)
    state = {f"net.model.{k}": v for k, v in vit.state_dict().items()}
    state.update({f"net.{k}": v for k, v in head.state_dict().items()})
    state["cluster_probe.clusters"] = torch.randn(27, DIM)
    state["train_cluster_probe.clusters"] = torch.randn(27, DIM)
    state["linear_probe.weight"] = torch.randn(27, DIM, 1, 1)
    state["decoder.weight"] = torch.randn(EMBED, DIM, 1, 1)
    return state


@pytest.fixture
def checkpoint(tmp_path, monkeypatch):
    config = _fake_omegaconf(monkeypatch)
    path = tmp_path / "cocostuff27_vit_base_5.ckpt"
    torch.save({"epoch": 5, "global_step": 7000, "pytorch-lightning_version": "1.5.10", "state_dict": _stego_state(),
                "callbacks": {"ModelCheckpoint{'monitor': None}": {"best_model_score": torch.tensor(0.5)}},
                "optimizer_states": [{"state": {}, "param_groups": [{"lr": 5e-4, "params": [0, 1]}]}],
                "lr_schedulers": [], "hparams_name": "kwargs", "hyper_parameters": {"n_classes": 27, "cfg": config}},
               path)
    return path


def test_reads_a_lightning_checkpoint_without_its_classes(checkpoint, monkeypatch):
    for name in ("omegaconf", "omegaconf.dictconfig", "omegaconf.base", "omegaconf.nodes"):
        monkeypatch.delitem(sys.modules, name)  # as on a machine without omegaconf
    found = set(torch.serialization.get_unsafe_globals_in_checkpoint(checkpoint))
    assert {"omegaconf.dictconfig.DictConfig", "typing.Any", "collections.defaultdict"} <= found
    state = read_stego_checkpoint(checkpoint)
    assert set(state) == set(_stego_state())
    assert torch.equal(state["cluster_probe.clusters"], _stego_state()["cluster_probe.clusters"])


evil_calls: list[str] = []


def test_refuses_a_file_with_an_unexpected_class(tmp_path, monkeypatch):
    evil = types.ModuleType("evilpkg")

    def mark(note):  # what unpickling would run
        evil_calls.append(note)
        return note

    mark.__module__, mark.__qualname__ = "evilpkg", "mark"
    evil.mark = mark
    monkeypatch.setitem(sys.modules, "evilpkg", evil)

    class Payload:
        def __reduce__(self):
            return mark, ("ran",)

    config = _fake_omegaconf(monkeypatch)
    path = tmp_path / "trojan.ckpt"
    torch.save({"state_dict": _stego_state(), "hyper_parameters": {"cfg": config, "x": Payload()}}, path)
    with pytest.raises(ColorbenchError) as error:
        read_stego_checkpoint(path)
    message = str(error.value)
    assert "evilpkg.mark" in message and "safetensors" in message and str(path) in message
    assert "\n" not in message
    assert evil_calls == []  # nothing in the file ran
    with pytest.raises(ColorbenchError, match="evilpkg.mark"):
        load_stego_prior(path)


def test_missing_file_and_not_a_stego_file(tmp_path):
    with pytest.raises(ColorbenchError, match="not found"):
        read_stego_checkpoint(tmp_path / "absent.ckpt")
    other = tmp_path / "other.pth"
    torch.save({"state_dict": {"conv.weight": torch.zeros(1)}}, other)
    with pytest.raises(ColorbenchError, match="lacks"):
        load_stego_prior(other)


def test_prior_from_checkpoint_and_its_safetensors_conversion(checkpoint, tmp_path):
    from safetensors.torch import save_file

    prior = load_stego_prior(checkpoint, num_classes=27, input_size=32, out_size=8)
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 48, 40, generator=g)  # resized to 32 x 32 inside
    out = prior(images)
    assert out.classes.shape == (2, 8, 8) and out.classes.dtype == torch.int64
    assert int(out.classes.max()) < 27 and float(out.confidence.min()) > 0 and float(out.confidence.max()) <= 1
    assert not prior.gray_reference and prior.num_classes == 27
    lightness = torch.rand(2, 1, 32, 32, generator=g) * 100
    assert torch.equal(prior(lightness).classes, prior(gray_from_l(lightness)).classes)  # L is seen as its gray image
    converted = tmp_path / "stego.safetensors"
    save_file({k: v.contiguous() for k, v in read_stego_checkpoint(checkpoint).items()}, str(converted))
    again = load_stego_prior(converted, num_classes=27, input_size=32, out_size=8)(images)
    assert torch.equal(again.classes, out.classes) and torch.equal(again.confidence, out.confidence)


def test_prior_probabilities_are_stegos_cluster_lookup(checkpoint):
    """softmax(10 cos(code, centre)) over the centres, from the same ViT and head, computed by hand."""
    prior = load_stego_prior(checkpoint, num_classes=27, input_size=32, out_size=4)
    images = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    x = (images - prior.mean) / prior.std
    code = prior.head(prior.vit(x))[0].flatten(1).T  # (16, DIM)
    centres = _stego_state()["cluster_probe.clusters"]
    cos = torch.nn.functional.normalize(code, dim=1) @ torch.nn.functional.normalize(centres, dim=1).T
    conf, cls = torch.softmax(10 * cos, dim=1).max(1)
    out = prior(images)
    assert torch.equal(out.classes[0].flatten(), cls)
    torch.testing.assert_close(out.confidence[0].flatten(), conf)


def _released_kmeans(x: torch.Tensor, k: int, seed: int) -> torch.Tensor:
    """kmeans_pytorch 0.3's loop (Euclidean), after the released ``np.random.seed(122)``."""
    state = x[np.random.RandomState(seed).choice(len(x), k, replace=False)].clone()
    while True:
        choice = ((x[:, None] - state[None]) ** 2).sum(-1).argmin(1)
        previous = state.clone()
        for index in range(k):
            state[index] = x[choice == index].mean(0)
        if float(torch.sqrt(((state - previous) ** 2).sum(1)).sum()) ** 2 < 1e-4:
            return state


def test_reduce_centroids_is_the_released_kmeans():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(27, 90, generator=g)
    for k in (1, 5, 22):
        ours = reduce_centroids(centres, k)
        torch.testing.assert_close(ours, _released_kmeans(centres, k, 122), atol=1e-5, rtol=0)
        assert torch.equal(ours, reduce_centroids(centres, k))  # deterministic for the seed
    assert not torch.equal(reduce_centroids(centres, 5, seed=1), reduce_centroids(centres, 5))
    assert torch.equal(reduce_centroids(centres, 27), centres)
    with pytest.raises(ValueError, match="k = 28"):
        reduce_centroids(centres, 28)


def test_prior_with_fewer_classes(checkpoint):
    prior = load_stego_prior(checkpoint, num_classes=5, input_size=32, out_size=8)
    assert prior.centroids.shape == (5, DIM)
    out = prior(torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2)))
    assert int(out.classes.max()) < 5
    with pytest.raises(ColorbenchError, match="num_classes"):
        load_stego_prior(checkpoint, num_classes=30)


def test_vit_positional_embedding_follows_the_image_size():
    vit = DinoViT(PATCH, EMBED, 1, 1, 4.0, GRID)
    assert vit(torch.randn(1, 3, 48, 24)).shape == (1, EMBED, 6, 3)
    assert vit.interpolate_pos_encoding(GRID * GRID + 1, 32, 32) is vit.pos_embed  # the trained size: unchanged
    with pytest.raises(ValueError, match="divisible"):
        vit(torch.randn(1, 3, 30, 32))
