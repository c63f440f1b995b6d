"""The vectorised semantic correspondence (SPC) against the per-sample, per-class loop of the released code.

Equality is checked in float64 (1e-10): in float32 the softmax at tau = 0.01 multiplies rounding
differences by 100, so two correct float32 programs that sum in another order differ by ~1e-5
relative; a float32 check with that allowance is included.
"""

from __future__ import annotations

from functools import partial

import pytest
import torch

from reference_models.spcolor._oracle import loop_correspondence
from reference_models.spcolor.correspondence import (
    AUTHORS_KEY_MAP,
    CorrespondenceNet,
    choose_tile,
    convert_authors_state_dict,
    semantic_correspondence,
)


def _inputs(seed: int, batch: int, channels: int, size: tuple[int, int], ref_size: tuple[int, int], k: int,
            dtype=torch.float64, values: int = 3):
    g = torch.Generator().manual_seed(seed)
    tf = torch.randn(batch, channels, *size, generator=g, dtype=dtype)
    rf = torch.randn(batch, channels, *ref_size, generator=g, dtype=dtype)
    rv = torch.randn(batch, values, *ref_size, generator=g, dtype=dtype)
    ct = torch.randint(0, k, (batch, *size), generator=g)
    cr = torch.randint(0, k, (batch, *ref_size), generator=g)
    return tf, rf, rv, ct, cr


def _assert_same(ours, loop, atol):
    assert torch.equal(ours.matched, loop.matched)
    torch.testing.assert_close(ours.warped, loop.warped, atol=atol, rtol=0)
    torch.testing.assert_close(ours.best, loop.best, atol=atol, rtol=0)


CASES = {
    "one class (plain non-local)": dict(batch=3, size=(8, 8), ref_size=(8, 8), k=1),
    "four classes": dict(batch=3, size=(8, 8), ref_size=(6, 10), k=4),
    "27 classes, many empty": dict(batch=4, size=(12, 12), ref_size=(12, 12), k=27),
}


@pytest.mark.parametrize("grad", [True, False], ids=["grad", "no_grad"])
@pytest.mark.parametrize("tile, block", [(None, None), (16, None), (48, None), (16, 2000), (None, 500)])
@pytest.mark.parametrize("case", list(CASES))
def test_matches_loop(case, tile, block, grad):
    """``block`` forces many blocks (the online softmax over blocks of tile pairs, or row blocks)."""
    kw = CASES[case]
    tf, rf, rv, ct, cr = _inputs(0, channels=16, **kw)
    k = kw["k"]
    if k > 2:
        cr[cr == 1] = 2  # class 1: target only
        ct[ct == 3] = 0  # class 3: reference only
        cr[0] = 0  # sample 0's reference is a single class
        ct[1, 0, 0] = -1  # an ignored position
    loop = loop_correspondence(tf, rf, rv, ct, cr, k)
    with torch.set_grad_enabled(grad):
        ours = semantic_correspondence(tf, rf, rv, ct, cr, k, tile=tile, block=block)
    _assert_same(ours, loop, atol=1e-10)
    assert bool((~loop.matched).any()) == (k > 2)  # the case really has unrelated regions


def test_loop_with_released_indexing_is_the_same_loop():
    tf, rf, rv, ct, cr = _inputs(1, 2, 8, (6, 6), (6, 6), 5)
    a = loop_correspondence(tf, rf, rv, ct, cr, 5)
    b = loop_correspondence(tf, rf, rv, ct, cr, 27, channel_masks=True)  # the released 27-class sweep
    _assert_same(a, b, atol=0)


def test_float32_matches_loop_within_rounding():
    tf, rf, rv, ct, cr = _inputs(2, 3, 32, (16, 16), (16, 16), 6, dtype=torch.float32)
    ours = semantic_correspondence(tf, rf, rv, ct, cr, 6)
    loop = loop_correspondence(tf, rf, rv, ct, cr, 6)
    assert torch.equal(ours.matched, loop.matched)
    torch.testing.assert_close(ours.warped, loop.warped, atol=1e-4 * float(rv.abs().max()), rtol=0)
    torch.testing.assert_close(ours.best, loop.best, atol=1e-5, rtol=0)


def test_single_class_is_plain_nonlocal_attention():
    """k = 1: centred, normalised features; softmax over every reference position (Zhang et al. 2019)."""
    tf, rf, rv, _, _ = _inputs(3, 2, 8, (5, 5), (4, 6), 1)
    ones_t = torch.zeros(2, 5, 5, dtype=torch.long)
    ones_r = torch.zeros(2, 4, 6, dtype=torch.long)
    theta = tf.flatten(2).transpose(1, 2)
    theta = theta - theta.mean(1, keepdim=True)
    theta = theta / theta.norm(dim=2, keepdim=True)
    phi = rf.flatten(2)
    phi = phi - phi.mean(2, keepdim=True)
    phi = phi / phi.norm(dim=1, keepdim=True)
    f = theta @ phi
    expected = (torch.softmax(f / 0.01, dim=2) @ rv.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(2, 3, 5, 5)
    out = semantic_correspondence(tf, rf, rv, ones_t, ones_r, 1)
    torch.testing.assert_close(out.warped, expected, atol=1e-10, rtol=0)
    torch.testing.assert_close(out.best, f.amax(2).view(2, 5, 5), atol=1e-12, rtol=0)


def test_unrelated_regions_are_exactly_zero():
    tf, rf, rv, ct, cr = _inputs(4, 2, 8, (8, 8), (8, 8), 3)
    ct[:, :4] = 2  # class 2 in the top half of each target ...
    cr[cr == 2] = 0  # ... and in no reference
    out = semantic_correspondence(tf, rf, rv, ct, cr, 3)
    unrelated = ct == 2
    assert not bool(out.matched[unrelated].any()) and bool(out.matched[~unrelated].all())
    assert bool((out.warped.permute(0, 2, 3, 1)[unrelated] == 0).all())
    assert bool((out.best[unrelated] == 0).all())
    assert bool((out.warped.permute(0, 2, 3, 1)[~unrelated] != 0).all())


def test_no_shared_class_gives_all_zeros():
    tf, rf, rv, _, _ = _inputs(8, 2, 4, (4, 4), (4, 4), 2)
    out = semantic_correspondence(tf, rf, rv, torch.zeros(2, 4, 4, dtype=torch.long),
                                  torch.ones(2, 4, 4, dtype=torch.long), 2)
    assert not bool(out.matched.any())
    assert bool((out.warped == 0).all()) and bool((out.best == 0).all())


def test_best_similarity_is_a_cosine_in_0_1():
    """max_j of centred cosines is >= 0 (the normalised centred keys have a positive combination equal to 0)."""
    tf, rf, rv, ct, cr = _inputs(5, 4, 16, (10, 10), (10, 10), 5)
    best = semantic_correspondence(tf, rf, rv, ct, cr, 5).best
    assert float(best.min()) >= 0.0 and float(best.max()) <= 1.0 + 1e-12


@pytest.mark.parametrize("tile, block", [(None, None), (16, 600)])
def test_gradients_match_loop(tile, block):
    tf, rf, rv, ct, cr = _inputs(6, 2, 8, (6, 6), (6, 6), 4)
    weights = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    grads = []
    for fn in (partial(semantic_correspondence, tile=tile, block=block), loop_correspondence):
        leaves = [x.clone().requires_grad_(True) for x in (tf, rf, rv)]
        out = fn(*leaves, ct, cr, 4)
        ((out.warped * weights).sum() + out.best.sum()).backward()
        grads.append([x.grad for x in leaves])
    for ours, loop in zip(*grads):
        torch.testing.assert_close(ours, loop, atol=1e-8, rtol=1e-8)


def test_exception():
    tf, rf, rv, ct, cr = _inputs(7, 2, 4, (4, 4), (4, 4), 3)
    with pytest.raises(TypeError, match="int64"):
        semantic_correspondence(tf, rf, rv, ct.int(), cr, 3)
    with pytest.raises(ValueError, match=r"\(B, h, w\)"):
        semantic_correspondence(tf, rf, rv, ct[:, :2], cr, 3)
    with pytest.raises(ValueError, match="num_classes"):
        semantic_correspondence(tf, rf, rv, ct, cr, 2)
    with pytest.raises(ValueError, match="reference_values"):
        semantic_correspondence(tf, rf, rv[:, :, :2], ct, cr, 3)
    with pytest.raises(ValueError, match="temperature"):
        semantic_correspondence(tf, rf, rv, ct, cr, 3, temperature=0.0)
    with pytest.raises(TypeError, match="floating-point"):
        semantic_correspondence(tf.long(), rf, rv, ct, cr, 3)


def test_choose_tile_prefers_one_tile_per_group_for_one_big_group():
    counts = torch.tensor([4096, 4096, 4096])
    assert choose_tile(counts, counts, 256, 3) == 4096
    small = choose_tile(torch.full((200,), 150), torch.full((200,), 150), 256, 3)
    assert small < 512


def test_network_shapes_range_and_zero_unrelated():
    torch.manual_seed(0)
    net = CorrespondenceNet(channels=8).eval()
    b, side = 2, 32
    vgg = {"relu2_2": torch.rand(b, 128, side // 2, side // 2), "relu3_2": torch.rand(b, 256, side // 4, side // 4),
           "relu4_2": torch.rand(b, 512, side // 8, side // 8), "relu5_2": torch.rand(b, 512, side // 16, side // 16)}
    ref_vgg = {name: torch.rand_like(x) for name, x in vgg.items()}
    ab = torch.rand(b, 2, side, side) * 200 - 100
    cls_t = torch.randint(0, 3, (b, 4, 4))
    cls_t[:, 0] = 3  # class 3 only in the targets
    cls_r = torch.randint(0, 3, (b, 4, 4))
    conf_t, conf_r = torch.rand(b, 4, 4), torch.rand(b, 4, 4)
    with torch.no_grad():
        out = net(vgg, ref_vgg, ab, cls_t, conf_t, cls_r, conf_r, num_classes=4)
    assert out.warped_ab.shape == (b, 2, side, side) and out.similarity.shape == (b, 1, side, side)
    assert float(out.similarity.min()) >= 0.0 and float(out.similarity.max()) <= 1.0
    unrelated = ~out.matched
    assert int(unrelated.sum()) == b * side * side // 4  # the top quarter: one row of the 4 x 4 class map
    assert bool((out.similarity[unrelated] == 0).all())
    assert bool((out.warped_ab[unrelated.expand(-1, 2, -1, -1)] == 0).all())
    assert float(out.warped_ab.abs().max()) <= 100.0  # a convex combination of the reference's (pooled) ab


def test_authors_key_map_covers_the_network():
    net = CorrespondenceNet()
    released = {}
    for key, value in net.state_dict().items():
        for old, new in AUTHORS_KEY_MAP.items():
            if key.startswith(new):
                released[old + key[len(new):]] = value
    released["theta.weight"] = torch.zeros(256, 256, 1, 1)  # the base project's conv, unused by SPColor
    converted = convert_authors_state_dict(released)
    assert set(converted) == set(net.state_dict())
    net.load_state_dict(converted, strict=True)
