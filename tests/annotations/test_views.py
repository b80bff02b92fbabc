"""The pages a reviewer uses: browsing datasets and items, uploading one item, seeing images."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image as PILImage

from annotations.models import CriticVerdict, HumanVerdict, Image, Item
from tests.conftest import stored_files
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, PairwiseItemFactory, UserFactory
from tests.images import png_bomb_bytes, png_bytes

pytestmark = pytest.mark.django_db

XSS = '<script>alert("owned")</script><img src=x onerror=alert(1)>'


def upload(client: Client, dataset, **fields):  # type: ignore[no-untyped-def]
    data = {"question": "What colour is it?", "response_a": "Red.", "model_a": "m1"} | fields
    data.setdefault("image", SimpleUploadedFile("red.png", png_bytes(), content_type="image/png"))
    return client.post(reverse("item-new", args=[dataset.pk]), data)


def test_upload_a_pointwise_item(reviewer_client: Client, reviewer) -> None:  # type: ignore[no-untyped-def]
    dataset = DatasetFactory()
    response = upload(reviewer_client, dataset, external_id="first")
    item = Item.objects.get(dataset=dataset, external_id="first")
    assert response.status_code == 302
    assert response["Location"] == reverse("item-detail", args=[item.pk])
    assert (item.kind, item.created_by) == ("pointwise", reviewer)
    page = reviewer_client.get(response["Location"])
    assert b"What colour is it?" in page.content
    assert b"added to" in page.content  # the confirmation message


def test_upload_a_pairwise_item(reviewer_client: Client) -> None:
    dataset = DatasetFactory()
    upload(reviewer_client, dataset, response_b="Blue.", model_b="m2")
    item = Item.objects.get(dataset=dataset)
    assert (item.kind, item.model_a, item.model_b) == ("pairwise", "m1", "m2")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"image": SimpleUploadedFile("x.png", b"<html>not an image</html>")}, "not an image"),
        ({"image": SimpleUploadedFile("bomb.png", png_bomb_bytes())}, "pixels"),
        ({"image": SimpleUploadedFile("cut.png", png_bytes((300, 300))[:200])}, "truncated or corrupt"),
        ({"image": ""}, "This field is required"),
        ({"question": ""}, "This field is required"),
        ({"model_b": "m2"}, "no second response"),
        ({"profile": "pairwise"}, "judges pairwise items"),
    ],
)
def test_bad_uploads_show_the_reason_next_to_the_field(
    reviewer_client: Client, media_root: Path, fields: dict, message: str
) -> None:
    response = upload(reviewer_client, DatasetFactory(), **fields)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert b'class="errorlist' in response.content
    assert (Item.objects.count(), Image.objects.count(), stored_files(media_root)) == (0, 0, [])


def test_oversized_upload_is_refused_before_reading(reviewer_client: Client, settings, media_root: Path) -> None:  # type: ignore[no-untyped-def]
    settings.IMAGE_MAX_BYTES = 10_000
    response = upload(
        reviewer_client, DatasetFactory(), image=SimpleUploadedFile("big.png", b"\x89PNG" + b"0" * 20_000)
    )
    assert response.status_code == 400
    assert "the limit is" in response.content.decode()
    assert stored_files(media_root) == []


def test_html_in_text_is_shown_escaped(reviewer_client: Client) -> None:
    item = PairwiseItemFactory(question=XSS, response_a=XSS, response_b=XSS, model_a=XSS)
    for url in (reverse("item-detail", args=[item.pk]), reverse("dataset-detail", args=[item.dataset.pk])):
        body = reviewer_client.get(url).content.decode()
        assert "<script>alert" not in body
        assert "<img src=x" not in body
        assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;" in body


def test_dataset_page_lists_items_with_their_models(admin_client: Client, reviewer_client: Client) -> None:
    """Administrators see which model wrote each response; a reviewer, as on the desk, not before judging."""
    item = PairwiseItemFactory(model_a="llava-1.5-7b", model_b="gpt-4o-mini")
    body = admin_client.get(reverse("dataset-detail", args=[item.dataset.pk])).content.decode()
    assert "llava-1.5-7b" in body
    assert "gpt-4o-mini" in body
    assert reverse("image-thumbnail", args=[item.image.sha256]) in body
    blind = reviewer_client.get(reverse("dataset-detail", args=[item.dataset.pk])).content.decode()
    assert "llava-1.5-7b" not in blind
    assert "model hidden until you judge" in blind


def test_dataset_page_filters_and_answers_htmx_with_the_table_only(reviewer_client: Client) -> None:
    dataset = DatasetFactory()
    ItemFactory(dataset=dataset, external_id="apple", question="Is it an apple?")
    ItemFactory(dataset=dataset, external_id="pear", question="Is it a pear?")
    url = reverse("dataset-detail", args=[dataset.pk])
    full = reviewer_client.get(url, {"q": "pear"}).content.decode()
    assert "Is it a pear?" in full
    assert "Is it an apple?" not in full
    fragment = reviewer_client.get(url, {"q": "apple"}, headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<div id="item-table">')
    assert "Is it an apple?" in fragment
    assert "<html" not in fragment


def test_dataset_page_paginates(reviewer_client: Client) -> None:
    dataset = DatasetFactory()
    image = ItemFactory(dataset=dataset).image
    for i in range(30):
        ItemFactory(dataset=dataset, image=image, external_id=f"n{i}")
    url = reverse("dataset-detail", args=[dataset.pk])
    assert "Page 1 of 2" in reviewer_client.get(url).content.decode()
    assert "n29" in reviewer_client.get(url, {"page": 2}).content.decode()


def test_images_are_served_to_logged_in_users(reviewer_client: Client) -> None:
    item = ItemFactory()
    response = reviewer_client.get(reverse("image-file", args=[item.image.sha256]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    served = b"".join(response.streaming_content)  # the rendition: the same pixels as the plain RGB PNG uploaded
    assert served == Path(item.image.normalized.path).read_bytes()
    with PILImage.open(io.BytesIO(served)) as im, PILImage.open(io.BytesIO(png_bytes())) as uploaded:
        assert im.mode == "RGB"
        assert im.tobytes() == uploaded.tobytes()
    assert "private" in response["Cache-Control"]
    thumb = reviewer_client.get(reverse("image-thumbnail", args=[item.image.sha256]))
    assert thumb["Content-Type"] == "image/webp"
    with PILImage.open(io.BytesIO(b"".join(thumb.streaming_content))) as im:  # made on this first view
        assert im.size == (64, 48)
    item.image.refresh_from_db()
    made = item.image.thumbnail.name
    reviewer_client.get(reverse("image-thumbnail", args=[item.image.sha256]))
    item.image.refresh_from_db()
    assert item.image.thumbnail.name == made  # and kept


def test_images_can_be_handed_to_the_web_server(reviewer_client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ACCEL_REDIRECT_PREFIX = "/protected-media/"
    item = ItemFactory()
    response = reviewer_client.get(reverse("image-file", args=[item.image.sha256]))
    assert response["X-Accel-Redirect"] == "/protected-media/" + item.image.normalized.name
    assert response.content == b""


def test_unknown_images_are_404(reviewer_client: Client) -> None:
    assert reviewer_client.get(reverse("image-file", args=["0" * 64])).status_code == 404
    assert reviewer_client.get("/images/..%2F..%2Fsettings.py/").status_code == 404


def test_reviewers_see_no_verdicts_before_their_own(reviewer_client: Client, reviewer) -> None:  # type: ignore[no-untyped-def]
    item = ItemFactory()
    HumanVerdict.objects.create(
        item=item,
        reviewer=UserFactory(username="other"),
        profile="pointwise",
        score=12,
        rationale="reasoning of another reviewer",
    )
    CriticVerdict.objects.create(
        item=item,
        checkpoint=CheckpointFactory(),
        profile="pointwise",
        status="done",
        score=88,
        justification="reasoning of the critic",
    )
    url = reverse("item-detail", args=[item.pk])
    before = reviewer_client.get(url).content.decode()
    assert "reasoning of another reviewer" not in before
    assert "reasoning of the critic" not in before
    HumanVerdict.objects.create(item=item, reviewer=reviewer, profile="pointwise", score=50)
    after = reviewer_client.get(url).content.decode()
    assert "reasoning of another reviewer" in after
    assert "reasoning of the critic" in after


def test_admins_create_datasets(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("dataset-new"),
        {
            "name": "arena",
            "pointwise_profile": "pointwise",
            "pairwise_profile": "wildvision",
            "review_overlap": 3,
            "disagreement_threshold": 0.1,
            "gold_fraction": 0.2,
        },
    )
    assert response.status_code == 302
    page = admin_client.get(response["Location"]).content.decode()
    assert "arena" in page
    assert "wildvision" in page
    bad = admin_client.post(
        reverse("dataset-new"), {"name": "x", "review_overlap": 0, "disagreement_threshold": 2, "gold_fraction": 0}
    )
    assert bad.status_code == 200
    assert "Constraint" in bad.content.decode() or "errorlist" in bad.content.decode()


def test_run_critic_queues_missing_items_and_the_panel_polls_until_done(
    admin_client: Client,
    reviewer_client: Client,
    settings,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    settings.CRITIC_MODEL = str(tmp_path / "critic")
    dataset = DatasetFactory()
    ItemFactory(dataset=dataset)
    ItemFactory(dataset=dataset, image=ItemFactory(dataset=dataset).image)
    page = admin_client.get(reverse("dataset-detail", args=[dataset.pk])).content.decode()
    assert "Run critic on 3 items" in page
    assert 'hx-trigger="every 2s"' not in page  # nothing pending: no polling
    # Spending the critic's time is an administrator's call: a reviewer sees the progress, no button, and gets 403.
    assert "Run critic" not in reviewer_client.get(reverse("dataset-detail", args=[dataset.pk])).content.decode()
    assert reviewer_client.post(reverse("dataset-judge", args=[dataset.pk])).status_code == 403
    assert not CriticVerdict.objects.exists()

    panel = admin_client.post(reverse("dataset-judge", args=[dataset.pk]), headers={"HX-Request": "true"})
    body = panel.content.decode()
    assert body.lstrip().startswith('<section id="critic-progress"')
    assert "3 pending" in body
    assert 'hx-trigger="every 2s"' in body  # polls while verdicts are pending
    assert CriticVerdict.objects.filter(item__dataset=dataset, status="queued").count() == 3

    CriticVerdict.objects.filter(item__dataset=dataset).update(status="done", score=50)
    done = reviewer_client.get(reverse("dataset-critic-progress", args=[dataset.pk])).content.decode()
    assert "3 done" in done
    assert "hx-trigger" not in done  # and stops when they are in
    assert "Run critic" not in done


def test_run_critic_without_a_critic_says_what_to_do(admin_client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CRITIC_MODEL = ""
    dataset = DatasetFactory()
    ItemFactory(dataset=dataset)
    response = admin_client.post(reverse("dataset-judge", args=[dataset.pk]), follow=True)
    assert "No critic is configured" in response.content.decode()
    assert not CriticVerdict.objects.exists()


def test_critic_verdicts_show_confidence_and_forced(admin_client: Client) -> None:
    item = ItemFactory()
    CriticVerdict.objects.create(
        item=item,
        checkpoint=CheckpointFactory(is_demo=True),
        profile="pointwise",
        status="done",
        score=64,
        confidence=0.37,
        forced=True,
        justification="meh",
    )
    body = admin_client.get(reverse("item-detail", args=[item.pk])).content.decode()
    assert "p=0.37" in body
    assert "forced" in body
    assert "random-weight demo" in body


def test_import_page_queues_a_job_that_reports_back(reviewer_client: Client, tmp_path: Path) -> None:
    import base64
    import json

    from annotations.models import ImportJob
    from annotations.services.import_jobs import import_job_run

    dataset = DatasetFactory()
    uri = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    good = json.dumps({"id": "a", "image": uri, "question": "Q", "response": "R"}) + "\n"
    bad = good + json.dumps({"id": "a", "image": uri, "question": "", "response": "R"}) + "\n"
    for content, outcome in ((bad, "Nothing was imported"), (good, "Imported.")):
        response = reviewer_client.post(
            reverse("dataset-import", args=[dataset.pk]),
            {"data_file": SimpleUploadedFile("rows.jsonl", content.encode()), "format": "auto"},
        )
        assert response.status_code == 302
        job = ImportJob.objects.latest("pk")
        waiting = reviewer_client.get(response["Location"], headers={"HX-Request": "true"}).content.decode()
        assert 'hx-trigger="every 1s"' in waiting  # polls while the job waits for a worker
        import_job_run(job_id=job.pk)
        page = reviewer_client.get(response["Location"]).content.decode()
        assert outcome in page
        assert "hx-trigger" not in page
    assert (
        "row 2, id: &#x27;a&#x27; is also the id of row 1"
        in reviewer_client.get(reverse("import-detail", args=[ImportJob.objects.earliest("pk").pk])).content.decode()
    )
    assert Item.objects.filter(dataset=dataset).count() == 1


def test_import_form_refuses_files_over_the_limit(reviewer_client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.IMPORT_MAX_FILE_BYTES = 10
    response = reviewer_client.post(
        reverse("dataset-import", args=[DatasetFactory().pk]),
        {"data_file": SimpleUploadedFile("rows.jsonl", b"x" * 100), "format": "auto"},
    )
    assert response.status_code == 400
    assert "the limit is 10" in response.content.decode()


def test_account_page_makes_a_token_shown_once(reviewer_client: Client) -> None:
    made = reviewer_client.post(reverse("account"), {"name": "ci"}).content.decode()
    assert "copy it now" in made
    key = made.split('id="new-token" type="text" readonly value="')[1].split('"')[0]
    assert key.startswith("cd_")
    assert key not in reviewer_client.get(reverse("account")).content.decode()
    assert Client().get("/api/datasets", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_an_image_without_a_rendition_is_404_not_its_original(reviewer_client: Client) -> None:
    item = ItemFactory()
    Image.objects.filter(pk=item.image_id).update(normalized="")
    assert reviewer_client.get(reverse("image-file", args=[item.image.sha256])).status_code == 404
    assert reviewer_client.get(reverse("image-thumbnail", args=[item.image.sha256])).status_code == 404
