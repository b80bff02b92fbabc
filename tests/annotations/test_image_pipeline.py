"""One picture for everyone, end to end: whichever way a hostile image comes in (the upload form, the REST API, a
JSONL import with a zip, a folder or data: URIs, a llava-critic parquet with embedded bytes, a LLaVA JSON file), the
image the page serves, its thumbnail, the bytes the worker hands the critic, the training exports and what
retraining reads are all the upright 8-bit RGB picture a person sees on a white page."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image as PILImage

from annotations.models import CriticVerdict, Dataset, HumanVerdict, Item, JobStatus
from annotations.selectors.images import item_images_png
from annotations.services import judging
from annotations.services.exports import training_export_create, training_export_run
from annotations.services.images import THUMBNAIL_SIZE
from annotations.services.imports import items_import
from annotations.services.tokens import api_token_create
from critic_worker.profiles import PromptInput, Verdict, get_profile
from tests.factories import CheckpointFactory, DatasetFactory
from tests.hostile_images import Hostile, difference, hostile_images, pixels

pytestmark = pytest.mark.django_db

CASES = {case.name: case for case in hostile_images()}
EXT = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tif"}
THUMB_TOLERANCE = 12.0  # lossy WebP thumbnails: far below what a turn, a flip or a black background costs


def filename(case: Hostile) -> str:
    with PILImage.open(io.BytesIO(case.data)) as im:
        return f"{case.name}.{EXT[im.format]}"


def by_case(dataset: Dataset) -> dict[str, Item]:
    items = {item.external_id: item for item in Item.objects.filter(dataset=dataset).select_related("image")}
    found = {name: item for name, item in items.items() if name in CASES}
    assert set(found) == set(CASES), set(CASES) - set(found)
    return found


def via_form(client: Client, tmp_path: Path) -> Dataset:
    dataset = DatasetFactory()
    for case in CASES.values():
        response = client.post(
            reverse("item-new", args=[dataset.pk]),
            {
                "image": SimpleUploadedFile(filename(case), case.data),
                "question": "Which colour is top left?",
                "response_a": "Red.",
                "external_id": case.name,
            },
        )
        assert response.status_code == 302, (case.name, response.content[:500])
    return dataset


def via_api(client: Client, tmp_path: Path) -> Dataset:
    dataset = DatasetFactory()
    token = api_token_create(user=client.session_user)  # type: ignore[attr-defined]
    for case in CASES.values():
        response = client.post(
            f"/api/datasets/{dataset.pk}/items",
            {
                "image": SimpleUploadedFile(filename(case), case.data),
                "question": "Which colour is top left?",
                "response_a": "Red.",
                "external_id": case.name,
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 201, (case.name, response.content[:500])
    return dataset


def _jsonl(tmp_path: Path, image_of: Any) -> Path:
    path = tmp_path / "items.jsonl"
    rows = [{"id": c.name, "image": image_of(c), "question": "Top left?", "response": "Red."} for c in CASES.values()]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _imported(path: Path, images: Path | None = None, fmt: str = "auto") -> Dataset:
    dataset = DatasetFactory()
    report = items_import(dataset=dataset, path=path, images=images, fmt=fmt)
    assert report.ok, report.problems
    return dataset


def via_zip(client: Client, tmp_path: Path) -> Dataset:
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for case in CASES.values():
            z.writestr(f"imgs/{filename(case)}", case.data)
    return _imported(_jsonl(tmp_path, lambda c: f"imgs/{filename(c)}"), archive)


def via_folder(client: Client, tmp_path: Path) -> Dataset:
    (tmp_path / "imgs").mkdir()
    for case in CASES.values():
        (tmp_path / "imgs" / filename(case)).write_bytes(case.data)
    return _imported(_jsonl(tmp_path, lambda c: f"imgs/{filename(c)}"), tmp_path)


def via_data_uri(client: Client, tmp_path: Path) -> Dataset:
    def uri(case: Hostile) -> str:
        kind = filename(case).rsplit(".", 1)[1].replace("jpg", "jpeg").replace("tif", "tiff")
        return f"data:image/{kind};base64," + base64.b64encode(case.data).decode()

    return _imported(_jsonl(tmp_path, uri))


def via_parquet(client: Client, tmp_path: Path) -> Dataset:
    profile = get_profile("pointwise")
    rows = [
        {
            "id": case.name,
            "source": "test",
            "conversations": [
                {"from": "human", "value": "<image>\n" + profile.prompt(PromptInput("Top left?", "Red.", ""))},
                {"from": "gpt", "value": profile.render(Verdict(score=70, justification="Right."))},
            ],
            "image": {"bytes": case.data, "path": filename(case)},
        }
        for case in CASES.values()
    ]
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("source", pa.string()),
            ("conversations", pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))),
            ("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
        ]
    )
    path = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return _imported(path)


ROUTES = {
    "form": via_form,
    "api": via_api,
    "jsonl+zip": via_zip,
    "jsonl+folder": via_folder,
    "jsonl+data-uri": via_data_uri,
    "llava-critic-parquet": via_parquet,
}


@pytest.fixture
def client(reviewer) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(reviewer)
    client.session_user = reviewer  # type: ignore[attr-defined]
    return client


def critic_pixels(dataset: Dataset) -> dict[int, np.ndarray]:
    """What the worker task hands the critic engine for each item (its JudgeRequest's picture), by item id."""
    from critic_worker import tasks

    checkpoint = CheckpointFactory()
    judging.verdicts_queue(dataset=dataset, checkpoint=checkpoint)
    ids = list(CriticVerdict.objects.filter(item__dataset=dataset).values_list("pk", flat=True))
    claim = judging.verdicts_claim(verdict_ids=ids, worker="test")
    verdict_items = dict(CriticVerdict.objects.filter(pk__in=ids).values_list("pk", "item_id"))
    sent = {}
    for job in claim.jobs:
        (picture,) = tasks.judge_request(job).images
        assert picture.mode == "RGB"
        sent[verdict_items[job.verdict_id]] = np.asarray(picture)
    return sent


@pytest.mark.parametrize("route", ROUTES)
def test_everyone_sees_the_same_upright_picture_on_white(route: str, client: Client, tmp_path: Path) -> None:
    dataset = ROUTES[route](client, tmp_path)
    items = by_case(dataset)
    to_critic = critic_pixels(dataset)
    for name, item in items.items():
        case = CASES[name]
        served = client.get(reverse("image-file", args=[item.image.sha256]))
        assert served["Content-Type"] == "image/png"
        seen = pixels(b"".join(served.streaming_content))
        assert difference(seen, case.expected) <= case.tolerance, (route, name)
        assert np.array_equal(to_critic[item.pk], seen), (route, name)  # the critic gets the same pixels
        (written,) = item_images_png(item=item)  # and so does critic_input
        assert np.array_equal(pixels(written), seen), (route, name)
        assert (item.image.width, item.image.height) == (seen.shape[1], seen.shape[0])
        thumb = client.get(reverse("image-thumbnail", args=[item.image.sha256]))
        small = PILImage.fromarray(case.expected)
        small.thumbnail(THUMBNAIL_SIZE)
        assert difference(pixels(b"".join(thumb.streaming_content)), np.asarray(small)) <= THUMB_TOLERANCE, name
        if case.note:
            page = client.get(reverse("item-detail", args=[item.pk])).content.decode()
            assert case.note in page, (route, name)


def test_exports_and_retraining_hold_the_rendition(client: Client, tmp_path: Path, media_root: Path, admin) -> None:  # type: ignore[no-untyped-def]
    from critic_worker.training import read_training_rows

    dataset = via_form(client, tmp_path)
    items = by_case(dataset)
    checkpoint = CheckpointFactory()
    for item in items.values():  # every item a disagreement, so every image is exported
        CriticVerdict.objects.create(
            item=item, checkpoint=checkpoint, profile=item.profile, status=JobStatus.DONE, score=95
        )
        HumanVerdict.objects.create(item=item, reviewer=admin, profile=item.profile, score=5, rationale="Wrong.")
    for fmt in ("llava-critic-parquet", "llava-json", "dpo-jsonl"):
        export = training_export_create(dataset=dataset, fmt=fmt, user=admin, checkpoint=checkpoint)
        done = training_export_run(export_id=export.pk)
        assert done is not None
        assert done.status == JobStatus.DONE, done.error
        folder = media_root / done.path
        data_file = folder / done.manifest["data_file"]
        if fmt == "dpo-jsonl":
            rows = [json.loads(line) for line in data_file.read_text().splitlines()]
            images = {row["id"]: (folder / "images" / row["image"]).read_bytes() for row in rows}
        else:
            trained = read_training_rows(data_file, fmt)  # what retraining reads
            images = {row.id: row.pictures()[0] for row in trained}
        assert len(images) == len(items)
        for row_id, data in images.items():
            name = row_id.rsplit("__", 1)[0]
            assert difference(pixels(data), CASES[name].expected) <= CASES[name].tolerance, (fmt, name)
            assert data == items[name].image.normalized.open("rb").read()
            items[name].image.normalized.close()
