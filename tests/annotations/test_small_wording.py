"""Small wording on the desk and the dashboard: one item is not "items", and the part of a dataset the desk serves is
listed without a stray separator whichever filters are set."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from annotations.charts.scores import scatter
from tests.factories import DatasetFactory, ItemFactory


def test_the_scatter_of_one_item_says_so() -> None:
    chart = scatter([[40.0, 60.0]], [0, 100], None, "points (0-100)", 1)
    assert chart is not None
    assert chart["caption"].endswith("; the only item.")
    assert "1 items" not in chart["caption"] + chart["desc"]
    assert "1 distinct pairs" not in chart["desc"]
    two = scatter([[40.0, 60.0], [50.0, 50.0]], [0, 100], None, "points (0-100)", 2)
    assert two is not None
    assert two["caption"].endswith("; all 2 items.")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "said"),
    [
        ({"q": "upload-1"}, "Reviewing part of the dataset: matching “upload-1” · review all items"),
        (
            {"split": "pool", "q": "upload-1"},
            "Reviewing part of the dataset: split pool · matching “upload-1” · review",
        ),
        ({"profile": "pointwise"}, "Reviewing part of the dataset: profile pointwise · review all items"),
    ],
)
def test_the_desk_names_the_part_it_serves_without_a_stray_dot(
    reviewer_client: Client, query: dict[str, str], said: str
) -> None:
    dataset = DatasetFactory()
    ItemFactory(dataset=dataset, external_id="upload-1")
    page = reviewer_client.get(reverse("review-next", args=[dataset.pk]), {"scope": "table", **query}).content.decode()
    note = re.search(r'<p class="small scope-note" id="review-scope">(.*?)</p>', page, re.S)
    assert note is not None
    assert re.sub(r"<[^>]+>", "", note.group(1)).startswith(said)
