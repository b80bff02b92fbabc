from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from critic_worker.tiny import build_tiny_critic


@pytest.fixture(scope="session")
def tiny_critics(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """A tiny random-weight critic of an architecture, built once per session."""
    built: dict[str, Path] = {}

    def get(arch: str) -> Path:
        if arch not in built:
            built[arch] = build_tiny_critic(tmp_path_factory.mktemp(f"tiny-{arch}"), arch=arch)
        return built[arch]

    return get


@pytest.fixture(scope="session")
def tiny_critic(tiny_critics: Callable[[str], Path]) -> Path:
    return tiny_critics("llava-onevision")


@pytest.fixture
def single_torch_thread() -> Iterator[None]:
    """Training a width-64 model gains nothing from threads; on a shared 2-core machine they only contend."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
