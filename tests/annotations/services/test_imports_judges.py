"""Another judge's verdicts from a plain file: JSONL and CSV rows name a judge (an external checkpoint, created
when missing) with a score, a preference or its raw text, checked with the rest of the batch, and measured like
any critic afterwards."""

from __future__ import annotations

import base64
import csv
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from scipy import stats

from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, ImportJob, Item
from annotations.services.import_jobs import import_job_create, import_job_run
from annotations.services.imports import items_import
from annotations.services.tokens import api_token_create
from tests.annotations.services.import_files import image_folder, write_jsonl
from tests.factories import AdminFactory, DatasetFactory
from tests.images import png_bytes

pytestmark = pytest.mark.django_db


def point(i: int, **judge: Any) -> dict[str, Any]:
    return {"id": f"p{i}", "image": "imgs/0.png", "question": f"Q{i}?", "response": f"R{i}", **judge}


def pair(i: int, **judge: Any) -> dict[str, Any]:
    return {"id": f"w{i}", "image": "imgs/0.png", "question": f"Q{i}?", "response_a": "A", "response_b": "B", **judge}


def test_each_way_of_giving_a_judges_verdict_is_stored_as_that_judges(tmp_path: Path) -> None:
    rows = [
        point(0, judge="gpt-4o", judge_score=80, judge_confidence=0.9),
        pair(1, judge="gpt-4o", judge_preference="B"),
        point(2, judge="gpt-4o", judge_output="Clear and right. Score: 55/100"),
        point(3, judge="gpt-4o", judge_output="I would rather not say."),
        pair(
            4,
            judges=[
                {"judge": "gpt-4o", "judge_output": "The first response is better."},
                {"name": "gemini", "preference": "tie", "confidence": 0.4},
            ],
        ),
    ]
    report = items_import(
        dataset=DatasetFactory(), path=write_jsonl(tmp_path / "j.jsonl", rows), images=image_folder(tmp_path, 1)
    )
    assert report.ok, report.problems
    assert set(CriticCheckpoint.objects.values_list("name", "is_external")) == {("gpt-4o", True), ("gemini", True)}

    def verdict(item: str, judge: str = "gpt-4o") -> CriticVerdict:
        return CriticVerdict.objects.get(item__external_id=item, checkpoint__name=judge)

    assert (verdict("p0").status, verdict("p0").score, verdict("p0").confidence) == ("done", 80, 0.9)
    assert verdict("w1").preference == "B"
    assert (verdict("p2").score, verdict("p2").raw_output) == (55, "Clear and right. Score: 55/100")
    unreadable = verdict("p3")
    assert (unreadable.status, unreadable.raw_output) == ("failed", "I would rather not say.")
    assert "no verdict profile pointwise can read" in unreadable.error
    assert (verdict("w4").preference, verdict("w4", "gemini").preference) == ("A", "tie")
    assert verdict("w4", "gemini").confidence == 0.4
    assert report.judges == {"gpt-4o": {"verdicts": 5, "unreadable": 1}, "gemini": {"verdicts": 1, "unreadable": 0}}
    assert "gemini 1 (0 unreadable), gpt-4o 5 (1 unreadable)" in report.summary()


def test_csv_rows_give_judges_in_columns_or_as_a_json_list(tmp_path: Path) -> None:
    out = StringIO()
    writer = csv.DictWriter(out, ["id", "image", "question", "response", "judge", "judge_score", "judges"])
    writer.writeheader()
    writer.writerow(
        {"id": "a", "image": "imgs/0.png", "question": "Q", "response": "R", "judge": "j1", "judge_score": "70"}
    )
    writer.writerow(
        {
            "id": "b",
            "image": "imgs/0.png",
            "question": "Q",
            "response": "R",
            "judges": json.dumps([{"judge": "j1", "judge_score": 20}, {"judge": "j2", "judge_score": 30}]),
        }
    )
    (tmp_path / "j.csv").write_text(out.getvalue())
    report = items_import(dataset=DatasetFactory(), path=tmp_path / "j.csv", images=image_folder(tmp_path, 1))
    assert report.ok, report.problems
    scores = set(CriticVerdict.objects.values_list("item__external_id", "checkpoint__name", "score"))
    assert scores == {("a", "j1", 70), ("b", "j1", 20), ("b", "j2", 30)}


def test_bad_judge_fields_are_named_by_row_and_field_and_nothing_is_written(tmp_path: Path) -> None:
    CriticCheckpoint.objects.create(name="our-critic", model="some/model")
    rows = [
        point(0, judge="j", judge_score=250),
        point(1, judge="j", judge_preference="A"),
        pair(2, judge="j", judge_score=3),
        pair(3, judge="j", judge_preference="D"),
        point(4, judge="j", judge_score=50, judge_output="Score: 50"),
        point(5, judge="j", judge_score=50, judge_confidence=1.5),
        point(6, judge_score=50),
        point(7, judges=[{"judge": "j", "judge_score": 1}, {"judge": "j", "judge_score": 2}]),
        point(8, judges=[{"judge": "j"}]),
        point(9, judges="not json"),
        point(10, judge="our-critic", judge_score=50),
        point(11, judges=[{"judge": "j", "score": 5}]),
    ]
    report = items_import(
        dataset=DatasetFactory(), path=write_jsonl(tmp_path / "j.jsonl", rows), images=image_folder(tmp_path, 1)
    )
    problems = [str(p) for p in report.problems]
    expected = [
        "row 1, judge: j: score 250 is outside 0-100",
        "row 2, judge: j: profile pointwise takes a score, not a preference",
        "row 3, judge: j: profile pairwise takes a preference, not a score",
        "row 4, judge: j: 'D' is not a preference profile pairwise takes (A, B or tie)",
        "row 5, judge: a judge's verdict needs one of judge_score, judge_preference or judge_output, not judge_score "
        "and judge_output",
        "row 6, judge: judge_confidence 1.5 is not a probability between 0 and 1",
        "row 7, judge: names no judge",
        "row 8, judges: one judge gives an item one verdict: a judge is named twice",
        "row 9, judges[1]: a judge's verdict needs one of",
        "row 10, judges: is not a JSON list",
        "row 11, judge: 'our-critic' is a critic checkpoint run here, not an external judge",
        "row 12, judges[1]: use judge/judge_score/... or name/score/..., not both",
    ]
    assert len(problems) == len(expected), problems
    for found, wanted in zip(sorted(problems, key=lambda p: int(p.split(",")[0][4:])), expected, strict=True):
        assert found.startswith(wanted), (found, wanted)
    assert Item.objects.count() == 0
    assert list(CriticCheckpoint.objects.values_list("name", flat=True)) == ["our-critic"]


def test_an_existing_external_judge_is_reused_and_measured_as_a_checkpoint(tmp_path: Path) -> None:
    CriticCheckpoint.objects.create(name="gemini", is_external=True)
    humans = [10, 30, 35, 60, 80, 95]
    judged = [20, 25, 50, 55, 90, 85]
    rows = [
        point(i, human_score=h, reviewer="ann", judge="gemini", judge_score=j)
        for i, (h, j) in enumerate(zip(humans, judged, strict=True))
    ]
    dataset = DatasetFactory(name="scores")
    report = items_import(
        dataset=dataset, path=write_jsonl(tmp_path / "j.jsonl", rows), images=image_folder(tmp_path, 1)
    )
    assert report.ok, report.problems
    assert CriticCheckpoint.objects.filter(name="gemini").count() == 1
    out = StringIO()
    call_command("critic_metrics", "--dataset", "scores", "--checkpoint", "gemini", "--json", stdout=out)
    metrics = json.loads(out.getvalue())
    assert metrics["checkpoint"]["is_external"] is True
    assert metrics["pointwise"]["n"] == 6
    assert metrics["pointwise"]["pearson"]["value"] == pytest.approx(stats.pearsonr(judged, humans).statistic)


def test_the_cli_and_an_import_job_take_judges_from_the_file(tmp_path: Path, admin_client: Client) -> None:
    rows = [point(0, judge="cli-judge", judge_score=40)]
    path = write_jsonl(tmp_path / "j.jsonl", rows)
    out = StringIO()
    call_command("import_items", str(path), "--dataset", "cli", "--images", str(image_folder(tmp_path, 1)), stdout=out)
    assert "cli-judge 1 (0 unreadable)" in out.getvalue()

    data = (
        path.read_bytes()
        .replace(b"cli-judge", b"job-judge")
        .replace(b"imgs/0.png", b"data:image/png;base64," + _png_b64())
    )
    job = import_job_create(
        dataset=DatasetFactory(),
        user=AdminFactory(),  # importing verdicts is for administrators
        data_file=SimpleUploadedFile("j.jsonl", data),
    )
    finished = import_job_run(job_id=job.pk)
    assert finished is not None
    assert finished.status == "done", finished.error
    assert finished.report["judges"] == {"job-judge": {"verdicts": 1, "unreadable": 0}}
    assert CriticVerdict.objects.get(checkpoint__name="job-judge").score == 40
    page = admin_client.get(f"/imports/{job.pk}/").content.decode()  # the result page counts them
    assert "<td>judge verdicts</td><td>job-judge</td><td>1</td>" in page
    assert "<td>items</td><td>pointwise</td><td>1</td>" in page  # the kind, and its profile only when named otherwise


def test_the_import_page_offers_the_whole_prompt_option(admin_client: Client) -> None:
    dataset = DatasetFactory()
    page = admin_client.get(f"/datasets/{dataset.pk}/import/").content.decode()
    assert "judge_output" in page
    assert 'name="whole_prompt"' in page
    upload = SimpleUploadedFile("rows.parquet", b"PAR1")
    admin_client.post(f"/datasets/{dataset.pk}/import/", {"data_file": upload, "format": "auto", "whole_prompt": "on"})
    assert ImportJob.objects.get().whole_prompt is True


def _png_b64() -> bytes:
    return base64.b64encode(png_bytes(colour=(5, 6, 7)))


def test_the_api_imports_a_file_with_judges_verdicts(admin) -> None:  # type: ignore[no-untyped-def]
    dataset = DatasetFactory()
    uri = "data:image/png;base64," + _png_b64().decode()
    rows = [pair(0, image=uri, judges=[{"judge": "gpt-4o", "judge_preference": "A", "judge_confidence": 0.7}])]
    headers = {"Authorization": f"Bearer {api_token_create(user=admin)}"}
    upload = SimpleUploadedFile("rows.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())
    response = Client().post(f"/api/datasets/{dataset.pk}/imports", {"data_file": upload}, headers=headers)
    assert response.status_code == 202, response.content
    job_id = json.loads(response.content)["id"]
    import_job_run(job_id=job_id)  # what the default worker does
    body = json.loads(Client().get(f"/api/imports/{job_id}", headers=headers).content)
    assert body["status"] == "done", body
    assert body["report"]["judges"] == {"gpt-4o": {"verdicts": 1, "unreadable": 0}}
    assert body["report"]["items"] == {"pairwise": {"pairwise": 1}}
    judged = CriticVerdict.objects.get(checkpoint__name="gpt-4o")
    assert (judged.preference, judged.confidence) == ("A", 0.7)


def _unnamed_judge_rows() -> SimpleUploadedFile:
    """Two rows with a judge's raw output and no judge's name (a spreadsheet of one judge's outputs)."""
    uri = "data:image/png;base64," + _png_b64().decode()
    rows = [point(0, image=uri, judge_output="Score: 70"), point(1, image=uri, judge_output="I rate it 4 out of 5.")]
    return SimpleUploadedFile("rows.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())


def test_the_import_page_and_the_api_name_the_judge_of_rows_that_name_none(admin, reviewer) -> None:  # type: ignore[no-untyped-def]
    """As `import_items --judge`: without it such rows are refused ("names no judge"); with it their verdicts are
    that judge's. Reviewers (who may not import verdicts) are not offered the field."""
    dataset = DatasetFactory()
    page = Client()
    page.force_login(admin)
    assert 'name="judge"' in page.get(f"/datasets/{dataset.pk}/import/").content.decode()
    response = page.post(f"/datasets/{dataset.pk}/import/", {"data_file": _unnamed_judge_rows(), "format": "auto"})
    unnamed = import_job_run(job_id=ImportJob.objects.get().pk)
    assert unnamed is not None
    assert unnamed.status == "failed"
    assert "names no judge" in " ".join(unnamed.report["problems"])
    response = page.post(
        f"/datasets/{dataset.pk}/import/", {"data_file": _unnamed_judge_rows(), "format": "auto", "judge": " gpt-4v "}
    )
    assert response.status_code == 302
    named = import_job_run(job_id=ImportJob.objects.latest("pk").pk)
    assert named is not None
    assert (named.status, named.judge) == ("done", "gpt-4v")
    assert sorted(CriticVerdict.objects.filter(checkpoint__name="gpt-4v").values_list("score", flat=True)) == [70, 80]

    headers = {"Authorization": f"Bearer {api_token_create(user=admin)}"}
    other = DatasetFactory()
    form = {"data_file": _unnamed_judge_rows(), "judge": "gemini-1.5"}
    response = Client().post(f"/api/datasets/{other.pk}/imports", form, headers=headers)
    assert response.status_code == 202, response.content
    assert import_job_run(job_id=json.loads(response.content)["id"]).status == "done"  # type: ignore[union-attr]
    assert CriticVerdict.objects.filter(checkpoint__name="gemini-1.5", item__dataset=other).count() == 2

    page.force_login(reviewer)
    assert 'name="judge"' not in page.get(f"/datasets/{dataset.pk}/import/").content.decode()


def test_the_command_says_it_created_a_dataset_only_when_the_dataset_is_kept(tmp_path: Path) -> None:
    """A failed import removes the dataset it made for the file: the command said "Created dataset" all the same."""
    images = str(image_folder(tmp_path, 1))
    bad = write_jsonl(tmp_path / "bad.jsonl", [point(0, judge="j", judge_score=400)])  # out of the 0-100 range
    out = StringIO()
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_items", str(bad), "--dataset", "fresh", "--images", images, stdout=out, stderr=StringIO())
    assert "Created dataset" not in out.getvalue()
    assert not Dataset.objects.filter(name="fresh").exists()
    good = write_jsonl(tmp_path / "good.jsonl", [point(0)])
    call_command("import_items", str(good), "--dataset", "fresh", "--images", images, stdout=out)
    assert "Created dataset 'fresh'." in out.getvalue()
