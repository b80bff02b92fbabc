"""Training export pages (administrators only): a form, a page with live progress, and the downloads."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from annotations.forms import ExportForm
from annotations.models import TrainingExport
from annotations.permissions import admin_required
from annotations.services.exports import export_data_file, export_file, export_zip_chunks, training_export_queue


@admin_required
@require_http_methods(["GET", "POST"])
def export_new(request: HttpRequest) -> HttpResponse:
    form = ExportForm(request.POST or None, initial={"dataset": request.GET.get("dataset")})
    if request.method == "POST" and form.is_valid():
        merge = form.cleaned_data["merge_with"]
        try:
            export = training_export_queue(
                dataset=form.cleaned_data["dataset"],
                fmt=form.cleaned_data["format"],
                user=request.user,
                include_agreements=form.cleaned_data["include_agreements"],
                checkpoint=form.cleaned_data["checkpoint"],
                merge_with=str(export_data_file(export=merge)) if merge else "",
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("export-detail", pk=export.pk)
    status = 400 if form.is_bound else 200
    return render(request, "annotations/export_new.html", {"form": form}, status=status)


@admin_required
@require_GET
def export_detail(request: HttpRequest, pk: int) -> HttpResponse:
    exports = TrainingExport.objects.select_related("dataset", "source_checkpoint", "created_by")
    export = get_object_or_404(exports, pk=pk)
    template = "annotations/export_detail.html"
    if request.htmx:  # type: ignore[attr-defined]
        template += "#export-status"
    return render(request, template, {"export": export})


@admin_required
@require_GET
def export_download(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The whole snapshot as a zip (data file, images, manifest), streamed."""
    export = get_object_or_404(TrainingExport, pk=pk, status="done")
    response = StreamingHttpResponse(export_zip_chunks(export=export), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="export-{export.number}.zip"'
    return response


@admin_required
@require_GET
def export_file_download(request: HttpRequest, pk: int, name: str) -> FileResponse:
    """One file of the snapshot: the data file or the manifest."""
    export = get_object_or_404(TrainingExport, pk=pk)
    try:
        path = export_file(export=export, name=name)
    except ValueError as exc:
        raise Http404(str(exc)) from None
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"export-{export.number}-{name}")
