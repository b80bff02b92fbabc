"""Bulk import: the whole file is checked before anything is written; on any problem nothing is imported and
the report names every problem by row and field (the first 100, then a count).

Two passes over the file, each a stream, so memory stays flat as the file grows: the first checks every row
and every image (each distinct image decoded once; new ones are stored as content-addressed files, removed
again if the import does not happen), the second writes items, human labels and external verdicts in chunks,
in one transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction

from annotations.importers.formats import FORMATS, Row, count_rows, detect_format, read_rows
from annotations.importers.images import ImageRefError, ImageSource, data_uri_bytes, image_source, is_data_uri
from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, Image, Item, JobStatus, Kind
from annotations.permissions import acts_as_admin
from annotations.selectors.metrics import metrics_forget
from annotations.services import import_rights
from annotations.services.images import image_check, image_discard_files, image_unsaved
from annotations.services.items import item_default_external_id, item_shape, item_split_for
from critic_worker.profiles import PREFERENCES, get_profile

MAX_REPORTED = 100
CHUNK = 1000
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Problem:
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        return f"{where}, {self.field}: {self.message}"


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    images_new: int = 0
    images_known: int = 0
    labels: int = 0
    reviewers_created: int = 0
    judge_verdicts: int = 0
    judge_unreadable: int = 0
    desk_verdicts_kept: int = 0  # labels left out: the reviewer's desk verdict stands (services/import_rights.py)
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def add(self, row: int, field_name: str, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_REPORTED:
            self.problems.append(Problem(row, field_name, message))

    def summary(self) -> str:
        if not self.ok:
            more = self.problem_count - len(self.problems)
            return f"{self.problem_count} problems in {self.rows} rows; nothing was imported" + (
                f" (the first {len(self.problems)} are listed, {more} more)" if more else ""
            )
        return (
            f"{self.rows} rows: {self.created} items created, {self.updated} updated; images: {self.images_new} "
            f"new, {self.images_known} already stored; {self.labels} human labels; {self.judge_verdicts} "
            f"external verdicts ({self.judge_unreadable} unreadable)"
        ) + (f"; {self.desk_verdicts_kept} labels left out: desk verdicts stand" if self.desk_verdicts_kept else "")


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


def items_import(
    *,
    dataset: Dataset,
    path: Path,
    fmt: str = "auto",
    images: Path | None = None,
    profile: str = "",
    judge: str = "",
    update: bool = False,
    created_by: User | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a file of items into the dataset, all or nothing. Raises ValidationError for a bad request
    (unknown format, unreadable archive, an import `created_by` may not make: services/import_rights.py); problems
    in the data come back in the report. created_by None: a shell command's operator, with an administrator's rights."""
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise ValidationError(f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)} or auto.")
    if profile:
        try:
            get_profile(profile)
        except KeyError as exc:
            raise ValidationError(str(exc.args[0])) from None
    judge = judge or ("gpt-4o" if fmt == "llava-critic-parquet" else "llava-json-gpt" if fmt == "llava-json" else "")
    try:
        import_rights.import_request_check(user=created_by, update=update, judge=judge)
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
        for row in read_rows(path, fmt):
            report.rows += 1
            _check(row, dataset=dataset, default_profile=profile, source=source, plan=plan, report=report)
            import_rights.row_rights_check(row, admin=admin, report=report)
            if report.rows % 500 == 0:
                tick("checking", report.rows, total)
        _drop_already_stored(plan)
        _check_existing(dataset, plan, report, update)
        if update and plan.existing_ids and report.ok:
            rows = _checked_rows(path, fmt, plan)
            import_rights.locked_content_check(
                rows=rows, dataset=dataset, existing=plan.existing_ids, profile=profile, first_seen=plan.first_seen,
                report=report,
            )  # fmt: skip
        tick("checking", report.rows, total)
        if report.ok:
            with transaction.atomic():
                _write(path, fmt, dataset, plan, report, profile, judge, update, created_by, tick, total)
            _refresh_statistics(report)
            metrics_forget(dataset=dataset)  # an update can change labels and splits in place
    except BaseException:
        _discard(plan)
        raise
    finally:
        source.close()
    if not report.ok:
        _discard(plan)
    return report


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


def _image_key(row: Row) -> tuple[str, bytes | None]:
    """How a row's image is known before its bytes are read: its path, or the bytes it carries."""
    if row.image_bytes is not None:
        return "", row.image_bytes
    if is_data_uri(row.image_ref):
        return "", data_uri_bytes(row.image_ref)
    return row.image_ref, None


def _resolve_image(row: Row, source: ImageSource, plan: _Plan) -> str:
    """The sha256 of the row's image, checking and storing it the first time it is seen."""
    ref, inline = _image_key(row)
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


def _row_id(row: Row, sha: str) -> str:
    return row.external_id.strip() or item_default_external_id(
        image_sha256=sha, question=row.question, response_a=row.response_a, response_b=row.response_b
    )


def _check(
    row: Row, *, dataset: Dataset, default_profile: str, source: ImageSource, plan: _Plan, report: ImportReport
) -> None:
    for field_name, message in row.problems:
        report.add(row.number, field_name, message)
    if any(f in {"line", "row", "file"} for f, _ in row.problems):
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
        profile=row.profile or default_profile,
        split=row.split,
    )
    for field_name, messages in shape.problems.items():
        for message in messages:
            report.add(row.number, field_name, message)
    if not row.image_ref and row.image_bytes is None:
        report.add(row.number, "image", "is required")
    else:
        try:
            row_id = _row_id(row, _resolve_image(row, source, plan))
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
    for label in row.labels:
        plan.reviewers.add(label.reviewer)
        where = "human_labels"
        if len(label.reviewer) > 150:
            report.add(row.number, where, "a reviewer name is longer than 150 characters")
        if spec is None:
            continue
        if spec.is_pointwise:
            if label.score is None or label.preference is not None:
                report.add(row.number, where, f"{label.reviewer}: profile {spec.name} takes a score, not a preference")
            elif not spec.in_range(label.score):
                report.add(
                    row.number,
                    where,
                    f"{label.reviewer}: score {label.score:g} is outside {spec.score_min:g}-{spec.score_max:g}",
                )
        elif label.preference not in PREFERENCES or label.score is not None:
            report.add(row.number, where, f"{label.reviewer}: profile {spec.name} takes a preference A, B or tie")
    if len({label.reviewer for label in row.labels}) < len(row.labels):
        report.add(row.number, "human_labels", "one reviewer labels an item once")


def _check_existing(dataset: Dataset, plan: _Plan, report: ImportReport, update: bool) -> None:
    """Ids already in the dataset are problems, unless updating."""
    ids = list(plan.first_seen)
    for start in range(0, len(ids), 5000):
        found = Item.objects.filter(dataset=dataset, external_id__in=ids[start : start + 5000])
        plan.existing_ids.update(found.values_list("external_id", flat=True))
    if not update:
        for row_id in sorted(plan.existing_ids, key=plan.first_seen.__getitem__):
            report.add(plan.first_seen[row_id], "id", f"dataset {dataset.name!r} already has {row_id!r} (--update)")


def _checked_rows(path: Path, fmt: str, plan: _Plan) -> Iterator[tuple[Row, str, str]]:
    """The file's rows again, once checked: each with its item id and its image's sha256."""
    for row in read_rows(path, fmt):
        ref, inline = _image_key(row)
        sha = plan.images[ref].sha256 if ref else hashlib.sha256(inline or b"").hexdigest()
        yield row, _row_id(row, sha), sha


def _write(
    path: Path,
    fmt: str,
    dataset: Dataset,
    plan: _Plan,
    report: ImportReport,
    profile: str,
    judge: str,
    update: bool,
    created_by: User | None,
    tick: Progress,
    total: int,
) -> None:
    new_images = [e.unsaved for key, e in plan.images.items() if e.unsaved is not None and key == e.sha256]
    Image.objects.bulk_create(new_images, batch_size=CHUNK)
    report.images_new = len(new_images)
    shas = {e.sha256 for e in plan.images.values()}
    report.images_known = len(shas) - len(new_images)
    for entry in plan.images.values():
        entry.unsaved = None  # saved: no longer this import's to discard
    image_ids: dict[str, int] = {}
    sha_list = list(shas)
    for start in range(0, len(sha_list), 5000):
        image_ids.update(Image.objects.filter(sha256__in=sha_list[start : start + 5000]).values_list("sha256", "pk"))
    reviewers = _reviewers(plan.reviewers, report)
    checkpoint = None
    if judge:
        checkpoint, _ = CriticCheckpoint.objects.get_or_create(name=judge, defaults={"is_external": True})

    existing = plan.existing_ids if update else set()
    chunk: list[tuple[Row, str, str]] = []
    written = 0
    for checked in _checked_rows(path, fmt, plan):
        chunk.append(checked)
        if len(chunk) == CHUNK:
            _write_chunk(chunk, dataset, image_ids, reviewers, checkpoint, report, profile, existing, created_by)
            written += len(chunk)
            chunk = []
            tick("writing", written, total)
    if chunk:
        _write_chunk(chunk, dataset, image_ids, reviewers, checkpoint, report, profile, existing, created_by)
        tick("writing", written + len(chunk), total)


def _reviewers(names: set[str], report: ImportReport) -> dict[str, int]:
    """Accounts for the reviewers named in labels; those who do not exist become inactive accounts."""
    users = get_user_model()
    known = dict(users.objects.filter(username__in=names).values_list("username", "pk"))
    missing = [users(username=name, is_active=False) for name in sorted(names - set(known))]
    for user in missing:
        user.set_unusable_password()
    users.objects.bulk_create(missing)
    report.reviewers_created = len(missing)
    return dict(users.objects.filter(username__in=names).values_list("username", "pk"))


def _write_chunk(
    chunk: list[tuple[Row, str, str]],
    dataset: Dataset,
    image_ids: dict[str, int],
    reviewers: dict[str, int],
    checkpoint: CriticCheckpoint | None,
    report: ImportReport,
    profile: str,
    existing: set[str],
    created_by: User | None,
) -> None:
    items: list[Item] = []
    for row, row_id, sha in chunk:
        kind = Kind.PAIRWISE if row.response_b.strip() else Kind.POINTWISE
        default = dataset.pairwise_profile if kind == Kind.PAIRWISE else dataset.pointwise_profile
        items.append(
            Item(
                dataset=dataset,
                external_id=row_id,
                image_id=image_ids[sha],
                question=row.question,
                reference=row.reference,
                kind=kind,
                profile=row.profile or profile or default,
                response_a=row.response_a,
                model_a=row.model_a.strip(),
                response_b=row.response_b,
                model_b=row.model_b.strip(),
                split=row.split or item_split_for(dataset=dataset, external_id=row_id),
                created_by=created_by,
            )
        )
    fresh = [i for i in items if i.external_id not in existing]
    Item.objects.bulk_create(fresh)
    report.created += len(fresh)
    if existing:
        stale = [i for i in items if i.external_id in existing]
        by_id = dict(
            Item.objects.filter(dataset=dataset, external_id__in=[i.external_id for i in stale]).values_list(
                "external_id", "pk"
            )
        )
        for item in stale:
            item.pk = by_id[item.external_id]
        Item.objects.bulk_update(
            stale,
            [
                "image",
                "question",
                "reference",
                "kind",
                "profile",
                "response_a",
                "model_a",
                "response_b",
                "model_b",
                "split",
            ],
        )
        report.updated += len(stale)
    labels, verdicts = [], []
    for (row, _, _), item in zip(chunk, items, strict=True):
        spec = get_profile(item.profile)
        for label in row.labels:
            labels.append(
                HumanVerdict(
                    item_id=item.pk,
                    reviewer_id=reviewers[label.reviewer],
                    profile=item.profile,
                    score=label.score,
                    preference=label.preference,
                    source=HumanVerdict.Source.IMPORT,
                )
            )
        if checkpoint is not None and row.judge_text:
            verdict = spec.parse(row.judge_text)
            report.judge_verdicts += 1
            report.judge_unreadable += verdict is None
            verdicts.append(
                CriticVerdict(
                    item_id=item.pk,
                    checkpoint=checkpoint,
                    profile=item.profile,
                    status=JobStatus.DONE if verdict else JobStatus.FAILED,
                    score=verdict.score if verdict else None,
                    preference=verdict.preference if verdict else None,
                    justification=verdict.justification if verdict else "",
                    raw_output=row.judge_text,
                    error="" if verdict else "the judge's text holds no verdict this profile can read",
                )
            )
    labels = import_rights.labels_without_desk_verdicts(labels, report)
    HumanVerdict.objects.bulk_create(
        labels,
        update_conflicts=True,
        unique_fields=["item", "reviewer"],
        update_fields=["profile", "score", "preference", "source"],
    )
    CriticVerdict.objects.bulk_create(
        verdicts,
        update_conflicts=True,
        unique_fields=["item", "checkpoint", "swapped"],
        update_fields=["profile", "status", "score", "preference", "justification", "raw_output", "error"],
    )
    report.labels += len(labels)
