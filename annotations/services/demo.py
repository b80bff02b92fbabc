"""The demo: accounts and a dataset from fixtures/demo, loaded so that a second run adds nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from annotations.models import Dataset
from annotations.services.imports import items_import

DEMO_DIR = settings.BASE_DIR / "fixtures" / "demo"
DEMO_DATASET = "Demo: shapes, counts and charts"
# Fixed, printed credentials for a demo that listens on 127.0.0.1 only.
DEMO_ACCOUNTS = {"admin": ("admin-demo-pass", True), "reviewer": ("reviewer-demo-pass", False)}


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
    return DemoResult(
        dataset=dataset, items_added=added, accounts={name: pw for name, (pw, _) in DEMO_ACCOUNTS.items()}
    )
