"""Swap checks stored before probes existed (CriticVerdict.swapped) become swap probes; the items' own verdicts stay
the items' verdicts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("annotations", "0023_item_images_in_order")]
AFTER = [("annotations", "0024_probes")]


@pytest.fixture(autouse=True)
def _back_to_the_latest_migrations() -> Iterator[None]:
    """The tests after this one run on every migration (0025's triggers included), as the suite began."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_swap_checks_become_swap_probes() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    dataset = old.get_model("annotations", "Dataset").objects.create(name="before-probes")
    image = old.get_model("annotations", "Image").objects.create(
        sha256="d" * 64, file="images/d.png", normalized="renditions/d.png", width=4, height=3, format="PNG",
        size_bytes=10,
    )  # fmt: skip
    item = old.get_model("annotations", "Item").objects.create(
        dataset=dataset, external_id="p1", image=image, question="Which?", kind="pairwise", profile="pairwise",
        response_a="Red.", response_b="Blue.",
    )  # fmt: skip
    checkpoint = old.get_model("annotations", "CriticCheckpoint").objects.create(name="critic", model="/m")
    verdicts = old.get_model("annotations", "CriticVerdict").objects
    own = verdicts.create(item=item, checkpoint=checkpoint, profile="pairwise", status="done", preference="A")
    swap = verdicts.create(
        item=item, checkpoint=checkpoint, profile="pairwise", status="done", preference="B", swapped=True
    )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("annotations", "CriticVerdict").objects
    assert dict(new.values_list("pk", "probe")) == {own.pk: "", swap.pk: "swap"}
    assert new.get(pk=swap.pk).preference == "B"
