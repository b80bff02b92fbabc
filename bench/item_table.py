"""The item table at 100,000 items: server time of a page request (the full view through Django's test client:
middleware, session, query, template) for every filter, sort and search of the table, first and last pages, as an
administrator and as a reviewer, against /ping/ in the same run. Goal: every page under 300 ms.

    .venv/bin/python bench/item_table.py [--items 100000] [--repeat 5]

Builds its data with bench/metrics.py's builder (items with critic and reviewer verdicts, six models) in its own
PostgreSQL database, fills what the services keep on the rows (the builder writes past them), vacuums and analyses
as autovacuum would, and writes its section of docs/BENCHMARKS.md with the machine's load average.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "critic_desk_bench_table"
GOAL_MS = 300.0
CASES = [
    ("first page", {}),
    ("last page", {"page": "last"}),
    ("search", {"q": "q4242"}),
    ("search, every item matches", {"q": "q"}),
    ("not judged by me", {"mine": "unjudged"}),
    ("judged by me", {"mine": "judged"}),
    ("disagreements", {"critic": "disagree"}),
    ("disagreements, last page", {"critic": "disagree", "page": "last"}),
    ("forced verdicts", {"critic": "forced"}),
    ("critic failed", {"critic": "failed"}),
    ("critic queued or running", {"critic": "pending"}),
    ("not sent to the critic", {"critic": "missing"}),
    ("model + split", {"model": "gpt-4o-mini", "split": "gold"}),
    ("profile", {"profile": "pairwise"}),
    ("newest first", {"sort": "-id"}),
    ("by item id", {"sort": "external_id"}),
    ("most human verdicts first", {"sort": "-verdicts"}),
    ("fewest human verdicts first", {"sort": "verdicts"}),
    ("fewest human verdicts, last page", {"sort": "verdicts", "page": "last"}),
    ("least confident critic first", {"sort": "confidence"}),
    ("most confident critic first", {"sort": "-confidence"}),
    ("least confident critic, last page", {"sort": "confidence", "page": "last"}),
]


def median_ms(fn: object, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        runs.append(1000 * (time.perf_counter() - started))
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="table-bench-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "webapp.settings.base",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_hex(32),
            "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
            "CRITIC_DESK_VAR": str(work),
            "MEDIA_ROOT": str(work / "media"),
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/7",
            "REDIS_URL": "redis://127.0.0.1:6379/7",
        }
    )
    import bench.metrics as metrics_bench

    metrics_bench.DB_NAME = DB_NAME
    metrics_bench.fresh_database({**os.environ})
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    from annotations.models import Dataset
    from annotations.services.verdict_summary import critic_disagreement_refresh, items_recount

    dataset = Dataset.objects.get(pk=metrics_bench.build(args.items))
    # The builder writes rows in bulk, past the services: what they keep on the rows is filled as the migration does.
    items_recount(dataset=dataset)
    critic_disagreement_refresh(dataset=dataset)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # as autovacuum leaves tables at rest: visibility maps set, statistics taken
    admin = User.objects.create_user("bench-admin", password=secrets.token_hex(8), is_staff=True)
    reviewer = User.objects.get(username="bench-reviewer-3")
    url = f"/datasets/{dataset.pk}/items/"
    rows = []
    load_before = os.getloadavg()[0]
    for role, user in (("administrator", admin), ("reviewer", reviewer)):
        client = Client()
        client.force_login(user)
        ping = median_ms(lambda c=client: c.get("/ping/"), args.repeat)
        for name, params in CASES:
            if params.get("page") == "last":  # the whole dataset's last page number: a filtered table shows its own
                params = {**params, "page": str(-(-args.items // 50))}

            def page(c: Client = client, p: dict[str, str] = params) -> None:
                response = c.get(url, p)
                assert response.status_code == 200, response.status_code

            page()  # warm the connection and the plan
            ms = median_ms(page, args.repeat)
            rows.append((role, name, ms, ms / ping))
    worst = max(ms for _, _, ms, _ in rows)
    table = "\n".join(f"| {role} | {name} | {ms:.0f} | {ratio:.0f}x |" for role, name, ms, ratio in rows)
    body = (
        "## Item table\n\n"
        f"`.venv/bin/python bench/item_table.py --items {args.items} --repeat {args.repeat}`: a dataset of "
        f"{args.items:,} items with critic and reviewer verdicts (bench/metrics.py's builder; the verdict counts and "
        "disagreement marks the services keep filled as migration 0025 fills them; then vacuumed and analysed, as "
        "autovacuum leaves tables at rest); median server time of "
        "a whole page request (50 rows) through Django's test client, and its ratio to `/ping/` for the same user "
        f"in the same run. Goal: under {GOAL_MS:.0f} ms. Worst: **{worst:.0f} ms** "
        f"({'met' if worst < GOAL_MS else 'missed'}). Load average (1 min) {load_before:.2f} before the requests, "
        f"{os.getloadavg()[0]:.2f} after. A filtered table's last page is asked for by the dataset's last page "
        "number (the table shows its own last page).\n\n"
        "| viewer | page | ms | of /ping/ |\n|---|---|---:|---:|\n" + table + "\n"
    )
    from bench.report import write_section

    write_section("item-table", body)
    print(body)


if __name__ == "__main__":
    main()
