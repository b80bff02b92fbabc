"""Files from the field: empty files, spreadsheets saved with semicolons or tabs, byte-order marks and CRLF, zip
archives made by macOS Finder, and a report that counts what came in by kind and profile."""

from __future__ import annotations

import csv
import json
import unicodedata
import zipfile
from pathlib import Path

import pytest

from annotations.models import Item
from annotations.services.imports import items_import
from tests.annotations.services.import_files import image_folder, write_llava_json, write_parquet
from tests.factories import DatasetFactory
from tests.images import png_bytes

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.jsonl", b""),
        ("blank.jsonl", b"\n\n  \n"),
        ("empty.csv", b""),
        ("header-only.csv", b"id,image,question,response\r\n"),
        ("empty.json", b"[]"),
        ("nothing.json", b""),
        ("blank.json", b" \r\n\t\n"),
        ("bom-only.json", b"\xef\xbb\xbf"),
    ],
)
def test_an_empty_file_is_an_error_not_zero_rows_imported(tmp_path: Path, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    report = items_import(dataset=DatasetFactory(), path=tmp_path / name)
    assert not report.ok
    assert [str(p) for p in report.problems] == ["file: has no rows: nothing to import"]
    assert report.summary() == "Nothing was imported: the file has no rows"


def test_an_empty_parquet_file_is_an_error(tmp_path: Path) -> None:
    report = items_import(dataset=DatasetFactory(), path=write_parquet(tmp_path / "e.parquet", []))
    assert [str(p) for p in report.problems] == ["file: has no rows: nothing to import"]


@pytest.mark.parametrize(("delimiter", "suffix"), [(";", ".csv"), ("\t", ".csv"), ("\t", ".tsv"), ("|", ".csv")])
def test_spreadsheets_saved_with_other_delimiters_a_bom_and_crlf_are_read(
    tmp_path: Path, delimiter: str, suffix: str
) -> None:
    lines = [
        ["id", "image", "question", "response", "human_score", "reviewer"],
        ["a", "imgs/0.png", "Wie viele, genau?", "Zwei; vielleicht drei", "42.5", "ann"],
        ["b", "imgs/0.png", "Q2", "R2", "", ""],
    ]
    text = "\r\n".join(delimiter.join(cells) for cells in lines) + "\r\n"
    text = text.replace("Zwei; vielleicht drei", '"Zwei; vielleicht drei"')  # quoted, as Excel quotes such cells
    path = tmp_path / f"items{suffix}"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    report = items_import(dataset=DatasetFactory(), path=path, images=image_folder(tmp_path, 1))
    assert report.ok, report.problems
    item = Item.objects.get(external_id="a")  # the BOM is not part of the first column's name
    assert (item.question, item.response_a) == ("Wie viele, genau?", "Zwei; vielleicht drei")
    assert item.human_verdicts.get().score == 42.5


def test_a_header_no_delimiter_makes_sense_of_is_refused_with_a_message_about_the_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("identifier:picture:query\nq1:a.png:What?\n")
    report = items_import(dataset=DatasetFactory(), path=path)
    assert len(report.problems) == 1
    message = str(report.problems[0])
    assert message.startswith("row 1, header: the header line 'identifier:picture:query' names none of the import")
    assert "comma, semicolon, tab, vertical bar" in message
    assert "is required" not in message  # not a list of missing fields


def test_a_jsonl_and_a_llava_json_file_with_a_bom_and_crlf_are_read(tmp_path: Path) -> None:
    folder = image_folder(tmp_path, 1)
    jsonl = tmp_path / "w.jsonl"
    jsonl.write_bytes(b'\xef\xbb\xbf{"id": "a", "image": "imgs/0.png", "question": "Q", "response": "R"}\r\n')
    assert items_import(dataset=DatasetFactory(), path=jsonl, images=folder).ok
    llava = write_llava_json(
        tmp_path / "w.json",
        [
            {
                "id": "b",
                "image": "imgs/0.png",
                "conversations": [{"from": "human", "value": "<image>\nQ"}, {"from": "gpt", "value": "A"}],
            }
        ],
    )
    llava.write_bytes(b"\xef\xbb\xbf" + llava.read_bytes().replace(b"\n", b"\r\n"))
    report = items_import(dataset=DatasetFactory(), path=llava, images=folder)
    assert report.ok, report.problems


def finder_zip(path: Path, names: dict[str, bytes]) -> Path:
    """A zip as macOS Finder writes one: names in decomposed Unicode (NFD), UTF-8 bytes without the UTF-8 flag, and
    `__MACOSX/._name` resource forks beside each file."""
    placeholders = {}
    with zipfile.ZipFile(path, "w") as archive:
        for i, (name, data) in enumerate(names.items()):
            raw = unicodedata.normalize("NFD", name).encode("utf-8")
            stand_in = "QXJZ"[i] * len(raw)  # ASCII of the same length, so zipfile sets no flag; patched below
            placeholders[stand_in.encode()] = raw
            archive.writestr(stand_in, data)
            archive.writestr(f"__MACOSX/._{i}", b"\x00\x05\x16\x07 not an image")
    content = path.read_bytes()
    for stand_in, raw in placeholders.items():
        assert content.count(stand_in) == 2  # the local header and the central directory
        content = content.replace(stand_in, raw)
    path.write_bytes(content)
    return path


def test_zip_entries_made_by_macos_finder_match_the_names_in_the_rows(tmp_path: Path) -> None:
    names = {"Fotos/Café.png": png_bytes(colour=(1, 2, 3)), "Fotos/Größe.png": png_bytes(colour=(4, 5, 6))}
    archive = finder_zip(tmp_path / "finder.zip", names)
    with zipfile.ZipFile(archive) as z:  # what zipfile itself reads: cp437 mojibake, no flag
        assert all(not info.flag_bits & 0x800 for info in z.infolist())
        assert "Fotos/Café.png" not in z.namelist()
    rows = "".join(
        f'{{"id": "{i}", "image": "{unicodedata.normalize("NFC", name)}", "question": "Q", "response": "R"}}\n'
        for i, name in enumerate(names)
    )
    (tmp_path / "rows.jsonl").write_text(rows)
    report = items_import(dataset=DatasetFactory(), path=tmp_path / "rows.jsonl", images=archive)
    assert report.ok, report.problems
    assert report.images_new == 2


def test_a_folder_with_decomposed_names_matches_composed_names_in_the_rows(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / unicodedata.normalize("NFD", "Café.png")).write_bytes(png_bytes(colour=(1, 2, 3)))
    (tmp_path / "rows.jsonl").write_text('{"id": "a", "image": "imgs/Café.png", "question": "Q", "response": "R"}\n')
    report = items_import(dataset=DatasetFactory(), path=tmp_path / "rows.jsonl", images=tmp_path)
    assert report.ok, report.problems


def test_the_report_counts_items_by_kind_and_profile(tmp_path: Path) -> None:
    lines = [
        '{"id": "1", "image": "imgs/0.png", "question": "Q", "response": "R"}',
        '{"id": "2", "image": "imgs/0.png", "question": "Q", "response": "R", "profile": "caption"}',
        '{"id": "3", "image": "imgs/0.png", "question": "Q", "response": "R", "profile": "caption"}',
        '{"id": "4", "image": "imgs/0.png", "question": "Q", "response_a": "A", "response_b": "B"}',
    ]
    (tmp_path / "r.jsonl").write_text("\n".join(lines))
    report = items_import(dataset=DatasetFactory(), path=tmp_path / "r.jsonl", images=image_folder(tmp_path, 1))
    assert report.items == {"pointwise": {"pointwise": 1, "caption": 2}, "pairwise": {"pairwise": 1}}
    assert "(1 pairwise, 1 pointwise, 2 pointwise (caption))" in report.summary()


def test_jsonl_and_csv_rows_may_carry_earlier_turns_as_context(tmp_path: Path) -> None:
    turns = [{"role": "user", "text": "What is this?"}, {"role": "assistant", "text": "A cat."}]
    base = {"image": "imgs/0.png", "question": "Its colour?", "response": "Orange."}
    lines = [json.dumps({"id": "a", **base, "context": turns}), json.dumps({"id": "b", **base, "context": [{"x": 1}]})]
    (tmp_path / "c.jsonl").write_text("\n".join(lines))
    folder = image_folder(tmp_path, 1)
    report = items_import(dataset=DatasetFactory(), path=tmp_path / "c.jsonl", images=folder)
    assert [str(p) for p in report.problems] == ['row 2, context: turn 1 must be {"role": ..., "text": ...}']
    with (tmp_path / "c.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, ["id", *base, "context"])
        writer.writeheader()
        writer.writerow({"id": "a", **base, "context": json.dumps(turns)})
    report = items_import(dataset=DatasetFactory(), path=tmp_path / "c.csv", images=folder)
    assert report.ok, report.problems
    assert Item.objects.get().context == turns


def test_excels_unicode_text_export_is_read(tmp_path: Path) -> None:
    """Excel's "Unicode Text" export: UTF-16 with a byte-order mark, tab-separated, CRLF."""
    path = tmp_path / "excel.csv"
    path.write_text("id\timage\tquestion\tresponse\r\nä\timgs/0.png\tWas ist das?\tEin Bär.\r\n", encoding="utf-16")
    report = items_import(dataset=DatasetFactory(), path=path, images=image_folder(tmp_path, 1))
    assert report.ok, report.problems
    assert Item.objects.get(external_id="ä").response_a == "Ein Bär."


def test_a_llava_json_file_that_is_not_a_list_says_so(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text('{"id": "a", "image": "x.png", "conversations": []}')
    report = items_import(dataset=DatasetFactory(), path=tmp_path / "one.json")
    assert [str(p) for p in report.problems] == [
        "file: is not a JSON list of rows (LLaVA JSON is a list: [{...}, ...])"
    ]


def test_a_broken_llava_json_file_is_named_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "cut.json").write_text('[{"id": "a", "image": "x.png", "conversations": [')
    report = items_import(dataset=DatasetFactory(), path=tmp_path / "cut.json")
    assert not report.ok
    (problem,) = [str(p) for p in report.problems]
    assert problem.startswith("file: is not a JSON list of rows")
    assert "\n" not in problem


def test_progress_counts_spreadsheet_rows_not_lines(tmp_path: Path) -> None:
    """Cells with line breaks (as spreadsheets keep them, quoted) and UTF-16 text are rows as the reader counts them."""
    folder = image_folder(tmp_path, 1)
    lines = [["id", "image", "question", "response"]] + [
        [f"r{i}", "imgs/0.png", f"Zeile eins\nZeile zwei {i}", "Antwort;\r\nmehr"] for i in range(4)
    ]
    for name, encoding, delimiter in [("multi.csv", "utf-8-sig", ";"), ("excel.csv", "utf-16", "\t")]:
        with (tmp_path / name).open("w", newline="", encoding=encoding) as f:
            csv.writer(f, delimiter=delimiter, lineterminator="\r\n").writerows(lines)
        totals: set[int] = set()
        report = items_import(
            dataset=DatasetFactory(),
            path=tmp_path / name,
            images=folder,
            progress=lambda stage, done, total, seen=totals: seen.add(total),
        )
        assert report.ok, report.problems
        assert totals == {4}, name


def test_decimal_commas_in_semicolon_and_tab_spreadsheets_are_read(tmp_path: Path) -> None:
    """Excel in a decimal-comma locale separates cells with semicolons (or tabs) and writes 72,5: read as 72.5. With
    commas between cells a quoted "1,000" is ambiguous (a thousand, or one): it stays a problem."""
    folder = image_folder(tmp_path, 1)
    header = ["id", "image", "question", "response", "human_score", "reviewer", "judge", "judge_score",
              "judge_confidence"]  # fmt: skip
    cells = ["a", "imgs/0.png", "Q", "R", "72,5", "ann", "gpt-4o", "80,25", "0,9"]
    for name, delimiter in [("semi.csv", ";"), ("tab.csv", "\t")]:
        with (tmp_path / name).open("w", newline="", encoding="utf-8-sig") as f:
            csv.writer(f, delimiter=delimiter).writerows([header, cells])
        dataset = DatasetFactory()
        report = items_import(dataset=dataset, path=tmp_path / name, images=folder)
        assert report.ok, report.problems
        item = Item.objects.get(dataset=dataset)
        assert item.human_verdicts.get().score == 72.5
        judged = item.critic_verdicts.get()
        assert (judged.score, judged.confidence) == (80.25, 0.9)
    with (tmp_path / "comma.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, cells])
    refused = items_import(dataset=DatasetFactory(), path=tmp_path / "comma.csv", images=folder)
    assert ("human_score", "must be a number, not '72,5'") in [(p.field, p.message) for p in refused.problems]


def test_fields_the_import_does_not_know_are_counted_in_the_report_not_dropped_silently(tmp_path: Path) -> None:
    """A benchmark file's own columns (MLLM-as-a-Judge's score_id, original_dataset) and a misspelt label field are
    not imported; the report names each with the rows that had it, so a typo cannot lose labels unseen."""
    folder = image_folder(tmp_path, 1)
    rows = [
        {"id": "a", "image": "imgs/0.png", "question": "Q", "response": "R", "score_id": 7, "human_socre": 4},
        {"id": "b", "image": "imgs/0.png", "question": "Q", "response": "R", "score_id": 8},
    ]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = items_import(dataset=DatasetFactory(), path=tmp_path / "rows.jsonl", images=folder)
    assert report.ok, report.problems
    assert report.ignored_fields == {"score_id": 2, "human_socre": 1}
    assert "fields not imported: human_socre (1 row), score_id (2 rows)" in report.summary()


def test_spreadsheet_headers_are_read_whatever_their_case(tmp_path: Path) -> None:
    path = tmp_path / "caps.csv"
    path.write_bytes(b"\xef\xbb\xbfID;Image;Question;Response;Notes\r\nx1;imgs/0.png;Was?;Das.;checked\r\n")
    report = items_import(dataset=DatasetFactory(), path=path, images=image_folder(tmp_path, 1))
    assert report.ok, report.problems
    assert (Item.objects.get().external_id, Item.objects.get().question) == ("x1", "Was?")
    assert report.ignored_fields == {"Notes": 1}
