"""The demo: accounts, a dataset from fixtures/demo and two reviewers' verdicts on it, loaded so that a second run
adds nothing."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from annotations.models import Dataset, HumanVerdict
from annotations.services.imports import items_import
from annotations.services.verdict_summary import critic_disagreement_refresh, items_recount

DEMO_DIR = settings.BASE_DIR / "fixtures" / "demo"
DEMO_DATASET = "Demo: shapes, counts and charts"
# Fixed, printed credentials for a demo that listens on 127.0.0.1 only.
DEMO_ACCOUNTS = {"admin": ("admin-demo-pass", True), "reviewer": ("reviewer-demo-pass", False)}
# Reviewers whose verdicts the demo holds (no password: nobody logs in as them), so that the metrics, the item
# table's counts and the disagreement marks have something to show; `reviewer` is left with everything to judge.
DEMO_REVIEWERS = ("maria", "kenji")


@dataclass(frozen=True)
class DemoResult:
    dataset: Dataset
    items_added: int
    accounts: dict[str, str]


@transaction.atomic
def demo_load(*, directory: Path = DEMO_DIR) -> DemoResult:
    user_model = get_user_model()
    for username, (password, is_admin) in DEMO_ACCOUNTS.items():
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"is_staff": is_admin, "is_superuser": is_admin}
        )
        if created:
            user.set_password(password)
            user.save()
    admin = user_model.objects.get(username="admin")
    dataset, _ = Dataset.objects.get_or_create(
        name=DEMO_DATASET,
        defaults={
            "description": "Drawn by fixtures/make_demo.py: questions with answers of varying quality from four "
            "models. One response carries HTML, shown escaped.",
            "created_by": admin,
        },
    )
    # The same import as any user's file; on a second run its items are only refreshed, none added.
    report = items_import(
        dataset=dataset, path=directory / "items.jsonl", images=directory, update=True, created_by=admin
    )
    if not report.ok:
        raise ValueError(f"the demo fixtures do not import: {report.summary()}: {report.problems[:3]}")
    added = report.created
    demo_reviews(dataset=dataset)
    return DemoResult(
        dataset=dataset, items_added=added, accounts={name: pw for name, (pw, _) in DEMO_ACCOUNTS.items()}
    )


def demo_reviews(*, dataset: Dataset, seed: int = 7) -> int:
    """Two thirds of the dataset's items judged by each of DEMO_REVIEWERS (made up, the same on every run), as
    committed at the desk; the items' verdict counts and the critic verdicts' disagreement marks refreshed as every
    writer other than the desk does (services/verdict_summary.py). Returns the verdicts added (none on a rerun)."""
    user_model = get_user_model()
    people = []
    for username in DEMO_REVIEWERS:
        person, created = user_model.objects.get_or_create(username=username)
        if created:
            person.set_unusable_password()
            person.save()
        people.append(person)
    rng = random.Random(seed)
    added = 0
    for i, item in enumerate(dataset.items.order_by("external_id")):
        if i % 3 == 2:
            continue
        for k, person in enumerate(people):
            verdict: dict[str, str | float]
            if item.kind == "pairwise":
                verdict = {"preference": ("A", "B", "A", "tie")[(i + k) % 4]}
            else:
                verdict = {"score": float(rng.randrange(10, 100))}
            _, created = HumanVerdict.objects.get_or_create(
                item=item, reviewer=person, defaults={"profile": item.profile, **verdict}
            )
            added += created
    items_recount(dataset=dataset)
    critic_disagreement_refresh(dataset=dataset)
    return added
