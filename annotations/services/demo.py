"""The demo: accounts and a dataset from fixtures/demo, loaded so that a second run adds nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from annotations.models import Dataset, Item
from annotations.services.items import item_create

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
    existing = set(Item.objects.filter(dataset=dataset).values_list("external_id", flat=True))
    added = 0
    with (directory / "items.jsonl").open() as rows:
        for line in rows:
            row = json.loads(line)
            if row["id"] in existing:
                continue
            item_create(
                dataset=dataset,
                external_id=row["id"],
                image_data=(directory / row["image"]).read_bytes(),
                question=row["question"],
                response_a=row.get("response") or row["response_a"],
                model_a=row.get("model") or row.get("model_a", ""),
                response_b=row.get("response_b", ""),
                model_b=row.get("model_b", ""),
                split=row.get("split", ""),
                created_by=admin,
            )
            added += 1
    return DemoResult(
        dataset=dataset, items_added=added, accounts={name: pw for name, (pw, _) in DEMO_ACCOUNTS.items()}
    )
