"""Metrics at 1k, 10k and 100k verdict pairs: `agreement_for_dataset` (the statistics with their bootstrap
intervals), the dashboard request and `critic_metrics --json`, server time, with the result cache cleared
before each run (cold) and, for the dashboard, also served from the cache (warm).

    .venv/bin/python bench/metrics.py [--sizes 1000,10000,100000] [--repeat 3]

Builds its data with bulk_create in its own PostgreSQL database (critic_desk_bench_h11) and writes its section of
docs/BENCHMARKS.md. Each size is a dataset of n items, half pointwise (integer scores 0-100, as the desk's
slider gives) and half pairwise, six response models, one critic verdict per item, reviewers on 60% of them
(one; two on 10% of the items, three on 3%), revisions on 5%, swap checks on 10% of the pairwise items, and
blank-image probes on 10% of all items.
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = os.environ.get("METRICS_BENCH_DB", "critic_desk_bench_h11")
GOAL_SECONDS = 1.0
MODELS = ["llava-1.5-7b", "llava-ov-7b", "gpt-4o-mini", "qwen2-vl-7b", "cogvlm2", "internvl2-8b"]


def fresh_database(env: dict[str, str]) -> None:
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc"]
    subprocess.run([*psql, f"DROP DATABASE IF EXISTS {DB_NAME}"], check=True, capture_output=True)
    subprocess.run([*psql, f"CREATE DATABASE {DB_NAME}"], check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)


def build(n: int, seed: int = 0) -> int:
    """A dataset of n items with their verdicts; returns its pk."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, Item
    from annotations.services.images import image_check, image_store
    from tests.images import png_bytes

    rng = np.random.default_rng(seed)
    now = timezone.now()
    image = image_store(checked=image_check(data=png_bytes()))[0]
    checkpoint = CriticCheckpoint.objects.filter(is_active=True).first() or CriticCheckpoint.objects.create(
        name="llava-critic-7b [nf4]", model="/models/llava-critic-7b", is_active=True
    )
    reviewers = [User.objects.get_or_create(username=f"bench-reviewer-{i}")[0] for i in range(20)]
    dataset = Dataset.objects.create(name=f"bench-{n}-{secrets.token_hex(3)}", review_overlap=2)
    items = []
    for i in range(n):
        a = MODELS[rng.integers(len(MODELS))]
        if i % 2:
            b = MODELS[(MODELS.index(a) + 1 + rng.integers(len(MODELS) - 1)) % len(MODELS)]
            items.append(
                Item(
                    dataset=dataset,
                    external_id=f"q{i}",
                    image=image,
                    question="Which is better?",
                    response_a="one",
                    response_b="two",
                    model_a=a,
                    model_b=b,
                    kind="pairwise",
                    profile="pairwise",
                    split="gold" if i % 10 == 0 else "pool",
                )
            )
        else:
            items.append(
                Item(
                    dataset=dataset,
                    external_id=f"q{i}",
                    image=image,
                    question="How many?",
                    response_a="three",
                    model_a=a,
                    kind="pointwise",
                    profile="pointwise",
                    split="gold" if i % 10 == 0 else "pool",
                )
            )
    items = Item.objects.bulk_create(items, batch_size=5000)
    strength = {m: rng.normal(0, 1) for m in MODELS}
    critic, human = [], []
    # 40% of the items judged by the critic only (PPI's unlabeled items); of the rest, 3% with three reviewers
    # (the alt-test's items) and 10% with two.
    unlabeled = set(np.flatnonzero(rng.random(n) < 0.4).tolist())
    kinds = rng.random(n)

    def extra_reviewers(i: int) -> int:
        return 3 if kinds[i] < 0.03 else (2 if kinds[i] < 0.13 else 1)

    def swap_check(item: Item, cp: str) -> None:
        if rng.random() < 0.1:
            flipped = {"A": "B", "B": "A", "tie": "tie"}[cp] if rng.random() < 0.2 else cp
            critic.append(
                CriticVerdict(
                    item=item,
                    checkpoint=checkpoint,
                    profile="pairwise",
                    status="done",
                    preference=flipped,
                    probe="swap",
                    finished_at=now,
                )
            )

    def blank_image_probe(item: Item, score: float | None = None, preference: str | None = None) -> None:
        if rng.random() < 0.1:  # the critic half-ignores the picture: scores fall a little, preferences rarely move
            critic.append(
                CriticVerdict(
                    item=item,
                    checkpoint=checkpoint,
                    profile=item.profile,
                    status="done",
                    score=None if score is None else float(np.clip(round(score - rng.normal(5, 10)), 0, 100)),
                    preference=None if preference is None else ("tie" if rng.random() < 0.1 else preference),
                    probe="blank-image",
                    finished_at=now,
                )
            )

    for i, item in enumerate(items):
        reviewer = reviewers[i % len(reviewers)]
        if item.kind == "pointwise":
            truth = 50 + 15 * strength[item.model_a] + rng.normal(0, 20)
            h = float(np.clip(round(truth + rng.normal(0, 8)), 0, 100))
            c = float(np.clip(round(truth + rng.normal(0, 15)), 0, 100))
            critic.append(
                CriticVerdict(
                    item=item,
                    checkpoint=checkpoint,
                    profile="pointwise",
                    status="done",
                    score=c,
                    confidence=float(rng.uniform(0.01, 0.3)),
                    finished_at=now,
                )
            )
            blank_image_probe(item, score=c)
            revised = {"revised_score": float(np.clip(round((h + c) / 2), 0, 100)), "revised_at": now}
            if i in unlabeled:
                continue
            human.append(
                HumanVerdict(
                    item=item,
                    reviewer=reviewer,
                    profile="pointwise",
                    score=h,
                    **(revised if rng.random() < 0.05 else {}),
                )
            )
            for k in range(1, extra_reviewers(i)):
                other = float(np.clip(round(truth + rng.normal(0, 8)), 0, 100))
                human.append(
                    HumanVerdict(item=item, reviewer=reviewers[(i + k) % 20], profile="pointwise", score=other)
                )
        else:
            d = strength[item.model_a] - strength[item.model_b]
            p = 1 / (1 + np.exp(-d))

            def draw(noise: float, p: float = p) -> str:
                r = rng.random()
                return "tie" if r < 0.15 else ("A" if rng.random() < p + rng.normal(0, noise) else "B")

            hp, cp = draw(0.05), draw(0.15)
            critic.append(
                CriticVerdict(
                    item=item,
                    checkpoint=checkpoint,
                    profile="pairwise",
                    status="done",
                    preference=cp,
                    confidence=float(rng.uniform(0.34, 1.0)),
                    finished_at=now,
                )
            )
            revised = {"revised_preference": cp, "revised_at": now}
            swap_check(item, cp)
            blank_image_probe(item, preference=cp)
            if i in unlabeled:
                continue
            human.append(
                HumanVerdict(
                    item=item,
                    reviewer=reviewer,
                    profile="pairwise",
                    preference=hp,
                    **(revised if rng.random() < 0.05 and cp != hp else {}),
                )
            )
            for k in range(1, extra_reviewers(i)):
                human.append(
                    HumanVerdict(item=item, reviewer=reviewers[(i + k) % 20], profile="pairwise", preference=draw(0.05))
                )
    CriticVerdict.objects.bulk_create(critic, batch_size=5000)
    HumanVerdict.objects.bulk_create(human, batch_size=5000)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # what autovacuum does soon after a bulk load; without it plans are blind
    return dataset.pk


def fetch_verdicts(dataset) -> None:  # type: ignore[no-untyped-def]
    """The selector's fetches alone (the same queries), to tell the database's share from the statistics'."""
    from annotations.models import CriticCheckpoint
    from annotations.selectors.metrics.fetch import verdicts_fetch

    checkpoint = CriticCheckpoint.objects.filter(is_active=True).first()
    verdicts_fetch(dataset, checkpoint, {"split": None, "profile": None, "response_model": None})


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    """The median of `repeat` cold runs (the metrics cache cleared before each)."""
    from django.core.cache import cache

    runs = []
    for _ in range(repeat):
        cache.clear()
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="metrics-bench-"))
    env = {
        "DJANGO_SETTINGS_MODULE": "webapp.settings.base",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_hex(32),
        "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        "CRITIC_DESK_VAR": str(work),
        "MEDIA_ROOT": str(work / "media"),
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/7"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/7"),
    }
    os.environ.update(env)
    fresh_database({**os.environ})

    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    from annotations.models import CriticVerdict, Dataset, HumanVerdict
    from annotations.selectors.metrics import agreement_for_dataset
    from annotations.selectors.metrics import dashboard as metrics_module

    trust_seconds: list[float] = []
    with_trust = metrics_module.trust_section

    def timed_trust(**kwargs):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        out = with_trust(**kwargs)
        trust_seconds.append(time.perf_counter() - started)
        return out

    metrics_module.trust_section = timed_trust  # the trust section's own share of each cold run

    # An administrator: a reviewer's dashboard covers only the items they judged (the blind rule), none here.
    viewer = User.objects.create_user("bench-viewer", password=secrets.token_hex(8), is_staff=True)
    client = Client()
    client.force_login(viewer)
    rows = []
    for n in sizes:
        started = time.perf_counter()
        dataset = Dataset.objects.get(pk=build(n))
        built = time.perf_counter() - started
        pairs = HumanVerdict.objects.filter(item__dataset=dataset).count()
        critic_rows = CriticVerdict.objects.filter(item__dataset=dataset).count()
        url = f"/datasets/{dataset.pk}/metrics/"

        def page(url: str = url) -> None:
            response = client.get(url)
            assert response.status_code == 200, response.status_code

        def command(d: Dataset = dataset) -> None:
            call_command("critic_metrics", "--dataset", d.name, "--json", stdout=io.StringIO())

        if n == sizes[0]:
            # Once per process, untimed: the first metrics import ppi-python (numba, statsmodels), the first page
            # compiles its templates, the first command loads its module; a worker pays these once, not per view.
            page()
            command()
        trust_seconds.clear()
        selector = timed(lambda d=dataset: agreement_for_dataset(dataset=d), args.repeat)
        trust = statistics.median(trust_seconds)
        fetch = timed(lambda d=dataset: fetch_verdicts(d), args.repeat)
        load = os.getloadavg()[0]
        dashboard = timed(page, args.repeat)
        page()  # fill the cache
        started = time.perf_counter()
        for _ in range(args.repeat):
            page()
        warm = (time.perf_counter() - started) / args.repeat
        command_seconds = timed(command, args.repeat)
        print(
            f"{n:>7} items ({pairs} human, {critic_rows} critic verdicts; built in {built:.0f} s): selector "
            f"{selector:.3f} s (trust {trust:.3f} s), dashboard {dashboard:.3f} s (cached {warm * 1000:.0f} ms), "
            f"command {command_seconds:.3f} s"
        )
        rows.append((n, pairs, critic_rows, selector, fetch, trust, dashboard, warm, command_seconds, load))

    lines = [
        "## Metrics (issue 6)",
        "",
        f"`.venv/bin/python bench/metrics.py --sizes {args.sizes} --repeat {args.repeat}`: datasets of n items "
        "(half pointwise with integer scores 0-100, half pairwise; six response models; one critic verdict per item, "
        "reviewers on 60% of the items (one; two on 10% of all items, three on 3%: the alt-test's), revisions on 5%, "
        "swap checks on 10% of the pairwise items, blank-image probes on 10% of all items) in PostgreSQL, with the "
        "trust section (alt-test, human ceiling, PPI per model, planning). Server time, in-process, median of the "
        "runs, the metrics cache cleared before each (after one untimed dashboard view and command: a process's "
        "first metrics import ppi-python, numba and statsmodels, its first page compiles the templates, once per "
        "worker): "
        "`agreement_for_dataset` (queries, every statistic and its bootstrap interval, the leaderboards), the "
        "dashboard request through Django's test client as an administrator (the same plus the plots and the page), "
        "and "
        "`critic_metrics --json`. Cached: the dashboard again while no verdict changed. Goal: under 1 s at 100k.",
        "",
        "| items | human verdicts | critic verdicts | selector (s) | of which fetching the verdicts (s) "
        "| of which the trust section (s) | dashboard (s) | dashboard / goal "
        "| dashboard cached (ms) | `critic_metrics --json` (s) | machine load (1 min) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    from annotations import stats

    for n, pairs, critic_rows, selector, fetch, trust, dashboard, warm, command, load in rows:
        lines.append(
            f"| {n:,} | {pairs:,} | {critic_rows:,} | {selector:.3f} | {fetch:.3f} | {trust:.3f} | {dashboard:.3f} "
            f"| {dashboard / GOAL_SECONDS:.2f} | {warm * 1000:.0f} | {command:.3f} | {load:.1f} |"
        )
    lines += [
        "",
        f"Intervals: {stats.B:,} seeded multinomial replicates over the distinct observations; a statistic whose "
        f"data have more than {stats.MAX_DRAWS // stats.B:,} distinct observations (integer 0-100 scores on both "
        f"sides give thousands of distinct pairs) gets {stats.MAX_DRAWS:,} / that many replicates, never fewer "
        f"than {stats.MIN_B}. A replicate is drawn as multinomial counts when there are many rows per distinct "
        "observation, else by resampling the rows themselves (the same distribution, cheaper there).",
        "",
        "These machines have 2 cores, often shared with other runs: the last column is the load average "
        "when each size was measured, and the figures move by 2x with it between runs. Repeat views are served "
        "from the cache (a fingerprint of the dataset's verdicts: the range of its item ids, then one aggregate "
        "statement over that range) until a verdict changes. The verdicts are fetched as typed columns (PostgreSQL "
        "sends each column as one binary string; kinds, profiles and model names as codes, preferences, probes and "
        "revisions in the low bits of the item id).",
    ]
    from bench.report import write_section

    write_section("metrics", "\n".join(lines))


if __name__ == "__main__":
    main()
