"""People management for administrators: create or invite, deactivate, promote, reset, and the review figures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from annotations.models import HumanVerdict, ReviewSlot
from annotations.selectors.users import reviewer_stats
from annotations.services.users import user_create
from tests.factories import CheckpointFactory, ItemFactory, UserFactory

User = get_user_model()
pytestmark = pytest.mark.django_db


def _link(page: str) -> str:
    return page.split('id="one-time-link" type="text" readonly value="')[1].split('"')[0]


def test_reviewers_cannot_see_or_change_people(reviewer_client: Client, admin) -> None:  # type: ignore[no-untyped-def]
    assert reviewer_client.get(reverse("user-list")).status_code == 403
    assert reviewer_client.post(reverse("user-list"), {"username": "eve"}).status_code == 403
    assert reviewer_client.post(reverse("user-action", args=[admin.pk, "make-reviewer"])).status_code == 403
    assert not User.objects.filter(username="eve").exists()
    assert User.objects.get(pk=admin.pk).is_staff


def test_admin_creates_a_reviewer_with_a_password_who_can_log_in(admin_client: Client) -> None:
    response = admin_client.post(reverse("user-list"), {"username": "bob", "password": "a-long-pass-4-bob"})
    assert response.status_code == 200
    bob = User.objects.get(username="bob")
    assert not bob.is_staff
    assert Client().login(username="bob", password="a-long-pass-4-bob")


def test_an_invited_reviewer_chooses_a_password_through_the_one_time_link(admin_client: Client) -> None:
    page = admin_client.post(reverse("user-list"), {"username": "carol", "email": "c@example.org"}).content.decode()
    link = _link(page)
    assert "invited" in page
    guest = Client()
    form = guest.get(link, follow=True)  # Django moves the token into the session, then shows the form
    assert form.status_code == 200
    assert "Choose a password" in form.content.decode()
    done = guest.post(
        form.redirect_chain[-1][0], {"new_password1": "carols-own-pass-9", "new_password2": "carols-own-pass-9"}
    )
    assert done.status_code == 302
    assert Client().login(username="carol", password="carols-own-pass-9")
    assert "no longer works" in Client().get(link, follow=True).content.decode()  # used once


def test_a_taken_name_or_a_weak_password_is_refused_and_nothing_is_made(admin_client: Client, reviewer) -> None:  # type: ignore[no-untyped-def]
    taken = admin_client.post(reverse("user-list"), {"username": reviewer.username.upper()})
    assert taken.status_code == 400
    assert "is taken" in taken.content.decode()
    weak = admin_client.post(reverse("user-list"), {"username": "dan", "password": "123"})
    assert weak.status_code == 400
    assert not User.objects.filter(username="dan").exists()


def test_deactivated_reviewers_lose_their_session_and_tokens_until_reactivated(
    admin_client: Client, reviewer, reviewer_client: Client
) -> None:  # type: ignore[no-untyped-def]
    from annotations.services.tokens import api_token_create

    key = api_token_create(user=reviewer, name="ci")
    admin_client.post(reverse("user-action", args=[reviewer.pk, "deactivate"]))
    assert reviewer_client.get(reverse("dataset-list")).status_code == 302  # back to the login page
    assert Client().get("/api/datasets", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    admin_client.post(reverse("user-action", args=[reviewer.pk, "activate"]))
    assert Client().get("/api/datasets", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_promote_and_demote_and_no_admin_can_lock_themselves_out(admin_client: Client, admin, reviewer) -> None:  # type: ignore[no-untyped-def]
    admin_client.post(reverse("user-action", args=[reviewer.pk, "make-admin"]))
    assert User.objects.get(pk=reviewer.pk).is_staff
    admin_client.post(reverse("user-action", args=[reviewer.pk, "make-reviewer"]))
    assert not User.objects.get(pk=reviewer.pk).is_staff
    for action in ("make-reviewer", "deactivate"):
        response = admin_client.post(reverse("user-action", args=[admin.pk, action]))
        assert response.status_code == 400
        assert "ask another administrator" in response.content.decode()
    fresh = User.objects.get(pk=admin.pk)
    assert fresh.is_staff
    assert fresh.is_active


def test_reset_password_stops_the_old_one_and_the_link_sets_a_new_one(admin_client: Client) -> None:
    user_create(username="erin", password="erins-first-pass-1")
    erin = User.objects.get(username="erin")
    page = admin_client.post(reverse("user-action", args=[erin.pk, "reset-password"])).content.decode()
    assert not Client().login(username="erin", password="erins-first-pass-1")
    guest = Client()
    form = guest.get(_link(page), follow=True)
    guest.post(form.redirect_chain[-1][0], {"new_password1": "erins-next-pass-2", "new_password2": "erins-next-pass-2"})
    assert Client().login(username="erin", password="erins-next-pass-2")


def test_unknown_action_is_a_404_that_names_the_actions(admin_client: Client, reviewer) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.post(reverse("user-action", args=[reviewer.pk, "promote"]))
    assert response.status_code == 404
    assert "make-admin" in response.content.decode()


def test_figures_count_verdicts_agreement_and_time_per_item() -> None:
    """Three reviewers on two pointwise items (threshold 0.1 of 0..100 = 10 points) and a critic."""
    ann, ben, cy = (UserFactory(username=n) for n in ("ann", "ben", "cy"))
    critic = CheckpointFactory(is_active=True)
    first = ItemFactory()
    second = ItemFactory(dataset=first.dataset)
    scores = {(first, ann): 80, (first, ben): 85, (first, cy): 40, (second, ann): 10, (second, ben): 60}
    for (item, who), score in scores.items():
        slot = ReviewSlot.objects.create(item=item, slot=ReviewSlot.objects.filter(item=item).count(), reviewer=who)
        verdict = HumanVerdict.objects.create(item=item, reviewer=who, profile="pointwise", score=score)
        HumanVerdict.objects.filter(pk=verdict.pk).update(committed_at=slot.created_at + timedelta(seconds=30 + score))
    for item, score in ((first, 82), (second, 15)):
        item.critic_verdicts.create(checkpoint=critic, profile="pointwise", status="done", score=score)

    rows = {row.user.username: row for row in reviewer_stats(checkpoint=critic)}
    # ann: with ben on first (80~85 agree), with cy on first (80 vs 40: no), with ben on second (10 vs 60: no).
    assert (rows["ann"].verdicts, rows["ann"].with_others.agreeing, rows["ann"].with_others.n) == (2, 1, 3)
    # ann against the critic: 80~82 yes, 10~15 yes; ben: 85~82 yes, 60 vs 15 no; cy: 40 vs 82 no.
    assert (rows["ann"].with_critic.agreeing, rows["ann"].with_critic.n) == (2, 2)
    assert (rows["ben"].with_critic.agreeing, rows["ben"].with_critic.n) == (1, 2)
    assert rows["cy"].with_critic.value == 0
    assert rows["ann"].seconds_per_item == pytest.approx((110 + 40) / 2)
    assert rows["cy"].time_per_item == "1 min 10 s"
    assert rows["ann"].user.username == "ann"


def test_the_people_page_shows_the_figures(admin_client: Client, reviewer) -> None:  # type: ignore[no-untyped-def]
    item = ItemFactory()
    HumanVerdict.objects.create(item=item, reviewer=reviewer, profile="pointwise", score=50)
    page = admin_client.get(reverse("user-list")).content.decode()
    assert f'id="user-{reviewer.pk}"' in page
    assert "Agrees with the critic" in page
