"""The review desk: assignment under the overlap (also under concurrency), blind verdicts, the reveal."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotations.models import CriticVerdict, HumanVerdict, Item, ReviewSlot
from annotations.services import review
from tests.factories import (
    AdminFactory,
    CheckpointFactory,
    DatasetFactory,
    ItemFactory,
    PairwiseItemFactory,
    UserFactory,
)


def items(dataset, n: int, factory=ItemFactory) -> list[Item]:  # type: ignore[no-untyped-def]
    image = factory(dataset=dataset).image
    return [Item.objects.get(dataset=dataset)] + [factory(dataset=dataset, image=image) for _ in range(n - 1)]


@pytest.mark.django_db
def test_next_holds_an_item_until_the_verdict_is_in() -> None:
    dataset = DatasetFactory()
    first, second = items(dataset, 2)
    rita = UserFactory()
    assert review.review_next(reviewer=rita, dataset_id=dataset.pk) == first
    assert review.review_next(reviewer=rita, dataset_id=dataset.pk) == first  # held: the same again
    review.human_verdict_submit(reviewer=rita, item=first, score=40)
    assert review.review_next(reviewer=rita, dataset_id=dataset.pk) == second
    review.human_verdict_submit(reviewer=rita, item=second, score=60)
    assert review.review_next(reviewer=rita, dataset_id=dataset.pk) is None


@pytest.mark.django_db
def test_no_item_gets_more_reviewers_than_the_overlap() -> None:
    dataset = DatasetFactory(review_overlap=2)
    first, second = items(dataset, 2)
    a, b, c = UserFactory(), UserFactory(), UserFactory()
    assert review.review_next(reviewer=a, dataset_id=dataset.pk) == first
    assert review.review_next(reviewer=b, dataset_id=dataset.pk) == first
    assert review.review_next(reviewer=c, dataset_id=dataset.pk) == second  # first has its two reviewers
    assert ReviewSlot.objects.filter(item=first).count() == 2


@pytest.mark.django_db
def test_a_lapsed_lease_goes_to_the_next_reviewer_and_its_holder_cannot_submit() -> None:
    dataset = DatasetFactory()
    (only,) = items(dataset, 1)
    slow, quick = UserFactory(), UserFactory()
    review.review_next(reviewer=slow, dataset_id=dataset.pk)
    assert review.review_next(reviewer=quick, dataset_id=dataset.pk) is None
    ReviewSlot.objects.update(leased_until=timezone.now() - timedelta(seconds=1))
    assert review.review_next(reviewer=quick, dataset_id=dataset.pk) == only
    with pytest.raises(PermissionDenied):
        review.human_verdict_submit(reviewer=slow, item=only, score=10)
    review.human_verdict_submit(reviewer=quick, item=only, score=90)
    assert list(HumanVerdict.objects.values_list("score", flat=True)) == [90]


@pytest.mark.django_db
def test_a_lapsed_lease_nobody_took_is_still_yours() -> None:
    dataset = DatasetFactory()
    (only,) = items(dataset, 1)
    rita = UserFactory()
    review.review_next(reviewer=rita, dataset_id=dataset.pk)
    ReviewSlot.objects.update(leased_until=timezone.now() - timedelta(hours=1))
    assert review.human_verdict_submit(reviewer=rita, item=only, score=33).score == 33


@pytest.mark.django_db
def test_submitting_twice_records_one_verdict() -> None:
    dataset = DatasetFactory()
    (only,) = items(dataset, 1, PairwiseItemFactory)
    rita = UserFactory()
    review.review_next(reviewer=rita, dataset_id=dataset.pk)
    first = review.human_verdict_submit(reviewer=rita, item=only, preference="A")
    again = review.human_verdict_submit(reviewer=rita, item=only, preference="B")  # a retry, a double click
    assert again.pk == first.pk
    assert list(HumanVerdict.objects.values_list("preference", flat=True)) == ["A"]


@pytest.mark.django_db
def test_an_item_not_assigned_to_you_is_refused() -> None:
    dataset = DatasetFactory()
    (only,) = items(dataset, 1)
    with pytest.raises(PermissionDenied):
        review.human_verdict_submit(reviewer=UserFactory(), item=only, score=50)
    assert not HumanVerdict.objects.exists()


@pytest.mark.django_db
def test_a_skipped_item_is_not_offered_again() -> None:
    dataset = DatasetFactory()
    first, second = items(dataset, 2)
    rita = UserFactory()
    review.review_next(reviewer=rita, dataset_id=dataset.pk)
    review.review_skip(reviewer=rita, item=first)
    assert review.review_next(reviewer=rita, dataset_id=dataset.pk) == second
    assert review.review_next(reviewer=UserFactory(), dataset_id=dataset.pk) == first  # free for others


@pytest.mark.django_db
def test_least_confident_critic_first() -> None:
    dataset = DatasetFactory()
    sure, unsure, unjudged = items(dataset, 3)
    checkpoint = CheckpointFactory()
    for item, confidence in ((sure, 0.9), (unsure, 0.2)):
        CriticVerdict.objects.create(
            item=item, checkpoint=checkpoint, profile="pointwise", status="done", score=5, confidence=confidence
        )
    rita = AdminFactory()  # orders that read the critic's verdicts are for administrators
    order = []
    for _ in range(3):
        item = review.review_next(
            reviewer=rita, dataset_id=dataset.pk, order="least-confident", checkpoint_id=checkpoint.pk
        )
        order.append(item)
        review.human_verdict_submit(reviewer=rita, item=item, score=1)
    assert order == [unsure, sure, unjudged]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("n_items", "overlap"), [(30, 1), (10, 1), (10, 2)])
def test_twenty_reviewers_at_once_never_exceed_the_overlap(n_items: int, overlap: int) -> None:
    dataset = DatasetFactory(review_overlap=overlap)
    items(dataset, n_items)
    reviewers = [UserFactory() for _ in range(20)]
    got: dict[int, int | None] = {}
    barrier = threading.Barrier(20)

    def ask(reviewer) -> None:  # type: ignore[no-untyped-def]
        try:
            barrier.wait()
            item = review.review_next(reviewer=reviewer, dataset_id=dataset.pk)
            got[reviewer.pk] = item.pk if item else None
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(r,)) for r in reviewers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assigned = [pk for pk in got.values() if pk is not None]
    assert len(assigned) == min(20, n_items * overlap)  # nobody left out while there was room
    assert max(assigned.count(pk) for pk in set(assigned)) <= overlap  # and never more than k per item
    assert ReviewSlot.objects.count() == len(assigned)


@pytest.mark.django_db(transaction=True)
def test_the_last_two_verdicts_at_once_complete_the_item() -> None:
    dataset = DatasetFactory(review_overlap=2)
    (item,) = items(dataset, 1)
    first, second = UserFactory(), UserFactory()
    for reviewer in (first, second):
        assert review.review_next(reviewer=reviewer, dataset_id=dataset.pk) == item
    written = threading.Event()

    def slow_commit() -> None:  # the first verdict is written, and its transaction stays open a while
        try:
            with transaction.atomic():
                review.human_verdict_submit(reviewer=first, item=Item.objects.get(pk=item.pk), score=5)
                written.set()
                time.sleep(0.5)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_commit)
    thread.start()
    assert written.wait(10)
    review.human_verdict_submit(reviewer=second, item=Item.objects.get(pk=item.pk), score=6)
    thread.join()
    item.refresh_from_db()
    assert item.review_complete
    assert HumanVerdict.objects.filter(item=item).count() == 2


# -- pages ------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_review_page_hides_models_and_verdicts_until_the_verdict(reviewer_client: Client, reviewer) -> None:  # type: ignore[no-untyped-def]
    dataset = DatasetFactory()
    item = PairwiseItemFactory(
        dataset=dataset,
        model_a="secret-model-a",
        model_b="secret-model-b",
        response_a="**Bold** <script>alert(1)</script>",
    )
    CriticVerdict.objects.create(
        item=item,
        checkpoint=CheckpointFactory(),
        profile="pairwise",
        status="done",
        preference="B",
        confidence=0.8,
        justification="critic says B",
    )
    page = reviewer_client.get(reverse("review-next", args=[dataset.pk])).content.decode()
    assert "secret-model-a" not in page
    assert "critic says B" not in page
    assert "<strong>Bold</strong>" in page  # safe markdown
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert reviewer_client.get(reverse("review-reveal", args=[item.pk])).status_code == 403


@pytest.mark.django_db
def test_submit_reveals_the_critic_and_marks_disagreement(reviewer_client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    checkpoint = CheckpointFactory(is_active=True)
    dataset = DatasetFactory()
    item = PairwiseItemFactory(dataset=dataset, model_a="model-a", model_b="model-b")
    CriticVerdict.objects.create(
        item=item,
        checkpoint=checkpoint,
        profile="pairwise",
        status="done",
        preference="B",
        confidence=0.8,
        justification="critic says B",
    )
    reviewer_client.get(reverse("review-next", args=[dataset.pk]))
    reveal = reviewer_client.post(
        reverse("review-submit", args=[item.pk]), {"preference": "A"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert reveal.lstrip().startswith('<section id="reveal"')
    assert "critic says B" in reveal
    assert "You and the critic disagree" in reveal
    assert "model-a" in reveal
    assert "hx-trigger" not in reveal  # the critic's verdict is in: no polling
    corrected = reviewer_client.post(
        reverse("review-correct", args=[item.pk]),
        {"corrected_justification": "A names the dog."},
        headers={"HX-Request": "true"},
    ).content.decode()
    assert "A names the dog." in corrected
    reviewer_client.post(reverse("review-revise", args=[item.pk]), {"preference": "B"})
    verdict = HumanVerdict.objects.get()
    assert (verdict.preference, verdict.revised_preference, verdict.justification_flagged) == ("A", "B", True)
    assert checkpoint  # the active checkpoint is the one revealed


@pytest.mark.django_db
def test_the_reveal_waits_for_a_critic_that_is_still_running(reviewer_client: Client) -> None:
    checkpoint = CheckpointFactory(is_active=True)
    dataset = DatasetFactory()
    item = ItemFactory(dataset=dataset)
    verdict = CriticVerdict.objects.create(item=item, checkpoint=checkpoint, profile="pointwise", status="running")
    reviewer_client.get(reverse("review-next", args=[dataset.pk]))
    waiting = reviewer_client.post(reverse("review-submit", args=[item.pk]), {"score": "95"}, follow=True)
    assert 'hx-trigger="every 2s"' in waiting.content.decode()
    CriticVerdict.objects.filter(pk=verdict.pk).update(status="done", score=20)
    done = reviewer_client.get(reverse("review-reveal", args=[item.pk]), headers={"HX-Request": "true"})
    assert "You and the critic disagree" in done.content.decode()  # 95 vs 20: beyond 10% of 0-100
    assert "hx-trigger" not in done.content.decode()


@pytest.mark.django_db
def test_a_bad_score_is_refused_with_the_range(reviewer_client: Client) -> None:
    dataset = DatasetFactory()
    item = ItemFactory(dataset=dataset)
    reviewer_client.get(reverse("review-next", args=[dataset.pk]))
    response = reviewer_client.post(reverse("review-submit", args=[item.pk]), {"score": "140"})
    assert response.status_code == 400
    assert "from 0 to 100" in response.content.decode()
    assert not HumanVerdict.objects.exists()


def test_with_htmx_a_refused_submit_replaces_the_desk_with_the_reason(reviewer, reviewer_client: Client) -> None:  # type: ignore[no-untyped-def]
    htmx = {"HX-Request": "true"}
    dataset = DatasetFactory()
    first, second = items(dataset, 2)
    reviewer_client.get(reverse("review-next", args=[dataset.pk]), headers=htmx)
    bad = reviewer_client.post(reverse("review-submit", args=[first.pk]), {"score": "140"}, headers=htmx)
    assert bad.status_code == 200  # htmx swaps only 2xx answers; the error is in the form it swaps in
    assert (bad["HX-Retarget"], bad["HX-Reswap"]) == ("#desk", "outerHTML")
    assert "140 is above the highest score, 100." in bad.content.decode()

    # The lease lapsed and another reviewer took the item: say so, and offer the next one.
    ReviewSlot.objects.update(leased_until=timezone.now() - timedelta(seconds=1))
    assert review.review_next(reviewer=UserFactory(), dataset_id=dataset.pk) == first
    lost = reviewer_client.post(reverse("review-submit", args=[first.pk]), {"score": "40"}, headers=htmx)
    assert lost["HX-Retarget"] == "#desk"
    page = lost.content.decode()
    assert "not assigned to you" in page
    assert f'action="/items/{second.pk}/verdict/"' in page
    assert not HumanVerdict.objects.filter(reviewer=reviewer).exists()


def submit_url(page: HttpResponse) -> str:
    found = re.search(r'action="(/items/\d+/verdict/)"', page.content.decode())
    assert found, "no verdict form on the page"
    return found.group(1)


@pytest.mark.django_db
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_queries_per_request_do_not_grow_with_the_dataset(reviewer, htmx: bool) -> None:  # type: ignore[no-untyped-def]
    from django.test.utils import CaptureQueriesContext

    headers = {"HX-Request": "true"} if htmx else {}
    CheckpointFactory(is_active=True)
    counts = {}
    for size in (5, 120):
        reviewer_client = Client(headers=headers)  # a fresh session each time: the same work for both sizes
        reviewer_client.force_login(reviewer)
        dataset = DatasetFactory()
        items(dataset, size)
        for _ in range(2):  # a reviewer at work: verdicts already in, the order and counts settled
            page = reviewer_client.get(reverse("review-next", args=[dataset.pk]))
            reviewer_client.post(submit_url(page), {"score": "50"})
        with CaptureQueriesContext(connection) as next_page:
            page = reviewer_client.get(reverse("review-next", args=[dataset.pk]))
        with CaptureQueriesContext(connection) as submit:
            reviewer_client.post(submit_url(page), {"score": "50"})
        counts[size] = (len(next_page), len(submit))
    assert counts[5] == counts[120], counts
    # The user; the held item, the candidates and the dataset in one; the claim (the session comes from the cache).
    assert counts[5][0] <= 3, counts
    # The user, the item, the transaction (begin, close the lease, record, complete and count it, mark the critic's
    # verdicts it disagrees with, commit); with htmx, the critic.
    assert counts[5][1] <= (9 if htmx else 8), counts


@pytest.mark.django_db
def test_a_dataset_or_item_that_does_not_exist_is_a_404(reviewer_client: Client) -> None:
    nowhere = 2**31 - 1
    assert reviewer_client.get(reverse("review-next", args=[nowhere])).status_code == 404
    for name in ("review-submit", "review-skip"):
        assert reviewer_client.post(reverse(name, args=[nowhere]), {"score": "5"}).status_code == 404
    assert reviewer_client.get(reverse("review-reveal", args=[nowhere])).status_code == 404


@pytest.mark.django_db
def test_disagreement_first() -> None:
    dataset = DatasetFactory(review_overlap=2)
    agreed, disputed, scored_close, scored_far = items(dataset, 4)
    checkpoint = CheckpointFactory()
    voter = UserFactory()
    for item, critic_score, human_score in (
        (agreed, 50, 50),
        (disputed, 90, 10),
        (scored_close, 50, 55),
        (scored_far, 20, 80),
    ):
        CriticVerdict.objects.create(
            item=item, checkpoint=checkpoint, profile="pointwise", status="done", score=critic_score
        )
        HumanVerdict.objects.create(item=item, reviewer=voter, profile="pointwise", score=human_score)
    rita = AdminFactory()  # adjudication: orders that read others' verdicts are for administrators
    order = []
    for _ in range(4):
        item = review.review_next(
            reviewer=rita, dataset_id=dataset.pk, order="disagreement-first", checkpoint_id=checkpoint.pk
        )
        order.append(item)
        review.human_verdict_submit(reviewer=rita, item=item, score=1)
    assert order[:2] == [disputed, scored_far]  # 80 points and 60 apart: beyond 10% of 0-100
    assert order[2:] == [agreed, scored_close]  # 0 and 5 apart: agreement


@pytest.mark.django_db
def test_the_chosen_order_sticks_for_the_session(admin_client: Client) -> None:
    dataset = DatasetFactory()
    items(dataset, 2)
    page = admin_client.get(reverse("review-next", args=[dataset.pk]), {"order": "least-confident"})
    assert '<option value="least-confident" selected>' in page.content.decode()
    again = admin_client.get(reverse("review-next", args=[dataset.pk]))
    assert '<option value="least-confident" selected>' in again.content.decode()
    bogus = admin_client.get(reverse("review-next", args=[dataset.pk]), {"order": "nonsense"})
    assert '<option value="default" selected>' in bogus.content.decode()


@pytest.mark.django_db
def test_reviewers_cannot_order_by_others_verdicts(reviewer_client: Client, reviewer) -> None:  # type: ignore[no-untyped-def]
    """Disagreement-first and least-confident read verdicts a reviewer has not seen: they are not offered, asking
    for them gives the plain order, and the service refuses them."""
    dataset = DatasetFactory()
    items(dataset, 2)
    for order in review.ORDERS_BY_CRITIC:
        page = reviewer_client.get(reverse("review-next", args=[dataset.pk]), {"order": order}).content.decode()
        assert f'value="{order}"' not in page
        assert '<option value="default" selected>' in page
        with pytest.raises(PermissionDenied):
            review.review_next(reviewer=reviewer, dataset_id=dataset.pk, order=order, checkpoint_id=None)


@pytest.mark.django_db
def test_items_a_reviewer_already_labelled_elsewhere_are_not_offered_to_them() -> None:
    dataset = DatasetFactory()
    imported, fresh = items(dataset, 2)
    rita = UserFactory()
    HumanVerdict.objects.create(item=imported, reviewer=rita, profile="pointwise", score=70, source="import")
    assert review.review_next(reviewer=rita, dataset_id=dataset.pk) == fresh


@pytest.mark.django_db
def test_raising_the_overlap_in_the_admin_reopens_reviewed_items(admin_client: Client) -> None:
    from django.forms.models import model_to_dict

    dataset = DatasetFactory(review_overlap=1)
    item = ItemFactory(dataset=dataset)
    first, second = UserFactory(), UserFactory()
    assert review.review_next(reviewer=first, dataset_id=dataset.pk) == item
    review.human_verdict_submit(reviewer=first, item=item, score=50)
    assert review.review_next(reviewer=second, dataset_id=dataset.pk) is None  # k = 1: done

    fields = {k: v for k, v in model_to_dict(dataset).items() if v is not None and k != "created_by"}
    response = admin_client.post(
        reverse("admin:annotations_dataset_change", args=[dataset.pk]), {**fields, "review_overlap": 2}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    dataset.refresh_from_db()
    assert review.review_next(reviewer=second, dataset_id=dataset.pk) == item  # reopened for a second reviewer
    review.human_verdict_submit(reviewer=second, item=item, score=40)
    item.refresh_from_db()
    assert item.review_complete

    dataset.review_overlap = 3
    dataset.save()
    review.dataset_overlap_apply(dataset=dataset)
    assert not Item.objects.get(pk=item.pk).review_complete
    dataset.review_overlap = 2
    dataset.save()
    review.dataset_overlap_apply(dataset=dataset)  # lowered again: complete again
    assert Item.objects.get(pk=item.pk).review_complete


@pytest.mark.django_db
def test_the_reviewers_count_follows_their_verdicts(reviewer, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from annotations.selectors.review import review_progress

    dataset = DatasetFactory()
    items(dataset, 3)
    assert review_progress(reviewer=reviewer, dataset=dataset).mine == 0  # counted, then cached
    for expected in (1, 2):
        item = review.review_next(reviewer=reviewer, dataset_id=dataset.pk)
        assert item is not None
        with django_capture_on_commit_callbacks(execute=True):
            review.human_verdict_submit(reviewer=reviewer, item=item, score=10)
        assert review_progress(reviewer=reviewer, dataset=dataset).mine == expected
    with django_capture_on_commit_callbacks(execute=True):
        review.human_verdict_submit(reviewer=reviewer, item=item, score=10)  # a repeat counts nothing
    assert review_progress(reviewer=reviewer, dataset=dataset).mine == 2
