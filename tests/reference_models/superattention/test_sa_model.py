"""The released super-attention generator: checkpoint layout, forward, preprocessing, colorize.

Exact equality with the authors' code is checked outside the test suite (their code needs
torch_scatter); these tests pin the layout, the preprocessing formulas and the code paths.
"""

import numpy as np
import pytest
import torch
from skimage.color import rgb2gray, rgb2lab
from skimage.transform import resize
from torch import nn

from bench.core.errors import ColorbenchError
from reference_models.layers.superpixels import SuperpixelConfig
from reference_models.superattention.config import SAConfig
from reference_models.superattention.released_preprocess import postprocess, preprocess_pair
from reference_models.superattention.sa import SAGenerator, load_sa_checkpoint
from reference_models.superattention.views import remap_luminance
from tests.helpers import colour_image
from tests.reference_models.superattention.helpers import load_released

SMALL_SP = SuperpixelConfig(levels=3, base_segments=32)
SMALL = SAConfig(input_size=32, superpixels=SMALL_SP)


def official_state_dict_layout() -> dict[str, tuple[int, ...]]:
    """The released checkpoint.pt's keys and shapes, written out from the published layout
    (reference-facts.md, "Super-attention (SA) as released"), not from our model."""
    layout: dict[str, tuple[int, ...]] = {}
    for level, c in zip((1, 2, 3, 4), (64, 128, 256, 512)):
        for conv in ("query_conv", "key_conv", "value_conv"):
            layout[f"attention_{level}.{conv}.weight"] = (c, c, 1)
            layout[f"attention_{level}.{conv}.bias"] = (c,)

    def block(name: str, channels: list[tuple[int, int]]) -> None:
        for k, (cin, cout) in enumerate(channels):
            layout[f"{name}.{3 * k}.weight"] = (cout, cin, 3, 3)
            layout[f"{name}.{3 * k}.bias"] = (cout,)
            for stat in ("weight", "bias", "running_mean", "running_var"):
                layout[f"{name}.{3 * k + 1}.{stat}"] = (cout,)
            layout[f"{name}.{3 * k + 1}.num_batches_tracked"] = ()

    block("gen1", [(3, 64), (64, 64)])
    block("gen2", [(64, 128), (128, 128)])
    block("gen3", [(128, 256), (256, 256), (256, 256)])
    block("gen4", [(256, 512), (512, 512), (512, 512)])
    block("gen5", [(256, 256)] * 3)
    block("gen6", [(128, 128)] * 3)
    block("gen7", [(64, 64)] * 3)
    layout.update({"gen4_up.weight": (512, 256, 4, 4), "gen4_up.bias": (256,),
                   "gen5_up.0.weight": (256, 128, 4, 4), "gen5_up.0.bias": (128,),
                   "gen6_up.0.weight": (128, 64, 4, 4), "gen6_up.0.bias": (64,),
                   "gen5_conv.weight": (256, 768, 1, 1), "gen5_conv.bias": (256,),
                   "gen6_conv.weight": (128, 384, 1, 1), "gen6_conv.bias": (128,),
                   "gen7_conv.weight": (64, 192, 1, 1), "gen7_conv.bias": (64,),
                   "out.0.weight": (2, 64, 1, 1), "out.0.bias": (2,)})
    return layout


class FakeValues(nn.Module):
    """A light stand-in for the VGG19-BN value network: the same three outputs, sizes and widths."""

    def __init__(self):
        super().__init__()
        self.c1, self.c2, self.c3 = nn.Conv2d(3, 64, 3, padding=1), nn.Conv2d(64, 128, 3, padding=1), \
            nn.Conv2d(128, 256, 3, padding=1)

    def forward(self, rgb):
        r1 = torch.relu(self.c1(rgb))
        r2 = torch.relu(self.c2(nn.functional.max_pool2d(r1, 2)))
        return {"relu1_2": r1, "relu2_2": r2, "relu3_4": torch.relu(self.c3(nn.functional.max_pool2d(r2, 2)))}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SAGenerator(SMALL, value_encoder=FakeValues()).eval()


def random_official_checkpoint(path, seed=0):
    gen = torch.Generator().manual_seed(seed)
    state = {k: (torch.randn(shape, generator=gen) * 0.05 if shape else torch.tensor(7))
             for k, shape in official_state_dict_layout().items()}
    for k, value in state.items():
        if k.endswith("running_var"):
            state[k] = value.abs() + 0.5
    torch.save({"state_dict": state, "epoch": 3}, path)
    return state


def test_official_checkpoint_layout_loads_strictly(tmp_path):
    layout = official_state_dict_layout()
    assert len(layout) == 171
    path = tmp_path / "checkpoint.pt"
    state = random_official_checkpoint(path)
    loaded = load_released(path, value_encoder=FakeValues())  # torch.load(weights_only=True), strict
    ours = loaded.state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == layout
    assert all(torch.equal(ours[k], state[k]) for k in layout)
    assert not any(k.startswith("value_encoder") for k in ours)  # the VGG stays out of the state dict
    assert sum(p.numel() for p in loaded.parameters()) == pytest.approx(14.03e6, rel=0.01)  # "about 14.0 M"
    assert not loaded.training


def test_checkpoint_errors(tmp_path):
    with pytest.raises(ColorbenchError, match="not found"):
        load_sa_checkpoint(tmp_path / "nope.pt")
    torch.save({"state_dict": [1, 2]}, tmp_path / "bad.pt")
    with pytest.raises(ColorbenchError, match="no state dict"):
        load_sa_checkpoint(tmp_path / "bad.pt")
    state = {k: torch.zeros(s) for k, s in official_state_dict_layout().items()}
    del state["attention_4.key_conv.bias"]
    torch.save({"state_dict": state}, tmp_path / "short.pt")
    with pytest.raises(RuntimeError, match="attention_4.key_conv.bias"):
        load_released(tmp_path / "short.pt", value_encoder=FakeValues())


def sample_inputs(model, batch=2, side=32):
    gen = torch.Generator().manual_seed(1)
    target = torch.rand(batch, 1, side, side, generator=gen).expand(-1, 3, -1, -1)
    ref_l = torch.rand(batch, 1, side, side, generator=gen).expand(-1, 3, -1, -1)
    ref_rgb = torch.rand(batch, 3, side, side, generator=gen)
    labels = [torch.randint(1, 9, (batch, side >> i, side >> i), generator=gen) for i in range(3)]
    ref_labels = [torch.randint(1, 7, (batch, side >> i, side >> i), generator=gen) for i in range(3)]
    return target, ref_l, ref_rgb, labels, ref_labels


def test_forward_shape_range_and_reference_dependence(model):
    target, ref_l, ref_rgb, labels, ref_labels = sample_inputs(model)
    with torch.no_grad():
        ab = model(target, ref_l, ref_rgb, labels, ref_labels)
        other = model(target, ref_l, ref_rgb.flip(-1), labels, ref_labels)
    assert ab.shape == (2, 2, 32, 32)
    assert ab.abs().max() <= 1.0
    assert not torch.allclose(ab, other)  # the reference's colours reach the output through attention


def test_forward_exception(model):
    target, ref_l, ref_rgb, labels, ref_labels = sample_inputs(model)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(target[:, :1], ref_l, ref_rgb, labels, ref_labels)
    with pytest.raises(ValueError, match="divisible by 8"):
        model(target[..., :28], ref_l, ref_rgb, labels, ref_labels)
    with pytest.raises(ValueError, match="3 levels"):
        model(target, ref_l, ref_rgb, labels[:2], ref_labels)


def test_preprocessing_formulas():
    target = colour_image(1, 90, 60)
    reference = colour_image(2, 70, 50)
    inputs = preprocess_pair(target, reference, superpixels=SMALL_SP, size=32)
    gray = rgb2gray(resize(target, (32, 32)))  # rgb2gray of the resized RGB, not CIELAB L
    ref_l = rgb2lab(resize(reference, (32, 32)))[..., 0] / 100
    np.testing.assert_array_equal(inputs.target_gray, gray)
    np.testing.assert_array_equal(inputs.reference_l, ref_l)
    np.testing.assert_array_equal(inputs.target_gray_full, rgb2gray(target))
    assert inputs.target_map.mean() == pytest.approx(ref_l.mean())
    assert inputs.target_map.std() == pytest.approx(ref_l.std())  # population std, as numpy's default
    assert [lab.shape for lab in inputs.target_labels] == [(32, 32), (16, 16), (8, 8)]
    assert min(lab.min() for lab in inputs.reference_labels) == 1


def test_remap_of_a_constant_image_is_finite():
    out = remap_luminance(np.full((4, 4), 0.3), np.linspace(0, 1, 16).reshape(4, 4))
    assert np.isfinite(out).all() and out.mean() == pytest.approx(0.5)


def test_postprocess_keeps_the_full_resolution_gray():
    gray_full = rgb2gray(colour_image(3, 50, 40))
    rgb = postprocess(torch.zeros(2, 32, 32), gray_full)
    assert rgb.shape == (3, 40, 50)
    assert (rgb.max(0).values - rgb.min(0).values).max() < 2e-3  # ab = 0: neutral gray
    lab = rgb2lab(rgb.permute(1, 2, 0).double().numpy())
    assert np.abs(lab[..., 0] - gray_full * 100).max() < 0.05  # L = rgb2gray * 100


def test_colorize_single_batched_and_masked(model):
    target = torch.from_numpy(colour_image(4, 48, 40)).permute(2, 0, 1)
    reference = torch.from_numpy(colour_image(5, 36, 44)).permute(2, 0, 1)
    rgb = model.colorize(target, reference)
    assert rgb.shape == (3, 40, 48) and rgb.dtype == torch.float32
    assert 0 <= rgb.min() and rgb.max() <= 1
    batched = model.colorize(torch.stack([target, target]), torch.stack([reference, reference.flip(-1)]))
    assert batched.shape == (2, 3, 40, 48)
    assert torch.allclose(batched[0], rgb, atol=1e-5)
    t_mask = torch.zeros(40, 48, dtype=torch.bool)
    t_mask[10:30, 12:40] = True
    masked = model.colorize(target, reference, masks=(t_mask, None))
    assert masked.shape == rgb.shape and not torch.allclose(masked, rgb)
    with pytest.raises(ValueError, match="pair"):
        model.colorize(target, reference, masks=t_mask)
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        model.colorize(target[:1], reference)


def test_real_value_encoder_is_loaded_frozen_and_outside_the_state_dict(random_weights):
    (path,) = random_weights("vgg19_bn")
    model = SAGenerator()
    file_state = torch.load(path, weights_only=True)
    encoder = model.value_encoder
    assert torch.equal(encoder.features[0].weight, file_state["features.0.weight"])
    assert torch.equal(encoder.features[24].running_var, file_state["features.24.running_var"])
    assert not any(p.requires_grad for p in encoder.parameters())
    assert set(model.state_dict()) == set(official_state_dict_layout())
    model.train()
    assert model.gen1.training and not encoder.training
    model.double()
    assert encoder.features[0].weight.dtype == torch.float64
