"""torch-fidelity's Inception run our way: the TF1 resize bit-exact, pool3 equal to its forward."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.features.inception import InceptionPool3, tf1_bilinear_resize


@pytest.mark.parametrize("shape", [(2, 3, 256, 256), (1, 3, 100, 431), (1, 3, 299, 299), (2, 3, 600, 50)])
def test_resize_is_bit_exact_to_torch_fidelity(shape):
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    x = (torch.rand(shape, generator=torch.Generator().manual_seed(0)) * 255).round()
    assert torch.equal(tf1_bilinear_resize(x), interpolate_bilinear_2d_like_tensorflow1x(x, size=(299, 299),
                                                                                          align_corners=False))


def test_pool3_equals_the_extractors_forward(random_weights):
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    random_weights("inception_fid")
    images = (torch.rand(4, 3, 120, 170, generator=torch.Generator().manual_seed(1)) * 255).to(torch.uint8)
    ours = InceptionPool3("cpu")(images)
    reference = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"]).eval()
    with torch.no_grad():
        theirs = reference(images)[0].double().numpy()
    assert ours.shape == (4, 2048) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4 * np.abs(theirs).max())
    assert np.abs(ours[1:] - ours[0]).max() > 1e-3 * np.abs(ours).max()  # images give different features
    with pytest.raises(TypeError, match="uint8"):
        InceptionPool3("cpu")(images.float())
