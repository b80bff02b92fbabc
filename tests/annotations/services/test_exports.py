"""Training exports on a real small dataset: every format, what is chosen and left out, the manifest, merging."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from annotations.importers.formats import parse_critic_prompt
from annotations.models import CriticVerdict, HumanVerdict, JobStatus, TrainingExport
from annotations.services.exports import (
    HF_FEATURES,
    PARQUET_SCHEMA,
    training_export_create,
    training_export_run,
)
from critic_worker.profiles import PROFILES, PromptInput, Verdict, user_turn
from tests.export_world import build_export_world
from tests.images import png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return build_export_world()


def run_export(world: dict[str, Any], fmt: str, **kwargs: Any) -> TrainingExport:
    export = training_export_create(dataset=world["dataset"], fmt=fmt, user=world["admin"], **kwargs)
    done = training_export_run(export_id=export.pk)
    assert done is not None
    assert done.status == JobStatus.DONE, done.error
    return done


def read_rows(export: TrainingExport, media_root: Path) -> list[dict[str, Any]]:
    """Every format's rows as {id, human, gpt, image: bytes} (and the DPO fields), read the way a trainer would."""
    folder = media_root / export.path
    data = folder / export.manifest["data_file"]
    rows = []
    if export.format == "llava-critic-parquet":
        for row in pq.read_table(data).to_pylist():
            human_turn, gpt_turn = row["conversations"]
            rows.append(
                {
                    "id": row["id"],
                    "human": human_turn,
                    "gpt": gpt_turn,
                    "image": row["image"]["bytes"],
                    "source": row["source"],
                }
            )
    elif export.format == "llava-json":
        for row in json.loads(data.read_text()):
            human_turn, gpt_turn = row["conversations"]
            rows.append(
                {
                    "id": row["id"],
                    "human": human_turn,
                    "gpt": gpt_turn,
                    "image": (folder / "images" / row["image"]).read_bytes(),
                }
            )
    else:
        for line in data.read_text().splitlines():
            row = json.loads(line)
            rows.append(
                {
                    "id": row["id"],
                    "human": {"from": "human", "value": row["prompt"]},
                    "gpt": {"from": "gpt", "value": row["chosen"]},
                    "image": (folder / "images" / row["image"]).read_bytes(),
                    "rejected": row["rejected"],
                    "answer": row["answer"],
                }
            )
    return rows


FORMATS = ["llava-critic-parquet", "llava-json", "dpo-jsonl"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_holds_exactly_the_corrected_disagreements(world, media_root: Path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    export = run_export(world, fmt)
    rows = read_rows(export, media_root)
    expected = world["expected"]
    assert sorted(r["id"] for r in rows) == sorted(expected)
    items = {i.external_id: i for i in world["dataset"].items.select_related("image")}
    for row in rows:
        external_id, family = row["id"].rsplit("__", 1)
        item = items[external_id]
        spec = PROFILES[family]
        assert family == item.profile
        # the human turn is the prompt the critic saw, and the gpt turn reads back as the people's verdict
        prompt = PromptInput(item.question, item.response_a, item.response_b, item.reference)
        assert row["human"] == {"from": "human", "value": user_turn(spec, prompt)}
        assert row["human"]["value"].startswith("<image>\n")
        assert row["gpt"]["from"] == "gpt"
        assert spec.parse(row["gpt"]["value"]) == expected[row["id"]]
        assert row["image"] == item.image.normalized.read()  # the rendition everyone saw, not the original
        item.image.normalized.close()
        if fmt == "dpo-jsonl":
            assert (
                row["rejected"]
                == f"raw: {CriticVerdict.objects.get(item=item, checkpoint=world['checkpoint']).justification}"
            )
            assert spec.parse(row["answer"]) == Verdict(
                score=expected[row["id"]].score, preference=expected[row["id"]].preference
            )
    assert not any(r["id"].startswith("g6") for r in rows), "gold items are never exported"


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_manifest_counts_and_hashes_the_files(world, media_root: Path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    export = run_export(world, fmt)
    manifest = export.manifest
    folder = media_root / export.path
    assert json.loads((folder / "manifest.json").read_text()) == manifest
    assert manifest["export"] == export.number
    assert manifest["dataset"] == "charts"
    assert manifest["source_checkpoint"]["name"] == "critic-7b"
    assert manifest["filters"]["only_disagreements"] is True
    assert manifest["counts"]["rows"] == 4
    assert manifest["counts"]["per_profile"] == {"llava-bench": 1, "pairwise": 1, "pointwise": 1, "wildvision": 1}
    assert manifest["left_out"] == {
        "agreements": 1,
        "gold_split": 1,
        "no_critic_verdict": 1,
        "reviewers_disagree": 1,
    }
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == entry["sha256"]
    if manifest["image_folder"]:
        for image in (folder / "images").iterdir():
            assert hashlib.sha256(image.read_bytes()).hexdigest() == image.stem
        assert manifest["counts"]["images"] == 2  # four rows share two distinct images, each stored once
    assert manifest["created_by"] == "ada"


def test_agreements_come_too_when_asked(world, media_root: Path) -> None:  # type: ignore[no-untyped-def]
    export = run_export(world, "llava-json", include_agreements=True)
    rows = read_rows(export, media_root)
    assert "c5__caption" in {r["id"] for r in rows}
    caption = next(r for r in rows if r["id"] == "c5__caption")
    assert PROFILES["caption"].parse(caption["gpt"]["value"]) == Verdict(score=80, justification="Fine caption.")
    assert export.manifest["counts"]["agreements"] == {"caption": 1}
    assert "agreements" not in export.manifest["left_out"]


def test_dpo_takes_an_agreement_only_when_its_reasons_were_corrected(world, media_root: Path) -> None:  # type: ignore[no-untyped-def]
    export = run_export(world, "dpo-jsonl", include_agreements=True)
    assert "c5__caption" not in {r["id"] for r in read_rows(export, media_root)}
    assert export.manifest["left_out"]["agreements_without_corrected_justification"] == 1


def test_the_parquet_has_the_llava_critic_113k_features(world, media_root: Path) -> None:  # type: ignore[no-untyped-def]
    export = run_export(world, "llava-critic-parquet")
    path = media_root / export.path / "train.parquet"
    schema = pq.read_schema(path)
    assert schema.names == ["id", "source", "conversations", "image"]
    assert schema.remove_metadata() == PARQUET_SCHEMA.remove_metadata()
    assert str(schema.field("conversations").type) == "list<element: struct<from: string, value: string>>"
    assert str(schema.field("image").type) == "struct<bytes: binary, path: string>"
    assert json.loads(schema.metadata[b"huggingface"])["info"]["features"] == HF_FEATURES
    table = pq.read_table(path)
    assert set(table.column("source").to_pylist()) == {"critic-desk:charts"}
    shas = set(world["dataset"].items.values_list("image__normalized_sha256", flat=True))
    for image in table.column("image").to_pylist():
        sha, _, ext = image["path"].partition(".")
        assert sha in shas
        assert ext == "png"  # the renditions, whatever the originals were (the world has a JPEG)
        assert hashlib.sha256(image["bytes"]).hexdigest() == sha


def test_the_importer_reads_an_exported_prompt_back(world, media_root: Path) -> None:  # type: ignore[no-untyped-def]
    export = run_export(world, "llava-json")
    rows = {r["id"]: r for r in read_rows(export, media_root)}
    parsed = parse_critic_prompt(rows["w2__pairwise"]["human"]["value"])
    assert parsed is not None
    assert (parsed.question, parsed.response_a, parsed.response_b) == (
        "How many circles are there?",
        "Three circles.",
        "Four circles.",
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_merging_keeps_one_row_per_id_and_ours_win(world, media_root: Path, tmp_path: Path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    first = run_export(world, fmt)
    theirs = tmp_path / f"theirs-{first.manifest['data_file']}"
    theirs.write_bytes((media_root / first.path / first.manifest["data_file"]).read_bytes())
    # a newer correction of p1 in this app: the merged file must carry it, not the old row
    HumanVerdict.objects.filter(item__external_id="p1").update(
        revised_score=5, revised_at=timezone.now(), rationale="Nothing is right."
    )
    # Their own row, twice, with an image of theirs in the images/ folder beside their file (as ours lay it out).
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "old-9.png").write_bytes(png_bytes(colour=(1, 2, 3)))
    if fmt == "dpo-jsonl":
        extra = {"id": "old_9__pointwise", "image": "old-9.png", "prompt": "p", "chosen": "c", "rejected": "r"}
        with theirs.open("a") as f:
            f.write(json.dumps({**extra, "answer": "a"}) + "\n" + json.dumps({**extra, "answer": "a"}) + "\n")
    elif fmt == "llava-json":
        rows = json.loads(theirs.read_text())
        extra = {"id": "old_9__pointwise", "image": "old-9.png", "conversations": rows[0]["conversations"]}
        theirs.write_text(json.dumps([*rows, extra, extra]))
    merged = run_export(world, fmt, merge_with=str(theirs))
    rows = read_rows(merged, media_root) if fmt != "dpo-jsonl" else None
    data = media_root / merged.path / merged.manifest["data_file"]
    if fmt == "llava-critic-parquet":
        ids = pq.read_table(data).column("id").to_pylist()
    elif fmt == "llava-json":
        ids = [r["id"] for r in json.loads(data.read_text())]
    else:
        ids = [json.loads(line)["id"] for line in data.read_text().splitlines()]
    assert len(ids) == len(set(ids))
    with_files = fmt != "llava-critic-parquet"  # parquet rows carry their image bytes
    expected_ids = set(world["expected"]) | ({"old_9__pointwise"} if with_files else set())
    assert set(ids) == expected_ids
    info = merged.manifest["merged_with"]
    assert info["policy"] == "ours win"
    assert info["rows_replaced_by_ours"] == 4
    assert info["rows_kept"] == (1 if with_files else 0)
    assert info["duplicate_ids_dropped"] == (1 if with_files else 0)
    if with_files:  # their image came along: the merged snapshot stands on its own
        copied = media_root / merged.path / "images" / "old-9.png"
        assert copied.read_bytes() == (tmp_path / "images" / "old-9.png").read_bytes()
    if rows is not None:
        p1 = next(r for r in rows if r["id"] == "p1__pointwise")
        assert PROFILES["pointwise"].parse(p1["gpt"]["value"]).score == 5


@pytest.mark.parametrize("image", ["missing.png", "../outside.png", "/etc/passwd"])
def test_a_merge_whose_images_are_not_beside_it_is_refused(world, tmp_path: Path, image: str) -> None:  # type: ignore[no-untyped-def]
    theirs = tmp_path / "theirs.jsonl"
    (tmp_path / "outside.png").write_bytes(png_bytes())
    row = {"id": "old_1__pointwise", "image": image, "prompt": "p", "chosen": "c", "rejected": "r", "answer": "a"}
    theirs.write_text(json.dumps(row) + "\n")
    export = training_export_create(dataset=world["dataset"], fmt="dpo-jsonl", merge_with=str(theirs))
    training_export_run(export_id=export.pk)
    export.refresh_from_db()
    assert export.status == "failed"
    assert image in export.error


def test_exports_are_numbered_and_immutable(world, media_root: Path) -> None:  # type: ignore[no-untyped-def]
    one = run_export(world, "dpo-jsonl")
    two = run_export(world, "dpo-jsonl")
    assert two.number == one.number + 1
    assert (media_root / one.path) != (media_root / two.path)
    assert training_export_run(export_id=one.pk) is None  # a repeated message writes nothing again


def test_bad_requests_are_refused_and_change_nothing(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="Unknown format"):
        training_export_create(dataset=world["dataset"], fmt="csv")
    with pytest.raises(ValidationError, match="is not a file"):
        training_export_create(dataset=world["dataset"], fmt="llava-json", merge_with=str(tmp_path / "nope.json"))
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"id": 1}\n')
    with pytest.raises(ValidationError, match="not a JSON list"):
        training_export_create(dataset=world["dataset"], fmt="llava-json", merge_with=str(wrong))
    assert not TrainingExport.objects.exists()


def test_a_failed_export_says_why_and_leaves_no_files(world, media_root: Path) -> None:  # type: ignore[no-untyped-def]
    export = training_export_create(dataset=world["dataset"], fmt="llava-json")
    (media_root / world["dataset"].items.get(external_id="p1").image.normalized.name).unlink()
    done = training_export_run(export_id=export.pk)
    assert done is not None
    assert done.status == JobStatus.FAILED
    assert "No such file" in done.error
    assert not (media_root / "exports" / str(export.number)).exists()
    assert not list((media_root / "exports").glob(".*"))


@pytest.mark.parametrize("fmt", ["llava-json", "dpo-jsonl"])
def test_the_json_is_what_json_dumps_writes(world, media_root: Path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    tricky = 'Quotes " and \\ and\nnew lines, é, 漢字 </script>.'
    HumanVerdict.objects.filter(item__external_id="p1").update(rationale=tricky)
    export = run_export(world, fmt)
    text = (media_root / export.path / export.manifest["data_file"]).read_text()
    if fmt == "llava-json":
        rows = json.loads(text)
        assert text == "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n]\n"
    else:
        rows = [json.loads(line) for line in text.splitlines()]
        assert text == "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    p1 = next(r for r in rows if r["id"] == "p1__pointwise")
    gpt = p1["chosen"] if fmt == "dpo-jsonl" else p1["conversations"][1]["value"]
    assert PROFILES["pointwise"].parse(gpt) == Verdict(score=20, justification=tricky)
