"""The item page's "What the critic saw": administrators see the pictures and the prompt each checkpoint's worker
recorded; nobody else sees the section."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from annotations.models import CriticVerdict
from annotations.services import judging
from tests.factories import CheckpointFactory, ItemFactory

pytestmark = pytest.mark.django_db

PROMPT = "<|im_start|>user\n<image>\nIs <b>this</b> right?<|im_end|>\n<|im_start|>assistant\n"


def test_an_administrator_sees_the_recorded_prompt_escaped_and_the_picture(admin_client: Client) -> None:
    item = ItemFactory()
    checkpoint = CheckpointFactory(name="tiny [none]")
    other = CheckpointFactory(name="waiting [nf4]")
    CriticVerdict.objects.create(
        item=item, checkpoint=checkpoint, profile=item.profile, status="done", score=50, prompt=PROMPT
    )
    CriticVerdict.objects.create(item=item, checkpoint=other, profile=item.profile)
    page = admin_client.get(reverse("item-detail", args=[item.pk])).content.decode()
    assert "What the critic saw" in page
    section = page[page.index('id="critic-saw"') :]
    assert "Is &lt;b&gt;this&lt;/b&gt; right?" in section  # the exact text, escaped
    assert "&lt;|im_start|&gt;assistant" in section
    assert reverse("image-file", args=[item.image.sha256]) in section
    assert "image-1.png" in section
    assert "Prompt given to <code>waiting [nf4]</code>" in section
    assert "No prompt recorded yet (verdict queued)" in section


def test_the_section_says_when_no_critic_has_judged_the_item(admin_client: Client) -> None:
    item = ItemFactory()
    page = admin_client.get(reverse("item-detail", args=[item.pk])).content.decode()
    assert "No prompt recorded yet: no critic has judged this item." in page


def test_reviewers_never_see_it(reviewer_client: Client) -> None:
    item = ItemFactory()
    CriticVerdict.objects.create(
        item=item, checkpoint=CheckpointFactory(), profile=item.profile, status="done", score=50, prompt=PROMPT
    )
    page = reviewer_client.get(reverse("item-detail", args=[item.pk])).content.decode()
    assert "What the critic saw" not in page
    assert "Is &lt;b&gt;this&lt;/b&gt; right?" not in page


def test_a_requeued_verdict_forgets_its_old_prompt() -> None:
    item = ItemFactory()
    checkpoint = CheckpointFactory()
    CriticVerdict.objects.create(
        item=item, checkpoint=checkpoint, profile=item.profile, status="done", score=50, prompt=PROMPT
    )
    judging.verdicts_queue(dataset=item.dataset, checkpoint=checkpoint, only_missing=False)
    assert CriticVerdict.objects.get().prompt == ""
