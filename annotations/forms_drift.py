"""The drift audit form on a checkpoint's page: which dataset to sample, how many items, which quantizations."""

from __future__ import annotations

from django import forms

from annotations.models import Dataset
from annotations.services.drift import DEFAULT_SAMPLE, MAX_SAMPLE, QUANTIZATIONS


class DriftAuditForm(forms.Form):
    dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.order_by("name"), help_text="The sample is drawn uniformly from its items."
    )
    sample = forms.IntegerField(
        label="Items",
        min_value=1,
        max_value=MAX_SAMPLE,
        initial=DEFAULT_SAMPLE,
        help_text="Each is judged once per quantization.",
    )
    quantizations = forms.MultipleChoiceField(
        choices=[(q, "none (full precision)" if q == "none" else q) for q in QUANTIZATIONS],
        initial=list(QUANTIZATIONS),
        widget=forms.CheckboxSelectMultiple,
        help_text="At least two; full precision is the reference when chosen.",
    )
    seed = forms.IntegerField(
        min_value=0, max_value=2**31 - 1, required=False, help_text="The same seed draws the same items; empty: random."
    )
