"""Critic checkpoints and their verdicts (probes included)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from .choices import JobStatus, Preference, Probe, verdict_shape
from .items import Image, Item


class CriticCheckpoint(models.Model):
    """A judge whose verdicts are recorded: a model the critic runs, or an external judge (imported verdicts)."""

    class Quantization(models.TextChoices):
        NF4 = "nf4"
        INT8 = "int8"
        NONE = "none"

    name = models.CharField(max_length=200, unique=True)
    model = models.CharField(max_length=500, blank=True, help_text="Path or hub id; empty for an external judge.")
    revision = models.CharField(max_length=100, blank=True)
    quantization = models.CharField(max_length=8, choices=Quantization.choices, default=Quantization.NF4)
    is_external = models.BooleanField(default=False, help_text="Verdicts imported from another judge (e.g. GPT-4o).")
    is_demo = models.BooleanField(default=False, help_text="A random-weight model: its verdicts mean nothing.")
    is_active = models.BooleanField(default=False, help_text="The checkpoint new judging and reviews use.")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    training_export = models.ForeignKey(
        "TrainingExport", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    adapter_path = models.CharField(max_length=500, blank=True, help_text="The LoRA adapter it was trained as.")
    merged_path = models.CharField(max_length=500, blank=True, help_text="Full weights with the adapter merged.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_checkpoint"),
            models.CheckConstraint(
                condition=Q(is_external=True) | ~Q(model=""), name="checkpoint_model_unless_external"
            ),
            models.CheckConstraint(condition=Q(quantization__in=["nf4", "int8", "none"]), name="checkpoint_quant"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def quantization_shown(self) -> str:
        """The quantization as pages show it: an external judge's verdicts are imported, it has none ("—")."""
        return "—" if self.is_external else self.quantization


class CriticVerdict(models.Model):
    """One checkpoint's verdict on one item. Its status is the job's state; the broker only wakes workers."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="critic_verdicts")
    checkpoint = models.ForeignKey(CriticCheckpoint, on_delete=models.PROTECT, related_name="verdicts")
    profile = models.CharField(max_length=32)
    status = models.CharField(max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED)
    score = models.FloatField(null=True, blank=True)
    preference = models.CharField(max_length=3, choices=Preference.choices, null=True, blank=True)  # noqa: DJ001
    confidence = models.FloatField(null=True, blank=True, help_text="Probability the critic gave its verdict.")
    probabilities = models.JSONField(default=dict, blank=True, help_text="Probability of each verdict.")
    expected_score = models.FloatField(null=True, blank=True, help_text="Mean score under those probabilities.")
    uncertainty = models.FloatField(
        null=True,
        blank=True,
        help_text="sqrt(E[(value - verdict)^2]) under those probabilities, in the verdict's units (scores: points; "
        "preferences: A = 1, B = 0, tie = 1/2): the desk's most-informative order reads it.",
    )
    justification = models.TextField(blank=True)
    raw_output = models.TextField(blank=True)
    prompt = models.TextField(
        blank=True, help_text="The whole prompt the critic was given, after its chat template (recorded by the worker)."
    )
    forced = models.BooleanField(default=False, help_text="Read from the logits: the free text did not parse.")
    error = models.TextField(blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    claim = models.CharField(max_length=32, blank=True, help_text="Which run of a worker holds it while running.")
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="While running: the worker holding it said it is alive (every few seconds)."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    probe = models.CharField(
        max_length=16,
        choices=Probe.choices,
        blank=True,
        default="",
        help_text="Empty: the item's verdict. Else a probe (never shown or counted as the critic's verdict): swap "
        "(the responses exchanged, the preference stored in the item's own order), blank-image (a white image of the "
        "same size), other-image (probe_image instead of the item's).",
    )
    probe_image = models.ForeignKey(
        Image,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="An other-image probe: the picture the critic was shown instead of the item's.",
    )
    humans_disagree = models.BooleanField(
        default=False,
        editable=False,
        help_text="Done, and some human verdict on the item disagrees with it by the dataset's rule (kept by the "
        "services that write verdicts, annotations/services/verdict_summary.py): the item table's filter for "
        "administrators. Never shown to reviewers: it speaks of other people's verdicts.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "checkpoint", "probe"], name="one_critic_verdict_per_item"),
            models.CheckConstraint(condition=Q(probe="") | Q(probe__in=Probe.values), name="critic_probe_valid"),
            models.CheckConstraint(
                condition=Q(probe=Probe.OTHER_IMAGE, probe_image__isnull=False)
                | (~Q(probe=Probe.OTHER_IMAGE) & Q(probe_image__isnull=True)),
                name="critic_probe_image_for_other_image",
            ),
            models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="critic_status_valid"),
            models.CheckConstraint(
                condition=verdict_shape("score", "preference", required=False), name="critic_verdict_fits_profile"
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | Q(score__isnull=False) | Q(preference__isnull=False),
                name="critic_done_has_verdict",
            ),
            models.CheckConstraint(
                condition=Q(confidence__isnull=True) | Q(confidence__gte=0, confidence__lte=1),
                name="critic_confidence_probability",
            ),
        ]
        indexes = [
            models.Index(fields=["checkpoint", "status"], name="critic_verdict_status"),
            # The item table: items where people disagree with a checkpoint, its items by the critic's confidence, and
            # its filter for verdicts read from the probabilities (rare: read from a small index, not by a scan).
            models.Index(
                fields=["checkpoint", "item"],
                condition=Q(humans_disagree=True, status="done", probe=""),
                name="critic_verdict_disagreed",
            ),
            models.Index(
                fields=["checkpoint", "confidence", "item"],
                condition=Q(status="done", probe="", confidence__isnull=False),
                name="critic_verdict_confidence",
            ),
            models.Index(
                fields=["checkpoint", "item"],
                condition=Q(forced=True, status="done", probe=""),
                name="critic_verdict_forced",
            ),
        ]

    def __str__(self) -> str:
        probe = f" ({self.probe} probe)" if self.probe else ""
        return f"{self.checkpoint} on {self.item_id}{probe}: {self.status}"

    @property
    def swapped(self) -> bool:
        """A swap probe (the swap check): judged with the two responses exchanged."""
        return self.probe == Probe.SWAP
