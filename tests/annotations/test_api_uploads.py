"""The API's batch upload takes the zip of images the README describes, and refuses a hostile one as the import page
and `import_items` do (the same job, the same checks); paging parameters out of range are a 422 that names them."""

from __future__ import annotations

import io
import json
import stat
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from annotations.models import Item
from annotations.services.import_jobs import import_job_run
from annotations.services.tokens import api_token_create
from tests.factories import DatasetFactory, ItemFactory
from tests.images import png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(reviewer) -> str:  # type: ignore[no-untyped-def]
    return api_token_create(user=reviewer)


def zip_of(entries: dict[str, bytes], *, symlink: str = "") -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if name == symlink:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, data)
    return sink.getvalue()


def upload(token: str, dataset_id: int, images: bytes, image_ref: str = "imgs/a.png") -> dict:  # type: ignore[type-arg]
    """Upload one row naming `image_ref` with `images` as the zip, run the job as the worker would, read it back."""
    row = json.dumps({"id": "z1", "image": image_ref, "question": "Q", "response": "R"}) + "\n"
    headers = {"Authorization": f"Bearer {token}"}
    response = Client().post(
        f"/api/datasets/{dataset_id}/imports",
        {
            "data_file": SimpleUploadedFile("rows.jsonl", row.encode()),
            "images_file": SimpleUploadedFile("images.zip", images),
        },
        headers=headers,
    )
    assert response.status_code == 202, response.content
    job_id = json.loads(response.content)["id"]
    import_job_run(job_id=job_id)
    return json.loads(Client().get(f"/api/imports/{job_id}", headers=headers).content)  # type: ignore[no-any-return]


def test_the_openapi_document_lists_the_zip_as_a_file(token: str) -> None:
    document = json.loads(Client().get("/api/openapi.json", headers={"Authorization": f"Bearer {token}"}).content)
    body = document["paths"]["/api/datasets/{dataset_id}/imports"]["post"]["requestBody"]
    fields = body["content"]["multipart/form-data"]["schema"]["properties"]
    assert fields["images_file"] == {"format": "binary", "title": "Images File", "type": "string"}


def test_a_batch_with_a_zip_of_images_is_imported(token: str) -> None:
    dataset = DatasetFactory()
    job = upload(token, dataset.pk, zip_of({"imgs/a.png": png_bytes()}))
    assert (job["status"], job["report"]["created"]) == ("done", 1)
    assert Item.objects.get(dataset=dataset).external_id == "z1"


@pytest.mark.parametrize(
    ("images", "ref", "reason"),
    [
        (zip_of({"../a.png": png_bytes()}), "a.png", "outside the image folder"),
        (zip_of({"imgs/a.png": b"/etc/passwd"}, symlink="imgs/a.png"), "imgs/a.png", "symbolic link"),
        (b"this is not a zip at all", "imgs/a.png", "not a readable zip archive"),
    ],
    ids=["zip-slip", "symlink", "not-a-zip"],
)
def test_a_hostile_zip_fails_the_job_with_its_reason_and_imports_nothing(
    token: str, images: bytes, ref: str, reason: str
) -> None:
    dataset = DatasetFactory()
    job = upload(token, dataset.pk, images, ref)
    assert job["status"] == "failed"
    assert reason in job["error"]
    assert not Item.objects.filter(dataset=dataset).exists()


def test_a_zip_bomb_fails_the_job(token: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.IMPORT_MAX_ARCHIVE_BYTES = 100_000
    dataset = DatasetFactory()
    job = upload(token, dataset.pk, zip_of({"imgs/a.png": b"\x00" * 1_000_000}))  # 1 MB that deflates to ~1 kB
    assert job["status"] == "failed"
    assert "expands to more than 100,000 bytes" in job["error"]
    assert not Item.objects.filter(dataset=dataset).exists()


@pytest.mark.parametrize(
    ("query", "field"),
    [("offset=-1", "offset"), ("offset=99999999999999999999", "offset"), ("limit=0", "limit"), ("limit=501", "limit")],
)
def test_paging_out_of_range_is_a_422_naming_the_parameter(token: str, query: str, field: str) -> None:
    item = ItemFactory()
    response = Client().get(
        f"/api/datasets/{item.dataset.pk}/items?{query}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 422
    assert list(json.loads(response.content)["detail"]) == [field]


def test_an_id_past_bigint_is_a_422_not_a_server_error(token: str) -> None:
    response = Client().get("/api/items/99999999999999999999", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422
    assert "item_id" in json.loads(response.content)["detail"]
