"""Who may import what (services/import_rights.py): verdicts, updates and gold are for administrators; a desk
verdict outlives any import; an item that has verdicts keeps its content. Through the service, the page and the API."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from annotations.models import CriticVerdict, HumanVerdict, ImportJob, Item
from annotations.services.import_jobs import import_job_create
from annotations.services.imports import items_import
from annotations.services.items import item_create
from annotations.services.tokens import api_token_create
from tests.annotations.services.test_imports import image_folder, rows, write_jsonl
from tests.factories import AdminFactory, CheckpointFactory, DatasetFactory, ItemFactory, UserFactory
from tests.images import png_bytes

pytestmark = pytest.mark.django_db


def imported(tmp_path: Path, data: list[dict[str, object]], *, by: User | None, update: bool = False, dataset=None):  # type: ignore[no-untyped-def]
    dataset = dataset or DatasetFactory()
    path = write_jsonl(tmp_path / f"rows-{len(list(tmp_path.iterdir()))}.jsonl", data)
    return items_import(dataset=dataset, path=path, images=image_folder(tmp_path, 3), created_by=by, update=update)


def test_a_reviewer_imports_items_but_no_verdicts_and_nothing_into_gold(tmp_path: Path) -> None:
    rita = UserFactory(username="rita")
    plain = imported(tmp_path, rows(2), by=rita)
    assert plain.ok
    assert plain.created == 2
    data = rows(3)
    data[0] |= {"human_score": 90, "reviewer": "sam"}
    data[1] |= {"human_labels": [{"reviewer": "rita", "preference": "A"}]}
    data[2] |= {"split": "gold"}
    refused = imported(tmp_path, data, by=rita)
    assert not refused.ok
    assert {(p.row, p.field) for p in refused.problems} == {(1, "human_labels"), (2, "human_labels"), (3, "split")}
    assert "Only administrators import verdicts" in str(refused.problems[0])
    assert "Only administrators put items in the gold split" in str(refused.problems[2])
    assert HumanVerdict.objects.count() == 0
    assert Item.objects.count() == 2


def test_a_reviewer_cannot_update_items_through_the_service_the_page_or_the_api(tmp_path: Path) -> None:
    rita = UserFactory(username="rita")
    dataset = DatasetFactory()
    with pytest.raises(ValidationError, match="Only administrators update existing items"):
        imported(tmp_path, rows(1), by=rita, update=True, dataset=dataset)
    upload = SimpleUploadedFile("rows.jsonl", b"{}\n")
    with pytest.raises(PermissionDenied, match="Only administrators update"):
        import_job_create(dataset=dataset, user=rita, data_file=upload, update=True)
    client = Client()
    client.force_login(rita)
    fresh = SimpleUploadedFile("rows.jsonl", b"{}\n")
    page = client.post(
        reverse("dataset-import", args=[dataset.pk]), {"data_file": fresh, "format": "auto", "update": "on"}
    )
    # The reviewer's form has no update box: the field is ignored, the import is a plain one.
    assert page.status_code == 302
    assert ImportJob.objects.get().update is False
    assert 'name="update"' not in client.get(reverse("dataset-import", args=[dataset.pk])).content.decode()
    token = api_token_create(user=rita)
    api = Client().post(
        f"/api/datasets/{dataset.pk}/imports",
        {"data_file": SimpleUploadedFile("rows.jsonl", b"{}\n"), "update": "true"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api.status_code == 403
    assert "Only administrators update existing items" in api.content.decode()
    assert ImportJob.objects.count() == 1


def test_an_import_never_changes_a_desk_verdict_even_an_administrators(tmp_path: Path) -> None:
    ada, rita = AdminFactory(username="ada"), UserFactory(username="rita")
    dataset = DatasetFactory()
    assert imported(tmp_path, rows(2), by=ada, dataset=dataset).ok
    desk_item = Item.objects.get(external_id="q0")
    HumanVerdict.objects.create(item=desk_item, reviewer=rita, profile="pointwise", score=93, source="desk")
    data = rows(2)
    data[0] |= {"human_labels": [{"reviewer": "rita", "score": 5}, {"reviewer": "sam", "score": 40}]}
    report = imported(tmp_path, data, by=ada, update=True, dataset=dataset)
    assert report.ok, report.problems
    assert (report.labels, report.desk_verdicts_kept) == (1, 1)
    assert "1 label left out: desk verdicts stand" in report.summary()
    assert HumanVerdict.objects.get(item=desk_item, reviewer=rita).score == 93
    assert HumanVerdict.objects.get(item=desk_item, reviewer__username="sam").score == 40


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("question", "A sneakier question?"),
        ("response", "Another answer."),
        ("model", "other-model"),
        ("image", "imgs/2.png"),
        ("reference", "A reference."),
        ("profile", "caption"),
    ],
)
def test_an_item_with_verdicts_keeps_its_content(tmp_path: Path, field: str, value: str) -> None:
    ada = AdminFactory(username="ada")
    dataset = DatasetFactory()
    assert imported(tmp_path, rows(2), by=ada, dataset=dataset).ok
    judged = Item.objects.get(external_id="q0")
    CriticVerdict.objects.create(
        item=judged, checkpoint=CheckpointFactory(), profile="pointwise", status="done", score=7
    )
    data = rows(2)
    data[0] |= {field: value}
    data[1]["question"] = "The unjudged item may change."
    report = imported(tmp_path, data, by=ada, update=True, dataset=dataset)
    assert not report.ok
    assert [(p.row, p.field) for p in report.problems] == [(1, "id")]
    assert "item 'q0' has verdicts" in str(report.problems[0])
    assert {"question": "question", "response": "response_a", "model": "model_a"}.get(field, field) in str(
        report.problems[0]
    )
    assert Item.objects.get(external_id="q0").question == "Question 0?"
    assert Item.objects.get(external_id="q1").question == "Question 1?"  # all or nothing
    # The same content with another split goes through: an administrator may move a judged item.
    same = rows(2)
    same[0]["split"] = "gold"
    assert imported(tmp_path, same, by=ada, update=True, dataset=dataset).ok
    assert Item.objects.get(external_id="q0").split == "gold"


def test_only_administrators_upload_into_gold(admin_client: Client, reviewer_client: Client) -> None:
    dataset = DatasetFactory()
    with pytest.raises(ValidationError, match="Only administrators put items in the gold split"):
        item_create(dataset=dataset, image_data=png_bytes(), question="Q", response_a="R", split="gold",
                    created_by=UserFactory())  # fmt: skip
    form = {"question": "Q", "response_a": "R", "split": "gold"}
    page = reviewer_client.post(
        reverse("item-new", args=[dataset.pk]), form | {"image": SimpleUploadedFile("i.png", png_bytes())}
    )
    assert page.status_code == 400
    assert 'value="gold"' not in reviewer_client.get(reverse("item-new", args=[dataset.pk])).content.decode()
    ok = admin_client.post(
        reverse("item-new", args=[dataset.pk]), form | {"image": SimpleUploadedFile("i.png", png_bytes())}
    )
    assert ok.status_code == 302
    assert Item.objects.get(dataset=dataset).split == "gold"
    token = api_token_create(user=UserFactory(username="api-rita"))
    api = Client().post(
        f"/api/datasets/{dataset.pk}/items",
        {"image": SimpleUploadedFile("j.png", png_bytes(colour=(1, 2, 3))), "question": "Q", "response_a": "S",
         "split": "gold"},
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert api.status_code == 422
    assert "Only administrators put items in the gold split" in api.content.decode()


def test_the_dataset_page_shows_the_real_gold_count_and_share(reviewer_client: Client) -> None:
    dataset = DatasetFactory(gold_fraction=0)
    ItemFactory(dataset=dataset, split="gold")
    ItemFactory(dataset=dataset)
    ItemFactory(dataset=dataset)
    ItemFactory(dataset=dataset)
    body = reviewer_client.get(reverse("dataset-detail", args=[dataset.pk])).content.decode()
    assert "1 gold item of 4 (share 0.25)" in body


def test_the_admin_locks_the_content_of_a_judged_item(admin_client: Client) -> None:
    item = ItemFactory()
    url = reverse("admin:annotations_item_change", args=[item.pk])
    assert 'name="question"' in admin_client.get(url).content.decode()
    HumanVerdict.objects.create(item=item, reviewer=UserFactory(), profile="pointwise", score=50)
    assert 'name="question"' not in admin_client.get(url).content.decode()


def test_a_held_item_labelled_by_an_import_meanwhile_keeps_the_label_and_the_desk_says_why(tmp_path: Path) -> None:
    """A reviewer holds an item at the desk; meanwhile an administrator imports a label in their name for it. The
    label counts as theirs (it already shows them the other verdicts), so their submit records no second verdict
    that would pass for blind: refused with the reason (not a server error on one-verdict-per-reviewer), and the
    desk moves on instead of serving the item again."""
    from annotations.services.review import IMPORTED_MEANWHILE, review_next

    ada, rita = AdminFactory(username="ada"), UserFactory(username="rita")
    dataset = DatasetFactory()
    assert imported(tmp_path, rows(2), by=ada, dataset=dataset).ok
    held = review_next(reviewer=rita, dataset_id=dataset.pk)
    assert held is not None
    data = rows(2)
    data[0] |= {"human_labels": [{"reviewer": "rita", "score": 5}]}
    assert imported(tmp_path, data, by=ada, update=True, dataset=dataset).labels == 1
    client = Client()
    client.force_login(rita)
    desk = client.post(reverse("review-submit", args=[held.pk]), {"score": "93"}, headers={"HX-Request": "true"})
    assert desk.status_code == 200
    assert IMPORTED_MEANWHILE.split(":")[0] in desk.content.decode()
    assert reverse("review-submit", args=[held.pk]) not in desk.content.decode()  # the desk moved on
    stored = HumanVerdict.objects.get(item=held, reviewer=rita)
    assert (stored.score, stored.source) == (5, "import")
    following = review_next(reviewer=rita, dataset_id=dataset.pk)
    assert following is not None
    assert following.pk != held.pk
