"""What a fresh user read wrong on the pages: a command line that would not run as shown, an external judge's
quantization, a verdict as "5.0", "pointwise · pointwise", model names hidden from the person who typed them, an
export named with characters a file name cannot hold, "Queued 0 items" without a reason, and an import's wording."""

from __future__ import annotations

import html
import shlex
from email.message import Message

import pytest
from django.urls import reverse

from annotations.models import CriticVerdict, HumanVerdict
from annotations.services.import_report import ImportReport
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_critic_input_command_on_the_item_page_is_shell_quoted(admin_client) -> None:  # type: ignore[no-untyped-def]
    item = ItemFactory(dataset=DatasetFactory(name="Demo: shapes, counts"), external_id="upload 1")
    page = html.unescape(admin_client.get(reverse("item-detail", args=[item.pk])).content.decode())
    assert "manage.py critic_input --dataset 'Demo: shapes, counts' --item 'upload 1' --out DIR" in page
    assert shlex.split("--dataset 'Demo: shapes, counts'") == ["--dataset", "Demo: shapes, counts"]


def test_an_external_judge_has_no_quantization(admin_client) -> None:  # type: ignore[no-untyped-def]
    judge = CheckpointFactory(name="gpt-4o", model="", is_external=True, quantization="nf4")
    listing = admin_client.get(reverse("checkpoint-list")).content.decode()
    row = listing[listing.index("gpt-4o") :].split("</tr>")[0]
    assert "<td>—</td>" in row
    assert "nf4" not in row
    detail = admin_client.get(reverse("checkpoint-detail", args=[judge.pk])).content.decode()
    assert "nf4" not in detail.split("Drift audits")[0]


def test_the_item_page_shows_verdicts_as_other_pages_do_and_the_kind_once(admin_client, admin) -> None:  # type: ignore[no-untyped-def]
    item = ItemFactory()
    HumanVerdict.objects.create(item=item, reviewer=admin, profile=item.profile, score=5.0)
    CriticVerdict.objects.create(
        item=item, checkpoint=CheckpointFactory(), profile=item.profile, status="done", score=7.0
    )
    page = admin_client.get(reverse("item-detail", args=[item.pk])).content.decode()
    assert "5.0" not in page
    assert "7.0" not in page
    assert "pointwise · <code>pointwise</code>" not in page


def test_the_uploader_like_everyone_sees_the_model_names_only_after_judging(client) -> None:  # type: ignore[no-untyped-def]
    """The desk hides the response models until a reviewer commits, so every page does, from the uploader too."""
    uploader = UserFactory(username="uma")
    item = ItemFactory(model_a="secret-model-7b", created_by=uploader)
    url = reverse("item-detail", args=[item.pk])
    client.force_login(uploader)
    page = client.get(url).content.decode()
    assert "secret-model-7b" not in page
    assert "model hidden until you judge" in page
    HumanVerdict.objects.create(item=item, reviewer=uploader, profile=item.profile, score=3)
    assert "secret-model-7b" in client.get(url).content.decode()


def test_the_selection_export_is_named_with_what_a_file_name_can_hold(admin_client) -> None:  # type: ignore[no-untyped-def]
    dataset = DatasetFactory(name="Demo: shapes, counts and charts")
    ItemFactory(dataset=dataset)
    response = admin_client.post(reverse("item-bulk", args=[dataset.pk]), {"all": "1", "action": "export"})
    header = Message()
    header["Content-Disposition"] = response["Content-Disposition"]
    assert header.get_filename() == "Demo shapes, counts and charts-items.zip"


def test_sending_judged_items_to_the_critic_says_why_none_was_queued(admin_client) -> None:  # type: ignore[no-untyped-def]
    critic = CheckpointFactory(name="tiny-critic", is_active=True)
    dataset = DatasetFactory(name="Demo: shapes")
    for _ in range(3):
        item = ItemFactory(dataset=dataset)
        CriticVerdict.objects.create(item=item, checkpoint=critic, profile=item.profile, status="done", score=50)
    response = admin_client.post(reverse("item-bulk", args=[dataset.pk]), {"all": "1", "action": "judge"}, follow=True)
    message = next(str(m) for m in response.context["messages"])
    assert "Queued 0 items for the critic." in message
    assert "3 already have a verdict from tiny-critic" in message
    assert "manage.py judge --dataset 'Demo: shapes'" in message


def test_the_import_report_counts_in_plain_words() -> None:
    report = ImportReport(rows=1)
    report.add(1, "judge_score", "85 is outside the profile's range 1-5")
    assert report.summary() == "Nothing was imported: 1 problem in 1 row"
    done = ImportReport(rows=6, created=6, labels=1, judge_verdicts=1)
    for kind in ("pairwise", "pointwise"):
        for _ in range(3):
            done.count_item(kind, kind)
    done.count_item("pointwise", "caption")
    summary = done.summary()
    assert "(3 pairwise, 3 pointwise, 1 pointwise (caption))" in summary
    assert "1 human label;" in summary
    assert "1 external verdict (" in summary


def test_the_embedded_broker_names_a_host_so_kombu_does_not_warn(caplog) -> None:  # type: ignore[no-untyped-def]
    from kombu import Connection

    from webapp.settings import base

    with caplog.at_level("WARNING", logger="kombu.connection"):
        Connection(base.EMBEDDED_BROKER_URL).as_uri()
    assert "No hostname was supplied" not in caplog.text


def test_the_dataset_form_says_what_the_disagreement_threshold_means_on_a_short_scale(admin_client) -> None:  # type: ignore[no-untyped-def]
    """On a 1-5 rubric the default 0.1 makes any one-point difference a disagreement: the form says so."""
    page = html.unescape(admin_client.get(reverse("dataset-new")).content.decode())
    assert "on a 1-5 scale (a range of 4) any difference of a point; 0.25 lets one point on 1-5 pass" in page
