"""Import jobs: a file brought into a dataset in the background."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from .choices import JobStatus
from .items import Dataset


class ImportJob(models.Model):
    """A bulk import from the browser or the API, run on the `default` queue; its report stays with it."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED)
    format = models.CharField(max_length=32, default="auto")
    data_file = models.FileField(max_length=300)
    images_file = models.FileField(max_length=300, blank=True)
    profile = models.CharField(max_length=32, blank=True)
    update = models.BooleanField(default=False)
    whole_prompt = models.BooleanField(
        default=False, help_text="Import critic rows whose prompt cannot be split as whole-prompt items."
    )
    judge = models.CharField(
        max_length=200, blank=True, help_text="The external judge of the verdicts in rows that name none."
    )
    stage = models.CharField(max_length=16, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="import_status_valid")]

    def __str__(self) -> str:
        return f"import {self.pk} into {self.dataset}: {self.status}"

    @property
    def percent(self) -> int:
        """Checking and writing are half the work each."""
        if not self.rows_total:
            return 100 if self.status == JobStatus.DONE else 0
        share = self.rows_done / self.rows_total / 2
        return round(100 * (share + (0.5 if self.stage == "writing" else 0)))
