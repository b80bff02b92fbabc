"""Prompt profiles a team defines (issue 16): stored here, checked and turned into the plain critic_worker Profile by
critic_worker.profile_specs at the edge. The five built-in families stay in code (critic_worker.profiles) and are
listed beside these; a stored profile cannot take a built-in's name."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import ProhibitNullCharactersValidator
from django.db import models
from django.db.models import Q

from critic_worker.profile_specs import MAX_CHARS, ProfileSpec
from critic_worker.profiles import SYSTEM_PROMPT


class PromptProfile(models.Model):
    name = models.CharField(max_length=32, unique=True)
    kind = models.CharField(max_length=9, choices=[("pointwise", "pointwise"), ("pairwise", "pairwise")])
    title = models.CharField(max_length=MAX_CHARS["title"], blank=True)
    template = models.TextField(validators=[ProhibitNullCharactersValidator()])
    system = models.TextField(default=SYSTEM_PROMPT, blank=True, validators=[ProhibitNullCharactersValidator()])
    score_min = models.FloatField(null=True, blank=True)
    score_max = models.FloatField(null=True, blank=True)
    score_step = models.FloatField(null=True, blank=True)
    allow_tie = models.BooleanField(default=True)
    reader = models.CharField(max_length=16, default="pattern", help_text="'pattern' or a built-in family's reader.")
    verdict_pattern = models.TextField(blank=True)
    value_map = models.JSONField(default=dict, blank=True)
    verdict_line = models.CharField(max_length=MAX_CHARS["verdict_line"], blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="pairwise", score_min__isnull=True, score_max__isnull=True)
                | Q(
                    kind="pointwise",
                    score_min__isnull=False,
                    score_max__isnull=False,
                    score_min__lt=models.F("score_max"),
                ),
                name="prompt_profile_scale_fits_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def spec(self) -> ProfileSpec:
        return ProfileSpec(
            name=self.name,
            kind=self.kind,
            template=self.template,
            title=self.title,
            system=self.system,
            score_min=self.score_min,
            score_max=self.score_max,
            score_step=self.score_step,
            allow_tie=self.allow_tie,
            reader=self.reader,
            verdict_pattern=self.verdict_pattern,
            value_map=dict(self.value_map or {}),
            verdict_line=self.verdict_line,
        )
