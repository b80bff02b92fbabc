"""What can be known about a checkpoint folder without loading it (light: no torch)."""

from __future__ import annotations

import json
from pathlib import Path

MARKER = "critic_desk.json"  # written by build_tiny_critic


def is_random_weight_critic(path: str | Path) -> bool:
    marker = Path(path) / MARKER
    try:
        return bool(json.loads(marker.read_text()).get("random_weights"))
    except (OSError, ValueError):
        return False
