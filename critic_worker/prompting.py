"""What the critic is given: its images and the whole prompt text after the chat template. One function,
``critic_input``, builds both for the worker (through the engine) and for ``manage.py critic_input``, so what an
administrator inspects is what the critic received; retraining builds each training row's prompt with the same code
(``row_prompt``), so a critic is trained on what it is asked. Django-free and model-free: it needs the processor only.

The prompt format:
- LLaVA-OneVision critics (LLaVA-Critic and its retrained children) get LLaVA-Critic's own prompt byte for byte:
  the qwen_1_5 ChatML conversation with the "You are a helpful assistant." system turn and ``<image>`` then a
  newline before the profile's prompt (``profiles.chat_prompt``), as in its training rows;
- every other architecture gets its processor's own chat template, with the profile's prompt as the user turn after
  the images (and the profile's system text, if it has one, as the system turn).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from critic_worker.profiles import SYSTEM_PROMPT, Profile, PromptInput, chat_for_turn

LLAVA_CRITIC_TYPES = frozenset({"llava_onevision"})  # model types prompted exactly as LLaVA-Critic was trained
IMAGE_TOKEN = "<image>"  # a picture's place in a LLaVA conversation (and in a training row's human turn)


@dataclass(frozen=True)
class CriticInput:
    """Exactly what the critic receives for one item: the pictures (normalised, before the processor's own resizing)
    in order, and the prompt text after the chat template, image placeholders included."""

    images: list[Image.Image]
    prompt: str


def profile_system(profile: Profile) -> str:
    """The profile's system text ('' when it has none: the built-in families do not)."""
    return str(getattr(profile, "system", "") or "")


def critic_prompt(*, processor: Any, model_type: str, profile: Profile, item: PromptInput, images: int) -> str:
    """The whole prompt for an item with `images` pictures (see the module docstring for the format).
    ValueError when a non-LLaVA-Critic checkpoint has no chat template."""
    return conversation_prompt(
        processor=processor,
        model_type=model_type,
        system=profile_system(profile),
        text=profile.prompt(item),
        images=images,
    )


def conversation_prompt(*, processor: Any, model_type: str, system: str, text: str, images: int) -> str:
    """The whole prompt for a user turn of `images` pictures then `text` (a profile's filled prompt), after a system
    turn `system` ('' for none: LLaVA-Critic's default one, or the chat template's own). ``critic_prompt`` for an
    item, ``row_prompt`` for a training row: one builder, so that a critic is trained on what it is asked.
    ValueError when a non-LLaVA-Critic checkpoint has no chat template."""
    if model_type in LLAVA_CRITIC_TYPES:
        # One image: chat_prompt's text exactly (user_turn's "<image>\n" then the prompt); several: one <image>
        # line each, in order.
        chat = chat_for_turn("\n".join([IMAGE_TOKEN] * images) + "\n" + text)
        return _chatml_system(system) + chat.removeprefix(_chatml_system(SYSTEM_PROMPT)) if system else chat
    if not getattr(processor, "chat_template", None):
        raise ValueError(f"this {model_type} checkpoint has no chat template: its prompt format is unknown")
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": [{"type": "text", "text": system}]})
    content = [{"type": "image"} for _ in range(images)] + [{"type": "text", "text": text}]
    messages.append({"role": "user", "content": content})
    return str(processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))


def image_lines(human_turn: str) -> int:
    """How many pictures a training row's human turn opens with: its leading ``<image>`` lines."""
    count, opening = 0, IMAGE_TOKEN + "\n"
    while human_turn.startswith(opening):
        human_turn, count = human_turn.removeprefix(opening), count + 1
    return count


def row_prompt(*, processor: Any, model_type: str, human_turn: str, system: str = SYSTEM_PROMPT) -> str:
    """The prompt the engine gives for a training row's human turn: its pictures then the profile's prompt (one
    ``<image>`` line per picture, then the text, as exports write it with ``profiles.user_turn``), with the
    profile's system turn. For LLaVA-OneVision this is ``chat_for_turn(human_turn)`` byte for byte. ValueError for
    a human turn that does not start with ``<image>`` and a newline, or a checkpoint without a chat template."""
    images = image_lines(human_turn)
    if not images:
        raise ValueError(f"a training row's human turn must start with {IMAGE_TOKEN} and a newline")
    text = human_turn.removeprefix((IMAGE_TOKEN + "\n") * images)
    return conversation_prompt(processor=processor, model_type=model_type, system=system, text=text, images=images)


def _chatml_system(system: str) -> str:
    return f"<|im_start|>system\n{system}<|im_end|>\n"


def critic_input(
    *, processor: Any, model_type: str, profile: Profile, item: PromptInput, images: Sequence[Image.Image]
) -> CriticInput:
    """The pictures (as RGB) and the prompt the critic is given for one item. ValueError for an item without one."""
    if not images:
        raise ValueError("an item needs at least one image for the critic")
    pictures = [im if im.mode == "RGB" else im.convert("RGB") for im in images]
    prompt = critic_prompt(processor=processor, model_type=model_type, profile=profile, item=item, images=len(pictures))
    return CriticInput(images=pictures, prompt=prompt)


def turn_end_text(processor: Any, model_type: str) -> str:
    """What closes the critic's turn in its chat format (``<|im_end|>`` in ChatML, ``<end_of_utterance>`` in
    Idefics3's): read off the chat template by rendering a one-word answer; '' when nothing closes it."""
    if model_type in LLAVA_CRITIC_TYPES or not getattr(processor, "chat_template", None):
        return "<|im_end|>"
    marker = "Xq7Zanswer"
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "Q"}]},
        {"role": "assistant", "content": [{"type": "text", "text": marker}]},
    ]
    try:
        text = str(processor.apply_chat_template(messages, tokenize=False))
    except Exception:  # a template that cannot render an answer turn: fall back to the end-of-sequence token
        return ""
    return text.split(marker, 1)[1] if marker in text else ""
