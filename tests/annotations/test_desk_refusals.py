"""A score the desk refuses is refused saying what was wrong with it: above the highest score, below the lowest, or
off the rubric's steps (which it lists), at the blind verdict and at the revision alike."""

from __future__ import annotations

import dataclasses

import pytest
from django.test import Client
from django.urls import reverse

from annotations.models import HumanVerdict
from annotations.services.review import score_steps
from critic_worker.profiles import PROFILES
from tests.factories import DatasetFactory, ItemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_to_five(monkeypatch: pytest.MonkeyPatch) -> str:
    """A rubric of 1-5 in whole points, as a team's profile is (items name built-in profiles, so one stands in)."""
    rubric = dataclasses.replace(PROFILES["llava-bench"], score_min=1, score_max=5, score_step=1)
    monkeypatch.setitem(PROFILES, "llava-bench", rubric)
    return "llava-bench"


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("7", "7 is above the highest score, 5."),
        ("0", "0 is below the lowest score, 1."),
        ("3.5", "3.5 is not on this rubric&#x27;s steps (1, 2, 3, 4, 5)."),
    ],
)
def test_a_refused_score_says_what_was_wrong(reviewer_client: Client, one_to_five: str, typed: str, said: str) -> None:
    item = ItemFactory(dataset=DatasetFactory(), profile=one_to_five)
    reviewer_client.get(reverse("review-next", args=[item.dataset_id]))
    response = reviewer_client.post(reverse("review-submit", args=[item.pk]), {"score": typed})
    assert response.status_code == 400
    assert said in response.content.decode()
    assert not HumanVerdict.objects.exists()

    assert reviewer_client.post(reverse("review-submit", args=[item.pk]), {"score": "4"}).status_code == 302
    revised = reviewer_client.post(reverse("review-revise", args=[item.pk]), {"score": typed}, follow=True)
    assert said in revised.content.decode()
    assert HumanVerdict.objects.get().revised_score is None


def test_a_long_scale_lists_its_ends() -> None:
    assert score_steps(PROFILES["pointwise"]) == "0, 1, 2, …, 100"
    assert score_steps(dataclasses.replace(PROFILES["llava-bench"], score_step=0.5)) == "1, 1.5, 2, …, 10"
