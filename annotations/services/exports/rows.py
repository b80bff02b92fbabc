"""Choosing the rows: one streaming query over the critic's verdicts and the people's, each item's reviewers
combined into one verdict, and the training row it becomes."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, Item, ItemImage, JobStatus, Split
from annotations.selectors.review import verdict_values_agree
from annotations.services.verdict_combine import preferences_combine, scores_combine
from critic_worker.profiles import PromptInput, Verdict, get_profile, user_turn

IMAGE_TOKEN = "<image>"

CHUNK = 2000  # rows fetched per round trip of the streaming query


# The critic verdict's own columns, then the joined ones under names of their own.
_OWN = ("item_id", "profile", "score", "preference", "justification", "raw_output")
_JOINED = {
    "external_id": "item__external_id",
    "question": "item__question",
    "reference": "item__reference",
    "response_a": "item__response_a",
    "response_b": "item__response_b",
    "context": "item__context",
    "image_file": "item__image__normalized",  # the rendition everyone sees, never the original
    "sha256": "item__image__normalized_sha256",
    "h_profile": "item__human_verdicts__profile",
    "h_score": "item__human_verdicts__score",
    "h_preference": "item__human_verdicts__preference",
    "h_revised_score": "item__human_verdicts__revised_score",
    "h_revised_preference": "item__human_verdicts__revised_preference",
    "h_revised_at": "item__human_verdicts__revised_at",
    "h_rationale": "item__human_verdicts__rationale",
    "h_corrected": "item__human_verdicts__corrected_justification",
}


def critic_verdicts_done(*, checkpoint: CriticCheckpoint) -> QuerySet[CriticVerdict]:
    """The checkpoint's finished verdicts that count as its judgement: the one place to narrow which critic
    verdicts an export corrects (e.g. to leave out swap checks)."""
    return CriticVerdict.objects.filter(checkpoint=checkpoint, status=JobStatus.DONE, probe="")


def critic_verdicts_for_export(*, dataset: Dataset, checkpoint: CriticCheckpoint) -> QuerySet[CriticVerdict]:
    """Those verdicts on the dataset's pool items (the gold split is never exported)."""
    return critic_verdicts_done(checkpoint=checkpoint).filter(item__dataset=dataset, item__split=Split.POOL)


def _stream(dataset: Dataset, checkpoint: CriticCheckpoint) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(item id, one dict per human verdict) for every pool item with the checkpoint's verdict and a human one:
    a single query (verdict, item, image and human verdicts joined), read in chunks from a server-side cursor."""
    rows = (
        critic_verdicts_for_export(dataset=dataset, checkpoint=checkpoint)
        .filter(item__human_verdicts__isnull=False)
        .order_by("item_id", "item__human_verdicts__id")
        .values(*_OWN, **{alias: F(path) for alias, path in _JOINED.items()})
        .iterator(chunk_size=CHUNK)
    )
    group: list[dict[str, Any]] = []
    for row in rows:
        if group and row["item_id"] != group[0]["item_id"]:
            yield group[0]["item_id"], group
            group = []
        group.append(row)
    if group:
        yield group[0]["item_id"], group


def _human_value(row: dict[str, Any]) -> tuple[float | None, str | None]:
    """The reviewer's verdict as corrected: the revision after the reveal if there is one, else the blind one."""
    if row["h_revised_at"] is not None:
        return row["h_revised_score"], row["h_revised_preference"]
    return row["h_score"], row["h_preference"]


@dataclass
class Tally:
    rows: int = 0
    per_profile: Counter[str] = field(default_factory=Counter)
    disagreements: Counter[str] = field(default_factory=Counter)
    agreements: Counter[str] = field(default_factory=Counter)
    left_out: Counter[str] = field(default_factory=Counter)
    items_seen: int = 0
    several_images: int = 0  # rows whose item has more than one image


class ExportRow(NamedTuple):
    """One training row, in the terms every format is written from."""

    id: str
    profile: str
    sha256: str  # of the image's rendition (the PNG the export holds)
    image_file: str  # the rendition's storage name
    human_turn: str
    gpt_turn: str
    critic_text: str  # the critic's own text (DPO's rejected side); empty for the other formats
    verdict: Verdict
    more_images: tuple[tuple[str, str], ...] = ()  # the item's second, third, ... images: (sha256, image_file)

    @property
    def images(self) -> list[tuple[str, str]]:
        """Every image of the row's item, in order: (sha256 of the rendition, its storage name)."""
        return [(self.sha256, self.image_file), *self.more_images]


def _consensus(
    humans: list[dict[str, Any]], *, profile: str, threshold: float
) -> tuple[tuple[float | None, str | None], str, str] | None:
    """The reviewers' verdict on an item as one value the profile can produce (verdict_combine's rule), with the
    first corrected justification and the first rationale among the reviewers who hold it; None when their
    verdicts cannot be combined (no majority preference, or scores further apart than the dataset's rule)."""
    spec = get_profile(profile)
    values = [_human_value(h) for h in humans]
    if spec.is_pointwise:
        if len(values) > 1 and not all(
            verdict_values_agree(profile=profile, threshold=threshold, first=a, second=b)
            for a, b in itertools.combinations(values, 2)
        ):
            return None
        verdict: tuple[float | None, str | None] = (
            scores_combine(scores=[v[0] for v in values if v[0] is not None], profile=spec),
            None,
        )
        holders = humans
    else:
        preference = preferences_combine(preferences=[v[1] for v in values if v[1] is not None])
        if preference is None:
            return None
        verdict = (None, preference)
        holders = [h for h, v in zip(humans, values, strict=True) if v[1] == preference]
    corrected = next((h["h_corrected"] for h in holders if h["h_corrected"].strip()), "")
    rationale = next((h["h_rationale"] for h in holders if h["h_rationale"].strip()), "")
    return verdict, corrected, rationale


def _with_more_images(
    groups: Iterator[tuple[int, list[dict[str, Any]]]],
) -> Iterator[tuple[list[dict[str, Any]], tuple[tuple[str, str], ...]]]:
    """Each item's group with its images after the first ((sha256, file) in order), asked for CHUNK items at a time."""
    while batch := list(itertools.islice(groups, CHUNK)):
        more: dict[int, list[tuple[str, str]]] = {}
        links = ItemImage.objects.filter(item_id__in=[item_id for item_id, _ in batch]).order_by("item_id", "position")
        for item_id, sha, name in links.values_list("item_id", "image__normalized_sha256", "image__normalized"):
            more.setdefault(item_id, []).append((sha, name))
        for item_id, humans in batch:
            yield humans, tuple(more.get(item_id, ()))


def export_rows(
    *,
    dataset: Dataset,
    checkpoint: CriticCheckpoint,
    include_agreements: bool,
    dpo: bool,
    tally: Tally,
    one_image_a_row: bool = False,
) -> Iterator[ExportRow]:
    """The training rows of a dataset against a checkpoint, streamed; what is left out is counted in `tally`.
    `one_image_a_row`: the format holds one image a row (llava-critic-113k), so items with several are left out."""
    threshold = dataset.disagreement_threshold
    for humans, more_images in _with_more_images(_stream(dataset, checkpoint)):
        tally.items_seen += 1
        first = humans[0]
        name = first["profile"]
        spec = get_profile(name)
        if more_images and one_image_a_row:
            tally.left_out["several_images_in_a_one_image_format"] += 1
            continue
        if any(h["h_profile"] != name for h in humans):
            tally.left_out["profile_changed_since_judged"] += 1
            continue
        found = _consensus(humans, profile=name, threshold=threshold)
        if found is None:
            tally.left_out["reviewers_disagree"] += 1
            continue
        human, corrected, rationale = found
        critic = (first["score"], first["preference"])
        agrees = verdict_values_agree(profile=name, threshold=threshold, first=human, second=critic)
        if agrees and not include_agreements:
            tally.left_out["agreements"] += 1
            continue
        corrected = corrected.strip()
        if agrees and dpo and not corrected:
            # A DPO pair needs a rejected side that is worse: an agreement counts only if its reasons were corrected.
            tally.left_out["agreements_without_corrected_justification"] += 1
            continue
        verdict = Verdict(score=human[0], preference=human[1], justification=corrected or rationale)
        context = tuple((t["role"], t["text"]) for t in first["context"] or [])  # earlier turns, as the critic saw
        prompt = PromptInput(first["question"], first["response_a"], first["response_b"], first["reference"], context)
        critic_text = ""
        if dpo:
            critic_text = first["raw_output"].strip() or spec.render(
                Verdict(score=critic[0], preference=critic[1], justification=first["justification"])
            )
        (tally.agreements if agrees else tally.disagreements)[name] += 1
        tally.per_profile[name] += 1
        tally.rows += 1
        tally.several_images += bool(more_images)
        # The critic's own turn: one <image> line per image, in order (critic_worker.prompting).
        image_tokens = "\n".join([IMAGE_TOKEN] * (1 + len(more_images)))
        yield ExportRow(
            id=f"{first['external_id']}__{name}",
            profile=name,
            sha256=first["sha256"],
            image_file=first["image_file"],
            human_turn=user_turn(spec, prompt, image_token=image_tokens),
            gpt_turn=spec.render(verdict),
            critic_text=critic_text,
            verdict=verdict,
            more_images=more_images,
        )


def _reviewed_counts(dataset: Dataset, checkpoint: CriticCheckpoint) -> dict[str, int]:
    """The dataset's reviewed items: in the pool with the checkpoint's verdict (the candidates), in the pool
    without one, and in the gold split. One pass over the dataset's items (no anti-join: its plan is very slow
    on tables just filled in bulk, before PostgreSQL has statistics about them)."""
    humans = HumanVerdict.objects.filter(item=OuterRef("pk"))
    judged = Exists(critic_verdicts_done(checkpoint=checkpoint).filter(item=OuterRef("pk")))
    pool = Q(split=Split.POOL)
    counts = (
        Item.objects.filter(dataset=dataset)
        .filter(Exists(humans))
        .aggregate(
            candidates=Count("pk", filter=pool & Q(judged)),
            in_pool=Count("pk", filter=pool),
            gold_split=Count("pk", filter=~pool),
        )
    )
    return {
        "candidates": counts["candidates"],
        "no_critic_verdict": counts["in_pool"] - counts["candidates"],
        "gold_split": counts["gold_split"],
    }
