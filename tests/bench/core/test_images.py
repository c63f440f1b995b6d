import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from bench.core.errors import ImageReadError
from bench.core.images import list_images, read_rgb, write_png

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (12, 17, 3), dtype=np.uint8)
GRAY = RNG.integers(0, 256, (12, 17), dtype=np.uint8)


def _write_png16(path, array: np.ndarray) -> None:
    """A 16-bit PNG written by hand: Pillow cannot write 16-bit colour PNGs."""
    height, width = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    colour_type = {1: 0, 3: 2, 4: 6}[channels]
    rows = array.reshape(height, width * channels).astype(">u2")
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))


def test_rgb_png_is_read_exactly(tmp_path):
    Image.fromarray(RGB).save(tmp_path / "a.png")
    out = read_rgb(tmp_path / "a.png")
    assert out.dtype == np.uint8 and out.shape == (12, 17, 3)
    np.testing.assert_array_equal(out, RGB)


def test_gray_becomes_three_equal_channels(tmp_path):
    Image.fromarray(GRAY).save(tmp_path / "g.png")
    np.testing.assert_array_equal(read_rgb(tmp_path / "g.png"), np.repeat(GRAY[..., None], 3, -1))


def test_bilevel_image(tmp_path):
    Image.fromarray(GRAY > 127).save(tmp_path / "b.png")
    expected = np.where(GRAY > 127, 255, 0).astype(np.uint8)
    np.testing.assert_array_equal(read_rgb(tmp_path / "b.png"), np.repeat(expected[..., None], 3, -1))


def test_16bit_gray_keeps_high_byte(tmp_path):
    gray16 = RNG.integers(0, 65536, (9, 11), dtype=np.uint16)
    _write_png16(tmp_path / "g16.png", gray16)
    expected = np.repeat((gray16 >> 8).astype(np.uint8)[..., None], 3, -1)
    np.testing.assert_array_equal(read_rgb(tmp_path / "g16.png"), expected)


def test_16bit_rgb_keeps_high_byte(tmp_path):
    rgb16 = RNG.integers(0, 65536, (9, 11, 3), dtype=np.uint16)
    _write_png16(tmp_path / "c16.png", rgb16)
    np.testing.assert_array_equal(read_rgb(tmp_path / "c16.png"), (rgb16 >> 8).astype(np.uint8))


def test_16bit_gray_and_rgb_of_one_picture_read_the_same(tmp_path):
    gray16 = RNG.integers(0, 65536, (9, 11), dtype=np.uint16)
    _write_png16(tmp_path / "g.png", gray16)
    _write_png16(tmp_path / "c.png", np.repeat(gray16[..., None], 3, -1))
    np.testing.assert_array_equal(read_rgb(tmp_path / "g.png"), read_rgb(tmp_path / "c.png"))


def test_rgba_is_composited_over_white(tmp_path):
    alpha = np.zeros((12, 17), np.uint8)
    alpha[:, :8] = 255
    alpha[:, 8:10] = 128
    Image.fromarray(np.dstack([RGB, alpha])).save(tmp_path / "a.png")
    out = read_rgb(tmp_path / "a.png").astype(int)
    np.testing.assert_array_equal(out[:, :8], RGB[:, :8])
    assert (out[:, 10:] == 255).all()
    half = (RGB[:, 8:10].astype(int) * 128 + 255 * 127) / 255
    assert np.abs(out[:, 8:10] - half).max() <= 1


def test_gray_with_alpha(tmp_path):
    Image.fromarray(np.dstack([GRAY, np.full_like(GRAY, 255)]), mode="LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(read_rgb(tmp_path / "la.png"), np.repeat(GRAY[..., None], 3, -1))


def test_palette_image_and_transparent_index(tmp_path):
    pal = Image.fromarray(RGB).quantize(colors=16)
    pal.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_rgb(tmp_path / "p.png"), np.asarray(pal.convert("RGB")))
    pal.info["transparency"] = 0
    pal.save(tmp_path / "pt.png", transparency=0)
    out = read_rgb(tmp_path / "pt.png")
    transparent = np.asarray(pal) == 0
    assert transparent.any() and (out[transparent] == 255).all()


def test_exif_orientation_is_applied(tmp_path):
    image = Image.fromarray(RGB)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    image.save(tmp_path / "o.png", exif=exif)
    out = read_rgb(tmp_path / "o.png")
    assert out.shape == (17, 12, 3)
    np.testing.assert_array_equal(out, np.rot90(RGB, k=-1))


def test_jpeg_and_cmyk(tmp_path):
    Image.fromarray(RGB).save(tmp_path / "a.jpg", quality=95)
    assert read_rgb(tmp_path / "a.jpg").shape == (12, 17, 3)
    Image.fromarray(RGB).convert("CMYK").save(tmp_path / "c.jpg")
    out = read_rgb(tmp_path / "c.jpg")
    assert out.shape == (12, 17, 3) and out.dtype == np.uint8


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40])
def test_undecodable_file_names_it(tmp_path, content):
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(ImageReadError) as info:
        read_rgb(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message


def test_truncated_png_names_it(tmp_path):
    Image.fromarray(RGB).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="cut.png"):
        read_rgb(tmp_path / "cut.png")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        read_rgb(tmp_path / "nope.png")
    with pytest.raises(ImageReadError, match="folder"):
        read_rgb(tmp_path)


def test_float_image_is_refused(tmp_path):
    Image.fromarray(RNG.random((5, 5)).astype(np.float32), mode="F").save(tmp_path / "f.tif")
    with pytest.raises(ImageReadError, match="floating-point"):
        read_rgb(tmp_path / "f.tif")


def test_write_png_round_trip_leaves_no_temporary_files(tmp_path):
    write_png(tmp_path / "sub" / "x.png", RGB)
    np.testing.assert_array_equal(read_rgb(tmp_path / "sub" / "x.png"), RGB)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["x.png"]
    with pytest.raises(TypeError):
        write_png(tmp_path / "y.png", RGB.astype(np.float32))
    assert not (tmp_path / "y.png").exists()


def test_list_images_filters_and_sorts(tmp_path):
    for name in ["b.PNG", "a.jpg", "notes.txt"]:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG"]
    with pytest.raises(ImageReadError, match="does not exist"):
        list_images(tmp_path / "missing")
