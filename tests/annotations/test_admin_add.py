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


def test_verdicts_are_records_the_admin_shows_and_never_rewrites(admin_client: Client) -> None:
    """A committed verdict, a person's or the critic's, cannot be edited by hand in the admin (its score, its
    reviewer, its source): the change page shows it, a POST changes nothing; deleting a wrong one stays possible."""
    from annotations.models import CriticVerdict, HumanVerdict
    from tests.factories import CheckpointFactory, ItemFactory, UserFactory

    item = ItemFactory()
    human = HumanVerdict.objects.create(item=item, reviewer=UserFactory(), profile="pointwise", score=93)
    critic = CriticVerdict.objects.create(
        item=item, checkpoint=CheckpointFactory(), profile="pointwise", status="done", score=40
    )
    for verdict, name in ((human, "humanverdict"), (critic, "criticverdict")):
        url = f"/admin/annotations/{name}/{verdict.pk}/change/"
        page = admin_client.get(url)
        assert page.status_code == 200
        assert b'name="score"' not in page.content  # shown, not a form field
        posted = admin_client.post(url, {"score": "5", "source": "import", "item": item.pk, "profile": "pointwise"})
        assert posted.status_code == 403
        verdict.refresh_from_db()
        assert verdict.score in (93, 40)
        assert admin_client.get(f"/admin/annotations/{name}/{verdict.pk}/delete/").status_code == 200
    assert HumanVerdict.objects.get().source == "desk"
