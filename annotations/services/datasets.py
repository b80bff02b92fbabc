from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from annotations.models import Dataset
from critic_worker.profiles import forget_defined_profiles


def dataset_create(*, created_by: User | None, **fields: Any) -> Dataset:
    """A new dataset; ValidationError by field (its name taken, a default profile unknown or of the other kind)."""
    dataset = Dataset(created_by=created_by, **fields)
    dataset.full_clean()
    try:
        with transaction.atomic():
            dataset.save()
    except IntegrityError:
        # Checked above, refused by the database: a profile it names was renamed or deleted meanwhile (its row is
        # locked while an edit is saved), or the name was taken. The same checks, on the profiles as they are now,
        # say which.
        forget_defined_profiles()
        dataset.full_clean()
        raise
    return dataset
