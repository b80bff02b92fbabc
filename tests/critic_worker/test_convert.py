"""convert_llava_critic on a tiny checkpoint that this test writes in the original LLaVA-NeXT key layout:
the converted model gives the same logits as the model the weights came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from transformers import AutoTokenizer, LlavaOnevisionForConditionalGeneration

from critic_worker.convert import ConversionError, convert_llava_critic
from critic_worker.engine import CriticEngine, JudgeRequest, open_image
from critic_worker.profiles import PromptInput, chat_prompt, get_profile
from critic_worker.prompting import CriticInput
from critic_worker.tiny import build_tiny_critic
from tests.images import png_bytes


def original_layout(reference: LlavaOnevisionForConditionalGeneration) -> dict[str, torch.Tensor]:
    """The weights as LLaVA-NeXT's llava_qwen names them (written independently of the converter's table)."""
    out = {}
    for name, tensor in reference.state_dict().items():
        if name.startswith("model.vision_tower."):
            key = "model.vision_tower.vision_tower.vision_model." + name.removeprefix("model.vision_tower.")
        elif name.startswith("model.multi_modal_projector.linear_1."):
            key = "model.mm_projector.0." + name.rsplit(".", 1)[1]
        elif name.startswith("model.multi_modal_projector.linear_2."):
            key = "model.mm_projector.2." + name.rsplit(".", 1)[1]
        elif name.startswith("model.language_model."):
            key = "model." + name.removeprefix("model.language_model.")
        else:
            key = name  # model.image_newline, lm_head.weight
        out[key] = tensor.clone().contiguous()
    return out


def write_original(reference_dir: Path, src: Path, *, drop_image_tokens: bool = False) -> None:
    reference = LlavaOnevisionForConditionalGeneration.from_pretrained(reference_dir)
    state = original_layout(reference)
    state["model.vision_tower.vision_tower.vision_model.head.probe"] = torch.zeros(1, 1, 64)  # SigLIP's head
    src.mkdir()
    save_file(state, src / "model.safetensors")
    text = reference.config.text_config.to_dict()
    grid = reference.config.image_grid_pinpoints
    config = {
        **{
            k: text[k]
            for k in (
                "hidden_size",
                "intermediate_size",
                "num_hidden_layers",
                "num_attention_heads",
                "num_key_value_heads",
                "vocab_size",
                "rms_norm_eps",
                "rope_parameters",
                "max_position_embeddings",
            )
            if k in text
        },
        "architectures": ["LlavaQwenForCausalLM"],
        "model_type": "llava",
        "mm_vision_tower": "tiny-siglip-for-tests",
        "mm_projector_type": "mlp2x_gelu",
        "mm_hidden_size": 64,
        "image_aspect_ratio": "anyres_max_9",
        "image_grid_pinpoints": grid,
        "mm_patch_merge_type": "spatial_unpad",
    }
    (src / "config.json").write_text(json.dumps(config))
    AutoTokenizer.from_pretrained(reference_dir).save_pretrained(src)


@pytest.fixture(scope="module")
def reference_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_critic(tmp_path_factory.mktemp("reference"), seed=7)


def test_converted_logits_match_the_original_weights(reference_dir: Path, tmp_path: Path) -> None:
    write_original(reference_dir, tmp_path / "original")
    out = convert_llava_critic(tmp_path / "original", tmp_path / "converted", vision_heads=2)

    reference = CriticEngine.load(str(reference_dir), quantization="none")
    converted = CriticEngine.load(str(out), quantization="none")
    prompt = chat_prompt(get_profile("pairwise"), PromptInput("Which?", "Red.", "Blue, I think."))
    seen = [CriticInput(images=[open_image(png_bytes((90, 40)))], prompt=prompt)]
    with torch.inference_mode():
        a = reference.model(**reference.batch_inputs(seen)).logits
        b = converted.model(**converted.batch_inputs(seen)).logits
    assert a.shape == b.shape
    torch.testing.assert_close(a, b)
    request = JudgeRequest([open_image(png_bytes())], "pointwise", "Q?", "An answer.")
    assert converted.judge([request])[0].probabilities == reference.judge([request])[0].probabilities


def test_unknown_towers_need_their_head_count(reference_dir: Path, tmp_path: Path) -> None:
    write_original(reference_dir, tmp_path / "original")
    with pytest.raises(ConversionError, match="--vision-heads"):
        convert_llava_critic(tmp_path / "original", tmp_path / "converted")


def test_a_transformers_checkpoint_is_not_mistaken_for_an_original(reference_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="not an original LLaVA-NeXT checkpoint"):
        convert_llava_critic(reference_dir, tmp_path / "converted")
