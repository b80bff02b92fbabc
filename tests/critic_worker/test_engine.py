"""The engine on real (tiny, random-weight) transformers models of every supported architecture: the same code path
as a 7B critic — processor, chat template, generate, reading the verdict, the verdict distribution."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from critic_worker.checkpoint_info import is_random_weight_critic
from critic_worker.engine import CriticEngine, JudgeRequest, open_image
from critic_worker.profile_specs import ProfileSpec, profile_from_spec
from critic_worker.profiles import PROFILES, Verdict, get_profile
from critic_worker.scoring import (
    Generated,
    distributions_by_prefill,
    distributions_from_cache,
    justification_context,
    position_offsets,
    verdict_reading,
)
from critic_worker.tiny import ARCHES
from tests.images import jpeg_bytes, png_bytes

# Width-64 models gain nothing from threads; on a shared 2-core machine two threads made them ten times slower.
pytestmark = pytest.mark.usefixtures("single_torch_thread")


def requests() -> list[JudgeRequest]:
    """Items of every profile, with images and texts of different sizes (so the batch needs padding)."""

    def im(data: bytes) -> list:  # type: ignore[type-arg]
        return [open_image(data)]

    return [
        JudgeRequest(im(png_bytes((64, 48))), "pairwise", "Which is right?", "A red square.", "A blue circle, large."),
        JudgeRequest(im(jpeg_bytes((30, 90))), "pointwise", "What colour is the square?", "Red."),
        JudgeRequest(im(png_bytes((120, 40))), "wildvision", "Describe it", "A bar chart with four bars.", "Bars."),
        JudgeRequest(im(png_bytes((50, 50))), "caption", "Describe the image in detail.", "A red field."),
        JudgeRequest(im(png_bytes((70, 20))), "llava-bench", "Count the bars.", "Four.", reference="There are 4 bars."),
        JudgeRequest(im(jpeg_bytes((64, 64))), "pairwise", "Q?", "x", "y" * 40),
    ]


_engines: dict[str, CriticEngine] = {}


@pytest.fixture(params=ARCHES)
def engine(request: pytest.FixtureRequest, tiny_critics: Callable[[str], Path]) -> CriticEngine:
    arch = request.param
    if arch not in _engines:
        _engines[arch] = CriticEngine.load(tiny_critics(arch), quantization="none", device="cpu", max_new_tokens=12)
    return _engines[arch]


def test_the_tiny_critic_is_marked_as_random(tiny_critics: Callable[[str], Path]) -> None:
    for arch in ARCHES:
        folder = tiny_critics(arch)
        assert is_random_weight_critic(folder)
        assert sum(f.stat().st_size for f in folder.iterdir()) < 2_000_000


def test_a_batch_gets_a_verdict_for_every_item(engine: CriticEngine) -> None:
    batch = requests()
    results = engine.judge(batch)
    assert len(results) == len(batch)
    for request, result in zip(batch, results, strict=True):
        profile = get_profile(request.profile)
        assert result.verdict is not None
        assert result.error == ""
        assert result.prompt == engine.critic_input(request).prompt
        assert math.isclose(sum(result.probabilities.values()), 1.0, abs_tol=1e-4)
        assert 0.0 <= (result.confidence or 0.0) <= 1.0
        if profile.is_pointwise:
            assert profile.in_range(result.verdict.score or -1)
            assert profile.score_min <= (result.expected_score or -1) <= profile.score_max  # type: ignore[operator]
        else:
            assert set(result.probabilities) == {"A", "B", "tie"}
        if result.forced:  # a random model writes no readable verdict: it is read from the logits
            assert result.confidence == max(result.probabilities.values())
            assert result.verdict.justification == result.raw_output
        assert result.latency_ms > 0


def test_batching_does_not_change_verdicts(engine: CriticEngine) -> None:
    """Left padding and position ids are right: an item judged in a batch gets what it gets alone."""
    batch = requests()
    together = engine.judge(batch)
    alone = [engine.judge([r])[0] for r in batch]
    for a, b in zip(together, alone, strict=True):
        assert a.raw_output == b.raw_output
        assert a.verdict == b.verdict
        assert a.probabilities == pytest.approx(b.probabilities, abs=1e-4)


def test_scoring_from_the_generation_cache_equals_a_second_prefill(engine: CriticEngine) -> None:
    """The verdict distribution read from generate's own cache is the one the earlier way gave: the images and the
    whole context (prompt, then the critic's reasons for verdict-last profiles) prefilled again."""
    batch = requests()
    results = engine.judge(batch)
    contexts, pictures, candidates = [], [], []
    for request, result in zip(batch, results, strict=True):
        profile = get_profile(request.profile)
        seen = engine.critic_input(request)
        parsed = None if result.forced else result.verdict
        tail = "" if profile.verdict_first else justification_context(result.raw_output, parsed)
        contexts.append(seen.prompt + tail)
        pictures.append(seen.images)
        candidates.append(engine.candidates(profile))
    with torch.inference_mode():
        reference = distributions_by_prefill(
            engine.model, engine.processor, images=pictures, contexts=contexts, candidates=candidates
        )
    for request, result, dist in zip(batch, results, reference, strict=True):
        expected = verdict_reading(get_profile(request.profile), result.raw_output, None, dist).probabilities
        assert result.probabilities == pytest.approx(expected, abs=1e-4)


def test_generated_tokens_are_reused_and_score_as_one_full_forward_pass(engine: CriticEngine) -> None:
    """When the context continues with the critic's own generated tokens, their cached columns are used as they are;
    each candidate's score still equals the log-likelihood of the whole sequence in one plain forward pass."""
    request = requests()[2]  # wildvision: verdict last
    profile = get_profile(request.profile)
    seen = [engine.critic_input(request)]
    batch = engine.batch_inputs(seen)
    with torch.inference_mode():
        out = engine.model.generate(
            **batch, max_new_tokens=6, min_new_tokens=6, do_sample=False, return_dict_in_generate=True
        )
        prompt = batch["input_ids"]
        new = out.sequences[:, prompt.shape[1] :]
        generated = Generated(
            out.cache, prompt, batch["attention_mask"], new, position_offsets(engine.model, 1, engine.device)
        )
        reused = new[0, :4].tolist()  # four generated tokens, all in the cache
        candidates = engine.candidates(profile)
        (dist,) = distributions_from_cache(
            engine.model, generated=generated, continuations=[reused], candidates=[candidates], pad_id=0
        )
        logps = []
        for tokens in candidates.ids:
            full = engine.batch_inputs(seen)
            ids = torch.cat([full["input_ids"], torch.tensor([[*reused, *tokens]])], dim=1)
            full["input_ids"] = ids
            full["attention_mask"] = torch.ones_like(ids)
            if "mm_token_type_ids" in full:
                full["mm_token_type_ids"] = torch.cat(
                    [full["mm_token_type_ids"], torch.zeros((1, len(reused) + len(tokens)), dtype=torch.long)], dim=1
                )
            logits = engine.model(**full).logits[0].float()
            logp = torch.log_softmax(logits[:-1], dim=-1).gather(1, ids[0, 1:, None]).squeeze(1)
            logps.append(logp[-len(tokens) :].sum().item())
    expected = torch.softmax(torch.tensor(logps), dim=0).tolist()
    assert list(dist.values()) == pytest.approx(expected, abs=1e-4)


def test_several_images_are_all_given_in_order(engine: CriticEngine) -> None:
    pictures = [open_image(png_bytes((40, 30), (250, 0, 0))), open_image(jpeg_bytes((30, 60), (0, 0, 250)))]
    request = JudgeRequest(pictures, "pointwise", "Which image is red?", "The first.")
    seen = engine.critic_input(request)
    assert seen.images == pictures
    (result,) = engine.judge([request])
    assert result.verdict is not None
    assert result.prompt == seen.prompt
    image_token = engine.processor.image_token
    single = engine.critic_input(JudgeRequest(pictures[:1], "pointwise", "Which image is red?", "The first."))
    assert seen.prompt.count(image_token) == 2 * single.prompt.count(image_token) > 0


def test_items_with_several_images_batch_beside_items_with_one(engine: CriticEngine) -> None:
    """A batch mixing items of two, three and one pictures gets for each what it gets alone."""
    red, blue = open_image(png_bytes((40, 30), (250, 0, 0))), open_image(jpeg_bytes((30, 60), (0, 0, 250)))
    batch = [
        JudgeRequest([red, blue], "pointwise", "Which image is red?", "The first."),
        JudgeRequest([blue], "pairwise", "What colour?", "Blue.", "Red, clearly."),
        JudgeRequest([blue, red, blue], "pointwise", "How many are blue?", "Two of the three pictures."),
    ]
    together = engine.judge(batch)
    alone = [engine.judge([r])[0] for r in batch]
    for a, b in zip(together, alone, strict=True):
        assert a.verdict is not None
        assert a.raw_output == b.raw_output
        assert a.probabilities == pytest.approx(b.probabilities, abs=1e-4)


@pytest.mark.django_db  # an unknown name is looked up among the profiles a team defined, in the database
def test_an_unknown_profile_fails_that_item_only(engine: CriticEngine) -> None:
    batch = [JudgeRequest(requests()[0].images, "no-such-profile", "Q", "a", "b"), *requests()[:2]]
    results = engine.judge(batch)
    assert results[0].verdict is None
    assert "unknown profile 'no-such-profile'" in results[0].error
    assert all(r.verdict is not None for r in results[1:])


def test_a_parsed_verdict_keeps_its_label_and_reports_its_probability() -> None:
    profile = get_profile("pointwise")
    dist = {v: (0.5 if v.score == 70 else 0.5 / 100) for v in profile.verdicts()}
    parsed = profile.parse("Good answer. Score: 70/100")
    reading = verdict_reading(profile, "Good answer. Score: 70/100", parsed, dist)
    assert (reading.verdict, reading.forced, reading.confidence) == (parsed, False, 0.5)
    assert reading.expected_score == pytest.approx(sum((v.score or 0) * p for v, p in dist.items()))


@pytest.mark.parametrize(("lo", "hi", "step", "said"), [(1, 5, 0.5, 4.5), (0, 1, 0.01, 0.37), (-2, 2, 0.25, -1.75)])
def test_a_parsed_score_on_a_teams_step_reports_its_own_probability(
    lo: float, hi: float, step: float, said: float
) -> None:
    profile = profile_from_spec(
        ProfileSpec(
            name="team-scale",
            kind="pointwise",
            template="{question} {response}",
            score_min=lo,
            score_max=hi,
            score_step=step,
            verdict_pattern=r"Rating: (?P<score>-?\d+(?:\.\d+)?)",
            verdict_line="Rating: {score}",
        )
    )
    verdicts = profile.verdicts()
    dist = {v: (0.6 if v.score == said else 0.4 / (len(verdicts) - 1)) for v in verdicts}
    parsed = profile.parse(f"Rating: {said}")
    assert parsed is not None
    assert parsed.score == said
    reading = verdict_reading(profile, f"Rating: {said}", parsed, dist)
    assert reading.confidence == pytest.approx(0.6)  # not the probability of a neighbouring whole point


@pytest.mark.parametrize("arch", ARCHES)
def test_nf4_quantization_on_cpu(tiny_critics: Callable[[str], Path], arch: str) -> None:
    """Every architecture's language model in nf4 (its Linear layers are 64 wide), the vision side in full."""
    engine = CriticEngine.load(tiny_critics(arch), quantization="nf4", device="cpu", max_new_tokens=8)
    assert_quantized(engine, "Linear4bit")
    results = engine.judge(requests()[:3])
    assert all(r.verdict is not None for r in results)
    assert all(math.isclose(sum(r.probabilities.values()), 1.0, abs_tol=1e-4) for r in results)


def test_int8_quantization_on_cpu(tiny_critic: Path) -> None:
    engine = CriticEngine.load(tiny_critic, quantization="int8", device="cpu", max_new_tokens=8)
    assert_quantized(engine, "Linear8bitLt")
    assert all(r.verdict is not None for r in engine.judge(requests()[:3]))


def assert_quantized(engine: CriticEngine, layer: str) -> None:
    decoder = engine.model.get_decoder()
    language = {type(m).__name__ for n, m in decoder.named_modules() if n.endswith(("q_proj", "down_proj"))}
    assert language == {layer}
    outside = {
        type(m).__name__
        for n, m in engine.model.named_modules()
        if isinstance(m, torch.nn.Module)
        and n.startswith("model.")
        and not any(m is d for d in decoder.modules())
        and n.endswith(("q_proj", "fc1", "proj", "linear_1"))
    }
    assert outside  # the vision tower and projector stay in full precision
    assert layer not in outside
    assert type(engine.model.lm_head).__name__ == "Linear"


def test_every_profile_has_verdict_lines_the_tokenizer_can_score(engine: CriticEngine) -> None:
    for profile in PROFILES.values():
        candidates = engine.candidates(profile)
        assert len(candidates.verdicts) == len(candidates.ids)
        assert len({tuple(t) for t in candidates.ids}) == len(candidates.ids)  # distinct
        assert all(len(t) >= 2 for t in candidates.ids)
        assert all(isinstance(v, Verdict) for v in candidates.verdicts)
