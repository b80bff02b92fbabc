"""The dataset's disagreement rule is written several times — Python for the reveal and the export, SQL for the
desk's disagreement-first order, the item table's filters and the mark kept on critic verdicts, numpy for the
metrics' calibration — and all must draw the line at the same place, the threshold's edge included."""

from __future__ import annotations

import pytest

from annotations.models import CriticVerdict, HumanVerdict, Item
from annotations.selectors.item_table import TableQuery, item_table_queryset
from annotations.selectors.metrics import agreement_for_dataset
from annotations.selectors.review import verdict_values_agree
from annotations.services import review
from annotations.services.verdict_summary import critic_disagreement_refresh
from critic_worker.profiles import get_profile
from tests.factories import AdminFactory, CheckpointFactory, DatasetFactory, ItemFactory, UserFactory


@pytest.mark.django_db
def test_the_reveal_the_desk_and_the_metrics_draw_the_disagreement_line_at_the_same_place() -> None:
    critic = CheckpointFactory(is_active=True)
    dataset = DatasetFactory(disagreement_threshold=0.1)
    spec = get_profile("pointwise")
    low, edge = float(spec.score_min or 0), 0.1 * float((spec.score_max or 0) - (spec.score_min or 0))
    gaps = [0.0, edge - 0.01, edge, edge + 0.01, 5 * edge, edge / 2, edge + 1e-9]
    rita, image = UserFactory(), ItemFactory(dataset=dataset).image
    items = [Item.objects.get(dataset=dataset)] + [ItemFactory(dataset=dataset, image=image) for _ in gaps[1:]]
    for n, (item, gap) in enumerate(zip(items, gaps, strict=True)):
        HumanVerdict.objects.create(item=item, reviewer=rita, profile="pointwise", score=low + gap, source="import")
        # One confidence per reliability bin, so that each bin of the calibration curve is one item.
        CriticVerdict.objects.create(
            item=item, checkpoint=critic, profile="pointwise", status="done", score=low, confidence=0.05 + 0.1 * n
        )
    python = [
        verdict_values_agree(profile="pointwise", threshold=0.1, first=(low + gap, None), second=(low, None))
        for gap in gaps
    ]
    assert python == [True, True, True, False, False, True, False]

    # SQL: a second reviewer skipping through the desk in disagreement-first order sees the disagreements first.
    seen, other = [], AdminFactory()  # disagreement-first is adjudication: administrators only
    while (
        item := review.review_next(
            reviewer=other, dataset_id=dataset.pk, order="disagreement-first", checkpoint_id=critic.pk
        )
    ) is not None:
        seen.append(item.pk)
        review.review_skip(reviewer=other, item=item)
    disagreed = [item.pk for item, agrees in zip(items, python, strict=True) if not agrees]
    assert seen == disagreed + [item.pk for item in items if item.pk not in disagreed]

    # numpy: the calibration curve's accuracy is 1 where the critic agreed with the reviewer.
    curve = agreement_for_dataset(dataset=dataset, checkpoint=critic)["calibration"]["pointwise"]["curve"]
    assert [point["n"] for point in curve] == [1] * len(gaps)
    assert [point["accuracy"] == 1.0 for point in curve] == python

    # The item table's filter: administrators' reads the mark the services keep on the critic's verdicts (set here as
    # an import sets it), a reviewer's compares their own verdicts in SQL.
    critic_disagreement_refresh(dataset=dataset)
    marked = CriticVerdict.objects.filter(item__dataset=dataset, humans_disagree=True)
    assert sorted(marked.values_list("item_id", flat=True)) == sorted(disagreed)
    for viewer in (other, rita):
        table = item_table_queryset(
            user=viewer, dataset=dataset, query=TableQuery(critic="disagree"), checkpoint=critic
        )
        assert sorted(table.values_list("pk", flat=True)) == sorted(disagreed), viewer
