from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User

from annotations.models import Dataset


def dataset_create(*, created_by: User | None, **fields: Any) -> Dataset:
    dataset = Dataset(created_by=created_by, **fields)
    dataset.full_clean()
    dataset.save()
    return dataset
