"""A swap check runs the critic on the item with its responses exchanged and stores the preference in the item's
own order, so that a flip is simply swapped.preference != preference."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotations.models import CriticVerdict
from annotations.services import judging
from critic_worker import tasks
from critic_worker.engine import JudgeRequest
from critic_worker.profiles import chat_prompt, get_profile
from tests.factories import CheckpointFactory, DatasetFactory, PairwiseItemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def checkpoint(tiny_critic: Path, settings):  # type: ignore[no-untyped-def]
    settings.CRITIC_MAX_NEW_TOKENS = 8
    settings.CRITIC_DEVICE = "cpu"
    return CheckpointFactory(model=str(tiny_critic), quantization="none", is_active=True)


def test_the_critic_sees_the_responses_exchanged_and_the_verdict_is_stored_in_the_items_order(checkpoint) -> None:  # type: ignore[no-untyped-def]
    dataset = DatasetFactory()
    item = PairwiseItemFactory(dataset=dataset, response_a="The cat is black.", response_b="The dog is white.")
    judging.swap_checks_queue(dataset=dataset, checkpoint=checkpoint)
    check = CriticVerdict.objects.get(probe="swap")
    claim = judging.verdicts_claim(verdict_ids=[check.pk], worker="test")
    (job,) = claim.jobs
    assert (job.response_a, job.response_b, job.swapped) == ("The dog is white.", "The cat is black.", True)
    prompt = chat_prompt(get_profile("pairwise"), JudgeRequest(images=[], **_text(job)).prompt_input())
    assert prompt.index("The first response: [The dog is white.]") < prompt.index("The second response: [The cat")
    judging.verdicts_release(claim=claim.token)

    # The same request judged directly by the engine: what the critic said about the order it saw.
    seen = tasks.engine_for(job).judge([tasks.judge_request(job)])[0]
    assert tasks.judge_batch([check.pk])["done"] == 1
    check.refresh_from_db()
    expected = {"A": "B", "B": "A", "tie": "tie"}[seen.verdict.preference]
    assert check.preference == expected
    assert check.probabilities == pytest.approx(
        {judging.SWAP.get(k, k): p for k, p in seen.probabilities.items()}, abs=1e-5
    )
    assert item.critic_verdicts.filter(probe="").count() == 0  # the item still has no critic verdict


def _text(job: judging.VerdictJob) -> dict[str, str]:
    return {
        "profile": job.profile,
        "question": job.question,
        "response_a": job.response_a,
        "response_b": job.response_b,
    }
