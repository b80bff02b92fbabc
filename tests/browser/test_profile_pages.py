"""An administrator defines a 1-5 rubric on the Profiles page, tries its reader on a critic's text, and finds it
offered when creating a dataset."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from annotations.models import Dataset, PromptProfile
from tests.browser.login import log_in
from tests.factories import AdminFactory

TEMPLATE = "Rate the answer to {question} from 1 to 5.\nAnswer: {response}\nEnd with 'Rating: N'."


def test_define_a_one_to_five_profile_and_create_a_dataset_with_it(page: Page, live_server, transactional_db) -> None:  # type: ignore[no-untyped-def]
    AdminFactory(username="ada")
    log_in(page, live_server.url, "ada")
    page.get_by_role("link", name="Profiles").click()
    expect(page.get_by_role("heading", name="Prompt profiles")).to_be_visible()
    expect(page.locator("#profile-pointwise")).to_contain_text("0-100 in steps of 1")

    page.get_by_role("link", name="New profile").click()
    page.get_by_label("Name:").fill("likert-1to5")
    page.get_by_label("Title:").fill("Likert, 1 to 5")
    page.get_by_label("Kind:").select_option("pairwise")  # the page shows the fields that apply to the kind
    expect(page.get_by_label("Lowest score:")).to_be_hidden()
    expect(page.get_by_label("A tie is a verdict")).to_be_visible()
    page.get_by_label("Kind:").select_option("pointwise")
    expect(page.get_by_label("A tie is a verdict")).to_be_hidden()
    page.get_by_label("Template:").fill("Rate the answer to {question}.")  # no {response}: refused, nothing saved
    page.get_by_label("Lowest score:").fill("1")
    page.get_by_label("Highest score:").fill("5")
    page.get_by_label("Step:").fill("1")
    page.get_by_label("Verdict pattern:").fill(r"Rating:\s*(?P<score>\d+)")
    page.get_by_label("Verdict line:").fill("Rating: {score}")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("a pointwise template must contain {response}")).to_be_visible()
    assert not PromptProfile.objects.exists()
    page.get_by_label("Template:").fill(TEMPLATE)
    page.get_by_role("button", name="Save profile").click()

    expect(page.get_by_role("heading", name="likert-1to5")).to_be_visible()
    expect(page.get_by_text("Profile 'likert-1to5' saved")).to_be_visible()
    expect(page.get_by_text("1-5 in steps of 1")).to_be_visible()
    assert PromptProfile.objects.get().template == TEMPLATE  # the browser's CRLF line ends made LF

    page.get_by_label("A critic's text").fill("It misses the second dog.\nRating: 4")
    page.get_by_role("button", name="Read it").click()
    expect(page.locator("#reading")).to_contain_text("Read: score 4")
    expect(page.locator("#reading")).to_contain_text("the profile's own verdict line")
    page.get_by_label("A critic's text").fill("Rating: 9")
    page.get_by_role("button", name="Read it").click()
    expect(page.locator("#reading")).to_contain_text("Unreadable")
    expect(page.locator("#reading")).to_contain_text("outside the profile's range 1-5")

    page.get_by_role("link", name="Datasets", exact=True).click()
    page.get_by_role("link", name="New dataset").click()
    pointwise = page.get_by_label("Pointwise profile")
    expect(pointwise.locator("option", has_text="likert-1to5: Likert, 1 to 5")).to_have_count(1)
    expect(page.get_by_label("Pairwise profile").locator("option", has_text="likert-1to5")).to_have_count(0)
    page.get_by_label("Name:").fill("rubric")
    pointwise.select_option("likert-1to5")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("link", name="likert-1to5")).to_be_visible()
    assert Dataset.objects.get().pointwise_profile == "likert-1to5"

    page.get_by_role("link", name="likert-1to5").click()  # the dataset page links its profile; now in use
    expect(page.get_by_text("1 dataset")).to_be_visible()
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)


def test_the_form_offers_only_what_applies_to_the_kind(page: Page, live_server, transactional_db) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    AdminFactory(username="ada")
    log_in(page, live_server.url, "ada")
    page.goto(f"{live_server.url}/profiles/new/")
    reader = page.get_by_label("Verdict reader:")
    offered = reader.locator("option:not([disabled])")

    expect(page.get_by_label("Value map:")).to_be_hidden()  # pointwise: no value map, no pairwise readers
    expect(offered).to_have_count(4)
    expect(reader.locator("option[disabled]")).to_have_text([re.compile("'pairwise'"), re.compile("'wildvision'")])

    page.get_by_label("Kind:").select_option("pairwise")
    expect(page.get_by_label("Value map:")).to_be_visible()
    expect(page.get_by_label("Lowest score:")).to_be_hidden()
    expect(offered).to_have_count(3)
    reader.select_option("wildvision")
    expect(page.get_by_label("Value map:")).to_be_hidden()  # a family's reader: no pattern fields

    page.get_by_label("Kind:").select_option("pointwise")  # the wildvision reader does not read scores
    expect(reader).to_have_value("pattern")
    expect(page.get_by_label("Verdict pattern:")).to_be_visible()
    expect(page.get_by_label("Value map:")).to_be_hidden()
    expect(page.get_by_label("Step:")).to_be_visible()
    assert errors == []
