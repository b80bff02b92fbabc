"""The metrics dashboard in a real browser: its plots are drawn, and a filter swaps the body in place."""

from __future__ import annotations

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from annotations.models import CriticCheckpoint, CriticVerdict, HumanVerdict
from tests.browser.login import log_in
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, PairwiseItemFactory, UserFactory

MODELS = ["llava-7b", "gpt-4v", "qwen-vl"]


@pytest.fixture
def dashboard_data(transactional_db):  # type: ignore[no-untyped-def]
    dataset = DatasetFactory(name="arena votes")
    critic = CheckpointFactory(name="llava-critic-7b", is_active=True)
    gpt = CriticCheckpoint.objects.create(name="gpt-4o", is_external=True)
    rita = UserFactory(username="rita")
    first = ItemFactory(dataset=dataset, external_id="p0")
    for i in range(8):
        item = first if i == 0 else ItemFactory(dataset=dataset, external_id=f"p{i}", image=first.image)
        item.model_a = MODELS[i % 3]
        item.save()
        CriticVerdict.objects.create(item=item, checkpoint=critic, profile="pointwise", status="done",
                                     score=10 * i + 5, confidence=0.1 * i)  # fmt: skip
        HumanVerdict.objects.create(item=item, reviewer=rita, profile="pointwise", score=10 * i + (i % 3) * 4)
    prefs = ["A", "B", "tie", "A", "B", "A"]
    for i, pref in enumerate(prefs):
        item = PairwiseItemFactory(dataset=dataset, external_id=f"w{i}", image=first.image,
                                   model_a=MODELS[i % 3], model_b=MODELS[(i + 1) % 3])  # fmt: skip
        CriticVerdict.objects.create(item=item, checkpoint=critic, profile="pairwise", status="done",
                                     preference="A" if i % 2 else pref, confidence=0.5 + 0.05 * i)  # fmt: skip
        CriticVerdict.objects.create(item=item, checkpoint=gpt, profile="pairwise", status="done", preference=pref)
        HumanVerdict.objects.create(item=item, reviewer=rita, profile="pairwise", preference=pref)
    return dataset


def test_the_dashboard_draws_its_plots_and_the_filter_swaps_the_body(page: Page, live_server, dashboard_data) -> None:  # type: ignore[no-untyped-def]
    log_in(page, live_server.url, "rita")
    page.get_by_role("link", name="arena votes").click()
    page.get_by_role("link", name="Metrics").click()

    expect(page.get_by_role("heading", name="How far can the critic be trusted?")).to_be_visible()
    expect(page.locator("svg.scatter g.dots circle")).to_have_count(8)
    expect(page.locator("svg.scatter line.fit")).to_be_visible()
    expect(page.locator("svg.histograms rect.bar-human").first).to_be_attached()
    expect(page.locator("svg.reliability").first).to_be_visible()
    expect(page.locator("table.heat")).to_be_visible()
    # Four games a model: ratings, but no interval, and the page says why.
    expect(page.locator("section.leaderboard", has_text="too few for a bootstrap interval")).to_be_visible()
    expect(page.get_by_role("heading", name="Can the critic replace a reviewer?")).to_be_visible()
    expect(page.locator("#alt-test", has_text="the alt-test needs 3")).to_be_visible()
    expect(page.locator("#metrics-body code", has_text="llava-critic-7b")).to_be_visible()
    expect(page.locator("#metrics-view")).to_contain_text("Your view: 14 items you have judged")  # all of them here

    page.evaluate("window.__same_page = true")
    page.get_by_role("combobox", name="Critic").select_option("gpt-4o")
    expect(page.get_by_text("external judge")).to_be_visible()
    expect(page).to_have_url(
        f"{live_server.url}/datasets/{dashboard_data.pk}/metrics/?checkpoint=gpt-4o&split=&profile=&reviewer=&response_model="
    )
    accuracy = page.locator("table.stats tr", has_text="Accuracy with ties")
    expect(accuracy).to_contain_text("1.000")
    assert page.evaluate("window.__same_page") is True  # swapped in place, not reloaded


def test_each_plot_has_axes_and_downloads_as_svg_and_png(page: Page, live_server, dashboard_data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    log_in(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/datasets/{dashboard_data.pk}/metrics/")

    scatter = page.locator("#figure-scatter")
    expect(scatter.get_by_role("img", name="Human against critic scores")).to_be_visible()
    expect(scatter.locator("g.x-axis text.tick")).to_have_text(["0", "20", "40", "60", "80", "100"])
    expect(scatter.locator("text.axis-label.y")).to_have_text("critic score (pointwise profile, 0 to 100)")
    counts = page.locator("#figure-histograms g.y-axis text.tick").all_text_contents()
    assert counts[0] == "0"
    assert all(b - a == int(counts[1]) for a, b in zip(map(int, counts), map(int, counts[1:]), strict=False))
    expect(page.locator("#figure-leaderboard text.axis-label.x")).to_contain_text("rating (Arena scale")

    svg_link = scatter.get_by_role("link", name="SVG")
    href = str(svg_link.get_attribute("href"))
    response = page.request.get(f"{live_server.url}/datasets/{dashboard_data.pk}/metrics/{href}")  # the session's
    assert response.status == 200
    assert response.headers["content-type"].startswith("image/svg+xml")

    with page.expect_download() as caught:
        scatter.get_by_role("button", name="PNG").click()
    download = caught.value
    assert download.suggested_filename == f"metrics-{dashboard_data.pk}-scatter.png"
    png = tmp_path / "scatter.png"
    download.save_as(png)
    with Image.open(png) as picture:
        assert picture.format == "PNG"
        width = float(str(scatter.locator("svg").get_attribute("width")))
        assert picture.size[0] == round(2 * width)  # drawn at twice the chart's size
        assert len(picture.convert("L").getcolors(256) or []) > 10  # a drawing, not a blank canvas
