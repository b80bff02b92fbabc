"""Drift audits: a sample of a dataset's items judged by one checkpoint at several quantizations (nf4, int8, full
precision), so that what quantization changes is measured rather than taken for the critic's own error.

Their verdicts live in their own table, never in CriticVerdict: no metric, export, reveal or desk query reads them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class DriftAudit(models.Model):
    """One audit: the checkpoint, the dataset its sample is drawn from, the quantizations compared, and the job's
    state (queued -> running -> done / failed, moved on only by guarded updates in services/drift.py)."""

    checkpoint = models.ForeignKey(
        "annotations.CriticCheckpoint", on_delete=models.PROTECT, related_name="drift_audits"
    )
    dataset = models.ForeignKey("annotations.Dataset", on_delete=models.CASCADE, related_name="+")
    quantizations = models.JSONField(help_text='The quantizations compared, e.g. ["none", "int8", "nf4"].')
    sample_size = models.PositiveIntegerField(help_text="Items asked for (fewer when the dataset has fewer).")
    seed = models.PositiveIntegerField(help_text="Seed of the sample draw: the same seed draws the same items.")
    status = models.CharField(max_length=8, default="queued")
    stage = models.CharField(max_length=8, blank=True, help_text="The quantization being judged while running.")
    loaded = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per quantization, how the model was loaded (layer type, memory in bytes) or why it could not be.",
    )
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "done", "failed"]), name="drift_audit_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"drift audit {self.pk} of {self.checkpoint} on {self.dataset}: {self.status}"


class DriftVerdict(models.Model):
    """The checkpoint's verdict on one sampled item at one quantization: queued until judged, then done (a score
    or a preference) or failed (with the reason)."""

    audit = models.ForeignKey(DriftAudit, on_delete=models.CASCADE, related_name="verdicts")
    item = models.ForeignKey("annotations.Item", on_delete=models.CASCADE, related_name="+")
    quantization = models.CharField(max_length=8)
    profile = models.CharField(max_length=32)
    status = models.CharField(max_length=8, default="queued")
    score = models.FloatField(null=True, blank=True)
    preference = models.CharField(max_length=3, null=True, blank=True)  # noqa: DJ001 - NULL is "no verdict"
    confidence = models.FloatField(null=True, blank=True)
    forced = models.BooleanField(default=False, help_text="Read from the logits: the free text did not parse.")
    raw_output = models.TextField(blank=True)
    error = models.TextField(blank=True)
    latency_ms = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["audit", "item", "quantization"], name="one_drift_verdict_per_quant"),
            models.CheckConstraint(
                condition=Q(quantization__in=["nf4", "int8", "none"]), name="drift_verdict_quantization"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "done", "failed"]), name="drift_verdict_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | Q(score__isnull=False) | Q(preference__isnull=False),
                name="drift_done_has_verdict",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.audit_id}/{self.item_id} at {self.quantization}: {self.status}"
