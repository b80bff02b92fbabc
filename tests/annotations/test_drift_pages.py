"""Drift audits on the checkpoint's page and in the API (administrators only): the figures per pair of
quantizations with their intervals, a dash and the reason on small samples, a quantization that could not be loaded
named with its reason; bad input refused with nothing written. The verdicts are written here as a worker would
(tests/critic_worker/test_drift.py runs a real model)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from scipy import stats as sps

from annotations.models import CriticVerdict, DriftAudit, DriftVerdict
from annotations.services import drift
from annotations.services.tokens import api_token_create
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, PairwiseItemFactory

pytestmark = pytest.mark.django_db


def judged_audit(*, pointwise: int, pairwise: int, int8_unavailable: bool = False) -> DriftAudit:
    """An audit at none, int8 and nf4 whose verdicts are in: nf4 moves every fourth score by a point and every
    fifth preference to a tie."""
    checkpoint = CheckpointFactory(name="critic-7b", quantization="nf4")
    dataset = DatasetFactory(name="drifting")
    for _ in range(pointwise):
        ItemFactory(dataset=dataset)
    for _ in range(pairwise):
        PairwiseItemFactory(dataset=dataset)
    audit = drift.drift_audit_create(
        checkpoint=checkpoint, dataset=dataset, quantizations=["nf4", "int8", "none"], sample=100, seed=3, wake=False
    )
    if int8_unavailable:
        drift.drift_stage_unavailable(audit_id=audit.pk, quantization="int8", reason="int8 needs a CUDA device")
    for v in DriftVerdict.objects.filter(audit=audit, status="queued").select_related("item"):
        moved = v.quantization == "nf4"
        if v.item.is_pairwise:
            v.preference = "tie" if moved and v.item_id % 5 == 0 else ("A" if v.item_id % 2 else "B")
        else:
            v.score = float(v.item_id % 9 + (1 if moved and v.item_id % 4 == 0 else 0))
        v.status = "done"
        v.save()
    DriftAudit.objects.filter(pk=audit.pk).update(status="done")
    return DriftAudit.objects.get(pk=audit.pk)


def scores(audit: DriftAudit, quantization: str) -> list[float]:
    rows = DriftVerdict.objects.filter(audit=audit, quantization=quantization, score__isnull=False)
    return [v.score for v in rows.order_by("item_id")]  # type: ignore[misc]


def test_the_checkpoint_page_shows_each_pair_with_its_intervals(admin_client: Client) -> None:
    audit = judged_audit(pointwise=40, pairwise=40)
    page = admin_client.get(reverse("checkpoint-detail", args=[audit.checkpoint_id])).content.decode()
    assert "nf4 against none (full precision)" in page
    assert "int8 against none (full precision)" in page
    r = sps.pearsonr(scores(audit, "none"), scores(audit, "nf4"))
    low, high = r.confidence_interval(0.95)
    assert f"{r.statistic:.3f}" in page
    assert f"[{low:.3f}, {high:.3f}]" in page
    assert "Preferences: Cohen's κ" in page
    assert "never count as the checkpoint" in page
    assert CriticVerdict.objects.count() == 0


def test_small_samples_show_a_dash_and_the_reason(admin_client: Client) -> None:
    audit = judged_audit(pointwise=2, pairwise=1)
    page = admin_client.get(reverse("checkpoint-detail", args=[audit.checkpoint_id])).content.decode()
    assert "—" in page
    assert "fewer than 3 items judged at both quantizations" in page


def test_a_quantization_not_available_here_says_why(admin_client: Client) -> None:
    audit = judged_audit(pointwise=5, pairwise=0, int8_unavailable=True)
    page = admin_client.get(reverse("checkpoint-detail", args=[audit.checkpoint_id])).content.decode()
    assert "Not available here:" in page
    assert "int8 needs a CUDA device" in page
    assert "nf4 against none" in page


def test_the_form_queues_an_audit_and_refuses_bad_input(admin_client: Client) -> None:
    checkpoint = CheckpointFactory(name="critic-7b")
    dataset = DatasetFactory(name="d")
    ItemFactory(dataset=dataset)
    url = reverse("checkpoint-detail", args=[checkpoint.pk])
    bad = admin_client.post(url, {"dataset": dataset.pk, "sample": 10, "quantizations": ["nf4"]})
    assert bad.status_code == 400
    assert "at least two quantizations" in bad.content.decode()
    assert DriftAudit.objects.count() == 0
    good = admin_client.post(url, {"dataset": dataset.pk, "sample": 10, "quantizations": ["nf4", "none"], "seed": 5})
    assert good.status_code == 302
    audit = DriftAudit.objects.get()
    assert (audit.quantizations, audit.seed, audit.verdicts.count()) == (["none", "nf4"], 5, 2)
    assert "hx-trigger" in admin_client.get(url).content.decode()  # the audits poll while one is queued


def test_reviewers_cannot_see_or_start_audits(reviewer, reviewer_client: Client) -> None:  # type: ignore[no-untyped-def]
    audit = judged_audit(pointwise=3, pairwise=0)
    assert reviewer_client.get(reverse("checkpoint-detail", args=[audit.checkpoint_id])).status_code == 403
    assert reviewer_client.get(reverse("checkpoint-list")).status_code == 403
    api = Client(headers={"Authorization": f"Bearer {api_token_create(user=reviewer)}"})
    assert api.get("/api/drift-audits", {"checkpoint": "critic-7b"}).status_code == 403
    assert api.get(f"/api/drift-audits/{audit.pk}").status_code == 403
    started = api.post(
        f"/api/datasets/{audit.dataset_id}/drift-audits", {"checkpoint": "critic-7b"}, content_type="application/json"
    )
    assert started.status_code == 403
    assert DriftAudit.objects.count() == 1


def test_the_api_gives_the_report_and_queues_audits(admin) -> None:  # type: ignore[no-untyped-def]
    audit = judged_audit(pointwise=12, pairwise=12)
    client = Client(headers={"Authorization": f"Bearer {api_token_create(user=admin)}"})
    listing = client.get("/api/drift-audits", {"checkpoint": "critic-7b"}).json()
    assert listing["checkpoint"] == "critic-7b"
    [report] = listing["audits"]
    assert report == client.get(f"/api/drift-audits/{audit.pk}").json()
    nf4 = next(p for p in report["pairs"] if (p["reference"], p["other"]) == ("none", "nf4"))
    expected = sps.pearsonr(scores(audit, "none"), scores(audit, "nf4"))
    assert nf4["pointwise"]["pearson"]["value"] == pytest.approx(expected.statistic)
    assert nf4["pointwise"]["pearson"]["ci95"] == pytest.approx(list(expected.confidence_interval(0.95)))
    flips = np.array(scores(audit, "none")) != np.array(scores(audit, "nf4"))
    assert nf4["pointwise"]["flip_rate"]["value"] == pytest.approx(flips.mean())
    assert set(nf4["pairwise"]) == {"n", "cohen_kappa", "flip_rate", "confusion_matrix"}

    queued = client.post(
        f"/api/datasets/{audit.dataset_id}/drift-audits",
        json.dumps({"checkpoint": "critic-7b", "sample": 5, "quantizations": ["int8", "none"]}),
        content_type="application/json",
    )
    assert queued.status_code == 202
    assert queued.json()["quantizations"] == ["none", "int8"]
    assert queued.json()["items"] == 5
    assert client.get("/api/drift-audits", {"checkpoint": "nope"}).status_code == 404
    CheckpointFactory(name="gpt-4o", model="", is_external=True)
    external = client.post(
        f"/api/datasets/{audit.dataset_id}/drift-audits",
        json.dumps({"checkpoint": "gpt-4o"}),
        content_type="application/json",
    )
    assert external.status_code == 409
    assert "external judge" in external.json()["detail"]
    assert DriftAudit.objects.count() == 2
