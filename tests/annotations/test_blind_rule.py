"""The blind rule, walked everywhere: a reviewer sees nothing of another verdict on an item (the critic's or another
reviewer's) before committing their own — on any page, fragment or API endpoint, with any filter or order the code
accepts. Every verdict, model name and rationale carries a unique marker; a reviewer who has judged nothing must
meet none of them; once they commit on one item, exactly that item's markers appear, and no other's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from annotations import views_metrics
from annotations.api import api
from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, ImportJob, Item
from annotations.selectors.metrics import metric_tables
from annotations.services import review
from annotations.services.tokens import api_token_create
from tests.factories import AdminFactory, ItemFactory, PairwiseItemFactory, UserFactory

pytestmark = pytest.mark.django_db

N_ITEMS = 3
HUMAN_SCORES = (61.37, 62.41, 63.59)  # unusual values, so that finding one in a page means it was shown
CRITIC_SCORES = (37.13, 38.29, 39.47)
# The pages that read query parameters get every query; the others, none and all at once.
PARAMETRIZED = {"dataset-detail", "dataset-metrics", "review-next", "history", "export-new", "item-table"}
ANNOTATIONS = Path(__file__).resolve().parents[2] / "annotations"


@dataclass
class World:
    dataset: Dataset
    items: list[Item]
    critic: CriticCheckpoint
    other: User
    newcomer: User
    job: ImportJob

    def secrets(self, n: int) -> set[str]:
        """What the item's verdicts and hidden fields would give away, each a string found nowhere else."""
        return {
            f"model-alpha-{n}-zq",
            f"model-beta-{n}-zq",
            f"critic-justification-{n}-zq",
            f"other-rationale-{n}-zq",
            str(HUMAN_SCORES[n]),  # the other reviewer's score
            str(CRITIC_SCORES[n]),  # the critic's score
        }

    def all_secrets(self) -> set[str]:
        return set().union(*(self.secrets(n) for n in range(N_ITEMS))) | {self.other.username}


@pytest.fixture
def world() -> World:
    admin = AdminFactory(username="ada")
    critic = CriticCheckpoint.objects.create(name="the-critic", model="/models/tiny", is_active=True)
    other = UserFactory(username="other-reviewer-zq")
    newcomer = UserFactory(username="newcomer")
    first = ItemFactory(model_a="model-alpha-0-zq", external_id="item-0")
    dataset = first.dataset
    dataset.review_overlap = 3
    dataset.save()
    items = [first]
    items.append(ItemFactory(dataset=dataset, model_a="model-alpha-1-zq", external_id="item-1", image=first.image))
    items.append(
        PairwiseItemFactory(
            dataset=dataset,
            model_a="model-alpha-2-zq",
            model_b="model-beta-2-zq",
            external_id="item-2",
            image=first.image,
        )
    )
    for n, item in enumerate(items):
        if n < 2:
            item.model_b = ""  # pointwise: model-beta is planted only where there is a second response
        pairwise = item.kind == "pairwise"
        HumanVerdict.objects.create(
            item=item,
            reviewer=other,
            profile=item.profile,
            score=None if pairwise else HUMAN_SCORES[n],
            preference="B" if pairwise else None,
            rationale=f"other-rationale-{n}-zq",
        )
        CriticVerdict.objects.create(
            item=item,
            checkpoint=critic,
            profile=item.profile,
            status="done",
            score=None if pairwise else CRITIC_SCORES[n],
            preference="A" if pairwise else None,
            confidence=0.625,
            justification=f"critic-justification-{n}-zq",
            raw_output=f"critic-justification-{n}-zq",
        )
    job = ImportJob.objects.create(dataset=dataset, created_by=admin, data_file="x.jsonl", report={"labels": 0})
    return World(dataset, items, critic, other, newcomer, job)


# -- what a reviewer can ask for -----------------------------------------------------------------------------------


def _query_names_read_by_views() -> set[str]:
    """Every query parameter the pages read (request.GET.get("...")), found in the views' source."""
    names: set[str] = set(views_metrics.FILTERS) | {"kind", "split", "q"}  # read in comprehensions
    for path in ANNOTATIONS.glob("views*.py"):
        names |= set(re.findall(r"request\.GET\.get\(\s*\"(\w+)\"", path.read_text()))
    return names


KINDS = ("pointwise", "pairwise")


def page_queries(world: World) -> list[dict[str, str]]:
    """Each filter, order and format with values that would select the judged items, alone and together."""
    other_model = "model-alpha-0-zq"
    queries: list[dict[str, str]] = [{}]
    # Searching part of a hidden model name must not tell which items it wrote (the results are checked apart).
    queries += [{"q": "alpha-0"}, {"q": "model"}, {"q": "zq"}, {"kind": "pairwise"}, {"split": "pool"}, {"page": "1"}]
    queries += [{"dataset": str(world.dataset.pk)}]
    queries += [{"order": order} for order in review.ORDERS]
    metric_filters = {
        "checkpoint": world.critic.name,
        "split": "pool",
        "profile": "pointwise",
        "reviewer": world.other.username,
        "response_model": other_model,
    }
    queries += [{key: value} for key, value in metric_filters.items()]
    queries.append(metric_filters)
    queries += [{"profile": "pairwise", "response_model": "model-alpha-2-zq"}]
    queries += [{"format": "json"}, {"format": "json", **metric_filters}]
    # The item table's filters and sorts, and the desk's part of a dataset (scope=table with the table's filters).
    queries += [{"mine": "unjudged"}, {"mine": "judged"}, {"model": other_model}, {"sort": "confidence"}]
    queries += [{"mine": mine, "model": other_model} for mine in ("", "unjudged", "judged")]
    queries += [{"mine": mine, "critic": "disagree"} for mine in ("", "unjudged", "judged")]
    queries += [{"critic": name} for name in ("disagree", "forced", "failed", "pending", "missing")]
    queries += [{"sort": "-verdicts"}, {"scope": "table", "split": "pool", "q": "item"}, {"scope": "all"}]
    queries += [{"before": str(2**31)}]  # the desk's previous item: one's own verdicts only
    queries += [{"from": "pointwise"}]  # a new profile copied from another (the Profiles pages: administrators)
    charts = ["scatter", "histograms", "leaderboard"] + [f"{c}-{k}" for c in ("reliability", "planning") for k in KINDS]
    queries += [{"chart": chart, "format": "svg", **metric_filters} for chart in charts]  # the charts' downloads
    empty = metric_tables(_empty_metrics())
    queries += [{"table": table, "format": fmt} for table in empty for fmt in ("csv", "json")]
    covered = {key for query in queries for key in query}
    missing = _query_names_read_by_views() - covered
    assert not missing, f"teach the blind-rule test these query parameters: {sorted(missing)}"
    return queries


def _empty_metrics() -> dict[str, Any]:
    from annotations.selectors.metrics import agreement_for_dataset
    from tests.factories import DatasetFactory

    return agreement_for_dataset(dataset=DatasetFactory())


def app_urls(world: World) -> Iterator[tuple[str, str]]:
    """Every GET-able URL of the pages (the admin answers reviewers 403: tests/annotations/test_auth_matrix.py), for
    each object it can name."""
    pks = {
        "dataset": [world.dataset.pk],
        "item": [item.pk for item in world.items],
        "import": [world.job.pk],
    }
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and entry.namespace in {"admin", "api"}:
            continue
        patterns = entry.url_patterns if isinstance(entry, URLResolver) else [entry]
        for pattern in patterns:
            if not isinstance(pattern, URLPattern) or not pattern.name:
                continue
            params = set(pattern.pattern.converters)
            if not params:
                yield pattern.name, reverse(pattern.name)
            elif params == {"sha256"}:
                yield pattern.name, reverse(pattern.name, kwargs={"sha256": world.items[0].image.sha256})
            elif params == {"pk"}:
                kind = pattern.name.split("-")[0]
                if kind == "review" and pattern.name not in ("review-next", "review-previous"):
                    kind = "item"
                if kind == "review" or pattern.name in ("item-table", "item-bulk"):
                    kind = "dataset"
                for pk in pks.get(kind, [1]):  # exports and retraining jobs: administrators only
                    yield pattern.name, reverse(pattern.name, kwargs={"pk": pk})
            elif params == {"uidb64", "token"}:  # a one-time password link: a page with no data either way
                yield pattern.name, reverse(pattern.name, kwargs={"uidb64": "MQ", "token": "no-such-token"})
            else:
                yield pattern.name, reverse(pattern.name, kwargs={p: 1 for p in params})


def api_requests(world: World) -> Iterator[tuple[str, dict[str, str]]]:
    """Every GET operation of the API's OpenAPI document, with each query parameter it declares."""
    schema = api.get_openapi_schema()
    path_values = {
        "dataset_id": world.dataset.pk,
        "import_id": world.job.pk,
        "export_id": 1,
    }
    values = {
        "checkpoint": world.critic.name,
        "split": "pool",
        "profile": "pointwise",
        "reviewer": world.other.username,
        "response_model": "model-alpha-0-zq",
        "offset": "0",
        "limit": "500",
    }
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if get is None:
            continue
        query = [p["name"] for p in get.get("parameters", []) if p["in"] == "query"]
        unknown = set(query) - set(values) - {"name"}
        assert not unknown, f"teach the blind-rule test the API's query parameters {sorted(unknown)}"
        targets = [path]
        if "{item_id}" in path:
            targets = [path.replace("{item_id}", str(item.pk)) for item in world.items]
        for target in targets:
            for name, value in path_values.items():
                target = target.replace("{" + name + "}", str(value))
            yield target, {}
            for name in query:
                yield target, {name: values.get(name, "")}
            yield target, {name: values.get(name, "") for name in query}


def everything_seen(world: World, reviewer: User) -> Iterator[tuple[str, dict[str, str], str]]:
    """(what was asked, its query, what came back) for every page, fragment and endpoint, with every query."""
    client = Client()
    client.force_login(reviewer)
    queries = page_queries(world)
    together = {key: value for query in queries for key, value in query.items()}
    for name, url in app_urls(world):
        for query in queries if name in PARAMETRIZED else [{}, together]:
            for headers in ({}, {"HX-Request": "true"}):
                response = client.get(url, query, headers=headers)
                yield f"GET {url} {query} {headers}", query, _body(response)
    token = api_token_create(user=reviewer)
    for path, query in api_requests(world):
        response = Client().get(path, query, headers={"Authorization": f"Bearer {token}"})
        yield f"GET {path} {query}", query, _body(response)


def _body(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def leaks(world: World, reviewer: User, secrets: set[str]) -> list[str]:
    """Each answer that shows a secret, other than one the reviewer typed into the query (echoed as a filter)."""
    found = []
    for asked, query, body in everything_seen(world, reviewer):
        shown = sorted(s for s in secrets - set(query.values()) if s in body)
        if shown:
            found.append(f"{asked}: {shown}")
    return found


# -- the rule --------------------------------------------------------------------------------------------------------


def test_a_reviewer_who_has_judged_nothing_sees_nothing_of_anyone_elses_verdicts(world: World) -> None:
    # An administrator's metrics and filter options are computed (and cached) first: no cache may serve them on.
    admin = Client()
    admin.force_login(User.objects.get(username="ada"))
    for query in page_queries(world):
        answered = admin.get(reverse("dataset-metrics", args=[world.dataset.pk]), query).status_code
        assert answered in ((200, 404) if "chart" in query else (200,))  # 404: a chart with nothing to draw
    warmed = admin.get(reverse("dataset-metrics", args=[world.dataset.pk]), {"format": "json"}).json()
    assert warmed["view"] == {"scope": "all", "items": N_ITEMS}
    found = leaks(world, world.newcomer, world.all_secrets())
    assert not found, "\n".join(found[:20])
    client = Client()
    client.force_login(world.newcomer)
    searched = client.get(reverse("dataset-detail", args=[world.dataset.pk]), {"q": "alpha-0"}).content.decode()
    assert "0 items" in searched  # a model name the reviewer cannot see finds nothing
    token = api_token_create(user=world.newcomer)
    metrics = (
        Client().get(f"/api/datasets/{world.dataset.pk}/metrics", headers={"Authorization": f"Bearer {token}"}).json()
    )
    assert metrics["view"] == {"scope": "judged", "items": 0}
    assert metrics["counts"] == {"critic_verdicts": 0, "human_verdicts": 0, "swap_checks": 0}
    assert sum(metrics["pointwise"]["histogram"]["human"] + metrics["pointwise"]["histogram"]["critic"]) == 0
    assert sum(map(sum, metrics["pairwise"]["confusion_matrix"]["counts"])) == 0


def test_after_committing_on_one_item_exactly_that_items_verdicts_show(world: World) -> None:
    client = Client()
    client.force_login(world.newcomer)
    first = world.items[0]
    desk = client.get(reverse("review-next", args=[world.dataset.pk])).content.decode()
    assert reverse("review-submit", args=[first.pk]) in desk
    assert "model-alpha-0-zq" not in desk  # the desk itself is blind
    assert client.post(reverse("review-submit", args=[first.pk]), {"score": "12"}).status_code == 302

    item_page = client.get(reverse("item-detail", args=[first.pk])).content.decode()
    assert world.secrets(0) - {"model-beta-0-zq"} <= {s for s in world.secrets(0) if s in item_page}
    token = api_token_create(user=world.newcomer)
    auth = {"Authorization": f"Bearer {token}"}
    api_item = Client().get(f"/api/items/{first.pk}", headers=auth).json()
    assert api_item["model_a"] == "model-alpha-0-zq"
    assert {v["justification"] for v in api_item["critic_verdicts"]} == {"critic-justification-0-zq"}
    metrics = Client().get(f"/api/datasets/{world.dataset.pk}/metrics", headers=auth).json()
    assert metrics["view"] == {"scope": "judged", "items": 1}
    assert metrics["counts"] == {"critic_verdicts": 1, "human_verdicts": 2, "swap_checks": 0}

    still_hidden = world.secrets(1) | world.secrets(2)
    found = leaks(world, world.newcomer, still_hidden)
    assert not found, "\n".join(found[:20])


def test_administrators_see_every_verdict(world: World) -> None:
    admin = User.objects.get(username="ada")
    client = Client()
    client.force_login(admin)
    for n, item in enumerate(world.items):
        page = client.get(reverse("item-detail", args=[item.pk])).content.decode()
        assert f"critic-justification-{n}-zq" in page
        assert f"other-rationale-{n}-zq" in page
        assert f"model-alpha-{n}-zq" in page
    metrics = client.get(reverse("dataset-metrics", args=[world.dataset.pk]), {"format": "json"}).json()
    assert metrics["view"] == {"scope": "all", "items": N_ITEMS}
