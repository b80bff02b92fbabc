"""Items with several images come in from every text format, in order, each image normalised like a single one;
a row whose images do not add up is refused with its row and reason, and nothing is written."""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path

import pytest

from annotations.models import HumanVerdict, Item, ItemImage
from annotations.selectors.images import item_images
from annotations.services.imports import items_import
from tests.annotations.services.import_files import conversation, image_folder, write_jsonl, write_llava_json
from tests.factories import DatasetFactory, UserFactory
from tests.images import jpeg_bytes, png_bytes

pytestmark = pytest.mark.django_db


def shas(item: Item) -> list[str]:
    return [image.sha256 for image in item_images(item=item)]


def file_sha(folder: Path, n: int) -> str:
    import hashlib

    return hashlib.sha256((folder / "imgs" / f"{n}.png").read_bytes()).hexdigest()


def test_a_llava_row_with_an_image_list_becomes_one_item_with_its_images_in_order(tmp_path: Path) -> None:
    folder = image_folder(tmp_path, 3)
    rows = [
        {
            "id": "pair",
            "image": ["imgs/2.png", "imgs/0.png", "imgs/1.png"],
            "conversations": conversation("<image>\n<image>\n<image>\nWhat changed between the pictures?", "A hat."),
        },
        {"id": "one", "image": ["imgs/1.png"], "conversations": conversation("<image>\nWhat is it?", "A dog.")},
    ]
    report = items_import(dataset=DatasetFactory(), path=write_llava_json(tmp_path / "l.json", rows), images=folder)
    assert report.ok, report.problems
    assert (report.created, report.with_several_images, report.images_new) == (2, 1, 3)
    assert "1 with several images" in report.summary()
    pair = Item.objects.get(external_id="pair")
    assert shas(pair) == [file_sha(folder, 2), file_sha(folder, 0), file_sha(folder, 1)]
    assert pair.question == "What changed between the pictures?"
    assert shas(Item.objects.get(external_id="one")) == [file_sha(folder, 1)]
    assert list(ItemImage.objects.filter(item=pair).values_list("position", flat=True)) == [2, 3]


def test_a_conversation_whose_image_tokens_and_images_differ_is_refused(tmp_path: Path) -> None:
    folder = image_folder(tmp_path, 2)
    rows = [
        {"id": "ok", "image": ["imgs/0.png", "imgs/1.png"], "conversations": conversation("<image><image>Q", "A")},
        {"id": "two-one", "image": ["imgs/0.png", "imgs/1.png"], "conversations": conversation("<image>\nQ", "A")},
        {"id": "one-two", "image": "imgs/0.png", "conversations": conversation("<image>\n<image>\nQ", "A")},
        {"id": "empty", "image": [], "conversations": conversation("Q", "A")},
    ]
    report = items_import(dataset=DatasetFactory(), path=write_llava_json(tmp_path / "l.json", rows), images=folder)
    assert not report.ok
    assert [(p.row, p.field) for p in report.problems] == [(2, "conversations"), (3, "conversations"), (4, "image")]
    assert "holds 1 <image> tokens but the row has 2 images" in report.problems[0].message
    assert Item.objects.count() == 0
    assert ItemImage.objects.count() == 0


def test_jsonl_takes_image_as_a_list_or_images_and_data_uris(tmp_path: Path) -> None:
    folder = image_folder(tmp_path, 2)
    inline = "data:image/jpeg;base64," + base64.b64encode(jpeg_bytes(colour=(9, 200, 9))).decode()
    rows = [
        {"id": "a", "image": ["imgs/0.png", inline], "question": "Same?", "response": "No."},
        {"id": "b", "images": ["imgs/1.png", "imgs/0.png"], "question": "Same?", "response": "No."},
        {"id": "c", "image": "imgs/1.png", "question": "Q", "response": "R"},
    ]
    report = items_import(dataset=DatasetFactory(), path=write_jsonl(tmp_path / "i.jsonl", rows), images=folder)
    assert report.ok, report.problems
    a, b, c = (Item.objects.get(external_id=x) for x in "abc")
    assert len(shas(a)) == 2
    assert shas(a)[0] == file_sha(folder, 0)
    assert item_images(item=a)[1].format == "JPEG"  # normalised like any image: a PNG rendition of the JPEG
    assert item_images(item=a)[1].normalized.name.endswith(".png")
    assert shas(b) == [file_sha(folder, 1), file_sha(folder, 0)]
    assert shas(c) == [file_sha(folder, 1)]


def test_csv_takes_a_json_list_in_the_image_or_images_column(tmp_path: Path) -> None:
    folder = image_folder(tmp_path, 2)
    path = tmp_path / "i.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "images", "question", "response"])
        writer.writerow(["a", json.dumps(["imgs/1.png", "imgs/0.png"]), "Q", "R"])
        writer.writerow(["b", "imgs/0.png", "Q", "R"])
    report = items_import(dataset=DatasetFactory(), path=path, images=folder)
    assert not report.ok
    assert [(p.row, p.field, p.message) for p in report.problems] == [(3, "images", "is not a JSON list")]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "image", "question", "response"])
        writer.writerow(["a", json.dumps(["imgs/1.png", "imgs/0.png"]), "Q", "R"])
        writer.writerow(["b", "imgs/0.png", "Q", "R"])
    report = items_import(dataset=DatasetFactory(), path=path, images=folder)
    assert report.ok, report.problems
    assert shas(Item.objects.get(external_id="a")) == [file_sha(folder, 1), file_sha(folder, 0)]


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ({"image": "imgs/0.png", "images": ["imgs/1.png"]}, "images", "not both"),
        ({"images": "imgs/0.png"}, "images", "is not a JSON list"),
        ({"image": ["imgs/0.png", 7]}, "image", "image 2"),
        ({"image": ["imgs/0.png"] * 17}, "image", "at most 16"),
        ({"image": ["imgs/0.png", "imgs/nowhere.png"]}, "image", "image 2 of 2: 'imgs/nowhere.png' is not in"),
        (
            {"image": ["imgs/0.png", "data:image/png;base64," + base64.b64encode(b"not a png").decode()]},
            "image",
            "image 2 of 2",
        ),
    ],
)
def test_a_bad_image_list_names_the_image_and_imports_nothing(
    tmp_path: Path, row: dict[str, object], field: str, message: str
) -> None:
    folder = image_folder(tmp_path, 2)
    rows = [{"id": "x", "question": "Q", "response": "R", **row}]
    report = items_import(dataset=DatasetFactory(), path=write_jsonl(tmp_path / "i.jsonl", rows), images=folder)
    assert not report.ok
    assert report.problems[0].field == field
    assert message in report.problems[0].message
    assert Item.objects.count() == 0


def test_an_update_replaces_the_list_and_an_item_with_verdicts_keeps_it(tmp_path: Path) -> None:
    folder = image_folder(tmp_path, 3)
    dataset = DatasetFactory()
    first = [{"id": "x", "image": ["imgs/0.png", "imgs/1.png"], "question": "Q", "response": "R"}]
    assert items_import(dataset=dataset, path=write_jsonl(tmp_path / "a.jsonl", first), images=folder).ok
    again = [{"id": "x", "image": ["imgs/0.png", "imgs/2.png", "imgs/1.png"], "question": "Q", "response": "R"}]
    report = items_import(dataset=dataset, path=write_jsonl(tmp_path / "b.jsonl", again), images=folder, update=True)
    assert report.ok, report.problems
    item = Item.objects.get()
    assert shas(item) == [file_sha(folder, 0), file_sha(folder, 2), file_sha(folder, 1)]
    HumanVerdict.objects.create(item=item, reviewer=UserFactory(), profile=item.profile, score=50)
    report = items_import(dataset=dataset, path=write_jsonl(tmp_path / "c.jsonl", first), images=folder, update=True)
    assert not report.ok
    assert "its image cannot change" in report.problems[0].message
    assert shas(Item.objects.get()) == [file_sha(folder, 0), file_sha(folder, 2), file_sha(folder, 1)]
    # The same list again changes nothing, so it is allowed.
    assert items_import(dataset=dataset, path=write_jsonl(tmp_path / "b.jsonl", again), images=folder, update=True).ok


def test_a_png_reused_by_several_items_is_stored_once(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "same.png").write_bytes(png_bytes(colour=(1, 2, 3)))
    (tmp_path / "imgs" / "copy.png").write_bytes(png_bytes(colour=(1, 2, 3)))
    rows = [{"id": "x", "image": ["imgs/same.png", "imgs/copy.png"], "question": "Q", "response": "R"}]
    report = items_import(dataset=DatasetFactory(), path=write_jsonl(tmp_path / "i.jsonl", rows), images=tmp_path)
    assert report.ok, report.problems
    assert report.images_new == 1
    image = Item.objects.get().image
    assert item_images(item=Item.objects.get()) == [image, image]
