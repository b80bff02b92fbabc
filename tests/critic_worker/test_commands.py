"""The engine's commands on real tiny critics: critic_input writes what the worker gives the critic (and records),
judge --inline judges in its own process through the worker's claim and record, build_tiny_critic builds every
architecture."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from annotations.models import CriticVerdict
from annotations.services import judging
from annotations.services.images import image_check, image_store
from annotations.services.profiles import prompt_profile_create
from critic_worker import tasks
from critic_worker.loading import load_processor
from critic_worker.profiles import PromptInput, chat_prompt, get_profile
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, PairwiseItemFactory
from tests.images import png_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("single_torch_thread")]


@pytest.fixture
def critic(tiny_critics: Callable[[str], Path], settings):  # type: ignore[no-untyped-def]
    """An active checkpoint of a given architecture, judged on the CPU with short generations."""
    settings.CRITIC_MAX_NEW_TOKENS = 8
    settings.CRITIC_DEVICE = "cpu"

    def make(arch: str):  # type: ignore[no-untyped-def]
        return CheckpointFactory(model=str(tiny_critics(arch)), quantization="none", is_active=True)

    return make


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("arch", ["llava-onevision", "qwen2.5-vl", "idefics3"])
def test_critic_input_writes_what_the_worker_gives_the_critic(critic, arch: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    checkpoint = critic(arch)
    item = PairwiseItemFactory(question="Which is right?", response_a="Red.", response_b="Blue, surely.")
    out = run(
        "critic_input", "--dataset", item.dataset.name, "--item", item.external_id, "--out", str(tmp_path / "seen")
    )
    assert "Wrote 1 image(s) and prompt.txt" in out
    assert sorted(p.name for p in (tmp_path / "seen").iterdir()) == ["image-1.png", "prompt.txt"]
    prompt = (tmp_path / "seen" / "prompt.txt").read_text(encoding="utf-8")
    with Image.open(item.image.normalized.path) as original, Image.open(tmp_path / "seen" / "image-1.png") as written:
        assert written.mode == "RGB"
        assert written.tobytes() == original.convert("RGB").tobytes()

    judging.verdicts_queue(dataset=item.dataset, checkpoint=checkpoint)
    assert tasks.judge_batch(list(CriticVerdict.objects.values_list("pk", flat=True)))["done"] == 1
    assert CriticVerdict.objects.get().prompt == prompt  # what the worker recorded is what the command wrote

    processor, config = load_processor(checkpoint.model)
    assert config.model_type == arch.replace("-", "_").replace(".", "_")
    if arch == "llava-onevision":  # LLaVA-Critic's own prompt, byte for byte
        assert prompt == chat_prompt(get_profile("pairwise"), PromptInput("Which is right?", "Red.", "Blue, surely."))
    else:  # the checkpoint's own chat template, with the profile's prompt as the user turn
        assert get_profile("pairwise").prompt(PromptInput("Which is right?", "Red.", "Blue, surely.")) in prompt
        assert prompt.count(processor.image_token) == 1
        assert prompt.endswith({"qwen2.5-vl": "<|im_start|>assistant\n", "idefics3": "\nAssistant:"}[arch])


def test_critic_input_refuses_an_unknown_item_and_writes_nothing(critic, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    critic("llava-onevision")
    dataset = DatasetFactory(name="charts")
    with pytest.raises(CommandError, match="No item 'nope' in 'charts'"):
        run("critic_input", "--dataset", "charts", "--item", "nope", "--out", str(tmp_path / "out"))
    with pytest.raises(CommandError, match="No dataset named 'other'"):
        run("critic_input", "--dataset", "other", "--item", "x", "--out", str(tmp_path / "out"))
    item = ItemFactory(dataset=dataset)
    with pytest.raises(CommandError, match="No checkpoint named 'ghost'"):
        run(
            "critic_input",
            "--dataset",
            "charts",
            "--item",
            item.external_id,
            "--out",
            str(tmp_path / "out"),
            "--checkpoint",
            "ghost",
        )
    assert not (tmp_path / "out").exists()


def test_judge_inline_judges_in_its_own_process_with_progress_and_a_summary(critic) -> None:  # type: ignore[no-untyped-def]
    checkpoint = critic("qwen2.5-vl")
    dataset = DatasetFactory(name="inline")
    items = [(PairwiseItemFactory if i % 2 else ItemFactory)(dataset=dataset) for i in range(5)]
    broken = ItemFactory(dataset=dataset, image=image_store(checked=image_check(data=png_bytes(colour=(1, 2, 3))))[0])
    Path(broken.image.normalized.path).write_bytes(b"not a picture any more")

    out = run("judge", "--dataset", "inline", "--inline", "--batch-size", "4")
    assert "Judging 6 items of 'inline'" in out
    assert "4/6 judged" in out
    assert "6/6 judged (done 5, failed 1)" in out
    assert "Judged 6 of 6 items" in out
    assert f"failed {broken.external_id}: unreadable image" in out
    verdicts = CriticVerdict.objects.filter(checkpoint=checkpoint)
    assert verdicts.filter(status="done").count() == len(items)
    assert all(v.worker.startswith("inline@") and v.prompt for v in verdicts.filter(status="done"))

    again = run("judge", "--dataset", "inline", "--inline", "--only-missing")  # only the failed one is retried
    assert "Judged 1 of 1 items" in again


def test_judge_inline_gives_its_batch_back_when_it_stops(tmp_path: Path) -> None:
    CheckpointFactory(model=str(tmp_path / "no-such-model"), quantization="none", is_active=True, name="broken")
    item = ItemFactory()
    with pytest.raises(OSError, match="no-such-model"):
        run("judge", "--dataset", item.dataset.name, "--inline", "--checkpoint", "broken")
    verdict = CriticVerdict.objects.get()
    assert verdict.status == "queued"  # back in the queue, for a worker or the next run
    assert "inline judging stopped" in verdict.error


@pytest.mark.parametrize("arch", ["qwen2-vl", "idefics3"])
def test_build_tiny_critic_builds_a_critic_the_engine_loads(arch: str, tmp_path: Path) -> None:
    out = run("build_tiny_critic", str(tmp_path / arch), "--arch", arch)
    assert f"random-weight {arch} critic" in out
    processor, config = load_processor(tmp_path / arch)
    assert processor.chat_template
    assert config.model_type == arch.replace("-", "_")


def test_build_tiny_critic_refuses_an_unknown_architecture(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="invalid choice: 'gpt'"):
        run("build_tiny_critic", str(tmp_path / "x"), "--arch", "gpt")


def test_a_defined_profile_is_judged_on_its_own_scale(critic) -> None:  # type: ignore[no-untyped-def]
    """The engine finds a team's profile by name, prompts with its template and scores its verdict lines."""
    checkpoint = critic("llava-onevision")
    prompt_profile_create(
        name="likert-5",
        kind="pointwise",
        template="Rate the answer to {question} from 1 to 5.\nAnswer: {response}\nEnd with 'Rating: N'.",
        score_min=1,
        score_max=5,
        score_step=1,
        verdict_pattern=r"Rating:\s*(?P<score>\d)",
        verdict_line="Rating: {score}",
    )
    dataset = DatasetFactory(name="likert", pointwise_profile="likert-5")
    for _ in range(3):
        ItemFactory(dataset=dataset, profile="likert-5")
    assert "Judged 3 of 3 items" in run("judge", "--dataset", "likert", "--inline")
    verdicts = CriticVerdict.objects.filter(checkpoint=checkpoint, status="done")
    assert verdicts.count() == 3
    for v in verdicts:
        assert v.score in {1, 2, 3, 4, 5}
        assert set(v.probabilities) == {"1", "2", "3", "4", "5"}
        assert sum(v.probabilities.values()) == pytest.approx(1, abs=1e-3)
        assert "from 1 to 5" in v.prompt
