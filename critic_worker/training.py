"""Retraining the critic: LoRA fine-tuning (peft) of a checkpoint on a training export. Django-free, like the
engine, whose loader and prompt building it reuses, so that the critic is trained on exactly the conversation
it is later asked to judge.

One code path for every precision: ``quantization="none"`` trains LoRA on full-precision weights (the CPU tests);
``"nf4"`` or ``"int8"`` loads the base quantized and prepares it with peft's ``prepare_model_for_kbit_training``
(QLoRA on a GPU). Each example is the ChatML conversation the engine builds (``chat_for_turn``) with the row's
gpt turn and the end-of-turn token after it; only those answer tokens are supervised (labels -100 elsewhere).
"""

from __future__ import annotations

import gc
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import torch
from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

from critic_worker.engine import open_image
from critic_worker.loading import load_critic, resolve_device, save_processor
from critic_worker.profiles import chat_for_turn

END_OF_TURN = "<|im_end|>"
IMAGE_TOKEN = "<image>"
FORMATS = ("llava-json", "llava-critic-parquet")
# LoRA on the language model's linear layers only: the vision tower and the projector stay as they are.
LORA_TARGETS = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
IGNORE = -100  # the label value the loss skips

StepCallback = Callable[[int, int, float], None]  # (step, total steps, loss)


class ExportError(ValueError):
    """A training file that cannot be trained on, with the row and the reason."""


@dataclass(frozen=True)
class TrainingRow:
    id: str
    human: str  # the human turn: "<image>\n" and the prompt exactly as the critic saw it
    gpt: str  # the verdict the critic should have given, in the profile's output shape
    image: bytes | None = None  # embedded (parquet) ...
    image_path: Path | None = None  # ... or referenced (llava-json)

    def image_bytes(self) -> bytes:
        if self.image is not None:
            return self.image
        assert self.image_path is not None
        return self.image_path.read_bytes()


def _turns(n: int, row_id: str, conversations: Any) -> tuple[str, str]:
    if (
        not isinstance(conversations, list)
        or len(conversations) != 2
        or [turn.get("from") for turn in conversations if isinstance(turn, dict)] != ["human", "gpt"]
    ):
        raise ExportError(f"row {n} ({row_id}): conversations must be one human turn then one gpt turn")
    human, gpt = (str(turn.get("value") or "") for turn in conversations)
    if not human.startswith(IMAGE_TOKEN):
        raise ExportError(f"row {n} ({row_id}): the human turn must start with {IMAGE_TOKEN}")
    if not gpt.strip():
        raise ExportError(f"row {n} ({row_id}): the gpt turn is empty")
    return human, gpt


def _llava_json(path: Path, image_folder: Path) -> Iterator[TrainingRow]:
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExportError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(rows, list):
        raise ExportError(f"{path}: a llava-json export is a JSON list of rows")
    for n, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not row.get("id") or not row.get("image"):
            raise ExportError(f"row {n}: every row needs an id and an image")
        human, gpt = _turns(n, row["id"], row.get("conversations"))
        name = row["image"]
        if isinstance(name, list):
            if len(name) != 1:
                raise ExportError(
                    f"row {n} ({row['id']}): its item has {len(name)} images; retraining on items with several "
                    "images is not supported yet (export in llava-critic-parquet, which leaves them out, or remove "
                    "them from the dataset's pool)"
                )
            name = name[0]
        image = (image_folder / str(name)).resolve()
        if not image.is_relative_to(image_folder.resolve()) or not image.is_file():
            raise ExportError(f"row {n} ({row['id']}): no image file {row['image']!r} in {image_folder}")
        yield TrainingRow(id=str(row["id"]), human=human, gpt=gpt, image_path=image)


def _parquet(path: Path, image_folder: Path) -> Iterator[TrainingRow]:  # images embedded: no folder
    try:
        batches = pq.ParquetFile(path).iter_batches(columns=["id", "conversations", "image"], batch_size=256)
        n = 0
        for batch in batches:
            for row in batch.to_pylist():
                n += 1
                human, gpt = _turns(n, row["id"], row["conversations"])
                image = (row.get("image") or {}).get("bytes")
                if not image:
                    raise ExportError(f"row {n} ({row['id']}): the image has no embedded bytes")
                yield TrainingRow(id=str(row["id"]), human=human, gpt=gpt, image=image)
    except (OSError, KeyError, pa.ArrowException) as exc:
        raise ExportError(f"{path}: not a llava-critic parquet file ({exc})") from None


def read_training_rows(path: str | Path, fmt: str, *, image_folder: str | Path | None = None) -> list[TrainingRow]:
    """The rows of an export file: llava-json, whose image paths are relative to the image folder (LLaVA-NeXT's
    --image_folder; by default images/ beside the file, as the exporter writes it), or llava-critic-parquet."""
    readers = {"llava-json": _llava_json, "llava-critic-parquet": _parquet}
    if fmt not in readers:
        raise ExportError(f"cannot train on the {fmt!r} format: use {' or '.join(FORMATS)}")
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"the export file {path} does not exist")
    rows = list(readers[fmt](path, Path(image_folder) if image_folder else path.parent / "images"))
    if not rows:
        raise ExportError(f"{path}: the export has no rows to train on")
    return rows


@dataclass(frozen=True)
class TrainOptions:
    epochs: int = 3
    max_steps: int | None = None  # stop earlier than the epochs would
    batch_size: int = 4
    learning_rate: float = 2e-4
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    seed: int = 0
    quantization: str = "none"  # of the base while training: nf4 / int8 is QLoRA
    device: str = "auto"
    merge: bool = False  # also save full merged weights, loadable without peft
    # Recompute activations in the backward pass. None: on for a GPU (at 7B, batch 4 runs out of an 80 GB H100
    # without it; bench/gpu_retrain_7b.py), off on a CPU (the tiny models of tests and demos).
    gradient_checkpointing: bool | None = None


@dataclass
class TrainResult:
    adapter_dir: Path
    merged_dir: Path | None
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def total_steps(rows: int, options: TrainOptions) -> int:
    steps = options.epochs * math.ceil(rows / options.batch_size)
    return min(steps, options.max_steps) if options.max_steps else steps


def training_batch(processor: Any, rows: list[TrainingRow], device: Any) -> dict[str, torch.Tensor]:
    """The model's inputs for these rows, left-padded as the engine pads, with labels on the answers only."""
    tokenizer = processor.tokenizer
    texts = [chat_for_turn(row.human) + row.gpt + END_OF_TURN for row in rows]
    images = [open_image(row.image_bytes()) for row in rows]
    batch = processor(images=images, text=texts, return_tensors="pt", padding=True)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    labels = torch.full_like(ids, IGNORE)
    for i, row in enumerate(rows):
        answer = tokenizer(row.gpt + END_OF_TURN, add_special_tokens=False)["input_ids"]
        # Left padding puts every answer at the end; the check catches a tokenizer that merges across the turn.
        if ids[i, -len(answer) :].tolist() != answer:
            raise ExportError(f"{row.id}: the gpt turn does not tokenise apart from its prompt")
        labels[i, -len(answer) :] = ids[i, -len(answer) :]
    inputs = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
    inputs["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0).to(device)
    inputs["labels"] = labels.to(device)
    return inputs


def train_lora(
    base: str | Path,
    rows: list[TrainingRow],
    out: str | Path,
    *,
    options: TrainOptions,
    on_step: StepCallback | None = None,
) -> TrainResult:
    """Fine-tune `base` with LoRA on the rows; save the adapter under out/adapter (and out/merged if asked)."""
    if not rows:
        raise ExportError("no rows to train on")
    started = time.perf_counter()
    out = Path(out)
    device = resolve_device(options.device)
    torch.manual_seed(options.seed)
    critic = load_critic(base, quantization=options.quantization, device=device)
    model, processor = critic.model, critic.processor
    processor.tokenizer.padding_side = "left"
    if processor.tokenizer.pad_token_id is None:
        processor.tokenizer.pad_token = processor.tokenizer.eos_token
    checkpointing = options.gradient_checkpointing
    if checkpointing is None:
        checkpointing = device.startswith("cuda")
    if options.quantization != "none":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=checkpointing)
    elif checkpointing:
        model.gradient_checkpointing_enable()
    lora = LoraConfig(
        r=options.lora_rank,
        lora_alpha=options.lora_alpha,
        lora_dropout=options.lora_dropout,
        target_modules=LORA_TARGETS,
        bias="none",
    )
    model = get_peft_model(model, lora)
    model.peft_config["default"].base_model_name_or_path = str(base)  # what the child loads its weights from
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=options.learning_rate)
    order = torch.Generator().manual_seed(options.seed)
    total = total_steps(len(rows), options)
    losses: list[float] = []
    model.train()
    while len(losses) < total:
        shuffled = torch.randperm(len(rows), generator=order).tolist()
        for start in range(0, len(rows), options.batch_size):
            if len(losses) >= total:
                break
            inputs = training_batch(processor, [rows[i] for i in shuffled[start : start + options.batch_size]], device)
            loss = model(**inputs).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            if on_step is not None:
                on_step(len(losses), total, losses[-1])
    adapter_dir = out / "adapter"
    model.save_pretrained(str(adapter_dir))
    del model, optimizer
    _free_memory()
    merged_dir = merge_adapter(adapter_dir, out / "merged", device=device) if options.merge else None
    return TrainResult(adapter_dir, merged_dir, losses, time.perf_counter() - started)


def merge_adapter(adapter_dir: str | Path, out: str | Path, *, device: str = "auto") -> Path:
    """Full weights with the adapter merged in (the base loaded in full precision), with the tokenizer and image
    processor beside them: a checkpoint folder the engine loads without peft."""
    out = Path(out)
    critic = load_critic(adapter_dir, quantization="none", device=device)
    critic.model.save_pretrained(out)
    save_processor(critic.processor, out)
    del critic
    _free_memory()
    return out


def _free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
