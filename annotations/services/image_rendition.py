"""The one rendition of an image that everyone uses: the upright 8-bit RGB picture a person sees on a white page.

Made once, at ingest, by `image_normalize`; the browser, the thumbnail, the critic, the exports and retraining all
read it, never the original. Pure Pillow and numpy (no Django), so the rule can be read and tested on its own.

The rule, in order (README, "How images are normalised"):
1. the first frame of an animated image as browsers show it (an APNG's first animation frame, not a default image
   outside the animation; the first page of a multi-page TIFF, the first picture of an MPO: the JPEG that phones
   write with a depth or gain map beside the photo);
2. EXIF orientation applied, from the EXIF block (or a TIFF's own tag) only: browsers ignore XMP's tiff:Orientation
   and ImageMagick's "Raw profile type exif" text, which Pillow's getexif also reads;
3. samples wider than 8 bits scaled to 0-255 by their range: 16-bit by 0-65535, 32-bit integers by 0-65535 when
   they fit in it and else by their own minimum and maximum, floats by 0.0-1.0 when they fit in it and else by their
   own minimum and maximum (Pillow's own conversion saturates them to white);
4. an embedded ICC profile converted to sRGB (as a colour-managed browser shows it) unless it leaves every sample
   as it is (whatever its name says), else a PNG's gAMA and cHRM pair; CMYK, YCbCr, LAB and HSV converted to RGB
   (annotations.services.image_colour);
5. alpha, and palette or single-colour transparency (PNG tRNS, compared with the full 16-bit samples), composited
   on white; the part of a GIF's screen its first frame leaves uncovered is transparent, and a BMP's alpha channel
   that is zero everywhere is ignored, as browsers do.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFile

from annotations.services.image_colour import colours_in_srgb, png_chromaticity

WHITE = (255, 255, 255)
PNG_COMPRESS_LEVEL = (
    1  # lossless at every level; 6 takes nearly 3x as long for 7% fewer bytes on photos (bench/image_normalize.py)
)

_ORIENTATIONS = {
    2: "mirrored left to right",
    3: "turned 180°",
    4: "mirrored top to bottom",
    5: "mirrored along the main diagonal",
    6: "turned 90° clockwise",
    7: "mirrored along the other diagonal",
    8: "turned 90° anticlockwise",
}
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ORIENTATION = 0x0112
_XMP_KEYS = ("xmp", "XML:com.adobe.xmp")
_BAND_PIXELS = 1 << 20  # samples wider than 8 bits are scaled a band of rows of this many pixels at a time
_HIGH_BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}
_SEVERAL = {"TIFF": ("multi-page TIFF", "pages"), "MPO": ("multi-picture JPEG (MPO)", "pictures")}


@dataclass(frozen=True)
class NormalizedImage:
    """The rendition: PNG bytes of an 8-bit RGB picture, its size in pixels, and what was done to get it
    (one short sentence per step, empty when the original needed nothing beyond decoding)."""

    png: bytes
    width: int
    height: int
    note: str
    frames: int


def image_normalize(*, image: Image.Image) -> NormalizedImage:
    """The rendition of an opened image (its file's first frame is decoded here: a truncated file raises OSError).

    Raises what Pillow raises for a file it cannot decode (OSError, SyntaxError, ValueError)."""
    notes: list[str] = []
    frames = _first_frame(image, notes)
    tiff_orientation = _tiff_orientation(image)
    low_bytes = _sixteen_bit_low_bytes(image)
    frame_box = _gif_frame_box(image)
    image.load()
    icc, chromaticity = image.info.get("icc_profile"), png_chromaticity(image)
    picture = _transparent_parts(image, low_bytes, frame_box, notes)
    picture = _upright(picture, _orientation(image, tiff_orientation), notes)
    picture = _eight_bit(picture, notes)
    picture = colours_in_srgb(picture, icc=icc, chromaticity=chromaticity, notes=notes)
    picture = _on_white(picture, notes)
    picture.info = {}  # no profile, gamma or EXIF in the PNG: a browser must show its samples as they are
    out = io.BytesIO()
    picture.save(out, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return NormalizedImage(
        png=out.getvalue(), width=picture.width, height=picture.height, note="; ".join(notes), frames=frames
    )


def _first_frame(image: Image.Image, notes: list[str]) -> int:
    """Seek to the frame a browser shows first and return how many frames the animation has.

    An APNG's default image (its IDAT) that is not part of the animation is for decoders that know no APNG: every
    browser shows the animation, so its first frame is the one after the default image."""
    frames = int(getattr(image, "n_frames", 1) or 1)
    first = 0
    if image.format == "PNG" and image.info.get("default_image") and frames > 1:
        first, frames = 1, frames - 1
        notes.append("APNG: its still default image, which browsers do not show, skipped")
    if frames > 1:
        fmt = image.format or "image"
        kind, what = _SEVERAL.get(fmt, (f"animated {fmt}", "frames"))
        notes.append(f"{kind}: first of {frames} {what} shown to everyone")
    if first or frames > 1:
        image.seek(first)
    return frames


def _tiff_orientation(image: Image.Image) -> int | None:
    """A TIFF's own orientation tag, read before decoding (Pillow's TIFF loader turns the picture itself and drops
    the tag); None for other formats. XMP is dropped first so that its tiff:Orientation, which no browser reads,
    cannot turn the picture when Pillow finds no tag (the XMP is not kept in the rendition anyway)."""
    tags = getattr(image, "tag_v2", None)
    if tags is None:
        return None
    for key in _XMP_KEYS:
        image.info.pop(key, None)
    try:
        return int(tags.get(_ORIENTATION) or 1)
    except (TypeError, ValueError):
        return 1


def _orientation(image: Image.Image, tiff_orientation: int | None) -> int:
    """The EXIF orientation browsers honour: tag 0x0112 of the EXIF block itself (JPEG APP1, PNG eXIf, WebP EXIF),
    never XMP's tiff:Orientation nor ImageMagick's "Raw profile type exif" text, which Pillow's getexif also reads
    and browsers ignore. A TIFF's tag, when Pillow's loader has not already applied it. 0 when unreadable."""
    if tiff_orientation is not None:
        tags = getattr(image, "tag_v2", {})
        return tiff_orientation if _ORIENTATION in tags else -tiff_orientation  # negative: already applied
    raw = image.info.get("exif")
    if not raw:
        return 1
    exif = Image.Exif()
    try:
        exif.load(raw)
        return int(exif.get(_ORIENTATION) or 1)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, struct.error):
        return 0


def _upright(image: Image.Image, orientation: int, notes: list[str]) -> Image.Image:
    if orientation == 0:
        notes.append("EXIF unreadable: orientation not applied")
        return image
    if abs(orientation) in _ORIENTATIONS:
        notes.append(f"EXIF orientation {abs(orientation)} applied ({_ORIENTATIONS[abs(orientation)]})")
    if orientation in _TRANSPOSE:
        return image.transpose(_TRANSPOSE[orientation])
    return image


def _sixteen_bit_low_bytes(image: Image.Image) -> np.ndarray | None:
    """The low bytes of a 16-bit RGB PNG with a tRNS colour, read before decoding (None for any other image).

    Pillow decodes such a PNG to 8 bits (the high bytes) and would compare the 16-bit tRNS colour with those: no
    pixel transparent, or all the near-black ones for a key of (0, 0, 0). The PNG spec compares the full samples,
    so the rows are decoded a second time keeping the other byte of each sample."""
    key = image.info.get("transparency")
    if (
        not isinstance(image, ImageFile.ImageFile)
        or image.format != "PNG"
        or image.mode != "RGB"
        or not isinstance(key, tuple)
        or image.tell() != 0
        or [tile.args for tile in image.tile] != ["RGB;16B"]
        or image.fp is None
    ):
        return None
    position = image.fp.tell()
    image.fp.seek(0)
    data = image.fp.read()
    image.fp.seek(position)
    with Image.open(io.BytesIO(data)) as low:
        low.tile = [tile._replace(args="RGB;16L") for tile in low.tile]  # the second byte of each sample
        low.load()
        return np.asarray(low).astype(np.uint16)


def _gif_frame_box(image: Image.Image) -> tuple[int, int, int, int] | None:
    """The rectangle a GIF's first frame covers, read before decoding; None when it covers the whole picture (or the
    image is no GIF). Browsers leave the rest transparent, whatever the GIF's background colour says."""
    if not isinstance(image, ImageFile.ImageFile) or image.format != "GIF" or len(image.tile) != 1:
        return None
    box = image.tile[0].extents
    if box is None or tuple(box) == (0, 0, *image.size):
        return None
    x0, y0, x1, y1 = box
    return x0, y0, x1, y1


def _transparent_parts(
    image: Image.Image, low_bytes: np.ndarray | None, frame_box: tuple[int, int, int, int] | None, notes: list[str]
) -> Image.Image:
    """Transparency that Pillow's decoding misses or invents, made what browsers show."""
    if low_bytes is not None:
        key = np.array(image.info["transparency"], np.uint16)
        samples = (np.asarray(image).astype(np.uint16) << 8) | low_bytes
        alpha = np.where((samples == key).all(axis=2), 0, 255).astype(np.uint8)
        return Image.merge("RGBA", (*image.split(), Image.fromarray(alpha, mode="L")))  # no 8-bit key left in info
    if frame_box is not None:
        rgba = image.convert("RGBA")  # the frame's own transparent index, if any, becomes alpha 0
        covered = Image.new("L", rgba.size, 0)
        covered.paste(rgba.getchannel("A").crop(frame_box), frame_box[:2])
        rgba.putalpha(covered)
        notes.append("GIF: the first frame covers part of the picture, the rest is transparent")
        return rgba
    if image.format == "BMP" and image.mode == "RGBA" and image.getchannel("A").getextrema()[1] == 0:
        notes.append("BMP alpha channel all zero: shown opaque, as browsers do")
        return image.convert("RGB")
    return image


def _eight_bit(image: Image.Image, notes: list[str]) -> Image.Image:
    """An 8-bit image in L, LA, RGB, RGBA or CMYK, alpha (or transparency) kept for compositing."""
    mode = image.mode
    if mode in _HIGH_BIT:
        return _scaled(image, notes)
    if mode in {"L", "RGB"} and "transparency" in image.info:
        return image.convert("LA" if mode == "L" else "RGBA")  # the tRNS colour becomes alpha 0
    if mode in {"L", "LA", "RGB", "RGBA", "CMYK"}:
        return image
    if mode == "1":
        return image.convert("L")
    if mode in {"P", "PA"}:
        palette_alpha = image.palette is not None and image.palette.mode == "RGBA"
        transparent = mode == "PA" or "transparency" in image.info or palette_alpha
        return image.convert("RGBA" if transparent else "RGB")
    if mode == "La":
        return image.convert("LA")
    if mode in {"RGBa", "RGBX"}:
        return image.convert("RGBA" if mode == "RGBa" else "RGB")
    if mode in {"YCbCr", "LAB", "HSV"}:
        notes.append(f"{mode} converted to RGB")
        return image.convert("RGB")
    notes.append(f"{mode} converted to RGB by Pillow")
    return image.convert("RGBA")


def _scaled(image: Image.Image, notes: list[str]) -> Image.Image:
    """Greyscale wider than 8 bits, scaled linearly to 0-255 by its range (see the module docstring).

    A band of rows at a time: a 16-bit PNG of 40 million pixels is a few kilobytes, and in float64 all at once its
    scaling took 1.5 GB."""
    samples = np.asarray(image)
    rows = max(1, _BAND_PIXELS // max(1, image.width))
    bands = range(0, samples.shape[0], rows)
    low, high = _finite_range(samples[y : y + rows] for y in bands)
    if image.mode.startswith("I;16"):
        lo, hi, what = 0.0, 65535.0, "16-bit greyscale scaled to 8 bits (0-65535 to 0-255)"
    elif image.mode == "I" and low >= 0 and high <= 65535:
        lo, hi, what = 0.0, 65535.0, "32-bit integer greyscale scaled to 8 bits as 16-bit samples (0-65535 to 0-255)"
    elif image.mode == "F" and low >= 0 and high <= 1:
        lo, hi, what = 0.0, 1.0, "floating-point greyscale scaled to 8 bits (0.0-1.0 to 0-255)"
    else:
        kind = "floating-point" if image.mode == "F" else "32-bit integer"
        lo, hi = low, high
        what = f"{kind} greyscale scaled to 8 bits by its own range ({low:g}-{high:g} to 0-255)"
    notes.append(what)
    span = hi - lo
    eight = np.zeros(samples.shape, np.uint8)
    for y in bands if span > 0 else ():
        band = np.nan_to_num(samples[y : y + rows].astype(np.float64), nan=lo, posinf=hi, neginf=lo)
        eight[y : y + rows] = np.clip(np.rint((band - lo) * (255.0 / span)), 0, 255)
    grey = Image.fromarray(eight, mode="L")
    transparent = image.info.get("transparency")
    if isinstance(transparent, int):  # a 16-bit tRNS sample value: those pixels are transparent
        alpha = np.where(samples == transparent, 0, 255).astype(np.uint8)
        grey = Image.merge("LA", (grey, Image.fromarray(alpha, mode="L")))
    return grey


def _finite_range(bands: Iterator[np.ndarray]) -> tuple[float, float]:
    """The smallest and largest finite sample (0, 0 when there is none)."""
    low, high = np.inf, -np.inf
    for band in bands:
        finite = band[np.isfinite(band)] if band.dtype.kind == "f" else band
        if finite.size:
            low, high = min(low, float(finite.min())), max(high, float(finite.max()))
    return (low, high) if low <= high else (0.0, 0.0)


def _on_white(image: Image.Image, notes: list[str]) -> Image.Image:
    if image.mode in {"LA", "RGBA"}:
        rgba = image.convert("RGBA")
        lowest_alpha = rgba.getchannel("A").getextrema()[0]
        assert isinstance(lowest_alpha, int)  # one band: (min, max)
        if lowest_alpha < 255:
            notes.append("transparency composited on white")
            return Image.alpha_composite(Image.new("RGBA", rgba.size, (*WHITE, 255)), rgba).convert("RGB")
        return rgba.convert("RGB")
    return image.convert("RGB")
