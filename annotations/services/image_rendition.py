"""The one rendition of an image that everyone uses: the upright 8-bit RGB picture a person sees on a white page.

Made once, at ingest, by `image_normalize`; the browser, the thumbnail, the critic, the exports and retraining all
read it, never the original. Pure Pillow and numpy (no Django), so the rule can be read and tested on its own.

The rule, in order (README, "How images are normalised"):
1. the first frame of an animated image (the first page of a multi-page TIFF, the first picture of an MPO: the
   JPEG that phones write with a depth or gain map beside the photo);
2. EXIF orientation applied (`PIL.ImageOps.exif_transpose`, as browsers do since CSS image-orientation: from-image);
3. samples wider than 8 bits scaled to 0-255 by their range: 16-bit by 0-65535, 32-bit integers by 0-65535 when
   they fit in it and else by their own minimum and maximum, floats by 0.0-1.0 when they fit in it and else by their
   own minimum and maximum (Pillow's own conversion saturates them to white);
4. an embedded ICC profile other than sRGB converted to sRGB (as a colour-managed browser shows it), CMYK, YCbCr,
   LAB and HSV converted to RGB;
5. alpha, and palette or single-colour transparency (PNG tRNS), composited on white.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms, ImageOps

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
_HIGH_BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_SEVERAL = {"TIFF": ("multi-page TIFF", "pages"), "MPO": ("multi-picture JPEG (MPO)", "pictures")}
_ICC_SPACES = {"RGB ": ("RGB", "RGBA"), "GRAY": ("L", "LA"), "CMYK": ("CMYK",)}


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
    frames = int(getattr(image, "n_frames", 1) or 1)
    fmt = image.format or "image"
    if frames > 1:
        image.seek(0)
        kind, what = _SEVERAL.get(fmt, (f"animated {fmt}", "frames"))
        notes.append(f"{kind}: first of {frames} {what} shown to everyone")
    image.load()
    icc = image.info.get("icc_profile")
    picture = _upright(image, notes)
    picture = _eight_bit(picture, notes)
    picture = _colour_managed(picture, icc, notes)
    picture = _on_white(picture, notes)
    picture.info = {}  # no profile, gamma or EXIF in the PNG: a browser must show its samples as they are
    out = io.BytesIO()
    picture.save(out, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return NormalizedImage(
        png=out.getvalue(), width=picture.width, height=picture.height, note="; ".join(notes), frames=frames
    )


def _upright(image: Image.Image, notes: list[str]) -> Image.Image:
    try:
        orientation = int(image.getexif().get(0x0112) or 1)
        upright = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError):
        notes.append("EXIF unreadable: orientation not applied")
        return image.copy()
    if orientation in _ORIENTATIONS:
        notes.append(f"EXIF orientation {orientation} applied ({_ORIENTATIONS[orientation]})")
    return upright


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
    """Greyscale wider than 8 bits, scaled linearly to 0-255 by its range (see the module docstring)."""
    samples = np.asarray(image).astype(np.float64)
    finite = samples[np.isfinite(samples)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
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
    samples = np.nan_to_num(samples, nan=lo, posinf=hi, neginf=lo)
    span = hi - lo
    scaled = (samples - lo) * (255.0 / span) if span > 0 else np.zeros_like(samples)
    grey = Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")
    transparent = image.info.get("transparency")
    if isinstance(transparent, int):  # a 16-bit tRNS sample value: those pixels are transparent
        alpha = np.where(np.asarray(image) == transparent, 0, 255).astype(np.uint8)
        grey = Image.merge("LA", (grey, Image.fromarray(alpha, mode="L")))
    return grey


def _colour_managed(image: Image.Image, icc: bytes | None, notes: list[str]) -> Image.Image:
    """Colours in sRGB: through the embedded ICC profile when there is one, else Pillow's conversion for CMYK."""
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            name = ImageCms.getProfileDescription(source).strip() or "unnamed"
            space = source.profile.xcolor_space
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            notes.append("ICC profile unreadable: colours taken as sRGB")
        else:
            if image.mode not in _ICC_SPACES.get(space, ()):
                notes.append(f"ICC profile {name!r} does not fit a {image.mode} image: ignored")
            elif not name.lower().startswith("srgb"):
                try:
                    converted = _to_srgb(image, source)
                except ImageCms.PyCMSError as exc:
                    notes.append(f"ICC profile {name!r} could not be applied ({exc}): colours taken as sRGB")
                else:
                    notes.append(f"colours converted from ICC profile {name!r} to sRGB")
                    return converted
    if image.mode == "CMYK":
        notes.append("CMYK converted to RGB")
        return image.convert("RGB")
    return image


def _to_srgb(image: Image.Image, source: ImageCms.ImageCmsProfile) -> Image.Image:
    alpha = image.getchannel("A") if image.mode in {"LA", "RGBA"} else None
    colour = image.convert(image.mode.rstrip("A")) if alpha is not None else image
    intent = ImageCms.Intent(ImageCms.getDefaultIntent(source))
    converted = ImageCms.profileToProfile(colour, source, _SRGB, renderingIntent=intent, outputMode="RGB")
    assert converted is not None  # inPlace=False returns the new image
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


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
