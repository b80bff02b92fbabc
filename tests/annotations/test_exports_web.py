"""Exports from the pages, the API, the Django admin and the command line: administrators only."""

from __future__ import annotations

import io
import json
import zipfile
from io import StringIO
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from annotations.models import JobStatus, TrainingExport
from annotations.services.exports import training_export_run
from annotations.services.tokens import api_token_create
from critic_worker.profiles import PROFILES
from tests.export_world import build_export_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return build_export_world()


def run_worker(export: TrainingExport) -> TrainingExport:
    """What the `default` worker does with the queued export (a real worker runs it in tests/integration)."""
    done = training_export_run(export_id=export.pk)
    assert done is not None
    return done


# -- pages ------------------------------------------------------------------------------------------------------


def test_an_admin_exports_from_the_page_and_downloads_it(world, admin_client: Client) -> None:  # type: ignore[no-untyped-def]
    page = admin_client.get(reverse("export-new"))
    assert page.status_code == 200
    assert b"Export a training set" in page.content
    response = admin_client.post(
        reverse("export-new"), {"dataset": world["dataset"].pk, "format": "llava-json", "include_agreements": ""}
    )
    export = TrainingExport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("export-detail", args=[export.pk])
    assert export.status == JobStatus.QUEUED
    assert export.created_by.username == "ada"

    waiting = admin_client.get(reverse("export-detail", args=[export.pk]), HTTP_HX_REQUEST="true")
    assert b"Waiting for a worker" in waiting.content
    assert b'hx-trigger="every 1s"' in waiting.content  # polls while it is not done

    run_worker(export)
    done = admin_client.get(reverse("export-detail", args=[export.pk]), HTTP_HX_REQUEST="true")
    assert b"hx-trigger" not in done.content  # and stops once it is
    assert b"4 rows" in done.content
    assert b"reviewers_disagree" in done.content
    assert reverse("export-download", args=[export.pk]).encode() in done.content

    archive = admin_client.get(reverse("export-download", args=[export.pk]))
    assert archive["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(b"".join(archive.streaming_content))) as z:
        names = set(z.namelist())
        rows = json.loads(z.read(f"export-{export.number}/train.json"))
    assert f"export-{export.number}/manifest.json" in names
    assert {f"export-{export.number}/images/{row['image']}" for row in rows} <= names

    data = admin_client.get(reverse("export-file", args=[export.pk, "train.json"]))
    assert json.loads(b"".join(data.streaming_content)) == rows
    assert admin_client.get(reverse("export-file", args=[export.pk, ".."])).status_code == 404

    listing = admin_client.get(reverse("export-list"))
    assert reverse("export-detail", args=[export.pk]).encode() in listing.content


def test_the_form_refuses_a_merge_with_another_format(world, admin_client: Client) -> None:  # type: ignore[no-untyped-def]
    admin_client.post(reverse("export-new"), {"dataset": world["dataset"].pk, "format": "dpo-jsonl"})
    first = run_worker(TrainingExport.objects.get())
    response = admin_client.post(
        reverse("export-new"), {"dataset": world["dataset"].pk, "format": "llava-json", "merge_with": first.pk}
    )
    assert response.status_code == 400
    assert b"merge only the same format" in response.content
    assert TrainingExport.objects.count() == 1


def test_a_failed_export_shows_why(world, admin_client: Client, media_root: Path) -> None:  # type: ignore[no-untyped-def]
    admin_client.post(reverse("export-new"), {"dataset": world["dataset"].pk, "format": "llava-json"})
    (media_root / world["dataset"].items.get(external_id="p1").image.normalized.name).unlink()
    export = run_worker(TrainingExport.objects.get())
    page = admin_client.get(reverse("export-detail", args=[export.pk]))
    assert b"The export failed" in page.content
    assert admin_client.get(reverse("export-download", args=[export.pk])).status_code == 404


def test_reviewers_cannot_export(world, reviewer_client: Client) -> None:  # type: ignore[no-untyped-def]
    response = reviewer_client.post(reverse("export-new"), {"dataset": world["dataset"].pk, "format": "llava-json"})
    assert response.status_code == 403
    assert not TrainingExport.objects.exists()


# -- the Django admin ---------------------------------------------------------------------------------------------


def test_the_dataset_admin_action_queues_an_export(world, admin_client: Client) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.post(
        reverse("admin:annotations_dataset_changelist"),
        {"action": "export_llava_critic_parquet", "_selected_action": [world["dataset"].pk]},
        follow=True,
    )
    export = TrainingExport.objects.get()
    assert export.format == "llava-critic-parquet"
    assert export.filters["only_disagreements"] is True
    shown = [str(m) for m in response.context["messages"]]
    link = reverse("export-detail", args=[export.pk])
    assert shown == [f'Export <a href="{link}">#{export.number}</a> of charts queued.']
    assert run_worker(export).manifest["counts"]["rows"] == 4


# -- the API ------------------------------------------------------------------------------------------------------


def api(method: str, url: str, token: str, **kwargs: Any):  # type: ignore[no-untyped-def]
    return getattr(Client(), method)(url, HTTP_AUTHORIZATION=f"Bearer {token}", **kwargs)


def test_the_api_creates_reads_and_downloads_an_export(world, media_root: Path) -> None:  # type: ignore[no-untyped-def]
    token = api_token_create(user=world["admin"].__class__.objects.create_user("boss", is_staff=True))
    url = f"/api/datasets/{world['dataset'].pk}/exports"
    created = api("post", url, token, data={"format": "llava-critic-parquet"}, content_type="application/json")
    assert created.status_code == 202, created.content
    body = json.loads(created.content)
    assert body["status"] == "queued"
    assert body["download_url"] is None
    run_worker(TrainingExport.objects.get(pk=body["id"]))
    status = json.loads(api("get", f"/api/exports/{body['id']}", token).content)
    assert status["status"] == "done"
    assert status["manifest"]["counts"]["rows"] == 4
    download = api("get", f"/api/exports/{body['id']}/file", token)
    assert download.status_code == 200
    table = pq.read_table(io.BytesIO(b"".join(download.streaming_content)))
    assert table.num_rows == 4
    manifest = api("get", f"/api/exports/{body['id']}/file?name=manifest.json", token)
    assert json.loads(b"".join(manifest.streaming_content))["export"] == body["number"]

    merged = api(
        "post",
        url,
        token,
        data={"format": "llava-critic-parquet", "merge_with_export": body["number"]},
        content_type="application/json",
    )
    assert merged.status_code == 202
    again = run_worker(TrainingExport.objects.get(pk=json.loads(merged.content)["id"]))
    assert again.manifest["merged_with"]["rows_replaced_by_ours"] == 4

    bad = api("post", url, token, data={"format": "csv"}, content_type="application/json")
    assert bad.status_code == 422
    assert "dpo-jsonl" in bad.content.decode()  # the schema names the formats it takes


def test_reviewer_tokens_get_403_on_exports(world, reviewer) -> None:  # type: ignore[no-untyped-def]
    token = api_token_create(user=reviewer)
    url = f"/api/datasets/{world['dataset'].pk}/exports"
    assert api("post", url, token, data={"format": "dpo-jsonl"}, content_type="application/json").status_code == 403
    assert not TrainingExport.objects.exists()
    admin_token = api_token_create(user=world["admin"].__class__.objects.create_user("boss", is_staff=True))
    created = api("post", url, admin_token, data={"format": "dpo-jsonl"}, content_type="application/json")
    export_id = json.loads(created.content)["id"]
    run_worker(TrainingExport.objects.get(pk=export_id))
    assert api("get", f"/api/exports/{export_id}", token).status_code == 403
    assert api("get", f"/api/exports/{export_id}/file", token).status_code == 403


# -- the command ------------------------------------------------------------------------------------------------


def test_the_command_exports_to_the_path_given(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "critic-train.json"
    stdout = StringIO()
    call_command(
        "export_training_set", "--dataset", "charts", "--format", "llava-json", "--out", str(out), stdout=stdout
    )
    assert "Export #1: 4 rows" in stdout.getvalue()
    assert "reviewers_disagree 1" in stdout.getvalue()
    rows = json.loads(out.read_text())
    assert {r["id"] for r in rows} == set(world["expected"])
    for row in rows:
        assert (tmp_path / "images" / row["image"]).is_file()  # LLaVA's --image_folder is images/ beside the file
        spec = PROFILES[row["id"].rsplit("__", 1)[1]]
        assert spec.parse(row["conversations"][1]["value"]) == world["expected"][row["id"]]
    manifest = json.loads((tmp_path / "critic-train.manifest.json").read_text())
    assert manifest["counts"]["rows"] == 4

    # agreements too, and merged with the first file: the caption agreement joins, no id twice
    merged = tmp_path / "more.json"
    call_command(
        "export_training_set",
        "--dataset=charts",
        "--format=llava-json",
        f"--out={merged}",
        "--include-agreements",
        f"--merge-with={out}",
        stdout=StringIO(),
    )
    ids = [r["id"] for r in json.loads(merged.read_text())]
    assert sorted(ids) == sorted({*world["expected"], "c5__caption"})


def test_only_disagreements_is_the_default_said_explicitly(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    call_command(
        "export_training_set",
        "--dataset=charts",
        "--format=dpo-jsonl",
        f"--out={tmp_path / 'a.jsonl'}",
        stdout=StringIO(),
    )
    call_command(
        "export_training_set",
        "--dataset=charts",
        "--format=dpo-jsonl",
        f"--out={tmp_path / 'b.jsonl'}",
        "--only-disagreements",
        stdout=StringIO(),
    )
    ids = [[json.loads(line)["id"] for line in (tmp_path / n).read_text().splitlines()] for n in ("a.jsonl", "b.jsonl")]
    assert ids[0] == ids[1]
    assert sorted(ids[0]) == sorted(world["expected"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset=nope", "--format=llava-json"], "No dataset named 'nope'"),
        (["--dataset=charts", "--format=llava-json", "--checkpoint=ghost"], "No checkpoint named 'ghost'"),
        (["--dataset=charts", "--format=llava-json", "--only-disagreements", "--include-agreements"], "contradict"),
        (["--dataset=charts", "--format=llava-json", "--merge-with=/nonexistent.json"], "is not a file"),
    ],
)
def test_the_command_explains_what_is_wrong(world, tmp_path: Path, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandError, match=message):
        call_command("export_training_set", *args, f"--out={tmp_path / 'x.json'}")
    assert not TrainingExport.objects.exists()
    assert not (tmp_path / "x.json").exists()


def test_the_command_refuses_an_out_path_it_cannot_use(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    existing = tmp_path / "there.json"
    existing.write_text("[]")
    for out, message in [
        (existing, "exists already"),
        (tmp_path / "missing" / "x.json", "does not exist"),
        (existing / "x.json", "does not exist"),  # its folder is a file
    ]:
        with pytest.raises(CommandError, match=message):
            call_command("export_training_set", "--dataset=charts", "--format=llava-json", f"--out={out}")
    assert existing.read_text() == "[]"
    assert not TrainingExport.objects.exists()


def test_the_command_has_help_and_fails_with_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    from django.conf import settings

    manage = [sys.executable, str(settings.BASE_DIR / "manage.py"), "export_training_set"]
    shown = subprocess.run([*manage, "--help"], capture_output=True, text=True, check=True)
    for flag in ("--dataset", "--format", "--out", "--only-disagreements", "--include-agreements", "--merge-with"):
        assert flag in shown.stdout
    wrong = subprocess.run(
        [*manage, "--dataset=x", "--format=csv", f"--out={tmp_path / 'x'}"], capture_output=True, text=True
    )
    assert wrong.returncode != 0
    assert "invalid choice: 'csv'" in wrong.stderr.strip().splitlines()[-1]
