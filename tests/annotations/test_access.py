"""Every page needs a login; reviewers cannot reach what only administrators may do."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from annotations.models import ImportJob, RetrainingJob, TrainingExport
from annotations.services.exports import training_export_create, training_export_run
from annotations.services.profiles import prompt_profile_create
from tests.factories import CheckpointFactory, ItemFactory, UserFactory

pytestmark = pytest.mark.django_db

# healthz: the container health check polls it without an account; it answers "ok" and reveals no data.
# The one-time links of invitations and password resets carry their own signed token.
PUBLIC = {"login", "healthz", "password_reset_confirm", "password_reset_complete"}
ADMIN_ONLY = {
    "dataset-new",
    "export-list",
    "export-new",
    "export-detail",
    "export-download",
    "export-file",
    "retraining-list",
    "retraining-detail",
    "export-retrain",
    "user-list",
    "checkpoint-list",
    "checkpoint-detail",
    "profile-list",
    "profile-new",
    "profile-detail",
    "profile-edit",
}
POST_ONLY = {
    "logout",
    "dataset-judge",
    "dataset-swap-check",
    "review-submit",
    "review-skip",
    "review-revise",
    "review-correct",
    "retraining-promote",
    "user-action",  # admin-only too: tests/annotations/test_users.py
    "item-bulk",  # admin-only too: tests/annotations/test_item_table.py
    "dataset-probe",  # admin-only too: tests/annotations/test_probe_card.py
    "profile-read",  # admin-only too: tests/annotations/test_profile_pages.py
    "profile-delete",  # admin-only too: tests/annotations/test_profile_pages.py
}
# Admin-only, with a row to find: the auth matrix (tests/annotations/test_auth_matrix.py) walks them with one.
ADMIN_ONLY_ELSEWHERE = {"retraining-loss-svg"}
# 403 until the reviewer has judged the item (tests/annotations/test_review.py); the previous item redirects to one.
AFTER_OWN_VERDICT = {"review-reveal", "review-previous"}
UNUSED_PROFILE = {
    "name": "likert-5",
    "kind": "pointwise",
    "template": "Rate the answer to {question} from 1 to 5: {response}",
    "score_min": 1,
    "score_max": 5,
    "score_step": 1,
    "verdict_pattern": r"Rating:\s*(?P<score>\d+)",
    "verdict_line": "Rating: {score}",
}
ADMIN_PAGES = [
    "/admin/",
    "/admin/annotations/item/",
    "/admin/annotations/dataset/add/",
    "/admin/annotations/humanverdict/",
    "/admin/auth/user/",
]


def app_urls() -> dict[str, list[str]]:
    """Every named URL of the app and its parameters, read from the URLconf: a page added later is covered."""
    found: dict[str, list[str]] = {}
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and entry.namespace in {"admin", "api"}:
            continue  # the admin and the API have their own tests
        patterns = entry.url_patterns if isinstance(entry, URLResolver) else [entry]
        for p in patterns:
            if isinstance(p, URLPattern) and p.name:
                found[p.name] = list(p.pattern.converters)
    return found


def app_url_names() -> list[str]:
    return list(app_urls())


def finished_export(item) -> TrainingExport:  # type: ignore[no-untyped-def]
    export = training_export_create(dataset=item.dataset, fmt="dpo-jsonl", checkpoint=CheckpointFactory())
    done = training_export_run(export_id=export.pk)
    assert done is not None
    return done


def url_for(name: str, item, owner=None) -> str:  # type: ignore[no-untyped-def]
    """A URL for an existing object; the object's kind is read from the URL's name. `owner` starts the import job (a
    reviewer follows only their own)."""
    if name == "export-retrain":
        pk = TrainingExport.objects.create(number=1, dataset=item.dataset, format="llava-json").pk
    elif name.startswith("export-") and "pk" in app_urls()[name]:
        pk = finished_export(item).pk
    elif name.startswith("import-"):
        pk = ImportJob.objects.create(dataset=item.dataset, created_by=owner or UserFactory(), data_file="x.jsonl").pk
    elif name.startswith("retraining-") and name != "retraining-list":
        export = TrainingExport.objects.create(number=1, dataset=item.dataset, format="llava-json")
        pk = RetrainingJob.objects.create(export=export, base=CheckpointFactory()).pk
    elif name == "checkpoint-detail":
        pk = CheckpointFactory().pk
    elif name.startswith("item-") and name not in ("item-new", "item-table", "item-bulk"):
        pk = item.pk
    else:
        pk = item.dataset.pk
    if name.startswith("user-"):
        pk = UserFactory().pk
    values = {"sha256": item.image.sha256, "pk": pk, "name": "manifest.json", "action": "deactivate"}
    if name.startswith("profile-") and "name" in app_urls()[name]:  # a defined profile nothing uses: it can be edited
        values["name"] = prompt_profile_create(**UNUSED_PROFILE).name
    params = app_urls()[name]
    assert set(params) <= set(values), f"teach url_for the parameters of {name}: {params}"
    return reverse(name, kwargs={p: values[p] for p in params})


def test_the_url_list_is_read_from_the_urlconf() -> None:
    names = app_url_names()
    assert {"dataset-list", "item-detail", "image-file", "export-list", "login", "logout"} <= set(names)


@pytest.mark.parametrize("name", [n for n in app_url_names() if n not in PUBLIC])
def test_anonymous_users_are_sent_to_login(name: str) -> None:
    url = url_for(name, ItemFactory())
    for method in ("get", "post"):
        response = getattr(Client(), method)(url)
        assert response.status_code == 302, (method, url)
        assert response["Location"].startswith(reverse("login")), (method, url)


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_anonymous_users_are_sent_to_login_from_the_admin(url: str) -> None:
    response = Client().get(url, follow=True)
    assert response.redirect_chain, url
    assert response.request["PATH_INFO"] == reverse("login")


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_reviewers_get_403_in_the_admin(url: str, reviewer_client: Client, admin_client: Client) -> None:
    assert reviewer_client.get(url).status_code == 403
    assert admin_client.get(url).status_code == 200


def test_reviewers_get_403_from_the_admin_login_too(reviewer_client: Client) -> None:
    assert reviewer_client.get("/admin/login/").status_code == 403


@pytest.mark.parametrize("name", sorted(ADMIN_ONLY))
def test_reviewers_get_403_on_admin_only_pages(name: str, reviewer_client: Client, admin_client: Client) -> None:
    url = url_for(name, ItemFactory())
    assert reviewer_client.get(url).status_code == 403
    assert reviewer_client.post(url).status_code == 403
    assert admin_client.get(url).status_code == 200


@pytest.mark.parametrize(
    "name",
    [n for n in app_url_names() if n not in PUBLIC | ADMIN_ONLY | POST_ONLY | AFTER_OWN_VERDICT | ADMIN_ONLY_ELSEWHERE],
)
def test_reviewers_can_open_every_other_page(name: str, reviewer, reviewer_client: Client) -> None:  # type: ignore[no-untyped-def]
    assert reviewer_client.get(url_for(name, ItemFactory(), owner=reviewer)).status_code == 200


def test_inactive_accounts_cannot_log_in(reviewer) -> None:  # type: ignore[no-untyped-def]
    reviewer.is_active = False
    reviewer.save()
    client = Client()
    assert not client.login(username=reviewer.username, password="pass-for-tests")
    assert client.get(reverse("dataset-list")).status_code == 302
