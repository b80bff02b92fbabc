"""An item with several images reaches the critic whole: the worker gives every picture, in order, with one image
placeholder each in the prompt, beside items with one image in the same batch; critic_input writes them all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command
from PIL import Image

from annotations.models import CriticVerdict
from annotations.selectors.images import item_images
from annotations.services import judging
from critic_worker import tasks
from critic_worker.loading import load_processor
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, PairwiseItemFactory, item_with_images

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("single_torch_thread")]
RED, GREEN, BLUE = (220, 20, 20), (20, 200, 20), (20, 20, 220)


@pytest.fixture(params=["llava-onevision", "qwen2-vl"])
def checkpoint(request: pytest.FixtureRequest, tiny_critics: Callable[[str], Path], settings):  # type: ignore[no-untyped-def]
    settings.CRITIC_MAX_NEW_TOKENS = 8
    settings.CRITIC_DEVICE = "cpu"
    return CheckpointFactory(model=str(tiny_critics(request.param)), quantization="none", is_active=True)


def test_items_with_two_images_are_judged_beside_items_with_one(checkpoint) -> None:  # type: ignore[no-untyped-def]
    dataset = DatasetFactory()
    two = item_with_images(RED, BLUE, dataset=dataset, question="Which picture is red?", response_a="The first.")
    pair = item_with_images(GREEN, RED, factory=PairwiseItemFactory, dataset=dataset)
    one = ItemFactory(dataset=dataset)
    judging.verdicts_queue(dataset=dataset, checkpoint=checkpoint)
    by_item = {v.item_id: v for v in CriticVerdict.objects.all()}
    job = judging.verdict_job(item=two, checkpoint=checkpoint)
    assert [Path(p).name for p in job.image_paths] == [i.normalized.name.split("/")[-1] for i in item_images(item=two)]
    outcome = tasks.judge_batch([v.pk for v in by_item.values()])
    assert outcome == {"claimed": 3, "done": 3, "failed": 0}
    processor, _ = load_processor(checkpoint.model)
    token = processor.image_token
    prompts = {v.item_id: v.prompt for v in CriticVerdict.objects.filter(status="done")}
    assert prompts[two.pk].count(token) == 2
    assert prompts[pair.pk].count(token) == 2
    assert prompts[one.pk].count(token) == 1
    assert "Which picture is red?" in prompts[two.pk]


def test_critic_input_writes_every_image_in_order(checkpoint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    item = item_with_images(RED, GREEN, BLUE)
    call_command("critic_input", dataset=item.dataset.name, item=item.external_id, out=str(tmp_path))
    written = sorted(p.name for p in tmp_path.glob("image-*.png"))
    assert written == ["image-1.png", "image-2.png", "image-3.png"]
    for n, colour in enumerate([RED, GREEN, BLUE], start=1):
        with Image.open(tmp_path / f"image-{n}.png") as im:
            assert im.convert("RGB").getpixel((5, 5)) == colour
            assert im.size == (64 + 8 * (n - 1), 48)
    prompt = (tmp_path / "prompt.txt").read_text()
    processor, _ = load_processor(checkpoint.model)
    assert prompt.count(processor.image_token) == 3
