"""Drift audits on a real tiny critic on the CPU: the same checkpoint loaded at nf4, int8 and full precision judges
the same sample, the verdicts stay apart from the critic's own, and a quantization that cannot be loaded is named
with its reason while the others still run."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotations.models import CriticVerdict, DriftAudit, DriftVerdict
from annotations.selectors.drift import drift_report
from annotations.selectors.metrics import agreement_for_dataset
from annotations.services import drift
from critic_worker import tasks_drift
from critic_worker.engine import CriticEngine
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, PairwiseItemFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("single_torch_thread")]


@pytest.fixture
def checkpoint(tiny_critic: Path, settings):  # type: ignore[no-untyped-def]
    settings.CRITIC_MAX_NEW_TOKENS = 4
    settings.CRITIC_DEVICE = "cpu"
    return CheckpointFactory(name="tiny-nf4", model=str(tiny_critic), quantization="nf4", is_active=True)


@pytest.fixture
def dataset():  # type: ignore[no-untyped-def]
    dataset = DatasetFactory(name="drift")
    for _ in range(3):
        ItemFactory(dataset=dataset)
        PairwiseItemFactory(dataset=dataset)
    return dataset


def test_the_audit_runs_the_checkpoint_at_each_quantization(checkpoint, dataset) -> None:  # type: ignore[no-untyped-def]
    audit = drift.drift_audit_create(
        checkpoint=checkpoint, dataset=dataset, quantizations=["nf4", "int8", "none"], sample=6, seed=1, wake=False
    )
    assert tasks_drift.drift_audit_run(audit.pk) == {"started": True, "status": "done"}
    assert tasks_drift.drift_audit_run(audit.pk) == {"started": False}  # a repeated message starts nothing

    audit.refresh_from_db()
    assert audit.status == "done"
    layers = {q: audit.loaded[q]["linear_layers"] for q in ("nf4", "int8", "none")}
    assert layers == {"nf4": "Linear4bit", "int8": "Linear8bitLt", "none": "Linear"}
    memory = {q: audit.loaded[q]["memory_bytes"] for q in ("nf4", "int8", "none")}
    assert memory["nf4"] < memory["int8"] < memory["none"]
    assert DriftVerdict.objects.filter(audit=audit, status="done").count() == 18
    for verdict in DriftVerdict.objects.filter(audit=audit).select_related("item"):
        assert (verdict.score is None) == verdict.item.is_pairwise

    report = drift_report(audit=audit)
    assert report["reference"] == "none"
    assert [(p["reference"], p["other"]) for p in report["pairs"]] == [
        ("none", "int8"),
        ("none", "nf4"),
        ("int8", "nf4"),
    ]
    for pair in report["pairs"]:
        assert pair["pointwise"]["n"] == 3
        assert pair["pairwise"]["n"] == 3
        assert pair["pointwise"]["flip_rate"]["value"] is not None
        assert pair["pairwise"]["flip_rate"]["ci95"] is not None

    # Never the checkpoint's own verdicts: nothing in the critic's table, nothing in its metrics.
    assert CriticVerdict.objects.count() == 0
    metrics = agreement_for_dataset(dataset=dataset, checkpoint=checkpoint)
    assert metrics["counts"]["critic_verdicts"] == 0


def test_a_quantization_that_cannot_be_loaded_is_named_and_the_others_run(checkpoint, dataset, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real_load = CriticEngine.load.__func__  # type: ignore[attr-defined]

    def load(cls, model_path, *, quantization="nf4", **kwargs):  # type: ignore[no-untyped-def]
        if quantization == "int8":
            raise RuntimeError("int8 matmul needs a CUDA device")
        return real_load(cls, model_path, quantization=quantization, **kwargs)

    monkeypatch.setattr(CriticEngine, "load", classmethod(load))
    audit = drift.drift_audit_create(
        checkpoint=checkpoint, dataset=dataset, quantizations=["int8", "none"], sample=2, seed=4, wake=False
    )
    tasks_drift.drift_audit_run(audit.pk)
    report = drift_report(audit=DriftAudit.objects.get(pk=audit.pk))
    assert report["status"] == "done"
    assert "int8 matmul needs a CUDA device" in report["unavailable"]["int8"]
    assert "int8" in report["pairs"][0]["unavailable"]
    assert report["progress"]["int8"] == {"queued": 0, "done": 0, "failed": 2}
    assert report["progress"]["none"]["done"] == 2
    assert all("could not load the checkpoint at int8" in f["error"] for f in report["failures"])


def test_drift_inline_prints_the_report(checkpoint, dataset) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    call_command(
        "drift", "--checkpoint", "tiny-nf4", "--dataset", "drift", "--sample", "6", "--quantizations", "nf4,none",
        "--seed", "7", "--inline", stdout=out,
    )  # fmt: skip
    text = out.getvalue()
    assert "nf4: 6 judged" in text
    assert "Linear4bit layers" in text
    assert "nf4 against none" in text
    assert "pointwise Pearson r" in text or "do not vary" in text
    assert "flip rate" in text
    assert CriticVerdict.objects.count() == 0


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--checkpoint", "nope"], "No checkpoint named 'nope'"),
        (["--dataset", "nope"], "No dataset named 'nope'"),
        (["--quantizations", "nf4,fp8"], "Unknown quantization 'fp8'"),
        (["--quantizations", "nf4"], "at least two quantizations"),
        (["--sample", "0"], "between 1 and"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(checkpoint, dataset, args: list[str], reason: str) -> None:  # type: ignore[no-untyped-def]
    options = {"--checkpoint": "tiny-nf4", "--dataset": "drift"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        options[flag] = value
    with pytest.raises(CommandError, match=reason):
        call_command("drift", *[x for pair in options.items() for x in pair], "--inline")
    assert DriftAudit.objects.count() == 0


def test_an_external_judge_cannot_be_audited(dataset) -> None:  # type: ignore[no-untyped-def]
    CheckpointFactory(name="gpt-4o", model="", is_external=True)
    with pytest.raises(CommandError, match="external judge"):
        call_command("drift", "--checkpoint", "gpt-4o", "--dataset", "drift")
    assert DriftAudit.objects.count() == 0
