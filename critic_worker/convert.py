"""Convert the original LLaVA-NeXT layout of LLaVA-Critic (llava-critic-7b / -72b: `llava_qwen`, a Qwen2 language
model with a SigLIP tower and a two-layer projector) into a transformers LlavaOnevision checkpoint that
`CriticEngine.load` (and plain transformers) can read.

What changes: weight names, the configs (the vision config is not in the original folder: it is known for the
SigLIP-so400m tower the critics use, or inferred from the weights), `<image>`/`<video>` tokens added to the
tokenizer if missing (embeddings grown to a multiple of 64, new rows at the mean), and an image processor.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, cast

import torch
from safetensors.torch import load_file
from transformers import (
    AutoTokenizer,
    LlavaOnevisionConfig,
    LlavaOnevisionForConditionalGeneration,
    Qwen2Config,
    SiglipVisionConfig,
)

from critic_worker.checkpoint_info import token_id
from critic_worker.engine import onevision_image_processor

SIGLIP_SO400M = {
    "hidden_size": 1152,
    "intermediate_size": 4304,
    "num_attention_heads": 16,
    "patch_size": 14,
    "image_size": 384,
}
VISION_PREFIX = "model.vision_tower.vision_tower.vision_model."
RENAMES = [
    (re.compile(r"^" + re.escape(VISION_PREFIX)), "model.vision_tower."),
    (re.compile(r"^model\.mm_projector\.0\."), "model.multi_modal_projector.linear_1."),
    (re.compile(r"^model\.mm_projector\.2\."), "model.multi_modal_projector.linear_2."),
    (re.compile(r"^model\.(embed_tokens|layers|norm)\b"), r"model.language_model.\1"),
]


class ConversionError(ValueError):
    pass


def rename_key(key: str) -> str | None:
    """The transformers name of an original weight; None for weights the converted model does not use."""
    if key.startswith(VISION_PREFIX + "head."):
        return None  # SigLIP's pooling head: LLaVA replaces it with an identity
    for pattern, replacement in RENAMES:
        if pattern.search(key):
            return pattern.sub(replacement, key)
    return key  # model.image_newline, lm_head.weight


def _load_state(src: Path) -> dict[str, torch.Tensor]:
    files = sorted(src.glob("*.safetensors")) or sorted(src.glob("pytorch_model*.bin"))
    if not files:
        raise ConversionError(f"{src}: no *.safetensors or pytorch_model*.bin weights")
    state: dict[str, torch.Tensor] = {}
    for file in files:
        state.update(load_file(file) if file.suffix == ".safetensors" else torch.load(file, weights_only=True))
    return state


def _pinpoints(value: Any, base: int) -> list[list[int]]:
    """LLaVA-NeXT writes pinpoints as a list of [h, w], or as a grid range "(1x1),...,(6x6)" in tiles."""
    if isinstance(value, list):
        return [[int(h), int(w)] for h, w in value]
    grids = [tuple(map(int, m)) for m in re.findall(r"\((\d+)x(\d+)\)", str(value))]
    if not grids:
        raise ConversionError(f"cannot read image_grid_pinpoints {value!r}")
    (h0, w0), (h1, w1) = grids[0], grids[-1]
    return [[base * h, base * w] for h in range(h0, h1 + 1) for w in range(w0, w1 + 1)]


def _vision_config(original: dict[str, Any], state: dict[str, torch.Tensor], heads: int | None) -> SiglipVisionConfig:
    tower = str(original.get("mm_vision_tower", ""))
    patch = state[VISION_PREFIX + "embeddings.patch_embedding.weight"]
    positions = state[VISION_PREFIX + "embeddings.position_embedding.weight"].shape[0]
    layers = {
        int(m.group(1)) for k in state if (m := re.match(re.escape(VISION_PREFIX) + r"encoder\.layers\.(\d+)\.", k))
    }
    inferred = {
        "hidden_size": patch.shape[0],
        "patch_size": patch.shape[2],
        "image_size": round(positions**0.5) * patch.shape[2],
        "intermediate_size": state[VISION_PREFIX + "encoder.layers.0.mlp.fc1.weight"].shape[0],
    }
    if "siglip-so400m" in tower:
        known = SIGLIP_SO400M
        if any(known[k] != v for k, v in inferred.items()):
            raise ConversionError(f"the weights do not have the shapes of {tower}: {inferred}")
        heads = heads or known["num_attention_heads"]
    if heads is None:
        raise ConversionError(f"unknown vision tower {tower!r}: give its number of attention heads (--vision-heads)")
    return SiglipVisionConfig(
        **inferred, num_attention_heads=heads, num_hidden_layers=len(layers), vision_use_head=False
    )


def convert_llava_critic(src: str | Path, out: str | Path, *, vision_heads: int | None = None) -> Path:
    src, out = Path(src), Path(out)
    config_path = src / "config.json"
    if not config_path.exists():
        raise ConversionError(f"{src}: no config.json")
    original = json.loads(config_path.read_text())
    if "mm_projector_type" not in original and "mm_vision_tower" not in original:
        raise ConversionError(f"{src}: not an original LLaVA-NeXT checkpoint (no mm_vision_tower in config.json)")
    if original.get("mm_projector_type", "mlp2x_gelu") != "mlp2x_gelu":
        raise ConversionError(f"projector {original['mm_projector_type']!r} is not LLaVA-OneVision's mlp2x_gelu")
    state = _load_state(src)
    if VISION_PREFIX + "embeddings.patch_embedding.weight" not in state:
        raise ConversionError(f"{src}: no vision tower weights under {VISION_PREFIX}")

    tokenizer = AutoTokenizer.from_pretrained(src)
    added = tokenizer.add_tokens(
        [t for t in ("<image>", "<video>") if t not in tokenizer.get_vocab()], special_tokens=True
    )
    embed, head = state["model.embed_tokens.weight"], state.get("lm_head.weight")
    if len(tokenizer) > embed.shape[0]:
        rows = -(-len(tokenizer) // 64) * 64
        state["model.embed_tokens.weight"] = _grow(embed, rows)
        if head is not None:
            state["lm_head.weight"] = _grow(head, rows)
    vocab = state["model.embed_tokens.weight"].shape[0]

    text_fields = set(Qwen2Config().to_dict())
    text = Qwen2Config(
        **{k: v for k, v in original.items() if k in text_fields and k not in {"architectures", "model_type"}}
    )
    text.vocab_size = vocab
    vision = _vision_config(original, state, vision_heads)
    size = cast(int, vision.image_size)
    pinpoints = _pinpoints(original.get("image_grid_pinpoints", [[size, size]]), size)
    config = LlavaOnevisionConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=token_id(tokenizer, "<image>"),
        video_token_index=token_id(tokenizer, "<video>"),
        image_grid_pinpoints=pinpoints,
        vision_aspect_ratio=original.get("image_aspect_ratio", "anyres_max_9"),
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        tie_word_embeddings=bool(original.get("tie_word_embeddings", False)),
    )
    with torch.device("meta"):
        model = LlavaOnevisionForConditionalGeneration(config)
    renamed = {new: tensor for key, tensor in state.items() if (new := rename_key(key)) is not None}
    if config.tie_word_embeddings:
        renamed.setdefault("lm_head.weight", renamed["model.language_model.embed_tokens.weight"])
    expected = set(model.state_dict())
    missing, unexpected = expected - set(renamed), set(renamed) - expected
    if missing or unexpected:
        raise ConversionError(
            f"weights do not match: missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
        )
    model.load_state_dict(renamed, strict=True, assign=True)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    onevision_image_processor(size, pinpoints).save_pretrained(out)
    (out / "conversion.json").write_text(
        json.dumps({"source": str(src), "tokens_added": added, "vocab_size": vocab}, indent=2) + "\n"
    )
    return out


def _grow(weight: torch.Tensor, rows: int) -> torch.Tensor:
    """New token rows start at the mean of the existing ones (as transformers' own conversion does)."""
    extra = weight.float().mean(dim=0, keepdim=True).to(weight.dtype).expand(rows - weight.shape[0], -1)
    return torch.cat([weight, extra], dim=0)
