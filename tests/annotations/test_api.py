"""The REST API: a valid OpenAPI document, token auth on every endpoint, roles, uploads and imports."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from openapi_spec_validator import validate

from annotations.models import CriticVerdict, HumanVerdict, Image, ImportJob, Item
from annotations.services.import_jobs import import_job_run
from annotations.services.tokens import api_token_create
from tests.conftest import stored_files
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, UserFactory
from tests.images import png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer_token(reviewer) -> str:  # type: ignore[no-untyped-def]
    return api_token_create(user=reviewer)


@pytest.fixture
def admin_token(admin) -> str:  # type: ignore[no-untyped-def]
    return api_token_create(user=admin)


def call(method: str, url: str, token: str | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return getattr(Client(), method)(url, headers=headers, **kwargs)


def schema(token: str) -> dict:  # type: ignore[type-arg]
    response = call("get", "/api/openapi.json", token)
    assert response.status_code == 200
    return json.loads(response.content)


def test_the_openapi_document_is_valid(reviewer_token: str) -> None:
    document = schema(reviewer_token)
    validate(document)
    assert {
        "/api/datasets",
        "/api/datasets/{dataset_id}/items",
        "/api/datasets/{dataset_id}/imports",
        "/api/imports/{import_id}",
        "/api/items/{item_id}",
        "/api/datasets/{dataset_id}/progress",
    } <= set(document["paths"])


def test_the_schema_and_docs_need_a_login() -> None:
    for url in ("/api/openapi.json", "/api/docs"):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_every_endpoint_refuses_a_missing_or_wrong_token(reviewer_token: str) -> None:
    operations = [(method, path) for path, ops in schema(reviewer_token)["paths"].items() for method in ops]
    assert len(operations) >= 8
    for method, path in operations:
        url = re.sub(r"\{[^}]+\}", "1", path)
        for token in (None, "cd_not-a-real-token"):
            assert call(method, url, token).status_code == 401, (method, url, token)


def test_a_deactivated_users_token_stops_working(reviewer, reviewer_token: str) -> None:  # type: ignore[no-untyped-def]
    assert call("get", "/api/datasets", reviewer_token).status_code == 200
    reviewer.is_active = False
    reviewer.save()
    assert call("get", "/api/datasets", reviewer_token).status_code == 401


def test_reviewer_tokens_cannot_reach_admin_endpoints(reviewer_token: str, admin_token: str) -> None:
    payload = json.dumps({"name": "from the api"})
    assert (
        call("post", "/api/datasets", reviewer_token, data=payload, content_type="application/json").status_code == 403
    )
    created = call("post", "/api/datasets", admin_token, data=payload, content_type="application/json")
    assert created.status_code == 201
    assert json.loads(created.content)["name"] == "from the api"


def test_upload_one_item(reviewer_token: str, media_root: Path) -> None:
    dataset = DatasetFactory()
    response = call(
        "post",
        f"/api/datasets/{dataset.pk}/items",
        reviewer_token,
        data={
            "image": SimpleUploadedFile("a.png", png_bytes()),
            "question": "Which?",
            "response_a": "A",
            "response_b": "B",
            "model_a": "m1",
            "model_b": "m2",
        },
    )
    assert response.status_code == 201, response.content
    body = json.loads(response.content)
    assert (body["kind"], body["model_b"]) == ("pairwise", "m2")
    assert Item.objects.get(pk=body["id"]).dataset == dataset


def test_a_bad_upload_names_the_field_and_stores_nothing(reviewer_token: str, media_root: Path) -> None:
    dataset = DatasetFactory()
    response = call(
        "post",
        f"/api/datasets/{dataset.pk}/items",
        reviewer_token,
        data={"image": SimpleUploadedFile("a.png", b"<svg/>"), "question": "Q", "response_a": "A"},
    )
    assert response.status_code == 422
    assert "not an image" in json.loads(response.content)["detail"]["image"][0]
    empty = call(
        "post",
        f"/api/datasets/{dataset.pk}/items",
        reviewer_token,
        data={"image": SimpleUploadedFile("a.png", png_bytes()), "question": "", "response_a": "A"},
    )
    assert empty.status_code == 422  # the schema says min_length 1: refused before anything is stored
    assert "at least 1 character" in json.loads(empty.content)["detail"]["question"][0]
    assert (Item.objects.count(), Image.objects.count(), stored_files(media_root)) == (0, 0, [])


def test_items_come_with_verdicts_only_once_judged(reviewer, reviewer_token: str, admin_token: str) -> None:  # type: ignore[no-untyped-def]
    item = ItemFactory()
    HumanVerdict.objects.create(item=item, reviewer=UserFactory(), profile="pointwise", score=20)
    CriticVerdict.objects.create(
        item=item,
        checkpoint=CheckpointFactory(),
        profile="pointwise",
        status="done",
        score=90,
        confidence=0.5,
        probabilities={"90": 0.5},
    )
    url = f"/api/datasets/{item.dataset.pk}/items"
    blind = json.loads(call("get", url, reviewer_token).content)["items"][0]
    assert (blind["human_verdicts"], blind["critic_verdicts"]) == (None, None)
    full = json.loads(call("get", url, admin_token).content)["items"][0]
    assert full["critic_verdicts"][0]["score"] == 90
    HumanVerdict.objects.create(item=item, reviewer=reviewer, profile="pointwise", score=40)
    mine = json.loads(call("get", f"/api/items/{item.pk}", reviewer_token).content)
    assert sorted(v["score"] for v in mine["human_verdicts"]) == [20, 40]


def test_upload_a_batch_and_follow_it(reviewer_token: str, tmp_path: Path) -> None:
    dataset = DatasetFactory()
    uri = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    rows = "".join(json.dumps({"id": f"r{i}", "image": uri, "question": "Q", "response": "R"}) + "\n" for i in range(3))
    response = call(
        "post",
        f"/api/datasets/{dataset.pk}/imports",
        reviewer_token,
        data={"data_file": SimpleUploadedFile("rows.jsonl", rows.encode())},
    )
    assert response.status_code == 202, response.content
    job_id = json.loads(response.content)["id"]
    assert json.loads(call("get", f"/api/imports/{job_id}", reviewer_token).content)["status"] == "queued"
    import_job_run(job_id=job_id)  # what the default worker does
    body = json.loads(call("get", f"/api/imports/{job_id}", reviewer_token).content)
    assert body["status"] == "done"
    assert body["report"]["created"] == 3
    assert Item.objects.filter(dataset=dataset).count() == 3
    assert import_job_run(job_id=job_id) is None  # a repeated message does nothing
    uploaded = ImportJob.objects.get(pk=job_id).data_file
    assert not uploaded.storage.exists(uploaded.name)  # the report stays, the uploaded file goes


def test_dataset_progress(reviewer_token: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CRITIC_MODEL = ""
    item = ItemFactory()
    body = json.loads(call("get", f"/api/datasets/{item.dataset.pk}/progress", reviewer_token).content)
    assert (body["items"], body["checkpoint"]) == (1, None)
