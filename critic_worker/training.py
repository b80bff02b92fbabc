"""Retraining the critic: LoRA fine-tuning (peft) of a checkpoint on a training export. Django-free, like the
engine, whose loader and prompt building it reuses, so that the critic is trained on exactly the conversation
it is later asked to judge.

One code path for every precision: ``quantization="none"`` trains LoRA on full-precision weights (the CPU tests);
``"nf4"`` or ``"int8"`` loads the base quantized and prepares it with peft's ``prepare_model_for_kbit_training``
(QLoRA on a GPU).

Every architecture the engine judges with trains on the conversation the engine gives it (``training_text``): the
row's human turn (one ``<image>`` line per picture, in order, then the profile's prompt) made into that
architecture's prompt by the engine's own prompt builder (``prompting.row_prompt``: LLaVA-Critic's ChatML for
LLaVA-OneVision, byte for byte as before, the processor's chat template for LLaVA, Qwen2-VL, Qwen2.5-VL, Idefics3 /
SmolVLM, ...), the pictures given to the processor as the engine gives them, then the gpt turn and what closes the
assistant turn in that format (``prompting.turn_end_text``: ``<|im_end|>``, ``<end_of_utterance>``...).
Only those answer tokens are supervised (labels -100 on the prompt, the image tokens and the padding). LoRA goes on
the language model's linear layers, found in the loaded model (``lora_targets``: whatever its module path), never
on the vision tower or the projector.
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

from critic_worker.engine import batch_images, open_image
from critic_worker.loading import load_critic, resolve_device, save_processor
from critic_worker.profiles import SYSTEM_PROMPT, find_profile
from critic_worker.prompting import IMAGE_TOKEN, image_lines, row_prompt, turn_end_text

FORMATS = ("llava-json", "llava-critic-parquet")
IGNORE = -100  # the label value the loss skips

StepCallback = Callable[[int, int, float], None]  # (step, total steps, loss)


class ExportError(ValueError):
    """A training file that cannot be trained on, with the row and the reason."""


@dataclass(frozen=True)
class TrainingRow:
    id: str
    human: str  # the human turn: "<image>\n" per picture and the profile's prompt as the critic saw it (user_turn)
    gpt: str  # the verdict the critic should have given, in the profile's output shape
    images: tuple[bytes, ...] = ()  # embedded (parquet: one a row) ...
    image_paths: tuple[Path, ...] = ()  # ... or referenced (llava-json: one or several, in order)

    @property
    def system(self) -> str:
        """The system turn the engine gives with this row's profile: Critic Desk's exports end each id with
        ``__<profile>``; a team's profile may have its own system text. Other rows get the built-in one."""
        _, separator, name = self.id.rpartition("__")
        profile = find_profile(name) if separator else None
        return profile.system if profile is not None else SYSTEM_PROMPT

    def pictures(self) -> list[bytes]:
        """The row's images' bytes, in the order of its ``<image>`` lines."""
        return list(self.images) or [path.read_bytes() for path in self.image_paths]


def _turns(n: int, row_id: str, conversations: Any) -> tuple[str, str]:
    if (
        not isinstance(conversations, list)
        or len(conversations) != 2
        or [turn.get("from") for turn in conversations if isinstance(turn, dict)] != ["human", "gpt"]
    ):
        raise ExportError(f"row {n} ({row_id}): conversations must be one human turn then one gpt turn")
    human, gpt = (str(turn.get("value") or "") for turn in conversations)
    if not human.startswith(IMAGE_TOKEN + "\n"):
        raise ExportError(f"row {n} ({row_id}): the human turn must start with {IMAGE_TOKEN} and a newline")
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
        names = row["image"] if isinstance(row["image"], list) else [row["image"]]
        if len(names) != image_lines(human):
            raise ExportError(
                f"row {n} ({row['id']}): {len(names)} image(s) but {image_lines(human)} {IMAGE_TOKEN} line(s) in the "
                "human turn: each picture needs its own line, in order"
            )
        paths = []
        for name in names:
            image = (image_folder / str(name)).resolve()
            if not image.is_relative_to(image_folder.resolve()) or not image.is_file():
                raise ExportError(f"row {n} ({row['id']}): no image file {name!r} in {image_folder}")
            paths.append(image)
        yield TrainingRow(id=str(row["id"]), human=human, gpt=gpt, image_paths=tuple(paths))


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
                if image_lines(human) != 1:
                    raise ExportError(f"row {n} ({row['id']}): a parquet row has one image and one {IMAGE_TOKEN} line")
                yield TrainingRow(id=str(row["id"]), human=human, gpt=gpt, images=(image,))
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


@dataclass(frozen=True)
class TrainingText:
    """One row as the critic is trained on it: the prompt (what the engine gives it when judging, after the chat
    template, image placeholders included) and the answer (the gpt turn and the turn's end), supervised alone."""

    prompt: str
    answer: str


def answer_end(processor: Any, model_type: str) -> str:
    """What follows the gpt turn: the text that closes an assistant turn in this chat format (``turn_end_text``),
    or the end-of-sequence token when that holds no special token (the engine then stops generating there)."""
    tokenizer = processor.tokenizer
    text = turn_end_text(processor, model_type)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"] if text else []
    if set(ids) & set(tokenizer.all_special_ids):
        return text
    return str(tokenizer.eos_token or text)


def training_text(processor: Any, model_type: str, row: TrainingRow) -> TrainingText:
    """The row's prompt in this architecture's format (``prompting.row_prompt``, the engine's builder) and its answer.
    ExportError for a human turn the prompt builder cannot take."""
    try:
        prompt = row_prompt(processor=processor, model_type=model_type, human_turn=row.human, system=row.system)
    except ValueError as exc:
        raise ExportError(f"{row.id}: {exc}") from None
    return TrainingText(prompt=prompt, answer=row.gpt + answer_end(processor, model_type))


def _answer_ids(tokenizer: Any, text: TrainingText) -> list[int] | None:
    """The answer's tokens as they follow the prompt (in context: a tokenizer may write a word differently at the
    start of a text); None when the prompt's own tokens are not a prefix of the whole's (a merge across the turn)."""
    whole = tokenizer(text.prompt + text.answer, add_special_tokens=False)["input_ids"]
    head = tokenizer(text.prompt, add_special_tokens=False)["input_ids"]
    return list(whole[len(head) :]) if whole[: len(head)] == head and len(whole) > len(head) else None


def training_batch(
    processor: Any, rows: list[TrainingRow], device: Any, *, model_type: str, own_positions: bool = False
) -> dict[str, torch.Tensor]:
    """The model's inputs for these rows, left-padded as the engine pads, with labels on the answers only.
    `own_positions`: the model computes its positions from the attention mask itself (M-RoPE: Qwen2-VL); otherwise
    they are given, counted over the unpadded tokens as ``generate`` counts them."""
    tokenizer = processor.tokenizer
    texts = [training_text(processor, model_type, row) for row in rows]
    images = batch_images([[open_image(picture) for picture in row.pictures()] for row in rows])
    batch = processor(images=images, text=[t.prompt + t.answer for t in texts], return_tensors="pt", padding=True)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    labels = torch.full_like(ids, IGNORE)
    for i, (row, text) in enumerate(zip(rows, texts, strict=True)):
        answer = _answer_ids(tokenizer, text)
        # Left padding puts every answer at the end; the check catches a tokenizer that merges across the turn.
        if answer is None or ids[i, -len(answer) :].tolist() != answer:
            raise ExportError(f"{row.id}: the gpt turn does not tokenise apart from its prompt")
        labels[i, -len(answer) :] = ids[i, -len(answer) :]
    inputs = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
    if not own_positions:
        inputs["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0).to(device)
    inputs["labels"] = labels.to(device)
    return inputs


def lora_targets(model: Any) -> list[str]:
    """The full names of the language model's linear layers (attention and MLP projections), wherever the
    architecture keeps it (``model.language_model``, ``model.text_model``, ...): the decoder ``get_decoder`` gives,
    so never the vision tower or the projector. ValueError when the model has no decoder or it has no linear layer."""
    get_decoder = getattr(model, "get_decoder", None)
    decoder = get_decoder() if callable(get_decoder) else None
    prefix = next((name for name, module in model.named_modules() if name and module is decoder), None)
    kind = type(model).__name__
    if decoder is None or prefix is None:
        raise ValueError(f"cannot retrain this {kind}: its language model (decoder) cannot be found for LoRA")
    names = [f"{prefix}.{name}" for name, module in decoder.named_modules() if isinstance(module, torch.nn.Linear)]
    if not names:
        raise ValueError(f"cannot retrain this {kind}: its language model ({prefix}) has no linear layer for LoRA")
    return names


def computes_own_positions(model: Any) -> bool:
    """Whether the model derives its text positions from the images and the attention mask (M-RoPE)."""
    return callable(getattr(getattr(model, "model", None), "get_rope_index", None))


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
    targets = lora_targets(model)
    own_positions = computes_own_positions(model)
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
        target_modules=targets,
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
            chosen = [rows[i] for i in shuffled[start : start + options.batch_size]]
            inputs = training_batch(
                processor, chosen, device, model_type=critic.model_type, own_positions=own_positions
            )
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
