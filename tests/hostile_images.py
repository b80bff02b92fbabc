"""Image files of the kinds that decode differently in a browser and in a plain `Image.open(...).convert("RGB")`,
each made with Pillow here, with the picture a person sees on a white page worked out independently (numpy and the
specs: EXIF 2.3 orientation, PNG alpha compositing, sample scaling), never by the code under test."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, PngImagePlugin

from tests.icc_profiles import cmyk_icc, display_icc, gamma_curve, grey_icc, linear_light_icc, srgb_curve, srgb_encoded

W, H = 48, 32
RED, GREEN, BLUE, YELLOW = (220, 30, 30), (30, 160, 60), (40, 60, 200), (240, 200, 40)
WHITE, BLACK = (255, 255, 255), (0, 0, 0)


@dataclass(frozen=True)
class Hostile:
    name: str
    data: bytes
    expected: np.ndarray  # (height, width, 3) uint8: the upright picture on white
    tolerance: float  # largest mean absolute difference per sample allowed (lossy encodings), 0 for exact
    note: str = ""  # a part of the note the item page shows; "" when the original needs nothing said


def upright() -> np.ndarray:
    """A picture that no flip or turn leaves unchanged: four coloured quadrants, wider than tall."""
    out = np.zeros((H, W, 3), np.uint8)
    out[: H // 2, : W // 2], out[: H // 2, W // 2 :] = RED, GREEN
    out[H // 2 :, : W // 2], out[H // 2 :, W // 2 :] = BLUE, YELLOW
    return out


# EXIF 2.3, tag 0x0112: how the stored rows must be turned to be seen upright. Here, the inverse: from the upright
# picture to the rows a camera stores (np.rot90 turns anticlockwise).
STORED_FOR_ORIENTATION = {
    2: lambda a: a[:, ::-1],  # mirrored left to right
    3: lambda a: np.rot90(a, 2),
    4: lambda a: a[::-1],  # mirrored top to bottom
    5: lambda a: a.transpose(1, 0, 2),  # mirrored, then turned 270° clockwise: the transpose
    6: lambda a: np.rot90(a, 1),  # shown after turning 90° clockwise: stored turned anticlockwise
    7: lambda a: np.rot90(a, 1)[:, ::-1],  # mirrored, then turned 90° clockwise
    8: lambda a: np.rot90(a, -1),  # shown after turning 90° anticlockwise
}


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def on_white(rgba: np.ndarray) -> np.ndarray:
    """PNG spec, 12.4 alpha channel: composite = alpha * foreground + (1 - alpha) * background, background white."""
    alpha = rgba[..., 3:4].astype(np.float64) / 255
    return np.rint(rgba[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)


def grey(values: np.ndarray) -> np.ndarray:
    return np.repeat(values[..., None], 3, axis=2).astype(np.uint8)


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def exif_cases() -> list[Hostile]:
    cases = []
    for orientation, stored in STORED_FOR_ORIENTATION.items():
        rows = Image.fromarray(np.ascontiguousarray(stored(upright())))
        data = encode(rows, "JPEG", quality=95, subsampling=0, exif=_exif(orientation))
        cases.append(Hostile(f"jpeg-exif-{orientation}", data, upright(), 4.0, f"EXIF orientation {orientation}"))
    rows = Image.fromarray(np.ascontiguousarray(STORED_FOR_ORIENTATION[6](upright())))
    cases.append(Hostile("png-exif-6", encode(rows, "PNG", exif=_exif(6)), upright(), 0, "EXIF orientation 6"))
    return cases


def transparency_cases() -> list[Hostile]:
    # Black text on a transparent background: all black for a plain convert("RGB").
    text = np.zeros((H, W, 4), np.uint8)
    text[8:24, 10:38] = (0, 0, 0, 255)
    text[26:30, 4:44] = (255, 0, 0, 128)  # half-transparent red
    text[2:6, 2:46] = (30, 90, 200, 40)
    rgba = Image.fromarray(text, "RGBA")

    palette = Image.new("P", (W, H), 0)
    palette.putpalette([0, 0, 0, 20, 40, 220, 10, 200, 10])
    palette.paste(1, (0, 0, W // 2, H))
    palette.paste(2, (W // 2, H // 2, W, H))
    alphas = (0, 255, 100)  # tRNS: index 0 transparent, 1 opaque, 2 partly
    entries = np.array([[0, 0, 0], [20, 40, 220], [10, 200, 10]], np.uint8)
    indices = np.asarray(palette)
    palette_expected = on_white(np.dstack([entries[indices], np.array(alphas, np.uint8)[indices]]))

    la = np.zeros((H, W, 2), np.uint8)
    la[..., 0] = 40
    la[..., 1] = np.linspace(0, 255, W).astype(np.uint8)[None, :]
    la_expected = on_white(np.dstack([grey(la[..., 0]), la[..., 1]]))

    grey_trns = np.full((H, W), 90, np.uint8)
    grey_trns[:, : W // 3] = 7  # the tRNS grey: transparent
    rgb_trns = upright().copy()
    rgb_trns[H // 2 :, : W // 2] = (1, 2, 3)  # the tRNS colour: transparent
    rgb_trns_expected = rgb_trns.copy()
    rgb_trns_expected[H // 2 :, : W // 2] = WHITE
    grey_trns_expected = grey(np.where(grey_trns == 7, 255, grey_trns))

    gif = Image.new("P", (W, H), 0)
    gif.putpalette([9, 9, 9, *RED])
    gif.paste(1, (0, 0, W // 2, H))
    gif_expected = np.zeros((H, W, 3), np.uint8)
    gif_expected[:] = WHITE
    gif_expected[:, : W // 2] = RED
    return [
        Hostile("png-rgba-text", encode(rgba, "PNG"), on_white(text), 0.5, "transparency composited on white"),
        Hostile("webp-rgba", encode(rgba, "WEBP", lossless=True), on_white(text), 0.5, "composited on white"),
        Hostile("png-palette-trns", encode(palette, "PNG", transparency=bytes(alphas)), palette_expected, 0.5, "white"),
        Hostile("png-la", encode(Image.fromarray(la, "LA"), "PNG"), la_expected, 0.5, "composited on white"),
        Hostile(
            "png-grey-trns", encode(Image.fromarray(grey_trns), "PNG", transparency=7), grey_trns_expected, 0, "white"
        ),
        Hostile(
            "png-rgb-trns",
            encode(Image.fromarray(rgb_trns), "PNG", transparency=(1, 2, 3)),
            rgb_trns_expected,
            0,
            "white",
        ),
        Hostile("gif-transparent-index", encode(gif, "GIF", transparency=0), gif_expected, 0, "composited on white"),
    ]


def depth_cases() -> list[Hostile]:
    ramp16 = np.tile(np.linspace(0, 65535, 256).round().astype(np.uint16), (8, 1))
    ramp16_expected = grey(np.rint(ramp16 / 65535 * 255))
    ramp32 = np.tile(np.linspace(-1000, 1_000_000, 200).round().astype(np.int32), (6, 1))
    ramp32_expected = grey(np.rint((ramp32 - ramp32.min()) / (ramp32.max() - ramp32.min()) * 255))
    unit = np.tile(np.linspace(0, 1, 100, dtype=np.float32), (5, 1))
    unit_expected = grey(np.rint(unit.astype(np.float64) * 255))
    wide = np.tile(np.linspace(-5, 5, 100, dtype=np.float32), (5, 1))
    wide_expected = grey(np.rint((wide.astype(np.float64) + 5) / 10 * 255))
    bits = np.indices((H, W)).sum(axis=0) % 2 == 0
    one_bit = Image.fromarray(bits)
    return [
        Hostile("png-grey16", encode(Image.fromarray(ramp16), "PNG"), ramp16_expected, 0, "16-bit greyscale"),
        Hostile("tiff-grey16", encode(Image.fromarray(ramp16), "TIFF"), ramp16_expected, 0, "16-bit greyscale"),
        Hostile("tiff-int32", encode(Image.fromarray(ramp32, "I"), "TIFF"), ramp32_expected, 0, "own range"),
        Hostile("tiff-float-unit", encode(Image.fromarray(unit, "F"), "TIFF"), unit_expected, 0, "0.0-1.0"),
        Hostile("tiff-float-wide", encode(Image.fromarray(wide, "F"), "TIFF"), wide_expected, 0, "own range"),
        Hostile("png-1bit", encode(one_bit, "PNG"), grey(np.where(bits, 255, 0)), 0, ""),
        Hostile("bmp-1bit", encode(one_bit, "BMP"), grey(np.where(bits, 255, 0)), 0, ""),
    ]


def colour_cases() -> list[Hostile]:
    # Solid inks, whose RGB every CMYK convention agrees on; Pillow writes CMYK JPEGs Adobe-style (inverted).
    inks = [(255, 0, 0, 0), (0, 255, 0, 0), (0, 0, 255, 0), (0, 0, 0, 255), (0, 0, 0, 0), (0, 0, 0, 0)]
    seen = [(0, 255, 255), (255, 0, 255), (255, 255, 0), BLACK, WHITE, WHITE]
    cmyk = np.zeros((16, 16 * len(inks), 4), np.uint8)
    expected = np.zeros((16, 16 * len(inks), 3), np.uint8)
    for i, (ink, rgb) in enumerate(zip(inks, seen, strict=True)):
        cmyk[:, 16 * i : 16 * (i + 1)] = ink
        expected[:, 16 * i : 16 * (i + 1)] = rgb
    data = encode(Image.fromarray(cmyk, "CMYK"), "JPEG", quality=95)
    return [
        Hostile("jpeg-cmyk", data, expected, 6.0, "CMYK converted to RGB"),
        Hostile("bmp-plain", encode(Image.fromarray(upright()), "BMP"), upright(), 0, ""),
    ]


def cmyk_with_profile() -> Hostile:
    """A CMYK JPEG (Adobe-inverted, as Pillow and Photoshop write it) with a press profile whose inks are not the
    textbook ones: a plain CMYK conversion would show cyan as 0, 255, 255."""
    inks = {
        (1, 0, 0, 0): (0, 160, 220),
        (0, 1, 0, 0): (220, 0, 130),
        (0, 0, 1, 0): (255, 230, 0),
        (0, 0, 0, 1): (30, 30, 30),
        (0, 0, 0, 0): WHITE,
    }
    samples = np.zeros((16, 16 * len(inks), 4), np.uint8)
    expected = np.zeros((16, 16 * len(inks), 3), np.uint8)
    for i, (ink, rgb) in enumerate(inks.items()):
        samples[:, 16 * i : 16 * (i + 1)] = np.array(ink) * 255
        expected[:, 16 * i : 16 * (i + 1)] = rgb
    profile = cmyk_icc("Press inks (test)", inks)
    data = encode(Image.fromarray(samples, "CMYK"), "JPEG", quality=95, icc_profile=profile)
    return Hostile("jpeg-cmyk-icc", data, expected, 2.0, "Press inks (test)")


def icc_cases() -> list[Hostile]:
    ramp = np.tile(np.arange(256, dtype=np.uint8), (4, 1))
    image = Image.fromarray(np.dstack([ramp, ramp[:, ::-1], np.full_like(ramp, 128)]))
    expected = srgb_encoded(np.asarray(image) / 255)
    # Krita ships this linear-light profile under this name: a profile is known by what it does, not what it says.
    misnamed = linear_light_icc("sRGB-elle-V2-g10.icc")
    srgb_table = display_icc("IEC 61966-2-1 tone curve as a 1024-entry table (test)", srgb_curve())
    grey_linear = grey_icc("Grey, gamma 1.0 (test)", gamma_curve(1.0))
    # PNG spec 11.3.3: gAMA 100000 is gamma 1.0 (linear light); cHRM here names sRGB's own white and primaries.
    linear_chunks, gamma_alone = PngImagePlugin.PngInfo(), PngImagePlugin.PngInfo()
    for info in (linear_chunks, gamma_alone):
        info.add(b"gAMA", struct.pack(">I", 100000))
    srgb_xy = (0.3127, 0.3290, 0.64, 0.33, 0.30, 0.60, 0.15, 0.06)
    linear_chunks.add(b"cHRM", struct.pack(">8I", *(round(v * 100000) for v in srgb_xy)))
    return [
        Hostile("png-icc-linear-light", encode(image, "PNG", icc_profile=linear_light_icc()), expected, 0.5, "ICC"),
        Hostile("png-icc-linear-named-srgb", encode(image, "PNG", icc_profile=misnamed), expected, 0.5, "sRGB-elle"),
        Hostile("png-icc-srgb-as-a-table", encode(image, "PNG", icc_profile=srgb_table), np.asarray(image), 0, ""),
        Hostile(
            "png-grey-icc-linear",
            encode(Image.fromarray(ramp), "PNG", icc_profile=grey_linear),
            grey(srgb_encoded(ramp / 255)),
            0.5,
            "Grey, gamma 1.0 (test)",
        ),
        Hostile("png-gama-chrm-linear", encode(image, "PNG", pnginfo=linear_chunks), expected, 0.5, "gAMA 1 and cHRM"),
        cmyk_with_profile(),
        # Browsers (Blink, and Firefox and Safari by its account) apply no gAMA without a cHRM.
        Hostile("png-gama-alone", encode(image, "PNG", pnginfo=gamma_alone), np.asarray(image), 0, ""),
    ]


def animated_cases() -> list[Hostile]:
    def frames() -> list[Image.Image]:  # new ones for each file: a save leaves its options on the appended frames
        return [Image.new("RGB", (W, H), colour) for colour in (RED, BLUE, GREEN)]

    first = np.zeros((H, W, 3), np.uint8)
    first[:] = RED

    def options() -> dict[str, object]:
        return {"save_all": True, "append_images": frames()[1:], "duration": 100, "loop": 0}

    return [
        Hostile("gif-animated", encode(frames()[0], "GIF", **options()), first, 0, "animated GIF: first of 3 frames"),
        Hostile(
            "webp-animated",
            encode(frames()[0], "WEBP", lossless=True, **options()),
            first,
            0,
            "animated WEBP: first of 3 frames",
        ),
        Hostile("apng", encode(frames()[0], "PNG", **options()), first, 0, "animated PNG: first of 3 frames"),
        Hostile(
            "jpeg-mpo",
            encode(frames()[0], "MPO", save_all=True, append_images=frames()[1:]),
            first,
            3.0,
            "multi-picture JPEG (MPO): first of 3 pictures",
        ),
        Hostile(
            "tiff-pages",
            encode(frames()[0], "TIFF", save_all=True, append_images=frames()[1:]),
            first,
            0,
            "first of 3 pages",
        ),
    ]


XMP_ORIENTATION_6 = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>'
)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_rgb16(samples: np.ndarray, trns: tuple[int, int, int]) -> bytes:
    """A 16-bit RGB PNG (PNG spec 11.2.2, filter type 0 on every row) with a tRNS colour of 16-bit samples."""
    height, width = samples.shape[:2]
    rows = b"".join(b"\0" + samples[y].astype(">u2").tobytes() for y in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
        + _png_chunk(b"tRNS", struct.pack(">HHH", *trns))
        + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )


def bmp_v5(rgba: np.ndarray) -> bytes:
    """A 32-bit BMP with a BITMAPV5HEADER whose bit fields name an alpha channel (BGRA, bottom-up rows)."""
    height, width = rgba.shape[:2]
    rows = np.ascontiguousarray(rgba[::-1][..., [2, 1, 0, 3]]).tobytes()
    header = struct.pack("<IiiHHIIiiII", 124, width, height, 1, 32, 3, len(rows), 2835, 2835, 0, 0)
    header += struct.pack("<IIII", 0xFF0000, 0xFF00, 0xFF, 0xFF000000) + b"sRGB" + bytes(48)
    header += struct.pack("<IIII", 4, 0, 0, 0)  # LCS_GM_IMAGES, no profile
    return b"BM" + struct.pack("<IHHI", 14 + len(header) + len(rows), 0, 0, 14 + len(header)) + header + rows


def gif_first_frame_in_part() -> bytes:
    """A GIF whose only frame, 16x8 of blue at (4, 4), covers part of its 48x32 screen; the background index names
    black. Browsers leave the rest transparent (they ignore the background colour)."""
    frame = Image.new("P", (16, 8), 1)
    frame.putpalette([*BLACK, *BLUE])
    data = bytearray(encode(frame, "GIF", optimize=False))
    data[6:10] = struct.pack("<HH", W, H)  # the logical screen
    data[11] = 0  # background colour index: black
    descriptor = data.index(b",", 13)
    data[descriptor + 1 : descriptor + 5] = struct.pack("<HH", 4, 4)
    return bytes(data)


def decoder_cases() -> list[Hostile]:
    """Where Pillow's decoding itself differs from a browser's."""
    stored = Image.fromarray(np.ascontiguousarray(STORED_FOR_ORIENTATION[6](upright())))
    raw_exif = _exif(6).tobytes()
    text = PngImagePlugin.PngInfo()
    text.add_text("Raw profile type exif", f"\nexif\n{len(raw_exif):8}\n{raw_exif.hex()}\n")
    as_stored = np.asarray(stored)
    frames = [Image.new("RGB", (W, H), colour) for colour in (GREEN, RED, BLUE)]
    apng = encode(frames[0], "PNG", save_all=True, append_images=frames[1:], default_image=True, duration=100)
    red, white = np.zeros((H, W, 3), np.uint8), np.full((H, W, 3), 255, np.uint8)
    red[:] = RED
    gif_expected = white.copy()
    gif_expected[4:12, 4:20] = BLUE
    zero_alpha = np.dstack([upright(), np.zeros((H, W), np.uint8)])
    # 16-bit samples: (0, 0, 0) exactly is the tRNS colour; (100, 100, 100) is black too at 8 bits, yet opaque.
    deep = upright().astype(np.uint16) * 257
    deep[: H // 2, : W // 2] = 0
    deep[H // 2 :, : W // 2] = 100
    deep_expected = upright().copy()
    deep_expected[: H // 2, : W // 2] = WHITE
    deep_expected[H // 2 :, : W // 2] = BLACK
    return [
        Hostile(
            "jpeg-xmp-orientation-only", encode(stored, "JPEG", quality=95, xmp=XMP_ORIENTATION_6), as_stored, 4, ""
        ),
        Hostile("png-raw-profile-exif", encode(stored, "PNG", pnginfo=text), as_stored, 0, ""),
        Hostile("tiff-xmp-orientation-only", encode(stored, "TIFF", tiffinfo={700: XMP_ORIENTATION_6}), as_stored, 0),
        Hostile("tiff-orientation-6", encode(stored, "TIFF", tiffinfo={0x0112: 6}), upright(), 0, "EXIF orientation 6"),
        Hostile("apng-default-image", apng, red, 0, "animated PNG: first of 2 frames"),
        Hostile("gif-first-frame-in-part", gif_first_frame_in_part(), gif_expected, 0, "covers part of the picture"),
        Hostile("bmp-alpha-all-zero", bmp_v5(zero_alpha), upright(), 0, "BMP alpha channel all zero"),
        Hostile("png-rgb16-trns", png_rgb16(deep, (0, 0, 0)), deep_expected, 0, "composited on white"),
    ]


def hostile_images() -> list[Hostile]:
    """Every kind, as files of the formats Critic Desk accepts."""
    cases = exif_cases() + transparency_cases() + depth_cases() + colour_cases() + icc_cases() + animated_cases()
    return cases + decoder_cases()


def pixels(data: bytes) -> np.ndarray:
    """Decoded RGB samples of a PNG or WebP the app produced (no conversion: it must already be RGB)."""
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "RGB", im.mode
        return np.asarray(im)


def difference(got: np.ndarray, expected: np.ndarray) -> float:
    assert got.shape == expected.shape, (got.shape, expected.shape)
    return float(np.abs(got.astype(np.int16) - expected.astype(np.int16)).mean())
