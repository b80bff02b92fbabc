"""Every dashboard chart and the retraining loss download as standalone SVG files: well-formed, titled and described,
with labelled axes, drawn from the same (blind) data as the page."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from django.test import Client
from django.urls import reverse

from annotations.models import RetrainingJob
from annotations.selectors.metrics import agreement_for_dataset
from tests.annotations.test_metrics import Scene
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"
CHARTS = ("scatter", "histograms", "leaderboard", "reliability-pairwise", "reliability-pointwise")


def svg_of(client: Client, url: str, **query: str) -> ET.Element:
    response = client.get(url, query)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return ET.fromstring(response.content)  # noqa: S314 - our own output


def texts(root: ET.Element, group: str) -> list[str]:
    found = root.find(f".//{SVG}g[@class='{group}']")
    assert found is not None, group
    return [t.text or "" for t in found.iter(f"{SVG}text")]


def test_each_chart_downloads_as_an_svg_with_a_title_description_and_labelled_axes(
    scene: Scene, reviewer_client: Client
) -> None:
    url = reverse("dataset-metrics", args=[scene.dataset.pk])
    page = reviewer_client.get(url).content.decode()
    for key in CHARTS:
        assert f"chart={key}&amp;format=svg" in page
        root = svg_of(reviewer_client, url, chart=key, format="svg")
        assert root.get("role") == "img"
        assert (root.findtext(f"{SVG}title") or "").strip()
        assert (root.findtext(f"{SVG}desc") or "").strip()
        assert root.find(f".//{SVG}text[@class='axis-label x']") is not None
        assert len(texts(root, "x-axis")) >= 2
    scatter = svg_of(reviewer_client, url, chart="scatter", format="svg")
    assert texts(scatter, "x-axis") == texts(scatter, "y-axis") == ["0", "20", "40", "60", "80", "100"]
    assert "(pointwise profile, 0 to 100)" in (scatter.findtext(f".//{SVG}text[@class='axis-label x']") or "")


def test_the_histogram_count_axis_ends_on_a_labelled_tick_above_the_fullest_bin(
    scene: Scene, reviewer_client: Client
) -> None:
    url = reverse("dataset-metrics", args=[scene.dataset.pk])
    root = svg_of(reviewer_client, url, chart="histograms", format="svg")
    hist = agreement_for_dataset(dataset=scene.dataset)["pointwise"]["histogram"]
    fullest = max(hist["human"] + hist["critic"])
    ticks = [int(t) for t in texts(root, "y-axis")]
    assert ticks[0] == 0
    assert ticks[-1] >= fullest > ticks[-2]
    assert (root.findtext(f".//{SVG}text[@class='axis-label y']") or "") == "items in the bin"


def dot_total(root: ET.Element) -> int:
    titles = [t.text or "" for t in root.iter(f"{SVG}title")]
    return sum(int(m.group(1)) for t in titles if (m := re.search(r": (\d+) items?$", t)))


def test_a_reviewer_downloads_only_the_points_of_items_they_have_judged(scene: Scene, admin_client: Client) -> None:
    sam = UserFactory(username="sam")
    client = Client()
    client.force_login(sam)
    url = reverse("dataset-metrics", args=[scene.dataset.pk])
    everyone = dot_total(svg_of(admin_client, url, chart="scatter", format="svg"))
    his = dot_total(svg_of(client, url, chart="scatter", format="svg"))
    assert everyone == agreement_for_dataset(dataset=scene.dataset)["pointwise"]["n"]
    assert his == agreement_for_dataset(dataset=scene.dataset, viewer=sam)["pointwise"]["n"]
    assert 0 < his < everyone  # sam judged six of the twelve pointwise items


def test_bad_chart_requests_say_why(scene: Scene, reviewer_client: Client) -> None:
    url = reverse("dataset-metrics", args=[scene.dataset.pk])
    unknown = reviewer_client.get(url, {"chart": "pie", "format": "svg"})
    assert unknown.status_code == 400
    assert "Unknown chart 'pie'" in unknown.json()["detail"][0]
    empty = Client()
    empty.force_login(UserFactory(username="newcomer"))  # has judged nothing: nothing to draw
    nothing = empty.get(url, {"chart": "scatter", "format": "svg"})
    assert nothing.status_code == 404
    assert "nothing to draw" in nothing.json()["detail"][0]
    assert Client().get(url, {"chart": "scatter", "format": "svg"}).status_code == 302  # login first


def test_the_loss_chart_has_axes_its_last_value_and_an_svg_download(admin_client: Client, job: RetrainingJob) -> None:
    page = admin_client.get(reverse("retraining-detail", args=[job.pk])).content.decode()
    assert "last 1.000 (step 3)" in page
    svg_url = reverse("retraining-loss-svg", args=[job.pk])
    assert svg_url in page
    root = svg_of(admin_client, svg_url)
    assert texts(root, "x-axis") == ["1", "2", "3"]
    assert texts(root, "y-axis")[0] == "1.0"
    assert texts(root, "y-axis")[-1] == "2.5"
    assert (root.findtext(f".//{SVG}text[@class='last-value']") or "") == "last 1.000 (step 3)"
    listed = admin_client.get(reverse("retraining-list")).content.decode()
    assert "last 1.000" in listed
    RetrainingJob.objects.filter(pk=job.pk).update(loss_log=[])
    assert admin_client.get(svg_url).status_code == 404
