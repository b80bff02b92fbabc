"""What the item table sorts and filters by is kept on the rows by every service that writes verdicts: each item's
number of human verdicts, and on each finished critic verdict whether some human verdict disagrees with it. After
each writer in turn — the critic's results, the desk, imported labels and judges, a re-import that changes a label,
a re-read, a probe, a changed threshold in the admin — the stored values are what the verdicts say, by the rule the
reveal uses (selectors.review.verdict_values_agree)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse

from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, Item, JobStatus
from annotations.selectors.review import verdict_values_agree
from annotations.services import judging, review
from annotations.services.imports import items_import
from annotations.services.rereading import verdicts_reread
from tests.annotations.services.import_files import image_folder, write_jsonl
from tests.factories import CheckpointFactory, DatasetFactory, UserFactory


def expected(dataset: Dataset) -> tuple[dict[str, int], dict[tuple[str, str], bool]]:
    """Each item's human verdicts counted, and each finished item verdict's disagreement, from the verdicts."""
    counts, flags = {}, {}
    for item in Item.objects.filter(dataset=dataset):
        humans = list(HumanVerdict.objects.filter(item=item))
        counts[item.external_id] = len(humans)
        for critic in CriticVerdict.objects.filter(item=item, probe="", status=JobStatus.DONE):
            flags[item.external_id, critic.checkpoint.name] = any(
                not verdict_values_agree(
                    profile=h.profile,
                    threshold=dataset.disagreement_threshold,
                    first=(h.score, h.preference),
                    second=(critic.score, critic.preference),
                )
                for h in humans
            )
    return counts, flags


def stored(dataset: Dataset) -> tuple[dict[str, int], dict[tuple[str, str], bool]]:
    counts = dict(Item.objects.filter(dataset=dataset).values_list("external_id", "human_verdict_count"))
    done = CriticVerdict.objects.filter(item__dataset=dataset, probe="", status=JobStatus.DONE)
    flags = {(v.item.external_id, v.checkpoint.name): v.humans_disagree for v in done.select_related("item")}
    return counts, flags


def kept(dataset: Dataset) -> tuple[dict[str, int], dict[tuple[str, str], bool]]:
    dataset.refresh_from_db()
    assert stored(dataset) == expected(dataset)
    assert not CriticVerdict.objects.exclude(probe="").filter(humans_disagree=True).exists()  # probes: never
    return stored(dataset)


def result(**fields: Any) -> judging.VerdictResult:
    base: dict[str, Any] = {"score": None, "preference": None, "confidence": 0.5, "probabilities": {}}
    base |= {"expected_score": None, "justification": "", "raw_output": "", "forced": False, "latency_ms": 1.0}
    return judging.VerdictResult(**{**base, **fields})


def judge(dataset: Dataset, critic: CriticCheckpoint, values: dict[str, Any], *, probe: str = "") -> None:
    """The critic's results as the worker records them: queued, claimed, recorded."""
    verdicts = CriticVerdict.objects.filter(item__dataset=dataset, checkpoint=critic, probe=probe)
    if probe:
        for item in Item.objects.filter(dataset=dataset, external_id__in=values):
            CriticVerdict.objects.get_or_create(item=item, checkpoint=critic, profile=item.profile, probe=probe)
    else:
        judging.verdicts_queue(dataset=dataset, checkpoint=critic, only_missing=False)
    ids = list(verdicts.filter(item__external_id__in=values).values_list("pk", flat=True))
    claim = judging.verdicts_claim(verdict_ids=ids, worker="test")
    for job in claim.jobs:
        key = CriticVerdict.objects.get(pk=job.verdict_id).item.external_id
        value = values[key]
        verdict = result(preference=value) if isinstance(value, str) else result(score=float(value))
        assert judging.verdict_record(verdict_id=job.verdict_id, claim=claim.token, result=verdict)


ROWS = [
    {"id": "a", "image": "imgs/0.png", "question": "How many?", "response": "Three."},
    {"id": "b", "image": "imgs/0.png", "question": "How many?", "response": "Four."},
    {"id": "p", "image": "imgs/0.png", "question": "Which?", "response_a": "One.", "response_b": "Two."},
]


@pytest.mark.django_db
def test_every_writer_keeps_the_counts_and_the_disagreements_right(tmp_path: Path, admin_client: Client) -> None:
    dataset = DatasetFactory(name="kept", disagreement_threshold=0.1)
    critic = CheckpointFactory(name="critic", is_active=True)
    images = image_folder(tmp_path, 1)
    assert items_import(dataset=dataset, path=write_jsonl(tmp_path / "items.jsonl", ROWS), images=images).ok

    judge(dataset, critic, {"a": 70, "b": 20, "p": "A"})
    assert kept(dataset) == (
        {"a": 0, "b": 0, "p": 0},
        dict.fromkeys([("a", "critic"), ("b", "critic"), ("p", "critic")], False),
    )

    rita = UserFactory(username="rita")  # the desk: 72 agrees with 70, 90 is far from 20, B is not A
    for value in (72, 90, "B"):
        item = review.review_next(reviewer=rita, dataset_id=dataset.pk)
        assert item is not None
        review.human_verdict_submit(
            reviewer=rita, item=item, **({"preference": value} if isinstance(value, str) else {"score": value})
        )
    counts, flags = kept(dataset)
    assert counts == {"a": 1, "b": 1, "p": 1}
    assert flags == {("a", "critic"): False, ("b", "critic"): True, ("p", "critic"): True}

    # Imported labels and an imported judge's verdicts: ann's 10 on a disagrees with the critic's 70.
    labelled = [
        {**ROWS[0], "human_labels": [{"reviewer": "ann", "score": 10}], "judge": "gpt-4o", "judge_score": 15},
        {**ROWS[1], "human_labels": [{"reviewer": "ann", "score": 25}, {"reviewer": "bo", "score": 22}]},
        {**ROWS[2], "judge": "gpt-4o", "judge_preference": "B"},
    ]
    path = write_jsonl(tmp_path / "labels.jsonl", labelled)
    assert items_import(dataset=dataset, path=path, images=images, update=True).ok
    counts, flags = kept(dataset)
    assert counts == {"a": 2, "b": 3, "p": 1}
    assert flags == {
        ("a", "critic"): True,  # ann's 10 against 70
        ("b", "critic"): True,
        ("p", "critic"): True,
        ("a", "gpt-4o"): True,  # rita's 72 against 15
        ("p", "gpt-4o"): False,
    }

    labelled[0]["human_labels"] = [{"reviewer": "ann", "score": 68}]  # a re-import changes ann's label: agreement
    assert items_import(
        dataset=dataset, path=write_jsonl(tmp_path / "again.jsonl", labelled), images=images, update=True
    ).ok
    assert kept(dataset)[1][("a", "critic")] is False

    judge(dataset, critic, {"a": 20, "b": 21, "p": "B"})  # judged again: now a disagrees and b and p agree
    assert kept(dataset)[1] == {
        ("a", "critic"): True,
        ("b", "critic"): True,  # rita's 90 against 21
        ("p", "critic"): False,
        ("a", "gpt-4o"): True,  # rita's 72 against 15
        ("p", "gpt-4o"): False,
    }
    judge(dataset, critic, {"b": 100}, probe="blank-image")  # a probe's verdict is no item verdict
    kept(dataset)

    # A re-read: a's verdict was misread as 20 from text that says 70, which rita's 72 and ann's 68 agree with.
    misread = CriticVerdict.objects.filter(item__external_id="a", checkpoint=critic, probe="")
    misread.update(raw_output="Accurate but brief. Score: 70/100")
    assert verdicts_reread(verdicts=misread, apply=True, scope="test").run is not None
    assert misread.get().score == 70
    assert kept(dataset)[1][("a", "critic")] is False

    # An administrator deletes wrong verdicts: rita's 90 on b (the one that disagreed), in the list and on its page.
    changelist = reverse("admin:annotations_humanverdict_changelist")
    wrong = HumanVerdict.objects.get(item__external_id="b", reviewer=rita)
    chosen = {"action": "delete_selected", "_selected_action": [wrong.pk], "post": "yes"}
    assert admin_client.post(changelist, chosen).status_code == 302
    counts, flags = kept(dataset)
    assert (counts["b"], flags[("b", "critic")]) == (2, False)
    ann = HumanVerdict.objects.get(item__external_id="a", reviewer__username="ann")
    assert (
        admin_client.post(reverse("admin:annotations_humanverdict_delete", args=[ann.pk]), {"post": "yes"}).status_code
        == 302
    )
    assert kept(dataset)[0]["a"] == 1

    # The threshold raised in the admin: scores within 0.9 of the range agree.
    fields = {k: v for k, v in model_to_dict(dataset).items() if v is not None and k != "created_by"}
    url = reverse("admin:annotations_dataset_change", args=[dataset.pk])
    assert admin_client.post(url, {**fields, "disagreement_threshold": 0.9}).status_code == 302
    assert not any(kept(dataset)[1].values())


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_both_from_the_verdicts_there_are(latest_migrations_after: None) -> None:
    before, after = [("annotations", "0024_probes")], [("annotations", "0025_item_table_speed")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    dataset = old.get_model("annotations", "Dataset").objects.create(name="before", disagreement_threshold=0.1)
    image = old.get_model("annotations", "Image").objects.create(
        sha256="e" * 64, file="images/e.png", normalized="renditions/e.png", width=4, height=3, format="PNG",
        size_bytes=10,
    )  # fmt: skip
    items = old.get_model("annotations", "Item").objects
    near = items.create(dataset=dataset, external_id="near", image=image, question="Q", kind="pointwise",
                        profile="pointwise", response_a="R")  # fmt: skip
    far = items.create(dataset=dataset, external_id="far", image=image, question="Q", kind="pointwise",
                       profile="pointwise", response_a="R")  # fmt: skip
    alone = items.create(dataset=dataset, external_id="alone", image=image, question="Q", kind="pointwise",
                         profile="pointwise", response_a="R")  # fmt: skip
    user = old.get_model("auth", "User").objects.create(username="old-reviewer")
    other = old.get_model("auth", "User").objects.create(username="old-other")
    critic = old.get_model("annotations", "CriticCheckpoint").objects.create(name="critic", model="/m")
    humans = old.get_model("annotations", "HumanVerdict").objects
    critics = old.get_model("annotations", "CriticVerdict").objects
    for item, score in ((near, 55), (far, 95)):
        humans.create(item=item, reviewer=user, profile="pointwise", score=50)
        critics.create(item=item, checkpoint=critic, profile="pointwise", status="done", score=score)
    humans.create(item=far, reviewer=other, profile="pointwise", score=52)
    critics.create(item=near, checkpoint=critic, profile="pointwise", status="done", score=99, probe="blank-image")
    critics.create(item=alone, checkpoint=critic, profile="pointwise", status="done", score=1)

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    counts = dict(new.get_model("annotations", "Item").objects.values_list("external_id", "human_verdict_count"))
    assert counts == {"near": 1, "far": 2, "alone": 0}
    flags = new.get_model("annotations", "CriticVerdict").objects.values_list("item__external_id", "probe")
    assert sorted(flags.filter(humans_disagree=True)) == [("far", "")]
