from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from annotations.models import CriticCheckpoint, Dataset, Item
from annotations.services.images import image_check, image_store
from tests.images import png_bytes


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"reviewer{n}")
    password = factory.django.Password("pass-for-tests")


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
