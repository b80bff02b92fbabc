"""Retraining every architecture the engine judges with, on the CPU with tiny real models: each trains on exactly
the conversation the engine gives it (its own prompt format, its own turn end), only the answers are supervised,
LoRA goes on its language model only, the loss falls and the child loads and judges as taught."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from annotations.models import Item, ItemImage
from annotations.services.exports import export_data_file
from annotations.services.images import image_check, image_store
from annotations.services.profiles import prompt_profile_create
from critic_worker.checkpoint_info import TINY_ARCHES
from critic_worker.engine import CriticEngine, JudgeRequest, open_image
from critic_worker.loading import load_critic
from critic_worker.profiles import Verdict
from critic_worker.prompting import turn_end_text
from critic_worker.training import (
    IGNORE,
    TrainingRow,
    TrainOptions,
    computes_own_positions,
    lora_targets,
    read_training_rows,
    train_lora,
    training_batch,
    training_text,
)
from tests.factories import DatasetFactory, PairwiseItemFactory
from tests.images import png_bytes
from tests.training_exports import export_for

pytestmark = pytest.mark.usefixtures("single_torch_thread")
FAST = TrainOptions(epochs=100, max_steps=12, batch_size=2, learning_rate=5e-3, device="cpu")
TAUGHT = Verdict(preference="A", justification="The first answer names the shape.")


@pytest.fixture
def exported(db) -> tuple[list[TrainingRow], dict[str, Item]]:  # type: ignore[no-untyped-def]
    """The rows of a real llava-json export of four pairwise items taught "the first response is better" (two of
    them with two pictures), and the items by row id."""
    dataset = DatasetFactory()
    items = [
        PairwiseItemFactory(
            dataset=dataset,
            external_id=f"a{i}",
            image=image_store(checked=image_check(data=png_bytes(colour=(60 * i, 30, 200))))[0],
            question=f"Which answer describes picture {i}?" + " Look closely." * i,  # rows of different lengths
            response_a="A red square.",
            response_b=f"A blue circle, number {i}.",
        )
        for i in range(4)
    ]
    for item in items[1::2]:  # two of them with a second picture: several images a row, in order
        second = image_store(checked=image_check(data=png_bytes(colour=(10, 200, 40 * item.pk % 255))))[0]
        ItemImage.objects.create(item=item, image=second, position=2)
    export = export_for(dataset, [(item, TAUGHT) for item in items])
    rows = read_training_rows(export_data_file(export=export), "llava-json")
    return rows, {f"{item.external_id}__pairwise": item for item in items}


def _request(item: Item, pictures: list[bytes]) -> JudgeRequest:
    return JudgeRequest(
        images=[open_image(picture) for picture in pictures],
        profile="pairwise",
        question=item.question,
        response_a=item.response_a,
        response_b=item.response_b,
    )


@pytest.mark.parametrize("arch", TINY_ARCHES)
def test_each_row_is_the_engines_prompt_then_the_supervised_answer(
    tiny_critics: Callable[[str], Path], exported: tuple[list[TrainingRow], dict[str, Item]], arch: str
) -> None:
    rows, items = exported
    critic = load_critic(tiny_critics(arch), quantization="none", device="cpu")
    engine = CriticEngine(critic)
    processor = critic.processor
    for row in rows:
        text = training_text(processor, critic.model_type, row)
        asked = engine.critic_input(_request(items[row.id], row.pictures()))
        assert text.prompt == asked.prompt
        assert text.answer == row.gpt + turn_end_text(processor, critic.model_type)
    batch = training_batch(processor, rows, "cpu", model_type=critic.model_type)
    engine_batch = engine.batch_inputs([engine.critic_input(_request(items[r.id], r.pictures())) for r in rows])
    for i, row in enumerate(rows):
        ids, labels, mask = batch["input_ids"][i], batch["labels"][i], batch["attention_mask"][i].bool()
        answer = (labels != IGNORE).nonzero().flatten()
        # The labelled tokens are the last ones, together, and they are the gpt turn and the turn's end ...
        assert answer.tolist() == list(range(len(ids) - len(answer), len(ids)))
        assert torch.equal(labels[answer], ids[answer])
        assert processor.tokenizer.decode(ids[answer]) == row.gpt + turn_end_text(processor, critic.model_type)
        # ... and every token before them is the engine's own prompt, image tokens included.
        prompt = ids[mask][: -len(answer)]
        assert torch.equal(prompt, engine_batch["input_ids"][i][engine_batch["attention_mask"][i].bool()])


def _answer_nll(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> list[float]:
    """Each row's negative log-likelihood of its labelled tokens (nats)."""
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    logprobs = torch.log_softmax(model(**inputs).logits[:, :-1].float(), dim=-1)
    labels = batch["labels"][:, 1:]
    rows = []
    for lp, row in zip(logprobs, labels, strict=True):
        taught = row != IGNORE
        rows.append(-float(lp[taught].gather(-1, row[taught][:, None]).sum()))
    return rows


@pytest.mark.parametrize("arch", TINY_ARCHES)
@torch.no_grad()
def test_padding_does_not_change_what_a_row_teaches(
    tiny_critics: Callable[[str], Path], exported: tuple[list[TrainingRow], dict[str, Item]], arch: str
) -> None:
    # Left padding is masked and the positions (plain, or Qwen2-VL's M-RoPE from the mask) skip it, as when judging.
    rows, _ = exported
    critic = load_critic(tiny_critics(arch), quantization="none", device="cpu")
    critic.processor.tokenizer.padding_side = "left"
    own = computes_own_positions(critic.model)
    assert own == arch.startswith("qwen")

    def batch(chosen: list[TrainingRow]) -> dict[str, torch.Tensor]:
        return training_batch(critic.processor, chosen, "cpu", model_type=critic.model_type, own_positions=own)

    together = _answer_nll(critic.model, batch([rows[0], rows[3]]))
    assert int(batch([rows[0], rows[3]])["attention_mask"][0].sum()) < int(batch([rows[3]])["attention_mask"].sum())
    alone = [_answer_nll(critic.model, batch([row]))[0] for row in (rows[0], rows[3])]
    assert together == pytest.approx(alone, rel=1e-4)


def test_lora_goes_on_the_language_model_only(tiny_critics: Callable[[str], Path]) -> None:
    expected = {
        "llava-onevision": "model.language_model.layers.",
        "llava": "model.language_model.layers.",
        "qwen2-vl": "model.language_model.layers.",
        "qwen2.5-vl": "model.language_model.layers.",
        "idefics3": "model.text_model.layers.",
    }
    for arch in TINY_ARCHES:
        model = load_critic(tiny_critics(arch), quantization="none", device="cpu").model
        targets = lora_targets(model)
        # Two layers of q, k, v, o, gate, up and down projections, all under the language model.
        assert len(targets) == 14, (arch, targets)
        assert all(name.startswith(expected[arch]) for name in targets), (arch, targets)
        suffixes = {name.rsplit(".", 1)[1] for name in targets}
        assert suffixes == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


def test_a_model_without_a_language_model_to_adapt_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot retrain this Linear: its language model"):
        lora_targets(torch.nn.Linear(2, 2))

    class Headless(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.text_model = torch.nn.Embedding(4, 2)

        def get_decoder(self) -> torch.nn.Module:
            return self.text_model

    with pytest.raises(ValueError, match=r"its language model \(text_model\) has no linear layer"):
        lora_targets(Headless())


def _preference_for_a(model: str | Path, item: Item) -> float:
    engine = CriticEngine.load(str(model), quantization="none", device="cpu", max_new_tokens=8)
    (result,) = engine.judge([_request(item, [png_bytes(colour=(5, 5, 5))])])
    assert result.error == ""
    return result.probabilities["A"]


@pytest.mark.parametrize("arch", TINY_ARCHES)
def test_every_architecture_trains_and_its_child_judges_as_taught(
    tiny_critics: Callable[[str], Path],
    exported: tuple[list[TrainingRow], dict[str, Item]],
    arch: str,
    tmp_path: Path,
) -> None:
    rows, items = exported
    base = tiny_critics(arch)
    result = train_lora(base, rows, tmp_path / "child", options=TrainOptions(**{**FAST.__dict__, "merge": True}))
    assert len(result.losses) == FAST.max_steps
    assert result.losses[-1] < result.losses[0] - 0.5, result.losses
    adapter = json.loads((result.adapter_dir / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == str(base)
    assert not any("vision" in name or "projector" in name or "connector" in name for name in adapter["target_modules"])
    item = next(iter(items.values()))
    before = _preference_for_a(base, item)
    assert result.merged_dir is not None
    for child in (result.adapter_dir, result.merged_dir):
        assert _preference_for_a(child, item) > max(0.9, before)


@pytest.mark.django_db
@pytest.mark.parametrize("arch", ["llava-onevision", "qwen2-vl"])
def test_a_row_of_a_defined_profile_trains_with_its_own_system_turn(
    tiny_critics: Callable[[str], Path], arch: str
) -> None:
    prompt_profile_create(
        name="terse",
        kind="pairwise",
        template="Which answer to {question} is better?\n1: {response_a}\n2: {response_b}",
        system="You are a terse grader.",
        reader="pairwise",
    )
    item = PairwiseItemFactory(profile="terse", dataset=DatasetFactory(pairwise_profile="terse"))
    [row] = read_training_rows(export_data_file(export=export_for(item.dataset, [(item, TAUGHT)])), "llava-json")
    assert row.id.endswith("__terse")
    critic = load_critic(tiny_critics(arch), quantization="none", device="cpu")
    asked = CriticEngine(critic).critic_input(replace(_request(item, row.pictures()), profile="terse"))
    assert "You are a terse grader." in asked.prompt
    assert training_text(critic.processor, critic.model_type, row).prompt == asked.prompt
