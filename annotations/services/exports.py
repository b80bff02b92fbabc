"""Training exports: what reviewers corrected, written back in the critic's own training formats.

An export is an immutable, numbered snapshot under MEDIA_ROOT/exports/<number>/: the data file, an images/
folder for the formats that reference images, and manifest.json (also kept in TrainingExport.manifest). Rows
are built from one streaming query (critic verdict x item x image x human verdicts, ordered by item) and written
by one writer per format, so memory stays flat however many rows there are.

A row's human turn is the prompt the critic saw (critic_worker.profiles.user_turn, with the profile the verdict
was made with and the item's response order); its gpt turn is the reviewers' verdict (the revision when they
revised after the reveal) rendered by that profile's renderer, with the corrected justification when a reviewer
wrote one, else their rationale, so that profile.parse(gpt turn) gives back the human verdict. This is what
retraining reads: the llava-json and parquet rows are {id, image, conversations: [human, gpt]}. Every image is
the item's normalised rendition (PNG, upright 8-bit RGB on white), the picture the critic and the reviewers saw.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from annotations.models import (
    CriticCheckpoint,
    CriticVerdict,
    Dataset,
    HumanVerdict,
    Item,
    ItemImage,
    JobStatus,
    Split,
    TrainingExport,
)
from annotations.selectors.review import verdict_values_agree
from annotations.services.verdict_combine import combine_rule, preferences_combine, scores_combine
from critic_worker.profiles import PromptInput, Verdict, get_profile, user_turn

EXPORT_TASK = "annotations.tasks.export_run"
IMAGE_TOKEN = "<image>"
FORMATS = tuple(TrainingExport.Format.values)
DATA_FILES = {"llava-critic-parquet": "train.parquet", "llava-json": "train.json", "dpo-jsonl": "train.jsonl"}
IMAGES_DIR = "images"
MANIFEST = "manifest.json"
CHUNK = 2000  # rows fetched per round trip of the streaming query
ROW_GROUP_ROWS = 1000  # parquet rows buffered before a row group is written
ROW_GROUP_BYTES = 32 * 1024 * 1024  # ... or image bytes, whichever comes first
PROGRESS_EVERY = 5000
RECENT_IMAGES, RECENT_IMAGE_BYTES = 64, 256 * 1024  # at most 16 MiB of image bytes kept for reuse
_JSON = json.JSONEncoder(ensure_ascii=False)  # made once: json.dumps with options builds an encoder per call
_str = json.encoder.encode_basestring  # a JSON string, as that encoder writes one (non-ASCII kept)

# llava-critic-113k's features, as the HF `datasets` library stores them in parquet.
PARQUET_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("source", pa.string()),
        pa.field("conversations", pa.list_(pa.struct([pa.field("from", pa.string()), pa.field("value", pa.string())]))),
        pa.field("image", pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])),
    ]
)
HF_FEATURES = {
    "id": {"dtype": "string", "_type": "Value"},
    "source": {"dtype": "string", "_type": "Value"},
    "conversations": [{"from": {"dtype": "string", "_type": "Value"}, "value": {"dtype": "string", "_type": "Value"}}],
    "image": {"_type": "Image"},
}
PARQUET_SCHEMA = PARQUET_SCHEMA.with_metadata({"huggingface": json.dumps({"info": {"features": HF_FEATURES}})})


# -- creating and running an export ----------------------------------------------------------------------------


def export_folder(export: TrainingExport) -> Path:
    return Path(settings.MEDIA_ROOT) / "exports" / str(export.number)


def _check_merge_file(path: str, fmt: str) -> str:
    if not path:
        return ""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ValidationError({"merge_with": [f"{path} is not a file."]})
    if not os.access(file, os.R_OK):
        raise ValidationError({"merge_with": [f"{path} cannot be read."]})
    try:
        if fmt == "llava-critic-parquet":
            names = set(pq.ParquetFile(file).schema_arrow.names)
            if not {"id", "conversations", "image"} <= names:
                raise ValidationError({"merge_with": [f"{path} lacks the llava-critic-113k columns."]})
        else:
            with file.open("rb") as f:
                head = f.read(64).lstrip()
            expected = b"[" if fmt == "llava-json" else b"{"
            if head and not head.startswith(expected):
                kind = "a JSON list" if fmt == "llava-json" else "JSON lines"
                raise ValidationError({"merge_with": [f"{path} is not {kind} ({fmt})."]})
    except (pa.ArrowException, OSError) as exc:
        raise ValidationError({"merge_with": [f"{path} is not a {fmt} file ({exc})."]}) from None
    return str(file.resolve())


def training_export_create(
    *,
    dataset: Dataset,
    fmt: str,
    user: User | None = None,
    include_agreements: bool = False,
    checkpoint: CriticCheckpoint | None = None,
    merge_with: str = "",
) -> TrainingExport:
    """Check the request and give the export its number (queued); nothing is written until it runs."""
    if fmt not in FORMATS:
        raise ValidationError({"format": [f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}."]})
    if checkpoint is None:
        from annotations.services.judging import checkpoint_from_settings

        checkpoint = checkpoint_from_settings()
        if checkpoint is None:
            raise ValidationError("No critic checkpoint: name one, or activate one (the export needs its verdicts).")
    merge_path = _check_merge_file(merge_with, fmt)
    filters = {
        "only_disagreements": not include_agreements,
        "split": Split.POOL,
        "checkpoint": checkpoint.name,
        "merge_with": merge_path,
    }
    for _ in range(5):  # two exports created at once: the unique number decides, the loser takes the next one
        number = (TrainingExport.objects.aggregate(n=Max("number"))["n"] or 0) + 1
        try:
            with transaction.atomic():
                return TrainingExport.objects.create(
                    number=number,
                    dataset=dataset,
                    format=fmt,
                    source_checkpoint=checkpoint,
                    filters=filters,
                    created_by=user,
                    status=JobStatus.QUEUED,
                )
        except IntegrityError:
            continue
    raise ValidationError("Could not number the export (too many at once); try again.")


def training_export_queue(**kwargs: Any) -> TrainingExport:
    """Create the export and run it on the `default` queue once the transaction commits."""
    export = training_export_create(**kwargs)
    from webapp.celery import app

    transaction.on_commit(lambda: app.send_task(EXPORT_TASK, args=[export.pk]))
    return export


def training_export_run(*, export_id: int) -> TrainingExport | None:
    """Write a queued export once (a repeated message finds it taken and does nothing)."""
    if not TrainingExport.objects.filter(pk=export_id, status=JobStatus.QUEUED).update(status=JobStatus.RUNNING):
        return None
    export = TrainingExport.objects.select_related("dataset", "source_checkpoint", "created_by").get(pk=export_id)
    final = export_folder(export)
    partial = final.with_name(f".{export.number}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        manifest = _write(export, partial)
        if final.exists():  # never over a snapshot; a number is only ever written once
            raise FileExistsError(f"{final} exists already")
        partial.rename(final)
    except Exception as exc:
        shutil.rmtree(partial, ignore_errors=True)
        TrainingExport.objects.filter(pk=export_id).update(
            status=JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
    else:
        TrainingExport.objects.filter(pk=export_id).update(
            status=JobStatus.DONE,
            manifest=manifest,
            path=str(final.relative_to(settings.MEDIA_ROOT)),
            items_done=manifest["counts"]["items_examined"],
            finished_at=timezone.now(),
        )
    export.refresh_from_db()
    return export


# -- choosing the rows -----------------------------------------------------------------------------------------

# The critic verdict's own columns, then the joined ones under names of their own.
_OWN = ("item_id", "profile", "score", "preference", "justification", "raw_output")
_JOINED = {
    "external_id": "item__external_id",
    "question": "item__question",
    "reference": "item__reference",
    "response_a": "item__response_a",
    "response_b": "item__response_b",
    "context": "item__context",
    "image_file": "item__image__normalized",  # the rendition everyone sees, never the original
    "sha256": "item__image__normalized_sha256",
    "h_profile": "item__human_verdicts__profile",
    "h_score": "item__human_verdicts__score",
    "h_preference": "item__human_verdicts__preference",
    "h_revised_score": "item__human_verdicts__revised_score",
    "h_revised_preference": "item__human_verdicts__revised_preference",
    "h_revised_at": "item__human_verdicts__revised_at",
    "h_rationale": "item__human_verdicts__rationale",
    "h_corrected": "item__human_verdicts__corrected_justification",
}


def critic_verdicts_done(*, checkpoint: CriticCheckpoint) -> QuerySet[CriticVerdict]:
    """The checkpoint's finished verdicts that count as its judgement: the one place to narrow which critic
    verdicts an export corrects (e.g. to leave out swap checks)."""
    return CriticVerdict.objects.filter(checkpoint=checkpoint, status=JobStatus.DONE, probe="")


def critic_verdicts_for_export(*, dataset: Dataset, checkpoint: CriticCheckpoint) -> QuerySet[CriticVerdict]:
    """Those verdicts on the dataset's pool items (the gold split is never exported)."""
    return critic_verdicts_done(checkpoint=checkpoint).filter(item__dataset=dataset, item__split=Split.POOL)


def _stream(dataset: Dataset, checkpoint: CriticCheckpoint) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(item id, one dict per human verdict) for every pool item with the checkpoint's verdict and a human one:
    a single query (verdict, item, image and human verdicts joined), read in chunks from a server-side cursor."""
    rows = (
        critic_verdicts_for_export(dataset=dataset, checkpoint=checkpoint)
        .filter(item__human_verdicts__isnull=False)
        .order_by("item_id", "item__human_verdicts__id")
        .values(*_OWN, **{alias: F(path) for alias, path in _JOINED.items()})
        .iterator(chunk_size=CHUNK)
    )
    group: list[dict[str, Any]] = []
    for row in rows:
        if group and row["item_id"] != group[0]["item_id"]:
            yield group[0]["item_id"], group
            group = []
        group.append(row)
    if group:
        yield group[0]["item_id"], group


def _human_value(row: dict[str, Any]) -> tuple[float | None, str | None]:
    """The reviewer's verdict as corrected: the revision after the reveal if there is one, else the blind one."""
    if row["h_revised_at"] is not None:
        return row["h_revised_score"], row["h_revised_preference"]
    return row["h_score"], row["h_preference"]


@dataclass
class Tally:
    rows: int = 0
    per_profile: Counter[str] = field(default_factory=Counter)
    disagreements: Counter[str] = field(default_factory=Counter)
    agreements: Counter[str] = field(default_factory=Counter)
    left_out: Counter[str] = field(default_factory=Counter)
    items_seen: int = 0
    several_images: int = 0  # rows whose item has more than one image


class ExportRow(NamedTuple):
    """One training row, in the terms every format is written from."""

    id: str
    profile: str
    sha256: str  # of the image's rendition (the PNG the export holds)
    image_file: str  # the rendition's storage name
    human_turn: str
    gpt_turn: str
    critic_text: str  # the critic's own text (DPO's rejected side); empty for the other formats
    verdict: Verdict
    more_images: tuple[tuple[str, str], ...] = ()  # the item's second, third, ... images: (sha256, image_file)

    @property
    def images(self) -> list[tuple[str, str]]:
        """Every image of the row's item, in order: (sha256 of the rendition, its storage name)."""
        return [(self.sha256, self.image_file), *self.more_images]


def _consensus(
    humans: list[dict[str, Any]], *, profile: str, threshold: float
) -> tuple[tuple[float | None, str | None], str, str] | None:
    """The reviewers' verdict on an item as one value the profile can produce (verdict_combine's rule), with the
    first corrected justification and the first rationale among the reviewers who hold it; None when their
    verdicts cannot be combined (no majority preference, or scores further apart than the dataset's rule)."""
    spec = get_profile(profile)
    values = [_human_value(h) for h in humans]
    if spec.is_pointwise:
        if len(values) > 1 and not all(
            verdict_values_agree(profile=profile, threshold=threshold, first=a, second=b)
            for a, b in itertools.combinations(values, 2)
        ):
            return None
        verdict: tuple[float | None, str | None] = (
            scores_combine(scores=[v[0] for v in values if v[0] is not None], profile=spec),
            None,
        )
        holders = humans
    else:
        preference = preferences_combine(preferences=[v[1] for v in values if v[1] is not None])
        if preference is None:
            return None
        verdict = (None, preference)
        holders = [h for h, v in zip(humans, values, strict=True) if v[1] == preference]
    corrected = next((h["h_corrected"] for h in holders if h["h_corrected"].strip()), "")
    rationale = next((h["h_rationale"] for h in holders if h["h_rationale"].strip()), "")
    return verdict, corrected, rationale


def _with_more_images(
    groups: Iterator[tuple[int, list[dict[str, Any]]]],
) -> Iterator[tuple[list[dict[str, Any]], tuple[tuple[str, str], ...]]]:
    """Each item's group with its images after the first ((sha256, file) in order), asked for CHUNK items at a time."""
    while batch := list(itertools.islice(groups, CHUNK)):
        more: dict[int, list[tuple[str, str]]] = {}
        links = ItemImage.objects.filter(item_id__in=[item_id for item_id, _ in batch]).order_by("item_id", "position")
        for item_id, sha, name in links.values_list("item_id", "image__normalized_sha256", "image__normalized"):
            more.setdefault(item_id, []).append((sha, name))
        for item_id, humans in batch:
            yield humans, tuple(more.get(item_id, ()))


def export_rows(
    *,
    dataset: Dataset,
    checkpoint: CriticCheckpoint,
    include_agreements: bool,
    dpo: bool,
    tally: Tally,
    one_image_a_row: bool = False,
) -> Iterator[ExportRow]:
    """The training rows of a dataset against a checkpoint, streamed; what is left out is counted in `tally`.
    `one_image_a_row`: the format holds one image a row (llava-critic-113k), so items with several are left out."""
    threshold = dataset.disagreement_threshold
    for humans, more_images in _with_more_images(_stream(dataset, checkpoint)):
        tally.items_seen += 1
        first = humans[0]
        name = first["profile"]
        spec = get_profile(name)
        if more_images and one_image_a_row:
            tally.left_out["several_images_in_a_one_image_format"] += 1
            continue
        if any(h["h_profile"] != name for h in humans):
            tally.left_out["profile_changed_since_judged"] += 1
            continue
        found = _consensus(humans, profile=name, threshold=threshold)
        if found is None:
            tally.left_out["reviewers_disagree"] += 1
            continue
        human, corrected, rationale = found
        critic = (first["score"], first["preference"])
        agrees = verdict_values_agree(profile=name, threshold=threshold, first=human, second=critic)
        if agrees and not include_agreements:
            tally.left_out["agreements"] += 1
            continue
        corrected = corrected.strip()
        if agrees and dpo and not corrected:
            # A DPO pair needs a rejected side that is worse: an agreement counts only if its reasons were corrected.
            tally.left_out["agreements_without_corrected_justification"] += 1
            continue
        verdict = Verdict(score=human[0], preference=human[1], justification=corrected or rationale)
        context = tuple((t["role"], t["text"]) for t in first["context"] or [])  # earlier turns, as the critic saw
        prompt = PromptInput(first["question"], first["response_a"], first["response_b"], first["reference"], context)
        critic_text = ""
        if dpo:
            critic_text = first["raw_output"].strip() or spec.render(
                Verdict(score=critic[0], preference=critic[1], justification=first["justification"])
            )
        (tally.agreements if agrees else tally.disagreements)[name] += 1
        tally.per_profile[name] += 1
        tally.rows += 1
        tally.several_images += bool(more_images)
        # The critic's own turn: one <image> line per image, in order (critic_worker.prompting).
        image_tokens = "\n".join([IMAGE_TOKEN] * (1 + len(more_images)))
        yield ExportRow(
            id=f"{first['external_id']}__{name}",
            profile=name,
            sha256=first["sha256"],
            image_file=first["image_file"],
            human_turn=user_turn(spec, prompt, image_token=image_tokens),
            gpt_turn=spec.render(verdict),
            critic_text=critic_text,
            verdict=verdict,
            more_images=more_images,
        )


def _reviewed_counts(dataset: Dataset, checkpoint: CriticCheckpoint) -> dict[str, int]:
    """The dataset's reviewed items: in the pool with the checkpoint's verdict (the candidates), in the pool
    without one, and in the gold split. One pass over the dataset's items (no anti-join: its plan is very slow
    on tables just filled in bulk, before PostgreSQL has statistics about them)."""
    humans = HumanVerdict.objects.filter(item=OuterRef("pk"))
    judged = Exists(critic_verdicts_done(checkpoint=checkpoint).filter(item=OuterRef("pk")))
    pool = Q(split=Split.POOL)
    counts = (
        Item.objects.filter(dataset=dataset)
        .filter(Exists(humans))
        .aggregate(
            candidates=Count("pk", filter=pool & Q(judged)),
            in_pool=Count("pk", filter=pool),
            gold_split=Count("pk", filter=~pool),
        )
    )
    return {
        "candidates": counts["candidates"],
        "no_critic_verdict": counts["in_pool"] - counts["candidates"],
        "gold_split": counts["gold_split"],
    }


# -- writers ---------------------------------------------------------------------------------------------------


class _Images:
    """Each image linked (or copied) once into the export's images/ folder, named by its SHA-256."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.names: dict[str, str] = {}  # ours: SHA-256 -> name
        self.adopted: set[str] = set()  # merged rows' images, by their own names

    def name(self, row: ExportRow) -> str | list[str]:
        """The row's `image`: its image's name, or for an item with several the list of their names in order
        (LLaVA's layout for multi-image rows)."""
        names = [self._name(sha, file) for sha, file in row.images]
        return names[0] if len(names) == 1 else names

    def _name(self, sha256: str, image_file: str) -> str:
        name = self.names.get(sha256)
        if name is None:
            name = image_file_name(sha256, image_file)
            self._place(Path(settings.MEDIA_ROOT) / image_file, name)
            self.names[sha256] = name
        return name

    def adopt(self, their_file: Path, name: str) -> None:
        """A merged row's image, named relative to the images/ folder beside their file (our layout) or to the
        file's own folder, placed under the same name in ours, so the merged file is whole on its own."""
        if name in self.adopted:
            return
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise ValueError(f"{their_file}: image {name!r} is outside the file's folder")
        found = [p for p in (their_file.parent / IMAGES_DIR / relative, their_file.parent / relative) if p.is_file()]
        if not found:
            raise ValueError(f"{their_file}: image {name!r} not found beside it (nor in its {IMAGES_DIR}/ folder)")
        self._place(found[0], name)
        self.adopted.add(name)

    def _place(self, source: Path, name: str) -> None:
        target = self.folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)


def image_file_name(sha256: str, image_file: str) -> str:
    """An image's name in an export: its SHA-256 and its file's extension."""
    return sha256 + os.path.splitext(image_file)[1].lower()


def image_name(row: ExportRow) -> str:
    """The name of the row's (first) image in an export."""
    return image_file_name(row.sha256, row.image_file)


def _json_image(value: str | list[str]) -> str:
    return _str(value) if isinstance(value, str) else "[" + ", ".join(_str(v) for v in value) + "]"


def _conversations(row: ExportRow) -> list[dict[str, str]]:
    return [{"from": "human", "value": row.human_turn}, {"from": "gpt", "value": row.gpt_turn}]


class _Writer:
    def __init__(self, path: Path, folder: Path, source: str, *, keep_ids: bool = False) -> None:
        self.path, self.folder, self.source = path, folder, source
        self.keep_ids = keep_ids  # the ids written, for a merge (the only state that grows with the rows)
        self.ids: set[str] = set()

    def write(self, row: ExportRow) -> None:
        raise NotImplementedError

    def write_theirs(self, data: Any) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _JsonListWriter(_Writer):
    """llava-json: a JSON list written one row at a time; images referenced relative to images/."""

    def __init__(self, path: Path, folder: Path, source: str, *, keep_ids: bool = False) -> None:
        super().__init__(path, folder, source, keep_ids=keep_ids)
        self.file = path.open("w", encoding="utf-8")
        self.file.write("[")
        self.images = _Images(folder / IMAGES_DIR)
        self.sep = "\n"

    def _put(self, data: dict[str, Any]) -> None:
        self.file.write(self.sep + _JSON.encode(data))
        self.sep = ",\n"

    def write(self, row: ExportRow) -> None:
        if self.keep_ids:
            self.ids.add(row.id)
        # The JSON of {"id", "image", "conversations"} put together from its escaped strings: the same text
        # json.dumps writes, without building the dicts and an encoder for every row.
        self.file.write(
            f'{self.sep}{{"id": {_str(row.id)}, "image": {_json_image(self.images.name(row))}, "conversations": '
            f'[{{"from": "human", "value": {_str(row.human_turn)}}}, '
            f'{{"from": "gpt", "value": {_str(row.gpt_turn)}}}]}}'
        )
        self.sep = ",\n"

    def write_theirs(self, data: Any) -> None:
        self._put(data)

    def close(self) -> None:
        self.file.write("\n]\n")
        self.file.close()


class _DpoWriter(_JsonListWriter):
    """dpo-jsonl: one {id, image, prompt, chosen, rejected, answer} per line (LLaVA-NeXT's DPO data rows)."""

    def __init__(self, path: Path, folder: Path, source: str, *, keep_ids: bool = False) -> None:
        _Writer.__init__(self, path, folder, source, keep_ids=keep_ids)
        self.file = path.open("w", encoding="utf-8")
        self.images = _Images(folder / IMAGES_DIR)

    def _put(self, data: dict[str, Any]) -> None:
        self.file.write(_JSON.encode(data) + "\n")

    def write(self, row: ExportRow) -> None:
        if self.keep_ids:
            self.ids.add(row.id)
        answer = get_profile(row.profile).verdict_line(row.verdict)
        self.file.write(
            f'{{"id": {_str(row.id)}, "image": {_json_image(self.images.name(row))}, "prompt": {_str(row.human_turn)}, '
            f'"chosen": {_str(row.gpt_turn)}, "rejected": {_str(row.critic_text)}, "answer": {_str(answer)}}}\n'
        )

    def close(self) -> None:
        self.file.close()


class _ParquetWriter(_Writer):
    """llava-critic-parquet: the 113k features, images embedded, written in row groups."""

    def __init__(self, path: Path, folder: Path, source: str, *, keep_ids: bool = False) -> None:
        super().__init__(path, folder, source, keep_ids=keep_ids)
        self.writer = pq.ParquetWriter(path, PARQUET_SCHEMA)
        self.recent: dict[str, bytes] = {}  # small images read lately: many rows share an image
        self._reset()

    def _image_bytes(self, row: ExportRow) -> bytes:
        data = self.recent.get(row.sha256)
        if data is None:
            data = (Path(settings.MEDIA_ROOT) / row.image_file).read_bytes()
            if len(data) <= RECENT_IMAGE_BYTES:
                if len(self.recent) >= RECENT_IMAGES:
                    del self.recent[next(iter(self.recent))]
                self.recent[row.sha256] = data
        return data

    def _reset(self) -> None:
        self.columns: dict[str, list[Any]] = {"id": [], "source": [], "conversations": [], "image": []}
        self.pending_bytes = 0

    def _flush(self) -> None:
        if self.columns["id"]:
            self.writer.write_table(pa.Table.from_pydict(self.columns, schema=PARQUET_SCHEMA))
        self._reset()

    def _put(self, data: dict[str, Any]) -> None:
        for key in self.columns:
            self.columns[key].append(data.get(key))
        image = data.get("image") or {}
        self.pending_bytes += len(image.get("bytes") or b"")
        if len(self.columns["id"]) >= ROW_GROUP_ROWS or self.pending_bytes >= ROW_GROUP_BYTES:
            self._flush()

    def write(self, row: ExportRow) -> None:
        if self.keep_ids:
            self.ids.add(row.id)
        self._put(
            {
                "id": row.id,
                "source": self.source,
                "conversations": _conversations(row),
                "image": {"bytes": self._image_bytes(row), "path": image_name(row)},
            }
        )

    def write_theirs(self, data: Any) -> None:
        self._put(data)

    def close(self) -> None:
        self._flush()
        self.writer.close()


WRITERS: dict[str, type[_Writer]] = {
    "llava-critic-parquet": _ParquetWriter,
    "llava-json": _JsonListWriter,
    "dpo-jsonl": _DpoWriter,
}


# -- merging with an existing training file ----------------------------------------------------------------------


def _their_rows(path: Path, fmt: str) -> Iterator[dict[str, Any]]:
    """The rows of an existing training file of the same format, streamed."""
    if fmt == "llava-critic-parquet":
        parquet = pq.ParquetFile(path)
        columns = [c for c in ("id", "source", "conversations", "image") if c in parquet.schema_arrow.names]
        for batch in parquet.iter_batches(batch_size=256, columns=columns):
            yield from batch.to_pylist()
    elif fmt == "llava-json":
        import ijson

        with path.open("rb") as f:
            yield from ijson.items(f, "item", use_float=True)
    else:
        with path.open("rb") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)


def _merge(writer: _Writer, path: Path, fmt: str) -> dict[str, Any]:
    """Append the rows of `path` whose ids this export does not have. Ours win: a row we wrote replaces theirs
    with the same id (ours carry the newer human correction); among theirs, the first of an id is kept."""
    seen: set[str] = set()
    kept = replaced = repeated = 0
    for data in _their_rows(path, fmt):
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise ValueError(f"{path}: every row needs a text id")
        row_id = data["id"]
        if row_id in writer.ids:
            replaced += 1
        elif row_id in seen:
            repeated += 1
        else:
            seen.add(row_id)
            images = getattr(writer, "images", None)
            theirs = data.get("image")
            if images is not None and isinstance(theirs, str | list):  # llava-json, dpo-jsonl: files, not bytes
                for name in [theirs] if isinstance(theirs, str) else theirs:
                    images.adopt(path, str(name))
            writer.write_theirs(data)
            kept += 1
    return {
        "path": str(path),
        "sha256": _sha256(path),
        "policy": "ours win",
        "rows_kept": kept,
        "rows_replaced_by_ours": replaced,
        "duplicate_ids_dropped": repeated,
    }


# -- the snapshot ----------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _write(export: TrainingExport, folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True)
    dataset, checkpoint, fmt = export.dataset, export.source_checkpoint, export.format
    if checkpoint is None:
        raise ValueError("the export has no source checkpoint")
    include_agreements = not export.filters.get("only_disagreements", True)
    reviewed = _reviewed_counts(dataset, checkpoint)
    TrainingExport.objects.filter(pk=export.pk).update(items_total=reviewed["candidates"])
    data_path = folder / DATA_FILES[fmt]
    merge_with = export.filters.get("merge_with")
    writer = WRITERS[fmt](data_path, folder, f"critic-desk:{dataset.name}", keep_ids=bool(merge_with))
    tally = Tally()
    rows = export_rows(
        dataset=dataset,
        checkpoint=checkpoint,
        include_agreements=include_agreements,
        dpo=fmt == "dpo-jsonl",
        tally=tally,
        one_image_a_row=fmt == "llava-critic-parquet",
    )
    merged: dict[str, Any] | None = None
    reported = 0
    try:
        for row in rows:
            writer.write(row)
            if tally.items_seen - reported >= PROGRESS_EVERY:  # items_done counts the items looked at
                reported = tally.items_seen
                TrainingExport.objects.filter(pk=export.pk).update(items_done=reported)
        if merge_with:
            merged = _merge(writer, Path(merge_with), fmt)
    finally:
        writer.close()
    left_out = {"gold_split": reviewed["gold_split"], "no_critic_verdict": reviewed["no_critic_verdict"]}
    left_out |= tally.left_out
    files = {DATA_FILES[fmt]: {"sha256": _sha256(data_path), "bytes": data_path.stat().st_size}}
    images = folder / IMAGES_DIR
    manifest: dict[str, Any] = {
        "export": export.number,
        "dataset": dataset.name,
        "format": fmt,
        "filters": export.filters,
        "source_checkpoint": {"name": checkpoint.name, "model": checkpoint.model, "revision": checkpoint.revision},
        "data_file": DATA_FILES[fmt],
        "image_folder": IMAGES_DIR if images.exists() else None,
        "counts": {
            "items_examined": tally.items_seen,
            "rows": tally.rows + (merged["rows_kept"] if merged else 0),
            "ours": tally.rows,
            "rows_with_several_images": tally.several_images,
            "per_profile": dict(sorted(tally.per_profile.items())),
            "disagreements": dict(sorted(tally.disagreements.items())),
            "agreements": dict(sorted(tally.agreements.items())),
            "images": sum(1 for _ in images.iterdir()) if images.exists() else 0,
        },
        "left_out": dict(sorted(left_out.items())),
        "reviewers_combined": combine_rule(threshold=dataset.disagreement_threshold),
        "merged_with": merged,
        "files": files,
        "images_named_by": "the SHA-256 of their bytes" if images.exists() else None,
        "images_are": "each item's normalised rendition (PNG, upright 8-bit RGB on white), as the critic saw it"
        + ("; merged rows keep their file's own images" if merged else ""),
        "created_at": timezone.now().isoformat(),
        "created_by": export.created_by.get_username() if export.created_by else None,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def export_file(*, export: TrainingExport, name: str) -> Path:
    """A file of a finished export by its name in the manifest (or the manifest itself); ValueError otherwise."""
    if export.status != JobStatus.DONE or not export.path:
        raise ValueError("the export is not finished")
    if name != MANIFEST and name not in export.manifest.get("files", {}):
        raise ValueError(f"no file {name!r} in export #{export.number}")
    return Path(settings.MEDIA_ROOT) / export.path / name


def export_data_file(*, export: TrainingExport) -> Path:
    """A finished export's data file (train.json, train.parquet, ...), beside its images/ folder when it has one;
    ValueError when the export is not finished."""
    if export.status != JobStatus.DONE or not export.manifest.get("data_file"):
        raise ValueError(f"export #{export.number} is not finished ({export.status})")
    return export_file(export=export, name=export.manifest["data_file"])


def export_zip_chunks(*, export: TrainingExport) -> Iterable[bytes]:
    """The whole snapshot (data, images, manifest) as a zip, produced while it is sent."""
    import zipfile

    folder = Path(settings.MEDIA_ROOT) / export.path

    class Sink:
        def __init__(self) -> None:
            self.parts: list[bytes] = []

        def write(self, data: bytes) -> int:
            self.parts.append(bytes(data))
            return len(data)

        def flush(self) -> None:
            pass

        def take(self) -> bytes:
            out, self.parts = b"".join(self.parts), []
            return out

    sink = Sink()
    root = f"export-{export.number}"
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:  # type: ignore[call-overload]
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{root}/{path.relative_to(folder)}")
                yield sink.take()
    yield sink.take()
