"""The metrics selector, `critic_metrics`, the API endpoint and the dashboard, on a small dataset whose expected
figures are computed here with scipy and scikit-learn."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from io import StringIO
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from scipy import stats as sps
from sklearn.metrics import accuracy_score, cohen_kappa_score

from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, Item
from annotations.selectors.metrics import agreement_for_dataset, metric_filter_options
from annotations.services.tokens import api_token_create
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, PairwiseItemFactory, UserFactory

pytestmark = pytest.mark.django_db

POINTWISE_KEYS = {"n", "pearson", "spearman", "kendall_tau", "mae", "model_level_kendall_tau"}
PAIRWISE_KEYS = {"n", "n_without_tie", "accuracy_with_tie", "accuracy_without_tie", "cohen_kappa"}
MODELS = ["llava-7b", "gpt-4v", "qwen-vl", "cogvlm"]
HUMAN_SCORES = [80, 20, 55, 90, 35, 60, 10, 75, 45, 95, 30, 65]
CRITIC_SCORES = [70, 30, 50, 95, 20, 70, 15, 60, 55, 85, 40, 50]
SECOND_SCORES = [85, 25, 50, 80, 30, 55]  # a second reviewer on the first six
HUMAN_PREFS = ["A", "B", "A", "tie", "B", "A", "A", "B", "tie", "A", "B", "A"]
CRITIC_PREFS = ["A", "B", "B", "tie", "B", "A", "tie", "B", "A", "A", "A", "A"]
GPT_PREFS = HUMAN_PREFS  # the external judge agrees with rita everywhere
SWAPPED_PREFS = {0: "A", 1: "A", 2: "B", 3: "A"}  # items 1 and 3 flip with the order


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    """Results are cached across requests: each test starts without them."""
    cache.clear()


@dataclass
class Scene:
    dataset: Dataset
    critic: CriticCheckpoint
    gpt: CriticCheckpoint
    pointwise: list[Item]
    pairwise: list[Item]


@pytest.fixture
def scene() -> Scene:
    dataset = DatasetFactory(name="arena", review_overlap=2)
    critic = CheckpointFactory(name="llava-critic-7b [nf4]", is_active=True)
    gpt = CriticCheckpoint.objects.create(name="gpt-4o", is_external=True)
    rita, sam = UserFactory(username="rita"), UserFactory(username="sam")
    first = ItemFactory(dataset=dataset, external_id="p0", model_a=MODELS[0])
    pointwise = [first] + [
        ItemFactory(
            dataset=dataset,
            external_id=f"p{i}",
            image=first.image,
            model_a=MODELS[i % 4],
            split="gold" if i % 3 == 0 else "pool",
        )
        for i in range(1, 12)
    ]
    pairwise = [
        PairwiseItemFactory(
            dataset=dataset, external_id=f"w{i}", image=first.image, model_a=MODELS[i % 4], model_b=MODELS[(i + 1) % 4]
        )
        for i in range(12)
    ]
    now = timezone.now()
    for i, item in enumerate(pointwise):
        CriticVerdict.objects.create(
            item=item,
            checkpoint=critic,
            profile="pointwise",
            status="done",
            score=CRITIC_SCORES[i],
            confidence=0.05 + 0.07 * i,
        )
        HumanVerdict.objects.create(item=item, reviewer=rita, profile="pointwise", score=HUMAN_SCORES[i])
        if i < 6:
            HumanVerdict.objects.create(item=item, reviewer=sam, profile="pointwise", score=SECOND_SCORES[i])
    for i, item in enumerate(pairwise):
        CriticVerdict.objects.create(
            item=item,
            checkpoint=critic,
            profile="pairwise",
            status="done",
            preference=CRITIC_PREFS[i],
            confidence=0.4 + 0.05 * i,
        )
        CriticVerdict.objects.create(
            item=item, checkpoint=gpt, profile="pairwise", status="done", preference=GPT_PREFS[i]
        )
        HumanVerdict.objects.create(item=item, reviewer=rita, profile="pairwise", preference=HUMAN_PREFS[i])
        if i in SWAPPED_PREFS:
            CriticVerdict.objects.create(
                item=item,
                checkpoint=critic,
                profile="pairwise",
                status="done",
                preference=SWAPPED_PREFS[i],
                probe="swap",
            )
    # rita changed her mind twice after the reveal: once to the critic's preference, once away from it.
    HumanVerdict.objects.filter(item=pairwise[2], reviewer=rita).update(revised_preference="B", revised_at=now)
    HumanVerdict.objects.filter(item=pairwise[6], reviewer=rita).update(revised_preference="B", revised_at=now)
    return Scene(dataset=dataset, critic=critic, gpt=gpt, pointwise=pointwise, pairwise=pairwise)


def score_pairs() -> tuple[list[float], list[float]]:
    human = HUMAN_SCORES + SECOND_SCORES
    critic = CRITIC_SCORES + CRITIC_SCORES[:6]
    return [float(x) for x in human], [float(x) for x in critic]


def test_agreement_matches_scipy_and_sklearn_with_one_pair_per_human_verdict(scene: Scene) -> None:
    m = agreement_for_dataset(dataset=scene.dataset)
    assert m["checkpoint"]["name"] == "llava-critic-7b [nf4]"  # the active one by default
    assert set(m["pointwise"]) >= POINTWISE_KEYS
    assert set(m["pairwise"]) >= PAIRWISE_KEYS
    assert set(m["reviewers"]) == {"pointwise", "pairwise"}
    h, c = score_pairs()
    assert m["pointwise"]["n"] == 18
    assert m["pointwise"]["pearson"]["value"] == pytest.approx(sps.pearsonr(h, c).statistic)
    assert m["pointwise"]["spearman"]["value"] == pytest.approx(sps.spearmanr(h, c).statistic)
    assert m["pointwise"]["kendall_tau"]["value"] == pytest.approx(sps.kendalltau(h, c).statistic)
    assert m["pointwise"]["mae"]["value"] == pytest.approx(sum(abs(a - b) for a, b in zip(h, c, strict=True)) / 18)
    lo, hi = m["pointwise"]["pearson"]["ci95"]
    assert lo <= m["pointwise"]["pearson"]["value"] <= hi
    assert m["pairwise"]["n"] == 12
    assert m["pairwise"]["accuracy_with_tie"]["value"] == pytest.approx(accuracy_score(HUMAN_PREFS, CRITIC_PREFS))
    assert m["pairwise"]["cohen_kappa"]["value"] == pytest.approx(cohen_kappa_score(HUMAN_PREFS, CRITIC_PREFS))
    assert m["reviewers"]["pointwise"]["krippendorff_alpha"]["n"] == 6
    assert m["reviewers"]["pairwise"]["krippendorff_alpha"]["value"] is None  # one reviewer per pairwise item
    assert json.loads(json.dumps(m)) == m  # plain JSON, no NaN


def test_swap_checks_measure_position_bias_and_never_count_as_the_critics_verdict(scene: Scene) -> None:
    m = agreement_for_dataset(dataset=scene.dataset)
    assert m["position_bias"]["n"] == 4
    flips = [CRITIC_PREFS[i] != p for i, p in SWAPPED_PREFS.items()]
    assert m["position_bias"]["flip_rate"]["value"] == pytest.approx(sum(flips) / 4)
    # Changing a swapped verdict changes the flip rate but not the agreement.
    CriticVerdict.objects.filter(probe="swap").update(preference="tie", finished_at=timezone.now())  # re-judged
    again = agreement_for_dataset(dataset=scene.dataset)
    assert again["pairwise"] == m["pairwise"]
    assert again["position_bias"]["flip_rate"]["value"] != m["position_bias"]["flip_rate"]["value"]


def test_an_external_judge_is_measured_the_same_way(scene: Scene) -> None:
    m = agreement_for_dataset(dataset=scene.dataset, checkpoint=scene.gpt)
    assert m["checkpoint"]["is_external"] is True
    assert m["pairwise"]["accuracy_with_tie"]["value"] == 1.0
    assert m["pointwise"]["n"] == 0
    assert m["pointwise"]["pearson"]["value"] is None


def test_filters(scene: Scene) -> None:
    gold = agreement_for_dataset(dataset=scene.dataset, split="gold")
    assert gold["pointwise"]["n"] == 3 + 1  # p3, p6, p9, and sam on p3
    assert gold["pairwise"]["n"] == 0
    only_pairwise = agreement_for_dataset(dataset=scene.dataset, profile="pairwise")
    assert only_pairwise["pointwise"]["n"] == 0
    assert only_pairwise["pairwise"]["n"] == 12
    sam = agreement_for_dataset(dataset=scene.dataset, reviewer="sam")
    assert sam["pointwise"]["n"] == 6
    assert sam["pairwise"]["n"] == 0
    assert sam["reviewers"]["pointwise"]["krippendorff_alpha"]["n"] == 6  # the items sam shares with others
    model = agreement_for_dataset(dataset=scene.dataset, response_model="cogvlm")
    assert model["pointwise"]["n"] == 3 + 1  # p3, p7, p11 and sam on p3
    assert model["pairwise"]["n"] == 6  # cogvlm wrote A or B in half of the pairwise items


def test_anchoring_and_leaderboards(scene: Scene) -> None:
    m = agreement_for_dataset(dataset=scene.dataset)
    assert m["anchoring"]["n"] == 30
    assert m["anchoring"]["revision_rate"]["value"] == pytest.approx(2 / 30)
    assert m["anchoring"]["toward_critic_rate"]["value"] == pytest.approx(1 / 2)  # w2 to the critic, w6 away
    for judge in ("human", "critic"):
        board = m["leaderboard"][judge]
        assert sorted(row["model"] for row in board["models"]) == sorted(MODELS)
        assert [row["rank"] for row in board["models"]] == [1, 2, 3, 4]
    assert m["leaderboard"]["kendall_tau"]["n"] == 4


def test_the_result_is_cached_until_a_verdict_changes(scene: Scene, django_assert_max_num_queries: Any) -> None:
    first = agreement_for_dataset(dataset=scene.dataset)
    with django_assert_max_num_queries(3):  # the fingerprint only
        assert agreement_for_dataset(dataset=scene.dataset) == first
    HumanVerdict.objects.filter(item=scene.pointwise[0], reviewer__username="rita").update(score=0)
    CriticVerdict.objects.filter(item=scene.pointwise[0], checkpoint=scene.critic).update(finished_at=timezone.now())
    assert agreement_for_dataset(dataset=scene.dataset)["pointwise"] != first["pointwise"]


@pytest.mark.parametrize("every", [2, 3], ids=["ids dense enough for a range", "ids too sparse"])
def test_datasets_whose_items_interleave_are_measured_apart(every: int) -> None:
    """Items imported into several datasets at once interleave their ids: each dataset's figures come from its own
    verdicts only, and a new verdict in one is seen at once, whichever way the verdicts are read."""
    ours, theirs = DatasetFactory(name="ours"), DatasetFactory(name="theirs")
    critic = CheckpointFactory(is_active=True)
    rita = UserFactory(username="rita")
    mine: list[Item] = []
    for i in range(8 * every):
        dataset = ours if i % every == 0 else theirs
        item = ItemFactory(dataset=dataset, external_id=f"p{i}")
        human, judged = (HUMAN_SCORES[len(mine)], CRITIC_SCORES[len(mine)]) if dataset == ours else (100, 0)
        CriticVerdict.objects.create(item=item, checkpoint=critic, profile="pointwise", status="done", score=judged)
        HumanVerdict.objects.create(item=item, reviewer=rita, profile="pointwise", score=human)
        if dataset == ours:
            mine.append(item)
    got = agreement_for_dataset(dataset=ours)["pointwise"]
    human, judged = [float(x) for x in HUMAN_SCORES[:8]], [float(x) for x in CRITIC_SCORES[:8]]
    assert got["n"] == 8
    assert got["pearson"]["value"] == pytest.approx(sps.pearsonr(human, judged).statistic)
    assert got["mae"]["value"] == pytest.approx(sum(abs(a - b) for a, b in zip(human, judged, strict=True)) / 8)
    extra = ItemFactory(dataset=ours, external_id="late")
    CriticVerdict.objects.create(item=extra, checkpoint=critic, profile="pointwise", status="done", score=50)
    HumanVerdict.objects.create(item=extra, reviewer=rita, profile="pointwise", score=50)
    assert agreement_for_dataset(dataset=ours)["pointwise"]["n"] == 9


def test_no_data_is_undefined_everywhere_never_a_crash() -> None:
    dataset = DatasetFactory()
    m = agreement_for_dataset(dataset=dataset)
    assert m["checkpoint"] is None
    assert m["pointwise"]["pearson"] == {"value": None, "ci95": None, "n": 0, "reason": "no pairs"}
    assert m["pairwise"]["accuracy_with_tie"]["value"] is None
    assert m["leaderboard"]["human"]["models"] == []


# -- the command ------------------------------------------------------------------------------------------------


def test_critic_metrics_json_has_the_contract_keys(scene: Scene) -> None:
    out = StringIO()
    call_command("critic_metrics", "--dataset", "arena", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert set(data["pointwise"]) >= POINTWISE_KEYS
    assert set(data["pairwise"]) >= PAIRWISE_KEYS
    assert "krippendorff_alpha" in data["reviewers"]["pointwise"]
    for key in POINTWISE_KEYS - {"n"}:
        assert {"value", "ci95", "n"} <= set(data["pointwise"][key])
    assert data["pairwise"] == agreement_for_dataset(dataset=scene.dataset)["pairwise"]
    out = StringIO()
    call_command("critic_metrics", "--dataset", "arena", "--checkpoint", "gpt-4o", stdout=out)
    text = out.getvalue()
    assert "accuracy_with_tie" in text
    assert "1.000" in text
    assert "— (no pairs)" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "nope"], "No dataset named 'nope'"),
        (["--dataset", "arena", "--checkpoint", "ghost"], "No checkpoint named 'ghost'"),
    ],
)
def test_critic_metrics_explains_what_is_wrong(scene: Scene, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("critic_metrics", *args)


def test_critic_metrics_without_any_critic_shows_the_reviewers_agreement(scene: Scene) -> None:
    CriticCheckpoint.objects.update(is_active=False)
    out = StringIO()
    call_command("critic_metrics", "--dataset", "arena", stdout=out)
    text = out.getvalue()
    assert "critic none" in text
    assert "krippendorff_alpha" in text
    assert "human ceiling" in text
    out = StringIO()
    call_command("critic_metrics", "--dataset", "arena", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["checkpoint"] is None
    ceiling = data["trust"]["human_ceiling"]["pointwise"]
    assert ceiling["overall"]["human"]["n"] > 0  # the reviewers agree with each other without any critic
    assert ceiling["overall"]["critic"]["value"] is None


# -- the API ----------------------------------------------------------------------------------------------------


def test_the_api_returns_the_same_json(scene: Scene) -> None:
    """An administrator's API metrics are the command's (all items); a reviewer who judged nothing gets none."""
    token = api_token_create(user=UserFactory(username="api-reader", is_staff=True))
    url = f"/api/datasets/{scene.dataset.pk}/metrics"
    assert Client().get(url).status_code == 401
    response = Client().get(url + "?checkpoint=gpt-4o", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(agreement_for_dataset(dataset=scene.dataset, checkpoint=scene.gpt)))
    assert response.json()["view"]["scope"] == "all"
    blind = {"Authorization": f"Bearer {api_token_create(user=UserFactory(username='api-newcomer'))}"}
    mine = Client().get(url, headers=blind).json()
    assert mine["view"] == {"scope": "judged", "items": 0}
    assert mine["counts"] == {"critic_verdicts": 0, "human_verdicts": 0, "swap_checks": 0}
    # An external judge with no verdict on an item they judged is not one a reviewer is told of (test_attack_blind2).
    assert Client().get(url + "?checkpoint=gpt-4o", headers=blind).status_code == 404
    bad = Client().get(url + "?checkpoint=ghost", headers={"Authorization": f"Bearer {token}"})
    assert bad.status_code == 404  # no such checkpoint (documented)
    assert "ghost" in bad.content.decode()
    bad_split = Client().get(url + "?split=train", headers={"Authorization": f"Bearer {token}"})
    assert bad_split.status_code == 422
    assert "'pool' or 'gold'" in bad_split.content.decode()  # the schema names the splits


def test_the_api_swap_check_is_for_administrators(scene: Scene, settings: Any) -> None:
    reviewer_token = api_token_create(user=UserFactory(username="api-reviewer"))
    admin_token = api_token_create(user=UserFactory(username="api-admin", is_staff=True))
    url = f"/api/datasets/{scene.dataset.pk}/swap-check"
    assert Client().post(url, headers={"Authorization": f"Bearer {reviewer_token}"}).status_code == 403
    response = Client().post(url, headers={"Authorization": f"Bearer {admin_token}"})
    assert response.status_code == 202
    assert response.json() == {"checkpoint": "llava-critic-7b [nf4]", "queued": 8}  # 4 of 12 had one already
    refused = Client().post(url + "?checkpoint=gpt-4o", headers={"Authorization": f"Bearer {admin_token}"})
    assert refused.status_code == 409  # an external judge cannot be asked again (a documented refusal)


# -- the dashboard ----------------------------------------------------------------------------------------------


def test_the_dashboard_shows_every_figure_and_plot(scene: Scene, reviewer_client: Client) -> None:
    response = reviewer_client.get(reverse("dataset-metrics", args=[scene.dataset.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("Pearson r", "Cohen", "Krippendorff", "Position bias", "Revised after the reveal", "Leaderboard"):
        assert text in html
    # The scene's models play fewer than ten games each: their ratings come without an interval, saying why.
    assert "no interval: n = " in html
    for svg in ('class="chart scatter"', 'class="chart histograms"', 'class="chart reliability"'):
        assert svg in html
    assert 'class="heat"' in html
    pearson = agreement_for_dataset(dataset=scene.dataset)["pointwise"]["pearson"]
    assert f"{pearson['value']:.3f}" in html
    assert "nan" not in html.lower().replace("nanos", "")


def test_a_cold_dashboard_reads_the_items_once(scene: Scene, admin_client: Client) -> None:
    """The filter lists, the fingerprint and the metrics all start from the dataset's items: one scan of them per
    view (three, each ~60 ms at 100k items, before), with the same page as a view that reads them apart."""
    url = reverse("dataset-metrics", args=[scene.dataset.pk])
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(url)
    assert response.status_code == 200
    reads = [q["sql"] for q in queries.captured_queries if re.search(r'FROM "?annotations_item"? ', q["sql"])]
    assert len(reads) == 1, reads
    options = metric_filter_options(dataset=scene.dataset)  # read apart: the same lists
    assert options["response_models"] == sorted(MODELS)
    assert options["profiles"] == ["pairwise", "pointwise"]
    cache.clear()
    assert metric_filter_options(dataset=scene.dataset) == options


def test_the_dashboard_with_no_data_shows_dashes_and_reasons(reviewer_client: Client) -> None:
    dataset = DatasetFactory()
    html = reviewer_client.get(reverse("dataset-metrics", args=[dataset.pk])).content.decode()
    assert "—" in html
    assert "no pairs" in html
    assert "No pointwise item has both" in html


def test_the_filters_swap_only_the_body_for_htmx(scene: Scene, reviewer_client: Client) -> None:
    url = reverse("dataset-metrics", args=[scene.dataset.pk])
    response = reviewer_client.get(url, {"checkpoint": "gpt-4o"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="metrics-body">')
    assert "gpt-4o" in html
    assert "<form" not in html
    full = reviewer_client.get(url, {"checkpoint": "gpt-4o"}).content.decode()
    assert '<option value="gpt-4o" selected>' in full


def test_bad_filters_are_refused_with_the_reason(scene: Scene, reviewer_client: Client) -> None:
    url = reverse("dataset-metrics", args=[scene.dataset.pk])
    response = reviewer_client.get(url, {"checkpoint": "ghost"})
    assert response.status_code == 400
    assert "No checkpoint named" in response.content.decode()
    assert reviewer_client.get(url, {"split": "train"}).status_code == 400
    assert reviewer_client.get(url, {"table": "nope", "format": "csv"}).status_code == 400


def test_every_table_downloads_as_csv_and_json(scene: Scene, reviewer_client: Client) -> None:
    url = reverse("dataset-metrics", args=[scene.dataset.pk])
    for table in ("statistics", "confusion", "reliability", "leaderboard", "models", "histogram"):
        as_csv = reviewer_client.get(url, {"table": table, "format": "csv"})
        assert as_csv.status_code == 200
        assert as_csv["Content-Type"].startswith("text/csv")
        assert "attachment" in as_csv["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
        as_json = reviewer_client.get(url, {"table": table, "format": "json"}).json()
        assert len(rows) == len(as_json) > 0
    statistics = reviewer_client.get(url, {"table": "statistics", "format": "json"}).json()
    pearson = next(r for r in statistics if r["section"] == "pointwise" and r["statistic"] == "pearson")
    assert pearson["value"] == pytest.approx(
        agreement_for_dataset(dataset=scene.dataset)["pointwise"]["pearson"]["value"]
    )
    everything = reviewer_client.get(url, {"format": "json"}).json()
    assert set(everything["pointwise"]) >= POINTWISE_KEYS


def test_the_dashboard_needs_a_login(scene: Scene) -> None:
    response = Client().get(reverse("dataset-metrics", args=[scene.dataset.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_dataset_page_links_the_dashboard_and_offers_admins_the_swap_check(
    scene: Scene, reviewer_client: Client, admin_client: Client
) -> None:
    page = reverse("dataset-detail", args=[scene.dataset.pk])
    assert reverse("dataset-metrics", args=[scene.dataset.pk]) in reviewer_client.get(page).content.decode()
    assert "swap check" not in reviewer_client.get(page).content.decode()
    assert "swap check" in admin_client.get(page).content.decode()


def test_download_links_keep_the_filters_encoded(scene: Scene, reviewer_client: Client) -> None:
    Item.objects.filter(pk=scene.pairwise[0].pk).update(model_a="gpt & co=1")
    url = reverse("dataset-metrics", args=[scene.dataset.pk])
    html = reviewer_client.get(url, {"response_model": "gpt & co=1"}).content.decode()
    assert "response_model=gpt+%26+co%3D1&amp;table=statistics&amp;format=csv" in html


def test_csv_downloads_keep_formula_like_names_as_text(scene: Scene, reviewer_client: Client) -> None:
    Item.objects.filter(dataset=scene.dataset, kind="pointwise", model_a="cogvlm").update(model_a="=HYPERLINK(1)")
    url = reverse("dataset-metrics", args=[scene.dataset.pk])
    text = reviewer_client.get(url, {"table": "models", "format": "csv"}).content.decode()
    assert "'=HYPERLINK(1)" in text
    assert "\n=HYPERLINK" not in text
