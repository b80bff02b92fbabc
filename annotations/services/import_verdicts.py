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


# How benchmark files spell a preference besides A / B / tie (case aside): MLLM-as-a-Judge's C for a tie (as the
# readers take [[C]]), and Chatbot Arena's winner column.
PREFERENCE_SPELLINGS = {"c": "tie", "model_a": "A", "model_b": "B", "tie (bothbad)": "tie"}


def file_preference(value: str | None, profile: Profile) -> str | None:
    """A preference as a file gives it (a human label's or a judge's), read on the profile's terms: A, B or tie, in
    any case; the profile's own value map (a team's "1" -> A); the spellings above. None for anything else."""
    if value is None:
        return None
    said = value.strip().casefold()
    by_profile = {k.strip().casefold(): v for k, v in profile.value_map}
    by_name = {p.casefold(): p for p in PREFERENCES}
    return by_profile.get(said) or by_name.get(said) or PREFERENCE_SPELLINGS.get(said)


def _score_problem(score: float, spec: Profile) -> str:
    """Why a score does not fit the profile ("" when it does): its range, then its step."""
    if not spec.in_range(score):
        return f"score {score:g} is outside {spec.score_min:g}-{spec.score_max:g} (profile {spec.name})"
    if not spec.on_grid(score):
        return f"score {score:g} is not on the step of {spec.score_step:g} of profile {spec.name}"
    return ""


def _preference_problem(value: str, spec: Profile) -> str:
    """Why a preference as the file gives it does not fit the profile ("" when it does)."""
    read = file_preference(value, spec)
    if read is None:
        mapped = f", or {', '.join(repr(k) for k, _ in spec.value_map)}" if spec.value_map else ""
        return f"{value!r} is not a preference profile {spec.name} takes (A, B or tie{mapped})"
    if read == "tie" and not spec.allow_tie:
        return f"{value!r} is a tie, and profile {spec.name} does not allow a tie"
    return ""


def labels_check(row: Row, *, spec: Profile | None, report: ImportReport, reviewers: set[str]) -> None:
    for label in row.labels:
        reviewers.add(label.reviewer)
        where = label.where
        if len(label.reviewer) > 150:
            report.add(row.number, where, "a reviewer name is longer than 150 characters")
        if spec is None:
            continue
        if spec.is_pointwise:
            if label.score is None or label.preference is not None:
                report.add(row.number, where, f"{label.reviewer}: profile {spec.name} takes a score, not a preference")
            elif problem := _score_problem(label.score, spec):
                report.add(row.number, where, f"{label.reviewer}: {problem}")
        elif label.preference is None or label.score is not None:
            report.add(row.number, where, f"{label.reviewer}: profile {spec.name} takes a preference A, B or tie")
        elif problem := _preference_problem(label.preference, spec):
            report.add(row.number, where, f"{label.reviewer}: {problem}")
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
            elif problem := _score_problem(entry.score, spec):
                report.add(row.number, entry.where, f"{name}: {problem}")
        elif entry.preference is not None:
            if spec.is_pointwise:
                report.add(row.number, entry.where, f"{name}: profile {spec.name} takes a score, not a preference")
            elif problem := _preference_problem(entry.preference, spec):
                report.add(row.number, entry.where, f"{name}: {problem}")


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
        verdict = Verdict(score=entry.score, preference=file_preference(entry.preference, profile))
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
