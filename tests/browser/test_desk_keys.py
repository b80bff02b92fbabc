"""Every desk key, in every state of the desk (nothing chosen, chosen, revealed, revised), does what its label says
and nothing else: one row of the table per (kind, state, keys, expected effect), checked in the page and in the
database."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from annotations.models import CriticVerdict, HumanVerdict, Item, ReviewSkip
from tests.browser.login import log_in
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, PairwiseItemFactory, UserFactory

FIRST, SECOND = "First question: how many circles?", "Second question: which colour?"


@dataclass
class Desk:
    page: Page
    first: Item
    second: Item
    pairwise: bool


@pytest.fixture
def open_desk(page: Page, live_server, transactional_db):  # type: ignore[no-untyped-def]
    def make(kind: str) -> Desk:
        UserFactory(username="rita")
        checkpoint = CheckpointFactory(is_active=True)
        dataset = DatasetFactory(name="desk-keys")
        factory = PairwiseItemFactory if kind == "pairwise" else ItemFactory
        first = factory(dataset=dataset, question=FIRST)
        second = factory(dataset=dataset, question=SECOND, image=first.image)
        for item in (first, second):
            verdict = {"preference": "A"} if kind == "pairwise" else {"score": 80}
            CriticVerdict.objects.create(
                item=item,
                checkpoint=checkpoint,
                profile=item.profile,
                status="done",
                justification="Because.",
                **verdict,
            )
        log_in(page, live_server.url, "rita")
        page.goto(f"{live_server.url}/datasets/{dataset.pk}/review/")
        expect(page.get_by_text(FIRST)).to_be_visible()
        page.wait_for_load_state("load")
        return Desk(page=page, first=first, second=second, pairwise=kind == "pairwise")

    return make


def reach(desk: Desk, state: str) -> None:
    """Put the desk in the state by the keyboard (and the revise form), as a reviewer would."""
    page = desk.page
    if state == "nothing":
        return
    if state == "arrowed":  # the score moved by the arrow keys from the slider's middle to 52
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        expect(page.locator("#score")).to_have_value("52")
        return
    if state == "arrowed-in-box":  # the same, with the score box focused
        page.locator("#score").click()
        page.keyboard.press("ArrowUp")
        page.keyboard.press("ArrowUp")
        expect(page.locator("#score")).to_have_value("52")
        return
    keys = ["3"] if desk.pairwise else ["8", "5"]
    for key in keys:
        page.keyboard.press(key)
    if state == "chosen":
        return
    page.keyboard.press("Enter")
    expect(page.locator("#reveal")).to_be_visible()
    if state == "revealed":
        return
    assert state == "revised"
    if desk.pairwise:
        page.get_by_label("Revised preference").select_option("A")
    else:
        page.get_by_label("Revised score").fill("80")
    page.get_by_role("button", name="Revise").click()
    expect(page.get_by_text("revised to")).to_be_visible()
    page.locator("body").click(position={"x": 1, "y": 1})  # the keys below go to the page, not the revise form


def verdicts(desk: Desk) -> list[tuple[float | None, str | None, float | None, str | None]]:
    return list(
        HumanVerdict.objects.filter(item=desk.first).values_list(
            "score", "preference", "revised_score", "revised_preference"
        )
    )


def check(desk: Desk, effect: str, before: list[tuple[float | None, str | None, float | None, str | None]]) -> None:
    page = desk.page
    name, _, value = effect.partition(":")
    if name == "choose":
        expect(page.locator(f'#verdict input[name="preference"][value="{value}"]')).to_be_checked()
        expect(page.locator('#verdict input[name="preference"]:checked')).to_have_count(1)
        assert verdicts(desk) == []
    elif name == "score":
        expect(page.locator("#score")).to_have_value(value)
        expect(page.locator("#score-range")).to_have_value(value)
        assert verdicts(desk) == []
    elif name == "missing":
        expect(page.locator("#verdict-missing")).to_be_visible()
        expect(page.locator("#verdict-missing")).to_contain_text("score" if not desk.pairwise else "better")
        expect(page.locator("#verdict")).to_be_visible()
        assert verdicts(desk) == []
    elif name == "skipped":
        expect(page.get_by_text(SECOND)).to_be_visible()
        expect(page.locator("#verdict")).to_be_visible()
        assert ReviewSkip.objects.filter(item=desk.first).exists()
        assert verdicts(desk) == []
    elif name == "submitted":
        expect(page.locator("#reveal")).to_be_visible()
        stored = verdicts(desk)
        assert len(stored) == 1
        assert stored[0][1] == value if desk.pairwise else stored[0][0] == float(value)
    elif name == "next":
        expect(page.get_by_text(SECOND)).to_be_visible()
        expect(page.locator("#verdict")).to_be_visible()
        assert verdicts(desk) == before
    elif name == "raw":
        expect(page.locator("html")).to_have_class("raw-text")
        expect(page.locator(".model-text pre.raw").first).to_be_visible()
        expect(page.locator(".model-text .md").first).to_be_hidden()
        assert verdicts(desk) == before
    else:
        assert name == "unchanged"
        page.wait_for_timeout(300)  # give a wrong handler the time to act
        expect(page.get_by_text(FIRST)).to_be_visible()
        assert verdicts(desk) == before
        assert not ReviewSkip.objects.filter(item=desk.first).exists()


TABLE = [
    # pairwise: 1/2/3 and ← ↓ → choose, Enter submits, S skips, N only after the reveal
    ("pairwise", "nothing", ["1"], "choose:A"),
    ("pairwise", "nothing", ["2"], "choose:tie"),
    ("pairwise", "nothing", ["3"], "choose:B"),
    ("pairwise", "nothing", ["ArrowLeft"], "choose:A"),
    ("pairwise", "nothing", ["ArrowDown"], "choose:tie"),
    ("pairwise", "nothing", ["ArrowRight"], "choose:B"),
    ("pairwise", "nothing", ["Enter"], "missing"),
    ("pairwise", "nothing", ["s"], "skipped"),
    ("pairwise", "nothing", ["n"], "unchanged"),
    ("pairwise", "nothing", ["r"], "raw"),
    ("pairwise", "chosen", ["1"], "choose:A"),
    ("pairwise", "chosen", ["Enter"], "submitted:B"),
    ("pairwise", "chosen", ["s"], "skipped"),
    ("pairwise", "chosen", ["Shift+S"], "skipped"),
    ("pairwise", "chosen", ["n"], "unchanged"),
    ("pairwise", "revealed", ["n"], "next"),
    ("pairwise", "revealed", ["s"], "unchanged"),
    ("pairwise", "revealed", ["1"], "unchanged"),
    ("pairwise", "revealed", ["Enter"], "unchanged"),
    ("pairwise", "revealed", ["r"], "raw"),
    ("pairwise", "revised", ["n"], "next"),
    ("pairwise", "revised", ["s"], "unchanged"),
    # pointwise: digits type the score (a digit after another key starts anew), ← → move it
    ("pointwise", "nothing", ["8", "5"], "score:85"),
    ("pointwise", "nothing", ["1", "0", "0"], "score:100"),
    ("pointwise", "nothing", ["ArrowRight"], "score:51"),  # one step from where the slider stands
    ("pointwise", "nothing", ["ArrowLeft"], "score:49"),
    ("pointwise", "nothing", ["Enter"], "missing"),
    ("pointwise", "nothing", ["s"], "skipped"),
    ("pointwise", "nothing", ["n"], "unchanged"),
    ("pointwise", "arrowed", ["8", "5"], "score:85"),
    ("pointwise", "arrowed-in-box", ["8", "5"], "score:85"),
    ("pointwise", "arrowed", ["Enter"], "submitted:52"),
    ("pointwise", "chosen", ["ArrowRight"], "score:86"),
    ("pointwise", "chosen", ["ArrowLeft", "7"], "score:7"),
    ("pointwise", "chosen", ["Backspace", "0"], "score:80"),
    ("pointwise", "chosen", ["Enter"], "submitted:85"),
    ("pointwise", "chosen", ["s"], "skipped"),
    ("pointwise", "chosen", ["r"], "raw"),
    ("pointwise", "revealed", ["n"], "next"),
    ("pointwise", "revealed", ["s"], "unchanged"),
    ("pointwise", "revealed", ["5"], "unchanged"),
    ("pointwise", "revealed", ["Enter"], "unchanged"),
    ("pointwise", "revised", ["n"], "next"),
    ("pointwise", "revised", ["s"], "unchanged"),
]


@pytest.mark.parametrize(
    ("kind", "state", "keys", "effect"), TABLE, ids=lambda v: "+".join(v) if isinstance(v, list) else v
)
def test_desk_key(open_desk, kind: str, state: str, keys: list[str], effect: str) -> None:  # type: ignore[no-untyped-def]
    desk = open_desk(kind)
    reach(desk, state)
    before = verdicts(desk)
    for key in keys:
        desk.page.keyboard.press(key)
    check(desk, effect, before)


def test_the_agreement_line_follows_the_revision_and_keeps_the_blind_one(open_desk) -> None:  # type: ignore[no-untyped-def]
    desk = open_desk("pointwise")  # the critic says 80
    page = desk.page
    for key in ("2", "0", "Enter"):
        page.keyboard.press(key)
    expect(page.locator(".agreement")).to_have_text("You and the critic disagree.")
    page.get_by_label("Revised score").fill("80")
    page.get_by_role("button", name="Revise").click()
    expect(page.locator(".agreement")).to_contain_text("With your revision, you and the critic agree.")
    expect(page.locator(".blind-agreement")).to_have_text("Your blind verdict disagreed with it.")
    assert verdicts(desk) == [(20.0, None, 80.0, None)]
