"""The verdict distribution: the probability the critic puts on every verdict line its profile can produce, read
as a continuation of the critic's own context — right after the prompt for verdict-first profiles, after its own
justification for verdict-last ones. Its value at the verdict read from the text is the confidence; its argmax is
the *forced* verdict when the text is unreadable; for pointwise profiles its mean is the expected score.

Scored from the generation's own KV cache (``distributions_from_cache``): the prompt (image tokens included) was
prefilled once by ``generate``; the justification tokens the critic itself generated are reused where they match
the context; only the rest of the context and the candidate lines run through the model. The earlier way, a second
prefill of the images and the context (``distributions_by_prefill``), is kept as the reference the tests and
bench/critic_tokens.py compare against.

Scores are log-likelihoods summed over each candidate's tokens and normalised over the candidates (a softmax), as in
the engine since issue 3; every architecture is scored the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image
from transformers import DynamicCache

from critic_worker.profiles import Profile, Verdict

CANDIDATE_CHUNK = 32  # verdict lines scored per forward pass; bounds the memory of the repeated context cache


def read_verdict(profile: Profile, text: str) -> Verdict | None:
    """The verdict in the critic's text, or None when it is unreadable: the engine's one call of the profile's
    reader, so that changing how verdicts are read changes it everywhere at once."""
    return profile.parse(text)


def justification_context(text: str, verdict: Verdict | None) -> str:
    """What precedes the verdict line in a verdict-last output: the critic's own reasons, then a newline."""
    reasons = (verdict.justification if verdict is not None else text).strip()
    return reasons + "\n" if reasons else ""


@dataclass(frozen=True)
class Candidates:
    """Every verdict line of a profile as token ids, each ending in what follows it (so none is a prefix of
    another): a newline before the reasons, or the end of the turn after them. `shared` is how many leading tokens
    all lines have in common ("Score: " ...): fed once per item, they add the same log-probability to every line,
    which the normalisation cancels, so only the rest of each line is scored."""

    verdicts: list[Verdict]
    ids: list[list[int]]
    shared: int = 0

    @property
    def prefix(self) -> list[int]:
        return self.ids[0][: self.shared]

    @property
    def suffixes(self) -> list[list[int]]:
        return [line[self.shared :] for line in self.ids]


def candidate_tokens(tokenizer: Any, profile: Profile, *, turn_end: list[int]) -> Candidates:
    verdicts = profile.verdicts()
    end = tokenizer("\n", add_special_tokens=False)["input_ids"] if profile.verdict_first else turn_end
    ids = [[*tokenizer(profile.verdict_line(v), add_special_tokens=False)["input_ids"], *end] for v in verdicts]
    shared = _common_prefix_all(ids)
    return Candidates(verdicts, ids, min(shared, min(len(line) for line in ids) - 1))


def _common_prefix_all(lines: list[list[int]]) -> int:
    n = 0
    while all(len(line) > n and line[n] == lines[0][n] for line in lines):
        n += 1
    return n


@dataclass(frozen=True)
class Generated:
    """What ``generate`` leaves behind for scoring, for a left-padded batch of B prompts of padded length P."""

    cache: Any  # its KV cache: P prompt columns, then the generated tokens it fed back (all but the last)
    prompt_ids: torch.Tensor  # (B, P)
    prompt_mask: torch.Tensor  # (B, P), 0 on the left padding
    new_tokens: torch.Tensor  # (B, G) the generated ids
    offsets: torch.Tensor  # (B,) a text token's position = its index in the unpadded prompt + offset (M-RoPE shift)


def position_offsets(model: Any, batch: int, device: Any) -> torch.Tensor:
    """Per prompt, what M-RoPE models (Qwen2-VL) add to a text token's index to get its position after images
    (``rope_deltas``, set by the last ``generate``); zeros for models with plain positions."""
    deltas = getattr(getattr(model, "model", None), "rope_deltas", None)
    if isinstance(deltas, torch.Tensor) and deltas.shape[0] == batch:
        return deltas.reshape(batch).to(device=device, dtype=torch.long)
    return torch.zeros(batch, dtype=torch.long, device=device)


def distributions_from_cache(
    model: Any, *, generated: Generated, continuations: list[list[int]], candidates: list[Candidates], pad_id: int
) -> list[dict[Verdict, float]]:
    """P(verdict line | context) for each item, context = prompt + `continuations[i]` (token ids), normalised per
    item. Shapes: B items; the cache is extended in place. The last context token is always fed again (its logits
    give each line's first token), so an item costs 1 + (context tokens the generation did not write) + the
    lines' shared prefix, once + the rest of each line."""
    cache, prompt_mask = generated.cache, generated.prompt_mask
    device = prompt_mask.device
    batch, prompt_width = prompt_mask.shape
    cached = cache.get_seq_length()
    reusable = generated.new_tokens[:, : cached - prompt_width].tolist()
    prompt_lengths = prompt_mask.sum(dim=1).tolist()

    keep = torch.zeros((batch, cached), dtype=torch.long, device=device)
    keep[:, :prompt_width] = prompt_mask
    feeds: list[list[int]] = []
    starts: list[int] = []  # index of each feed's first token in the unpadded context
    for i, continuation in enumerate(continuations):
        if continuation:
            reused = min(_common_prefix(continuation, reusable[i]), len(continuation) - 1)
            keep[i, prompt_width : prompt_width + reused] = 1
            feeds.append([*continuation[reused:], *candidates[i].prefix])
            starts.append(prompt_lengths[i] + reused)
        else:  # the context is the prompt: feed its last token again, in place of its cached column
            keep[i, prompt_width - 1] = 0
            feeds.append([int(generated.prompt_ids[i, -1]), *candidates[i].prefix])
            starts.append(prompt_lengths[i] - 1)

    width = max(len(f) for f in feeds)
    ids = torch.full((batch, width), pad_id, dtype=torch.long, device=device)
    fed = torch.zeros((batch, width), dtype=torch.long, device=device)
    for i, feed in enumerate(feeds):  # left padding: every row's last column is its context's last token
        ids[i, width - len(feed) :] = torch.tensor(feed, device=device)
        fed[i, width - len(feed) :] = 1
    index = torch.arange(width, device=device)
    first = torch.tensor(starts, device=device) - (width - torch.tensor([len(f) for f in feeds], device=device))
    positions = (first[:, None] + index + generated.offsets[:, None]).clamp(min=0)
    mask = torch.cat([keep, fed], dim=1)
    out = model(
        input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True, logits_to_keep=1
    )
    first_logp = torch.log_softmax(out.logits[:, -1, :].float(), dim=-1)
    ends = torch.tensor([s + len(f) - 1 for s, f in zip(starts, feeds, strict=True)], device=device)
    return _score_candidates(
        model,
        cache=out.cache,
        mask=mask,
        ends=ends + generated.offsets,
        first_logp=first_logp,
        lines=[(c.verdicts, c.suffixes) for c in candidates],
        pad_id=pad_id,
    )


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _score_candidates(
    model: Any,
    *,
    cache: Any,
    mask: torch.Tensor,
    ends: torch.Tensor,
    first_logp: torch.Tensor,
    lines: list[tuple[list[Verdict], list[list[int]]]],
    pad_id: int,
) -> list[dict[Verdict, float]]:
    """Each item's candidate lines (its verdicts and their tokens) continued from its cached context,
    CANDIDATE_CHUNK lines per forward pass (the context cache repeated per line), lines of equal length together.
    `mask` (B, cache length) marks each item's context columns, `ends` (B,) the position of its last context token,
    `first_logp` (B, vocab) the log-probabilities after it."""
    device = mask.device
    rows = [(i, k, tokens) for i, (_, item_lines) in enumerate(lines) for k, tokens in enumerate(item_lines)]
    rows.sort(key=lambda row: len(row[2]))  # less padding per chunk
    scores = [torch.full((len(verdicts),), -math.inf) for verdicts, _ in lines]
    for start in range(0, len(rows), CANDIDATE_CHUNK):
        chunk = rows[start : start + CANDIDATE_CHUNK]
        width = max(len(t) for _, _, t in chunk)
        items = torch.tensor([i for i, _, _ in chunk], device=device)
        ids = torch.full((len(chunk), width), pad_id, device=device)
        valid = torch.zeros((len(chunk), width), dtype=torch.bool, device=device)
        for row, (_, _, tokens) in enumerate(chunk):
            ids[row, : len(tokens)] = torch.tensor(tokens, device=device)
            valid[row, : len(tokens)] = True
        logp = first_logp[items].gather(1, ids[:, :1]).squeeze(1)
        if width > 1:
            repeated = DynamicCache()
            for layer_idx, layer in enumerate(cache.layers):
                repeated.update(layer.keys[items], layer.values[items], layer_idx)
            step = model(
                input_ids=ids[:, :-1],
                attention_mask=torch.cat([mask[items], valid[:, :-1].long()], dim=1),
                position_ids=ends[items, None] + 1 + torch.arange(width - 1, device=device),
                cache=repeated,
                use_cache=True,
            )
            token_logp = torch.log_softmax(step.logits.float(), dim=-1).gather(2, ids[:, 1:, None]).squeeze(2)
            logp = logp + (token_logp * valid[:, 1:]).sum(dim=1)
        for row, (i, k, _) in enumerate(chunk):
            scores[i][k] = logp[row].item()
    distributions = []
    for (verdicts, _), item_scores in zip(lines, scores, strict=True):
        probs = torch.softmax(item_scores, dim=0).tolist()
        distributions.append(dict(zip(verdicts, probs, strict=True)))
    return distributions


def distributions_by_prefill(
    model: Any, processor: Any, *, images: list[list[Image.Image]], contexts: list[str], candidates: list[Candidates]
) -> list[dict[Verdict, float]]:
    """The earlier way, kept as the reference: each item's images and whole context text (prompt + justification)
    prefilled again, one item at a time, then its candidate lines scored from that cache."""
    device = next(model.parameters()).device
    pad_id = processor.tokenizer.pad_token_id
    results = []
    for pictures, context, item_candidates in zip(images, contexts, candidates, strict=True):
        batch = processor(images=pictures, text=[context], return_tensors="pt")
        inputs = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
        out = model(**inputs, use_cache=True)
        length = inputs["input_ids"].shape[1]
        ends = torch.tensor([length - 1], device=device) + position_offsets(model, 1, device)
        results += _score_candidates(
            model,
            cache=out.cache,
            mask=inputs["attention_mask"],
            ends=ends,
            first_logp=torch.log_softmax(out.logits[:, -1, :].float(), dim=-1),
            lines=[(item_candidates.verdicts, item_candidates.ids)],
            pad_id=pad_id,
        )
    return results


@dataclass(frozen=True)
class Reading:
    """The verdict as recorded: read from the text, or forced from the distribution; its confidence and the
    probability of each verdict label."""

    verdict: Verdict
    forced: bool
    confidence: float
    probabilities: dict[str, float]
    expected_score: float | None


def verdict_reading(profile: Profile, text: str, parsed: Verdict | None, dist: dict[Verdict, float]) -> Reading:
    def label(v: Verdict) -> str:
        return v.preference if v.preference is not None else v.label

    by_label: dict[str, float] = {}
    for verdict, p in dist.items():
        by_label[label(verdict)] = by_label.get(label(verdict), 0.0) + p
    forced = parsed is None
    if parsed is None:
        # The most probable verdict; for WildVision's strengths, the preference first, then its likelier strength.
        top = max(by_label, key=lambda k: by_label[k])
        best = max((v for v in dist if label(v) == top), key=lambda v: dist[v])
        parsed = Verdict(score=best.score, preference=best.preference, strong=best.strong, justification=text)
    key = profile.distribution_key(parsed.score, parsed.preference)
    expected = sum((v.score or 0.0) * p for v, p in dist.items()) if profile.is_pointwise else None
    return Reading(
        verdict=parsed,
        forced=forced,
        confidence=round(by_label.get(key, 0.0), 6),
        probabilities={k: round(p, 6) for k, p in by_label.items()},
        expected_score=expected,
    )
