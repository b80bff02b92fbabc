"""People's verdicts and the review desk's slots and skips."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from .choices import Preference, verdict_shape
from .items import Item


class HumanVerdict(models.Model):
    """One reviewer's verdict on one item, committed blind. A revision after the reveal is kept beside it."""

    class Source(models.TextChoices):
        DESK = "desk", "Review desk"
        IMPORT = "import", "Imported label"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="human_verdicts", db_index=False)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="verdicts")
    profile = models.CharField(max_length=32)
    score = models.FloatField(null=True, blank=True)
    preference = models.CharField(max_length=3, choices=Preference.choices, null=True, blank=True)  # noqa: DJ001
    rationale = models.TextField(blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.DESK)
    committed_at = models.DateTimeField(auto_now_add=True)
    revised_score = models.FloatField(null=True, blank=True)
    revised_preference = models.CharField(  # noqa: DJ001 - NULL is "no verdict", as for the scores
        max_length=3, choices=Preference.choices, null=True, blank=True
    )
    revised_at = models.DateTimeField(null=True, blank=True)
    justification_flagged = models.BooleanField(
        default=False, help_text="The reviewer marked the critic's justification wrong."
    )
    corrected_justification = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "reviewer"], name="one_human_verdict_per_reviewer"),
            models.CheckConstraint(
                condition=verdict_shape("score", "preference", required=True), name="human_verdict_fits_profile"
            ),
            models.CheckConstraint(
                condition=verdict_shape("revised_score", "revised_preference", required=False),
                name="human_revision_fits_profile",
            ),
            models.CheckConstraint(
                condition=Q(revised_at__isnull=True, revised_score__isnull=True, revised_preference__isnull=True)
                | Q(revised_at__isnull=False),
                name="human_revision_dated",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} on {self.item_id}"


class ReviewSlot(models.Model):
    """One of an item's k review places (k = the dataset's overlap). Held with a lease while a reviewer works on
    the item, kept for good once their verdict is in. The unique constraints are what guarantee that no item is
    ever assigned to more than k reviewers, however many ask at once."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="review_slots", db_index=False)
    slot = models.PositiveSmallIntegerField()
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_slots", db_index=False
    )
    leased_until = models.DateTimeField(null=True, blank=True, help_text="Empty once the verdict is in.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "slot"], name="one_reviewer_per_slot"),
            models.UniqueConstraint(fields=["item", "reviewer"], name="one_slot_per_reviewer"),
        ]
        indexes = [models.Index(fields=["reviewer", "leased_until"], name="slot_reviewer_lease")]

    def __str__(self) -> str:
        return f"{self.item_id}#{self.slot} {self.reviewer}"


class ReviewSkip(models.Model):
    """An item a reviewer skipped: not offered to them again."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="review_skips")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "reviewer"], name="one_skip_per_reviewer")]

    def __str__(self) -> str:
        return f"{self.reviewer} skipped {self.item_id}"
