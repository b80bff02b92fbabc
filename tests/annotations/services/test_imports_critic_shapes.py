"""Critic rows in the public shapes as real data writes them (whitespace, image tokens before or after, two
images, brackets inside the parts, system turns, both ShareGPT role names, every verdict shape) are split into
their parts and their judge's verdict read; a row that cannot be split is refused, never made a plain item."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from annotations.models import CriticVerdict, Item
from annotations.services.imports import items_import
from tests.annotations.services.critic_shape_rows import (
    BENCH,
    CAPTION,
    CARD_PAIR,
    CARD_POINT,
    FIVE_POINT,
    LABELLED_ROWS,
    WV_SYSTEM,
    WV_USER,
    Row,
    hg,
    turns,
)
from tests.annotations.services.import_files import image_folder, write_llava_json, write_parquet
from tests.factories import DatasetFactory
from tests.images import png_bytes

pytestmark = pytest.mark.django_db

ROWS: dict[str, Row] = {
    **LABELLED_ROWS,
    "caption, dc100": (
        hg("<image>\n" + CAPTION.format(a="A red bus [left] passes a tree."), "The bus is right.\nFinal Score: 66"),
        1,
        ("Describe the image in detail.", "A red bus [left] passes a tree.", "", ""),
        "caption",
        66.0,
    ),
    "caption, multi-line caption": (
        hg(CAPTION.format(a="A kitchen.\n\nA kettle boils on the stove.") + "\n<image>", "Final Score: 90\nGood."),
        1,
        ("Describe the image in detail.", "A kitchen.\n\nA kettle boils on the stove.", "", ""),
        "caption",
        90.0,
    ),
    "wildvision, system turn judge": (
        turns(
            ("system", WV_SYSTEM),
            ("human", "<image>\n" + WV_USER.format(q="Read the sign.", a="STOP", b="SLOW")),
            ("gpt", "A reads it right.\n\nMy final verdict is: [[A>>B]]"),
        ),
        1,
        ("Read the sign.", "STOP", "SLOW", ""),
        "wildvision",
        "A",
    ),
    "wildvision, tie, answers with brackets": (
        hg(
            "<image>\n" + WV_SYSTEM + "\n\n" + WV_USER.format(q="List [two] items.", a="[a, b]", b="- a\n- b"),
            "Both list two.\nMy final verdict is tie: [[A=B]]",
        ),
        1,
        ("List [two] items.", "[a, b]", "- a\n- b", ""),
        "wildvision",
        "tie",
    ),
    "wildvision, B>A": (
        hg(
            WV_USER.format(q="Count.", a="3", b="4") + "\n<image>",
            "My final verdict is: [[B>A]]",
            user="user",
            bot="assistant",
        ),
        1,
        ("Count.", "3", "4", ""),
        "wildvision",
        "B",
    ),
    "llava-bench, captions with boxes": (
        hg(
            "<image>\n"
            + BENCH.format(
                note="A man rides a horse.\nperson: [0.1, 0.2, 0.5, 0.9]\nhorse: [0.2, 0.4, 0.8, 1.0]",
                q="What animal?",
                ref="A horse.",
                a="A horse [brown].",
            ),
            "10 7\nAssistant 2 adds a colour not asked.",
        ),
        1,
        ("What animal?", "A horse [brown].", "", "A horse."),
        "llava-bench",
        7.0,
    ),
    "llava-bench, no context, decimals": (
        hg(
            "<image>\n" + BENCH.replace("[Context]\n{note}\n\n", "").format(q="Why?", ref="Rain.", a="Sun."),
            "8.5 4\nWrong.",
        ),
        1,
        ("Why?", "Sun.", "", "Rain."),
        "llava-bench",
        4.0,
    ),
    "llava-bench, [Assistant 1] quoted in response": (
        hg(
            "<image>\n"
            + BENCH.format(note="A desk.", q="What is on it?", ref="A lamp.", a="As [Assistant 1] said, a lamp."),
            "9 9\nSame.",
        ),
        1,
        ("What is on it?", "As [Assistant 1] said, a lamp.", "", "A lamp."),
        "llava-bench",
        9.0,
    ),
    "card point, question with newlines and brackets": (
        hg("<image>\n" + CARD_POINT.format(q="Look:\n[Figure 2]\nWhat trend?", a="It rises."), "Score: 60"),
        1,
        ("Look:\n[Figure 2]\nWhat trend?", "It rises.", "", ""),
        "pointwise",
        60.0,
    ),
    "card pair, extra spaces": (
        hg(
            "<image>\n\n" + CARD_PAIR.format(q="  Colour?  ", a=" Red. ", b="Blue.").replace(": [", ":  ["),
            "Response 1 is better.",
        ),
        1,
        ("Colour?", "Red.", "Blue.", ""),
        "pairwise",
        "A",
    ),
    # A line inside a bracketed part that ends with a citation's "]" and then starts with a label: not a boundary.
    "card point, Response 2: after a citation": (
        hg("<image>\n" + CARD_POINT.format(q="Compare.", a="See [1]\nResponse 2: also"), "Score: 55"),
        1,
        ("Compare.", "See [1]\nResponse 2: also", "", ""),
        "pointwise",
        55.0,
    ),
    "five point, Reference: after a citation": (
        hg("<image>\n" + FIVE_POINT.format(q="Source?", a="Per [1]\nReference: Wikipedia"), "Final Score: 40"),
        1,
        ("Source?", "Per [1]\nReference: Wikipedia", "", ""),
        "caption",
        40.0,
    ),
    "card pair, Reference: after a citation": (
        hg(
            "<image>\n" + CARD_PAIR.format(q="Source?", a="Per [2]\nReference: Wiki", b="None."),
            "Response 1 is better.",
        ),
        1,
        ("Source?", "Per [2]\nReference: Wiki", "None.", ""),
        "pairwise",
        "A",
    ),
    "card pair, options and Answer: in the question": (
        hg(
            "<image>\n" + CARD_PAIR.format(q="Pick one: cat or dog [A/B]\nAnswer: the letter only", a="A", b="B"),
            "The first response is better.",
        ),
        1,
        ("Pick one: cat or dog [A/B]\nAnswer: the letter only", "A", "B", ""),
        "pairwise",
        "A",
    ),
    "card pair, unbalanced bracket in a response": (
        hg("<image>\n" + CARD_PAIR.format(q="Which figure?", a="See [fig", b="Figure 2."), "Response 2 is better."),
        1,
        ("Which figure?", "See [fig", "Figure 2.", ""),
        "pairwise",
        "B",
    ),
    "multi-turn, then a card pair": (
        turns(
            ("human", "<image>\nWhat is this?"),
            ("gpt", "A bus."),
            ("human", CARD_PAIR.format(q="What colour?", a="Red.", b="Blue.")),
            ("gpt", "Response 1 is better."),
        ),
        1,
        ("What colour?", "Red.", "Blue.", ""),
        "pairwise",
        "A",
    ),
    "MLLM-as-a-Judge score prompt": (
        hg(
            "<image>\nPlease serve as an unbiased judge in assessing the quality of the responses from AI assistants "
            "regarding the user's instruction and a figure. Rate the response on a scale of 1 to 5 and output it as "
            '"[[5]]".\n[The Start of User Instruction]\nWhat is shown?\n[The End of User Instruction]\n'
            "[The Start of Assistant's Answer]\nA chart.\n[The End of Assistant's Answer]",
            "Judgement: [[4]]",
        ),
        1,
        None,
        "",
        None,
    ),
}


@pytest.mark.parametrize("name", ROWS)
def test_each_row_is_split_and_its_verdict_read_or_refused(tmp_path: Path, name: str) -> None:
    conv, images, expected, profile, verdict = ROWS[name]
    image: Any = [f"imgs/{i}.png" for i in range(images)] if images > 1 else "imgs/0.png"
    rows = [{"id": name, "image": image, "conversations": conv}]
    path = write_llava_json(tmp_path / "l.json", rows)
    report = items_import(dataset=DatasetFactory(), path=path, images=image_folder(tmp_path, images))
    assert report.plain_conversations == 0
    if expected is None:
        assert report.refused == {"critic prompt not recognised": 1}
        assert not Item.objects.exists()
        return
    assert report.ok, report.problems
    item = Item.objects.get(external_id=name)
    assert (item.question, item.response_a, item.response_b, item.reference) == expected
    assert item.profile == profile
    judged = CriticVerdict.objects.get(item=item)
    assert judged.status == "done", judged.raw_output
    assert (judged.score if isinstance(verdict, float) else judged.preference) == verdict


def test_113k_rows_with_system_turns_roles_and_families_are_split_and_judged(tmp_path: Path) -> None:
    picked = {
        "a__detail_caption": (hg("<image>\n" + CARD_POINT.format(q="Describe.", a="A dog."), "Final Score: 64"), 64.0),
        "b": (ROWS["wildvision, system turn judge"][0], "A"),
        "c": (ROWS["card pair, user/assistant roles"][0], "B"),
        "d": (ROWS["card point, Response 2: after a citation"][0], 55.0),
    }
    data = [
        {"id": row_id, "source": "t", "conversations": conv, "image": {"bytes": png_bytes(), "path": f"{row_id}.png"}}
        for row_id, (conv, _) in picked.items()
    ]
    report = items_import(dataset=DatasetFactory(), path=write_parquet(tmp_path / "c.parquet", data))
    assert report.ok, report.problems
    assert {i.external_id: i.profile for i in Item.objects.all()} == {
        "a__detail_caption": "caption",
        "b": "wildvision",
        "c": "pairwise",
        "d": "pointwise",
    }
    assert Item.objects.get(external_id="b").context == []  # the judge's system prompt is no earlier turn
    for row_id, (_, verdict) in picked.items():
        judged = CriticVerdict.objects.get(item__external_id=row_id)
        assert (judged.score if isinstance(verdict, float) else judged.preference) == verdict, row_id
