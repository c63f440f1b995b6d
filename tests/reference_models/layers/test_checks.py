import numpy as np
import pytest
import torch

from reference_models.layers.checks import check_array, check_tensor
from reference_models.layers.colorize_inputs import as_image_batches, split_colorize_inputs


def test_check_tensor_returns_the_tensor():
    x = torch.zeros(2, 3, 4, 5)
    assert check_tensor(x, "x", "B 3 H W", "float") is x
    assert check_tensor(x, "x") is x  # no shape, no dtype: only the type


def test_not_a_tensor():
    with pytest.raises(TypeError, match=r"^x must be a torch.Tensor; got list$"):
        check_tensor([1, 2], "x")
    with pytest.raises(TypeError, match=r"^x must be a torch.Tensor; got ndarray$"):
        check_tensor(np.zeros((2, 3)), "x", "B 3")


def test_letters_are_free_digits_must_match():
    check_tensor(torch.zeros(1, 3, 7, 9), "x", "B 3 H W")
    check_tensor(torch.zeros(5, 3, 1, 1), "x", "B 3 H W")
    with pytest.raises(ValueError, match=r"^img must have shape \(B, 3, H, W\); got \(2, 1, 8, 8\)$"):
        check_tensor(torch.zeros(2, 1, 8, 8), "img", "B 3 H W")
    with pytest.raises(ValueError, match=r"must have shape \(B, 3, H, W\); got \(3, 8, 8\)$"):
        check_tensor(torch.zeros(3, 8, 8), "img", "B 3 H W")  # too few dims
    with pytest.raises(ValueError, match=r"got \(1, 2, 3, 8, 8\)$"):
        check_tensor(torch.zeros(1, 2, 3, 8, 8), "img", "B 3 H W")  # too many
    check_tensor(torch.zeros(2, 3, 4), "x", "2 3 4")
    with pytest.raises(ValueError, match=r"\(2, 3, 4\); got \(2, 3, 5\)"):
        check_tensor(torch.zeros(2, 3, 5), "x", "2 3 4")
    check_tensor(torch.zeros(4, 6), "x", "h' w'")  # primes, as in (h', w')
    check_tensor(torch.zeros(4, 5, 6), "x", "B, H, W")  # commas are separators too
    check_tensor(torch.zeros(()), "x", "")  # a scalar


def test_star_allows_any_leading_dims():
    for shape in [(2,), (5, 2), (1, 2, 3, 2)]:
        check_tensor(torch.zeros(shape), "x", "* 2")
    with pytest.raises(ValueError, match=r"^x must have shape \(\*, 2\); got \(2, 3\)$"):
        check_tensor(torch.zeros(2, 3), "x", "* 2")
    with pytest.raises(ValueError, match=r"got \(\)"):
        check_tensor(torch.zeros(()), "x", "* 2")  # the named dims must still be there
    check_tensor(torch.zeros(()), "x", "*")


def test_alternative_shapes():
    spec = ("3 H W", "B 3 H W")
    check_tensor(torch.zeros(3, 4, 4), "x", spec)
    check_tensor(torch.zeros(2, 3, 4, 4), "x", spec)
    with pytest.raises(ValueError, match=r"^x must have shape \(3, H, W\) or \(B, 3, H, W\); got \(4, 4\)$"):
        check_tensor(torch.zeros(4, 4), "x", spec)


def test_dtype():
    check_tensor(torch.zeros(2, dtype=torch.float16), "x", dtype="float")
    check_tensor(torch.zeros(2, dtype=torch.int32), "x", dtype="integer")
    check_tensor(torch.zeros(2, dtype=torch.int64), "x", dtype=torch.int64)
    check_tensor(torch.zeros(2, dtype=torch.uint8), "x", dtype=(torch.uint8, "float"))
    with pytest.raises(TypeError, match=r"^x must be floating-point; got dtype torch.int64$"):
        check_tensor(torch.zeros(2, dtype=torch.int64), "x", dtype="float")
    with pytest.raises(TypeError, match=r"^x must be int64; got dtype torch.int32$"):
        check_tensor(torch.zeros(2, dtype=torch.int32), "x", dtype=torch.int64)
    with pytest.raises(TypeError, match=r"^x must be uint8 or floating-point; got dtype torch.int16$"):
        check_tensor(torch.zeros(2, dtype=torch.int16), "x", dtype=(torch.uint8, "float"))
    for not_integer in (torch.bool, torch.float32, torch.complex64):
        with pytest.raises(TypeError, match="must be integer"):
            check_tensor(torch.zeros(2, dtype=not_integer), "x", dtype="integer")


def test_shape_is_checked_before_dtype():
    with pytest.raises(ValueError, match="shape"):
        check_tensor(torch.zeros(2, dtype=torch.int64), "x", "B 3", "float")


def test_bad_specs_are_rejected():
    with pytest.raises(ValueError, match="bad shape spec"):
        check_tensor(torch.zeros(2, 3), "x", "B *")  # '*' only leads
    with pytest.raises(ValueError, match="bad shape spec"):
        check_tensor(torch.zeros(2, 3), "x", "B -1")
    with pytest.raises(ValueError, match="bad dtype spec"):
        check_tensor(torch.zeros(2), "x", dtype="int64")


def test_check_array():
    x = np.zeros((4, 5, 3), np.uint8)
    assert check_array(x, "image", "H W 3", (np.uint8, "float")) is x
    check_array(np.zeros((4, 5)), "image", "H W", "float")
    check_array(np.zeros((4, 5), np.int16), "image", "* W", "integer")
    with pytest.raises(TypeError, match=r"^image must be a numpy array; got Tensor$"):
        check_array(torch.zeros(4, 5), "image")
    with pytest.raises(ValueError, match=r"^image must have shape \(H, W, 3\); got \(4, 5\)$"):
        check_array(np.zeros((4, 5)), "image", "H W 3")
    with pytest.raises(TypeError, match=r"^image must be uint8; got dtype float64$"):
        check_array(np.zeros((4, 5, 3)), "image", "H W 3", np.uint8)
    with pytest.raises(TypeError, match="must be floating-point; got dtype bool"):
        check_array(np.zeros((4, 5), bool), "image", dtype="float")
    with pytest.raises(TypeError, match="must be float64"):
        check_array(np.zeros(2, np.float32), "image", dtype=np.float64)  # a numpy dtype is exact, not "float"


def test_as_image_batches_keeps_float_tensors_as_given():
    gray = torch.rand(3, 8, 6, dtype=torch.float64)
    reference = torch.rand(3, 5, 7)
    targets, references, batched = as_image_batches(gray, reference, to_float=True)
    assert not batched and targets.shape == (1, 3, 8, 6) and references.shape == (1, 3, 5, 7)
    assert targets.dtype == torch.float64 and torch.equal(targets[0], gray)  # no rounding, no copy to float32
    assert targets.data_ptr() == gray.data_ptr()
    targets, _, batched = as_image_batches(gray[None], reference[None], to_float=True)
    assert batched and targets.data_ptr() == gray.data_ptr()


def test_as_image_batches_uint8():
    gray = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    targets, references, batched = as_image_batches(gray, gray, to_float=True)
    assert batched and targets.dtype == torch.float32 and torch.equal(targets, gray.float() / 255.0)
    kept, _, _ = as_image_batches(gray, gray)
    assert kept is gray  # without to_float: uint8 stays uint8 (the numpy path of SA and MSA)


def test_as_image_batches_errors():
    gray = torch.zeros(2, 3, 4, 4)
    with pytest.raises(TypeError, match="gray_rgb must be a torch.Tensor"):
        as_image_batches(gray.numpy(), gray)
    with pytest.raises(ValueError, match=r"reference_rgb must have shape \(3, H, W\) or \(B, 3, H, W\)"):
        as_image_batches(gray, gray[:, :1])
    with pytest.raises(TypeError, match="gray_rgb must be uint8 or floating-point; got dtype torch.int64"):
        as_image_batches(gray.long(), gray)
    with pytest.raises(ValueError, match="as many images"):
        as_image_batches(gray, gray[:1])


def test_split_colorize_inputs_masks():
    gray = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    targets, references, t_masks, r_masks, batched = split_colorize_inputs(
        gray, gray, (torch.ones(2, 4, 4, dtype=torch.bool), None))
    assert batched and len(targets) == 2 and targets[0].shape == (4, 4, 3) and targets[0].dtype == np.uint8
    assert t_masks[1].shape == (4, 4) and r_masks == [None, None]
    with pytest.raises(ValueError, match=r"target mask must have shape \(2, H, W\); got \(4, 4\)"):
        split_colorize_inputs(gray, gray, (torch.ones(4, 4, dtype=torch.bool), None))
    _, _, t_masks, _, batched = split_colorize_inputs(gray[0], gray[0], (torch.ones(4, 4, dtype=torch.bool), None))
    assert not batched and len(t_masks) == 1 and t_masks[0].shape == (4, 4)
    with pytest.raises(TypeError, match="reference mask must be a torch.Tensor or None"):
        split_colorize_inputs(gray, gray, (None, np.ones((2, 4, 4), bool)))
