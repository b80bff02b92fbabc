"""Every text of the verdict table (tests/critic_worker/verdict_texts.py) is read as a careful person reads it,
and every unreadable one says why in words of its own, not a generic refusal."""

from __future__ import annotations

import pytest

from tests.critic_worker.verdict_texts import ALL, DEFINED, Expected, profile_for


def test_the_table_is_large_and_covers_every_family() -> None:
    assert len(ALL) >= 150
    built_in = {"pointwise", "caption", "llava-bench", "pairwise", "wildvision"}
    assert {profile for profile, _, _ in ALL} == built_in | set(DEFINED)
    assert sum(expected is None for _, _, expected in ALL) >= 30


@pytest.mark.parametrize(("profile", "text", "expected"), ALL, ids=[f"{p}-{i}" for i, (p, _, _) in enumerate(ALL)])
def test_reads_each_verdict_text(profile: str, text: str, expected: Expected) -> None:
    reading = profile_for(profile).read(text)
    assert reading.reason
    if expected is None:
        assert not reading.readable, f"read {reading.verdict} ({reading.reason})"
        assert reading.reason != "no reader"
        return
    assert reading.verdict is not None, reading.reason
    if isinstance(expected, tuple):
        assert (reading.verdict.preference, reading.verdict.strong) == expected, reading.reason
    elif isinstance(expected, str):
        assert reading.verdict.preference == expected, reading.reason
    else:
        assert reading.verdict.score == pytest.approx(expected, abs=0.01), reading.reason
