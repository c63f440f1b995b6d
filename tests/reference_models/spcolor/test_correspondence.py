"""Both ways the semantic correspondence (SPC) runs, the batched form and the per-class loop, against
the per-sample, per-class loop structured as the released code (the oracle); the dispatch between
them; the feature network, also under bf16 autocast.

Equality is checked in float64 (1e-10): in float32 the softmax at tau = 0.01 multiplies rounding
differences by 100, so two correct float32 programs that sum in another order differ by ~1e-5
relative; a float32 check with that allowance is included.
"""

from __future__ import annotations

from functools import partial

import pytest
import torch

from benchmarks.spc_released_loop import released_loop_correspondence
from reference_models.spcolor import class_loop, correspondence
from reference_models.spcolor.correspondence import (
    AUTHORS_KEY_MAP,
    CorrespondenceNet,
    auto_method,
    choose_tile,
    convert_authors_state_dict,
    semantic_correspondence,
)

#: (method, tile, block) of the product paths checked against the oracle; ``block`` forces many
#: blocks (the online softmax over blocks of tile pairs, or row blocks)
PATHS = {"batched": ("batched", None, None), "batched, tile 16": ("batched", 16, None),
         "batched, tile 48": ("batched", 48, None), "batched, tile 16, blocks": ("batched", 16, 2000),
         "batched, blocks": ("batched", None, 500), "loop": ("loop", None, None)}
METHODS = ("batched", "loop")


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
@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("case", list(CASES))
def test_matches_the_released_loop(case, path, grad):
    """Empty classes, classes on one side only, an ignored position, a one-class reference, k = 1."""
    method, tile, block = PATHS[path]
    kw = CASES[case]
    tf, rf, rv, ct, cr = _inputs(0, channels=16, **kw)
    k = kw["k"]
    if k > 2:
        cr[cr == 1] = 2  # class 1: target only
        ct[ct == 3] = 0  # class 3: reference only
        cr[0] = 0  # sample 0's reference is a single class
        ct[1, 0, 0] = -1  # an ignored position
    loop = released_loop_correspondence(tf, rf, rv, ct, cr, k)
    with torch.set_grad_enabled(grad):
        ours = semantic_correspondence(tf, rf, rv, ct, cr, k, tile=tile, block=block, method=method)
    _assert_same(ours, loop, atol=1e-10)
    assert bool((~loop.matched).any()) == (k > 2)  # the case really has unrelated regions


def test_released_sweep_over_27_classes_is_the_same():
    """The released loop visits all 27 classes whatever k is: the classes beyond k change nothing."""
    tf, rf, rv, ct, cr = _inputs(1, 2, 8, (6, 6), (6, 6), 5)
    _assert_same(released_loop_correspondence(tf, rf, rv, ct, cr, 5),
                 released_loop_correspondence(tf, rf, rv, ct, cr, 27), atol=0)


@pytest.mark.parametrize("method", METHODS)
def test_float32_matches_loop_within_rounding(method):
    tf, rf, rv, ct, cr = _inputs(2, 3, 32, (16, 16), (16, 16), 6, dtype=torch.float32)
    ours = semantic_correspondence(tf, rf, rv, ct, cr, 6, method=method)
    loop = released_loop_correspondence(tf, rf, rv, ct, cr, 6)
    assert torch.equal(ours.matched, loop.matched)
    torch.testing.assert_close(ours.warped, loop.warped, atol=1e-4 * float(rv.abs().max()), rtol=0)
    torch.testing.assert_close(ours.best, loop.best, atol=1e-5, rtol=0)


@pytest.mark.parametrize("method", METHODS)
def test_under_bf16_autocast_and_for_bf16_features_it_computes_in_float32(method):
    """Whoever calls it (a benchmark, a model without CorrespondenceNet's own island), the products
    and the softmax at tau = 0.01 run in float32: under autocast, and for bfloat16 features. Before
    (measured on these inputs, values up to 3.9): under autocast the loop moved the warped values by
    0.19 and the batched form stopped with a dtype error in its online softmax; with bfloat16
    features the batched form moved them by 0.21."""
    tf, rf, rv, ct, cr = _inputs(2, 3, 32, (16, 16), (16, 16), 6, dtype=torch.float32)
    tf, rf, rv = (x.bfloat16().float() for x in (tf, rf, rv))  # values a bfloat16 tensor holds exactly
    expected = semantic_correspondence(tf, rf, rv, ct, cr, 6, method=method)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        runs = {"float32 under autocast": semantic_correspondence(tf, rf, rv, ct, cr, 6, method=method),
                "bfloat16 under autocast": semantic_correspondence(tf.bfloat16(), rf.bfloat16(), rv.bfloat16(),
                                                                   ct, cr, 6, method=method)}
    for name, out in runs.items():
        assert out.warped.dtype == out.best.dtype == torch.float32, name
        assert torch.equal(out.matched, expected.matched), name
        torch.testing.assert_close(out.warped, expected.warped, atol=1e-5 * float(rv.abs().max()), rtol=0, msg=name)
        torch.testing.assert_close(out.best, expected.best, atol=1e-6, rtol=0, msg=name)


@pytest.mark.parametrize("method", METHODS)
def test_single_class_is_plain_nonlocal_attention(method):
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
    out = semantic_correspondence(tf, rf, rv, ones_t, ones_r, 1, method=method)
    torch.testing.assert_close(out.warped, expected, atol=1e-10, rtol=0)
    torch.testing.assert_close(out.best, f.amax(2).view(2, 5, 5), atol=1e-12, rtol=0)


@pytest.mark.parametrize("method", METHODS)
def test_unrelated_regions_are_exactly_zero(method):
    tf, rf, rv, ct, cr = _inputs(4, 2, 8, (8, 8), (8, 8), 3)
    ct[:, :4] = 2  # class 2 in the top half of each target ...
    cr[cr == 2] = 0  # ... and in no reference
    out = semantic_correspondence(tf, rf, rv, ct, cr, 3, method=method)
    unrelated = ct == 2
    assert not bool(out.matched[unrelated].any()) and bool(out.matched[~unrelated].all())
    assert bool((out.warped.permute(0, 2, 3, 1)[unrelated] == 0).all())
    assert bool((out.best[unrelated] == 0).all())
    assert bool((out.warped.permute(0, 2, 3, 1)[~unrelated] != 0).all())


@pytest.mark.parametrize("method", METHODS)
def test_no_shared_class_gives_all_zeros(method):
    tf, rf, rv, _, _ = _inputs(8, 2, 4, (4, 4), (4, 4), 2)
    out = semantic_correspondence(tf, rf, rv, torch.zeros(2, 4, 4, dtype=torch.long),
                                  torch.ones(2, 4, 4, dtype=torch.long), 2, method=method)
    assert not bool(out.matched.any())
    assert bool((out.warped == 0).all()) and bool((out.best == 0).all())


@pytest.mark.parametrize("method", METHODS)
def test_best_similarity_is_a_cosine_in_0_1(method):
    """max_j of centred cosines is >= 0 (the normalised centred keys have a positive combination equal to 0)."""
    tf, rf, rv, ct, cr = _inputs(5, 4, 16, (10, 10), (10, 10), 5)
    best = semantic_correspondence(tf, rf, rv, ct, cr, 5, method=method).best
    assert float(best.min()) >= 0.0 and float(best.max()) <= 1.0 + 1e-12


@pytest.mark.parametrize("method, tile, block", [("batched", None, None), ("batched", 16, 600), ("loop", None, None)])
def test_gradients_match_loop(method, tile, block):
    tf, rf, rv, ct, cr = _inputs(6, 2, 8, (6, 6), (6, 6), 4)
    weights = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    grads = []
    for fn in (partial(semantic_correspondence, tile=tile, block=block, method=method), released_loop_correspondence):
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
    with pytest.raises(ValueError, match="method must be one of auto, batched, loop; got 'fast'"):
        semantic_correspondence(tf, rf, rv, ct, cr, 3, method="fast")
    with pytest.raises(ValueError, match="method must be one of"):
        CorrespondenceNet(channels=4, method="fast")


def test_auto_runs_the_loop_on_a_cpu_and_the_batched_form_on_a_gpu():
    assert auto_method("cpu", 5) == auto_method(torch.device("cpu"), 27) == "loop"
    assert auto_method("cpu", 1) == "batched"  # one group per sample: the batched form's direct path is faster
    assert auto_method("cuda", 22) == auto_method(torch.device("cuda", 1), 5) == "batched"


@pytest.mark.parametrize("method, k, loops", [("auto", 4, True), ("auto", 1, False), ("batched", 4, False),
                                              ("loop", 1, True)])
def test_dispatch_calls_the_loop_only_when_chosen(method, k, loops, monkeypatch):
    calls = []
    real = class_loop.class_loop_correspondence
    monkeypatch.setattr(correspondence, "class_loop_correspondence", lambda *args: calls.append(args) or real(*args))
    tf, rf, rv, ct, cr = _inputs(9, 2, 4, (4, 4), (4, 4), k)
    out = semantic_correspondence(tf, rf, rv, ct, cr, k, method=method)
    assert len(calls) == loops
    _assert_same(out, released_loop_correspondence(tf, rf, rv, ct, cr, k), atol=1e-10)


@pytest.mark.parametrize("method, loops", [("auto", True), ("batched", False), ("loop", True)])
def test_the_network_passes_its_method_on(method, loops, monkeypatch):
    calls = []
    real = class_loop.class_loop_correspondence
    monkeypatch.setattr(correspondence, "class_loop_correspondence", lambda *args: calls.append(args) or real(*args))
    net, inputs = _network(method)
    with torch.no_grad():
        net(*inputs, num_classes=4)
    assert len(calls) == loops


def test_choose_tile_prefers_one_tile_per_group_for_one_big_group():
    counts = torch.tensor([4096, 4096, 4096])
    assert choose_tile(counts, counts, 256, 3) == 4096
    small = choose_tile(torch.full((200,), 150), torch.full((200,), 150), 256, 3)
    assert small < 512


def _network(method: str = "auto"):
    """A small network and its inputs: two targets whose top row of the 4 x 4 class map is class 3,
    which no reference holds."""
    torch.manual_seed(0)
    net = CorrespondenceNet(channels=8, method=method).eval()
    b, side = 2, 32
    vgg = {"relu2_2": torch.rand(b, 128, side // 2, side // 2), "relu3_2": torch.rand(b, 256, side // 4, side // 4),
           "relu4_2": torch.rand(b, 512, side // 8, side // 8), "relu5_2": torch.rand(b, 512, side // 16, side // 16)}
    ref_vgg = {name: torch.rand_like(x) for name, x in vgg.items()}
    ab = torch.rand(b, 2, side, side) * 200 - 100
    cls_t = torch.randint(0, 3, (b, 4, 4))
    cls_t[:, 0] = 3  # class 3 only in the targets
    cls_r = torch.randint(0, 3, (b, 4, 4))
    conf_t, conf_r = torch.rand(b, 4, 4), torch.rand(b, 4, 4)
    return net, (vgg, ref_vgg, ab, cls_t, conf_t, cls_r, conf_r)


@pytest.mark.parametrize("method", METHODS)
def test_network_shapes_range_and_zero_unrelated(method):
    net, inputs = _network(method)
    b, side = inputs[2].shape[0], inputs[2].shape[-1]
    with torch.no_grad():
        out = net(*inputs, num_classes=4)
    assert out.warped_ab.shape == (b, 2, side, side) and out.similarity.shape == (b, 1, side, side)
    assert float(out.similarity.min()) >= 0.0 and float(out.similarity.max()) <= 1.0
    unrelated = ~out.matched
    assert int(unrelated.sum()) == b * side * side // 4  # the top quarter: one row of the 4 x 4 class map
    assert bool((out.similarity[unrelated] == 0).all())
    assert bool((out.warped_ab[unrelated.expand(-1, 2, -1, -1)] == 0).all())
    assert float(out.warped_ab.abs().max()) <= 100.0  # a convex combination of the reference's (pooled) ab


def test_under_bf16_autocast_theta_phi_and_the_correspondence_run_in_float32(monkeypatch):
    """The feature network runs in bfloat16 under autocast; from its output on, theta / phi and the
    SPC give what float32 gives on the same (bfloat16) features. With theta / phi in bfloat16 (as
    before) the warped ab moved by up to 0.69 here (measured), far outside the 1e-3 allowed for
    float32 summation order."""
    net, inputs = _network()
    features = []
    net.fuse.register_forward_hook(lambda module, args, out: features.append(out))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = net(*inputs, num_classes=4)
    assert [f.dtype for f in features] == [torch.bfloat16] * 2  # the network itself did run in bfloat16
    assert mixed.warped_ab.dtype == mixed.similarity.dtype == torch.float32
    recorded = iter([f.float() for f in features])
    monkeypatch.setattr(net, "features", lambda vgg: next(recorded))
    with torch.no_grad():
        full = net(*inputs, num_classes=4)
    torch.testing.assert_close(mixed.warped_ab, full.warped_ab, atol=1e-3, rtol=0)
    torch.testing.assert_close(mixed.similarity, full.similarity, atol=1e-5, rtol=0)


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
