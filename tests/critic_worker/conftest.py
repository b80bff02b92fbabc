from __future__ import annotations

from pathlib import Path

import pytest

from critic_worker.tiny import build_tiny_critic


@pytest.fixture(scope="session")
def tiny_critic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_critic(tmp_path_factory.mktemp("tiny-onevision"), arch="llava-onevision")


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_critic(tmp_path_factory.mktemp("tiny-llava"), arch="llava")
