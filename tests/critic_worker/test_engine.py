"""The engine on real (tiny, random-weight) transformers models: the same code path as the 7B critic."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from critic_worker.checkpoint_info import is_random_weight_critic
from critic_worker.engine import CriticEngine, JudgeRequest, _result
from critic_worker.profiles import PROFILES, Verdict, chat_prompt, get_profile
from tests.images import jpeg_bytes, png_bytes


def requests() -> list[JudgeRequest]:
    """Items of every profile, with images and texts of different sizes (so the batch needs padding)."""
    return [
        JudgeRequest(png_bytes((64, 48)), "pairwise", "Which is right?", "A red square.", "A blue circle, large."),
        JudgeRequest(jpeg_bytes((30, 90)), "pointwise", "What colour is the square?", "Red."),
        JudgeRequest(png_bytes((120, 40)), "wildvision", "Describe it", "A bar chart with four bars.", "Bars."),
        JudgeRequest(png_bytes((50, 50)), "caption", "Describe the image in detail.", "A red field."),
        JudgeRequest(png_bytes((70, 20)), "llava-bench", "Count the bars.", "Four.", reference="There are 4 bars."),
        JudgeRequest(jpeg_bytes((64, 64)), "pairwise", "Q?", "x", "y" * 40),
    ]


@pytest.fixture(scope="module")
def engine(tiny_critic: Path) -> CriticEngine:
    return CriticEngine.load(str(tiny_critic), quantization="none", max_new_tokens=12)


def test_the_tiny_critic_is_marked_as_random(tiny_critic: Path) -> None:
    assert is_random_weight_critic(tiny_critic)
    assert sum(f.stat().st_size for f in tiny_critic.iterdir()) < 2_000_000


def test_a_batch_gets_a_verdict_for_every_item(engine: CriticEngine) -> None:
    batch = requests()
    results = engine.judge(batch)
    assert len(results) == len(batch)
    for request, result in zip(batch, results, strict=True):
        profile = get_profile(request.profile)
        assert result.verdict is not None
        assert result.error == ""
        assert math.isclose(sum(result.probabilities.values()), 1.0, abs_tol=1e-4)
        assert 0.0 <= (result.confidence or 0.0) <= 1.0
        if profile.is_pointwise:
            assert profile.in_range(result.verdict.score or -1)
            assert profile.score_min <= (result.expected_score or -1) <= profile.score_max  # type: ignore[operator]
        else:
            assert set(result.probabilities) == {"A", "B", "tie"}
        assert result.latency_ms > 0


def test_random_output_is_forced_to_the_most_probable_verdict(engine: CriticEngine) -> None:
    for result in engine.judge(requests()):
        assert result.verdict is not None
        if result.forced:  # a random model writes no readable verdict: it is read from the logits
            assert result.confidence == max(result.probabilities.values())
            assert result.verdict.justification == result.raw_output


def test_batching_does_not_change_verdicts(engine: CriticEngine) -> None:
    """Left padding and position ids are right: an item judged in a batch gets what it gets alone."""
    batch = requests()
    together = engine.judge(batch)
    alone = [engine.judge([r])[0] for r in batch]
    for a, b in zip(together, alone, strict=True):
        assert a.raw_output == b.raw_output
        assert a.verdict == b.verdict
        for label, p in a.probabilities.items():
            assert p == pytest.approx(b.probabilities[label], abs=1e-4)


def test_verdict_probabilities_match_scoring_each_line_in_full(engine: CriticEngine) -> None:
    """The cached, chunked candidate scoring equals the plain log-likelihood of each whole sequence."""
    request = requests()[0]
    profile = get_profile("pairwise")
    result = engine.judge([request])[0]
    prompt = chat_prompt(profile, request.prompt_input())
    from critic_worker.engine import open_image

    image = open_image(request.image)
    logps = []
    for verdict in profile.verdicts():
        text = prompt + profile.verdict_line(verdict) + "\n"
        inputs = engine._inputs([image], [text])
        n_line = len(engine.tokenizer(profile.verdict_line(verdict) + "\n", add_special_tokens=False)["input_ids"])
        with torch.inference_mode():
            logits = engine.model(**inputs).logits[0].float()
        ids = inputs["input_ids"][0]
        logp = torch.log_softmax(logits[:-1], dim=-1).gather(1, ids[1:, None]).squeeze(1)
        logps.append(logp[-n_line:].sum().item())
    expected = torch.softmax(torch.tensor(logps), dim=0).tolist()
    for verdict, p in zip(profile.verdicts(), expected, strict=True):
        assert result.probabilities[verdict.preference or ""] == pytest.approx(p, abs=1e-4)


def test_an_unreadable_image_fails_that_item_only(engine: CriticEngine) -> None:
    batch = [JudgeRequest(b"not an image", "pairwise", "Q", "a", "b"), *requests()[:2]]
    results = engine.judge(batch)
    assert results[0].verdict is None
    assert "unreadable image" in results[0].error
    assert all(r.verdict is not None for r in results[1:])


def test_a_parsed_verdict_keeps_its_label_and_reports_its_probability() -> None:
    profile = get_profile("pointwise")
    dist = {v: (0.5 if v.score == 70 else 0.5 / 100) for v in profile.verdicts()}
    parsed = profile.parse("Good answer. Score: 70/100")
    result = _result(profile, "Good answer. Score: 70/100", parsed, dist, 1.0)
    assert (result.verdict, result.forced, result.confidence) == (parsed, False, 0.5)
    assert result.expected_score == pytest.approx(sum((v.score or 0) * p for v, p in dist.items()))


@pytest.mark.parametrize(("quantization", "layer"), [("nf4", "Linear4bit"), ("int8", "Linear8bitLt")])
def test_bitsandbytes_quantization_on_cpu(tiny_critic: Path, quantization: str, layer: str) -> None:
    engine = CriticEngine.load(str(tiny_critic), quantization=quantization, max_new_tokens=8)
    kinds = {name: type(module).__name__ for name, module in engine.model.named_modules()}
    language = [k for n, k in kinds.items() if ".language_model." in n and n.endswith("q_proj")]
    vision = [k for n, k in kinds.items() if ".vision_tower." in n and n.endswith("q_proj")]
    assert language
    assert set(language) == {layer}
    assert set(vision) == {"Linear"}  # the vision tower stays in full precision
    results = engine.judge(requests()[:3])
    assert all(r.verdict is not None for r in results)
    assert all(math.isclose(sum(r.probabilities.values()), 1.0, abs_tol=1e-4) for r in results)


def test_the_llava_architecture_judges_too(tiny_llava: Path) -> None:
    engine = CriticEngine.load(str(tiny_llava), quantization="nf4", max_new_tokens=8)
    results = engine.judge(requests()[:2])
    assert [r.verdict is not None for r in results] == [True, True]


def test_every_profile_has_verdict_lines_the_tokenizer_can_score(engine: CriticEngine) -> None:
    for profile in PROFILES.values():
        verdicts, ids = engine._candidate_tokens(profile)
        assert len(verdicts) == len(ids)
        assert len({tuple(t) for t in ids}) == len(ids)  # distinct
        assert all(len(t) >= 2 for t in ids)
        assert Verdict in {type(v) for v in verdicts}
