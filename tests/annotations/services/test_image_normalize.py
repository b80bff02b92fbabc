"""The one rendition: every kind of file that a browser and a plain convert("RGB") show differently comes out as the
upright 8-bit RGB picture a person sees on a white page, with a note that says what was done."""

from __future__ import annotations

import io
import tracemalloc
import warnings

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from PIL import Image, ImageCms

from annotations.services.image_rendition import image_normalize
from annotations.services.images import image_check
from tests.hostile_images import (
    STORED_FOR_ORIENTATION,
    Hostile,
    difference,
    encode,
    grey,
    hostile_images,
    pixels,
    upright,
)
from tests.images import png_bomb_bytes, png_bytes

CASES = hostile_images()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_kind_of_file_becomes_the_picture_a_person_sees(case: Hostile) -> None:
    checked = image_check(data=case.data)
    rendition = checked.normalized
    got = pixels(rendition.png)
    assert (rendition.width, rendition.height) == (case.expected.shape[1], case.expected.shape[0])
    assert difference(got, case.expected) <= case.tolerance, case.name
    if case.tolerance == 0:
        assert np.array_equal(got, case.expected)
    if case.note:
        assert case.note in rendition.note
    else:
        assert rendition.note == ""


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_rendition_is_its_own_rendition(case: Hostile) -> None:
    """Reading the rendition back changes nothing: the browser, the critic and a re-import all see the same."""
    png = image_check(data=case.data).normalized.png
    again = image_check(data=png).normalized
    assert again.note == ""
    assert np.array_equal(pixels(again.png), pixels(png))


def test_a_plain_decode_would_have_been_wrong() -> None:
    """The cases are hostile: Pillow's plain conversion differs from what a person sees on every one of these."""
    plain_wrong = {"jpeg-exif-6", "png-rgba-text", "png-palette-trns", "png-grey16", "tiff-float-unit", "png-la"}
    plain_wrong |= {"png-icc-linear-light"}
    for case in CASES:
        if case.name in plain_wrong:
            with Image.open(io.BytesIO(case.data)) as im, warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Pillow's hint about palette transparency: the plain way ignores it
                plain = np.asarray(im.convert("RGB"))
            assert plain.shape != case.expected.shape or difference(plain, case.expected) > 20, case.name


def test_sixteen_bit_mid_grey_is_mid_grey_not_white() -> None:
    ramp = Image.fromarray(np.tile(np.array([0, 32768, 65535], np.uint16), (2, 1)))
    got = pixels(image_check(data=encode(ramp, "PNG")).normalized.png)
    assert got[0, :, 0].tolist() == [0, 128, 255]


def test_the_rendition_is_plain_srgb_png_without_colour_chunks() -> None:
    """No ICC profile, gamma or EXIF left in the PNG: a browser shows its samples exactly as the critic reads them."""
    rows = Image.fromarray(np.ascontiguousarray(STORED_FOR_ORIENTATION[6](upright())))
    data = encode(rows, "JPEG", exif=_orientation(6), icc_profile=_srgb_icc())
    with Image.open(io.BytesIO(image_check(data=data).normalized.png)) as im:
        assert im.format == "PNG"
        assert not {"icc_profile", "exif", "gamma", "srgb", "chromaticity"} & set(im.info)
        assert not im.getexif()


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("PA", (1, 128), None),
        ("La", (200, 255), (200, 200, 200)),
        ("RGBa", (100, 50, 0, 255), (100, 50, 0)),
        ("RGBX", (10, 20, 30, 0), (10, 20, 30)),
        ("HSV", (0, 255, 255), (255, 0, 0)),
        ("YCbCr", (128, 128, 128), (128, 128, 128)),
    ],
)
def test_modes_no_accepted_format_opens_to_are_normalised_too(mode: str, value: tuple[int, ...], expected) -> None:  # type: ignore[no-untyped-def]
    image = Image.new(mode, (4, 3), value)
    if mode == "PA":
        image.putpalette([0, 0, 0, 10, 20, 250])
        expected = tuple(np.rint(np.array([10, 20, 250]) * 128 / 255 + 255 * 127 / 255).astype(int))
    got = pixels(image_normalize(image=image).png)
    assert np.abs(got.astype(int) - np.array(expected)).max() <= 1


def test_lab_goes_through_the_cie_definition() -> None:
    lab = Image.new("LAB", (3, 2), (128, 128, 128))  # L* 50, a* 0, b* 0: a neutral mid grey
    reference = ImageCms.profileToProfile(
        lab, ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), outputMode="RGB"
    )
    assert reference is not None
    assert np.abs(pixels(image_normalize(image=lab).png).astype(int) - np.asarray(reference)).max() <= 1


def test_float_not_a_number_and_infinities_do_not_break_the_scale() -> None:
    samples = np.array([[0.0, 0.5, 1.0, np.nan, np.inf]], np.float32)
    got = pixels(image_normalize(image=Image.fromarray(samples, "F")).png)[0, :, 0]
    assert got.tolist()[:3] == [0, 128, 255]


def test_sixteen_bit_with_a_transparent_sample_is_white_there() -> None:
    image = Image.fromarray(np.array([[0, 65535, 1000]], np.uint16))
    got = pixels(image_check(data=encode(image, "PNG", transparency=1000)).normalized.png)
    assert np.array_equal(got, grey(np.array([[0, 255, 255]])))


@pytest.mark.parametrize("mode", ["I;16", "F"])
def test_scaling_wide_samples_costs_a_few_bytes_a_pixel_not_forty(mode: str) -> None:
    """A 16-bit PNG of the 40-million-pixel limit is a few kilobytes: scaled in float64 all at once, it made one
    upload take 1.5 GB. Measured on 4 million pixels, with tracemalloc (numpy reports its arrays to it)."""
    side = 2048
    ramp = np.tile(np.linspace(0, 60000, side), (side, 1))
    image = Image.fromarray(ramp.astype(np.uint16) if mode == "I;16" else ramp.astype(np.float32))
    assert image.mode == mode
    with Image.open(io.BytesIO(encode(image, "PNG" if mode == "I;16" else "TIFF"))) as opened:
        opened.load()
        tracemalloc.start()
        try:
            rendition = image_normalize(image=opened)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak / side / side < 16
    assert pixels(rendition.png)[0, [0, -1], 0].tolist() == ([0, 233] if mode == "I;16" else [0, 255])


def test_an_unreadable_icc_profile_is_ignored_and_said() -> None:
    broken = encode(Image.fromarray(upright()), "PNG", icc_profile=b"not a profile at all")
    rendition = image_check(data=broken).normalized
    assert "ICC profile unreadable" in rendition.note
    assert np.array_equal(pixels(rendition.png), upright())


def test_an_srgb_profile_changes_nothing() -> None:
    rendition = image_check(data=encode(Image.fromarray(upright()), "PNG", icc_profile=_srgb_icc())).normalized
    assert rendition.note == ""
    assert np.array_equal(pixels(rendition.png), upright())


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (png_bomb_bytes(), "pixels"),
        (png_bytes((300, 300))[:200], "truncated or corrupt"),
        (encode(Image.new("RGB", (8, 8)), "ICO"), "not accepted"),
        # What phones, drawing tools and scanners hand people, which Pillow cannot open here: named, not a shrug.
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64), "HEIC/HEIF photo, not an image"),
        (b'\xef\xbb\xbf<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG drawing, not an"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF document, not an image"),
    ],
)
def test_the_checks_before_decoding_still_refuse(data: bytes, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        image_check(data=data)


def _orientation(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
