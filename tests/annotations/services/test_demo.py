from __future__ import annotations

import hashlib
import json

import pytest
from django.contrib.auth import authenticate

from annotations.models import CriticCheckpoint, CriticVerdict, HumanVerdict, Image, Item
from annotations.services.demo import DEMO_ACCOUNTS, DEMO_DIR, DEMO_REVIEWERS, demo_load

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


def test_the_demo_holds_reviewers_verdicts_counted_and_marked_as_the_services_keep_them() -> None:
    """A new user's dashboard shows human verdicts and disagreement marks, as in the Tour: two reviewers on two
    thirds of the items; the counts kept on the items; a rerun (the critic's verdicts in by then) adds none and
    marks the critic's verdicts that a reviewer disagrees with."""
    dataset = demo_load().dataset
    items = list(dataset.items.order_by("external_id"))
    judged = [item for i, item in enumerate(items) if i % 3 != 2]
    assert HumanVerdict.objects.count() == 2 * len(judged)
    assert set(HumanVerdict.objects.values_list("reviewer__username", flat=True)) == set(DEMO_REVIEWERS)
    assert not HumanVerdict.objects.filter(reviewer__username="reviewer").exists()
    counts = dict(Item.objects.values_list("external_id", "human_verdict_count"))
    assert counts == {item.external_id: (2 if item in judged else 0) for item in items}

    critic = CriticCheckpoint.objects.create(name="demo critic", model="/models/tiny", is_active=True)
    for item in items:  # what the worker writes: the critic says A, or 100
        verdict = {"preference": "A"} if item.kind == "pairwise" else {"score": 100.0}
        CriticVerdict.objects.create(item=item, checkpoint=critic, profile=item.profile, status="done", **verdict)
    assert demo_load().items_added == 0
    assert HumanVerdict.objects.count() == 2 * len(judged)
    marked = set(CriticVerdict.objects.filter(humans_disagree=True).values_list("item__external_id", flat=True))
    expected = {
        v.item.external_id
        for v in HumanVerdict.objects.select_related("item")
        if (v.preference is not None and v.preference != "A") or (v.score is not None and v.score < 90)
    }
    assert marked == expected
    assert marked
