"""The admin's add forms: rows only the app creates (images, items, verdicts, imports, exports, retraining jobs,
tokens) have none (403, no "Add" link); the rest answer an empty POST with the form's errors, never a server error."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client

pytestmark = pytest.mark.django_db

MADE_BY_THE_APP = {
    "verdictreread",  # the re-read action and reread_verdicts --apply
    "image",
    "item",
    "criticverdict",
    "humanverdict",
    "trainingexport",
    "retrainingjob",
    "importjob",
    "apitoken",
}


def registered() -> list[tuple[str, str]]:
    return sorted((m._meta.app_label, m._meta.model_name or "") for m in admin.site._registry)


@pytest.mark.parametrize(("app_label", "model_name"), registered())
def test_an_empty_post_to_each_add_page_is_never_a_server_error(
    admin_client: Client, app_label: str, model_name: str
) -> None:
    url = f"/admin/{app_label}/{model_name}/add/"
    page, posted = admin_client.get(url), admin_client.post(url, {})
    if model_name in MADE_BY_THE_APP:
        assert (page.status_code, posted.status_code) == (403, 403)
        listing = admin_client.get(f"/admin/{app_label}/{model_name}/")
        assert listing.status_code == 200
        assert url.encode() not in listing.content  # no "Add" button leading to the refusal
    else:
        assert page.status_code == 200
        assert posted.status_code == 200  # the form again, with what is missing
        assert b"errornote" in posted.content


def test_the_rows_made_by_the_app_are_all_registered() -> None:
    assert {name for _, name in registered()} >= MADE_BY_THE_APP
