"""LLaVA JSON and llava-critic-113k rows are never silently misread: critic prompts in the public shapes are split
into their parts with the profile that reads their verdict; a critic prompt in another shape is refused (or, when
asked, kept whole with its verdict); earlier turns become the item's context and reach the critic's prompt."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from annotations.importers.critic_prompts import CAPTION_QUESTION, parse_critic_prompt
from annotations.models import CriticCheckpoint, CriticVerdict, HumanVerdict, Item
from annotations.services import judging
from annotations.services.exports import training_export_create, training_export_run
from annotations.services.import_jobs import import_job_run
from annotations.services.imports import items_import
from annotations.services.tokens import api_token_create
from critic_worker import tasks
from critic_worker.profiles import (
    WHOLE_PROMPT_RESPONSE,
    PromptInput,
    chat_prompt,
    context_block,
    get_profile,
    user_turn,
)
from tests.annotations.services.import_files import (
    conversation,
    image_folder,
    parquet_row,
    write_llava_json,
    write_parquet,
)
from tests.factories import AdminFactory, CheckpointFactory, DatasetFactory, UserFactory
from tests.images import png_bytes

pytestmark = pytest.mark.django_db

FIVE_FACTORS = (
    "You are provided with an image and a question for this image. Please review the corresponding response{s} "
    "based on the following 5 factors: 1. Accuracy in Object Description: check the objects named. 2. Accuracy in "
    "Depicting Relationships: check how objects relate. 3. Accuracy in Describing Attributes: check colours and "
    "sizes. 4. Helpfulness: does it help the user. 5. Ethical Considerations: is it safe and fair. "
)
FIVE_FACTOR_POINTWISE = (
    FIVE_FACTORS.format(s="")
    + "From 0 to 100, how much do you rate for this response in terms of the correct and comprehensive description of "
    'the image?\nProvide a few lines for explanation and the rate number at last after "Final Score:".\n'
    "Your task is provided as follows:\nQuestion: [{question}]\nResponse: [{response}]\n"
)
FIVE_FACTOR_ANSWERS = (
    FIVE_FACTORS.format(s="s")
    + "You need to choose which response is better for the given question and provide a clear conclusion such as "
    '"Answer 1 is better." and "Answer 2 is better.".\nYour task is provided as follows:\n'
    "Question: [{question}]\nAnswer 1: [{a}]\nAnswer 2: [{b}]"
)
FIVE_FACTOR_RESPONSES = (
    FIVE_FACTORS.format(s="s") + "Decide which response is better.\nYour task is provided as follows:\n"
    "Question: [{question}]\nResponse 1: [{a}]\nResponse 2: [{b}]\n"
)
CAPTION = (
    "Text Caption: {caption}\nFrom 0 to 100, how much do you rate for this Text Caption in terms of the correct and "
    "comprehensive description of the image?\nDo not let one attribute dominate the rating.\n"
    'Provide a few lines for explanation and the rate number at last after "Final Score:".'
)
WILDVISION = (
    "Please act as an impartial judge and evaluate the responses of two AI assistants to the user prompt below. "
    "Output your final verdict with a label: [[A>>B]], [[A>B]], [[A=B]], [[B>A]] or [[B>>A]].\n\n"
    "<|User Prompt|>\n{question}\n\n<|The Start of Assistant A's Answer|>\n{a}\n<|The End of Assistant A's Answer|>"
    "\n\n<|The Start of Assistant B's Answer|>\n{b}\n<|The End of Assistant B's Answer|>"
)
LLAVA_BENCH = (
    "[Context]\n{note}\n\n[Question]\n{question}\n\n[Assistant 1]\n{reference}\n\n[End of Assistant 1]\n\n"
    "[Assistant 2]\n{a}\n\n[End of Assistant 2]\n\n[System]\nWe would like your feedback on the two assistants. "
    "Each receives an overall score on a scale of 1 to 10. Please first output a single line containing only two "
    "values indicating the scores for Assistant 1 and 2, respectively.\n\n"
)
UNKNOWN_CRITIC = (
    "You are an impartial judge. Evaluate the quality of the answer below and give it an overall score.\n"
    "<q>{question}</q>\n<a>{a}</a>"
)


def card(profile: str, question: str, a: str, b: str = "") -> str:
    return user_turn(get_profile(profile), PromptInput(question, a, b))


SHAPES = {
    # name: (human turn, gpt turn, expected (question, a, b, reference), profile, verdict)
    "model card pointwise": (
        card("pointwise", "What is on the table?", "A red apple."),
        "Accurate and complete. Score: 82/100",
        ("What is on the table?", "A red apple.", "", ""),
        "pointwise",
        82.0,
    ),
    "model card pairwise": (
        card("pairwise", "How many cats?", "Two cats.", "Three cats."),
        "The second response is better because there are three.",
        ("How many cats?", "Two cats.", "Three cats.", ""),
        "pairwise",
        "B",
    ),
    "caption": (
        "<image>\n" + CAPTION.format(caption="A brown dog runs on green grass."),
        "The dog and grass are right; the ball is missing.\nFinal Score: 72",
        (CAPTION_QUESTION, "A brown dog runs on green grass.", "", ""),
        "caption",
        72.0,
    ),
    "five factors, bare Response": (
        "<image>\n" + FIVE_FACTOR_POINTWISE.format(question="What is on the table?", response="A red apple."),
        "The object is right.\nFinal Score: 85",
        ("What is on the table?", "A red apple.", "", ""),
        "caption",
        85.0,
    ),
    "five factors, Answer 1 and 2": (
        "<image>\n" + FIVE_FACTOR_ANSWERS.format(question="Which sign?", a="A stop sign.", b="A yield sign."),
        "Answer 1 is better. The sign is octagonal and red.",
        ("Which sign?", "A stop sign.", "A yield sign.", ""),
        "pairwise",
        "A",
    ),
    "five factors, Response 1 and 2": (
        "<image>\n" + FIVE_FACTOR_RESPONSES.format(question="Is it raining?", a="Yes.", b="No, it is sunny."),
        "The better response: [2]\nThe sky is clear.",
        ("Is it raining?", "Yes.", "No, it is sunny.", ""),
        "pairwise",
        "B",
    ),
    "wildvision": (
        "<image>\n" + WILDVISION.format(question="Describe the scene.", a="A beach.", b="A busy beach at noon."),
        "Both mention the beach; B adds the time.\nMy final verdict is: [[B>A]]",
        ("Describe the scene.", "A beach.", "A busy beach at noon.", ""),
        "wildvision",
        "B",
    ),
    "llava-bench": (
        "<image>\n"
        + LLAVA_BENCH.format(
            note="A kitchen with a kettle.", question="What is boiling?", reference="The kettle.", a="Some water."
        ),
        "9 6\nAssistant 2 is vague.",
        ("What is boiling?", "Some water.", "", "The kettle."),
        "llava-bench",
        6.0,
    ),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_each_public_prompt_shape_is_split_into_its_parts(shape: str) -> None:
    human, _, (question, a, b, reference), _profile, _ = SHAPES[shape]
    parsed = parse_critic_prompt(human)
    assert parsed is not None
    assert (parsed.question, parsed.response_a, parsed.response_b, parsed.reference) == (question, a, b, reference)


def test_a_bracketed_response_that_quotes_labels_is_not_cut_short() -> None:
    response = "Steps:\nAnswer: 4\nQuestion: none left"
    parsed = parse_critic_prompt(FIVE_FACTOR_POINTWISE.format(question="What is 2+2?", response=response))
    assert parsed is not None
    assert (parsed.question, parsed.response_a) == ("What is 2+2?", response)


PLAIN_QUESTIONS = [
    "Question: what is shown?\nAnswer: a short phrase please.",
    "What is the final score on the scoreboard?",
    "Evaluate the quality of this photo and rate its sharpness.",
    "Question: What score did the team get?\nAnswer: Give the number.",
]


@pytest.mark.parametrize("question", PLAIN_QUESTIONS)
def test_plain_questions_are_not_taken_for_critic_prompts(tmp_path: Path, question: str) -> None:
    assert parse_critic_prompt(question) is None
    rows = [{"id": "q", "image": "imgs/0.png", "conversations": conversation("<image>\n" + question, "Some answer.")}]
    path = write_llava_json(tmp_path / "l.json", rows)
    report = items_import(dataset=DatasetFactory(), path=path, images=image_folder(tmp_path, 1))
    assert report.ok, report.problems
    assert report.plain_conversations == 1
    assert Item.objects.get().question == question


def test_113k_rows_of_every_shape_become_items_with_the_judges_verdict_read_by_their_profile(tmp_path: Path) -> None:
    data = [parquet_row(f"r{i}", human, gpt, shade=i) for i, (human, gpt, *_) in enumerate(SHAPES.values())]
    report = items_import(dataset=DatasetFactory(), path=write_parquet(tmp_path / "critic.parquet", data))
    assert report.ok, report.problems
    for i, (name, (_, gpt, (question, a, b, reference), profile, verdict)) in enumerate(SHAPES.items()):
        item = Item.objects.get(external_id=f"r{i}")
        assert (item.question, item.response_a, item.response_b, item.reference) == (question, a, b, reference), name
        assert item.profile == profile, name
        judged = CriticVerdict.objects.get(item=item, checkpoint__name="gpt-4o")
        assert (judged.status, judged.raw_output) == ("done", gpt), name
        assert (judged.score if isinstance(verdict, float) else judged.preference) == verdict, name
    assert report.items == {
        "pointwise": {"pointwise": 1, "caption": 2, "llava-bench": 1},
        "pairwise": {"pairwise": 3, "wildvision": 1},
    }
    assert report.judges == {"gpt-4o": {"verdicts": 8, "unreadable": 0}}
    bench = Item.objects.get(profile="llava-bench")
    assert bench.context == [{"role": "context", "text": "A kitchen with a kettle."}]  # the captions, not dropped


def test_a_113k_row_whose_prompt_cannot_be_split_is_refused_with_its_row_and_reason(tmp_path: Path) -> None:
    data = [
        parquet_row("ok", *SHAPES["caption"][:2]),
        parquet_row("odd", UNKNOWN_CRITIC.format(question="What is it?", a="A cat."), "Overall score: 70"),
    ]
    report = items_import(dataset=DatasetFactory(), path=write_parquet(tmp_path / "c.parquet", data))
    assert not report.ok
    assert next(str(p) for p in report.problems).startswith("row 2, conversations: the human turn is a critic prompt")
    assert report.refused == {"critic prompt not recognised": 1}
    assert "rows refused: 1 critic prompt not recognised" in report.summary()
    assert Item.objects.count() == 0


def test_with_the_whole_prompt_option_it_is_kept_whole_with_its_verdict_and_counted(tmp_path: Path) -> None:
    prompt = UNKNOWN_CRITIC.format(question="What is it?", a="A cat.")
    pair_prompt = "Act as an impartial judge: which of the two answers is better?\n(1) A cat. (2) A dog."
    data = [
        parquet_row("odd", "<image>\n" + prompt, "Overall score: 70"),
        parquet_row("pair", "<image>\n" + pair_prompt, "Response 2 is better: it is a dog."),
    ]
    report = items_import(dataset=DatasetFactory(), path=write_parquet(tmp_path / "c.parquet", data), whole_prompt=True)
    assert report.ok, report.problems
    assert report.whole_prompt == 2
    odd, pair = Item.objects.get(external_id="odd"), Item.objects.get(external_id="pair")
    assert (odd.question, odd.response_a, odd.profile, odd.kind) == (
        prompt,
        WHOLE_PROMPT_RESPONSE,
        "pointwise",
        "pointwise",
    )
    assert (pair.profile, pair.response_b) == ("pairwise", WHOLE_PROMPT_RESPONSE)
    assert CriticVerdict.objects.get(item=odd).score == 70
    assert CriticVerdict.objects.get(item=pair).preference == "B"
    # The critic is given the prompt as it was, not wrapped in a template.
    assert get_profile(odd.profile).prompt(PromptInput(odd.question, odd.response_a)) == prompt


def test_a_whole_prompt_whose_verdict_no_profile_reads_is_still_refused(tmp_path: Path) -> None:
    data = [parquet_row("odd", UNKNOWN_CRITIC.format(question="Q?", a="A."), "I cannot decide.")]
    report = items_import(dataset=DatasetFactory(), path=write_parquet(tmp_path / "c.parquet", data), whole_prompt=True)
    assert report.refused == {"critic prompt and verdict not recognised": 1}
    assert Item.objects.count() == 0


def test_llava_json_critic_prompts_are_read_and_unknown_ones_refused_not_made_questions(tmp_path: Path) -> None:
    folder = image_folder(tmp_path, 1)
    rows = [
        {"id": "plain", "image": "imgs/0.png", "conversations": conversation("<image>\nWhat colour?", "Blue.")},
        {
            "id": "five",
            "image": "imgs/0.png",
            "conversations": conversation(*SHAPES["five factors, bare Response"][:2]),
        },
        {
            "id": "odd",
            "image": "imgs/0.png",
            "conversations": conversation("<image>\n" + UNKNOWN_CRITIC.format(question="Q?", a="A."), "Score: 5"),
        },
    ]
    report = items_import(dataset=DatasetFactory(), path=write_llava_json(tmp_path / "l.json", rows), images=folder)
    assert report.refused == {"critic prompt not recognised": 1}
    assert [p.row for p in report.problems] == [3]
    rows.pop()
    report = items_import(dataset=DatasetFactory(), path=write_llava_json(tmp_path / "l.json", rows), images=folder)
    assert report.ok, report.problems
    assert report.plain_conversations == 1
    assert Item.objects.get(external_id="five").profile == "caption"
    assert CriticVerdict.objects.get(item__external_id="five", checkpoint__name="llava-json-gpt").score == 85


MULTI_TURN = conversation("<image>\nWhat animal is this?", "A cat.", "What colour is it?", "Orange with white paws.")


def test_earlier_turns_become_the_items_context_and_reach_the_critics_prompt(tmp_path: Path) -> None:
    rows = [{"id": "chat", "image": "imgs/0.png", "conversations": MULTI_TURN}]
    path = write_llava_json(tmp_path / "l.json", rows)
    report = items_import(dataset=DatasetFactory(), path=path, images=image_folder(tmp_path, 1))
    assert report.ok, report.problems
    assert report.with_context == 1
    item = Item.objects.get()
    assert (item.question, item.response_a) == ("What colour is it?", "Orange with white paws.")
    assert item.context == [{"role": "user", "text": "What animal is this?"}, {"role": "assistant", "text": "A cat."}]
    profile = get_profile(item.profile)
    bare = PromptInput(item.question, item.response_a)
    prompt = profile.prompt(PromptInput(item.question, item.response_a, context=item.context_turns))
    assert (
        prompt == "Earlier turns of this conversation, for context:\nUser: What animal is this?\nAssistant: "
        "A cat.\n\n" + profile.prompt(bare)
    )
    assert context_block(()) == ""
    assert profile.prompt(bare) == profile.template.format(
        question=item.question, response_a=item.response_a, response_b="", reference=""
    )  # items without context: the prompt is byte for byte what it was


def test_a_critic_row_after_earlier_turns_keeps_them_as_context(tmp_path: Path) -> None:
    human, gpt = SHAPES["model card pairwise"][:2]
    rows = [{"id": "c", "image": "imgs/0.png", "conversations": conversation("Hello.", "Hi!", human, gpt)}]
    path = write_llava_json(tmp_path / "l.json", rows)
    report = items_import(dataset=DatasetFactory(), path=path, images=image_folder(tmp_path, 1))
    assert report.ok, report.problems
    item = Item.objects.get()
    assert (item.profile, item.response_b) == ("pairwise", "Three cats.")
    assert item.context == [{"role": "user", "text": "Hello."}, {"role": "assistant", "text": "Hi!"}]


def test_the_item_page_and_the_desk_show_the_context(tmp_path: Path, admin_client: Client) -> None:
    dataset = DatasetFactory(name="chat")
    rows = [{"id": "chat", "image": "imgs/0.png", "conversations": MULTI_TURN}]
    items_import(dataset=dataset, path=write_llava_json(tmp_path / "l.json", rows), images=image_folder(tmp_path, 1))
    item = Item.objects.get()
    page = admin_client.get(f"/items/{item.pk}/").content.decode()
    assert "Earlier in the conversation" in page
    assert "What animal is this?" in page
    desk = admin_client.get(f"/datasets/{dataset.pk}/review/", follow=True).content.decode()
    assert "What animal is this?" in desk
    assert "A cat." in desk


def test_the_critic_is_given_the_items_context(tmp_path: Path) -> None:
    dataset = DatasetFactory()
    rows = [{"id": "chat", "image": "imgs/0.png", "conversations": MULTI_TURN}]
    items_import(dataset=dataset, path=write_llava_json(tmp_path / "l.json", rows), images=image_folder(tmp_path, 1))
    checkpoint = CheckpointFactory(model="some/critic")
    judging.verdicts_queue(dataset=dataset, checkpoint=checkpoint)
    claim = judging.verdicts_claim(verdict_ids=list(CriticVerdict.objects.values_list("pk", flat=True)), worker="t")
    request = tasks.judge_request(claim.jobs[0])  # what the worker hands the engine
    prompt = chat_prompt(get_profile(request.profile), request.prompt_input())
    assert "<|im_start|>user\n<image>\nEarlier turns of this conversation, for context:\nUser: What animal" in prompt
    assert "Assistant: A cat.\n\n" in prompt


def test_a_training_export_of_an_item_with_context_holds_the_prompt_the_critic_saw(
    tmp_path: Path, media_root: Path
) -> None:
    dataset = DatasetFactory()
    human, gpt = SHAPES["model card pairwise"][:2]  # the judge prefers B
    rows = [{"id": "c", "image": "imgs/0.png", "conversations": conversation("Hello.", "Hi!", human, gpt)}]
    items_import(dataset=dataset, path=write_llava_json(tmp_path / "l.json", rows), images=image_folder(tmp_path, 1))
    item = Item.objects.get()
    HumanVerdict.objects.create(item=item, reviewer=UserFactory(), profile=item.profile, preference="A")
    export = training_export_create(
        dataset=dataset, fmt="llava-json", checkpoint=CriticCheckpoint.objects.get(name="llava-json-gpt")
    )
    done = training_export_run(export_id=export.pk)
    assert done is not None
    assert done.status == "done", done.error
    (row,) = json.loads((media_root / done.path / done.manifest["data_file"]).read_text())
    expected = PromptInput(item.question, item.response_a, item.response_b, context=item.context_turns)
    assert row["conversations"][0]["value"] == user_turn(get_profile("pairwise"), expected)
    assert "User: Hello.\nAssistant: Hi!\n\n" in row["conversations"][0]["value"]


def test_the_api_keeps_unknown_prompts_whole_when_asked_and_gives_each_items_context(tmp_path: Path) -> None:
    uri = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    rows = [
        {"id": "chat", "image": uri, "conversations": MULTI_TURN},
        {
            "id": "odd",
            "image": uri,
            "conversations": conversation("<image>\n" + UNKNOWN_CRITIC.format(question="Q?", a="A."), "Score: 5"),
        },
    ]
    data = json.dumps(rows).encode()
    dataset = DatasetFactory()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=AdminFactory())}")

    def upload(**form: Any) -> dict[str, Any]:
        response = client.post(
            f"/api/datasets/{dataset.pk}/imports", {"data_file": SimpleUploadedFile("l.json", data), **form}
        )
        assert response.status_code == 202, response.content
        import_job_run(job_id=response.json()["id"])
        return client.get(f"/api/imports/{response.json()['id']}").json()

    refused = upload()
    assert refused["report"]["refused"] == {"critic prompt not recognised": 1}
    assert not Item.objects.exists()
    kept = upload(whole_prompt="true")
    assert kept["status"] == "done"
    assert kept["report"]["whole_prompt"] == 1
    listed = {i["external_id"]: i for i in client.get(f"/api/datasets/{dataset.pk}/items").json()["items"]}
    assert listed["chat"]["context"] == [
        {"role": "user", "text": "What animal is this?"},
        {"role": "assistant", "text": "A cat."},
    ]
    assert listed["odd"]["context"] == []
    assert listed["odd"]["response_a"] == WHOLE_PROMPT_RESPONSE


def test_a_llava_json_judge_prompt_in_a_shape_of_its_own_is_refused_not_made_a_question(tmp_path: Path) -> None:
    prompt = (
        "<image>\nYou are a visual language model evaluation assistant. Please compare the two responses to the same "
        "question and determine which one is better.\nOutput in the following format:\nThe better response: [1]. "
        "Because...\n\n[Task Content]\nImage and Question:\nHow many cups?\n\nResponse 1:\nTwo.\n\nResponse 2:\nThree."
    )
    rows = [{"id": "odd", "image": "imgs/0.png", "conversations": conversation(prompt, "The better response: [2].")}]
    path = write_llava_json(tmp_path / "l.json", rows)
    report = items_import(dataset=DatasetFactory(), path=path, images=image_folder(tmp_path, 1))
    assert report.refused == {"critic prompt not recognised": 1}
    assert not Item.objects.exists()
    kept = items_import(dataset=DatasetFactory(), path=path, images=image_folder(tmp_path, 1), whole_prompt=True)
    assert kept.ok, kept.problems
    assert (kept.whole_prompt, kept.plain_conversations) == (1, 0)
    item = Item.objects.get()
    assert (item.kind, item.profile) == ("pairwise", "pairwise")
    assert CriticVerdict.objects.get(item=item).preference == "B"


WILDVISION_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to the "
    "user prompt displayed below. You must output only one of the following choices as your final verdict with a "
    "label:\n\n1. Assistant A is significantly better: [[A>>B]]\n2. Assistant A is slightly better: [[A>B]]\n3. Tie, "
    "relatively the same: [[A=B]]\n4. Assistant B is slightly better: [[B>A]]\n5. Assistant B is significantly "
    "better: [[B>>A]]"
)


def test_a_judges_instructions_in_a_system_turn_are_not_the_items_context(tmp_path: Path) -> None:
    """A ShareGPT-style critic row puts the judge's instructions in a system turn: they are the judge's, as the
    instructions in a human turn are, not an earlier turn of the conversation to show reviewers and the critic."""
    user = (
        "<image>\n<|User Prompt|>\nWhat breed?\n\n<|The Start of Assistant A's Answer|>\nA corgi.\n"
        "<|The End of Assistant A's Answer|>\n\n<|The Start of Assistant B's Answer|>\nA beagle.\n"
        "<|The End of Assistant B's Answer|>"
    )
    turns = [
        {"from": "system", "value": WILDVISION_SYSTEM},
        {"from": "human", "value": user},
        {"from": "gpt", "value": "My final verdict is: [[A>B]]"},
    ]
    odd = [
        {"from": "system", "value": "You are an impartial judge. Which response is better? Answer with 1 or 2."},
        {"from": "human", "value": "<image>\nHow many cups?\n\nFirst: Two.\n\nSecond: Three."},
        {"from": "gpt", "value": "The better response: [2]"},
    ]
    rows = [
        {"id": "wv", "image": "imgs/0.png", "conversations": turns},
        {"id": "odd", "image": "imgs/0.png", "conversations": odd},
    ]
    path = write_llava_json(tmp_path / "l.json", rows)
    report = items_import(dataset=DatasetFactory(), path=path, images=image_folder(tmp_path, 1), whole_prompt=True)
    assert report.ok, report.problems
    assert report.with_context == 0
    item = Item.objects.get(external_id="wv")
    assert (item.profile, item.question, item.context) == ("wildvision", "What breed?", [])
    kept = Item.objects.get(external_id="odd")  # kept whole: the whole prompt is the instructions and the turn
    assert kept.context == []
    assert kept.question.startswith("You are an impartial judge.")
    assert kept.question.endswith("Second: Three.")
    assert CriticVerdict.objects.get(item=kept).preference == "B"
