"""A profile a team defines is used like a built-in: datasets default to it, imports read its scale and its judge
verdicts, the desk holds reviewers to its range and step, the disagreement rule and the metrics use its range, the
exports write its verdict line; and the database refuses what does not fit it, whichever code writes."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone

from annotations.models import CriticVerdict, Dataset, HumanVerdict, Item, PromptProfile
from annotations.selectors.metrics import agreement_for_dataset
from annotations.selectors.review import verdict_values_agree
from annotations.services.datasets import dataset_create
from annotations.services.imports import items_import
from annotations.services.items import item_create
from annotations.services.profiles import prompt_profile_create, prompt_profile_update
from annotations.services.review import human_verdict_submit, review_next
from annotations.services.tokens import api_token_create
from critic_worker.profiles import get_profile, profile_names
from tests.annotations.services.import_files import image_folder, write_jsonl
from tests.factories import AdminFactory, DatasetFactory, ItemFactory, UserFactory
from tests.images import png_bytes

pytestmark = pytest.mark.django_db

LIKERT = {
    "name": "likert-5",
    "kind": "pointwise",
    "template": "Rate the answer to {question} from 1 to 5.\nAnswer: {response}\nEnd with 'Rating: N'.",
    "score_min": 1,
    "score_max": 5,
    "score_step": 1,
    "verdict_pattern": r"Rating:\s*(?P<score>\d+(?:\.\d+)?)",
    "verdict_line": "Rating: {score}",
}
NO_TIE = {
    "name": "a-or-b",
    "kind": "pairwise",
    "template": "Which answer to {question} is better?\n1: {response_a}\n2: {response_b}",
    "allow_tie": False,
    "verdict_pattern": r"Better:\s*(?P<preference>[12])",
    "value_map": {"1": "A", "2": "B"},
    "verdict_line": "Better: {preference}",
}


@pytest.fixture
def profiles() -> None:
    prompt_profile_create(**LIKERT)
    prompt_profile_create(**NO_TIE)


def api(user: Any, method: str, path: str, body: Any = None) -> Any:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user)}")
    if method == "get":
        return client.get(f"/api{path}")
    return client.post(f"/api{path}", data=json.dumps(body), content_type="application/json")


def likert_rows(n: int) -> list[dict[str, Any]]:
    """n items on the 1-5 scale, two reviewers' labels each and a judge's text verdict."""
    return [
        {
            "id": f"m{i}",
            "image": "imgs/0.png",
            "question": f"What is in picture {i}?",
            "response": f"Answer {i}",
            "human_labels": [{"reviewer": "ann", "score": 1 + i % 5}, {"reviewer": "bob", "score": 1 + (i + 1) % 5}],
            "judge": "gpt-4o",
            "judge_output": f"Mostly right.\nRating: {1 + i % 5}",
        }
        for i in range(n)
    ]


def test_datasets_default_to_defined_profiles_of_their_kind(profiles: None) -> None:
    admin = AdminFactory()
    made = api(
        admin, "post", "/datasets", {"name": "mllm", "pointwise_profile": "likert-5", "pairwise_profile": "a-or-b"}
    )
    assert made.status_code == 201, made.content
    assert (made.json()["pointwise_profile"], made.json()["pairwise_profile"]) == ("likert-5", "a-or-b")

    swapped = api(admin, "post", "/datasets", {"name": "wrong", "pointwise_profile": "a-or-b"})
    assert swapped.status_code == 422
    assert "judges pairwise items" in json.dumps(swapped.json())
    unknown = api(admin, "post", "/datasets", {"name": "typo", "pointwise_profile": "likert-7"})
    assert unknown.status_code == 422
    assert "likert-7" in json.dumps(unknown.json())
    assert set(Dataset.objects.values_list("name", flat=True)) == {"mllm"}
    assert "likert-5" in profile_names("pointwise")
    assert "likert-5" not in profile_names("pairwise")


def test_the_dataset_form_offers_defined_profiles(profiles: None, admin_client: Client) -> None:
    page = admin_client.get("/datasets/new/")
    assert page.status_code == 200
    assert 'value="likert-5"' in page.content.decode()


def test_an_import_on_a_defined_scale_keeps_labels_and_reads_judge_text(profiles: None, tmp_path: Path) -> None:
    dataset = dataset_create(created_by=None, name="mllm", pointwise_profile="likert-5")
    rows = likert_rows(6)
    rows.append({**likert_rows(1)[0], "id": "bad", "human_labels": [{"reviewer": "ann", "score": 7}]})
    refused = items_import(
        dataset=dataset, path=write_jsonl(tmp_path / "bad.jsonl", rows), images=image_folder(tmp_path, 1)
    )
    assert not refused.ok
    assert any("7" in p.message and "1" in p.message and "5" in p.message for p in refused.problems)
    assert not Item.objects.exists()  # all or nothing

    report = items_import(
        dataset=dataset, path=write_jsonl(tmp_path / "ok.jsonl", rows[:-1]), images=image_folder(tmp_path, 1)
    )
    assert report.ok, report.problems
    assert set(Item.objects.values_list("profile", flat=True)) == {"likert-5"}
    assert sorted(HumanVerdict.objects.filter(reviewer__username="ann").values_list("score", flat=True)) == [
        1, 1, 2, 3, 4, 5
    ]  # fmt: skip
    judged = CriticVerdict.objects.filter(checkpoint__name="gpt-4o", status="done")
    assert sorted(judged.values_list("score", flat=True)) == [1, 1, 2, 3, 4, 5]


def test_the_desk_holds_reviewers_to_the_range_and_step(profiles: None, tmp_path: Path) -> None:
    dataset = dataset_create(created_by=None, name="mllm", pointwise_profile="likert-5", pairwise_profile="a-or-b")
    rows = [
        {k: v for k, v in row.items() if k.startswith(("id", "image", "question", "response"))}
        for row in likert_rows(2)
    ]
    rows.append({"id": "p", "image": "imgs/0.png", "question": "Which?", "response_a": "x", "response_b": "y"})
    assert items_import(
        dataset=dataset, path=write_jsonl(tmp_path / "d.jsonl", rows), images=image_folder(tmp_path, 1)
    ).ok
    reviewer = UserFactory()
    seen = []
    while (item := review_next(reviewer=reviewer, dataset_id=dataset.pk)) is not None:
        seen.append(item.profile)
        if item.profile == "likert-5":
            for bad, reason in (
                (3.5, r"not on this rubric.s steps \(1, 2, 3, 4, 5\)"),
                (6, "above the highest score, 5"),
                (0, "below the lowest score, 1"),
            ):
                with pytest.raises(ValidationError, match=reason):
                    human_verdict_submit(reviewer=reviewer, item=item, score=bad)
            human_verdict_submit(reviewer=reviewer, item=item, score=4)
        else:
            with pytest.raises(ValidationError, match="no ties"):
                human_verdict_submit(reviewer=reviewer, item=item, preference="tie")
            human_verdict_submit(reviewer=reviewer, item=item, preference="B")
    assert sorted(seen) == ["a-or-b", "likert-5", "likert-5"]
    assert HumanVerdict.objects.filter(reviewer=reviewer).count() == 3


def test_disagreement_and_metrics_use_the_profiles_range(profiles: None, tmp_path: Path) -> None:
    # 10% of 1-5 is 0.4 points: 4 against 5 disagrees, as 60 against 70 would on 0-100 with a 5% rule.
    assert not verdict_values_agree(profile="likert-5", threshold=0.1, first=(4, None), second=(5, None))
    assert verdict_values_agree(profile="likert-5", threshold=0.25, first=(4, None), second=(5, None))
    dataset = dataset_create(created_by=None, name="mllm", pointwise_profile="likert-5")
    assert items_import(
        dataset=dataset, path=write_jsonl(tmp_path / "m.jsonl", likert_rows(12)), images=image_folder(tmp_path, 1)
    ).ok
    judge = CriticVerdict.objects.filter(checkpoint__name="gpt-4o").first().checkpoint  # type: ignore[union-attr]
    metrics = agreement_for_dataset(dataset=dataset, checkpoint=judge)
    pointwise = metrics["pointwise"]
    assert pointwise["score_scale"] == "likert-5"
    assert pointwise["n"] == 24  # two reviewers against the judge on 12 items
    rows = likert_rows(12)
    gaps = [abs(label["score"] - int(row["judge_output"][-1])) for row in rows for label in row["human_labels"]]
    assert pointwise["mae"]["value"] == pytest.approx(np.mean(gaps))  # in the profile's points
    # One histogram bar per score the profile gives, centred on it (not ten bins of 0.4 points, half of them empty).
    assert pointwise["histogram"]["edges"] == [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]
    humans = [label["score"] for row in rows for label in row["human_labels"]]
    assert pointwise["histogram"]["human"] == np.bincount(humans, minlength=6)[1:].tolist()


def test_the_database_refuses_what_does_not_fit_a_defined_profile(profiles: None) -> None:
    dataset = DatasetFactory()
    item = Item.objects.create(
        dataset=dataset, external_id="x", image=_image(), question="Q?", response_a="R", kind="pointwise",
        profile="likert-5",
    )  # fmt: skip
    reviewer = UserFactory()

    def refused(**fields: Any) -> None:
        with pytest.raises(IntegrityError), transaction.atomic():
            HumanVerdict.objects.create(item=item, reviewer=reviewer, profile="likert-5", **fields)

    refused(score=7)
    refused(score=2.5)  # off the step
    refused(preference="A")
    with pytest.raises(IntegrityError), transaction.atomic():
        Item.objects.create(
            dataset=dataset, external_id="y", image=item.image, question="Q?", response_a="R", response_b="S",
            kind="pairwise", profile="likert-5",
        )  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        Item.objects.create(
            dataset=dataset, external_id="z", image=item.image, question="Q?", response_a="R", kind="pointwise",
            profile="no-such-profile",
        )  # fmt: skip
    pair = Item.objects.create(
        dataset=dataset, external_id="p", image=item.image, question="Q?", response_a="R", response_b="S",
        kind="pairwise", profile="a-or-b",
    )  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        HumanVerdict.objects.create(item=pair, reviewer=reviewer, profile="a-or-b", preference="tie")
    HumanVerdict.objects.create(item=item, reviewer=reviewer, profile="likert-5", score=3)
    with pytest.raises(IntegrityError), transaction.atomic():  # revised off the scale
        HumanVerdict.objects.filter(item=item).update(revised_score=9, revised_at=timezone.now())

    # In use, so neither changed nor deleted, even behind the services' back.
    with pytest.raises(IntegrityError), transaction.atomic():
        PromptProfile.objects.filter(name="likert-5").update(score_max=10)
    with pytest.raises(IntegrityError), transaction.atomic():
        PromptProfile.objects.filter(name="likert-5").delete()
    assert get_profile("likert-5").score_max == 5


def _image() -> Any:
    return ItemFactory().image  # an image stored as every upload stores one


def test_the_admin_site_offers_no_delete_for_a_profile_in_use(profiles: None, admin_client: Client) -> None:
    unused, used = PromptProfile.objects.get(name="a-or-b"), PromptProfile.objects.get(name="likert-5")
    DatasetFactory(pointwise_profile="likert-5")
    assert admin_client.get(f"/admin/annotations/promptprofile/{used.pk}/delete/").status_code == 403
    assert admin_client.post(f"/admin/annotations/promptprofile/{used.pk}/delete/", {"post": "yes"}).status_code == 403
    assert (
        admin_client.post(f"/admin/annotations/promptprofile/{unused.pk}/delete/", {"post": "yes"}).status_code == 302
    )
    assert list(PromptProfile.objects.values_list("name", flat=True)) == ["likert-5"]


def test_the_desk_and_its_reveal_speak_the_profiles_scale(profiles: None, reviewer_client: Client) -> None:
    dataset = DatasetFactory(pointwise_profile="likert-5")
    item = ItemFactory(dataset=dataset, profile="likert-5")
    desk = reviewer_client.get(f"/datasets/{dataset.pk}/review/").content.decode()
    assert "Score from 1 to 5" in desk
    assert 'min="1.0" max="5.0"' in desk or 'min="1" max="5"' in desk
    bad = reviewer_client.post(f"/items/{item.pk}/verdict/", {"score": "6"}, HTTP_HX_REQUEST="true")
    assert "from 1 to 5" in bad.content.decode()
    assert not HumanVerdict.objects.exists()
    done = reviewer_client.post(f"/items/{item.pk}/verdict/", {"score": "4"}, HTTP_HX_REQUEST="true")
    assert done.status_code == 200
    assert HumanVerdict.objects.get().score == 4


def test_an_import_reads_judge_text_with_a_pattern_that_backtracks_in_bounded_time(tmp_path: Path) -> None:
    # A row stored before patterns were checked for backtracking: each judge text is read within the time limit, and
    # one the pattern cannot finish is a failed verdict, as unreadable text is.
    PromptProfile.objects.create(**{**LIKERT, "verdict_pattern": r"Rating:\s*(?P<score>\d)|(a+)+$"})
    dataset = dataset_create(created_by=None, name="mllm", pointwise_profile="likert-5")
    rows = likert_rows(3)
    rows[1]["judge_output"] = "Rating: 4 " + "a" * 20_000 + "!"
    started = time.monotonic()
    report = items_import(
        dataset=dataset, path=write_jsonl(tmp_path / "j.jsonl", rows), images=image_folder(tmp_path, 1)
    )
    assert time.monotonic() - started < 30
    assert report.ok, report.problems
    verdicts = dict(CriticVerdict.objects.values_list("item__external_id", "status"))
    assert verdicts == {"m0": "done", "m1": "failed", "m2": "done"}
    assert CriticVerdict.objects.get(item__external_id="m1").raw_output == rows[1]["judge_output"]


# -- races: a dataset or an import naming a profile while an edit of it is saved ---------------------------------------


def _in_thread(work: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """Run work() on its own database connection; what it returned or raised lands in the dict."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except Exception as exc:
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _while_an_edit_is_saved(name_it: Any) -> dict[str, Any]:
    """name_it() run while an edit of likert-5 (renamed likert-7, on 1-7) is saved: its outcome."""
    edited = threading.Event()
    go = threading.Event()

    def edit() -> None:
        with transaction.atomic():  # the edit's transaction, committed only after the other was tried
            prompt_profile_update(profile=PromptProfile.objects.get(name="likert-5"), name="likert-7", score_max=7)
            edited.set()
            go.wait(10)

    editor, _ = _in_thread(edit)
    assert edited.wait(10)
    naming, outcome = _in_thread(name_it)
    naming.join(1.5)  # it waits for the edit rather than naming the profile as it was before
    go.set()
    editor.join(10)
    naming.join(10)
    assert list(PromptProfile.objects.values_list("name", "score_max")) == [("likert-7", 7)]
    return outcome


@pytest.mark.django_db(transaction=True)
def test_a_dataset_named_while_an_edit_is_saved_never_names_a_changed_rubric() -> None:
    prompt_profile_create(**LIKERT)
    created = _while_an_edit_is_saved(lambda: dataset_create(created_by=None, name="d", pointwise_profile="likert-5"))
    assert isinstance(created.get("error"), ValidationError), created
    assert "Unknown profile 'likert-5'" in str(created["error"])
    assert not Dataset.objects.filter(name="d").exists()


@pytest.mark.django_db(transaction=True)
def test_an_item_uploaded_while_an_edit_is_saved_never_names_a_changed_rubric() -> None:
    prompt_profile_create(**LIKERT)
    dataset = DatasetFactory()
    uploaded = _while_an_edit_is_saved(
        lambda: item_create(dataset=dataset, image_data=png_bytes(), question="Q?", response_a="A.", profile="likert-5")
    )
    assert isinstance(uploaded.get("error"), ValidationError), uploaded
    assert "was changed or deleted while the item was saved" in str(uploaded["error"])
    assert not Item.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_edit_saved_while_a_dataset_names_the_profile_is_refused() -> None:
    prompt_profile_create(**LIKERT)
    named = threading.Event()
    go = threading.Event()

    def name_it() -> None:
        with transaction.atomic():  # the dataset's transaction, committed only after the edit was tried
            dataset_create(created_by=None, name="d", pointwise_profile="likert-5")
            named.set()
            go.wait(10)

    creator, _ = _in_thread(name_it)
    assert named.wait(10)
    editor, edited = _in_thread(
        lambda: prompt_profile_update(profile=PromptProfile.objects.get(name="likert-5"), score_max=7)
    )
    editor.join(1.5)
    go.set()
    creator.join(10)
    editor.join(10)
    assert isinstance(edited.get("error"), ValidationError), edited
    assert "in use" in str(edited["error"]) or "being put to use" in str(edited["error"])
    assert Dataset.objects.get(name="d").pointwise_profile == "likert-5"
    assert get_profile("likert-5").score_max == 5
