from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client

from critic_worker.profiles import forget_defined_profiles
from tests.factories import AdminFactory, UserFactory


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """Each test stores its files in its own folder, so 'nothing was written' can be checked on disk."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    """The cache (Redis) outlives each test's database: counts cached by one test must not leak into the next."""
    cache.clear()


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def reviewer(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="rita")


@pytest.fixture
def admin(db):  # type: ignore[no-untyped-def]
    return AdminFactory(username="ada")


@pytest.fixture
def reviewer_client(reviewer) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(reviewer)
    return client


@pytest.fixture
def admin_client(admin) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(admin)
    return client


@pytest.fixture(autouse=True)
def fresh_profiles() -> Iterator[None]:
    """Profiles read from the database are kept for a request or task; a test is one such unit of work."""
    forget_defined_profiles()
    yield
    forget_defined_profiles()


@pytest.fixture
def latest_migrations_after() -> Iterator[None]:
    """For a test that migrates the database back to test a migration: afterwards, every migration is applied
    again, as the tests after it expect (they would otherwise meet the old schema)."""
    yield
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
