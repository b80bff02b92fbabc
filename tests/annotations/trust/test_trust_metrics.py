"""The trust section through the database: in the metrics JSON, the API, the command and on the dashboard; PPI
rows equal ppi-python's output on the same verdicts; the desk's most-informative order follows planning.py."""

from __future__ import annotations

import csv
import io
import json
from io import StringIO

import numpy as np
import ppi_py
import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, Item
from annotations.selectors.metrics import agreement_for_dataset
from annotations.services.judging import VerdictResult, verdict_record
from annotations.services.review import _candidates
from annotations.services.tokens import api_token_create
from annotations.trust import planning
from tests.factories import AdminFactory, CheckpointFactory, DatasetFactory, ItemFactory, UserFactory

pytestmark = pytest.mark.django_db
SCORES = np.random.default_rng(7)


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    from django.core.cache import cache

    cache.clear()


def items(dataset: Dataset, n: int, *, pairwise: bool, start: int = 0) -> list[Item]:
    first = ItemFactory(dataset=dataset, external_id=f"seed{int(pairwise)}")
    rows = [
        Item(
            dataset=dataset, external_id=f"{'w' if pairwise else 'p'}{i}", image=first.image, question="Q?",
            response_a="a", model_a="m-x" if pairwise or i % 2 else "m-y", kind="pairwise" if pairwise else "pointwise",
            profile="pairwise" if pairwise else "pointwise", response_b="b" if pairwise else "",
            model_b="m-y" if pairwise else "",
        )
        for i in range(start, start + n)
    ]  # fmt: skip
    first.delete()
    return Item.objects.bulk_create(rows)


@pytest.fixture
def world() -> dict[str, object]:
    rng = np.random.default_rng(3)
    dataset = DatasetFactory(name="trusty", review_overlap=3)
    critic = CheckpointFactory(name="critic-7b", is_active=True)
    people = [UserFactory(username=f"r{k}") for k in range(3)]
    point = items(dataset, 80, pairwise=False)
    pair = items(dataset, 60, pairwise=True)
    truth = rng.uniform(10, 90, len(point))
    critic_rows, human_rows = [], []
    for i, item in enumerate(point):
        judged = float(np.clip(round(truth[i] + rng.normal(8, 10)), 0, 100))  # a critic 8 points too kind
        critic_rows.append(
            CriticVerdict(item=item, checkpoint=critic, profile="pointwise", status="done", score=judged)
        )
        if i < 40:  # three reviewers on the first forty
            for person in people:
                score = float(np.clip(round(truth[i] + rng.normal(0, 8)), 0, 100))
                human_rows.append(HumanVerdict(item=item, reviewer=person, profile="pointwise", score=score))
    for i, item in enumerate(pair):
        critic_rows.append(CriticVerdict(item=item, checkpoint=critic, profile="pairwise", status="done",
                                         preference=["A", "B", "tie"][int(rng.integers(0, 3))]))  # fmt: skip
        if i < 30:
            human_rows.append(HumanVerdict(item=item, reviewer=people[i % 3], profile="pairwise",
                                           preference=["A", "B", "A", "tie"][int(rng.integers(0, 4))]))  # fmt: skip
    CriticVerdict.objects.bulk_create(critic_rows)
    HumanVerdict.objects.bulk_create(human_rows)
    return {"dataset": dataset, "critic": critic, "point": point, "pair": pair}


def test_ppi_rows_are_ppi_pythons_output_on_the_stored_verdicts(world: dict[str, object]) -> None:
    dataset = world["dataset"]
    assert isinstance(dataset, Dataset)
    trust = agreement_for_dataset(dataset=dataset)["trust"]
    for model in ("m-x", "m-y"):
        row = next(r for r in trust["ppi"]["pointwise"] if r["model"] == model)
        critic = dict(CriticVerdict.objects.filter(item__dataset=dataset, item__kind="pointwise", item__model_a=model)
                      .values_list("item_id", "score"))  # fmt: skip
        labels: dict[int, list[float]] = {}
        for item_id, score in HumanVerdict.objects.filter(item__in=list(critic)).values_list("item_id", "score"):
            labels.setdefault(item_id, []).append(score)
        y = np.array([np.mean(labels[i]) for i in sorted(labels)])
        yhat = np.array([critic[i] for i in sorted(labels)])
        yhat_u = np.array([critic[i] for i in sorted(critic) if i not in labels])
        assert row["estimate"] == pytest.approx(float(ppi_py.ppi_mean_pointestimate(y, yhat, yhat_u)[0]), abs=1e-9)
        lo, hi = ppi_py.ppi_mean_ci(y, yhat, yhat_u, alpha=0.05)
        assert row["ci95"] == pytest.approx([lo[0], hi[0]], abs=1e-9)
        assert (row["n_labeled"], row["n_unlabeled"]) == (y.size, yhat_u.size)
    # Pairwise: each item is a game for both models; m-y's outcome is one minus m-x's.
    rows = {r["model"]: r for r in trust["ppi"]["pairwise"]}
    assert rows["m-x"]["n_labeled"] == rows["m-y"]["n_labeled"] == 30
    assert rows["m-x"]["critic_only"]["value"] + rows["m-y"]["critic_only"]["value"] == pytest.approx(1.0)


def test_the_alt_test_and_the_ceiling_are_in_the_json_the_api_and_the_command(world: dict[str, object]) -> None:
    dataset = world["dataset"]
    assert isinstance(dataset, Dataset)
    trust = agreement_for_dataset(dataset=dataset)["trust"]
    alt = trust["alt_test"]
    assert set(alt) == {"epsilon", "winning_rate", "passed", "advantage_probability", "n_items", "per_reviewer"}
    assert alt["epsilon"] == 0.2
    assert alt["n_items"] == 40
    assert [r["reviewer"] for r in alt["per_reviewer"]] == ["r0", "r1", "r2"]
    assert {r["reviewer"] for r in trust["human_ceiling"]["pointwise"]["reviewers"]} == {"r0", "r1", "r2"}
    Dataset.objects.filter(pk=dataset.pk).update(alt_test_epsilon=0.1)
    dataset.refresh_from_db()
    from annotations.selectors.metrics import metrics_forget

    metrics_forget(dataset=dataset)
    assert agreement_for_dataset(dataset=dataset)["trust"]["alt_test"]["epsilon"] == 0.1
    token = api_token_create(user=AdminFactory(username="reader"))  # all items (a reviewer's view is theirs only)
    got = Client().get(f"/api/datasets/{dataset.pk}/metrics", headers={"Authorization": f"Bearer {token}"}).json()
    assert got["trust"]["alt_test"]["epsilon"] == 0.1
    out = StringIO()
    call_command("critic_metrics", "--dataset", "trusty", "--json", stdout=out)
    assert json.loads(out.getvalue())["trust"]["ppi"] == got["trust"]["ppi"]
    out = StringIO()
    call_command("critic_metrics", "--dataset", "trusty", stdout=out)
    assert "alt-test" in out.getvalue()
    assert "further verdicts" in out.getvalue()


def test_the_dashboard_shows_the_trust_cards_with_their_references(world: dict[str, object]) -> None:
    client = Client()
    client.force_login(AdminFactory(username="viewer"))  # all items: the cards over the whole dataset
    dataset = world["dataset"]
    assert isinstance(dataset, Dataset)
    html = client.get(reverse("dataset-metrics", args=[dataset.pk])).content.decode()
    for text in ("Can the critic replace a reviewer?", "arXiv:2501.10970", "The human ceiling", "Prediction-powered",
                 "ppi-python", "Further verdicts", 'id="figure-planning-', "Active Statistical Inference"):  # fmt: skip
        assert text in html
    CriticCheckpoint.objects.update(is_active=False)  # people before any critic
    html = client.get(reverse("dataset-metrics", args=[dataset.pk])).content.decode()
    assert "The human ceiling" in html
    assert "Krippendorff" in html


def test_the_trust_cards_tables_download_as_csv_and_json(world: dict[str, object]) -> None:
    """Each table of the page downloads (README): the trust cards' too, with the figures of the metrics JSON."""
    client = Client()
    client.force_login(AdminFactory(username="viewer"))
    dataset = world["dataset"]
    assert isinstance(dataset, Dataset)
    url = reverse("dataset-metrics", args=[dataset.pk])
    html = client.get(url).content.decode()
    trust = agreement_for_dataset(dataset=dataset)["trust"]
    for table in ("alt_test", "human_ceiling", "reviewer_kappa", "ppi"):
        assert f"table={table}&amp;format=csv" in html
        rows = list(csv.DictReader(io.StringIO(client.get(url, {"table": table, "format": "csv"}).content.decode())))
        assert len(rows) == len(client.get(url, {"table": table, "format": "json"}).json()) > 0
    alt = client.get(url, {"table": "alt_test", "format": "json"}).json()
    assert [(r["reviewer"], r["p_value"]) for r in alt] == [
        (r["reviewer"], r["p_value"]) for r in trust["alt_test"]["per_reviewer"]
    ]
    ppi = {(r["kind"], r["model"]): r for r in client.get(url, {"table": "ppi", "format": "json"}).json()}
    for kind, rows in trust["ppi"].items():
        for r in rows:
            assert [ppi[kind, r["model"]]["ci_low"], ppi[kind, r["model"]]["ci_high"]] == (r["ci95"] or [None, None])


def test_a_stored_verdict_carries_its_uncertainty_and_the_desk_orders_by_priority(world: dict[str, object]) -> None:
    dataset, critic = world["dataset"], world["critic"]
    assert isinstance(dataset, Dataset)
    assert isinstance(critic, CriticCheckpoint)
    pair = world["pair"]
    assert isinstance(pair, list)
    rng = np.random.default_rng(5)
    CriticVerdict.objects.filter(item__in=pair).delete()
    for item in pair:
        p = rng.dirichlet([0.3, 0.3, 0.3])
        verdict = CriticVerdict.objects.create(item=item, checkpoint=critic, profile="pairwise", status="running",
                                               claim="c")  # fmt: skip
        probabilities = dict(zip(("A", "B", "tie"), p.tolist(), strict=True))
        best = max(probabilities, key=lambda k: probabilities[k])
        result = VerdictResult(
            score=None, preference=best, confidence=max(p), probabilities=probabilities, expected_score=None,
            justification="", raw_output="", forced=False, latency_ms=1.0,
        )  # fmt: skip
        assert verdict_record(verdict_id=verdict.pk, claim="c", result=result)
    stored = dict(CriticVerdict.objects.filter(item__in=pair).values_list("item_id", "uncertainty"))
    one = CriticVerdict.objects.filter(item__in=pair).first()
    assert one is not None
    assert stored[one.item_id] == pytest.approx(planning.verdict_uncertainty(one.probabilities, one.preference))
    newcomer = UserFactory(username="newcomer")
    _held, rows = _candidates(reviewer=newcomer, dataset_id=dataset.pk, order="most-informative",
                              checkpoint_id=critic.pk)  # fmt: skip
    # Only pairwise items have no human verdict from the newcomer and fewer than three reviewers: all are open.
    ids = np.array(sorted(stored))
    keys = planning.priority_keys(ids, np.array([stored[i] for i in ids]))
    open_ids = set(Item.objects.filter(dataset=dataset).values_list("id", flat=True))
    want = [int(i) for i in ids[np.argsort(-keys, kind="stable")] if int(i) in open_ids]
    assert [row[0] for row in rows] == want[: len(rows)]
