"""Training exports (immutable snapshots) and the retraining jobs that fine-tune from them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from .choices import JobStatus
from .critic import CriticCheckpoint
from .items import Dataset


class TrainingExport(models.Model):
    """An immutable, numbered snapshot of training rows, with its manifest (filters, counts, file hashes)."""

    class Format(models.TextChoices):
        LLAVA_CRITIC_PARQUET = "llava-critic-parquet"
        LLAVA_JSON = "llava-json"
        DPO_JSONL = "dpo-jsonl"

    number = models.PositiveIntegerField(unique=True, help_text="Version, counted across all exports.")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="exports")
    format = models.CharField(max_length=32, choices=Format.choices)
    source_checkpoint = models.ForeignKey(
        "CriticCheckpoint", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    filters = models.JSONField(default=dict, blank=True)
    manifest = models.JSONField(default=dict, blank=True)
    path = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The job that writes the snapshot (services/exports/jobs.py creates rows as queued; a row made without a status
    # is a finished snapshot).
    status = models.CharField(max_length=8, choices=JobStatus.choices, default=JobStatus.DONE)
    items_done = models.PositiveIntegerField(default=0, help_text="Reviewed items looked at so far.")
    items_total = models.PositiveIntegerField(default=0, help_text="Reviewed items with the critic's verdict.")
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="export_status_valid")]

    def __str__(self) -> str:
        return f"export #{self.number} ({self.format}, {self.dataset.name})"

    @property
    def percent(self) -> int:
        if not self.items_total:
            return 100 if self.status == JobStatus.DONE else 0
        return min(100, round(100 * self.items_done / self.items_total))


class RetrainingJob(models.Model):
    """Fine-tunes a checkpoint on an export, registers the child, and gates it on the gold split."""

    export = models.ForeignKey(TrainingExport, on_delete=models.PROTECT, related_name="retraining_jobs")
    base = models.ForeignKey(CriticCheckpoint, on_delete=models.PROTECT, related_name="+")
    child = models.ForeignKey(CriticCheckpoint, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.FloatField(default=0.0)
    loss_log = models.JSONField(default=list, blank=True)
    gold_metrics = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    promotion_override_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    options = models.JSONField(default=dict, blank=True, help_text="Training options (epochs, learning rate...).")
    stage = models.CharField(max_length=16, blank=True, help_text="training, evaluating, done")
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="The worker running it said it is alive.")
    gate_passed = models.BooleanField(
        null=True, blank=True, help_text="Child not worse than its parent on gold beyond the interval."
    )
    gate_report = models.JSONField(default=list, blank=True, help_text="Each statistic the gate compared.")
    promoted_at = models.DateTimeField(null=True, blank=True)
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__gte=0, progress__lte=1), name="retraining_progress"),
            models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="retraining_status_valid"),
        ]

    def __str__(self) -> str:
        return f"retrain {self.base} on export #{self.export.number}: {self.status}"
