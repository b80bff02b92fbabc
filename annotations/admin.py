from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from annotations.importers.fields import context_problems
from annotations.models import (
    ApiToken,
    CriticCheckpoint,
    CriticVerdict,
    Dataset,
    HumanVerdict,
    Image,
    ImportJob,
    Item,
    ItemImage,
    Kind,
    PromptProfile,
    RetrainingJob,
    TrainingExport,
    VerdictReread,
    VerdictRereadChange,
)
from annotations.selectors.profiles import profile_uses
from annotations.services.exports import training_export_queue
from annotations.services.import_rights import CONTENT_FIELDS, item_content_locked
from annotations.services.items import item_shape
from annotations.services.profiles import FIELDS as PROFILE_FIELDS
from annotations.services.profiles import prompt_profile_check
from annotations.services.rereading import RereadReport, verdicts_reread
from annotations.services.retraining import checkpoint_activate
from annotations.services.review import dataset_overlap_apply, human_verdicts_delete
from annotations.services.verdict_summary import critic_disagreement_refresh


class MadeByTheApp:
    """Rows only the app creates (through its services: uploads, imports, the desk, the worker, exports, tokens):
    the admin shows and, where safe, changes them, but has no add form, whose rows would skip those services."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "pointwise_profile", "pairwise_profile", "review_overlap", "gold_fraction", "created_at"]
    list_filter = ["pointwise_profile", "pairwise_profile"]
    search_fields = ["name", "description"]
    readonly_fields = ["created_at", "created_by"]
    actions = ["export_llava_critic_parquet", "export_llava_json", "export_dpo_jsonl"]

    def _export(self, request: HttpRequest, queryset: QuerySet[Dataset], fmt: str) -> None:
        """Queue one export (disagreements, active checkpoint) per selected dataset; link to each export's page."""
        for dataset in queryset:
            try:
                export = training_export_queue(dataset=dataset, fmt=fmt, user=request.user)
            except ValidationError as exc:
                self.message_user(request, f"{dataset.name}: {' '.join(exc.messages)}", messages.ERROR)
                continue
            url = reverse("export-detail", args=[export.pk])
            self.message_user(
                request, format_html('Export <a href="{}">#{}</a> of {} queued.', url, export.number, dataset.name)
            )

    @admin.action(description="Export disagreements as llava-critic-parquet")
    def export_llava_critic_parquet(self, request: HttpRequest, queryset: QuerySet[Dataset]) -> None:
        self._export(request, queryset, "llava-critic-parquet")

    @admin.action(description="Export disagreements as llava-json")
    def export_llava_json(self, request: HttpRequest, queryset: QuerySet[Dataset]) -> None:
        self._export(request, queryset, "llava-json")

    @admin.action(description="Export disagreements as dpo-jsonl")
    def export_dpo_jsonl(self, request: HttpRequest, queryset: QuerySet[Dataset]) -> None:
        self._export(request, queryset, "dpo-jsonl")

    def save_model(self, request: HttpRequest, obj: Dataset, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "review_overlap" in form.changed_data:
            dataset_overlap_apply(dataset=obj)
        if change and "disagreement_threshold" in form.changed_data:
            critic_disagreement_refresh(dataset=obj)


@admin.register(Image)
class ImageAdmin(MadeByTheApp, admin.ModelAdmin):
    list_display = ["preview", "sha256", "format", "width", "height", "size_bytes", "created_at"]
    list_filter = ["format"]
    search_fields = ["sha256"]
    readonly_fields = ["sha256", "file", "normalized", "normalized_sha256", "normalization_note", "thumbnail"]
    readonly_fields += ["width", "height", "format", "size_bytes", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # images come with items (upload, import): checked, normalised and stored by the app

    @admin.display(description="image")
    def preview(self, obj: Image) -> str:
        url = reverse("image-thumbnail", args=[obj.sha256])
        return format_html('<img src="{}" alt="" height="48">', url)


class ItemImageInline(admin.TabularInline):
    """The item's images after its first, in order: shown, not edited (they come with uploads and imports)."""

    model = ItemImage
    fields = ["position", "image", "preview"]
    readonly_fields = ["position", "image", "preview"]
    extra = 0
    can_delete = False
    verbose_name_plural = "more images (the first is the item's image)"

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="preview")
    def preview(self, obj: ItemImage) -> str:
        return format_html('<img src="{}" alt="" height="48">', reverse("image-thumbnail", args=[obj.image.sha256]))


class ItemAdminForm(forms.ModelForm):
    """An item's change, checked as uploads and imports check an item (services.items.item_shape, the importers'
    context rule), each problem on its field: the database refuses a profile it does not know or of the other kind
    (a server error), and a context that is not a list of turns broke every page and prompt that read it."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        item = self.instance

        def value(name: str) -> Any:  # a locked item's content fields are read-only: not in the form
            return cleaned[name] if name in cleaned else getattr(item, name)

        texts = ("question", "response_a", "response_b", "model_a", "model_b", "reference", "external_id")
        shape = item_shape(
            dataset=value("dataset"), profile=value("profile"), split=value("split"), **{n: value(n) for n in texts}
        )
        problems = dict(shape.problems)
        if value("kind") != shape.kind:
            responses = "two responses" if shape.kind == Kind.PAIRWISE else "one response"
            problems.setdefault("kind", []).append(f"An item with {responses} is {shape.kind}.")
        if context := context_problems(value("context")):
            problems["context"] = context
        if problems:
            raise ValidationError({n if n in self.fields else NON_FIELD_ERRORS: p for n, p in problems.items()})
        return cleaned


@admin.register(Item)
class ItemAdmin(MadeByTheApp, admin.ModelAdmin):
    form = ItemAdminForm
    inlines = [ItemImageInline]
    list_display = ["external_id", "dataset", "kind", "profile", "model_a", "model_b", "split", "created_at"]
    list_filter = ["dataset", "kind", "profile", "split"]
    search_fields = ["external_id", "question", "model_a", "model_b"]
    list_select_related = ["dataset"]
    raw_id_fields = ["image"]
    readonly_fields = ["created_at", "created_by"]

    def get_readonly_fields(self, request: HttpRequest, obj: Item | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:  # an item never moves: its verdicts, slots and metrics belong to its dataset
            fields.append("dataset")
        if obj is not None and item_content_locked(item=obj):  # verdicts were given on what it shows
            fields += CONTENT_FIELDS
        return fields


@admin.register(CriticCheckpoint)
class CriticCheckpointAdmin(admin.ModelAdmin):
    list_display = ["name", "model", "quantization", "is_active", "is_external", "is_demo", "parent", "created_at"]
    list_filter = ["is_active", "is_external", "is_demo", "quantization"]
    search_fields = ["name", "model"]
    readonly_fields = ["is_active"]  # changed by the action below (or a retraining job's promotion), never by a tick
    actions = ["make_active"]

    @admin.action(description="Make the active checkpoint (new judging and reviews use it)")
    def make_active(self, request: HttpRequest, queryset: QuerySet[CriticCheckpoint]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one checkpoint to make active.", messages.ERROR)
            return
        checkpoint = queryset.get()
        try:
            checkpoint_activate(checkpoint=checkpoint)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        self.message_user(request, f"{checkpoint.name} is now the active checkpoint.", messages.SUCCESS)


@admin.register(CriticVerdict)
class CriticVerdictAdmin(MadeByTheApp, admin.ModelAdmin):
    list_display = ["item", "checkpoint", "status", "score", "preference", "confidence", "forced", "latency_ms"]
    list_filter = ["status", "checkpoint", "profile", "forced"]
    search_fields = ["item__external_id", "justification", "error"]
    list_select_related = ["item__dataset", "checkpoint"]
    raw_id_fields = ["item"]
    actions = ["reread_report", "reread_apply"]

    def has_change_permission(self, request, obj=None):
        return False  # what the critic said is a record: the re-read actions change it, and record that they did

    def _reread(self, request: HttpRequest, queryset: QuerySet[CriticVerdict], *, apply: bool) -> None:
        report: RereadReport = verdicts_reread(
            verdicts=queryset, apply=apply, user=request.user, scope=f"admin selection of {queryset.count()}"
        )
        t = report.totals()
        done = f"Applied as re-read #{report.run.pk}" if report.run else "Would change (nothing written)"
        groups = "; ".join(
            f"{profile} / {checkpoint}: {c['changed']} changed, {c['unreadable']} unreadable, {c['readable']} readable"
            for (profile, checkpoint), c in sorted(report.by_group.items())
        )
        self.message_user(
            request,
            f"Re-read {report.examined} verdicts. {done}: {t['changed']} read as another value, {t['unreadable']} "
            f"now unreadable, {t['readable']} newly readable." + (f" {groups}." if groups else ""),
            messages.SUCCESS if apply else messages.INFO,
        )

    @admin.action(description="Re-read raw outputs with the current reader (report only)")
    def reread_report(self, request: HttpRequest, queryset: QuerySet[CriticVerdict]) -> None:
        self._reread(request, queryset, apply=False)

    @admin.action(description="Re-read raw outputs with the current reader and apply the changes")
    def reread_apply(self, request: HttpRequest, queryset: QuerySet[CriticVerdict]) -> None:
        self._reread(request, queryset, apply=True)


class VerdictRereadChangeInline(admin.TabularInline):
    model = VerdictRereadChange
    fields = ["verdict", "change", "previous", "current", "reason"]
    readonly_fields = ["verdict", "change", "previous", "current", "reason"]
    raw_id_fields = ["verdict"]
    extra = 0
    can_delete = False


@admin.register(VerdictReread)
class VerdictRereadAdmin(admin.ModelAdmin):
    list_display = [
        "id", "created_at", "created_by", "scope", "examined", "changed", "now_unreadable", "newly_readable"
    ]  # fmt: skip
    readonly_fields = [f.name for f in VerdictReread._meta.fields]
    inlines = [VerdictRereadChangeInline]

    def has_add_permission(self, request):
        return False  # made by the re-read action or manage.py reread_verdicts --apply

    def has_change_permission(self, request, obj=None):
        return False  # a record of what changed, never edited


class PromptProfileForm(forms.ModelForm):
    """The profile's fields, checked as the API checks them (critic_worker.profile_specs), each error on its field."""

    class Meta:
        model = PromptProfile
        fields = PROFILE_FIELDS

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors:
            values = {name: cleaned.get(name) for name in PROFILE_FIELDS}
            values["value_map"] = values["value_map"] or {}
            try:
                prompt_profile_check(fields=values, instance=self.instance if self.instance.pk else None)
            except ValidationError as exc:
                raise ValidationError(
                    {k if k in PROFILE_FIELDS else NON_FIELD_ERRORS: v for k, v in exc.message_dict.items()}
                ) from None
        return cleaned


@admin.register(PromptProfile)
class PromptProfileAdmin(admin.ModelAdmin):
    form = PromptProfileForm
    list_display = [
        "name",
        "kind",
        "title",
        "score_min",
        "score_max",
        "score_step",
        "allow_tie",
        "reader",
        "created_at",
    ]
    list_filter = ["kind", "reader"]
    search_fields = ["name", "title"]

    def save_model(self, request: HttpRequest, obj: PromptProfile, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request: HttpRequest, obj: PromptProfile | None = None) -> bool:
        """A profile in use is never deleted (the database refuses it too); the bulk action is off for the same
        reason: the admin's confirmation page cannot see what names a profile."""
        if obj is not None and any(profile_uses(name=obj.name).values()):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(HumanVerdict)
class HumanVerdictAdmin(MadeByTheApp, admin.ModelAdmin):
    list_display = ["item", "reviewer", "score", "preference", "revised_score", "revised_preference", "source"]
    list_filter = ["source", "profile", "justification_flagged", "reviewer"]
    search_fields = ["item__external_id", "reviewer__username", "rationale"]
    list_select_related = ["item__dataset", "reviewer"]
    raw_id_fields = ["item"]

    def has_change_permission(self, request, obj=None):
        return False  # a blind verdict never changes (its revision is kept beside it); delete a wrong one

    def delete_model(self, request: HttpRequest, obj: HumanVerdict) -> None:
        human_verdicts_delete(verdicts=HumanVerdict.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[HumanVerdict]) -> None:
        human_verdicts_delete(verdicts=queryset)


@admin.register(TrainingExport)
class TrainingExportAdmin(MadeByTheApp, admin.ModelAdmin):
    list_display = ["number", "dataset", "format", "source_checkpoint", "status", "created_at"]
    list_filter = ["format", "dataset", "status"]

    def has_change_permission(self, request, obj=None):
        return False  # exports are immutable snapshots


@admin.register(RetrainingJob)
class RetrainingJobAdmin(MadeByTheApp, admin.ModelAdmin):  # started with "Retrain" or retrain_critic
    list_display = ["id", "base", "export", "status", "progress", "child", "gate_passed", "promoted_by", "created_at"]
    list_filter = ["status", "gate_passed"]

    def has_change_permission(self, request, obj=None):
        return False  # the gate's result and a promotion's override are records, not settings


@admin.register(ImportJob)
class ImportJobAdmin(MadeByTheApp, admin.ModelAdmin):
    list_display = ["id", "dataset", "created_by", "status", "rows_done", "rows_total", "created_at"]
    list_filter = ["status", "dataset"]
    readonly_fields = [f.name for f in ImportJob._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # started by an upload on a dataset's import page or the API


@admin.register(ApiToken)
class ApiTokenAdmin(MadeByTheApp, admin.ModelAdmin):
    list_display = ["user", "name", "prefix", "created_at", "last_used_at"]
    search_fields = ["user__username", "name", "prefix"]
    readonly_fields = ["key_sha256", "prefix", "created_at", "last_used_at"]
