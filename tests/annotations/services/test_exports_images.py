"""Training exports of items with several images: llava-json and dpo-jsonl write LLaVA's image list (in order, one
<image> line each in the human turn, as the critic saw it); llava-critic-113k parquet holds one image a row, so it
leaves them out and counts them; retraining reads them with their pictures in order; the selection's zip reads back."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from annotations.models import Item, JobStatus, TrainingExport
from annotations.selectors.images import item_images
from annotations.services.exports import training_export_create, training_export_run
from annotations.services.imports import items_import
from annotations.services.item_bulk import items_export_zip
from annotations.services.retraining import retraining_job_create
from critic_worker.profiles import PROFILES, PromptInput, Verdict, user_turn
from critic_worker.training import ExportError, read_training_rows
from tests.export_world import build_export_world, critic, human
from tests.factories import DatasetFactory, UserFactory, item_with_images

pytestmark = pytest.mark.django_db
RED, GREEN, BLUE = (220, 20, 20), (20, 200, 20), (20, 20, 220)


@pytest.fixture
def world(db) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    world = build_export_world()
    item = item_with_images(
        RED, GREEN, BLUE, dataset=world["dataset"], external_id="multi", question="Which picture is green?"
    )
    critic(item, world["checkpoint"], score=90)
    human(item, UserFactory(username="una"), score=10, rationale="The second is green, not the first.")
    world["multi"] = item
    return world


def run_export(world: dict[str, Any], fmt: str) -> TrainingExport:
    export = training_export_create(dataset=world["dataset"], fmt=fmt, user=world["admin"])
    done = training_export_run(export_id=export.pk)
    assert done is not None
    assert done.status == JobStatus.DONE, done.error
    return done


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("fmt", ["llava-json", "dpo-jsonl"])
def test_the_json_formats_write_the_image_list_in_order(world, media_root: Path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    export = run_export(world, fmt)
    folder = media_root / export.path
    text = (folder / export.manifest["data_file"]).read_text()
    rows = json.loads(text) if fmt == "llava-json" else [json.loads(line) for line in text.splitlines()]
    row = next(r for r in rows if r["id"] == "multi__pointwise")
    renditions = [image.normalized_sha256 for image in item_images(item=world["multi"])]
    assert isinstance(row["image"], list)
    assert [sha(folder / "images" / name) for name in row["image"]] == renditions
    assert all(isinstance(r["image"], str) for r in rows if r["id"] != "multi__pointwise")
    human_turn = row["prompt"] if fmt == "dpo-jsonl" else row["conversations"][0]["value"]
    item = world["multi"]
    prompt = PromptInput(item.question, item.response_a, "", "")
    assert human_turn == user_turn(PROFILES["pointwise"], prompt, image_token="<image>\n<image>\n<image>")
    gpt = row["chosen"] if fmt == "dpo-jsonl" else row["conversations"][1]["value"]
    assert PROFILES["pointwise"].parse(gpt) == Verdict(score=10, justification="The second is green, not the first.")
    assert export.manifest["counts"]["rows_with_several_images"] == 1
    assert "several_images_in_a_one_image_format" not in export.manifest["left_out"]


def test_parquet_holds_one_image_a_row_so_it_leaves_them_out_counted(world, media_root: Path) -> None:  # type: ignore[no-untyped-def]
    export = run_export(world, "llava-critic-parquet")
    ids = [row["id"] for row in pq.read_table(media_root / export.path / "train.parquet").to_pylist()]
    assert "multi__pointwise" not in ids
    assert set(ids) == set(world["expected"])
    assert export.manifest["left_out"]["several_images_in_a_one_image_format"] == 1
    assert export.manifest["counts"]["rows_with_several_images"] == 0
    retraining_job_create(export=export, created_by=world["admin"], base=world["checkpoint"], send=False)


def test_retraining_reads_a_several_image_row_with_its_pictures_in_order(world, media_root: Path) -> None:  # type: ignore[no-untyped-def]
    export = run_export(world, "llava-json")
    retraining_job_create(export=export, created_by=world["admin"], base=world["checkpoint"], send=False)
    rows = {row.id: row for row in read_training_rows(media_root / export.path / "train.json", "llava-json")}
    renditions = [image.normalized_sha256 for image in item_images(item=world["multi"])]
    assert [hashlib.sha256(picture).hexdigest() for picture in rows["multi__pointwise"].pictures()] == renditions


def test_retraining_refuses_a_row_whose_images_and_image_lines_differ(world, media_root: Path) -> None:  # type: ignore[no-untyped-def]
    export = run_export(world, "llava-json")
    data_file = media_root / export.path / "train.json"
    rows = json.loads(data_file.read_text())
    multi = next(r for r in rows if r["id"] == "multi__pointwise")
    multi["image"] = multi["image"][:2]  # three <image> lines, two pictures
    data_file.write_text(json.dumps(rows))
    with pytest.raises(ExportError, match="2 image\\(s\\) but 3 <image> line\\(s\\) in the human turn"):
        read_training_rows(data_file, "llava-json")


def test_the_selection_zip_keeps_the_images_in_order_and_reads_back(tmp_path: Path) -> None:
    item = item_with_images(BLUE, RED, external_id="three")
    data = items_export_zip(items=Item.objects.filter(pk=item.pk))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        (row,) = [json.loads(line) for line in archive.read("items.jsonl").decode().splitlines()]
        assert row["image"] == [f"images/{image.sha256}.png" for image in item_images(item=item)]
        archive.extractall(tmp_path)
    again = DatasetFactory()
    report = items_import(dataset=again, path=tmp_path / "items.jsonl", images=tmp_path)
    assert report.ok, report.problems
    copy = Item.objects.get(dataset=again)
    assert [i.normalized_sha256 for i in item_images(item=copy)] == [
        i.normalized_sha256 for i in item_images(item=item)
    ]


def test_an_exported_llava_json_row_imports_back_with_its_images_in_order(world, media_root: Path) -> None:  # type: ignore[no-untyped-def]
    export = run_export(world, "llava-json")
    folder = media_root / export.path
    again = DatasetFactory()
    report = items_import(dataset=again, path=folder / "train.json", images=folder / "images")
    assert report.ok, report.problems
    copy = Item.objects.get(dataset=again, external_id="multi__pointwise")
    original = world["multi"]
    assert copy.question == original.question
    assert [i.normalized_sha256 for i in item_images(item=copy)] == [
        i.normalized_sha256 for i in item_images(item=original)
    ]
