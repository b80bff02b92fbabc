"""Import speed and memory: JSONL files of 1k, 10k and 100k rows (1k distinct images in a folder, every image
decoded and checked) into PostgreSQL through `manage.py import_items`, each in a fresh process.

    .venv/bin/python bench/import_items.py [--sizes 1000,10000,100000] [--label-studio PATH_TO_ITS_VENV]

With --label-studio, the same 10k rows are imported as tasks into Label Studio (started from that venv on
127.0.0.1:8089, default SQLite, as in shared/reference/anchors.md) in the same run, for the ratio.
Writes its section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "critic_desk_bench_import"
DISTINCT_IMAGES = 1000


def make_files(work: Path, sizes: list[int]) -> dict[int, Path]:
    from tests.images import png_bytes

    images = work / "imgs"
    images.mkdir(parents=True)
    for i in range(DISTINCT_IMAGES):
        (images / f"{i}.png").write_bytes(png_bytes((64 + i % 64, 48), (i % 256, i // 256, 90)))  # all distinct
    files = {}
    for n in sizes:
        path = work / f"items-{n}.jsonl"
        with path.open("w") as f:
            for i in range(n):
                row = {"id": f"q{i}", "image": f"imgs/{i % DISTINCT_IMAGES}.png", "question": f"What is shown in {i}?"}
                if i % 2:
                    row |= {
                        "response_a": f"A bar chart with {i % 7} bars.",
                        "response_b": "A photo of a cat.",
                        "model_a": "llava-1.5-7b",
                        "model_b": "gpt-4o-mini",
                    }
                else:
                    row |= {"response": f"There are {i % 9} circles.", "model": "qwen2-vl-7b"}
                f.write(json.dumps(row) + "\n")
        files[n] = path
    return files


def fresh_database(env: dict[str, str], work: Path) -> None:
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc"]
    subprocess.run([*psql, f"DROP DATABASE IF EXISTS {DB_NAME}"], check=True, capture_output=True)
    subprocess.run([*psql, f"CREATE DATABASE {DB_NAME}"], check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)


def run_import(path: Path, images: Path, dataset: str, env: dict[str, str]) -> tuple[float, float, float]:
    """Seconds of the whole `import_items` process, seconds of the import itself (as the command reports them,
    without Python's start-up), and the process's peak resident memory (MiB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "import_items", str(path), "--images", str(images), "--dataset", dataset],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"import failed: {err.decode()}")
    match = re.search(rb" in ([0-9.]+) s \(", out)
    assert match, out
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far
    return seconds, float(match.group(1)), peak


def label_studio_import(venv: Path, path: Path, work: Path) -> float:
    """Tasks/s importing the same rows into Label Studio (it does not open the images)."""
    from bench.label_studio import label_studio

    config = (
        '<View><Image name="image" value="$image"/><Text name="q" value="$question"/>'
        '<Text name="a" value="$response_a"/><Text name="b" value="$response_b"/>'
        '<Choices name="pref" toName="q"><Choice value="A"/><Choice value="B"/><Choice value="tie"/>'
        '</Choices><Rating name="score" toName="q" maxRating="10"/></View>'
    )
    tasks = []
    for line in path.open():
        row = json.loads(line)
        tasks.append(
            {
                "image": row["image"],
                "question": row["question"],
                "response_a": row.get("response_a", row.get("response")),
                "response_b": row.get("response_b", ""),
            }
        )
    with label_studio(venv, work) as api:
        project = api("POST", "/api/projects", {"title": "bench", "label_config": config})["id"]
        started = time.perf_counter()
        api("POST", f"/api/projects/{project}/import", tasks)
        return len(tasks) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--label-studio", type=Path, help="a venv with label-studio installed")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="import-bench-"))
    # Debug off, as in production (with it on, Django keeps the text of recent queries in memory).
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings.base",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        "CRITIC_DESK_VAR": str(work),
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/12",
    }
    files = make_files(work, sizes)

    results = {}
    for n in sizes:  # smallest first: the peak memory read after each run is that run's own
        fresh_database(env, work)  # every run checks and stores its 1k images anew
        # A new media folder too: creating files just after deleting thousands is slow on this disk (discard).
        results[n] = run_import(files[n], work, f"bench-{n}", {**env, "MEDIA_ROOT": str(work / f"media-{n}")})
        total, inside, peak = results[n]
        print(f"{n:>7} rows: {n / total:,.0f} items/s ({n / inside:,.0f} without start-up), peak {peak:.0f} MiB")
    ls_rate = (
        label_studio_import(args.label_studio, files[10000], work) if args.label_studio and 10000 in files else None
    )

    lines = [
        "## Bulk import (issue 4)",
        "",
        f"`.venv/bin/python bench/import_items.py --sizes {args.sizes}"
        + (" --label-studio VENV`" if args.label_studio else "`")
        + f": JSONL rows (half pointwise, half pairwise) referencing {DISTINCT_IMAGES:,} distinct PNG images in a "
        "folder, imported into a fresh PostgreSQL database by `manage.py import_items` in a fresh process each "
        "(the whole file checked, every image decoded, checked and thumbnailed once, then the write). Peak memory "
        "is the process's resident set.",
        "",
        "| rows | process seconds | items/s | import seconds (no start-up) | items/s | peak memory (MiB) "
        "| memory vs the smallest |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    smallest = results[sizes[0]][2]
    for n in sizes:
        total, inside, peak = results[n]
        lines.append(
            f"| {n:,} | {total:.1f} | {n / total:,.0f} | {inside:.2f} | {n / inside:,.0f} | {peak:.0f} "
            f"| {peak / smallest:.2f} |"
        )
    if ls_rate is not None:
        ours = 10000 / results[10000][1]
        lines += [
            "",
            f"Label Studio 1.23.2, the same 10k rows as tasks through its import API on its running server (it "
            f"does not open the images): {ls_rate:,.0f} tasks/s. Critic Desk's import (images checked, no "
            f"start-up) / Label Studio: {ours / ls_rate:.2f}.",
        ]
    else:
        lines += ["", "Label Studio was not run in this measurement (pass --label-studio with its venv)."]
    from bench.report import write_section

    write_section("import", "\n".join(lines))


if __name__ == "__main__":
    main()
