"""(Masked) super-attention: batched = per-sample loop, masking semantics, official-compatible quirks."""

import contextlib

import pytest
import torch

from reference_models.layers import super_attention
from reference_models.layers.super_attention import (
    SuperAttention,
    normalize_superfeatures,
    super_pool,
    super_unpool,
    superpixel_validity,
)


def grid_labels(height: int, width: int, rows: int, cols: int) -> torch.Tensor:
    """Block superpixels 1..rows*cols on a grid."""
    ys = torch.arange(height) * rows // height
    xs = torch.arange(width) * cols // width
    return (ys[:, None] * cols + xs[None, :] + 1).long()


def make_batch(seed: int = 0, channels: int = 6, value_channels: int = 5, side: int = 12):
    """Three samples with different superpixel counts: global (no mask), masked target and
    reference (label 0 regions), and a reference with no superpixel at all."""
    gen = torch.Generator().manual_seed(seed)
    target = torch.randn(3, channels, side, side, generator=gen)
    reference = torch.randn(3, channels, side, side, generator=gen)
    values = torch.randn(3, value_channels, side, side, generator=gen)
    t_labels = torch.stack([grid_labels(side, side, *cells) for cells in ((3, 4), (2, 2), (4, 4))])
    r_labels = torch.stack([grid_labels(side, side, *cells) for cells in ((2, 3), (3, 3), (2, 2))])
    t_labels[1, :, : side // 2] = 0  # M_T: the right half only
    r_labels[1, : side // 3] = 0  # M_R: the lower two thirds only
    r_labels[2] = 0  # no reference superpixel at this level
    return target, reference, values, t_labels, r_labels


def loop_oracle(layer: SuperAttention, target, reference, values, t_labels, r_labels):
    """Per-sample reference: boolean-mask pooling, per-sample softmax over the sample's own superpixels."""
    features, maps = [], []
    for b in range(target.shape[0]):
        t_ids = [int(i) for i in t_labels[b].unique() if i > 0]
        r_ids = [int(i) for i in r_labels[b].unique() if i > 0]
        out = torch.zeros_like(target[b])
        attention = torch.zeros(len(t_ids), len(r_ids))
        if t_ids and r_ids:
            def pool(x, lab, ids):
                return torch.stack([x[:, lab == i].amax(1) for i in ids], 1)
            f_t, f_r, v = pool(target[b], t_labels[b], t_ids), pool(reference[b], r_labels[b], r_ids), \
                pool(values[b], r_labels[b], r_ids)
            def norm(f):
                return (f - f.mean(0)) / ((f - f.mean(0)).norm(dim=0) + 1e-5)
            q = layer.query_conv(norm(f_t)[None])[0]
            k = layer.key_conv(norm(f_r)[None])[0]
            vv = layer.value_conv(v[None])[0]
            attention = torch.softmax(q.T @ k / layer.temperature, dim=1)
            attended = (attention @ vv.T).T
            for n, i in enumerate(t_ids):
                out[:, t_labels[b] == i] = attended[:, n:n + 1]
        features.append(out)
        maps.append((t_ids, r_ids, attention))
    return torch.stack(features), maps


@pytest.fixture
def layer():
    torch.manual_seed(0)
    return SuperAttention(6, value_channels=5).eval()


def test_smoke_shapes(layer):
    target, reference, values, t_labels, r_labels = make_batch()
    result = layer(target, reference, values, t_labels, r_labels)
    assert result.features.shape == target.shape
    assert result.attention.shape == (3, int(t_labels.max()) + 1, int(r_labels.max()) + 1)
    assert result.target_valid.shape == result.attention.shape[:2]
    assert result.reference_valid.shape == (3, result.attention.shape[2])
    assert torch.isfinite(result.features).all()


def test_batched_equals_per_sample_loop(layer):
    batch = make_batch(seed=1)
    result = layer(*batch)
    expected, maps = loop_oracle(layer, *batch)
    assert (result.features - expected).abs().max() < 1e-6
    compared = 0
    for b, (t_ids, r_ids, attention) in enumerate(maps):
        if t_ids and r_ids:
            assert (result.attention[b][t_ids][:, r_ids] - attention).abs().max() < 1e-6
            compared += 1
    assert compared == 2  # sample 2 has no reference superpixel
    # and one sample at a time through the batched layer gives the same again
    for b in range(3):
        single = layer(*(x[b:b + 1] for x in batch))
        assert (single.features[0] - result.features[b]).abs().max() < 1e-6


def test_reference_outside_mask_gets_exactly_zero_weight(layer):
    target, reference, values, t_labels, r_labels = make_batch(seed=2)
    result = layer(target, reference, values, t_labels, r_labels)
    outside = r_labels[1] == 0
    assert outside.any()
    assert (result.attention[:, :, 0] == 0).all()  # label 0 = outside M_R: exactly zero, every sample
    # whatever the reference shows outside M_R changes nothing
    reference2, values2 = reference.clone(), values.clone()
    reference2[1][:, outside] = 50.0 * torch.randn(int(outside.sum()) * 6).view(6, -1)
    values2[1][:, outside] = 1e3
    again = layer(target, reference2, values2, t_labels, r_labels)
    assert torch.equal(again.features[1], result.features[1])


def test_target_outside_mask_gets_nothing(layer):
    target, reference, values, t_labels, r_labels = make_batch(seed=3)
    result = layer(target, reference, values, t_labels, r_labels)
    outside = t_labels[1] == 0
    assert (result.features[1][:, outside] == 0).all()
    assert (result.features[1][:, ~outside] != 0).any()
    assert (result.attention[1, 0] == 0).all() and not result.target_valid[1, 0]
    # a residual add therefore keeps the target's own features there
    fused = target + result.features
    assert torch.equal(fused[1][:, outside], target[1][:, outside])


def test_no_mask_is_global_attention(layer):
    target, reference, values, t_labels, r_labels = make_batch(seed=4)
    result = layer(target, reference, values, t_labels, r_labels)
    n_t, n_r = int(t_labels[0].max()), int(r_labels[0].max())
    assert result.reference_valid[0, 1:n_r + 1].all() and result.target_valid[0, 1:n_t + 1].all()
    rows = result.attention[0, 1:n_t + 1, 1:n_r + 1]
    assert torch.allclose(rows.sum(1), torch.ones(n_t), atol=1e-6)
    assert (rows > 0).all()  # a softmax: every reference superpixel gets some weight


def test_empty_reference_gives_zero_output_and_finite_gradients(layer):
    target, reference, values, t_labels, r_labels = make_batch(seed=5)
    target.requires_grad_(True)
    result = layer(target, reference, values, t_labels, r_labels)
    assert (result.features[2] == 0).all() and (result.attention[2] == 0).all()
    result.features.square().sum().backward()
    assert torch.isfinite(target.grad).all() and target.grad[0].abs().sum() > 0
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())


def test_temperature_sharpens(layer):
    batch = make_batch(seed=6)
    sharp = layer(*batch).attention[0].amax(1)[1:]
    layer.temperature = 1.0
    soft = layer(*batch).attention[0].amax(1)[1:]
    assert (sharp >= soft - 1e-6).all() and (sharp > soft).any()


def test_official_compat_quirks(layer):
    target, reference, values, t_labels, r_labels = make_batch(seed=7)
    r_labels[1] = grid_labels(12, 12, 3, 3)  # global maps, as the released code sees
    t_labels[1] = grid_labels(12, 12, 2, 2)
    r_labels[2] = grid_labels(12, 12, 2, 2)
    compat = layer(target, reference, values, t_labels, r_labels, official_compat=True)
    # label 0 (no pixel) enters the softmax with zero features: a non-zero weight
    assert compat.reference_valid[:, 0].all() and (compat.attention[:, 1:5, 0] > 0).all()  # 4 targets each
    # the 1-pixel border is not pooled: changing it changes nothing; without compat it does
    border = torch.ones(12, 12, dtype=torch.bool)
    border[1:-1, 1:-1] = False
    target2 = target.clone()
    target2[..., border] = 100.0
    assert torch.equal(layer(target2, reference, values, t_labels, r_labels, official_compat=True).features,
                       compat.features)
    assert not torch.equal(layer(target2, reference, values, t_labels, r_labels).features,
                           layer(target, reference, values, t_labels, r_labels).features)
    # a superpixel lying only on the border is pooled as zeros but still takes part
    labels = grid_labels(12, 12, 2, 2)
    labels[0, :] = 5
    pooled = super_pool(reference[:1], labels[None], 6, crop_border=True)
    assert (pooled[0, :, 5] == 0).all()


def test_pool_unpool_normalize_units():
    features = torch.tensor([[[[1.0, -2.0], [3.0, -4.0]]]])  # (1, 1, 2, 2)
    labels = torch.tensor([[[1, 1], [2, 3]]])
    pooled = super_pool(features, labels, 5)
    assert pooled.tolist() == [[[0.0, 1.0, 3.0, -4.0, 0.0]]]  # negative max kept; empty bins 0
    assert super_unpool(pooled, labels).tolist() == [[[[1.0, 1.0], [3.0, -4.0]]]]
    x = torch.tensor([[[1.0, 0.0], [3.0, 0.0]]])  # (1, C=2, K=2)
    n = normalize_superfeatures(x)
    assert torch.allclose(n[0, :, 0], torch.tensor([-1.0, 1.0]) / (2**0.5 + 1e-5))
    assert (n[0, :, 1] == 0).all()
    assert superpixel_validity(labels, 5).tolist() == [[False, True, True, True, False]]


def test_module_parameter_names_and_channels():
    layer = SuperAttention(8, value_channels=16)
    names = {name: tuple(p.shape) for name, p in layer.named_parameters()}
    assert names == {"query_conv.weight": (8, 8, 1), "query_conv.bias": (8,), "key_conv.weight": (8, 8, 1),
                     "key_conv.bias": (8,), "value_conv.weight": (8, 16, 1), "value_conv.bias": (8,)}


def test_exception(layer):
    target, reference, values, t_labels, r_labels = make_batch()
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        layer(target[0], reference, values, t_labels, r_labels)
    with pytest.raises(ValueError, match="6 channels"):
        layer(target[:, :4], reference, values, t_labels, r_labels)
    with pytest.raises(ValueError, match="reference_values"):
        layer(target, reference, values[:, :3], t_labels, r_labels)
    with pytest.raises(TypeError, match="integer"):
        layer(target, reference, values, t_labels.float(), r_labels)
    with pytest.raises(ValueError, match=r"\(B, H, W\)"):
        layer(target, reference, values, t_labels[:, :6], r_labels)
    with pytest.raises(ValueError, match=">= 0"):
        layer(target, reference, values, t_labels - 2, r_labels)
    with pytest.raises(TypeError, match="torch.Tensor"):
        layer(target.numpy(), reference, values, t_labels, r_labels)
    with pytest.raises(ValueError, match="temperature"):
        SuperAttention(4, temperature=0.0)


#: what bf16 autocast may change in the layer's output and attention (values up to ~3): room for
#: another float32 summation order, 400x below what a bfloat16 attention changes (next tests)
BF16_TOLERANCE = 1e-4


def _bf16_case(official_compat: bool):
    """A layer and bfloat16 inputs (as the encoder's convolutions give them under autocast), and
    the float32 layer's output on the same values."""
    torch.manual_seed(0)
    layer = SuperAttention(32, official_compat=official_compat).eval()
    gen = torch.Generator().manual_seed(100)
    target, reference, values = (torch.randn(2, 32, 32, 32, generator=gen).relu().bfloat16() for _ in range(3))
    t_labels = grid_labels(32, 32, 8, 8).expand(2, -1, -1).contiguous()
    r_labels = grid_labels(32, 32, 7, 9).expand(2, -1, -1).clone()
    r_labels[1, :8] = 0  # a masked reference (label 0 outside M_R)
    inputs = (target, reference, values, t_labels, r_labels)
    with torch.no_grad():
        expected = layer(target.float(), reference.float(), values.float(), t_labels, r_labels)
    return layer, inputs, expected


def _deviation(mixed, expected) -> tuple[float, float]:
    return (float((mixed.features.float() - expected.features).abs().max()),
            float((mixed.attention.float() - expected.attention).abs().max()))


@pytest.mark.parametrize("official_compat", [False, True], ids=["global", "official"])
def test_bf16_autocast_gives_the_float32_result(official_compat):
    """Under bf16 autocast (training on a GPU) the layer takes bfloat16 features from the encoder's
    convolutions and must give what float32 gives on the same values: at tau = 0.01 a bfloat16
    query, key or logit moves the softmax's weights. Measured on these inputs (global / official):
    0.0 and 0.0 with the float32 island (the same float32 kernels); without it, see
    test_without_the_float32_island_bf16_fails_the_tolerance."""
    layer, inputs, expected = _bf16_case(official_compat)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = layer(*inputs)
    assert mixed.features.dtype == mixed.attention.dtype == torch.float32
    torch.testing.assert_close(mixed.features, expected.features, atol=BF16_TOLERANCE, rtol=0)
    torch.testing.assert_close(mixed.attention, expected.attention, atol=BF16_TOLERANCE, rtol=0)


@pytest.mark.parametrize("official_compat", [False, True], ids=["global", "official"])
def test_without_the_float32_island_bf16_fails_the_tolerance(official_compat, monkeypatch):
    """The layer as it was before the island (projections, logits and softmax left to autocast)
    on the same inputs: the output moved by 0.044 / 0.056 (values up to 2.4 / 2.8) and the
    attention weights by 0.053 / 0.055, so BF16_TOLERANCE tells the two apart."""
    monkeypatch.setattr(super_attention, "autocast_off", lambda device: contextlib.nullcontext())
    monkeypatch.setattr(super_attention, "full_precision", lambda x: x)
    layer, inputs, expected = _bf16_case(official_compat)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = layer(*inputs)
    assert mixed.features.dtype == torch.bfloat16  # autocast did reach the attention
    features, attention = _deviation(mixed, expected)
    assert features > 100 * BF16_TOLERANCE and attention > 100 * BF16_TOLERANCE, (features, attention)
