"""The critic engine: judges batches of items with any vision-language checkpoint transformers loads as an
image-text-to-text model (LLaVA-OneVision / LLaVA-Critic, LLaVA, Qwen2-VL, Qwen2.5-VL, Idefics3 / SmolVLM, ...),
quantized with bitsandbytes or not. Django-free: plain inputs in (pictures already normalised, texts, a profile),
plain verdicts out, usable from a notebook. Heavy imports (torch, transformers) live in this package only.

How a verdict is read (the same for every architecture):
1. ``prompting.critic_input`` builds each item's pictures and prompt (the one function ``critic_input`` uses too);
2. one padded ``generate`` call for the batch (left padding, greedy) writes each item's free-text evaluation;
3. ``scoring.read_verdict`` reads the verdict from that text;
4. ``scoring.distributions_from_cache`` scores every verdict line the profile can produce from the generation's own
   KV cache, which gives the probability the critic puts on each verdict: the confidence, and the *forced* verdict
   when the text is unreadable.

Modules: ``loading`` (checkpoints, processors, quantization), ``prompting`` (what the critic is given),
``scoring`` (the verdict distribution), this one (batches).
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image, UnidentifiedImageError

from critic_worker.loading import (
    LoadedCritic,
    adapter_base,
    load_critic,
    onevision_image_processor,
    quantization_config,
    resolve_device,
)
from critic_worker.profiles import Profile, PromptInput, Verdict, get_profile
from critic_worker.prompting import CriticInput, critic_input, turn_end_text
from critic_worker.scoring import (
    Candidates,
    Generated,
    candidate_tokens,
    distributions_from_cache,
    justification_context,
    position_offsets,
    read_verdict,
    verdict_reading,
)

__all__ = [
    "CriticEngine",
    "JudgeRequest",
    "JudgeResult",
    "UnreadableImage",
    "adapter_base",
    "load_critic",
    "onevision_image_processor",
    "open_image",
    "quantization_config",
    "request_input",
    "resolve_device",
]


@dataclass(frozen=True)
class JudgeRequest:
    """One item to judge: its pictures in order (normalised RGB, as ``item_images`` gives them), the profile's name
    and the texts its template is filled with."""

    images: Sequence[Image.Image]
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
    prompt: str = ""  # the whole prompt the critic was given, after the chat template
    error: str = ""  # set when the item itself cannot be judged: retrying will not help


def request_input(request: JudgeRequest, *, processor: Any, model_type: str) -> CriticInput:
    """What the critic is given for a request: the engine's own inputs, and what ``manage.py critic_input`` writes
    (one function, so the two cannot differ). KeyError for an unknown profile, ValueError for an item without
    pictures or a checkpoint without a chat template."""
    return critic_input(
        processor=processor,
        model_type=model_type,
        profile=get_profile(request.profile),
        item=request.prompt_input(),
        images=request.images,
    )


class UnreadableImage(ValueError):
    pass


def open_image(data: bytes) -> Image.Image:
    """Decode image bytes to RGB, for notebooks and tests (the worker passes the stored normalised rendition).
    UnreadableImage when they are not a picture."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UnreadableImage(f"unreadable image: {exc}") from None


def batch_images(per_input: Sequence[Sequence[Image.Image]]) -> list[Image.Image] | list[list[Image.Image]]:
    """A batch's pictures as processors take them: a flat list when each input has one, else one list per input
    (in order), so that each processor pairs every input's image placeholders with its own pictures."""
    if all(len(images) == 1 for images in per_input):
        return [images[0] for images in per_input]
    return [list(images) for images in per_input]


class CriticEngine:
    def __init__(self, critic: LoadedCritic, *, max_new_tokens: int = 512, name: str = "") -> None:
        self.model = critic.model.eval()
        self.processor = critic.processor
        self.model_type = critic.model_type
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.max_new_tokens = max_new_tokens
        self.name = name
        self.device = next(self.model.parameters()).device
        self.turn_end = self._turn_end_ids()
        self.stop_ids = sorted({*self.turn_end[:1], *_ids(self.tokenizer.eos_token_id)})
        self._candidates: dict[str, Candidates] = {}

    @classmethod
    def load(
        cls,
        model_path: str | Path,
        *,
        quantization: str = "nf4",
        device: str = "auto",
        max_new_tokens: int = 512,
        revision: str | None = None,
    ) -> CriticEngine:
        """Load an image-text-to-text checkpoint, or a LoRA adapter on one, from a folder or a hub id."""
        critic = load_critic(model_path, quantization=quantization, device=device, revision=revision)
        return cls(critic, max_new_tokens=max_new_tokens, name=str(model_path))

    def _turn_end_ids(self) -> list[int]:
        """The tokens that close the critic's turn: what follows a verdict-last line, and where generation stops."""
        text = turn_end_text(self.processor, self.model_type)
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"] if text else []
        special = set(self.tokenizer.all_special_ids)
        first = next((t for t in ids if t in special), None)
        return [first] if first is not None else _ids(self.tokenizer.eos_token_id)

    def critic_input(self, request: JudgeRequest) -> CriticInput:
        """What the critic is given for this request (pictures and prompt); KeyError for an unknown profile."""
        return request_input(request, processor=self.processor, model_type=self.model_type)

    # -- judging ------------------------------------------------------------------------------------------------

    @torch.inference_mode()
    def judge(self, requests: list[JudgeRequest]) -> list[JudgeResult]:
        """Judge a batch: one padded generate call, then the verdict distribution for each item from its cache."""
        results: list[JudgeResult | None] = [None] * len(requests)
        inputs: list[CriticInput] = []
        ready: list[int] = []
        for i, request in enumerate(requests):
            try:
                inputs.append(self.critic_input(request))
                ready.append(i)
            except (KeyError, ValueError) as exc:
                results[i] = JudgeResult(verdict=None, error=str(exc).strip("'\""))
        if ready:
            started = time.perf_counter()
            profiles = [get_profile(requests[i].profile) for i in ready]
            texts, generated = self._generate(inputs)
            parsed = [read_verdict(p, t) for p, t in zip(profiles, texts, strict=True)]
            continuations = [
                [] if p.verdict_first else self._ids(justification_context(t, v))
                for p, t, v in zip(profiles, texts, parsed, strict=True)
            ]
            distributions = self._score(generated, continuations, profiles)
            latency = (time.perf_counter() - started) * 1000 / len(ready)
            for i, item, profile, text, verdict, dist in zip(
                ready, inputs, profiles, texts, parsed, distributions, strict=True
            ):
                reading = verdict_reading(profile, text, verdict, dist)
                results[i] = JudgeResult(
                    verdict=reading.verdict,
                    raw_output=text,
                    confidence=reading.confidence,
                    probabilities=reading.probabilities,
                    expected_score=reading.expected_score,
                    forced=reading.forced,
                    latency_ms=latency,
                    prompt=item.prompt,
                )
        return [r for r in results if r is not None]

    def batch_inputs(self, inputs: list[CriticInput]) -> dict[str, Any]:
        """The processor's tensors for a batch (left padded), on the model's device."""
        images = batch_images([i.images for i in inputs])
        batch = self.processor(images=images, text=[i.prompt for i in inputs], return_tensors="pt", padding=True)
        return {k: v.to(self.device) if hasattr(v, "to") else v for k, v in batch.items()}

    def _generate(self, inputs: list[CriticInput]) -> tuple[list[str], Generated]:
        batch = self.batch_inputs(inputs)
        out = self.model.generate(
            **batch,
            max_new_tokens=self.max_new_tokens,
            do_sample=False,
            eos_token_id=self.stop_ids,
            pad_token_id=self.tokenizer.pad_token_id,
            return_dict_in_generate=True,
        )
        prompt_ids = batch["input_ids"]
        new_tokens = out.sequences[:, prompt_ids.shape[1] :]
        texts = [t.strip() for t in self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
        generated = Generated(
            cache=out.cache,
            prompt_ids=prompt_ids,
            prompt_mask=batch["attention_mask"],
            new_tokens=new_tokens,
            offsets=position_offsets(self.model, len(inputs), self.device),
        )
        return texts, generated

    def _score(
        self, generated: Generated, continuations: list[list[int]], profiles: list[Profile]
    ) -> list[dict[Verdict, float]]:
        return distributions_from_cache(
            self.model,
            generated=generated,
            continuations=continuations,
            candidates=[self.candidates(p) for p in profiles],
            pad_id=self.tokenizer.pad_token_id,
        )

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []

    def candidates(self, profile: Profile) -> Candidates:
        """The profile's verdict lines as this tokenizer's ids (computed once per profile)."""
        if profile.name not in self._candidates:
            self._candidates[profile.name] = candidate_tokens(self.tokenizer, profile, turn_end=self.turn_end)
        return self._candidates[profile.name]


def _ids(token_id: int | list[int] | None) -> list[int]:
    if token_id is None:
        return []
    return [token_id] if isinstance(token_id, int) else list(token_id)
