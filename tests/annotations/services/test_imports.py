"""Bulk import: every format round-trips on files written here; bad input is refused whole, with every problem
named by row and field, and nothing written (no rows, no files)."""

from __future__ import annotations

import base64
import csv
import json
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from annotations.models import CriticCheckpoint, CriticVerdict, HumanVerdict, Image, Item
from annotations.services.imports import items_import
from critic_worker.profiles import PromptInput, Verdict, get_profile
from tests.annotations.services.import_files import image_folder, write_jsonl, write_parquet
from tests.conftest import stored_files
from tests.factories import DatasetFactory, ItemFactory
from tests.images import png_bomb_bytes, png_bytes

pytestmark = pytest.mark.django_db


def rows(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        row: dict[str, Any] = {"id": f"q{i}", "image": f"imgs/{i % 3}.png", "question": f"Question {i}?"}
        if i % 2:
            row |= {"response_a": f"A{i}", "response_b": f"B{i}", "model_a": "m1", "model_b": "m2"}
        else:
            row |= {"response": f"R{i}", "model": "m1"}
        out.append(row)
    return out


def assert_nothing_written(media_root: Path) -> None:
    assert (Item.objects.count(), Image.objects.count(), HumanVerdict.objects.count()) == (0, 0, 0)
    assert stored_files(media_root) == []


def test_jsonl_with_a_folder(tmp_path: Path, media_root: Path) -> None:
    dataset = DatasetFactory()
    report = items_import(
        dataset=dataset, path=write_jsonl(tmp_path / "items.jsonl", rows(10)), images=image_folder(tmp_path, 3)
    )
    assert report.ok, report.problems
    assert (report.rows, report.created, report.images_new) == (10, 10, 3)
    assert Item.objects.filter(dataset=dataset, kind="pairwise").count() == 5
    item = Item.objects.get(external_id="q1")
    assert (item.response_a, item.response_b, item.model_a, item.model_b) == ("A1", "B1", "m1", "m2")
    assert Image.objects.count() == 3  # stored once each, for ten items
    assert len(stored_files(media_root)) == 6  # each image and its rendition (thumbnails are made on first view)


def test_jsonl_with_a_zip_and_data_uris(tmp_path: Path) -> None:
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("nested/a.png", png_bytes(colour=(1, 2, 3)))
    uri = "data:image/png;base64," + base64.b64encode(png_bytes(colour=(9, 9, 9))).decode()
    data = [
        {"id": "z", "image": "nested/a.png", "question": "Q", "response": "R"},
        {"id": "u", "image": uri, "question": "Q", "response": "R"},
    ]
    report = items_import(dataset=DatasetFactory(), path=write_jsonl(tmp_path / "x.jsonl", data), images=archive)
    assert report.ok, report.problems
    assert report.images_new == 2


def test_csv_with_the_same_columns(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(
            f, ["id", "image", "question", "response_a", "response_b", "model_a", "model_b", "human_labels"]
        )
        writer.writeheader()
        writer.writerow(
            {
                "id": "c1",
                "image": "imgs/0.png",
                "question": "Q, with a comma",
                "response_a": "A\nline 2",
                "response_b": "B",
                "model_a": "m1",
                "model_b": "m2",
                "human_labels": json.dumps([{"reviewer": "ann", "preference": "B"}]),
            }
        )
    report = items_import(dataset=DatasetFactory(), path=path, images=image_folder(tmp_path, 1))
    assert report.ok, report.problems
    item = Item.objects.get()
    assert (item.question, item.response_a) == ("Q, with a comma", "A\nline 2")
    assert HumanVerdict.objects.get().preference == "B"


def test_human_labels_become_verdicts_of_inactive_reviewers(tmp_path: Path) -> None:
    get_user_model().objects.create_user("known", password="x")
    data = [
        {"id": "p", "image": "imgs/0.png", "question": "Q", "response": "R", "human_score": 70, "reviewer": "known"},
        {
            "id": "q",
            "image": "imgs/0.png",
            "question": "Q",
            "response_a": "A",
            "response_b": "B",
            "human_labels": [{"reviewer": "vote-1", "preference": "A"}, {"reviewer": "vote-2", "preference": "tie"}],
        },
    ]
    report = items_import(
        dataset=DatasetFactory(), path=write_jsonl(tmp_path / "l.jsonl", data), images=image_folder(tmp_path, 1)
    )
    assert report.ok, report.problems
    assert (report.labels, report.reviewers_created) == (3, 2)
    verdicts = {(v.reviewer.username, v.score, v.preference, v.source) for v in HumanVerdict.objects.all()}
    assert verdicts == {
        ("known", 70.0, None, "import"),
        ("vote-1", None, "A", "import"),
        ("vote-2", None, "tie", "import"),
    }
    assert not get_user_model().objects.get(username="vote-1").is_active


def test_update_replaces_instead_of_refusing(tmp_path: Path) -> None:
    dataset = DatasetFactory()
    folder = image_folder(tmp_path, 3)
    items_import(dataset=dataset, path=write_jsonl(tmp_path / "a.jsonl", rows(4)), images=folder)
    changed = rows(4)
    changed[0]["question"] = "A better question?"
    refused = items_import(dataset=dataset, path=write_jsonl(tmp_path / "b.jsonl", changed), images=folder)
    assert refused.problem_count == 4
    assert "already has 'q0'" in str(refused.problems[0])
    updated = items_import(dataset=dataset, path=write_jsonl(tmp_path / "b.jsonl", changed), images=folder, update=True)
    assert (updated.created, updated.updated) == (0, 4)
    assert Item.objects.get(external_id="q0").question == "A better question?"


def test_labels_updated_in_place_show_in_the_metrics_at_once(tmp_path: Path) -> None:
    from annotations.selectors.metrics import agreement_for_dataset

    dataset = DatasetFactory()
    folder = image_folder(tmp_path, 3)
    data = [{**row, "human_score": 20 * i, "reviewer": "ann"} for i, row in enumerate(rows(6)[::2])]  # pointwise
    items_import(dataset=dataset, path=write_jsonl(tmp_path / "a.jsonl", data), images=folder)
    judge = CriticCheckpoint.objects.create(name="gpt-4o", is_external=True)
    for i, item in enumerate(Item.objects.filter(dataset=dataset).order_by("external_id")):
        CriticVerdict.objects.create(item=item, checkpoint=judge, profile=item.profile, status="done", score=20 * i + 5)
    before = agreement_for_dataset(dataset=dataset, checkpoint=judge)["pointwise"]["mae"]["value"]
    for row in data:
        row["human_score"] = 100
    items_import(dataset=dataset, path=write_jsonl(tmp_path / "b.jsonl", data), images=folder, update=True)
    after = agreement_for_dataset(dataset=dataset, checkpoint=judge)["pointwise"]["mae"]["value"]
    assert (before, after) == (5, (95 + 75 + 55) / 3)  # not the cached figure of the old labels


def critic_row(i: int, *, pairwise: bool) -> dict[str, Any]:
    item = PromptInput(f"What is in image {i}?", f"A cat {i}.", f"A dog {i}." if pairwise else "")
    profile = get_profile("pairwise" if pairwise else "pointwise")
    verdict = (
        Verdict(preference="B", justification="It names the dog.")
        if pairwise
        else Verdict(score=60 + i, justification="Mostly right.")
    )
    return {
        "id": f"vlfeedback_{i}" if pairwise else f"row_{i}__llava_wilder",
        "source": "test",
        "conversations": [
            {"from": "human", "value": "<image>\n" + profile.prompt(item)},
            {"from": "gpt", "value": profile.render(verdict)},
        ],
        "image": {"bytes": png_bytes(colour=(i, i, i)), "path": f"{i}.png"},
    }


def test_llava_critic_parquet_with_embedded_images(tmp_path: Path) -> None:
    data = [critic_row(0, pairwise=True), critic_row(1, pairwise=False)]
    data[1]["id"] = "row_1__detail_caption"
    data[1]["conversations"][1]["value"] = "Precise.\nFinal Score: 77"
    report = items_import(dataset=DatasetFactory(), path=write_parquet(tmp_path / "t.parquet", data))
    assert report.ok, report.problems
    pair = Item.objects.get(external_id="vlfeedback_0")
    assert (pair.question, pair.response_a, pair.response_b, pair.profile) == (
        "What is in image 0?",
        "A cat 0.",
        "A dog 0.",
        "pairwise",
    )
    point = Item.objects.get(external_id="row_1__detail_caption")
    assert point.profile == "caption"  # the prompt family from the id suffix
    gpt4o = CriticCheckpoint.objects.get(name="gpt-4o")
    assert gpt4o.is_external
    assert CriticVerdict.objects.get(item=pair).preference == "B"
    assert CriticVerdict.objects.get(item=point).score == 77


def test_llava_json_with_an_image_folder(tmp_path: Path) -> None:
    data = [
        {
            "id": "v1",
            "image": "imgs/0.png",
            "conversations": [
                {"from": "human", "value": "<image>\nWhat colour is it?"},
                {"from": "gpt", "value": "It is dark blue."},
            ],
        },
        {**critic_row(2, pairwise=True), "image": "imgs/1.png"},
    ]
    path = tmp_path / "llava.json"
    path.write_text(json.dumps(data, default=lambda b: None))
    report = items_import(dataset=DatasetFactory(), path=path, images=image_folder(tmp_path, 2), judge="my-judge")
    assert report.ok, report.problems
    plain = Item.objects.get(external_id="v1")
    assert (plain.question, plain.response_a, plain.kind) == ("What colour is it?", "It is dark blue.", "pointwise")
    assert CriticVerdict.objects.get(checkpoint__name="my-judge").preference == "B"


def malformed(tmp_path: Path) -> tuple[Path, Path]:
    folder = image_folder(tmp_path, 1)
    (folder / "imgs" / "bomb.png").write_bytes(png_bomb_bytes())
    (folder / "imgs" / "text.png").write_bytes(b"not an image at all")
    (folder / "imgs" / "cut.png").write_bytes(png_bytes((200, 200))[:150])
    lines: list[Any] = [
        {"id": "ok", "image": "imgs/0.png", "question": "Q", "response": "R"},
        "{not json",
        ["a", "list"],
        {"id": "ok", "image": "imgs/0.png", "question": "Q2", "response": "R"},  # row 4: a duplicate id
        {"id": "b", "image": "imgs/bomb.png", "question": "Q", "response": "R"},
        {"id": "t", "image": "imgs/text.png", "question": "Q", "response": "R"},
        {"id": "c", "image": "imgs/cut.png", "question": "Q", "response": "R"},
        {"id": "m", "image": "imgs/missing.png", "question": "Q", "response": "R"},
        {"id": "e", "image": "../../etc/passwd", "question": "Q", "response": "R"},
        {"id": "x", "image": "imgs/0.png", "question": "", "response": "R", "response_b": "B"},  # mixed + empty
        {"id": "s", "image": "imgs/0.png", "question": "Q", "response": "R", "human_score": 250, "reviewer": "r"},
        {
            "id": "p",
            "image": "imgs/0.png",
            "question": "Q",
            "response_a": "A",
            "response_b": "B",
            "human_preference": "D",  # no file spells a preference so (C is MLLM-as-a-Judge's tie)
            "reviewer": "r",
        },
        {"id": 5, "image": "imgs/0.png", "question": {"nested": 1}, "response": "R"},
    ]
    return write_jsonl(tmp_path / "bad.jsonl", lines), folder


def test_every_problem_is_named_and_nothing_is_written(tmp_path: Path, media_root: Path) -> None:
    path, folder = malformed(tmp_path)
    report = items_import(dataset=DatasetFactory(), path=path, images=folder)
    found = {(p.row, p.field) for p in report.problems}
    assert not report.ok
    expected = {
        (2, "line"),
        (3, "line"),
        (4, "id"),
        (5, "image"),
        (6, "image"),
        (7, "image"),
        (8, "image"),
        (9, "image"),
        (10, "response"),
        (10, "question"),
        (11, "human_score"),
        (12, "human_preference"),
        (13, "question"),
    }
    assert expected <= found, sorted(found)
    messages = " ".join(str(p) for p in report.problems)
    for words in (
        "not valid JSON",
        "also the id of row 1",
        "pixels",
        "not an image",
        "truncated",
        "not in folder",
        "outside the image folder",
        "outside 0-100",
        "'D' is not a preference profile pairwise takes (A, B or tie)",
        "must be text",
    ):
        assert words in messages, words
    assert_nothing_written(media_root)


def test_a_report_lists_the_first_hundred_then_a_count(tmp_path: Path) -> None:
    data = [{"id": f"n{i}", "image": "imgs/0.png", "question": "", "response": "R"} for i in range(250)]
    report = items_import(
        dataset=DatasetFactory(), path=write_jsonl(tmp_path / "e.jsonl", data), images=image_folder(tmp_path, 1)
    )
    assert (len(report.problems), report.problem_count) == (100, 250)
    assert "the first 100 are listed, 150 more" in report.summary()


def test_ids_already_in_the_dataset_are_refused(tmp_path: Path, media_root: Path) -> None:
    dataset = DatasetFactory()
    ItemFactory(dataset=dataset, external_id="q2")
    files_before = stored_files(media_root)
    report = items_import(
        dataset=dataset, path=write_jsonl(tmp_path / "d.jsonl", rows(3)), images=image_folder(tmp_path, 3)
    )
    assert [str(p) for p in report.problems] == [f"row 3, id: dataset {dataset.name!r} already has 'q2' (--update)"]
    assert Item.objects.count() == 1
    assert stored_files(media_root) == files_before  # the images checked for this import were removed again


def zip_with(tmp_path: Path, name: str, data: bytes, *, symlink: bool = False) -> Path:
    archive = tmp_path / "hostile.zip"
    with zipfile.ZipFile(archive, "w") as z:
        info = zipfile.ZipInfo(name)
        if symlink:
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(info, data)
    return archive


@pytest.mark.parametrize(
    ("entry", "symlink", "message"),
    [
        ("../escape.png", False, "outside the image folder"),
        ("/etc/passwd", False, "not a relative path"),
        ("link.png", True, "symbolic link"),
    ],
)
def test_hostile_archives_are_refused_whole(tmp_path: Path, entry: str, symlink: bool, message: str) -> None:
    archive = zip_with(tmp_path, entry, b"/etc/passwd" if symlink else png_bytes(), symlink=symlink)
    data = [{"id": "a", "image": "x.png", "question": "Q", "response": "R"}]
    with pytest.raises(ValidationError, match=message):
        items_import(dataset=DatasetFactory(), path=write_jsonl(tmp_path / "a.jsonl", data), images=archive)
    assert Item.objects.count() == 0


def test_an_archive_that_expands_past_its_limit_is_refused(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.IMPORT_MAX_ARCHIVE_BYTES = 100_000
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros.png", b"\x00" * 1_000_000)  # a megabyte that compresses to a kilobyte
    data = [{"id": "a", "image": "zeros.png", "question": "Q", "response": "R"}]
    with pytest.raises(ValidationError, match="expands to more than 100,000 bytes"):
        items_import(dataset=DatasetFactory(), path=write_jsonl(tmp_path / "a.jsonl", data), images=archive)


def test_a_symlink_in_the_image_folder_is_refused(tmp_path: Path, media_root: Path) -> None:
    folder = image_folder(tmp_path, 1)
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes(colour=(5, 5, 5)))
    os.symlink(secret, folder / "imgs" / "link.png")
    data = [{"id": "a", "image": "imgs/link.png", "question": "Q", "response": "R"}]
    report = items_import(dataset=DatasetFactory(), path=write_jsonl(tmp_path / "a.jsonl", data), images=folder)
    assert "symbolic link" in str(report.problems[0])
    assert_nothing_written(media_root)


def test_malformed_csv_and_parquet_are_reported(tmp_path: Path) -> None:
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text('id,image,question,response\nq1,imgs/0.png,"Q",R,extra\n')
    report = items_import(dataset=DatasetFactory(), path=bad_csv, images=image_folder(tmp_path, 1))
    assert "has 5 cells, the header names 4" in str(report.problems[0])
    not_parquet = tmp_path / "x.parquet"
    not_parquet.write_bytes(b"PAR1 but not really")
    report = items_import(dataset=DatasetFactory(), path=not_parquet)
    assert "not a readable parquet file" in str(report.problems[0])
    wrong_columns = tmp_path / "w.parquet"
    pq.write_table(pa.table({"id": ["a"], "text": ["b"]}), wrong_columns)
    report = items_import(dataset=DatasetFactory(), path=wrong_columns)
    assert "lacks the llava-critic-113k columns" in str(report.problems[0])


def test_unknown_formats_are_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "items.xml"
    path.write_text("<items/>")
    with pytest.raises(ValueError, match="cannot tell the format"):
        items_import(dataset=DatasetFactory(), path=path)


def test_oversized_images_are_refused_in_folders_zips_and_data_uris(
    tmp_path: Path,
    settings,  # type: ignore[no-untyped-def]
    media_root: Path,
) -> None:
    settings.IMAGE_MAX_BYTES = 2_000
    big = png_bytes((300, 300), (1, 2, 3)) + b"\x00" * 3_000
    folder = image_folder(tmp_path, 0)
    (folder / "imgs" / "big.png").write_bytes(big)
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("big.png", big)
    uri = "data:image/png;base64," + base64.b64encode(big).decode()
    for images, ref in ((folder, "imgs/big.png"), (archive, "big.png"), (None, uri)):
        data = [{"id": "a", "image": ref, "question": "Q", "response": "R"}]
        report = items_import(dataset=DatasetFactory(), path=write_jsonl(tmp_path / "b.jsonl", data), images=images)
        assert "2,000 bytes" in str(report.problems[0]), report.problems
    assert_nothing_written(media_root)


def test_files_that_are_not_utf8_text_are_reported(tmp_path: Path) -> None:
    latin = tmp_path / "latin1.csv"
    latin.write_bytes(
        "id,image,question,response\nq1,imgs/0.png,Qu'est-ce que c'est \u00e9t\u00e9?,R\n".encode("latin-1")
    )
    report = items_import(dataset=DatasetFactory(), path=latin, images=image_folder(tmp_path, 1))
    assert "not UTF-8 text" in str(report.problems[0])
    binary = tmp_path / "rows.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage\n")
    report = items_import(dataset=DatasetFactory(), path=binary)
    assert "row 1, line: is not valid JSON" in str(report.problems[0])
