"""What making the rendition costs at ingest, against the full decode the upload check did before it, and what the
PNG compression level buys: a photograph-like JPEG and a screenshot-like PNG, each 3 megapixels.

    .venv/bin/python bench/image_normalize.py [--repeat 5]

Django-free (annotations.services.image_rendition is pure Pillow and numpy); writes its section of
docs/BENCHMARKS.md. Each figure is the median of --repeat runs, all in one process.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZE = (2048, 1536)
HEAD = (
    "| image | original (MB) | plain decode (ms) | decode + rendition, level 1 (ms) | / plain decode |"
    " rendition (MB) | level 6 time / level 1 | level 6 bytes / level 1 |\n|---|---:|---:|---:|---:|---:|---:|---:|"
)


def photo() -> bytes:
    """Smooth light and sensor-like noise, as JPEG quality 90 (what cameras and phones write)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0 : SIZE[1], 0 : SIZE[0]]
    light = np.stack([x / SIZE[0], y / SIZE[1], (x + y) / sum(SIZE)], axis=-1) * 255
    pixels = np.clip(light + rng.normal(0, 6, light.shape), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=90)
    return out.getvalue()


def screenshot() -> bytes:
    """Flat panels and thin dark strokes, as PNG (what charts and screenshots are)."""
    rng = np.random.default_rng(1)
    pixels = np.full((SIZE[1], SIZE[0], 3), 246, np.uint8)
    for _ in range(60):
        x, y = int(rng.integers(0, SIZE[0] - 300)), int(rng.integers(0, SIZE[1] - 200))
        pixels[y : y + 200, x : x + 300] = rng.integers(0, 255, 3)
    pixels[::24, :] = 30
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def median_seconds(work: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from annotations.services import image_rendition
    from bench.report import write_section

    def decode(data: bytes) -> None:
        with Image.open(io.BytesIO(data)) as im:
            im.load()

    def normalize(data: bytes) -> int:
        with Image.open(io.BytesIO(data)) as im:
            return len(image_rendition.image_normalize(image=im).png)

    shipped = image_rendition.PNG_COMPRESS_LEVEL
    rows = []
    for name, data in (("photograph, JPEG", photo()), ("screenshot, PNG", screenshot())):
        base = median_seconds(lambda data=data: decode(data), args.repeat)  # type: ignore[misc]
        figures = {}
        for level in (1, 6):
            image_rendition.PNG_COMPRESS_LEVEL = level
            size = normalize(data)
            figures[level] = (median_seconds(lambda data=data: normalize(data), args.repeat), size)  # type: ignore[misc]
        image_rendition.PNG_COMPRESS_LEVEL = shipped
        (fast, fast_bytes), (slow, slow_bytes) = figures[1], figures[6]
        rows.append(
            f"| {name} | {len(data) / 1e6:.2f} | {base * 1000:.0f} | {fast * 1000:.0f} | {fast / base:.1f} | "
            f"{fast_bytes / 1e6:.2f} | {slow / fast:.1f} | {slow_bytes / fast_bytes:.2f} |"
        )
    body = f"""## Image normalisation (issue 14)

`.venv/bin/python bench/image_normalize.py --repeat {args.repeat}`: the rendition every consumer uses (upright 8-bit
RGB PNG, `annotations/services/image_rendition.py`) is made once per distinct image at ingest, in place of the plain
full decode the upload check did before. Two {SIZE[0]}x{SIZE[1]} (3.1 megapixel) images; medians of {args.repeat} runs
in one process. The shipped PNG level is {shipped}.

{HEAD}
""" + "\n".join(rows)
    write_section("image-normalize", body)
    print(body)


if __name__ == "__main__":
    main()
