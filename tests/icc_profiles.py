"""ICC v2 display profiles for tests (ICC.1:2001-04), written byte by byte so that what they do is known without
the colour management under test: matrix/TRC RGB profiles with sRGB's primaries adapted to D50 (IEC 61966-2-1 with
the Bradford transform) and greyscale profiles, each with the tone curve asked for."""

from __future__ import annotations

import struct

import numpy as np

D50 = (0.9642, 1.0, 0.8249)
SRGB_COLORANTS = (
    (b"rXYZ", (0.4360747, 0.2225045, 0.0139322)),
    (b"gXYZ", (0.3850649, 0.7168786, 0.0971045)),
    (b"bXYZ", (0.1430804, 0.0606169, 0.7141733)),
)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + bytes(4) + _s15(x) + _s15(y) + _s15(z)


def gamma_curve(gamma: float) -> bytes:
    """A curveType of one u8Fixed8 exponent: samples ** gamma is light."""
    return b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)


def srgb_curve(entries: int = 1024) -> bytes:
    """A curveType table of the sRGB transfer function (IEC 61966-2-1), as the common 'sRGB IEC61966-2.1' profile
    carries it."""
    x = np.linspace(0, 1, entries)
    light = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    return b"curv" + bytes(4) + struct.pack(">I", entries) + np.rint(light * 65535).astype(">u2").tobytes()


def _profile(name: str, space: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    text = name.encode("ascii") + b"\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(8) + bytes(3) + bytes(67)
    tags = [(b"desc", desc), (b"wtpt", _xyz(*D50)), *tags]
    offset = 128 + 4 + 12 * len(tags)
    table, body = struct.pack(">I", len(tags)), b""
    for signature, data in tags:
        data += bytes(-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    header = struct.pack(">I", offset + len(body)) + bytes(4) + struct.pack(">I", 0x02100000)
    header += b"mntr" + space + b"XYZ " + bytes(12) + b"acsp" + bytes(28) + b"".join(map(_s15, D50)) + bytes(48)
    return header + table + body


def display_icc(name: str, curve: bytes) -> bytes:
    """An RGB matrix/TRC profile with sRGB's primaries and the given tone curve on every channel."""
    colorants = [(signature, _xyz(*xyz)) for signature, xyz in SRGB_COLORANTS]
    return _profile(name, b"RGB ", [*colorants, (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)])


def grey_icc(name: str, curve: bytes) -> bytes:
    """A greyscale display profile with the given tone curve."""
    return _profile(name, b"GRAY", [(b"kTRC", curve)])


def linear_light_icc(name: str = "Linear light, sRGB primaries (test)") -> bytes:
    """sRGB's primaries with a gamma 1.0 tone curve: samples proportional to light."""
    return display_icc(name, gamma_curve(1.0))


def srgb_encoded(linear: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1: the sRGB transfer function, from light (0-1) to 8-bit samples."""
    x = linear.astype(np.float64)
    return np.rint(np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055) * 255).astype(np.uint8)


def _srgb_light(rgb: tuple[int, int, int]) -> np.ndarray:
    """An 8-bit sRGB colour as linear light (IEC 61966-2-1's transfer function)."""
    c = np.asarray(rgb) / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def cmyk_icc(name: str, inks: dict[tuple[int, int, int, int], tuple[int, int, int]]) -> bytes:
    """A CMYK output profile whose A2B0 (an ICC v2 lut16Type, 2 grid points an ink, PCS XYZ) shows each solid ink
    (1, 0, 0, 0), ... and bare paper (0, 0, 0, 0) as the given sRGB colour; overprints multiply the inks' light."""
    to_xyz = np.array([xyz for _, xyz in SRGB_COLORANTS]).T  # sRGB's primaries, D50

    def corner(ink: tuple[int, ...]) -> np.ndarray:
        if ink in inks:
            return to_xyz @ _srgb_light(inks[ink])
        light = np.ones(3)
        for i in (i for i, on in enumerate(ink) if on):
            light = light * _srgb_light(inks[tuple(int(j == i) for j in range(4))])
        return to_xyz @ light

    grid = [tuple(int(b) for b in f"{n:04b}") for n in range(16)]  # the first ink varies slowest
    clut = b"".join(struct.pack(">3H", *(min(65535, round(v * 32768)) for v in corner(ink))) for ink in grid)
    identity = b"".join(map(_s15, (1, 0, 0, 0, 1, 0, 0, 0, 1)))
    ramp = struct.pack(">2H", 0, 65535)
    lut = b"mft2" + bytes(4) + bytes([4, 3, 2, 0]) + identity + struct.pack(">HH", 2, 2) + ramp * 4 + clut + ramp * 3
    profile = bytearray(_profile(name, b"CMYK", [(b"A2B0", lut)]))
    profile[12:16] = b"prtr"  # an output device
    return bytes(profile)
