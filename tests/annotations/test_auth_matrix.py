"""Who may do what, everywhere: every URL pattern the project serves (pages, the API's routes, the admin), every
HTTP method, each role (anonymous, reviewer, administrator), against a table written out below. A URL added later
and missing from the table fails the test, so the table stays complete.

Allowed means the request reaches the view (whatever it then answers: a page, a redirect, a form error, a 404
for an object it does not find); refused means 401/redirect to the login page for the anonymous, 403 for a logged-in
user without the right, 405 for a method the URL does not take. Nothing may answer 500."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from annotations.models import (
    ApiToken,
    CriticVerdict,
    HumanVerdict,
    ImportJob,
    RetrainingJob,
)
from annotations.services.exports import training_export_create, training_export_run
from annotations.services.profiles import prompt_profile_create
from annotations.services.tokens import api_token_create
from tests.factories import AdminFactory, CheckpointFactory, ItemFactory, UserFactory

pytestmark = pytest.mark.django_db

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ANON, REVIEWER, ADMIN = "anonymous", "reviewer", "administrator"
EVERYONE = frozenset({ANON, REVIEWER, ADMIN})
LOGGED_IN = frozenset({REVIEWER, ADMIN})
ADMINS = frozenset({ADMIN})
NOBODY: frozenset[str] = frozenset()

# -- the table: URL name (namespace:name, or the route where the pattern has no name) -> method -> who may ----------

PAGES: dict[str, dict[str, frozenset[str]]] = {
    "healthz": {"GET": EVERYONE},  # the container health check: "ok", no data
    # Django's LoginView: its form takes GET, POST and PUT; a logged-in user is sent on whatever the method.
    "login": {"GET": EVERYONE, "POST": EVERYONE, "PUT": EVERYONE, "PATCH": LOGGED_IN, "DELETE": LOGGED_IN},
    "logout": {"POST": LOGGED_IN},
    "dataset-list": {"GET": LOGGED_IN},
    "dataset-new": {"GET": ADMINS, "POST": ADMINS},
    "dataset-detail": {"GET": LOGGED_IN},
    "item-new": {"GET": LOGGED_IN, "POST": LOGGED_IN},  # naming the gold split: administrators (test_import_rights)
    "dataset-import": {"GET": LOGGED_IN, "POST": LOGGED_IN},  # verdicts, update: administrators (test_import_rights)
    "import-detail": {"GET": LOGGED_IN},
    "dataset-judge": {"POST": ADMINS},  # spends the critic's GPU time, as bulk "send to the critic" and swap checks
    "dataset-critic-progress": {"GET": LOGGED_IN},
    "item-detail": {"GET": LOGGED_IN},  # verdicts and model names once judged (test_blind_rule)
    "image-file": {"GET": LOGGED_IN},
    "image-thumbnail": {"GET": LOGGED_IN},
    "review-next": {"GET": LOGGED_IN},
    "review-previous": {"GET": LOGGED_IN},  # one's own last verdict (a redirect to its reveal)
    "review-submit": {"POST": LOGGED_IN},
    "review-reveal": {"GET": NOBODY},  # only after one's own verdict on the item; nobody here has given one
    "review-skip": {"POST": LOGGED_IN},
    "review-revise": {"POST": LOGGED_IN},  # one's own verdict (404 without one)
    "review-correct": {"POST": LOGGED_IN},
    "history": {"GET": LOGGED_IN},
    "dataset-metrics": {"GET": LOGGED_IN},  # a reviewer's over the items they judged (test_blind_rule)
    "dataset-swap-check": {"POST": ADMINS},
    "dataset-probe": {"POST": ADMINS},
    "ping": {"GET": LOGGED_IN},
    "account": {"GET": LOGGED_IN, "POST": LOGGED_IN},
    "export-list": {"GET": ADMINS},
    "export-new": {"GET": ADMINS, "POST": ADMINS},
    "export-detail": {"GET": ADMINS},
    "export-download": {"GET": ADMINS},
    "export-file": {"GET": ADMINS},
    "export-retrain": {"GET": ADMINS, "POST": ADMINS},  # the form, then the confirmation
    "retraining-list": {"GET": ADMINS},
    "retraining-detail": {"GET": ADMINS},
    "retraining-loss-svg": {"GET": ADMINS},
    "retraining-promote": {"POST": ADMINS},
    "checkpoint-list": {"GET": ADMINS},
    "checkpoint-detail": {"GET": ADMINS, "POST": ADMINS},  # its drift audits, and the form that starts one
    "item-table": {"GET": LOGGED_IN},  # hidden columns and filters on judged items only (test_item_table)
    "item-bulk": {"POST": ADMINS},
    "profile-list": {"GET": ADMINS},
    "profile-new": {"GET": ADMINS, "POST": ADMINS},
    "profile-detail": {"GET": ADMINS},
    "profile-read": {"POST": ADMINS},  # reads a pasted text with the profile's reader; saves nothing
    "profile-edit": {"GET": ADMINS, "POST": ADMINS},  # while nothing uses the profile (the service decides)
    "profile-delete": {"POST": ADMINS},
    "user-list": {"GET": ADMINS, "POST": ADMINS},
    "user-action": {"POST": ADMINS},
    "favicon.ico": {"GET": EVERYONE},
    # Invitations and password resets: the link's signed token is the credential. Django checks the token before the
    # method, so a bad link answers "this link no longer works" to any method.
    "password_reset_confirm": dict.fromkeys(METHODS, EVERYONE),
    "password_reset_complete": {"GET": EVERYONE},
}

API: dict[str, dict[str, frozenset[str]]] = {
    "api:api-root": dict.fromkeys(METHODS, EVERYONE),  # django-ninja's root: no view, a 404 to anyone
    # The document and its viewer answer any method with the same read-only page.
    "api:openapi-json": dict.fromkeys(METHODS, LOGGED_IN),
    "api:openapi-view": dict.fromkeys(METHODS, LOGGED_IN),
    "api:list_datasets": {"GET": LOGGED_IN},
    "api:create_dataset": {"POST": ADMINS},
    "api:dataset_progress": {"GET": LOGGED_IN},
    "api:list_items": {"GET": LOGGED_IN},
    "api:upload_item": {"POST": LOGGED_IN},
    "api:get_item": {"GET": LOGGED_IN},
    "api:upload_batch": {"POST": LOGGED_IN},
    "api:get_import": {"GET": LOGGED_IN},
    "api:create_export": {"POST": ADMINS},
    "api:get_export": {"GET": ADMINS},
    "api:download_export": {"GET": ADMINS},
    "api:dataset_metrics": {"GET": LOGGED_IN},
    "api:dataset_swap_check": {"POST": ADMINS},
    "api:dataset_probe": {"POST": ADMINS},
    "api:list_profiles": {"GET": LOGGED_IN},
    "api:create_profile": {"POST": ADMINS},
    "api:list_drift_audits": {"GET": ADMINS},
    "api:get_drift_audit": {"GET": ADMINS},
    "api:create_drift_audit": {"POST": ADMINS},
}

# The Django admin takes any method on its pages; it is for administrators alone.
ANY = dict.fromkeys(METHODS, ADMINS)
ADMIN_SITE: dict[str, dict[str, frozenset[str]]] = {
    "admin:index": ANY,
    "admin:app_list": ANY,
    "admin:login": ANY,  # an administrator is sent on to the one login page; a reviewer gets 403
    "admin:logout": {"POST": ADMINS},
    "admin:password_change": {"GET": ADMINS, "POST": ADMINS, "PUT": ADMINS},  # Django's form view takes PUT too
    "admin:password_change_done": {"GET": ADMINS},
    "admin:jsi18n": {"GET": ADMINS},
    "admin:autocomplete": dict.fromkeys(METHODS, NOBODY),  # no admin declares autocomplete fields: always refused
    "admin:view_on_site": ANY,
    "admin:auth_user_password_change": ANY,
    "admin/(?P<url>.*)$": ANY,  # the catch-all: 404 for an administrator
}
# Per model: the admin's views an administrator may open. No "add" where only the app creates the rows; "view": a
# change page that shows the row and takes no POST (records that never change).
ADMIN_MODELS: dict[str, set[str]] = {
    "auth_group": {"changelist", "add", "history", "delete", "change"},
    "auth_user": {"changelist", "add", "history", "delete", "change"},
    "annotations_dataset": {"changelist", "add", "history", "delete", "change"},
    "annotations_image": {"changelist", "history", "delete", "change"},
    "annotations_item": {"changelist", "history", "delete", "change"},
    "annotations_criticcheckpoint": {"changelist", "add", "history", "delete", "change"},
    "annotations_criticverdict": {"changelist", "history", "delete", "view"},
    "annotations_humanverdict": {"changelist", "history", "delete", "view"},
    "annotations_trainingexport": {"changelist", "history", "delete", "view"},
    "annotations_retrainingjob": {"changelist", "history", "delete", "view"},
    "annotations_importjob": {"changelist", "history", "delete", "change"},
    "annotations_apitoken": {"changelist", "history", "delete", "change"},
    "annotations_promptprofile": {"changelist", "add", "history", "delete", "change"},
    "annotations_verdictreread": {"changelist", "history", "delete", "view"},
}
for _model, _views in ADMIN_MODELS.items():
    for _view in ("changelist", "add", "history", "delete", "change"):
        ADMIN_SITE[f"admin:{_model}_{_view}"] = ANY if _view in _views else dict.fromkeys(METHODS, NOBODY)
    if "view" in _views:
        ADMIN_SITE[f"admin:{_model}_change"] = ANY | {"POST": NOBODY}
    ADMIN_SITE[f"admin/{_model.replace('_', '/', 1)}/<path:object_id>/"] = ANY  # redirects to the change page

TABLE = PAGES | API | ADMIN_SITE


# -- walking the URLconf ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    key: str  # the table's key
    namespace: str | None
    pattern: URLPattern
    prefix: str


def routes() -> Iterator[Route]:
    def walk(patterns: list[Any], prefix: str, namespace: str | None) -> Iterator[Route]:
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern), p.namespace or namespace)
            elif p.name:
                yield Route(f"{namespace}:{p.name}" if namespace else p.name, namespace, p, prefix)
            else:
                yield Route(prefix + str(p.pattern), namespace, p, prefix)

    yield from walk(get_resolver().url_patterns, "", None)


@dataclass
class World:
    values: dict[str, Any]
    object_ids: dict[str, int]


@pytest.fixture
def world() -> World:
    admin = AdminFactory(username="ada")
    item = ItemFactory()
    checkpoint = CheckpointFactory()
    critic = CriticVerdict.objects.create(item=item, checkpoint=checkpoint, profile="pointwise", status="queued")
    other = UserFactory()
    human = HumanVerdict.objects.create(item=item, reviewer=other, profile="pointwise", score=50)
    job = ImportJob.objects.create(dataset=item.dataset, created_by=admin, data_file="x.jsonl")
    export = training_export_run(
        export_id=training_export_create(dataset=item.dataset, fmt="dpo-jsonl", checkpoint=checkpoint).pk
    )
    assert export is not None
    retraining = RetrainingJob.objects.create(export=export, base=checkpoint)
    api_token_create(user=admin, name="t")
    token = ApiToken.objects.get(user=admin)
    profile = prompt_profile_create(
        name="likert-5",
        kind="pointwise",
        template="Rate the answer to {question} from 1 to 5: {response}",
        score_min=1,
        score_max=5,
        score_step=1,
        verdict_pattern=r"Rating:\s*(?P<score>\d+)",
        verdict_line="Rating: {score}",
    )
    group = Group.objects.create(name="g")
    object_ids = {
        "auth_group": group.pk,
        "auth_user": admin.pk,
        "annotations_dataset": item.dataset.pk,
        "annotations_image": item.image.pk,
        "annotations_item": item.pk,
        "annotations_criticcheckpoint": checkpoint.pk,
        "annotations_criticverdict": critic.pk,
        "annotations_humanverdict": human.pk,
        "annotations_trainingexport": export.pk,
        "annotations_retrainingjob": retraining.pk,
        "annotations_importjob": job.pk,
        "annotations_apitoken": token.pk,
    }
    values = {
        "item": item,
        "dataset": item.dataset,
        "job": job,
        "export": export,
        "retraining": retraining,
        "checkpoint": checkpoint,
        "reviewer": other,
        "profile": profile,
        "content_type_id": ContentType.objects.get_for_model(type(item)).pk,
    }
    return World(values, object_ids)


def _admin_model(route: Route) -> str:
    for model in ADMIN_MODELS:
        app, _, name = model.partition("_")
        if (route.pattern.name or "").startswith(model + "_") or f"/{app}/{name}/" in route.key:
            return model
    return ""


def url_of(route: Route, world: World) -> str:
    v, name = world.values, route.pattern.name or ""
    params = set(route.pattern.pattern.converters) | set(route.pattern.pattern.regex.groupindex)
    if route.namespace == "admin":
        object_id = world.object_ids.get(_admin_model(route), 1)
        if not name:
            path = str(route.pattern.pattern).replace("<path:object_id>", str(object_id))
            return "/" + route.prefix + path.replace("(?P<url>.*)$", "no-such-page/")
        kwargs = {
            "object_id": object_id,
            "id": world.object_ids["auth_user"],
            "content_type_id": v["content_type_id"],
            "app_label": "annotations",
        }
        return reverse(f"admin:{name}", kwargs={p: kwargs[p] for p in params})
    if route.namespace == "api":
        api_values = {
            "dataset_id": v["dataset"].pk,
            "item_id": v["item"].pk,
            "import_id": v["job"].pk,
            "export_id": v["export"].pk,
            "audit_id": 1,
        }
        return reverse(route.key, kwargs={p: api_values[p] for p in params})
    if not name:
        return "/" + route.prefix + str(route.pattern.pattern)
    pk = {
        "user": v["reviewer"].pk,
        "import": v["job"].pk,
        "export": v["export"].pk,
        "retraining": v["retraining"].pk,
        "checkpoint": v["checkpoint"].pk,
        "item": v["item"].pk,
        "review": v["item"].pk,
    }.get(name.split("-")[0], v["dataset"].pk)
    if name in ("review-next", "review-previous", "item-table", "item-bulk"):
        pk = v["dataset"].pk
    page_values = {
        "pk": pk,
        "sha256": v["item"].image.sha256,
        "name": v["profile"].name if name.startswith("profile-") else "manifest.json",
        "action": "make-admin",
        "uidb64": "MQ",
        "token": "no-such-token",
    }
    return reverse(name, kwargs={p: page_values[p] for p in params})


def refused(role: str, status: int, location: str) -> bool:
    if role == ANON:
        to_login = location.startswith(reverse("login")) or location.startswith(reverse("admin:login"))
        return status in (401, 403, 405) or (status == 302 and to_login)
    return status in (401, 403, 405)


def test_the_table_names_every_url_and_nothing_else() -> None:
    keys = {route.key for route in routes()}
    assert keys - set(TABLE) == set(), "add these URLs to the auth matrix"
    assert set(TABLE) - keys == set(), "these URLs in the auth matrix no longer exist"


@pytest.mark.parametrize("role", [ANON, REVIEWER, ADMIN])
def test_every_url_and_method_answers_each_role_as_the_table_says(role: str, world: World) -> None:
    user = {ANON: None, REVIEWER: UserFactory(username="rita"), ADMIN: User.objects.get(username="ada")}[role]
    token = api_token_create(user=user) if user is not None else ""
    wrong = []
    client = Client(raise_request_exception=False)
    for route in routes():
        url = url_of(route, world)
        shared = [r for r in routes() if r.prefix + str(r.pattern.pattern) == route.prefix + str(route.pattern.pattern)]
        allowed_methods: dict[str, frozenset[str]] = {}
        for other in shared:  # the API answers several operations on one path
            allowed_methods |= TABLE[other.key]
        for method in METHODS:
            if method not in TABLE[route.key] and any(method in TABLE[o.key] for o in shared if o != route):
                continue  # this method belongs to another operation on the same path, checked there
            if user is not None and "_auth_user_id" not in client.session:  # logged out by a logout URL
                client.force_login(user)
            headers = {"Authorization": f"Bearer {token}"} if token and route.namespace == "api" else {}
            # An empty body: the role is checked before the body is read, so a reviewer's refusal is 403, not 422.
            response = client.generic(method, url, "", content_type="application/json", headers=headers)
            status, location = response.status_code, response.get("Location", "")
            who = allowed_methods.get(method, NOBODY)
            if status >= 500:
                wrong.append(f"{method} {url} ({route.key}): {status} server error")
            elif (role in who) == refused(role, status, location):
                expect = "allowed" if role in who else "refused"
                wrong.append(f"{method} {url} ({route.key}): {status} {location}, expected {expect}")
            elif method not in allowed_methods and role == ADMIN and status != 405:
                wrong.append(f"{method} {url} ({route.key}): {status}, expected 405")  # reviewers: 403 may come first
    assert not wrong, "\n".join(wrong)
