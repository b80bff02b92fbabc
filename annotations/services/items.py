"""Creating items. Everything is checked before anything is written; on any error nothing is stored."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from annotations.importers.fields import MAX_IMAGES
from annotations.models import Dataset, Image, Item, ItemImage, Kind, Split
from annotations.permissions import acts_as_admin
from annotations.services.images import CheckedImage, image_check, image_discard_files, image_store
from annotations.services.judging import verdicts_queue_new_items
from critic_worker.profiles import find_profile, profile_names

CHECK_VIOLATION = "23514"  # PostgreSQL's SQLSTATE for a check that refused a row

MAX_TEXT_CHARS = 100_000
MAX_NAME_CHARS = 200
GOLD_FOR_ADMINS = "Only administrators put items in the gold split."


def gold_allowed(*, user: User | None) -> bool:
    """Whether this user may put an item in the frozen gold split by name (None: a shell command's operator); the
    dataset's split policy, which an administrator sets, may still put anyone's upload there."""
    return acts_as_admin(user)


def _text_errors(field: str, value: str, *, required: bool, limit: int = MAX_TEXT_CHARS) -> list[str]:
    if required and not value.strip():
        return [f"{field.replace('_', ' ').capitalize()} is required."]
    if len(value) > limit:
        return [f"At most {limit:,} characters ({len(value):,} given)."]
    if "\x00" in value:
        return ["Contains a NUL character."]
    return []


def item_default_external_id(*, image_sha256: str, question: str, response_a: str, response_b: str) -> str:
    """A stable id from the content, so uploading the same item twice is caught as a duplicate."""
    digest = hashlib.sha256("\x1f".join([image_sha256, question, response_a, response_b]).encode()).hexdigest()
    return f"item-{digest[:12]}"


def item_split_for(*, dataset: Dataset, external_id: str) -> str:
    """The dataset's split policy: a stable share of items, chosen by id, goes to the frozen gold split."""
    if dataset.gold_fraction <= 0:
        return Split.POOL
    bucket = int(hashlib.sha256(f"{dataset.pk}:{external_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return Split.GOLD if bucket < dataset.gold_fraction else Split.POOL


@dataclass
class ItemShape:
    """What a set of item fields amounts to once checked: its kind and profile, or the problems by field."""

    kind: str
    profile: str
    problems: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, problems: list[str]) -> None:
        if problems:
            self.problems.setdefault(name, []).extend(problems)


def item_shape(
    *,
    dataset: Dataset,
    question: str,
    response_a: str,
    response_b: str = "",
    model_a: str = "",
    model_b: str = "",
    reference: str = "",
    external_id: str = "",
    profile: str = "",
    split: str = "",
) -> ItemShape:
    """Check an item's fields (not its image, not duplicates): the rules shared by uploads and imports."""
    kind = Kind.PAIRWISE if response_b.strip() else Kind.POINTWISE
    profile = profile.strip() or (dataset.pairwise_profile if kind == Kind.PAIRWISE else dataset.pointwise_profile)
    shape = ItemShape(kind=kind, profile=profile)
    shape.add("question", _text_errors("question", question, required=True))
    shape.add("response_a", _text_errors("response", response_a, required=True))
    shape.add("response_b", _text_errors("second response", response_b, required=False))
    shape.add("reference", _text_errors("reference", reference, required=False))
    for name, value in (("model_a", model_a), ("model_b", model_b), ("external_id", external_id)):
        shape.add(name, _text_errors(name, value, required=False, limit=MAX_NAME_CHARS))
    if kind == Kind.POINTWISE and model_b.strip():
        shape.add("response_b", ["A second model is named, but there is no second response."])
    spec = find_profile(profile)
    if spec is None:
        known = profile_names("pairwise" if kind == Kind.PAIRWISE else "pointwise")
        shape.add("profile", [f"Unknown profile {profile!r}; {kind} ones: {', '.join(known)}."])
    elif spec.kind != kind:
        shape.add("profile", [f"Profile {profile!r} judges {spec.kind} items, but this item is {kind}."])
    elif spec.needs_reference and not reference.strip():
        shape.add("reference", [f"Profile {profile!r} compares with a reference answer; give one."])
    if split and split not in Split.values:
        shape.add("split", [f"Split must be {' or '.join(Split.values)}, not {split!r}."])
    return shape


def item_create(
    *,
    dataset: Dataset,
    image_data: bytes | CheckedImage,
    question: str,
    more_images: Sequence[bytes | CheckedImage] = (),
    response_a: str,
    response_b: str = "",
    model_a: str = "",
    model_b: str = "",
    reference: str = "",
    external_id: str = "",
    profile: str = "",
    split: str = "",
    created_by: User | None = None,
) -> Item:
    """Create one item (pointwise when there is one response, pairwise with two) with its image, and `more_images`:
    its second, third, ... images, in order (at most MAX_IMAGES in all; each checked and normalised like the first).

    Raises ValidationError keyed by field (`image`, `more_images`, ...), naming every problem, and then stores
    nothing."""
    shape = item_shape(
        dataset=dataset,
        question=question,
        response_a=response_a,
        response_b=response_b,
        model_a=model_a,
        model_b=model_b,
        reference=reference,
        external_id=external_id,
        profile=profile,
        split=split,
    )
    if split == Split.GOLD and not gold_allowed(user=created_by):
        shape.add("split", [GOLD_FOR_ADMINS])
    checked = _checked(image_data, shape, "image")
    if len(more_images) + 1 > MAX_IMAGES:
        shape.add("more_images", [f"An item holds at most {MAX_IMAGES} images ({len(more_images) + 1} given)."])
    more = [_checked(data, shape, "more_images", n) for n, data in enumerate(more_images, start=2)]

    external_id = external_id.strip()
    if checked is not None and not external_id:
        external_id = item_default_external_id(
            image_sha256=",".join([checked.sha256, *(m.sha256 for m in more if m is not None)]),
            question=question,
            response_a=response_a,
            response_b=response_b,
        )
    if external_id and Item.objects.filter(dataset=dataset, external_id=external_id).exists():
        shape.add("external_id", [f"Dataset {dataset.name!r} already has an item with id {external_id!r}."])
    if shape.problems or checked is None:
        raise ValidationError(shape.problems)
    kind, profile = shape.kind, shape.profile

    stored: list[tuple[Image, bool]] = []
    try:
        with transaction.atomic():
            for one in [checked, *more]:
                assert one is not None  # a problem above would have raised
                stored.append(image_store(checked=one))
            image = stored[0][0]
            item = Item.objects.create(
                dataset=dataset,
                external_id=external_id,
                image=image,
                question=question,
                reference=reference,
                kind=kind,
                profile=profile,
                response_a=response_a,
                model_a=model_a.strip(),
                response_b=response_b if kind == Kind.PAIRWISE else "",
                model_b=model_b.strip(),
                split=split or item_split_for(dataset=dataset, external_id=external_id),
                created_by=created_by,
            )
            ItemImage.objects.bulk_create(
                ItemImage(item=item, image=other, position=position)
                for position, (other, _) in enumerate(stored[1:], start=2)
            )
            verdicts_queue_new_items(dataset=dataset)
            return item
    except IntegrityError as exc:
        _discard_new(stored)
        if getattr(exc.__cause__, "sqlstate", "") == CHECK_VIOLATION:  # the profile triggers (migrations 0021, 0026)
            raise ValidationError(
                {
                    "profile": [
                        f"Profile {profile!r} was changed or deleted while the item was saved; nothing was stored."
                    ]
                }
            ) from None
        # The checks above passed, so the row lost a race for its id.
        raise ValidationError(
            {"external_id": [f"Dataset {dataset.name!r} already has an item with id {external_id!r}."]}
        ) from None
    except BaseException:
        _discard_new(stored)
        raise


def _checked(data: bytes | CheckedImage, shape: ItemShape, field_name: str, n: int = 0) -> CheckedImage | None:
    """The image checked (image_check), or None with its problem added under `field_name` (image n, if given)."""
    if isinstance(data, CheckedImage):
        return data
    try:
        return image_check(data=data)
    except ValidationError as exc:
        shape.add(field_name, [f"Image {n}: {m}" if n else m for m in exc.messages])
        return None


def _discard_new(stored: list[tuple[Image, bool]]) -> None:
    """The files of images this upload stored first (the transaction took their rows back)."""
    for image, created in stored:
        if created:
            image_discard_files(image=image)
