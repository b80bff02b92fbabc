"""The critic engine: loads a LLaVA-OneVision (or LLaVA) checkpoint with transformers, quantized with
bitsandbytes, and judges batches of items. Django-free: plain inputs in, plain verdicts out, usable from a
notebook. Heavy imports (torch, transformers) live here and only here.

How a verdict is read:
1. one padded ``generate`` call for the batch (left padding, greedy) writes each item's free-text evaluation;
2. the profile's parser reads the verdict from that text;
3. the engine scores every verdict line the profile can produce (``Profile.verdict_line``) as a continuation of
   the critic's context — right after the prompt for verdict-first profiles, after its own justification for
   verdict-last ones — which gives the probability the critic puts on each verdict. That distribution is the
   verdict's confidence, and its argmax is the *forced* verdict used when the free text cannot be parsed.
"""

from __future__ import annotations

import io
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image, UnidentifiedImageError
from transformers import (
    AutoConfig,
    AutoProcessor,
    AutoTokenizer,
    BitsAndBytesConfig,
    DynamicCache,
    LlavaForConditionalGeneration,
    LlavaOnevisionForConditionalGeneration,
    LlavaOnevisionProcessor,
)
from transformers.models.llava_onevision.image_processing_pil_llava_onevision import LlavaOnevisionImageProcessorPil
from transformers.processing_utils import ProcessorMixin
from transformers.utils import logging as hf_logging

from critic_worker.profiles import Profile, PromptInput, Verdict, chat_prompt, format_score, get_profile

hf_logging.disable_progress_bar()
# bitsandbytes' int8 path logs this on every matmul of a float32 model on a CPU.
logging.getLogger("bitsandbytes.autograd._functions").setLevel(logging.ERROR)

# Modules kept in full precision when quantizing: the vision side and the output head are small and sensitive.
SKIP_QUANTIZATION = ["model.vision_tower", "model.multi_modal_projector", "lm_head"]
SIGLIP_NORMALISATION = [0.5, 0.5, 0.5]  # SigLIP's image mean and std, as LLaVA-OneVision's processor uses
CANDIDATE_CHUNK = 32  # verdict lines scored per forward pass; bounds the memory of the repeated context cache


def onevision_image_processor(size: int, pinpoints: list[list[int]]) -> LlavaOnevisionImageProcessorPil:
    """LLaVA-OneVision's image processor (PIL backend) for a SigLIP tower of this input size."""
    return LlavaOnevisionImageProcessorPil(
        size={"height": size, "width": size},
        image_grid_pinpoints=pinpoints,
        image_mean=SIGLIP_NORMALISATION,
        image_std=SIGLIP_NORMALISATION,
    )


class ImageOnlyOnevisionProcessor(LlavaOnevisionProcessor):
    """LLaVA-OneVision's processor without the video processor (which needs torchvision): images and text only."""

    def __init__(
        self,
        image_processor: Any = None,
        tokenizer: Any = None,
        num_image_tokens: int | None = None,
        vision_feature_select_strategy: str | None = None,
        chat_template: str | None = None,
        vision_aspect_ratio: str = "anyres_max_9",
    ) -> None:
        self.num_image_tokens = num_image_tokens
        self.vision_feature_select_strategy = vision_feature_select_strategy
        self.image_token = getattr(tokenizer, "image_token", None) or "<image>"
        self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        self.video_token = "<video>"
        self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
        self.vision_aspect_ratio = vision_aspect_ratio
        ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)


@dataclass(frozen=True)
class JudgeRequest:
    image: bytes
    profile: str
    question: str
    response_a: str
    response_b: str = ""
    reference: str = ""
    context: tuple[tuple[str, str], ...] = ()  # earlier turns, (role, text)

    def prompt_input(self) -> PromptInput:
        return PromptInput(self.question, self.response_a, self.response_b, self.reference, self.context)


@dataclass(frozen=True)
class JudgeResult:
    verdict: Verdict | None
    raw_output: str = ""
    confidence: float | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    expected_score: float | None = None
    forced: bool = False
    latency_ms: float = 0.0
    error: str = ""  # set when the item itself cannot be judged (an unreadable image): retrying will not help


class UnreadableImage(ValueError):
    pass


def resolve_device(device: str) -> str:
    if device in ("", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def quantization_config(quantization: str, device: str) -> BitsAndBytesConfig | None:
    if quantization == "none":
        return None
    if quantization == "nf4":
        compute = torch.bfloat16 if device.startswith("cuda") else torch.float32
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=compute,
            llm_int8_skip_modules=SKIP_QUANTIZATION,
        )
    if quantization == "int8":
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=SKIP_QUANTIZATION)
    raise ValueError(f"quantization must be nf4, int8 or none, not {quantization!r}")


ADAPTER_CONFIG = "adapter_config.json"  # a folder holding a peft LoRA adapter rather than full weights


def adapter_base(path: str | Path) -> str | None:
    """The base checkpoint a LoRA adapter folder was trained on; None for a folder of full weights."""
    config = Path(path) / ADAPTER_CONFIG
    if not config.is_file():
        return None
    return str(json.loads(config.read_text())["base_model_name_or_path"])


def load_critic(
    model_path: str | Path, *, quantization: str = "nf4", device: str = "auto", revision: str | None = None
) -> tuple[Any, Any]:
    """The model and its processor. A LoRA adapter folder loads its base (quantized as asked) with the adapter:
    merged into the weights in full precision, kept beside them on quantized ones."""
    device = resolve_device(device)
    model: Any
    processor: Any
    base = adapter_base(model_path)
    if base is not None:
        from peft import PeftModel

        model, processor = load_critic(base, quantization=quantization, device=device)
        with_adapter = PeftModel.from_pretrained(model, str(model_path))
        model = with_adapter.merge_and_unload() if quantization == "none" else with_adapter.get_base_model()
        return model.eval(), processor
    hub: dict[str, Any] = {"revision": revision} if revision else {}
    config = AutoConfig.from_pretrained(model_path, **hub)
    quant = quantization_config(quantization, device)
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    kwargs: dict[str, Any] = {**hub, "dtype": dtype, "device_map": {"": device}}
    if quant is not None:
        kwargs["quantization_config"] = quant
    if config.model_type == "llava_onevision":
        model = LlavaOnevisionForConditionalGeneration.from_pretrained(model_path, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(model_path, **hub)
        image_processor = LlavaOnevisionImageProcessorPil.from_pretrained(model_path, **hub)
        vision = config.vision_config
        processor = ImageOnlyOnevisionProcessor(
            image_processor=image_processor,
            tokenizer=tokenizer,
            num_image_tokens=(vision.image_size // vision.patch_size) ** 2,
            vision_feature_select_strategy=config.vision_feature_select_strategy,
            vision_aspect_ratio=config.vision_aspect_ratio,
        )
    elif config.model_type == "llava":
        model = LlavaForConditionalGeneration.from_pretrained(model_path, **kwargs)
        processor = AutoProcessor.from_pretrained(model_path, **hub)
    else:
        raise ValueError(f"{model_path}: a critic is a llava_onevision or llava model, not {config.model_type}")
    return model, processor


def open_image(data: bytes) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UnreadableImage(f"unreadable image: {exc}") from None


class CriticEngine:
    def __init__(self, model: Any, processor: Any, *, max_new_tokens: int = 512, name: str = "") -> None:
        self.model = model.eval()
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.tokenizer.padding_side = "left"
        self.max_new_tokens = max_new_tokens
        self.name = name
        self.device = next(model.parameters()).device
        self._eos = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._candidates: dict[str, tuple[list[Verdict], list[list[int]]]] = {}

    @classmethod
    def load(
        cls,
        model_path: str,
        *,
        quantization: str = "nf4",
        device: str = "auto",
        max_new_tokens: int = 512,
        revision: str | None = None,
    ) -> CriticEngine:
        """Load a LLaVA-OneVision or LLaVA checkpoint, or a LoRA adapter on one, from a folder or a hub id."""
        model, processor = load_critic(model_path, quantization=quantization, device=device, revision=revision)
        return cls(model, processor, max_new_tokens=max_new_tokens, name=str(model_path))

    # -- judging ------------------------------------------------------------------------------------------------

    @torch.inference_mode()
    def judge(self, requests: list[JudgeRequest]) -> list[JudgeResult]:
        """Judge a batch: one padded generate call, then the verdict distribution for each item."""
        results: list[JudgeResult | None] = [None] * len(requests)
        images: list[Image.Image] = []
        ready: list[int] = []
        for i, request in enumerate(requests):
            try:
                get_profile(request.profile)
                images.append(open_image(request.image))
                ready.append(i)
            except (UnreadableImage, KeyError) as exc:
                results[i] = JudgeResult(verdict=None, error=str(exc))
        if ready:
            started = time.perf_counter()
            profiles = [get_profile(requests[i].profile) for i in ready]
            prompts = [chat_prompt(p, requests[i].prompt_input()) for p, i in zip(profiles, ready, strict=True)]
            texts = self._generate(images, prompts)
            parsed = [p.parse(t) for p, t in zip(profiles, texts, strict=True)]
            contexts = [
                prompt if profile.verdict_first else prompt + _justification_context(text, verdict)
                for prompt, profile, text, verdict in zip(prompts, profiles, texts, parsed, strict=True)
            ]
            distributions = self._verdict_distributions(images, contexts, profiles)
            latency = (time.perf_counter() - started) * 1000 / len(ready)
            for i, profile, text, verdict, dist in zip(ready, profiles, texts, parsed, distributions, strict=True):
                results[i] = _result(profile, text, verdict, dist, latency)
        return [r for r in results if r is not None]

    def _inputs(self, images: list[Image.Image], texts: list[str]) -> dict[str, torch.Tensor]:
        batch = self.processor(images=images, text=texts, return_tensors="pt", padding=True)
        return {k: v.to(self.device) if hasattr(v, "to") else v for k, v in batch.items()}

    def _generate(self, images: list[Image.Image], prompts: list[str]) -> list[str]:
        inputs = self._inputs(images, prompts)
        out = self.model.generate(
            **inputs,
            max_new_tokens=self.max_new_tokens,
            do_sample=False,
            eos_token_id=self._eos,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        new_tokens = out[:, inputs["input_ids"].shape[1] :]
        return [t.strip() for t in self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]

    def _candidate_tokens(self, profile: Profile) -> tuple[list[Verdict], list[list[int]]]:
        """Every verdict line of the profile as token ids, each ending in what follows it (so none is a
        prefix of another): a newline before the reasons, or the end of the turn after them."""
        if profile.name not in self._candidates:
            verdicts = profile.verdicts()
            ids = []
            for verdict in verdicts:
                tokens = self.tokenizer(profile.verdict_line(verdict), add_special_tokens=False)["input_ids"]
                end = self.tokenizer("\n", add_special_tokens=False)["input_ids"] if profile.verdict_first else []
                ids.append([*tokens, *end] if end else [*tokens, self._eos])
            self._candidates[profile.name] = (verdicts, ids)
        return self._candidates[profile.name]

    def _verdict_distributions(
        self, images: list[Image.Image], contexts: list[str], profiles: list[Profile]
    ) -> list[dict[Verdict, float]]:
        """P(verdict line | context) for every verdict line of each item's profile, normalised per item."""
        inputs = self._inputs(images, contexts)
        mask = inputs["attention_mask"]
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(**inputs, position_ids=positions, use_cache=True)
        first_logp = torch.log_softmax(out.logits[:, -1, :].float(), dim=-1)
        cache = out.cache
        ends = positions[:, -1]  # position of each context's last token

        rows: list[tuple[int, int, list[int]]] = []  # (item, verdict index, tokens)
        per_item: list[list[Verdict]] = []
        for i, profile in enumerate(profiles):
            verdicts, candidates = self._candidate_tokens(profile)
            per_item.append(verdicts)
            rows += [(i, k, tokens) for k, tokens in enumerate(candidates)]
        scores = [torch.full((len(v),), -math.inf) for v in per_item]
        for start in range(0, len(rows), CANDIDATE_CHUNK):
            chunk = rows[start : start + CANDIDATE_CHUNK]
            width = max(len(t) for _, _, t in chunk)
            items = torch.tensor([i for i, _, _ in chunk], device=self.device)
            ids = torch.full((len(chunk), width), self.tokenizer.pad_token_id, device=self.device)
            valid = torch.zeros((len(chunk), width), dtype=torch.bool, device=self.device)
            for row, (_, _, tokens) in enumerate(chunk):
                ids[row, : len(tokens)] = torch.tensor(tokens, device=self.device)
                valid[row, : len(tokens)] = True
            logp = first_logp[items].gather(1, ids[:, :1]).squeeze(1)
            if width > 1:
                repeated = DynamicCache()
                for layer_idx, layer in enumerate(cache.layers):
                    repeated.update(layer.keys[items], layer.values[items], layer_idx)
                step = self.model(
                    input_ids=ids[:, :-1],
                    attention_mask=torch.cat([mask[items], valid[:, :-1].long()], dim=1),
                    position_ids=ends[items, None] + 1 + torch.arange(width - 1, device=self.device),
                    cache=repeated,
                    use_cache=True,
                )
                token_logp = torch.log_softmax(step.logits.float(), dim=-1).gather(2, ids[:, 1:, None]).squeeze(2)
                logp = logp + (token_logp * valid[:, 1:]).sum(dim=1)
            for row, (i, k, _) in enumerate(chunk):
                scores[i][k] = logp[row].item()
        distributions = []
        for verdicts, item_scores in zip(per_item, scores, strict=True):
            probs = torch.softmax(item_scores, dim=0).tolist()
            distributions.append(dict(zip(verdicts, probs, strict=True)))
        return distributions


def _justification_context(text: str, verdict: Verdict | None) -> str:
    """What precedes the verdict line in a verdict-last output: the critic's own reasons."""
    reasons = verdict.justification if verdict is not None else text
    return reasons.strip() + "\n" if reasons.strip() else ""


def _result(
    profile: Profile, text: str, parsed: Verdict | None, dist: dict[Verdict, float], latency_ms: float
) -> JudgeResult:
    def label(v: Verdict) -> str:
        return v.preference if v.preference is not None else v.label

    by_label: dict[str, float] = {}
    for verdict, p in dist.items():
        by_label[label(verdict)] = by_label.get(label(verdict), 0.0) + p
    forced = parsed is None
    if parsed is None:
        # The most probable verdict; for WildVision's strengths, the preference first, then its likelier strength.
        top = max(by_label, key=lambda k: by_label[k])
        best = max((v for v in dist if label(v) == top), key=lambda v: dist[v])
        parsed = Verdict(score=best.score, preference=best.preference, strong=best.strong, justification=text)
    # A parsed score off the integer grid (LLaVA-Bench's 6.5) takes the probability of its nearest grid point.
    key = parsed.preference if parsed.preference is not None else format_score(round(parsed.score or 0.0))
    expected = None
    if profile.is_pointwise:
        expected = sum((v.score or 0.0) * p for v, p in dist.items())
    return JudgeResult(
        verdict=parsed,
        raw_output=text,
        confidence=round(by_label.get(key, 0.0), 6),
        probabilities={k: round(p, 6) for k, p in by_label.items()},
        expected_score=expected,
        forced=forced,
        latency_ms=latency_ms,
    )
