"""The retraining form: which checkpoint to fine-tune and how, with the defaults a run uses when not told."""

from __future__ import annotations

from typing import Any

from django import forms

from annotations.models import CriticCheckpoint
from annotations.services.retraining import DEFAULT_OPTIONS


class RetrainForm(forms.Form):
    base = forms.ModelChoiceField(
        queryset=CriticCheckpoint.objects.filter(is_external=False).order_by("name"),
        label="Base checkpoint",
        help_text="The checkpoint fine-tuned with LoRA; its child is registered beside it, not activated.",
    )
    epochs = forms.IntegerField(min_value=1, max_value=100, initial=DEFAULT_OPTIONS["epochs"])
    learning_rate = forms.FloatField(
        min_value=1e-9, max_value=1.0, initial=DEFAULT_OPTIONS["learning_rate"], help_text="AdamW."
    )
    lora_rank = forms.IntegerField(
        label="LoRA rank r", min_value=1, max_value=1024, initial=DEFAULT_OPTIONS["lora_rank"]
    )
    max_steps = forms.IntegerField(
        label="Max steps", min_value=1, required=False, help_text="Stop earlier than the epochs would; empty: no limit."
    )
    batch_size = forms.IntegerField(
        label="Rows per step", min_value=1, max_value=1024, initial=DEFAULT_OPTIONS["batch_size"]
    )
    merge = forms.BooleanField(
        required=False, label="Also save full weights with the adapter merged (loadable without peft)"
    )

    def options(self) -> dict[str, Any]:
        """The job's training options (annotations.services.retraining.OPTION_TYPES), as cleaned."""
        return {key: value for key, value in self.cleaned_data.items() if key != "base" and value is not None}

    def summary(self) -> list[tuple[str, Any]]:
        """(label, value) of each option, for the confirmation."""
        return [
            (str(self.fields[key].label or key.replace("_", " ").capitalize()), v) for key, v in self.options().items()
        ]
