"""A NUL character cannot be stored or searched in PostgreSQL: requests that carry one are refused with a 400
that names where it was, and nothing changes; files (whose bytes hold NULs) are not looked at."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from annotations.models import ApiToken, Dataset, HumanVerdict
from annotations.services.datasets import dataset_create
from annotations.services.tokens import api_token_create
from tests.factories import DatasetFactory, ItemFactory

pytestmark = pytest.mark.django_db


def test_a_verdict_or_a_correction_with_a_nul_character_is_refused(reviewer_client: Client) -> None:
    dataset = DatasetFactory()
    item = ItemFactory(dataset=dataset)
    reviewer_client.get(reverse("review-next", args=[dataset.pk]))
    response = reviewer_client.post(reverse("review-submit", args=[item.pk]), {"score": "40", "rationale": "a\x00b"})
    assert response.status_code == 400
    assert "'rationale' contains a NUL character" in response.content.decode()
    assert not HumanVerdict.objects.exists()
    assert reviewer_client.post(reverse("review-submit", args=[item.pk]), {"score": "40"}).status_code == 302
    correction = {"corrected_justification": "x\x00y"}
    assert reviewer_client.post(reverse("review-correct", args=[item.pk]), correction).status_code == 400
    assert not HumanVerdict.objects.get().justification_flagged


def test_a_filter_or_a_token_name_with_a_nul_character_is_refused(reviewer, reviewer_client: Client) -> None:  # type: ignore[no-untyped-def]
    dataset = ItemFactory().dataset
    metrics = reviewer_client.get(reverse("dataset-metrics", args=[dataset.pk]), {"reviewer": "a\x00b"})
    assert metrics.status_code == 400  # it was a server error where the filter met the database
    assert reviewer_client.post(reverse("account"), {"name": "ci\x00"}).status_code == 400
    assert not ApiToken.objects.filter(user=reviewer).exists()


def test_a_json_body_with_a_nul_character_is_refused(admin) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {api_token_create(user=admin)}"}

    def create(name: str):  # type: ignore[no-untyped-def]
        body = json.dumps({"name": name})
        return Client().post("/api/datasets", data=body, content_type="application/json", headers=headers)

    response = create("bad\x00name")
    assert response.status_code == 400
    assert b"JSON body contains a NUL character" in response.content
    assert not Dataset.objects.exists()
    assert create("fine").status_code == 201


def test_a_dataset_made_outside_a_request_is_refused_too() -> None:
    with pytest.raises(ValidationError, match="Null characters are not allowed"):
        dataset_create(created_by=None, name="a\x00b")
    assert not Dataset.objects.exists()
