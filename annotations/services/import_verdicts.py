"""Verdicts that come with imported rows: human labels collected elsewhere, and other judges' verdicts (a score, a
preference, or their raw text for the item's profile to read), each judge an external checkpoint."""

from __future__ import annotations

from annotations.importers.rows import JudgeEntry, Row
from annotations.models import CriticCheckpoint, CriticVerdict, JobStatus
from annotations.services.import_report import ImportReport
from critic_worker.profiles import PREFERENCES, WHOLE_PROMPT_RESPONSE, Profile, Verdict, get_profile

UNREADABLE = "the judge's text holds no verdict profile {profile} can read"
WHOLE_PROMPT_UNREAD = "critic prompt and verdict not recognised"


def read_verdict(*, profile: Profile, text: str) -> Verdict | None:
    """A judge's text read by a profile: the one place an import reads verdict text."""
    return profile.parse(text)


def whole_prompt_settle(row: Row) -> None:
    """A whole-prompt row takes the first profile in its list that reads its verdict (a pairwise one gets its second
    response marked as inside the prompt too); a row whose verdict none reads is refused."""
    if not row.whole_prompt or row.profile or not row.judges:
        return
    text = row.judges[0].output
    # WildVision's profile reads prose too; it is the right one only for a text in its own five-way labels.
    five_way = "[[" in text
    for name in row.whole_prompt_profiles:
        if name == "wildvision" and not five_way:
            continue
        profile = get_profile(name)
        if read_verdict(profile=profile, text=text) is not None:
            row.profile = name
            row.response_b = "" if profile.is_pointwise else WHOLE_PROMPT_RESPONSE
            return
    row.refuse(
        WHOLE_PROMPT_UNREAD,
        "conversations",
        "the prompt could not be split, and no profile ("
        + ", ".join(row.whole_prompt_profiles)
        + ") reads a verdict in the gpt turn: neither tells what the row is",
    )


def labels_check(row: Row, *, spec: Profile | None, report: ImportReport, reviewers: set[str]) -> None:
    for label in row.labels:
        reviewers.add(label.reviewer)
        where = "human_labels"
        if len(label.reviewer) > 150:
            report.add(row.number, where, "a reviewer name is longer than 150 characters")
        if spec is None:
            continue
        if spec.is_pointwise:
            if label.score is None or label.preference is not None:
                report.add(row.number, where, f"{label.reviewer}: profile {spec.name} takes a score, not a preference")
            elif not spec.in_range(label.score):
                report.add(
                    row.number,
                    where,
                    f"{label.reviewer}: score {label.score:g} is outside {spec.score_min:g}-{spec.score_max:g}",
                )
        elif label.preference not in PREFERENCES or label.score is not None:
            report.add(row.number, where, f"{label.reviewer}: profile {spec.name} takes a preference A, B or tie")
    if len({label.reviewer for label in row.labels}) < len(row.labels):
        report.add(row.number, "human_labels", "one reviewer labels an item once")


def judge_name(entry: JudgeEntry, default: str) -> str:
    return entry.name or default


def judges_check(row: Row, *, spec: Profile | None, report: ImportReport, default: str, names: dict[str, int]) -> None:
    """Each judge's verdict fits the item's profile; `names` collects each judge's first row."""
    for entry in row.judges:
        name = judge_name(entry, default)
        if not name:
            report.add(row.number, entry.where, "names no judge: give `judge` (its name) with the verdict")
            continue
        names.setdefault(name, row.number)
        if spec is None:
            continue
        if entry.score is not None:
            if not spec.is_pointwise:
                report.add(row.number, entry.where, f"{name}: profile {spec.name} takes a preference, not a score")
            elif not spec.in_range(entry.score):
                report.add(
                    row.number,
                    entry.where,
                    f"{name}: score {entry.score:g} is outside {spec.score_min:g}-{spec.score_max:g} "
                    f"(profile {spec.name})",
                )
        elif entry.preference is not None:
            if spec.is_pointwise:
                report.add(row.number, entry.where, f"{name}: profile {spec.name} takes a score, not a preference")
            elif entry.preference not in PREFERENCES:
                report.add(row.number, entry.where, f"{name}: preference must be A, B or tie, not {entry.preference!r}")


def judge_names_check(*, names: dict[str, int], report: ImportReport) -> None:
    """A judge named in the file may be a new or an existing external judge, never a critic this app runs."""
    ours = CriticCheckpoint.objects.filter(name__in=list(names), is_external=False).values_list("name", flat=True)
    for name in sorted(ours, key=names.__getitem__):
        report.add(
            names[name],
            "judge",
            f"{name!r} is a critic checkpoint run here, not an external judge: its verdicts are computed, not imported",
        )


def judge_checkpoints(names: set[str]) -> dict[str, CriticCheckpoint]:
    """The external checkpoints for these judges, created when missing."""
    existing = {c.name: c for c in CriticCheckpoint.objects.filter(name__in=names)}
    missing = [CriticCheckpoint(name=name, is_external=True) for name in sorted(names - set(existing))]
    CriticCheckpoint.objects.bulk_create(missing)
    return {c.name: c for c in CriticCheckpoint.objects.filter(name__in=names)}


def judge_verdict(
    *, entry: JudgeEntry, item_id: int, profile: Profile, checkpoint: CriticCheckpoint, report: ImportReport
) -> CriticVerdict:
    """The CriticVerdict a judge's entry becomes: given as a score or preference, or read from its text (kept as a
    failed verdict, with the text and the reason, when the profile cannot read it)."""
    verdict: Verdict | None
    if entry.output:
        verdict = read_verdict(profile=profile, text=entry.output)
    else:
        verdict = Verdict(score=entry.score, preference=entry.preference)
    report.count_judge(checkpoint.name, readable=verdict is not None)
    return CriticVerdict(
        item_id=item_id,
        checkpoint=checkpoint,
        profile=profile.name,
        status=JobStatus.DONE if verdict else JobStatus.FAILED,
        score=verdict.score if verdict else None,
        preference=verdict.preference if verdict else None,
        confidence=entry.confidence if verdict else None,
        justification=verdict.justification if verdict else "",
        raw_output=entry.output,
        error="" if verdict else UNREADABLE.format(profile=profile.name),
    )
