"""The float32 islands' two helpers."""

import torch

from reference_models.layers.precision import autocast_off, full_precision


def test_full_precision_upcasts_half_types_only():
    for dtype, expected in ((torch.bfloat16, torch.float32), (torch.float16, torch.float32),
                            (torch.float32, torch.float32), (torch.float64, torch.float64)):
        x = torch.ones(2, dtype=dtype)
        assert full_precision(x).dtype == expected
    same = torch.ones(2)
    assert full_precision(same) is same  # no copy when nothing changes


def test_autocast_off_turns_autocast_off_inside_only():
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert (a @ b).dtype == torch.bfloat16
        with autocast_off(a.device):
            assert (a @ b).dtype == torch.float32
            assert not torch.is_autocast_enabled("cpu")
        with autocast_off("cpu"):
            assert (a @ b).dtype == torch.float32
        assert (a @ b).dtype == torch.bfloat16
