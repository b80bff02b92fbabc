from __future__ import annotations

import hashlib
import json

import pytest
from django.contrib.auth import authenticate

from annotations.models import Image, Item
from annotations.services.demo import DEMO_ACCOUNTS, DEMO_DIR, demo_load

pytestmark = pytest.mark.django_db


def test_the_demo_loads_once() -> None:
    rows = [json.loads(line) for line in (DEMO_DIR / "items.jsonl").open()]
    first = demo_load()
    assert first.items_added == len(rows) >= 30
    assert demo_load().items_added == 0
    assert Item.objects.count() == len(rows)
    distinct = {hashlib.sha256((DEMO_DIR / row["image"]).read_bytes()).hexdigest() for row in rows}
    assert set(Image.objects.values_list("sha256", flat=True)) == distinct  # identical drawings stored once
    kinds = set(Item.objects.values_list("kind", flat=True))
    assert kinds == {"pointwise", "pairwise"}
    assert len(set(Item.objects.values_list("model_a", flat=True))) >= 3
    assert Item.objects.filter(split="gold").exists()


def test_the_demo_accounts_log_in_with_the_printed_passwords() -> None:
    demo_load()
    for username, (password, is_admin) in DEMO_ACCOUNTS.items():
        user = authenticate(username=username, password=password)
        assert user is not None
        assert user.is_staff is is_admin
