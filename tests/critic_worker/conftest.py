from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from critic_worker.tiny import build_tiny_critic


@pytest.fixture(scope="session")
def tiny_critic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_critic(tmp_path_factory.mktemp("tiny-onevision"), arch="llava-onevision")


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_critic(tmp_path_factory.mktemp("tiny-llava"), arch="llava")


@pytest.fixture
def single_torch_thread() -> Iterator[None]:
    """Training a width-64 model gains nothing from threads; on a shared 2-core machine they only contend."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
