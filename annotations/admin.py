from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from annotations.models import (
    ApiToken,
    CriticCheckpoint,
    CriticVerdict,
    Dataset,
    HumanVerdict,
    Image,
    ImportJob,
    Item,
    RetrainingJob,
    TrainingExport,
)
from annotations.services.exports import training_export_queue
from annotations.services.retraining import checkpoint_activate
from annotations.services.review import dataset_overlap_apply


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


@admin.register(Image)
class ImageAdmin(MadeByTheApp, admin.ModelAdmin):
    list_display = ["preview", "sha256", "format", "width", "height", "size_bytes", "created_at"]
    list_filter = ["format"]
    search_fields = ["sha256"]
    readonly_fields = ["sha256", "file", "thumbnail", "width", "height", "format", "size_bytes", "created_at"]

    @admin.display(description="image")
    def preview(self, obj: Image) -> str:
        url = reverse("image-thumbnail", args=[obj.sha256])
        return format_html('<img src="{}" alt="" height="48">', url)


@admin.register(Item)
class ItemAdmin(MadeByTheApp, admin.ModelAdmin):
    list_display = ["external_id", "dataset", "kind", "profile", "model_a", "model_b", "split", "created_at"]
    list_filter = ["dataset", "kind", "profile", "split"]
    search_fields = ["external_id", "question", "model_a", "model_b"]
    list_select_related = ["dataset"]
    raw_id_fields = ["image"]
    readonly_fields = ["created_at", "created_by"]


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


@admin.register(HumanVerdict)
class HumanVerdictAdmin(MadeByTheApp, admin.ModelAdmin):
    list_display = ["item", "reviewer", "score", "preference", "revised_score", "revised_preference", "source"]
    list_filter = ["source", "profile", "justification_flagged", "reviewer"]
    search_fields = ["item__external_id", "reviewer__username", "rationale"]
    list_select_related = ["item__dataset", "reviewer"]
    raw_id_fields = ["item"]


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


@admin.register(ApiToken)
class ApiTokenAdmin(MadeByTheApp, admin.ModelAdmin):
    list_display = ["user", "name", "prefix", "created_at", "last_used_at"]
    search_fields = ["user__username", "name", "prefix"]
    readonly_fields = ["key_sha256", "prefix", "created_at", "last_used_at"]
