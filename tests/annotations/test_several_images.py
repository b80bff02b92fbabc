"""Items with several images on the pages and the API: uploaded through the form and the API (in order, each checked
and normalised), listed by the API, all shown on the desk and the item page in order, the item list's thumbnail the
first with +N; the desk still costs the same few queries, and the blind rule holds."""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image as PILImage

from annotations.models import CriticVerdict, Image, Item
from annotations.selectors.images import item_images
from annotations.services.tokens import api_token_create
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, item_with_images
from tests.images import jpeg_bytes, png_bytes

pytestmark = pytest.mark.django_db
RED, GREEN, BLUE = (220, 20, 20), (20, 200, 20), (20, 20, 220)


def files(*colours: tuple[int, int, int]) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(f"{n}.png", png_bytes(colour=c)) for n, c in enumerate(colours)]


def pixel(image: Image) -> tuple[int, int, int]:
    """A pixel of the image's normalised rendition (the picture everyone is shown)."""
    with image.normalized.open("rb") as f, PILImage.open(f) as im:
        return im.convert("RGB").getpixel((3, 3))  # type: ignore[return-value]


def srcs(html: str, pattern: str = r'<img src="(/images/[0-9a-f]{64}/)"') -> list[str]:
    return re.findall(pattern, html)


def test_the_upload_form_takes_more_images_in_order(reviewer_client: Client) -> None:
    dataset = DatasetFactory()
    first, *more = files(RED, GREEN, BLUE)
    response = reviewer_client.post(
        reverse("item-new", args=[dataset.pk]),
        {"image": first, "more_images": more, "question": "Which is green?", "response_a": "The second."},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    item = Item.objects.get()
    assert [pixel(im) for im in item_images(item=item)] == [RED, GREEN, BLUE]
    assert list(item.more_images.values_list("position", flat=True)) == [2, 3]
    page = reviewer_client.get(reverse("item-detail", args=[item.pk])).content.decode()
    assert srcs(page) == [f"/images/{im.sha256}/" for im in item_images(item=item)]
    assert "Image 3 of 3" in page


def test_a_bad_further_image_is_named_and_nothing_is_stored(reviewer_client: Client) -> None:
    dataset = DatasetFactory()
    first, second = files(RED, GREEN)
    broken = SimpleUploadedFile("broken.png", b"not a picture")
    response = reviewer_client.post(
        reverse("item-new", args=[dataset.pk]),
        {"image": first, "more_images": [second, broken], "question": "Q", "response_a": "R"},
    )
    assert response.status_code == 400
    assert "Image 3:" in response.content.decode()
    assert Item.objects.count() == 0
    assert Image.objects.count() == 0


@pytest.fixture
def api(reviewer) -> Client:  # type: ignore[no-untyped-def]
    return Client(headers={"Authorization": f"Bearer {api_token_create(user=reviewer)}"})


def test_the_api_takes_more_images_and_lists_every_image_in_order(api: Client) -> None:
    dataset = DatasetFactory()
    first, *more = files(BLUE, RED)
    more.append(SimpleUploadedFile("c.jpg", jpeg_bytes(colour=GREEN)))
    response = api.post(
        f"/api/datasets/{dataset.pk}/items",
        {"image": first, "more_images": more, "question": "Q", "response_a": "R"},
    )
    assert response.status_code == 201, response.content
    out = json.loads(response.content)
    item = Item.objects.get()
    expected = [im.sha256 for im in item_images(item=item)]
    assert [i["sha256"] for i in out["images"]] == expected
    assert len(expected) == 3
    assert out["image_sha256"] == expected[0]
    assert out["images"][2]["url"].endswith(f"/images/{expected[2]}/")
    listed = json.loads(api.get(f"/api/datasets/{dataset.pk}/items").content)["items"][0]
    assert [i["sha256"] for i in listed["images"]] == expected
    assert json.loads(api.get(f"/api/items/{item.pk}").content)["images"] == out["images"]
    one = api.post(f"/api/datasets/{dataset.pk}/items", {"image": files(GREEN)[0], "question": "Q", "response_a": "x"})
    assert [i["sha256"] for i in json.loads(one.content)["images"]] == [json.loads(one.content)["image_sha256"]]


def test_the_api_refuses_a_bad_further_image_and_too_many(api: Client, settings) -> None:  # type: ignore[no-untyped-def]
    dataset = DatasetFactory()
    url = f"/api/datasets/{dataset.pk}/items"
    bad = api.post(
        url,
        {
            "image": files(RED)[0],
            "more_images": [SimpleUploadedFile("x.png", b"junk")],
            "question": "Q",
            "response_a": "R",
        },
    )
    assert bad.status_code == 422
    assert "Image 2" in bad.content.decode()
    many = api.post(
        url, {"image": files(RED)[0], "more_images": files(*[GREEN] * 16), "question": "Q", "response_a": "R"}
    )
    assert many.status_code == 422
    assert "at most 16 images" in many.content.decode()
    assert Item.objects.count() == 0


def test_the_desk_shows_every_image_in_order_with_one_query_more(reviewer_client: Client) -> None:
    CheckpointFactory(is_active=True)
    several, one = DatasetFactory(), DatasetFactory()
    item = item_with_images(RED, GREEN, BLUE, dataset=several)
    ItemFactory(dataset=one)
    counts, pages = [], []
    for dataset in (several, one):
        reviewer_client.get(reverse("review-next", args=[dataset.pk]))  # claims the item; the next asks for it again
        with CaptureQueriesContext(connection) as queries:
            pages.append(reviewer_client.get(reverse("review-next", args=[dataset.pk])).content.decode())
        counts.append(len(queries))
    frames = r'<a class="zoom-frame" href="(/images/[0-9a-f]{64}/)"'
    assert srcs(pages[0], frames) == [f"/images/{im.sha256}/" for im in item_images(item=item)]
    assert "image 2 of 3 of this item" in pages[0]
    assert 'data-zoom="next"' in pages[0]
    assert len(srcs(pages[1], frames)) == 1
    assert 'data-zoom="next"' not in pages[1]
    assert counts[0] == counts[1] + 1, counts  # the other images, in one query; none for an item with one


def test_the_item_list_shows_the_first_image_with_a_count_of_the_others(reviewer_client: Client) -> None:
    dataset = DatasetFactory()
    several = item_with_images(RED, GREEN, BLUE, dataset=dataset)
    ItemFactory(dataset=dataset)
    page = reviewer_client.get(reverse("dataset-detail", args=[dataset.pk])).content.decode()
    assert page.count('class="more-images"') == 1
    assert ">+2</span>" in page
    assert f"/images/{several.image.sha256}/thumbnail/" in page


def test_an_image_shown_only_as_a_further_image_can_be_seen(reviewer_client: Client) -> None:
    item = item_with_images(RED, GREEN)
    second = item_images(item=item)[1]
    assert reviewer_client.get(f"/images/{second.sha256}/").status_code == 200
    assert reviewer_client.get(f"/images/{second.sha256}/thumbnail/").status_code == 200


def test_a_reviewer_sees_no_verdict_on_a_several_image_item_before_their_own(api: Client) -> None:
    item = item_with_images(RED, GREEN)
    CriticVerdict.objects.create(
        item=item, checkpoint=CheckpointFactory(), profile=item.profile, status="done", score=90
    )
    out = json.loads(api.get(f"/api/items/{item.pk}").content)
    assert len(out["images"]) == 2
    assert out.get("critic_verdicts") is None


def test_the_admin_item_page_lists_the_further_images_in_order(admin_client: Client) -> None:
    item = item_with_images(RED, GREEN, BLUE)
    page = admin_client.get(reverse("admin:annotations_item_change", args=[item.pk])).content.decode()
    thumbs = re.findall(r"/images/([0-9a-f]{64})/thumbnail/", page)
    assert thumbs == [im.sha256 for im in item_images(item=item)[1:]]


def test_the_item_page_shows_an_administrator_every_picture_the_critic_is_given(admin_client: Client) -> None:
    item = item_with_images(RED, GREEN, BLUE)
    page = admin_client.get(reverse("item-detail", args=[item.pk])).content.decode()
    section = page[page.index('class="critic-pictures"') :]
    assert re.findall(r"image-(\d)\.png", section) == ["1", "2", "3"]
    shown = re.findall(r'<img src="/images/([0-9a-f]{64})/" alt="image \d the critic is given"', section)
    assert shown == [im.sha256 for im in item_images(item=item)]
