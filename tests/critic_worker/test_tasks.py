"""The judging task, called in this process (the integration tests run it in a real worker)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from annotations.models import CriticVerdict, Image
from annotations.services import judging
from annotations.services.images import image_check, image_store
from critic_worker import tasks
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, PairwiseItemFactory
from tests.images import png_bytes

pytestmark = pytest.mark.django_db


def stored_image(colour: tuple[int, int, int]):  # type: ignore[no-untyped-def]
    return image_store(checked=image_check(data=png_bytes(colour=colour)))[0]


@pytest.fixture
def checkpoint(tiny_critic: Path, settings):  # type: ignore[no-untyped-def]
    settings.CRITIC_MAX_NEW_TOKENS = 8
    settings.CRITIC_DEVICE = "cpu"
    return CheckpointFactory(model=str(tiny_critic), quantization="nf4", is_active=True)


def test_a_batch_is_judged_and_recorded(checkpoint) -> None:  # type: ignore[no-untyped-def]
    dataset = DatasetFactory()
    ItemFactory(dataset=dataset)
    PairwiseItemFactory(dataset=dataset)
    judging.verdicts_queue(dataset=dataset, checkpoint=checkpoint)
    ids = list(CriticVerdict.objects.values_list("pk", flat=True))
    outcome = tasks.judge_batch(ids)
    assert outcome == {"claimed": 2, "done": 2, "failed": 0}
    for verdict in CriticVerdict.objects.all():
        assert verdict.status == "done"
        assert (verdict.score is None) != (verdict.preference is None)
        assert math.isclose(sum(verdict.probabilities.values()), 1.0, abs_tol=1e-4)
        assert verdict.worker
        assert verdict.latency_ms > 0
    assert tasks.judge_batch(ids) == {"claimed": 0, "done": 0, "failed": 0}  # a repeated message is a no-op


def test_an_image_that_cannot_be_read_fails_with_its_reason(checkpoint) -> None:  # type: ignore[no-untyped-def]
    dataset = DatasetFactory()
    damaged = ItemFactory(dataset=dataset, image=stored_image((1, 2, 3)))
    missing = ItemFactory(dataset=dataset, image=stored_image((4, 5, 6)))
    fine = ItemFactory(dataset=dataset, image=stored_image((7, 8, 9)))
    no_rendition = ItemFactory(dataset=dataset, image=stored_image((10, 11, 12)))
    # The critic reads the rendition, never the original: damage that one.
    Path(damaged.image.normalized.path).write_bytes(b"damaged on disk")
    Path(missing.image.normalized.path).unlink()
    Image.objects.filter(pk=no_rendition.image_id).update(normalized="")
    Path(fine.image.file.path).unlink()  # the original is not needed to judge
    judging.verdicts_queue(dataset=dataset, checkpoint=checkpoint)
    outcome = tasks.judge_batch(list(CriticVerdict.objects.values_list("pk", flat=True)))
    assert outcome == {"claimed": 4, "done": 1, "failed": 3}
    by_item = {v.item_id: v for v in CriticVerdict.objects.all()}
    assert by_item[damaged.pk].status == "failed"
    assert "unreadable image" in by_item[damaged.pk].error
    assert by_item[missing.pk].status == "failed"
    assert "No such file" in by_item[missing.pk].error
    assert by_item[fine.pk].status == "done"
    assert "no normalised rendition" in by_item[no_rendition.pk].error


def test_the_web_process_never_imports_torch() -> None:
    code = (
        "import django, sys; django.setup();"
        "import webapp.urls, annotations.views, annotations.admin, critic_worker.tasks;"
        "from django.test import Client;"
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
        env={"DJANGO_SETTINGS_MODULE": "webapp.settings.test", "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.split() == ["False", "False"]


def test_an_error_that_persists_fails_the_batch_after_the_retries(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    """A checkpoint whose model cannot load: each try gives the rows back; the last one fails them, with why."""
    broken = CheckpointFactory(model=str(tmp_path / "no-such-model"), quantization="none")
    item = ItemFactory()
    judging.verdicts_queue(dataset=item.dataset, checkpoint=broken)
    ids = list(CriticVerdict.objects.values_list("pk", flat=True))
    outcome = tasks.judge_batch.apply(args=[ids])  # runs here, retries included
    assert outcome.failed()
    verdict = CriticVerdict.objects.get()
    assert verdict.status == "failed"
    assert verdict.error.startswith("failed after 5 retries")
    assert verdict.attempts == 6
