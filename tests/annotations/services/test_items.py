"""Uploading one item: good input is stored once; bad input gets a specific error and stores nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from annotations.models import Image, Item
from annotations.services.items import item_create
from tests.conftest import stored_files
from tests.factories import DatasetFactory
from tests.images import jpeg_bytes, png_bomb_bytes, png_bytes

pytestmark = pytest.mark.django_db


def test_one_response_makes_a_pointwise_item_with_the_dataset_profile(media_root: Path) -> None:
    dataset = DatasetFactory(pointwise_profile="caption")
    item = item_create(
        dataset=dataset,
        image_data=png_bytes(),
        question="Describe it.",
        response_a="A red box.",
        model_a="llava-1.5-7b",
    )
    assert (item.kind, item.profile, item.split) == ("pointwise", "caption", "pool")
    assert (item.image.width, item.image.height, item.image.format) == (64, 48, "PNG")
    # the original and its rendition (the thumbnail is made on first view)
    assert len(stored_files(media_root)) == 2


def test_two_responses_make_a_pairwise_item() -> None:
    item = item_create(
        dataset=DatasetFactory(),
        image_data=jpeg_bytes(),
        question="Colour?",
        response_a="Blue.",
        model_a="m1",
        response_b="Red.",
        model_b="m2",
    )
    assert (item.kind, item.profile, item.response_b, item.model_b) == ("pairwise", "pairwise", "Red.", "m2")


def test_the_same_image_is_stored_once(media_root: Path) -> None:
    dataset, data = DatasetFactory(), png_bytes()
    first = item_create(dataset=dataset, image_data=data, question="Q1", response_a="R")
    second = item_create(dataset=DatasetFactory(), image_data=data, question="Q2", response_a="R")
    assert first.image_id == second.image_id
    assert Image.objects.count() == 1
    assert len(stored_files(media_root)) == 2  # the original and its rendition, once


def test_uploading_the_same_item_twice_is_a_duplicate() -> None:
    dataset, data = DatasetFactory(), png_bytes()
    item_create(dataset=dataset, image_data=data, question="Q", response_a="R")
    with pytest.raises(ValidationError) as caught:
        item_create(dataset=dataset, image_data=data, question="Q", response_a="R")
    assert "already has an item" in caught.value.message_dict["external_id"][0]


def test_gold_share_follows_the_split_policy() -> None:
    dataset = DatasetFactory(gold_fraction=0.5)
    splits = [
        item_create(
            dataset=dataset, image_data=png_bytes(), question=f"Q{i}", response_a="R", external_id=f"i{i}"
        ).split
        for i in range(40)
    ]
    assert 8 <= splits.count("gold") <= 32  # a stable hash of the id, near half
    explicit = item_create(
        dataset=dataset, image_data=png_bytes(), question="Q", response_a="R", split="gold", external_id="explicit"
    )
    assert explicit.split == "gold"


def flip_byte(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


BAD_IMAGES = {
    "not an image": (b"just some text, not pixels", "not an image"),
    "empty file": (b"", "empty"),
    "truncated PNG": (png_bytes((200, 200))[:300], "truncated or corrupt"),
    "truncated JPEG": (jpeg_bytes((200, 200))[:-400], "truncated or corrupt"),
    "corrupt PNG (a flipped byte)": (flip_byte(png_bytes((64, 64)), 60), "truncated or corrupt"),
    "decompression bomb": (png_bomb_bytes(), "pixels"),
    "SVG with a script": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "not an image"),
}


@pytest.mark.parametrize("case", list(BAD_IMAGES))
def test_bad_images_are_refused_and_nothing_is_stored(case: str, media_root: Path) -> None:
    data, reason = BAD_IMAGES[case]
    with pytest.raises(ValidationError) as caught:
        item_create(dataset=DatasetFactory(), image_data=data, question="Q", response_a="R")
    assert reason in " ".join(caught.value.message_dict["image"])
    assert Item.objects.count() == 0
    assert Image.objects.count() == 0
    assert stored_files(media_root) == []


def test_oversized_image_is_refused(settings, media_root: Path) -> None:  # type: ignore[no-untyped-def]
    settings.IMAGE_MAX_BYTES = 1000
    with pytest.raises(ValidationError) as caught:
        item_create(
            dataset=DatasetFactory(), image_data=png_bytes((400, 400)) + b"\x00" * 2000, question="Q", response_a="R"
        )
    assert "the limit is" in caught.value.message_dict["image"][0]
    assert stored_files(media_root) == []


def test_pixel_limit_is_a_setting(settings) -> None:  # type: ignore[no-untyped-def]
    settings.IMAGE_MAX_PIXELS = 64 * 48 - 1
    with pytest.raises(ValidationError, match="3,072"):
        item_create(dataset=DatasetFactory(), image_data=png_bytes(), question="Q", response_a="R")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"question": "  "}, "question", "required"),
        ({"response_a": ""}, "response_a", "required"),
        ({"model_b": "m2"}, "response_b", "no second response"),
        ({"profile": "pairwise"}, "profile", "judges pairwise items"),
        ({"profile": "llava-bench"}, "reference", "reference answer"),
        ({"profile": "nonsense"}, "profile", "Unknown profile"),
        ({"split": "train"}, "split", "pool or gold"),
        ({"question": "nul\x00byte"}, "question", "NUL"),
        ({"response_a": "x" * 100_001}, "response_a", "At most 100,000"),
        ({"model_a": "m" * 201}, "model_a", "At most 200"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_stored(fields: dict, field: str, message: str, media_root: Path) -> None:
    values = {"question": "Q", "response_a": "R"} | fields
    with pytest.raises(ValidationError) as caught:
        item_create(dataset=DatasetFactory(), image_data=png_bytes(), **values)
    assert message in " ".join(caught.value.message_dict[field])
    assert (Item.objects.count(), Image.objects.count(), stored_files(media_root)) == (0, 0, [])


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ValidationError) as caught:
        item_create(dataset=DatasetFactory(), image_data=b"nope", question="", response_a="")
    assert set(caught.value.message_dict) == {"image", "question", "response_a"}
