"""Loading a critic: any checkpoint transformers loads as an image-text-to-text model (AutoModelForImageTextToText)
with its AutoProcessor, quantized with bitsandbytes (nf4, int8) or not, or a LoRA adapter on one. Django-free.

Without torchvision (these machines, and the slim worker image) a combined processor that insists on a video
processor (LLaVA-OneVision, Qwen2-VL, Qwen2.5-VL, SmolVLM) cannot be built; the same processor class is then built
without it (``image_only``): images and text are processed exactly as before, videos are refused.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForImageTextToText,
    AutoProcessor,
    BitsAndBytesConfig,
    PretrainedConfig,
)
from transformers.models.auto.processing_auto import PROCESSOR_MAPPING
from transformers.models.llava_onevision.image_processing_pil_llava_onevision import LlavaOnevisionImageProcessorPil
from transformers.processing_utils import ProcessorMixin
from transformers.utils import logging as hf_logging

hf_logging.disable_progress_bar()
# bitsandbytes' int8 path logs this on every matmul of a float32 model on a CPU.
logging.getLogger("bitsandbytes.autograd._functions").setLevel(logging.ERROR)

SIGLIP_NORMALISATION = [0.5, 0.5, 0.5]  # SigLIP's image mean and std, as LLaVA-OneVision's processor uses
ADAPTER_CONFIG = "adapter_config.json"  # a folder holding a peft LoRA adapter rather than full weights
QUANTIZATIONS = ("nf4", "int8", "none")


def onevision_image_processor(size: int, pinpoints: list[list[int]]) -> LlavaOnevisionImageProcessorPil:
    """LLaVA-OneVision's image processor (PIL backend) for a SigLIP tower of this input size."""
    return LlavaOnevisionImageProcessorPil(
        size={"height": size, "width": size},
        image_grid_pinpoints=pinpoints,
        image_mean=SIGLIP_NORMALISATION,
        image_std=SIGLIP_NORMALISATION,
    )


def image_only(processor_class: type[ProcessorMixin]) -> type[ProcessorMixin]:
    """`processor_class` without its video processor: a subclass whose sub-processors are the image processor and
    the tokenizer only (transformers reads a processor's parts from its ``__init__`` signature)."""

    def __init__(self: Any, image_processor: Any = None, tokenizer: Any = None, **kwargs: Any) -> None:
        processor_class.__init__(
            self, image_processor=image_processor, tokenizer=tokenizer, video_processor=None, **kwargs
        )

    return type(f"ImageOnly{processor_class.__name__}", (processor_class,), {"__init__": __init__})


def _processor_class(config: PretrainedConfig, path: str | Path, hub: dict[str, Any]) -> type[ProcessorMixin]:
    """The processor class AutoProcessor would build for this checkpoint."""
    from transformers.models.auto.processing_auto import processor_class_from_name

    try:
        named = json.loads(Path(path, "processor_config.json").read_text()).get("processor_class")
    except (OSError, ValueError):
        named = None
    found = processor_class_from_name(named) if named else PROCESSOR_MAPPING.get(type(config), None)
    if not isinstance(found, type):
        raise ValueError(f"{path}: transformers knows no processor for a {config.model_type} model")
    return found


def load_processor(model_path: str | Path, *, revision: str | None = None) -> tuple[Any, PretrainedConfig]:
    """The checkpoint's processor (its image processor, tokenizer and chat template) and its config, without the
    weights: what ``critic_input`` needs, and the first half of ``load_critic``. A LoRA adapter folder gives its
    base's."""
    model_path = adapter_base(model_path) or model_path
    hub: dict[str, Any] = {"revision": revision} if revision else {}
    config = AutoConfig.from_pretrained(model_path, **hub)
    try:
        processor = AutoProcessor.from_pretrained(model_path, **hub)
    except ImportError as exc:
        if "orchvision" not in str(exc):
            raise
        processor = image_only(_processor_class(config, model_path, hub)).from_pretrained(model_path, **hub)
    if not hasattr(processor, "image_processor"):
        raise ValueError(f"{model_path}: a critic needs an image processor; {type(processor).__name__} has none")
    if not getattr(processor, "chat_template", None) and getattr(processor.tokenizer, "chat_template", None):
        processor.chat_template = processor.tokenizer.chat_template  # older checkpoints keep it with the tokenizer
    _fill_from_config(processor, config)
    return processor, config


def _fill_from_config(processor: Any, config: PretrainedConfig) -> None:
    """Processor settings a checkpoint folder may not carry (a converted LLaVA-Critic has no processor_config.json),
    read from the model config as the original code derives them."""
    vision = getattr(config, "vision_config", None)
    if getattr(processor, "num_image_tokens", 0) is None and vision is not None:
        processor.num_image_tokens = (vision.image_size // vision.patch_size) ** 2
    for name in ("vision_feature_select_strategy", "vision_aspect_ratio"):
        if getattr(processor, name, 0) is None and getattr(config, name, None) is not None:
            setattr(processor, name, getattr(config, name))


def is_image_only(processor: Any) -> bool:
    return type(processor).__name__.startswith("ImageOnly")


def save_processor(processor: Any, out: str | Path) -> None:
    """Save a processor so that ``load_processor`` reads it back; an image-only one part by part (its own class
    name must not reach processor_config.json, where AutoProcessor would look for it)."""
    if not is_image_only(processor):
        processor.save_pretrained(out)
        return
    if processor.chat_template and not processor.tokenizer.chat_template:
        processor.tokenizer.chat_template = processor.chat_template
    processor.tokenizer.save_pretrained(out)
    processor.image_processor.save_pretrained(out)


def resolve_device(device: str) -> str:
    if device in ("", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def full_precision_modules(config: PretrainedConfig) -> list[str]:
    """Every module outside the language model (the vision tower, the projector or connector) and the output head,
    by full name: kept in full precision when quantizing, being small and sensitive (and often of widths
    bitsandbytes' CPU kernels refuse)."""
    with torch.device("meta"):
        skeleton = AutoModelForImageTextToText.from_config(config)
    decoder = skeleton.get_decoder()
    inner = skeleton.model
    names = [f"model.{name}" for name, module in inner.named_children() if module is not decoder]
    return [*names, "lm_head"]


def quantization_config(quantization: str, device: str, *, skip: list[str] | None = None) -> BitsAndBytesConfig | None:
    """bitsandbytes settings for nf4 (4-bit NormalFloat, QLoRA's) or int8 (LLM.int8()); None for none.
    ValueError for another name."""
    skip = skip if skip is not None else ["model.vision_tower", "model.multi_modal_projector", "lm_head"]
    if quantization == "none":
        return None
    if quantization == "nf4":
        compute = torch.bfloat16 if device.startswith("cuda") else torch.float32
        return BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute, llm_int8_skip_modules=skip
        )
    if quantization == "int8":
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=skip)
    raise ValueError(f"quantization must be nf4, int8 or none, not {quantization!r}")


def adapter_base(path: str | Path) -> str | None:
    """The base checkpoint a LoRA adapter folder was trained on; None for a folder of full weights."""
    config = Path(path) / ADAPTER_CONFIG
    if not config.is_file():
        return None
    return str(json.loads(config.read_text())["base_model_name_or_path"])


@dataclass(frozen=True)
class LoadedCritic:
    model: Any
    processor: Any
    model_type: str  # the transformers model type (llava_onevision, qwen2_5_vl, ...): decides the prompt format


def load_critic(
    model_path: str | Path, *, quantization: str = "nf4", device: str = "auto", revision: str | None = None
) -> LoadedCritic:
    """The model, its processor and its type. A LoRA adapter folder loads its base (quantized as asked) with the
    adapter: merged into the weights in full precision, kept beside them on quantized ones. Errors: OSError for a
    missing checkpoint, ValueError for one that is not an image-text-to-text model or a bad quantization."""
    device = resolve_device(device)
    base = adapter_base(model_path)
    if base is not None:
        from peft import PeftModel

        loaded = load_critic(base, quantization=quantization, device=device)
        with_adapter = PeftModel.from_pretrained(loaded.model, str(model_path))
        model = with_adapter.merge_and_unload() if quantization == "none" else with_adapter.get_base_model()
        return LoadedCritic(model.eval(), loaded.processor, loaded.model_type)
    hub: dict[str, Any] = {"revision": revision} if revision else {}
    processor, config = load_processor(model_path, revision=revision)
    quant = quantization_config(quantization, device, skip=full_precision_modules(config))
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    kwargs: dict[str, Any] = {**hub, "dtype": dtype, "device_map": {"": device}}
    if quant is not None:
        kwargs["quantization_config"] = quant
    try:
        model = AutoModelForImageTextToText.from_pretrained(model_path, **kwargs)
    except ValueError as exc:
        raise ValueError(f"{model_path}: not an image-text-to-text model transformers can load ({exc})") from None
    return LoadedCritic(model.eval(), processor, config.model_type)
