from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from annotations.models import CriticVerdict
from tests.factories import DatasetFactory, ItemFactory

pytestmark = pytest.mark.django_db


def test_judge_queues_a_dataset(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.CRITIC_MODEL = str(tmp_path)
    dataset = DatasetFactory(name="arena")
    ItemFactory(dataset=dataset)
    out = StringIO()
    call_command("judge", "--dataset", "arena", stdout=out)
    assert "Queued 1 items of 'arena'" in out.getvalue()
    assert CriticVerdict.objects.filter(status="queued").count() == 1
    call_command("judge", "--dataset", "arena", "--only-missing", stdout=out)
    assert "Queued 0 items" in out.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "nope"], "No dataset named 'nope'"),
        (["--dataset", "arena", "--checkpoint", "ghost"], "No checkpoint named 'ghost'"),
    ],
)
def test_judge_explains_what_is_wrong(args: list[str], message: str) -> None:
    DatasetFactory(name="arena")
    with pytest.raises(CommandError, match=message):
        call_command("judge", *args)
    assert not CriticVerdict.objects.exists()


def test_build_tiny_critic_writes_a_loadable_model(tmp_path: Path) -> None:
    out = StringIO()
    call_command("build_tiny_critic", str(tmp_path / "tiny"), "--arch", "llava", stdout=out)
    assert "random-weight llava critic" in out.getvalue()
    assert (tmp_path / "tiny" / "config.json").exists()
    assert (tmp_path / "tiny" / "critic_desk.json").exists()
