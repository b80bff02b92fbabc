"""A small dataset with one item of each case an export must handle (shared by the export tests)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from annotations.models import CriticVerdict, HumanVerdict, JobStatus
from annotations.services.images import image_check, image_store
from critic_worker.profiles import Verdict
from tests.factories import (
    AdminFactory,
    CheckpointFactory,
    DatasetFactory,
    ItemFactory,
    PairwiseItemFactory,
    UserFactory,
)
from tests.images import jpeg_bytes


def critic(item, checkpoint, *, score=None, preference=None, text="The critic's reasons."):  # type: ignore[no-untyped-def]
    return CriticVerdict.objects.create(
        item=item,
        checkpoint=checkpoint,
        profile=item.profile,
        status=JobStatus.DONE,
        score=score,
        preference=preference,
        justification=text,
        raw_output=f"raw: {text}",
    )


def human(item, reviewer, *, score=None, preference=None, rationale="", **extra):  # type: ignore[no-untyped-def]
    return HumanVerdict.objects.create(
        item=item,
        reviewer=reviewer,
        profile=item.profile,
        score=score,
        preference=preference,
        rationale=rationale,
        **extra,
    )


def build_export_world() -> dict[str, Any]:
    """A dataset with one item of each kind of case; `expected` maps each row id that must be exported to its
    human verdict."""
    dataset = DatasetFactory(name="charts", disagreement_threshold=0.1)
    checkpoint = CheckpointFactory(name="critic-7b", is_active=True)
    rita, sam = UserFactory(username="rita"), UserFactory(username="sam")
    jpeg = image_store(checked=image_check(data=jpeg_bytes()))[0]
    expected: dict[str, Verdict] = {}

    # pointwise, disagreement (20 against 80), reasons in the rationale
    item = ItemFactory(dataset=dataset, external_id="p1", question="How many bars?", response_a="Five [bars].")
    critic(item, checkpoint, score=80)
    human(item, rita, score=20, rationale="There are three bars, not five.")
    expected["p1__pointwise"] = Verdict(score=20, justification="There are three bars, not five.")

    # pairwise, disagreement, with a corrected justification (wins over the rationale)
    item = PairwiseItemFactory(dataset=dataset, external_id="w2", image=jpeg)
    critic(item, checkpoint, preference="A")
    human(
        item,
        rita,
        preference="B",
        rationale="B",
        justification_flagged=True,
        corrected_justification="The second response counts the circles right.\nThe first misses one.",
    )
    expected["w2__pairwise"] = Verdict(
        preference="B", justification="The second response counts the circles right.\nThe first misses one."
    )

    # wildvision: the blind verdict agreed, the revision after the reveal disagrees -> exported with the revision
    item = PairwiseItemFactory(dataset=dataset, external_id="wv3", profile="wildvision")
    critic(item, checkpoint, preference="B")
    human(item, rita, preference="B", revised_preference="A", revised_at=timezone.now(), rationale="A is right.")
    expected["wv3__wildvision"] = Verdict(preference="A", justification="A is right.")

    # llava-bench with a reference; two reviewers who agree (3 and 3.5: within 10% of 1-10): their median 3.25,
    # rounded to the profile's whole points
    item = ItemFactory(dataset=dataset, external_id="lb4", profile="llava-bench", reference="A red square.")
    critic(item, checkpoint, score=9)
    human(item, rita, score=3, rationale="Wrong colour.")
    human(item, sam, score=3.5)
    expected["lb4__llava-bench"] = Verdict(score=3, justification="Wrong colour.")

    # caption: agreement (80 against 82), exported only with agreements
    item = ItemFactory(dataset=dataset, external_id="c5", profile="caption")
    critic(item, checkpoint, score=82)
    human(item, rita, score=80, rationale="Fine caption.")

    # gold: a disagreement, never exported
    item = ItemFactory(dataset=dataset, external_id="g6", split="gold")
    critic(item, checkpoint, score=90)
    human(item, rita, score=10, rationale="gold")

    # reviewers disagree with each other: left out and counted
    item = PairwiseItemFactory(dataset=dataset, external_id="x7")
    critic(item, checkpoint, preference="tie")
    human(item, rita, preference="A")
    human(item, sam, preference="B")

    # no verdict from this critic (another checkpoint's only), and an item nobody reviewed
    item = ItemFactory(dataset=dataset, external_id="n8")
    critic(item, CheckpointFactory(name="other"), score=10)
    human(item, rita, score=90)
    critic(ItemFactory(dataset=dataset, external_id="u9"), checkpoint, score=50)
    return {"dataset": dataset, "checkpoint": checkpoint, "expected": expected, "admin": AdminFactory(username="ada")}
