"""Real training exports for the retraining tests: the corrections become human verdicts that disagree with a
critic's verdicts, and the exporter itself (annotations/services/exports/) writes the snapshot."""

from __future__ import annotations

from typing import Any

from annotations.models import CriticCheckpoint, CriticVerdict, HumanVerdict, JobStatus, TrainingExport
from annotations.services.exports import training_export_create, training_export_run
from critic_worker.profiles import Verdict, get_profile
from tests.factories import CheckpointFactory, UserFactory


def _disagreeing(profile_name: str, verdict: Verdict) -> Verdict:
    """A critic verdict that the dataset's rule counts as a disagreement with the human one."""
    if verdict.preference is not None:
        return Verdict(preference="B" if verdict.preference == "A" else "A", justification="The critic's reasons.")
    profile = get_profile(profile_name)
    assert verdict.score is not None
    assert profile.score_min is not None
    assert profile.score_max is not None
    middle = (profile.score_min + profile.score_max) / 2
    far = profile.score_min if verdict.score > middle else profile.score_max
    return Verdict(score=far, justification="The critic's reasons.")


def export_for(
    dataset: Any,
    corrections: list[tuple[Any, Verdict]],
    *,
    fmt: str = "llava-json",
    checkpoint: CriticCheckpoint | None = None,
) -> TrainingExport:
    """The finished export of these (item, corrected verdict) pairs: the checkpoint (a new one unless given, the
    export's source) judged each item otherwise, and a reviewer committed the verdict and corrected the critic's
    justification to the verdict's. Items with a finished verdict from the checkpoint keep it."""
    checkpoint = checkpoint or CheckpointFactory()
    reviewer = UserFactory()
    for item, verdict in corrections:
        critic = _disagreeing(item.profile, verdict)
        CriticVerdict.objects.get_or_create(
            item=item,
            checkpoint=checkpoint,
            defaults={
                "profile": item.profile,
                "status": JobStatus.DONE,
                "score": critic.score,
                "preference": critic.preference,
                "justification": critic.justification,
                "raw_output": critic.justification,
            },
        )
        HumanVerdict.objects.create(
            item=item,
            reviewer=reviewer,
            profile=item.profile,
            score=verdict.score,
            preference=verdict.preference,
            justification_flagged=bool(verdict.justification),
            corrected_justification=verdict.justification,
        )
    export = training_export_create(dataset=dataset, fmt=fmt, checkpoint=checkpoint)
    done = training_export_run(export_id=export.pk)
    assert done is not None
    assert done.status == JobStatus.DONE, done.error
    assert done.manifest["counts"]["ours"] == len(corrections), done.manifest
    return done
