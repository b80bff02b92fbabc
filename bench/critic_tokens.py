"""Forward-pass tokens per verdict, before and after scoring the verdict distribution from the generation's own KV
cache (issue 16), on every tiny architecture and on a LLaVA-OneVision with LLaVA-Critic's real image geometry
(384 px SigLIP tiles, anyres up to 6x6: 729 tokens a tile) at width 64 — token counts depend on the geometry, not on
the width, so they are the 7B critic's.

    .venv/bin/python bench/critic_tokens.py [--items 8] [--new-tokens 32]

"Before" is the earlier way, kept in the engine as the tests' reference (``scoring.distributions_by_prefill``): after
``generate``, each item's images and whole context are prefilled again, then its verdict lines scored. "After" is the
engine as it runs. Both judge the same items with the same generations; every forward pass of the model is counted
(rows x columns fed, padding included). Needs no database; writes its section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from critic_worker.engine import CriticEngine, JudgeRequest  # noqa: E402
from critic_worker.profiles import get_profile  # noqa: E402
from critic_worker.scoring import distributions_by_prefill, justification_context, read_verdict  # noqa: E402
from critic_worker.tiny import ARCHES, _save_onevision, build_tiny_critic  # noqa: E402

REAL_GEOMETRY = "llava-onevision, LLaVA-Critic's image geometry"


class Counter:
    """Tokens fed to the model, by phase: a forward pre-hook on the whole model sees every call, generate's too."""

    def __init__(self, model: Any) -> None:
        self.phase = "generate"
        self.tokens: dict[str, int] = {}
        model.register_forward_pre_hook(self._count, with_kwargs=True)

    def _count(self, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        ids = kwargs.get("input_ids")
        shape = ids.shape if ids is not None else kwargs["inputs_embeds"].shape[:2]
        self.tokens[self.phase] = self.tokens.get(self.phase, 0) + int(shape[0]) * int(shape[1])


def requests(n: int, size: tuple[int, int]) -> list[JudgeRequest]:
    return [
        JudgeRequest(
            [Image.new("RGB", size, (i * 40 % 256, 120, 200))],
            "pairwise" if i % 2 else "pointwise",
            f"What is shown in image {i}?",
            "A coloured square on a plain background, drawn with care.",
            "A blue square." if i % 2 else "",
        )
        for i in range(n)
    ]


def measure(engine: CriticEngine, batch: list[JudgeRequest]) -> dict[str, float]:
    """Judge the batch the engine's way (after), then score the same generations by a second prefill (before)."""
    counter = Counter(engine.model)
    with torch.inference_mode():
        started = time.perf_counter()
        inputs = [engine.critic_input(r) for r in batch]
        texts, generated = engine._generate(inputs)
        generate_s = time.perf_counter() - started
        profiles = [get_profile(r.profile) for r in batch]
        parsed = [read_verdict(p, t) for p, t in zip(profiles, texts, strict=True)]
        tails = [
            "" if p.verdict_first else justification_context(t, v)
            for p, t, v in zip(profiles, texts, parsed, strict=True)
        ]
        counter.phase = "after"
        started = time.perf_counter()
        after = engine._score(generated, [engine._ids(t) for t in tails], profiles)
        after_s = time.perf_counter() - started
        counter.phase = "before"
        started = time.perf_counter()
        before = distributions_by_prefill(
            engine.model,
            engine.processor,
            images=[i.images for i in inputs],
            contexts=[i.prompt + t for i, t in zip(inputs, tails, strict=True)],
            candidates=[engine.candidates(p) for p in profiles],
        )
        before_s = time.perf_counter() - started
    gap = max(abs(a[v] - b[v]) for a, b in zip(after, before, strict=True) for v in a)
    n = len(batch)
    prompt = int(generated.prompt_mask.sum()) / n
    return {
        "prompt": prompt,
        "generate": counter.tokens["generate"] / n,
        "before": counter.tokens["before"] / n,
        "after": counter.tokens["after"] / n,
        "generate_ms": generate_s * 1000 / n,
        "before_ms": before_s * 1000 / n,
        "after_ms": after_s * 1000 / n,
        "gap": gap,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=32)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)  # width-64 models: threads only contend on a shared machine
    work = Path(tempfile.mkdtemp(prefix="critic-tokens-"))
    models = {arch: (build_tiny_critic(work / arch, arch=arch), (64, 48)) for arch in ARCHES}
    real = work / "onevision-384"
    real.mkdir()
    _save_onevision(real, image_size=384, grid=6)
    models[REAL_GEOMETRY] = (real, (768, 768))

    rows = []
    for name, (path, size) in models.items():
        engine = CriticEngine.load(path, quantization="none", device="cpu", max_new_tokens=args.new_tokens)
        engine.model.generation_config.min_new_tokens = args.new_tokens  # random weights: fix the length
        measure(engine, requests(2, size))  # warm-up
        m = measure(engine, requests(args.items, size))
        rows.append((name, m))
        print(f"{name}: {m}")

    lines = [
        "| critic | prompt tokens | generate | scoring before | scoring after | total before | total after "
        "| total ratio | scoring ms before / after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in rows:
        total_before, total_after = m["generate"] + m["before"], m["generate"] + m["after"]
        lines.append(
            f"| {name} | {m['prompt']:.0f} | {m['generate']:.0f} | {m['before']:.0f} | {m['after']:.0f} "
            f"| {total_before:.0f} | {total_after:.0f} | {total_after / total_before:.2f} "
            f"| {m['before_ms']:.0f} / {m['after_ms']:.0f} |"
        )
    real_m = dict(rows)[REAL_GEOMETRY]
    worst_gap = max(m["gap"] for _, m in rows)
    from bench.report import write_section

    write_section(
        "critic-tokens",
        f"""## Verdict scoring from the generation's cache (issue 16)

`.venv/bin/python bench/critic_tokens.py --items {args.items} --new-tokens {args.new_tokens}`: forward-pass tokens
per verdict (rows x columns fed to the model, padding included), {args.items} items per critic (half pointwise 0-100,
101 verdict lines each; half pairwise, 3), {args.new_tokens} generated tokens each, random weights, CPU, one thread.
"Before": after `generate`, each item's images and context are prefilled again to score its verdict lines (the
earlier engine, kept as the tests' reference). "After": the verdict lines continue from `generate`'s own KV cache;
only the last context token and the reasons the critic did not write itself as the same tokens are fed again, and
the lines' shared first tokens ("Score: ") once per item rather than once per line.

{chr(10).join(lines)}

With LLaVA-Critic's image geometry (one 768x768 picture: {real_m["prompt"]:.0f} prompt tokens) the scoring pass fed
{real_m["before"]:.0f} tokens per verdict before and {real_m["after"]:.0f} after
({real_m["after"] / real_m["before"]:.3f}x); all forward passes together, {real_m["generate"] + real_m["before"]:.0f}
before and {real_m["generate"] + real_m["after"]:.0f} after. The tiny critics' pictures are a few tokens, so their
totals change less. The two ways give the same probabilities (largest difference in this run: {worst_gap:.1e};
`tests/critic_worker/test_engine.py` holds them to 1e-4 for every architecture). Times are this run's CPU
milliseconds per verdict for the scoring pass alone.
""",
    )


if __name__ == "__main__":
    main()
