"""What can be known about a checkpoint folder without loading it (light: no torch)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MARKER = "critic_desk.json"  # written by build_tiny_critic
TINY_ARCHES = ("llava-onevision", "llava", "qwen2-vl", "qwen2.5-vl", "idefics3")  # what build_tiny_critic builds


def is_random_weight_critic(path: str | Path) -> bool:
    marker = Path(path) / MARKER
    try:
        return bool(json.loads(marker.read_text()).get("random_weights"))
    except (OSError, ValueError):
        return False


def token_id(tokenizer: Any, token: str) -> int:
    """The id of one token (transformers types the lookup as int or list of ints)."""
    found = tokenizer.convert_tokens_to_ids(token)
    if not isinstance(found, int):
        raise ValueError(f"{token!r} is not a single token of this tokenizer")
    return found
