"""`probe --inline` on a real tiny critic: the probe verdicts are judged in the command's process through the worker's
claim and record, the changed picture is what the critic was given, and the summary prints the probe's figures."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotations.models import CriticVerdict
from annotations.services.images import image_check, image_store
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, PairwiseItemFactory
from tests.images import png_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("single_torch_thread")]


@pytest.fixture
def critic(tiny_critic: Path, settings):  # type: ignore[no-untyped-def]
    settings.CRITIC_MAX_NEW_TOKENS = 8
    settings.CRITIC_DEVICE = "cpu"
    return CheckpointFactory(model=str(tiny_critic), quantization="none", is_active=True)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_probe_inline_judges_the_probes_here_and_prints_their_figures(critic) -> None:  # type: ignore[no-untyped-def]
    dataset = DatasetFactory(name="looks")
    for i in range(4):
        picture = image_store(checked=image_check(data=png_bytes(size=(40 + 8 * i, 32), colour=(60 * i, 90, 30))))[0]
        ItemFactory(dataset=dataset, image=picture)
    pair = PairwiseItemFactory(dataset=dataset)
    run("judge", "--dataset", "looks", "--inline")
    own = dict(CriticVerdict.objects.filter(probe="").values_list("item_id", "raw_output"))

    out = run("probe", "--dataset", "looks", "--kind", "blank-image", "--inline", "--batch-size", "3")
    assert "Probing 5 items of 'looks' (blank-image)" in out
    assert "Judged 5 of 5 probe verdicts" in out
    assert "Blank image (white, of the same size): 5 finished probe verdicts." in out
    assert "pointwise: 4 items with both verdicts; a flip: the score moved by more than 0.1" in out
    assert "flip_rate" in out
    assert "mean_score_shift" in out
    assert "pairwise: 1 items with both verdicts" in out
    assert "— (n = 1: a flip rate needs at least 3 items)" in out
    probes = CriticVerdict.objects.filter(probe="blank-image")
    assert probes.filter(status="done").count() == 5
    assert all(v.worker.startswith("inline@") and v.prompt for v in probes)
    # The items' own verdicts are untouched.
    assert dict(CriticVerdict.objects.filter(probe="").values_list("item_id", "raw_output")) == own

    sample = run("probe", "--dataset", "looks", "--kind", "other-image", "--sample", "2", "--inline")
    assert "Probing 2 items of 'looks' (other-image)" in sample
    others = CriticVerdict.objects.filter(probe="other-image")
    assert others.count() == 2
    assert all(v.probe_image_id != v.item.image_id for v in others)

    swap = run("probe", "--dataset", "looks", "--kind", "swap", "--inline")
    assert "Probing 1 items of 'looks' (swap)" in swap
    assert CriticVerdict.objects.get(probe="swap").item == pair
    assert "Probing 0 items" in run("probe", "--dataset", "looks", "--kind", "swap", "--inline")  # done already


def test_probe_queues_for_the_workers_without_inline(critic) -> None:  # type: ignore[no-untyped-def]
    item = ItemFactory(dataset=DatasetFactory(name="queued"))
    out = run("probe", "--dataset", "queued", "--kind", "blank-image")
    assert f"Queued the blank-image probe of 1 items of 'queued' for {critic.name} in 1 batches." in out
    assert CriticVerdict.objects.get().item == item


def test_probe_refuses_bad_input_with_a_reason_and_queues_nothing(critic) -> None:  # type: ignore[no-untyped-def]
    ItemFactory(dataset=DatasetFactory(name="refused"))
    refusals = [
        (("--dataset", "nope", "--kind", "swap"), "No dataset named 'nope'."),
        (("--dataset", "refused", "--kind", "sideways"), "invalid choice: 'sideways'"),
        (("--dataset", "refused", "--kind", "blank-image", "--sample", "0"), "--sample must be a positive number"),
        (("--dataset", "refused", "--kind", "swap"), "'refused' has no pairwise items to swap."),
        (("--dataset", "refused", "--kind", "other-image"), "needs at least two different images"),
        (("--dataset", "refused", "--kind", "swap", "--checkpoint", "ghost"), "No checkpoint named 'ghost'"),
    ]
    for args, message in refusals:
        with pytest.raises(CommandError, match=message):
            run("probe", *args)
    assert not CriticVerdict.objects.exists()


def test_critic_input_writes_what_a_probe_gives_the_critic(critic, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    dataset = DatasetFactory(name="shown")
    pictures = [
        image_store(checked=image_check(data=png_bytes(size=size, colour=colour)))[0]
        for size, colour in (((50, 20), (200, 0, 0)), ((30, 40), (0, 0, 200)))
    ]
    item = PairwiseItemFactory(dataset=dataset, image=pictures[0], response_a="Red.", response_b="Blue, surely.")
    ItemFactory(dataset=dataset, image=pictures[1])

    def seen(probe: str) -> tuple[Image.Image, str]:
        out = tmp_path / probe  # its own folder per probe
        said = run("critic_input", "--dataset=shown", f"--item={item.external_id}", f"--probe={probe}", f"--out={out}")
        assert f"under the {probe} probe" in said
        with Image.open(out / "image-1.png") as picture:
            return picture.convert("RGB"), (out / "prompt.txt").read_text(encoding="utf-8")

    white, _ = seen("blank-image")
    assert white.size == (50, 20)
    assert white.getcolors() == [(50 * 20, (255, 255, 255))]
    other, _ = seen("other-image")
    assert other.getcolors() == [(30 * 40, (0, 0, 200))]  # the other item's picture
    _, prompt = seen("swap")
    assert prompt.index("Blue, surely.") < prompt.index("Red.")
    pointwise = dataset.items.exclude(pk=item.pk).get()
    with pytest.raises(CommandError, match="has one response: there is nothing to swap"):
        run("critic_input", "--dataset", "shown", "--item", pointwise.external_id, "--out", "x", "--probe", "swap")
