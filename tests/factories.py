from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from annotations.models import CriticCheckpoint, Dataset, Item
from annotations.services.images import image_check, image_store
from tests.images import png_bytes

PASSWORD = "pass-for-tests"  # every factory-made account's


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"reviewer{n}")
    password = factory.django.Password(PASSWORD)


class AdminFactory(UserFactory):
    username = factory.Sequence(lambda n: f"admin{n}")
    is_staff = True
    is_superuser = True


class DatasetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dataset

    name = factory.Sequence(lambda n: f"dataset-{n}")


class ItemFactory(factory.django.DjangoModelFactory):
    """A pointwise item; pass response_b (and kind/profile) for a pairwise one, or use PairwiseItemFactory."""

    class Meta:
        model = Item

    dataset = factory.SubFactory(DatasetFactory)
    external_id = factory.Sequence(lambda n: f"q{n}")
    image = factory.LazyFunction(lambda: image_store(checked=image_check(data=png_bytes()))[0])
    question = "How many circles are there?"
    response_a = "Three circles."
    model_a = "model-x"
    kind = "pointwise"
    profile = "pointwise"


class PairwiseItemFactory(ItemFactory):
    response_b = "Four circles."
    model_b = "model-y"
    kind = "pairwise"
    profile = "pairwise"


class CheckpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CriticCheckpoint

    name = factory.Sequence(lambda n: f"critic-{n}")
    model = "/models/tiny"


def stored_png(colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)):  # type: ignore[no-untyped-def]
    return image_store(checked=image_check(data=png_bytes(size=size, colour=colour)))[0]


def item_with_images(*colours: tuple[int, int, int], factory: type[ItemFactory] = ItemFactory, **fields):  # type: ignore[no-untyped-def]
    """An item whose images are PNGs of these colours, in this order (the first as Item.image, the rest ItemImage)."""
    from annotations.models import ItemImage

    first, *more = [stored_png(colour, size=(64 + 8 * n, 48)) for n, colour in enumerate(colours)]
    item = factory(image=first, **fields)
    for position, image in enumerate(more, start=2):
        ItemImage.objects.create(item=item, image=image, position=position)
    return item
