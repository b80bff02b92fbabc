"""Bulk import: the whole file is checked before anything is written; on any problem nothing is imported and
the report names every problem by row and field (the first 100, then a count), and counts refused rows by reason.

Two passes over the file, each a stream, so memory stays flat as the file grows: the first checks every row
and every image (each distinct image decoded once; new ones are stored as content-addressed files, removed
again if the import does not happen), the second writes items, human labels and external verdicts in chunks,
in one transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction

from annotations.importers.formats import FORMATS, Row, count_rows, detect_format, read_rows
from annotations.importers.images import ImageRefError, ImageSource, data_uri_bytes, image_source, is_data_uri
from annotations.models import Dataset, Image, Item
from annotations.permissions import acts_as_admin
from annotations.selectors.metrics import metrics_forget
from annotations.services import import_rights
from annotations.services.images import image_check, image_discard_files, image_unsaved
from annotations.services.import_report import ImportReport, Problem
from annotations.services.import_verdicts import (
    judge_checkpoints,
    judge_names_check,
    judges_check,
    labels_check,
    whole_prompt_settle,
)
from annotations.services.import_write import CHUNK, WriteTarget, reviewers_ensure, rows_write
from annotations.services.items import item_default_external_id, item_shape
from annotations.services.judging import verdicts_queue_new_items
from critic_worker.profiles import get_profile

__all__ = ["ImportReport", "Problem", "items_import"]
Progress = Callable[[str, int, int], None]
# The judge a conversation's gpt turn is credited to when the import names none.
RACED = (
    "Another upload, import or profile change came in meanwhile (after this file was checked, before its items were "
    "written: some of its ids added, or a profile it names changed or deleted); nothing was imported. Import the file "
    "again: what is in the way is then named."
)
DEFAULT_JUDGES = {"llava-critic-parquet": "gpt-4o", "llava-json": "llava-json-gpt"}


@dataclass
class _Image:
    sha256: str
    unsaved: Image | None = None  # files written by this import, row not saved yet


@dataclass
class _Plan:
    """What the checking pass learnt, for the writing pass: small, whatever the number of rows."""

    images: dict[str, _Image] = field(default_factory=dict)  # by path or by sha of inline bytes
    first_seen: dict[str, int] = field(default_factory=dict)  # item id -> the row that has it
    existing_ids: set[str] = field(default_factory=set)
    reviewers: set[str] = field(default_factory=set)
    judges: dict[str, int] = field(default_factory=dict)  # judge name -> the first row naming it


@dataclass(frozen=True)
class _Options:
    """How the file is read and written, as the request gave it."""

    path: Path
    fmt: str
    profile: str  # for rows that name none ("" = the dataset's default for the kind)
    judge: str  # for judge verdicts that name none
    update: bool
    whole_prompt: bool
    created_by: User | None


def items_import(
    *,
    dataset: Dataset,
    path: Path,
    fmt: str = "auto",
    images: Path | None = None,
    profile: str = "",
    judge: str = "",
    update: bool = False,
    whole_prompt: bool = False,
    created_by: User | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a file of items into the dataset, all or nothing. Raises ValidationError for a bad request
    (unknown format, unreadable archive, an import `created_by` may not make: services/import_rights.py); problems
    in the data come back in the report. created_by None: a shell command's operator, with an administrator's
    rights.

    `judge` names the judge of verdicts that name none (default for LLaVA JSON `llava-json-gpt`, for
    llava-critic-113k parquet `gpt-4o`); `whole_prompt` keeps critic rows whose prompt cannot be split as
    whole-prompt items instead of refusing them."""
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise ValidationError(f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)} or auto.")
    if profile:
        try:
            get_profile(profile)
        except KeyError as exc:
            raise ValidationError(str(exc.args[0])) from None
    options = _Options(
        path=path,
        fmt=fmt,
        profile=profile,
        judge=judge.strip() or DEFAULT_JUDGES.get(fmt, ""),
        update=update,
        whole_prompt=whole_prompt,
        created_by=created_by,
    )
    try:
        import_rights.import_request_check(user=created_by, update=update, judge=options.judge)
    except PermissionDenied as exc:
        raise ValidationError(str(exc)) from None
    admin = acts_as_admin(created_by)
    try:
        source = image_source(images)
    except ImageRefError as exc:
        raise ValidationError(str(exc)) from None
    total = count_rows(path, fmt)
    report, plan = ImportReport(), _Plan()
    tick = progress or (lambda stage, done, of: None)
    try:
        for row in _rows(options):
            report.rows += 1
            _check(row, dataset=dataset, options=options, source=source, plan=plan, report=report)
            import_rights.row_rights_check(row, admin=admin, report=report)
            if report.rows % 500 == 0:
                tick("checking", report.rows, total)
        if report.rows == 0 and report.ok:
            report.add(0, "file", "has no rows: nothing to import")
        _drop_already_stored(plan)
        _check_existing(dataset, plan, report, update)
        judge_names_check(names=plan.judges, report=report)
        if update and plan.existing_ids and report.ok:
            import_rights.locked_content_check(
                rows=_checked_rows(options, plan),
                dataset=dataset,
                existing=plan.existing_ids,
                profile=options.profile,
                first_seen=plan.first_seen,
                report=report,
            )
        tick("checking", report.rows, total)
        if report.ok:
            try:
                with transaction.atomic():
                    _write(dataset, plan, report, options, tick, total)
            except IntegrityError as exc:  # another upload or import wrote one of these ids after they were checked
                raise ValidationError(RACED) from exc
            _refresh_statistics(report)
            metrics_forget(dataset=dataset)  # an update can change labels and splits in place
            queued = verdicts_queue_new_items(dataset=dataset)
            if queued is not None:
                report.queued, report.queued_for = queued.queued, queued.checkpoint.name
    except BaseException:
        _discard(plan)
        raise
    finally:
        source.close()
    if not report.ok:
        _discard(plan)
    return report


def _rows(options: _Options) -> Iterator[Row]:
    """The file's rows, a whole-prompt row settled on the profile that reads its verdict (the same in both passes)."""
    for row in read_rows(options.path, options.fmt, whole_prompt=options.whole_prompt):
        whole_prompt_settle(row)
        yield row


def _drop_already_stored(plan: _Plan) -> None:
    """Images the database already has keep their stored file: this import's copy goes."""
    new = [key for key, entry in plan.images.items() if key == entry.sha256 and entry.unsaved is not None]
    for start in range(0, len(new), 5000):
        for sha in Image.objects.filter(sha256__in=new[start : start + 5000]).values_list("sha256", flat=True):
            entry = plan.images[sha]
            if entry.unsaved is not None:
                image_discard_files(image=entry.unsaved)
                entry.unsaved = None


def _refresh_statistics(report: ImportReport) -> None:
    """After a large import, let PostgreSQL see the new rows at once: with its old statistics it plans the review
    desk's next-item query as a scan of the whole dataset (measured: 30 ms instead of 2) until autovacuum runs."""
    if report.created + report.updated >= 1000 and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Item._meta.db_table}")


def _discard(plan: _Plan) -> None:
    for entry in plan.images.values():
        if entry.unsaved is not None:
            image_discard_files(image=entry.unsaved)
            entry.unsaved = None


def _image_keys(row: Row) -> list[tuple[str, bytes | None]]:
    """How a row's images are known before their bytes are read, in order: a path, or the bytes a row carries."""
    keys: list[tuple[str, bytes | None]] = []
    if row.image_bytes is not None:
        keys.append(("", row.image_bytes))
    for ref in [r for r in (row.image_ref, *row.more_image_refs) if r]:
        keys.append(("", data_uri_bytes(ref)) if is_data_uri(ref) else (ref, None))
    return keys


def _resolve_image(ref: str, inline: bytes | None, source: ImageSource, plan: _Plan) -> str:
    """The sha256 of one image, checking and storing it the first time it is seen."""
    if ref and ref in plan.images:
        return plan.images[ref].sha256
    data = inline if inline is not None else source.read(ref)
    sha = hashlib.sha256(data).hexdigest()
    if sha not in plan.images:
        # Checked and written now; whether the database has it already is asked once for all, after the pass.
        plan.images[sha] = _Image(sha256=sha, unsaved=image_unsaved(checked=image_check(data=data)))
    if ref:
        plan.images[ref] = plan.images[sha]
    return sha


def _resolve_images(row: Row, source: ImageSource, plan: _Plan) -> list[str]:
    """The sha256 of each of the row's images, in order. ImageRefError or ValidationError naming the image (its
    place in the list when there are several)."""
    keys = _image_keys(row)
    shas = []
    for n, (ref, inline) in enumerate(keys, start=1):
        where = f"image {n} of {len(keys)}: " if len(keys) > 1 else ""
        try:
            shas.append(_resolve_image(ref, inline, source, plan))
        except ImageRefError as exc:
            raise ImageRefError(f"{where}{exc}") from None
        except ValidationError as exc:
            raise ValidationError(f"{where}{' '.join(exc.messages)}") from None
    return shas


def _row_id(row: Row, shas: list[str]) -> str:
    # One image: its sha256, as ids were always made; several: all of them, in order.
    return row.external_id.strip() or item_default_external_id(
        image_sha256=",".join(shas), question=row.question, response_a=row.response_a, response_b=row.response_b
    )


def _check(
    row: Row, *, dataset: Dataset, options: _Options, source: ImageSource, plan: _Plan, report: ImportReport
) -> None:
    for field_name, message in row.problems:
        report.add(row.number, field_name, message)
    for name in row.unknown_fields:
        report.count_ignored(name)
    if row.refused:
        report.count_refused(row.refused)
        return
    if any(f in {"line", "row", "file", "header"} for f, _ in row.problems):
        return
    shape = item_shape(
        dataset=dataset,
        question=row.question,
        response_a=row.response_a,
        response_b=row.response_b,
        model_a=row.model_a,
        model_b=row.model_b,
        reference=row.reference,
        external_id=row.external_id,
        profile=row.profile or options.profile,
        split=row.split,
    )
    for field_name, messages in shape.problems.items():
        for message in messages:
            report.add(row.number, field_name, message)
    if not row.image_ref and row.image_bytes is None:
        if not any(f in {"image", "images"} for f, _ in row.problems):  # else the reader said what is wrong
            report.add(row.number, "image", "is required")
    else:
        try:
            row_id = _row_id(row, _resolve_images(row, source, plan))
        except ImageRefError as exc:
            report.add(row.number, "image", str(exc))
        except ValidationError as exc:
            report.add(row.number, "image", " ".join(exc.messages))
        else:
            if row_id in plan.first_seen:
                report.add(row.number, "id", f"{row_id!r} is also the id of row {plan.first_seen[row_id]}")
            else:
                plan.first_seen[row_id] = row.number
    spec = get_profile(shape.profile) if "profile" not in shape.problems else None
    labels_check(row, spec=spec, report=report, reviewers=plan.reviewers)
    judges_check(row, spec=spec, report=report, default=options.judge, names=plan.judges)


def _check_existing(dataset: Dataset, plan: _Plan, report: ImportReport, update: bool) -> None:
    """Ids already in the dataset are problems, unless updating."""
    ids = list(plan.first_seen)
    for start in range(0, len(ids), 5000):
        found = Item.objects.filter(dataset=dataset, external_id__in=ids[start : start + 5000])
        plan.existing_ids.update(found.values_list("external_id", flat=True))
    if not update:
        for row_id in sorted(plan.existing_ids, key=plan.first_seen.__getitem__):
            report.add(plan.first_seen[row_id], "id", f"dataset {dataset.name!r} already has {row_id!r} (--update)")


def _checked_rows(options: _Options, plan: _Plan) -> Iterator[tuple[Row, str, list[str]]]:
    """The file's rows again, once checked: each with its item id and its images' sha256, in order."""
    for row in _rows(options):
        shas = [
            plan.images[ref].sha256 if ref else hashlib.sha256(inline or b"").hexdigest()
            for ref, inline in _image_keys(row)
        ]
        yield row, _row_id(row, shas), shas


def _write(dataset: Dataset, plan: _Plan, report: ImportReport, options: _Options, tick: Progress, total: int) -> None:
    new_images = [e.unsaved for key, e in plan.images.items() if e.unsaved is not None and key == e.sha256]
    # Another import may store the same new picture at the same moment: the picture is the same, so either row does.
    Image.objects.bulk_create(new_images, batch_size=CHUNK, ignore_conflicts=True)
    report.images_new = len(new_images)
    shas = {e.sha256 for e in plan.images.values()}
    report.images_known = len(shas) - len(new_images)
    for entry in plan.images.values():
        entry.unsaved = None  # saved: no longer this import's to discard
    image_ids: dict[str, int] = {}
    sha_list = list(shas)
    for start in range(0, len(sha_list), 5000):
        image_ids.update(Image.objects.filter(sha256__in=sha_list[start : start + 5000]).values_list("sha256", "pk"))
    rows_write(
        rows=_checked_rows(options, plan),
        target=WriteTarget(
            dataset=dataset,
            image_ids=image_ids,
            reviewers=reviewers_ensure(names=plan.reviewers, report=report),
            checkpoints=judge_checkpoints(set(plan.judges)),
            existing=plan.existing_ids if options.update else set(),
            profile=options.profile,
            judge=options.judge,
            created_by=options.created_by,
            report=report,
        ),
        tick=tick,
        total=total,
    )
