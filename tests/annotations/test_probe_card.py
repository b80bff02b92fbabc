"""The bias card: the probes' figures in the metrics JSON, the API and the dashboard, computed over the same items as
every other card (a reviewer's only over the items they have judged), and the ways an administrator starts a probe."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import redis
from django.conf import settings
from django.test import Client
from django.urls import reverse
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from annotations.models import CriticVerdict, HumanVerdict
from annotations.selectors.metrics import agreement_for_dataset
from annotations.services.tokens import api_token_create
from tests.factories import (
    AdminFactory,
    CheckpointFactory,
    DatasetFactory,
    ItemFactory,
    PairwiseItemFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ITEM_SCORES = [80, 75, 90, 60, 85, 70, 95, 65, 88, 72, 50, 99]
BLANK_SCORES = [40, 75, 30, 55, 85, 20, 90, 10, 88, 60, 49, 30]  # moves beyond 10 points (0.1 of 0-100) are flips
ITEM_PREFS = ["A", "B", "A", "tie", "A"]
BLANK_PREFS = ["A", "A", "B", "tie", "B"]


@pytest.fixture(autouse=True)
def broker():  # type: ignore[no-untyped-def]
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def probed(reviewer):  # type: ignore[no-untyped-def]
    """12 pointwise and 5 pairwise items with the critic's verdict and a blank-image probe; the reviewer rita has
    judged the first 4 pointwise items."""
    dataset = DatasetFactory(name="probed")
    critic = CheckpointFactory(is_active=True)
    for i, (score, blank) in enumerate(zip(ITEM_SCORES, BLANK_SCORES, strict=True)):
        item = ItemFactory(dataset=dataset)
        for probe, value in (("", score), ("blank-image", blank)):
            CriticVerdict.objects.create(
                item=item, checkpoint=critic, profile="pointwise", status="done", score=value, probe=probe
            )
        if i < 4:
            HumanVerdict.objects.create(item=item, reviewer=reviewer, profile="pointwise", score=score)
    for pref, blank_pref in zip(ITEM_PREFS, BLANK_PREFS, strict=True):
        item = PairwiseItemFactory(dataset=dataset)
        for probe, value in (("", pref), ("blank-image", blank_pref)):
            CriticVerdict.objects.create(
                item=item, checkpoint=critic, profile="pairwise", status="done", preference=value, probe=probe
            )
    return dataset


def test_the_probes_figures_are_the_flip_rate_and_shift_of_the_probe_against_the_items_verdict(probed) -> None:  # type: ignore[no-untyped-def]
    metrics = agreement_for_dataset(dataset=probed)
    blank = metrics["probes"]["blank-image"]
    assert blank["verdicts"] == 17
    shift = np.array(BLANK_SCORES, dtype=float) - np.array(ITEM_SCORES, dtype=float)
    flips = int((np.abs(shift) > 10).sum())
    pointwise = blank["pointwise"]
    assert pointwise["n"] == 12
    assert pointwise["flip_rate"]["value"] == pytest.approx(flips / 12)
    assert pointwise["flip_rate"]["ci95"] == pytest.approx(list(proportion_confint(flips, 12, method="wilson")))
    assert pointwise["mean_score_shift"]["value"] == pytest.approx(shift.mean())
    t_interval = sps.t.interval(0.95, 11, loc=shift.mean(), scale=sps.sem(shift))
    assert pointwise["mean_score_shift"]["ci95"] == pytest.approx(list(t_interval))
    assert pointwise["mean_abs_score_shift"]["value"] == pytest.approx(np.abs(shift).mean())
    pairwise = blank["pairwise"]
    assert (pairwise["n"], pairwise["flip_rate"]["value"]) == (5, pytest.approx(3 / 5))
    # No other probe has run: each says so instead of a figure.
    assert metrics["probes"]["other-image"]["pointwise"]["flip_rate"]["value"] is None
    assert (
        "no item has both its verdict and a finished swap probe"
        in (metrics["probes"]["swap"]["pairwise"]["flip_rate"]["reason"])
    )
    assert "pointwise" not in metrics["probes"]["swap"]
    # The probes do not touch the critic's own figures.
    assert metrics["counts"]["critic_verdicts"] == 17


def test_a_reviewer_sees_the_probes_only_of_the_items_they_judged(probed, reviewer, reviewer_client) -> None:  # type: ignore[no-untyped-def]
    mine = agreement_for_dataset(dataset=probed, viewer=reviewer)["probes"]["blank-image"]
    assert mine["verdicts"] == 4
    assert mine["pointwise"]["n"] == 4
    shift = np.array(BLANK_SCORES[:4], dtype=float) - np.array(ITEM_SCORES[:4], dtype=float)
    assert mine["pointwise"]["mean_score_shift"]["value"] == pytest.approx(shift.mean())
    assert mine["pairwise"]["n"] == 0
    page = reviewer_client.get(reverse("dataset-metrics", args=[probed.pk])).content.decode()
    assert 'id="bias"' in page
    assert "manage.py probe" not in page  # the way to start one is for administrators
    newcomer = Client()
    newcomer.force_login(UserFactory(username="newcomer"))
    blind = newcomer.get(reverse("dataset-metrics", args=[probed.pk]) + "?format=json").json()
    assert blind["probes"]["blank-image"]["verdicts"] == 0
    assert blind["probes"]["blank-image"]["pointwise"]["flip_rate"]["value"] is None


def test_the_dashboard_shows_the_bias_card_with_a_dash_and_the_reason_below_the_minimum(probed, admin_client) -> None:  # type: ignore[no-untyped-def]
    page = admin_client.get(reverse("dataset-metrics", args=[probed.pk])).content.decode()
    card = page[page.index('id="bias"') :]
    assert "Blank image (white, of the same size)" in card
    assert "Scores: flip rate" in card
    assert "the score moved by more than 0.1 of the profile&#x27;s range" in card
    assert "no item has both its verdict and a finished other-image probe" in card
    assert "manage.py probe --dataset probed" in card
    table = admin_client.get(reverse("dataset-metrics", args=[probed.pk]) + "?table=statistics&format=csv")
    assert "probe blank-image (pointwise),mean_score_shift" in table.content.decode()


def test_administrators_start_probes_from_the_critic_panel_and_the_api(admin_client, reviewer, reviewer_client) -> None:  # type: ignore[no-untyped-def]
    dataset = DatasetFactory()
    CheckpointFactory(is_active=True)
    for _ in range(4):
        ItemFactory(dataset=dataset)
    panel = admin_client.get(reverse("dataset-detail", args=[dataset.pk])).content.decode()
    url = reverse("dataset-probe", args=[dataset.pk])
    assert f'action="{url}"' in panel
    assert reviewer_client.post(url, {"kind": "blank-image"}).status_code == 403
    refused = admin_client.post(url, {"kind": "blank-image", "sample": "two"}, follow=True).content.decode()
    assert "The sample must be a whole number of items, not &#x27;two&#x27;." in refused
    assert not CriticVerdict.objects.exists()
    done = admin_client.post(url, {"kind": "blank-image", "sample": "3"}, follow=True).content.decode()
    assert "Queued the blank-image probe (Blank image (white, of the same size)) of 3 items for" in done
    assert CriticVerdict.objects.filter(probe="blank-image").count() == 3

    api = f"/api/datasets/{dataset.pk}/probes"
    token = api_token_create(user=AdminFactory())

    def post(body: str, who: str = token) -> Any:
        return Client().post(api, body, content_type="application/json", headers={"Authorization": f"Bearer {who}"})

    response = post('{"kind": "blank-image"}')
    assert response.status_code == 202
    assert response.json()["queued"] == 1  # the item the sample left out
    assert post('{"kind": "sideways"}').status_code == 422
    assert post('{"kind": "blank-image", "sample": 0}').status_code == 422
    assert post('{"kind": "other-image"}').status_code == 409  # one picture only
    assert post('{"kind": "swap"}', api_token_create(user=reviewer)).status_code == 403
