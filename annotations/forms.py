"""Forms parse and shape input; the services decide what is allowed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from annotations.importers.fields import MAX_IMAGES
from annotations.importers.formats import FORMATS
from annotations.models import CriticCheckpoint, Dataset, Split, TrainingExport
from annotations.services.images import CheckedImage, image_check
from annotations.services.items import MAX_NAME_CHARS
from critic_worker.profiles import Kind as ProfileKind
from critic_worker.profiles import profile_catalogue

EXPORT_FORMATS = [
    (TrainingExport.Format.LLAVA_CRITIC_PARQUET, "llava-critic-113k parquet (conversations with embedded images)"),
    (TrainingExport.Format.LLAVA_JSON, "LLaVA JSON (a list of conversations and an images folder)"),
    (TrainingExport.Format.DPO_JSONL, "DPO JSONL (chosen and rejected verdicts)"),
]
assert {value for value, _ in EXPORT_FORMATS} == set(TrainingExport.Format.values)


def profile_choices(*, kind: ProfileKind | None = None, default: str = "") -> list[tuple[str, str]]:
    """Every profile (built-in and defined, read when the form is made), with "" for the default if it has one."""
    choices = [(name, f"{name}: {title}") for name, title in profile_catalogue(kind)]
    return [("", default), *choices] if default else choices


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImagesField(forms.FileField):
    """Several files from one input, in the order the browser sends them (Django's documented recipe)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(MultipleImagesField, self).clean(f, initial) for f in files]


def _checked_upload(upload: Any, *, which: str = "") -> CheckedImage:
    if upload.size > settings.IMAGE_MAX_BYTES:  # refused before a byte is read
        raise ValidationError(
            f"{which}The image is {upload.size / 1024 / 1024:.1f} MB; "
            f"the limit is {settings.IMAGE_MAX_BYTES / 1024 / 1024:.1f} MB."
        )
    try:
        return image_check(data=upload.read())
    except ValidationError as exc:
        raise ValidationError([f"{which}{m}" for m in exc.messages]) from None


class ItemUploadForm(forms.Form):
    image = forms.FileField(help_text="JPEG, PNG, WebP, GIF, BMP or TIFF.")
    more_images = MultipleImagesField(
        label="More pictures",
        required=False,
        help_text=f"For an item with several images: its second, third, ... (at most {MAX_IMAGES} in all), in the "
        "order chosen. The critic is given them all, in this order, after the first.",
    )
    question = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    response_a = forms.CharField(label="Response", widget=forms.Textarea(attrs={"rows": 5}))
    model_a = forms.CharField(label="Model that wrote it", required=False, max_length=MAX_NAME_CHARS)
    response_b = forms.CharField(
        label="Second response",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Leave empty to judge one response (pointwise); fill it to compare two (pairwise).",
    )
    model_b = forms.CharField(label="Model that wrote the second", required=False, max_length=MAX_NAME_CHARS)
    reference = forms.CharField(label="Reference answer", required=False, widget=forms.Textarea(attrs={"rows": 2}))
    external_id = forms.CharField(
        label="Item id",
        required=False,
        max_length=MAX_NAME_CHARS,
        help_text="Optional; made from the content if empty.",
    )
    profile = forms.ChoiceField(
        required=False,
        choices=lambda: profile_choices(default="Dataset default"),
    )
    split = forms.ChoiceField(required=False, choices=[("", "By the dataset's split policy"), *Split.choices])

    def __init__(self, *args: Any, gold: bool = True, **kwargs: Any) -> None:
        """gold: whether to offer the gold split (only administrators put items there; the service enforces it)."""
        super().__init__(*args, **kwargs)
        if not gold:
            field = self.fields["split"]
            field.choices = [c for c in field.choices if c[0] != Split.GOLD]  # type: ignore[attr-defined]

    def clean_image(self) -> CheckedImage:
        return _checked_upload(self.cleaned_data["image"])

    def clean_more_images(self) -> list[CheckedImage]:
        uploads = self.cleaned_data.get("more_images") or []
        if len(uploads) + 1 > MAX_IMAGES:
            raise ValidationError(f"An item holds at most {MAX_IMAGES} images ({len(uploads) + 1} given).")
        return [_checked_upload(u, which=f"Image {n}: ") for n, u in enumerate(uploads, start=2)]

    def item_fields(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["image_data"] = data.pop("image")
        return data


class DatasetForm(forms.ModelForm):
    class Meta:
        model = Dataset
        fields = [
            "name",
            "description",
            "pointwise_profile",
            "pairwise_profile",
            "review_overlap",
            "disagreement_threshold",
            "gold_fraction",
            "judge_new_items",
            "alt_test_epsilon",
            "target_interval_width",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "disagreement_threshold": "A human score and the critic's disagree when they differ by more than this "
            "fraction of the profile's score range: 0.1 is 10 points on 0-100, but on a 1-5 scale (a range of 4) any "
            "difference of a point; 0.25 lets one point on 1-5 pass, 0.1 one point on 0-10.",
        }

    pointwise_profile = forms.ChoiceField(
        choices=lambda: profile_choices(kind="pointwise"),
        initial="pointwise",
        help_text=Dataset._meta.get_field("pointwise_profile").help_text,
    )
    pairwise_profile = forms.ChoiceField(
        choices=lambda: profile_choices(kind="pairwise"),
        initial="pairwise",
        help_text=Dataset._meta.get_field("pairwise_profile").help_text,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target_interval_width"].required = False  # left empty: the model's default

    def clean_target_interval_width(self) -> float:
        value = self.cleaned_data.get("target_interval_width")
        default = Dataset._meta.get_field("target_interval_width").default
        return float(value) if value is not None else float(default)


class ImportForm(forms.Form):
    data_file = forms.FileField(
        label="Data file", help_text="JSONL, CSV, LLaVA JSON (.json) or llava-critic-113k parquet."
    )
    images_file = forms.FileField(
        label="Images (zip)",
        required=False,
        help_text="The images the file's paths point to, as a zip archive. Not needed for data: URIs or parquet.",
    )
    format = forms.ChoiceField(
        choices=[("auto", "Detect from the file name"), *((f, f) for f in FORMATS)], initial="auto"
    )
    profile = forms.ChoiceField(required=False, choices=lambda: profile_choices(default="Dataset default"))
    update = forms.BooleanField(
        required=False,
        help_text="Update items whose id exists instead of refusing them (administrators; an item that has verdicts "
        "keeps its content).",
    )
    judge = forms.CharField(
        required=False,
        max_length=200,
        label="Judge",
        help_text="The external judge (e.g. gpt-4o) of the verdicts in rows that name none (administrators; rows may "
        "also name theirs in a judge field). LLaVA JSON's default is llava-json-gpt, parquet's gpt-4o.",
    )
    whole_prompt = forms.BooleanField(
        required=False,
        label="Keep unrecognised critic prompts whole",
        help_text="LLaVA JSON and llava-critic-113k rows whose critic prompt is in a shape the importer does not "
        "recognise are refused; with this, each becomes an item whose question is the whole prompt, with its "
        "verdict.",
    )

    def __init__(self, *args: Any, admin: bool = True, **kwargs: Any) -> None:
        """admin: whether to offer updating items (only administrators may; the service enforces it)."""
        super().__init__(*args, **kwargs)
        if not admin:  # importing verdicts and updating items are for administrators
            del self.fields["update"]
            del self.fields["judge"]


class ExportForm(forms.Form):
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.all())
    format = forms.ChoiceField(choices=EXPORT_FORMATS)
    include_agreements = forms.BooleanField(
        required=False,
        help_text="Also items where people agreed with the critic (by default only disagreements are exported).",
    )
    checkpoint = forms.ModelChoiceField(
        queryset=CriticCheckpoint.objects.all(),
        required=False,
        empty_label="The active checkpoint",
        help_text="The critic whose verdicts the people corrected.",
    )
    merge_with = forms.ModelChoiceField(
        queryset=TrainingExport.objects.filter(status="done"),
        required=False,
        empty_label="Nothing: this export alone",
        help_text="A finished export of the same format to merge with; where both have an id, this export's row wins.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        merge = data.get("merge_with")
        if merge is not None and merge.format != data.get("format"):
            self.add_error("merge_with", f"Export #{merge.number} is {merge.format}; merge only the same format.")
        return data
