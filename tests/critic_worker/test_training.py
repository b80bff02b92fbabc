"""LoRA retraining on a tiny real model, on the CPU: the loss falls, the child loads and judges as taught. The
training files are real exports, written by the exporter from reviewers' corrections in the database."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from annotations.models import TrainingExport
from annotations.services.exports import (
    PARQUET_SCHEMA,
    export_data_file,
    training_export_create,
    training_export_run,
)
from annotations.services.images import image_check, image_store
from critic_worker.engine import CriticEngine, JudgeRequest, open_image
from critic_worker.profiles import Verdict, get_profile
from critic_worker.training import ExportError, TrainOptions, read_training_rows, train_lora
from tests.factories import DatasetFactory, PairwiseItemFactory
from tests.images import png_bytes
from tests.training_exports import export_for

pytestmark = pytest.mark.usefixtures("single_torch_thread")
FAST = TrainOptions(epochs=100, max_steps=20, batch_size=2, learning_rate=5e-3, device="cpu")


TAUGHT = Verdict(preference="A", justification="The first answer names the shape.")


@pytest.fixture
def taught(db) -> TrainingExport:  # type: ignore[no-untyped-def]
    """The llava-json export of six pairwise items whose corrected verdict is "the first response is better"."""
    dataset = DatasetFactory()
    items = [
        PairwiseItemFactory(
            dataset=dataset,
            external_id=f"r{i}",
            image=image_store(checked=image_check(data=png_bytes(colour=(40 * i, 90, 20))))[0],
            question=f"What is drawn in picture {i}?",
            response_a="A red square.",
            response_b="A blue circle.",
        )
        for i in range(6)
    ]
    return export_for(dataset, [(item, TAUGHT) for item in items])


def preference_for_a(model: str | Path, **load: str) -> float:
    engine = CriticEngine.load(str(model), device="cpu", max_new_tokens=8, **load)
    request = JudgeRequest(
        images=[open_image(png_bytes(colour=(5, 5, 5)))],
        profile="pairwise",
        question="What is it?",
        response_a="x",
        response_b="y",
    )
    (result,) = engine.judge([request])
    return result.probabilities["A"]


@pytest.fixture
def export(taught: TrainingExport) -> Path:
    return export_data_file(export=taught)


def test_training_lowers_the_loss_and_the_child_loads_and_judges_as_taught(
    tiny_critic: Path, export: Path, tmp_path: Path
) -> None:
    steps = []
    rows = read_training_rows(export, "llava-json")
    result = train_lora(
        tiny_critic,
        rows,
        tmp_path / "child",
        options=TrainOptions(**{**FAST.__dict__, "merge": True}),
        on_step=lambda step, total, loss: steps.append((step, total, loss)),
    )
    assert [s for s, _, _ in steps] == list(range(1, 21))
    assert {total for _, total, _ in steps} == {20}
    assert result.losses == [loss for _, _, loss in steps]
    assert result.losses[-1] < result.losses[0] - 0.5, result.losses
    # The adapter is small and names its base; the merged folder is a full checkpoint with its processor.
    adapter = json.loads((result.adapter_dir / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == str(tiny_critic)
    assert result.merged_dir is not None
    assert (result.merged_dir / "tokenizer.json").exists()
    before = preference_for_a(tiny_critic, quantization="none")
    for child in (result.adapter_dir, result.merged_dir):
        assert preference_for_a(child, quantization="none") > max(0.9, before)


def test_qlora_trains_on_an_nf4_base_and_the_adapter_loads_quantized(
    tiny_critic: Path, export: Path, tmp_path: Path
) -> None:
    rows = read_training_rows(export, "llava-json")
    options = TrainOptions(**{**FAST.__dict__, "max_steps": 4, "quantization": "nf4"})
    result = train_lora(tiny_critic, rows, tmp_path / "child", options=options)
    assert len(result.losses) == 4
    assert result.losses[-1] < result.losses[0]
    assert 0 <= preference_for_a(result.adapter_dir, quantization="nf4") <= 1


def test_parquet_and_llava_json_give_the_same_training_rows(taught: TrainingExport, export: Path) -> None:
    again = training_export_create(
        dataset=taught.dataset, fmt="llava-critic-parquet", checkpoint=taught.source_checkpoint
    )
    parquet = export_data_file(export=training_export_run(export_id=again.pk))  # type: ignore[arg-type]
    assert pq.read_schema(parquet).equals(PARQUET_SCHEMA)
    from_json = read_training_rows(export, "llava-json")
    from_parquet = read_training_rows(parquet, "llava-critic-parquet")
    assert [(r.id, r.human, r.gpt, r.pictures()) for r in from_json] == [
        (r.id, r.human, r.gpt, r.pictures()) for r in from_parquet
    ]
    first = from_json[0]
    assert first.id == "r0__pairwise"
    assert get_profile("pairwise").parse(first.gpt) == TAUGHT


def _rewrite(export: Path, change) -> None:  # type: ignore[no-untyped-def]
    rows = json.loads(export.read_text())
    change(rows)
    export.write_text(json.dumps(rows))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rows: rows[1].update(image="images/missing.png"), r"row 2 \(r1__pairwise\): no image file"),
        (lambda rows: rows[0].update(image="../../etc/passwd"), r"row 1 \(r0__pairwise\): no image file"),
        (lambda rows: rows[2]["conversations"].pop(), r"row 3 .*one human turn then one gpt turn"),
        (lambda rows: rows[0]["conversations"][0].update(value="no image"), r"row 1 .*must start with <image>"),
        (lambda rows: rows[0]["conversations"][1].update(value=" "), r"row 1 .*gpt turn is empty"),
        (lambda rows: rows.clear(), "no rows to train on"),
    ],
)
def test_a_bad_export_is_refused_with_the_row_and_the_reason(export: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    _rewrite(export, change)
    with pytest.raises(ExportError, match=message):
        read_training_rows(export, "llava-json")


def test_formats_that_are_not_training_sets_are_refused(export: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="cannot train on the 'dpo-jsonl' format"):
        read_training_rows(export, "dpo-jsonl")
    with pytest.raises(ExportError, match="does not exist"):
        read_training_rows(tmp_path / "nope.json", "llava-json")
    with pytest.raises(ExportError, match="not a llava-critic parquet file"):
        read_training_rows(export, "llava-critic-parquet")
