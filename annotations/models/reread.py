"""Records of re-reading stored critic verdicts with the current verdict reader: one run, and one row per verdict it
changed with the values before and after, so that no earlier reading is ever lost."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class VerdictReread(models.Model):
    """One applied re-read: which verdicts were examined and how many changed, by kind."""

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    scope = models.CharField(max_length=400, help_text="Which verdicts were re-read (dataset, checkpoint, selection).")
    examined = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0, help_text="Read as another value.")
    now_unreadable = models.PositiveIntegerField(default=0)
    newly_readable = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"re-read #{self.pk} ({self.scope})"


class VerdictRereadChange(models.Model):
    """One verdict a re-read changed: its fields before and after (status, score, preference, forced, confidence,
    error, justification) and the reader's reason."""

    class Change(models.TextChoices):
        CHANGED = "changed", "Read as another value"
        NOW_UNREADABLE = "unreadable", "Now unreadable"
        NEWLY_READABLE = "readable", "Newly readable"

    run = models.ForeignKey(VerdictReread, on_delete=models.CASCADE, related_name="changes")
    verdict = models.ForeignKey(
        "annotations.CriticVerdict", null=True, on_delete=models.SET_NULL, related_name="rereads"
    )
    change = models.CharField(max_length=10, choices=Change.choices)
    previous = models.JSONField()
    current = models.JSONField()
    reason = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.change}: verdict {self.verdict_id}"
