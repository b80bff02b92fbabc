"""The README's tour: screenshots of the item table, the review desk with its keys (`?`) and the metrics dashboard's
plots, taken with headless Chromium from a live server over a demo database built here.

    .venv/bin/python scripts/tour_screenshots.py [--out docs/img]

Needs PostgreSQL on localhost (a database `critic_desk_tour`, dropped and made again) and /usr/bin/chromium. The data:
the demo dataset from fixtures/demo with its reviewers' verdicts (as `make demo` holds it) and critic verdicts,
and bench/metrics.py's builder for a dashboard with 800 items (seeded: the pictures are the same on every run).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "critic_desk_tour"
PASSWORD = "tour-" + secrets.token_hex(6)
WIDTH = 1280


def environment(work: Path) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "webapp.settings.test",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
            "CRITIC_DESK_VAR": str(work),
            "MEDIA_ROOT": str(work / "media"),
            "DJANGO_ALLOW_ASYNC_UNSAFE": "true",  # Playwright's sync API runs an event loop in this thread
        }
    )


def demo_with_verdicts() -> int:
    """The demo dataset (with its reviewers' verdicts, annotations/services/demo.py), every item judged by a critic;
    returns its pk."""
    import numpy as np

    from annotations.models import CriticCheckpoint, CriticVerdict
    from annotations.services.demo import demo_load
    from annotations.services.verdict_summary import critic_disagreement_refresh

    rng = np.random.default_rng(7)
    dataset = demo_load().dataset
    critic = CriticCheckpoint.objects.create(name="llava-critic-7b [nf4]", model="/models/critic", is_active=True)
    for i, item in enumerate(dataset.items.order_by("external_id")):
        if item.kind == "pairwise":
            verdict = {"preference": ("A", "B", "tie")[i % 3], "confidence": float(rng.uniform(0.4, 1))}
        else:
            verdict = {"score": float(rng.integers(20, 95)), "confidence": float(rng.uniform(0.05, 0.3))}
        CriticVerdict.objects.create(item=item, checkpoint=critic, profile=item.profile, status="done", **verdict)
    critic_disagreement_refresh(dataset=dataset)  # written past the services: the marks they keep, filled
    return dataset.pk


def team_profile() -> None:
    """A rubric a team defines: MLLM-as-a-Judge's 1-5 scale, read by a pattern."""
    from annotations.services.profiles import prompt_profile_create

    prompt_profile_create(
        name="judge-1to5",
        kind="pointwise",
        title="MLLM-as-a-Judge, 1-5",
        template="Rate the response to the question about the image from 1 to 5.\nQuestion: {question}\n"
        "Response: {response}\nEnd with 'Judgement: N'.",
        score_min=1,
        score_max=5,
        score_step=1,
        reader="pattern",
        verdict_pattern=r"Judgement:\s*\[?\[?(?P<score>[1-5])",
        verdict_line="Judgement: {score}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tour-"))
    environment(work)
    import bench.metrics as metrics_bench

    metrics_bench.DB_NAME = DB_NAME
    metrics_bench.fresh_database({**os.environ})
    import django

    django.setup()
    from django.contrib.auth.models import User
    from playwright.sync_api import sync_playwright
    from pytest_django.live_server_helper import LiveServer

    from annotations.models import Dataset

    demo = demo_with_verdicts()
    team_profile()
    big = metrics_bench.build(800, seed=3)
    Dataset.objects.filter(pk=big).update(name="Arena sample: 800 items, six models")
    for name, admin in (("ada", True), ("rita", False)):
        User.objects.create_user(name, password=PASSWORD, is_staff=admin, is_superuser=admin)
    server = LiveServer("127.0.0.1:0")
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
            shots(browser, server.url, demo, big, args.out)
            browser.close()
    finally:
        server.stop()


def login(browser, url: str, username: str):  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": WIDTH, "height": 860}, device_scale_factor=1)
    page.goto(f"{url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")
    return page


def shots(browser, url: str, demo: int, big: int, out: Path) -> None:  # type: ignore[no-untyped-def]
    admin = login(browser, url, "ada")
    admin.goto(f"{url}/datasets/{demo}/items/")
    admin.wait_for_load_state("networkidle")
    admin.screenshot(path=str(out / "tour-item-table.png"))
    admin.goto(f"{url}/datasets/{big}/metrics/")
    admin.wait_for_load_state("networkidle")
    admin.locator(".metric-grid > section").first.screenshot(path=str(out / "tour-scores.png"))
    admin.locator("section.leaderboard").screenshot(path=str(out / "tour-leaderboard.png"))
    admin.locator(".metric-grid > section").nth(2).screenshot(path=str(out / "tour-calibration.png"))
    admin.goto(f"{url}/profile/judge-1to5/")
    admin.get_by_label("A critic's text").fill("The caption misses the second dog.\n\nJudgement: [[2]]")
    admin.get_by_role("button", name="Read it").click()
    admin.wait_for_load_state("networkidle")
    admin.screenshot(path=str(out / "tour-profile.png"), full_page=True)
    reviewer = login(browser, url, "rita")
    reviewer.goto(f"{url}/datasets/{demo}/review/")
    reviewer.wait_for_load_state("networkidle")
    reviewer.keyboard.press("?")
    reviewer.wait_for_timeout(300)
    reviewer.screenshot(path=str(out / "tour-desk-keys.png"))
    for name in sorted(p.name for p in out.glob("tour-*.png")):
        print(out / name)


if __name__ == "__main__":
    main()
