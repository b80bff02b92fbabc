"""Datasets, images and items: what reviewers and the critic judge."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db import models
from django.db.models import Q

from critic_worker.profiles import Kind as ProfileKind
from critic_worker.profiles import Profile, find_profile, get_profile, profile_names

from .choices import BUILTIN_PAIRWISE, BUILTIN_POINTWISE, Kind, Split


class Dataset(models.Model):
    name = models.CharField(max_length=200, unique=True, validators=[ProhibitNullCharactersValidator()])
    description = models.TextField(blank=True, validators=[ProhibitNullCharactersValidator()])
    pointwise_profile = models.CharField(
        max_length=32,
        default="pointwise",
        help_text="Prompt profile for items with one response, unless an item names its own.",
    )
    pairwise_profile = models.CharField(
        max_length=32,
        default="pairwise",
        help_text="Prompt profile for items with two responses, unless an item names its own.",
    )
    review_overlap = models.PositiveSmallIntegerField(default=1, help_text="How many reviewers judge each item (k).")
    disagreement_threshold = models.FloatField(
        default=0.1,
        help_text="A human score and the critic's disagree when they differ by more than this fraction "
        "of the profile's score range (0.1 = 10 points on 0-100).",
    )
    gold_fraction = models.FloatField(
        default=0.0,
        help_text="Share of new items placed in the frozen gold split when an upload does not say.",
    )
    judge_new_items = models.BooleanField(
        default=True,
        help_text="Queue new items for the active critic as they arrive (uploads and imports).",
    )
    alt_test_epsilon = models.FloatField(
        null=True,
        blank=True,
        help_text="The alt-test's cost-benefit margin epsilon (Calderon et al. 2025); empty: the paper's default "
        "0.2 (its rule of thumb for experts; 0.15 for skilled annotators, 0.1 for crowd workers).",
    )
    target_interval_width = models.FloatField(
        default=0.1,
        help_text="Label planning: the 95% interval width to reach, as a fraction of the figure's scale "
        "(0.1 = a win rate within 0.1, a mean score within 10 points on 0-100).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(review_overlap__gte=1), name="dataset_overlap_at_least_1"),
            models.CheckConstraint(
                condition=Q(disagreement_threshold__gte=0, disagreement_threshold__lte=1),
                name="dataset_threshold_fraction",
            ),
            models.CheckConstraint(
                condition=Q(gold_fraction__gte=0, gold_fraction__lte=1), name="dataset_gold_fraction"
            ),
            models.CheckConstraint(
                condition=Q(alt_test_epsilon__isnull=True) | Q(alt_test_epsilon__gte=0, alt_test_epsilon__lte=1),
                name="dataset_alt_test_epsilon",
            ),
            models.CheckConstraint(
                condition=Q(target_interval_width__gt=0, target_interval_width__lte=1),
                name="dataset_target_interval_width",
            ),
            models.CheckConstraint(
                condition=~Q(pointwise_profile__in=BUILTIN_PAIRWISE) & ~Q(pairwise_profile__in=BUILTIN_POINTWISE),
                name="dataset_profiles_fit_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Each default names a profile of its kind, built-in or defined (ValidationError by field)."""
        errors = {}
        defaults: tuple[tuple[str, ProfileKind], ...] = (
            ("pointwise_profile", "pointwise"),
            ("pairwise_profile", "pairwise"),
        )
        for field_name, kind in defaults:
            name = getattr(self, field_name)
            found = find_profile(name)
            if found is None:
                errors[field_name] = f"Unknown profile {name!r}; {kind} ones: {', '.join(profile_names(kind))}."
            elif found.kind != kind:
                errors[field_name] = f"Profile {name!r} judges {found.kind} items, not {kind} ones."
        if errors:
            raise ValidationError(errors)


class Image(models.Model):
    """An image, stored once whatever the number of items that show it: addressed by the SHA-256 of its bytes.

    `file` is the original as uploaded, kept and never decoded again; `normalized` is its one rendition (PNG,
    upright 8-bit RGB on white, made at ingest) that the pages, the thumbnail, the critic and the exports use.
    width and height are the rendition's (an EXIF rotation swaps the original's)."""

    sha256 = models.CharField(max_length=64, unique=True)
    file = models.FileField(max_length=200, help_text="The original bytes, as uploaded.")
    normalized = models.FileField(
        max_length=200, help_text="The rendition everyone sees (PNG, upright 8-bit RGB on white), made at ingest."
    )
    normalized_sha256 = models.CharField(
        max_length=64, blank=True, help_text="The SHA-256 of the rendition's PNG (exports name its file by it)."
    )
    normalization_note = models.CharField(
        max_length=500, blank=True, help_text="What normalising changed; empty when the original needed nothing."
    )
    thumbnail = models.FileField(max_length=200, blank=True, help_text="Made from the rendition on first view.")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=8)
    size_bytes = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="image_sha256_hex"),
            models.CheckConstraint(condition=Q(width__gt=0, height__gt=0), name="image_has_pixels"),
        ]

    def __str__(self) -> str:
        return f"{self.sha256[:12]} ({self.width}x{self.height} {self.format})"


class Item(models.Model):
    """An image, a question and one response (pointwise) or two (pairwise), with the models that wrote them."""

    # db_index=False here and below: a composite index already leads with the column (each index is one more write
    # on every verdict, and the review desk writes on every request).
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="items", db_index=False)
    external_id = models.CharField(max_length=200, help_text="Unique within the dataset.")
    image = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="items")
    question = models.TextField()
    reference = models.TextField(blank=True, help_text="Optional reference answer.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    profile = models.CharField(max_length=32)
    response_a = models.TextField()
    model_a = models.CharField(max_length=200, blank=True)
    response_b = models.TextField(blank=True)
    model_b = models.CharField(max_length=200, blank=True)
    split = models.CharField(max_length=8, choices=Split.choices, default=Split.POOL)
    context = models.JSONField(
        default=list,
        blank=True,
        help_text='Earlier turns of the conversation: a list of {"role": "user"|"assistant"|"context", "text": ...}.',
    )
    review_complete = models.BooleanField(
        default=False, help_text="All of the dataset's review places hold a verdict (kept by the review service)."
    )
    human_verdict_count = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="How many human verdicts the item has, desk and imported (kept by the services that write them, "
        "annotations/services/verdict_summary.py): the item table sorts by it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "external_id"], name="item_id_unique_in_dataset"),
            models.CheckConstraint(condition=~Q(external_id=""), name="item_external_id_present"),
            models.CheckConstraint(condition=~Q(question="") & ~Q(response_a=""), name="item_has_text"),
            models.CheckConstraint(
                condition=(Q(kind=Kind.POINTWISE, response_b="", model_b="") & ~Q(profile__in=BUILTIN_PAIRWISE))
                | (Q(kind=Kind.PAIRWISE) & ~Q(profile__in=BUILTIN_POINTWISE) & ~Q(response_b="")),
                name="item_responses_fit_kind",
            ),
            models.CheckConstraint(condition=Q(split__in=Split.values), name="item_split_valid"),
        ]
        indexes = [
            models.Index(fields=["dataset", "split"], name="item_dataset_split"),
            # The review desk's candidates: items still open for review, in order, found without a scan.
            models.Index(fields=["dataset", "id"], condition=Q(review_complete=False), name="item_open_for_review"),
            # The item table: its pages in order and its counts, read from the index alone; its sort by verdicts.
            models.Index(fields=["dataset", "id"], name="item_dataset_order"),
            models.Index(fields=["dataset", "human_verdict_count", "id"], name="item_dataset_verdict_count"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset.name}/{self.external_id}"

    @property
    def is_pairwise(self) -> bool:
        return self.kind == Kind.PAIRWISE

    @property
    def profile_spec(self) -> Profile:
        return get_profile(self.profile)

    @property
    def context_turns(self) -> tuple[tuple[str, str], ...]:
        """The earlier turns as PromptInput takes them."""
        return tuple((str(t.get("role", "")), str(t.get("text", ""))) for t in self.context or [])
