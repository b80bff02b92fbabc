"""A tiny critic with random weights, built offline: the real architectures at width 64 — LLaVA-OneVision (SigLIP +
Qwen2), LLaVA (CLIP + Qwen2), Qwen2-VL, Qwen2.5-VL and Idefics3 (SigLIP-like + Llama, SmolVLM's layout) — each with a
byte-level BPE tokenizer trained here, its image processor and a chat template in the family's own turn format, so
that every code path (processor, chat template, generate, the verdict distribution, nf4/int8 quantization on a CPU)
runs for real in tests and in the demo. Its verdicts mean nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    CLIPVisionConfig,
    Idefics3Config,
    Idefics3ForConditionalGeneration,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaOnevisionConfig,
    LlavaOnevisionForConditionalGeneration,
    LlavaProcessor,
    PreTrainedTokenizerFast,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2Config,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
    SiglipVisionConfig,
)
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

from critic_worker.checkpoint_info import MARKER, TINY_ARCHES, token_id
from critic_worker.loading import onevision_image_processor
from critic_worker.profiles import PROFILES, PromptInput, chat_prompt

ARCHES = TINY_ARCHES
CHATML_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
QWEN_VISION_TOKENS = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
IDEFICS_TOKENS = ["<fake_token_around_image>", "<image>", "<global-img>", "<end_of_utterance>"]
IDEFICS_TILE_TOKENS = [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]
WIDTH = 64  # bitsandbytes' nf4 on a CPU needs in_features that are multiples of 64
IMAGE_SIZE, PATCH = 28, 14  # 2x2 patches: four image tokens per tile

# Chat templates in each family's turn format (written for these tiny models; a real checkpoint brings its own).
# Content is a string or a list of {"type": "image"} / {"type": "text", "text": ...} parts, as transformers passes.
_PARTS = (
    "{%- macro parts(content, image) -%}{%- if content is string -%}{{ content }}{%- else -%}"
    "{%- for part in content -%}{%- if part['type'] == 'image' -%}{{ image }}{%- elif part['type'] == 'text' -%}"
    "{{ part['text'] }}{%- endif -%}{%- endfor -%}{%- endif -%}{%- endmacro -%}"
)
CHATML_TEMPLATE = (
    _PARTS + "{%- for message in messages -%}<|im_start|>{{ message['role'] }}\n"
    "{{ parts(message['content'], '<image>\n') }}<|im_end|>\n{% endfor -%}"
    "{%- if add_generation_prompt -%}<|im_start|>assistant\n{% endif -%}"
)
QWEN_VL_TEMPLATE = (
    _PARTS + "{%- if messages[0]['role'] != 'system' -%}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif -%}{%- for message in messages -%}<|im_start|>{{ message['role'] }}\n"
    "{{ parts(message['content'], '<|vision_start|><|image_pad|><|vision_end|>') }}<|im_end|>\n{% endfor -%}"
    "{%- if add_generation_prompt -%}<|im_start|>assistant\n{% endif -%}"
)
LLAVA_TEMPLATE = (
    _PARTS + "{%- for message in messages -%}{%- if message['role'] == 'system' -%}"
    "{{ parts(message['content'], '') }}\n{%- elif message['role'] == 'user' -%}USER: "
    "{{ parts(message['content'], '<image>\n') }} {% else -%}ASSISTANT: {{ parts(message['content'], '') }}"
    "{{ eos_token }}{%- endif -%}{%- endfor -%}{%- if add_generation_prompt -%}ASSISTANT:{%- endif -%}"
)
IDEFICS_TEMPLATE = (
    _PARTS + "<|im_start|>{%- for message in messages -%}{{ message['role'] | capitalize }}:"
    "{{ parts(message['content'], '<image>') }}<end_of_utterance>\n{% endfor -%}"
    "{%- if add_generation_prompt -%}Assistant:{%- endif -%}"
)


def _tokenizer(
    vocab_size: int = 512, *, special: tuple[str, ...] = ("<image>", "<video>"), image_token: str = "<image>"
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained here on the critic's own prompts and verdict lines, with the ChatML tokens
    and the architecture's image tokens as special tokens."""
    corpus = []
    for profile in PROFILES.values():
        corpus.append(chat_prompt(profile, PromptInput("What is shown?", "A cat.", "A dog.", "A cat.")))
        corpus += [profile.render(v) for v in profile.verdicts()]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[*CHATML_TOKENS, *special],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(corpus, trainer)
    extra = {"image_token": image_token}
    if "<video>" in special:
        extra["video_token"] = "<video>"
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>", extra_special_tokens=extra
    )


def _vocab(tokenizer: PreTrainedTokenizerFast) -> int:
    return -(-len(tokenizer) // 64) * 64  # padded to a multiple of 64, as the real conversions do


def _text_config(tokenizer: PreTrainedTokenizerFast) -> Qwen2Config:
    return Qwen2Config(
        vocab_size=_vocab(tokenizer),
        hidden_size=WIDTH,
        intermediate_size=2 * WIDTH,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
    )


def _text_dict(tokenizer: PreTrainedTokenizerFast, **extra: object) -> dict[str, object]:
    return {**_text_config(tokenizer).to_diff_dict(), **extra}


def _save_onevision(out: Path, *, image_size: int = IMAGE_SIZE, grid: int = 2) -> None:
    """LLaVA-OneVision; `image_size` and `grid` (anyres tiles per side) set how many image tokens a picture becomes
    (LLaVA-Critic's own: 384 and 6, 729 tokens a tile), whatever the width."""
    tokenizer = _tokenizer()
    pinpoints = [[image_size * h, image_size * w] for h in range(1, grid + 1) for w in range(1, grid + 1)]
    vision = SiglipVisionConfig(
        hidden_size=WIDTH,
        intermediate_size=2 * WIDTH,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=image_size,
        patch_size=PATCH,
        vision_use_head=False,
    )
    config = LlavaOnevisionConfig(
        vision_config=vision,
        text_config=_text_config(tokenizer),
        image_token_index=token_id(tokenizer, "<image>"),
        video_token_index=token_id(tokenizer, "<video>"),
        image_grid_pinpoints=pinpoints,
        vision_feature_select_strategy="full",
    )
    LlavaOnevisionForConditionalGeneration(config).save_pretrained(out)
    onevision_image_processor(image_size, pinpoints).save_pretrained(out)
    tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.save_pretrained(out)


def _save_llava(out: Path) -> None:
    tokenizer = _tokenizer()
    vision = CLIPVisionConfig(
        hidden_size=WIDTH,
        intermediate_size=2 * WIDTH,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=IMAGE_SIZE,
        patch_size=PATCH,
        projection_dim=WIDTH,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=_text_config(tokenizer),
        image_token_index=token_id(tokenizer, "<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    LlavaForConditionalGeneration(config).save_pretrained(out)
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=PATCH,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's class token, dropped by the "default" strategy
        chat_template=LLAVA_TEMPLATE,
    ).save_pretrained(out)


def _save_qwen_vl(out: Path, *, version: str) -> None:
    """Qwen2-VL or Qwen2.5-VL: the vision tower merges 2x2 patches; text positions use M-RoPE (a section per
    axis, summing to half the head size: 16 / 2 = 8)."""
    tokenizer = _tokenizer(special=tuple(QWEN_VISION_TOKENS), image_token="<|image_pad|>")
    ids = {
        name: token_id(tokenizer, token)
        for name, token in zip(("start", "end", "image", "video"), QWEN_VISION_TOKENS, strict=True)
    }
    rope = {"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": [2, 3, 3]}
    text = _text_dict(tokenizer, rope_parameters=rope)
    tokens: dict[str, Any] = {
        "image_token_id": ids["image"],
        "video_token_id": ids["video"],
        "vision_start_token_id": ids["start"],
        "vision_end_token_id": ids["end"],
    }
    vision: dict[str, object] = {"depth": 2, "num_heads": 2, "patch_size": PATCH, "spatial_merge_size": 2}
    model: torch.nn.Module
    if version == "2.5":
        vision |= {"hidden_size": WIDTH, "intermediate_size": 2 * WIDTH, "out_hidden_size": WIDTH}
        vision |= {"window_size": 2 * IMAGE_SIZE, "fullatt_block_indexes": [1]}
        model = Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig(text_config=text, vision_config=vision, **tokens))
    else:
        vision |= {"embed_dim": WIDTH, "hidden_size": WIDTH, "mlp_ratio": 2}
        model = Qwen2VLForConditionalGeneration(Qwen2VLConfig(text_config=text, vision_config=vision, **tokens))
    model.save_pretrained(out)
    # Up to 4x4 patches of 14 px: at most four image tokens per image after the 2x2 merge.
    Qwen2VLImageProcessorPil(min_pixels=IMAGE_SIZE**2, max_pixels=(2 * IMAGE_SIZE) ** 2).save_pretrained(out)
    tokenizer.chat_template = QWEN_VL_TEMPLATE
    tokenizer.save_pretrained(out)


def _save_idefics3(out: Path) -> None:
    """Idefics3 / SmolVLM: a SigLIP-like tower, pixel shuffle by 2, a Llama language model; images split in tiles."""
    tokenizer = _tokenizer(640, special=(*IDEFICS_TOKENS, *IDEFICS_TILE_TOKENS))
    tile = 2 * IMAGE_SIZE  # 4x4 patches of 14 px, shuffled by 2: four image tokens per tile
    text = _text_dict(tokenizer, model_type="llama", rms_norm_eps=1e-5)
    text.pop("max_window_layers", None)
    vision = {
        "hidden_size": WIDTH,
        "intermediate_size": 2 * WIDTH,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": tile,
        "patch_size": PATCH,
    }
    config = Idefics3Config(
        text_config=text,
        vision_config=vision,
        image_token_id=token_id(tokenizer, "<image>"),
        scale_factor=2,
        **{"pad_token_id": tokenizer.pad_token_id},  # read by __post_init__, unknown to the type stubs
    )
    Idefics3ForConditionalGeneration(config).save_pretrained(out)
    Idefics3ImageProcessorPil(
        size={"longest_edge": 2 * tile}, max_image_size={"longest_edge": tile}, do_image_splitting=True
    ).save_pretrained(out)
    processor_config = {"processor_class": "Idefics3Processor", "image_seq_len": 4}
    (out / "processor_config.json").write_text(json.dumps(processor_config, indent=2) + "\n")
    tokenizer.chat_template = IDEFICS_TEMPLATE
    tokenizer.save_pretrained(out)


BUILDERS: dict[str, Callable[[Path], None]] = {
    "llava-onevision": _save_onevision,
    "llava": _save_llava,
    "qwen2-vl": lambda out: _save_qwen_vl(out, version="2"),
    "qwen2.5-vl": lambda out: _save_qwen_vl(out, version="2.5"),
    "idefics3": _save_idefics3,
}


def build_tiny_critic(out: str | Path, *, arch: str = "llava-onevision", seed: int = 0) -> Path:
    """Write a random-weight critic of this architecture (model, tokenizer, image processor, chat template) to
    `out`; fully offline. ValueError for an architecture not in ARCHES."""
    if arch not in BUILDERS:
        raise ValueError(f"arch must be one of {', '.join(ARCHES)}, not {arch!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    BUILDERS[arch](out)
    (out / MARKER).write_text(json.dumps({"random_weights": True, "arch": arch, "seed": seed}) + "\n")
    return out
