"""After the reveal a reviewer may mark the critic's justification wrong whether they agree with its verdict or not,
and an agreement corrected so becomes a training pair in an export that includes agreements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from annotations.models import CriticVerdict, HumanVerdict, JobStatus
from annotations.services.exports import training_export_create, training_export_run
from critic_worker.profiles import PROFILES
from tests.factories import AdminFactory, CheckpointFactory, DatasetFactory, PairwiseItemFactory

pytestmark = pytest.mark.django_db
RIGHT = "B draws four circles, not three: A miscounts, and B is right."


def judged_item(critic_says: str = "A"):  # type: ignore[no-untyped-def]
    item = PairwiseItemFactory(dataset=DatasetFactory(name="charts"))
    CriticVerdict.objects.create(
        item=item,
        checkpoint=CheckpointFactory(is_active=True),
        profile="pairwise",
        status="done",
        preference=critic_says,
        justification="A is longer.",
    )
    return item


def test_before_the_verdict_no_correction_is_offered_or_taken(reviewer_client: Client) -> None:
    item = judged_item()
    page = reviewer_client.get(reverse("review-next", args=[item.dataset_id])).content.decode()
    assert "corrected_justification" not in page
    assert "A is longer." not in page
    response = reviewer_client.post(reverse("review-correct", args=[item.pk]), {"corrected_justification": RIGHT})
    assert response.status_code == 404  # no verdict of theirs yet: nothing to correct, nothing revealed
    assert not HumanVerdict.objects.exists()


@pytest.mark.parametrize("reviewer_says", ["A", "B"])
def test_the_correction_is_offered_on_an_agreement_as_on_a_disagreement(
    reviewer_client: Client, reviewer_says: str
) -> None:
    item = judged_item(critic_says="A")
    reviewer_client.get(reverse("review-next", args=[item.dataset_id]))
    reviewer_client.post(reverse("review-submit", args=[item.pk]), {"preference": reviewer_says})
    page = reviewer_client.get(reverse("review-reveal", args=[item.pk])).content.decode()
    assert "You and the critic agree." in page if reviewer_says == "A" else "You and the critic disagree." in page
    assert "The critic's justification is wrong — the right one:" in page
    assert 'name="corrected_justification"' in page


def test_an_agreement_with_a_corrected_justification_is_exported_as_a_pair(
    reviewer_client: Client, media_root: Path
) -> None:
    item = judged_item(critic_says="B")
    reviewer_client.get(reverse("review-next", args=[item.dataset_id]))
    reviewer_client.post(reverse("review-submit", args=[item.pk]), {"preference": "B"})
    reviewer_client.post(reverse("review-correct", args=[item.pk]), {"corrected_justification": RIGHT})
    verdict = HumanVerdict.objects.get()
    assert (verdict.preference, verdict.justification_flagged, verdict.corrected_justification) == ("B", True, RIGHT)

    export = training_export_create(dataset=item.dataset, fmt="dpo-jsonl", user=AdminFactory(), include_agreements=True)
    done = training_export_run(export_id=export.pk)
    assert done is not None
    assert done.status == JobStatus.DONE, done.error
    lines = (media_root / done.path / done.manifest["data_file"]).read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 1
    chosen = PROFILES["pairwise"].parse(rows[0]["chosen"])
    assert (chosen.preference, chosen.justification) == ("B", RIGHT)
    assert "A is longer." in rows[0]["rejected"]
    assert done.manifest["counts"]["agreements"] == {"pairwise": 1}
