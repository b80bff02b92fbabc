"""Colour management for the rendition (annotations.services.image_rendition): the picture's colours as sRGB, the
way a colour-managed browser shows them. Pure Pillow (LittleCMS through ImageCms) and numpy."""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_ICC_SPACES = {"RGB ": ("RGB", "RGBA"), "GRAY": ("L", "LA"), "CMYK": ("CMYK",)}
# IEC 61966-2-1: sRGB's primaries and white point (D65), as CIE xy.
_SRGB_XY = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
_D65_XY = (0.3127, 0.3290)
_BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])
_BAND_PIXELS = 1 << 20


@dataclass(frozen=True)
class Chromaticity:
    """A PNG's gAMA (the encoding exponent: samples are light ** gamma) and cHRM (white, red, green, blue as xy)."""

    gamma: float
    white: tuple[float, float]
    primaries: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]


def png_chromaticity(image: Image.Image) -> Chromaticity | None:
    """A PNG's gAMA and cHRM when it has both and neither an iCCP nor an sRGB chunk (PNG spec 3rd edition, 4.3:
    those take precedence); None otherwise. Browsers use the pair, and nothing when either is missing (Blink:
    a cHRM cannot be applied without a gamma, and a gAMA alone is not trusted)."""
    info = image.info
    if image.format != "PNG" or "icc_profile" in info or "srgb" in info:
        return None
    gamma, chrm = info.get("gamma"), info.get("chromaticity")
    if not gamma or not chrm or len(chrm) != 8 or float(gamma) <= 0:
        return None
    wx, wy, rx, ry, gx, gy, bx, by = (float(v) for v in chrm)
    if min(wy, ry, gy, by) <= 0:
        return None
    return Chromaticity(float(gamma), (wx, wy), ((rx, ry), (gx, gy), (bx, by)))


def colours_in_srgb(
    image: Image.Image, *, icc: bytes | None, chromaticity: Chromaticity | None, notes: list[str]
) -> Image.Image:
    """Colours in sRGB: through the embedded ICC profile when there is one, else a PNG's gAMA and cHRM, else
    Pillow's conversion for CMYK."""
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
            elif not _is_srgb(icc, image.mode):
                try:
                    converted = _to_srgb(image, source)
                except ImageCms.PyCMSError as exc:
                    notes.append(f"ICC profile {name!r} could not be applied ({exc}): colours taken as sRGB")
                else:
                    notes.append(f"colours converted from ICC profile {name!r} to sRGB")
                    return converted
    elif chromaticity is not None and image.mode in {"L", "LA", "RGB", "RGBA"}:
        notes.append(f"colours converted from the PNG's gAMA {chromaticity.gamma:g} and cHRM to sRGB")
        return _chromaticity_to_srgb(image, chromaticity)
    if image.mode == "CMYK":
        notes.append("CMYK converted to RGB")
        return image.convert("RGB")
    return image


@functools.lru_cache(maxsize=32)
def _is_srgb(icc: bytes, mode: str) -> bool:
    """Whether the profile leaves every sample as it is within 2 of 255 when converted to sRGB: then the samples are
    kept exactly. Decided by what the profile does, never by its name ("sRGB-elle-V2-g10" is linear light)."""
    if mode not in {"L", "LA", "RGB", "RGBA"}:
        return False
    levels = np.arange(0, 256, 17, dtype=np.uint8)
    if mode in {"L", "LA"}:
        probe = Image.fromarray(np.arange(256, dtype=np.uint8)[None, :], mode="L")
        expected = np.repeat(np.asarray(probe)[..., None], 3, axis=2)
    else:
        cube = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(1, -1, 3)
        probe = Image.fromarray(np.ascontiguousarray(cube), mode="RGB")
        expected = cube
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        seen = ImageCms.profileToProfile(probe, source, _SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return False
    assert seen is not None  # inPlace=False returns the new image
    return int(np.abs(np.asarray(seen).astype(np.int16) - expected.astype(np.int16)).max()) <= 2


def _to_srgb(image: Image.Image, source: ImageCms.ImageCmsProfile) -> Image.Image:
    alpha = image.getchannel("A") if image.mode in {"LA", "RGBA"} else None
    colour = image.convert(image.mode.rstrip("A")) if alpha is not None else image
    intent = ImageCms.Intent(ImageCms.getDefaultIntent(source))
    converted = ImageCms.profileToProfile(colour, source, _SRGB, renderingIntent=intent, outputMode="RGB")
    assert converted is not None  # inPlace=False returns the new image
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


def _rgb_to_xyz(primaries: tuple[tuple[float, float], ...], white: tuple[float, float]) -> np.ndarray:
    """The matrix from linear RGB to CIE XYZ for these primaries, scaled so that RGB 1, 1, 1 is the white (Y 1)."""
    columns = np.array([[x / y, 1.0, (1 - x - y) / y] for x, y in primaries]).T
    scale = np.linalg.solve(columns, _xyz(white))
    return columns * scale


def _xyz(xy: tuple[float, float]) -> np.ndarray:
    x, y = xy
    return np.array([x / y, 1.0, (1 - x - y) / y])


def _chromaticity_to_srgb(image: Image.Image, chroma: Chromaticity) -> Image.Image:
    """Samples decoded by the gamma, taken from the PNG's primaries to sRGB's (Bradford adaptation of the white to
    D65, relative colorimetric, out-of-gamut colours clipped) and encoded with the sRGB transfer function."""
    alpha = image.getchannel("A") if image.mode in {"LA", "RGBA"} else None
    grey = image.mode in {"L", "LA"}
    samples = np.asarray(image.convert("L" if grey else "RGB"))
    if grey:
        matrix = np.eye(1)
    else:
        cone_from, cone_to = _BRADFORD @ _xyz(chroma.white), _BRADFORD @ _xyz(_D65_XY)
        adapt = np.linalg.inv(_BRADFORD) @ np.diag(cone_to / cone_from) @ _BRADFORD
        matrix = np.linalg.inv(_rgb_to_xyz(_SRGB_XY, _D65_XY)) @ adapt @ _rgb_to_xyz(chroma.primaries, chroma.white)
    out = np.empty(samples.shape, np.uint8)
    rows = max(1, _BAND_PIXELS // max(1, image.width))
    for y in range(0, samples.shape[0], rows):
        light = (samples[y : y + rows].astype(np.float64) / 255) ** (1 / chroma.gamma)
        if not grey:
            light = light @ matrix.T
        light = np.clip(light, 0, 1)
        encoded = np.where(light <= 0.0031308, 12.92 * light, 1.055 * light ** (1 / 2.4) - 0.055)
        out[y : y + rows] = np.rint(encoded * 255)
    converted = Image.fromarray(out, mode="L" if grey else "RGB").convert("RGB")
    if alpha is not None:
        converted.putalpha(alpha)
    return converted
