"""A tiny critic with random weights, built offline: the real architectures (SigLIP + Qwen2 for
LLaVA-OneVision, CLIP + Qwen2 for LLaVA) at width 64, so that every code path — processor, generate,
nf4/int8 quantization on a CPU — runs for real in tests and in the demo. Its verdicts mean nothing."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    CLIPVisionConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaOnevisionConfig,
    LlavaOnevisionForConditionalGeneration,
    LlavaProcessor,
    PreTrainedTokenizerFast,
    Qwen2Config,
    SiglipVisionConfig,
)
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

from critic_worker.checkpoint_info import MARKER, token_id
from critic_worker.engine import onevision_image_processor
from critic_worker.profiles import PROFILES, PromptInput, chat_prompt

ARCHES = ("llava-onevision", "llava")
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"]
WIDTH = 64  # bitsandbytes' nf4 on a CPU needs in_features that are multiples of 64
IMAGE_SIZE, PATCH = 28, 14  # 2x2 patches: four image tokens per tile


def _tokenizer(vocab_size: int = 512) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained here on the critic's own prompts and verdict lines."""
    corpus = []
    for profile in PROFILES.values():
        corpus.append(chat_prompt(profile, PromptInput("What is shown?", "A cat.", "A dog.", "A cat.")))
        corpus += [profile.render(v) for v in profile.verdicts()]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens={"image_token": "<image>", "video_token": "<video>"},
    )


def _text_config(tokenizer: PreTrainedTokenizerFast) -> Qwen2Config:
    return Qwen2Config(
        vocab_size=-(-len(tokenizer) // 64) * 64,  # padded to a multiple of 64, as the real conversion does
        hidden_size=WIDTH,
        intermediate_size=2 * WIDTH,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
    )


def _save_onevision(out: Path, tokenizer: PreTrainedTokenizerFast) -> None:
    pinpoints = [[IMAGE_SIZE * h, IMAGE_SIZE * w] for h in (1, 2) for w in (1, 2)]
    vision = SiglipVisionConfig(
        hidden_size=WIDTH,
        intermediate_size=2 * WIDTH,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=IMAGE_SIZE,
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
    onevision_image_processor(IMAGE_SIZE, pinpoints).save_pretrained(out)
    tokenizer.save_pretrained(out)


def _save_llava(out: Path, tokenizer: PreTrainedTokenizerFast) -> None:
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
    ).save_pretrained(out)


def build_tiny_critic(out: str | Path, *, arch: str = "llava-onevision", seed: int = 0) -> Path:
    """Write a random-weight critic (model, tokenizer, image processor) to `out`; fully offline."""
    if arch not in ARCHES:
        raise ValueError(f"arch must be one of {', '.join(ARCHES)}, not {arch!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    save = _save_onevision if arch == "llava-onevision" else _save_llava
    save(out, _tokenizer())
    (out / MARKER).write_text(json.dumps({"random_weights": True, "arch": arch, "seed": seed}) + "\n")
    return out
