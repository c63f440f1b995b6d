"""The MSA generator: config, shapes, masked-attention semantics inside the encoder, training inputs."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from bench.core.device import move_to
from bench.core.errors import ColorbenchError
from reference_models.layers.super_attention import SuperAttention
from reference_models.superattention.config import MSAConfig, upgrade_record
from reference_models.superattention.msa import ColorEncoder, MSAGenerator
from reference_models.superattention.views import collate, prepare_pair, prepare_view
from tests.helpers import colour_image
from tests.reference_models.superattention.helpers import load_msa_state_dict, postprocess

TINY = MSAConfig.tiny()


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return MSAGenerator(TINY).eval()


@pytest.fixture(scope="module")
def pair():
    """Two prepared samples at 32: one global, one with masks on both sides."""
    target, reference = colour_image(11, 96, 80), colour_image(12, 72, 88)
    t_mask = np.zeros(target.shape[:2], bool)
    t_mask[16:64, 20:80] = True
    r_mask = np.zeros(reference.shape[:2], bool)
    r_mask[30:88, 10:60] = True
    samples = [prepare_pair(target, reference, None, None, TINY.views),
               prepare_pair(target, reference, t_mask, r_mask, TINY.views)]
    return samples, collate(samples)


def run(model, batch):
    return model.forward_with_attention(batch.target_l, batch.reference_l, batch.reference_rgb, batch.target_labels,
                                        batch.reference_labels)


def test_config_from_dict_and_variants():
    config = MSAConfig.from_dict({"widths": [8, 16, 32, 64], "fusion": "concat", "attention_levels": [2, 4]})
    assert config.widths == (8, 16, 32, 64) and config.attention_levels == (2, 4) and config.fusion == "concat"
    assert MSAConfig.from_dict(config.as_dict()) == config
    with pytest.raises(ColorbenchError, match="fussion"):
        MSAConfig.from_dict({"fussion": "add"})
    with pytest.raises(ValueError, match="fusion"):
        MSAConfig(fusion="sum")
    with pytest.raises(ValueError, match="4 entries"):
        MSAConfig(widths=(8, 16, 32))
    with pytest.raises(ValueError, match="color_encoder"):
        MSAConfig(color_encoder="resnet")
    with pytest.raises(dataclasses.FrozenInstanceError):
        TINY.fusion = "concat"
    assert TINY.superpixels.levels == 4 and TINY.superpixels.base_segments == 32
    assert MSAConfig().superpixels.n_segments(3) == 28


def test_superpixel_settings_are_one_nested_table():
    config = MSAConfig.from_dict({"input_size": 64, "superpixels": {"compactness": 10}})
    assert (config.superpixels.levels, config.superpixels.base_segments, config.superpixels.compactness) == (4, 224, 10)
    assert MSAConfig.from_dict(json.loads(json.dumps(config.as_dict()))) == config  # as a run folder stores it
    with pytest.raises(ColorbenchError, match=r"superpixels\.compactnes\b.*superpixels\.compactness"):
        MSAConfig.from_dict({"superpixels": {"compactnes": 10}})
    with pytest.raises(ColorbenchError, match=r"superpixels\.base_segments must be an integer"):
        MSAConfig.from_dict({"superpixels": {"base_segments": "many"}})
    with pytest.raises(ValueError, match="levels must be 4"):
        MSAConfig.from_dict({"superpixels": {"levels": 3}})
    # the flat form that checkpoints stored before the settings were nested
    old = {"input_size": 32, "superpixel_segments": 32, "superpixel_compactness": 0.5}
    assert upgrade_record(old) == {"input_size": 32, "superpixels": {"base_segments": 32, "compactness": 0.5}}
    assert MSAConfig.from_record(old).superpixels == dataclasses.replace(TINY.superpixels, compactness=0.5)


def test_paper_sized_shapes():
    torch.manual_seed(0)
    model = MSAGenerator(MSAConfig(pretrained_color_encoder=False)).eval()
    assert [a.channels for a in model.attention] == [64, 128, 256, 512]
    assert model.color_encoder.channels == (64, 128, 256, 512)
    assert [a.value_conv.in_channels for a in model.attention] == [64, 128, 256, 512]
    side = 16  # shape only: the levels are 16, 8, 4, 2 here (224, 112, 56, 28 in the paper)
    labels = [torch.arange(1, (side >> i) ** 2 + 1).view(1, side >> i, side >> i) for i in range(4)]
    with torch.no_grad():
        ab = model(torch.rand(1, 1, side, side), torch.rand(1, 1, side, side), torch.rand(1, 3, side, side),
                   labels, labels)
    assert ab.shape == (1, 2, side, side)
    assert 30e6 < sum(p.numel() for p in model.parameters()) < 34e6


def test_forward_shapes_and_range(tiny_model, pair):
    _, batch = pair
    out = run(tiny_model, batch)
    assert out.ab.shape == (2, 2, 32, 32)
    assert out.ab.abs().max() <= 1.0 and out.ab.std() > 0
    assert [a.features.shape[-1] for a in out.attention] == [32, 16, 8, 4]


def test_masked_reference_superpixels_get_zero_attention(tiny_model, pair):
    _, batch = pair
    out = run(tiny_model, batch)
    for level, result in enumerate(out.attention):
        assert (batch.reference_labels[level][1] == 0).any()
        assert (result.attention[1, :, 0] == 0).all() and not result.reference_valid[1, 0]
        # the unmasked sample attends globally: every reference superpixel is valid
        n_r = int(batch.reference_labels[level][0].max())
        assert result.reference_valid[0, 1:n_r + 1].all()


def test_target_outside_mask_keeps_its_own_features(tiny_model, pair):
    _, batch = pair
    captured = {}
    hook = tiny_model.merge[0].register_forward_hook(lambda m, i, o: captured.update(skip=i[0][:, TINY.widths[0]:]))
    try:
        out = run(tiny_model, batch)
    finally:
        hook.remove()
    with torch.no_grad():
        own = tiny_model.encoder.level(0, batch.target_l)
    outside = batch.target_labels[0][1] == 0
    assert outside.any()
    assert (out.attention[0].features[1][:, outside] == 0).all()
    assert torch.equal(captured["skip"][1][:, outside], own[1][:, outside])  # f_T + 0
    assert not torch.equal(captured["skip"][1][:, ~outside], own[1][:, ~outside])


def test_mask_changes_the_result(tiny_model, pair):
    _, batch = pair
    out = run(tiny_model, batch)
    assert not torch.allclose(out.ab[0], out.ab[1])  # same images, only the masks differ


def test_batched_equals_one_by_one(tiny_model, pair):
    samples, batch = pair
    together = run(tiny_model, batch).ab
    for k, sample in enumerate(samples):
        alone = run(tiny_model, collate([sample])).ab
        assert (alone[0] - together[k]).abs().max() < 1e-5


def test_gradients_reach_the_colour_encoder(pair):
    _, batch = pair
    torch.manual_seed(0)
    model = MSAGenerator(TINY).train()
    run(model, batch).ab.square().mean().backward()
    assert model.color_encoder.features[0].weight.grad.abs().sum() > 0
    assert model.attention[3].query_conv.weight.grad.abs().sum() > 0
    frozen = MSAGenerator(dataclasses.replace(TINY, train_color_encoder=False)).train()
    assert not frozen.color_encoder.training
    run(frozen, batch).ab.square().mean().backward()
    assert all(p.grad is None for p in frozen.color_encoder.parameters())


def test_variants_build_and_run(pair):
    _, batch = pair
    base = sum(p.numel() for p in MSAGenerator(TINY).parameters())
    for overrides in ({"fusion": "concat"}, {"shared_reference_encoder": True}, {"attention_levels": (3, 4)},
                      {"color_encoder": "vgg19_bn"}):
        model = MSAGenerator(dataclasses.replace(TINY, **overrides)).eval()
        out = run(model, batch)
        assert out.ab.shape == (2, 2, 32, 32), overrides
        assert sum(p.numel() for p in model.parameters()) != base, overrides
    shared = MSAGenerator(dataclasses.replace(TINY, shared_reference_encoder=True))
    assert shared.reference_encoder is None
    partial = MSAGenerator(dataclasses.replace(TINY, attention_levels=(3, 4)))
    assert [isinstance(a, SuperAttention) for a in partial.attention] == [False, False, True, True]


def test_prepare_pair_and_collate(pair):
    samples, batch = pair
    sample = samples[1]
    assert sample["target_l"].shape == (1, 32, 32) and sample["target_l"].dtype == np.float32
    assert 0 <= sample["target_l"].min() and sample["target_l"].max() <= 1
    assert sample["target_ab"].shape == (2, 32, 32) and np.abs(sample["target_ab"]).max() <= 1
    assert sample["reference_rgb"].shape == (3, 32, 32)
    assert [lab.shape for lab in sample["target_labels"]] == [(32, 32), (16, 16), (8, 8), (4, 4)]
    assert (samples[0]["target_labels"][0] >= 1).all() and (sample["target_labels"][0] == 0).any()
    assert batch.target_input is batch.target_l  # MSA's encoder input is the lightness itself
    default = default_collate(samples)  # PyTorch's own collate gives the same tensors
    assert torch.equal(default["target_l"], batch.target_l)
    assert all(torch.equal(a, b) for a, b in zip(default["reference_labels"], batch.reference_labels))
    assert move_to(batch, "cpu").target_labels[3].dtype == torch.int64
    with pytest.raises(ValueError, match="mask"):
        prepare_pair(colour_image(1, 40, 40), colour_image(2, 40, 40), np.ones((10, 10), bool), None, TINY.views)


def test_prepare_view_caches_what_it_is_told(tmp_path, monkeypatch):
    monkeypatch.setenv("COLORBENCH_CACHE", str(tmp_path))
    target, reference = colour_image(21, 40, 40), colour_image(22, 40, 40)
    first = prepare_view(target, None, TINY.views, cache=True)
    prepare_view(reference, None, TINY.views, cache=False)
    assert len(list(tmp_path.glob("superpixels-*.npz"))) == 1  # the target only
    again = prepare_view(target, None, TINY.views, cache=True)
    assert len(list(tmp_path.glob("superpixels-*.npz"))) == 1  # read back, not computed again
    assert all(np.array_equal(first[f"labels{i}"], again[f"labels{i}"]) for i in range(4))


def test_colorize_and_postprocess(tiny_model):
    target = torch.from_numpy(colour_image(13, 70, 50)).permute(2, 0, 1)
    reference = torch.from_numpy(colour_image(14, 60, 60)).permute(2, 0, 1)
    rgb = tiny_model.colorize(target, reference)
    assert rgb.shape == (3, 50, 70) and 0 <= rgb.min() and rgb.max() <= 1
    mask = torch.zeros(50, 70, dtype=torch.bool)
    mask[10:40, 10:60] = True
    masks = (mask[None].expand(2, -1, -1), None)
    both = tiny_model.colorize(torch.stack([target] * 2), torch.stack([reference] * 2), masks=masks)
    assert both.shape == (2, 3, 50, 70)
    gray = postprocess(torch.zeros(2, 32, 32), colour_image(13, 70, 50))
    assert (gray.max(0).values - gray.min(0).values).max() < 2e-3  # ab = 0 gives neutral gray


def test_checkpoint_round_trip(tiny_model, pair, tmp_path):
    from safetensors.torch import save_file

    _, batch = pair
    save_file({k: v.contiguous() for k, v in tiny_model.state_dict().items()}, str(tmp_path / "msa.safetensors"))
    torch.save({"state_dict": tiny_model.state_dict()}, tmp_path / "msa.pt")
    expected = run(tiny_model, batch).ab
    for name in ("msa.safetensors", "msa.pt"):
        loaded = load_msa_state_dict(tmp_path / name, TINY)
        assert torch.equal(run(loaded, batch).ab, expected)


def test_forward_exception(tiny_model, pair):
    _, batch = pair
    args = [batch.target_l, batch.reference_l, batch.reference_rgb, batch.target_labels, batch.reference_labels]
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        tiny_model(batch.reference_rgb, *args[1:])
    with pytest.raises(ValueError, match="4 levels"):
        tiny_model(*args[:3], batch.target_labels[:3], batch.reference_labels)
    with pytest.raises(ValueError, match="divisible by 8"):
        tiny_model(batch.target_l[..., :28, :28], *args[1:])
    with pytest.raises(TypeError, match="torch.Tensor"):
        tiny_model(batch.target_l.numpy(), *args[1:])


def test_pretrained_colour_encoder_comes_from_the_registry(random_weights):
    (path,) = random_weights("vgg19")
    encoder = ColorEncoder("vgg19", pretrained=True)
    state = torch.load(path, weights_only=True)
    assert torch.equal(encoder.features[0].weight, state["features.0.weight"])
    assert torch.equal(encoder.features[25].bias, state["features.25.bias"])  # conv4_4, the last kept
    assert len(encoder.features) == 27  # truncated after relu4_4: no deeper layer, no classifier
    assert all(p.requires_grad for p in encoder.parameters())
    outputs = encoder(torch.rand(1, 3, 16, 16))
    assert [tuple(o.shape[1:]) for o in outputs] == [(64, 16, 16), (128, 8, 8), (256, 4, 4), (512, 2, 2)]
