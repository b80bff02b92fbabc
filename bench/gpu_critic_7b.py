"""The critic at its real size on a GPU: a LLaVA-OneVision with llava-critic-7b's shapes (Qwen2-7B language model,
SigLIP-so400m tower) and random weights, loaded in nf4 through the same `CriticEngine.load` path as the real
checkpoint, judging batches of 1, 8 and 32 items.

    python bench/gpu_critic_7b.py                # on a CUDA machine: writes its section of docs/BENCHMARKS.md
    python bench/gpu_critic_7b.py --smoke        # tiny shapes on the CPU: checks the script itself

Reports verdicts/s, generated tokens/s, peak GPU memory, and the decode speed against the memory-bandwidth
limit (each decode step reads every weight once: tokens/s <= batch x bandwidth / weight bytes).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import transformers  # noqa: E402
from PIL import Image  # noqa: E402
from transformers import (  # noqa: E402
    LlavaOnevisionConfig,
    LlavaOnevisionForConditionalGeneration,
    Qwen2Config,
    SiglipVisionConfig,
)

from critic_worker.checkpoint_info import token_id  # noqa: E402
from critic_worker.convert import SIGLIP_SO400M as CONVERTED_SIGLIP  # noqa: E402
from critic_worker.engine import CriticEngine, JudgeRequest, onevision_image_processor, open_image  # noqa: E402
from critic_worker.tiny import _tokenizer  # noqa: E402

QWEN2_7B = {
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "vocab_size": 152064,
    "max_position_embeddings": 32768,
}
SIGLIP_SO400M = {**CONVERTED_SIGLIP, "num_hidden_layers": 26}  # 27 in SigLIP, less the one LLaVA drops
SMOKE_TEXT = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 512,
    "max_position_embeddings": 8192,
}
SMOKE_VISION = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "patch_size": 14,
    "image_size": 28,
}
BANDWIDTH_GBS = {"H100": 3350, "H200": 4800, "A100": 2039}  # HBM bandwidth by card (vendor figures, GB/s)


def build(out: Path, smoke: bool, device: str) -> None:
    tokenizer = _tokenizer()
    text, vision = (SMOKE_TEXT, SMOKE_VISION) if smoke else (QWEN2_7B, SIGLIP_SO400M)
    size = vision["image_size"]
    pinpoints = [[size * h, size * w] for h in range(1, 7) for w in range(1, 7)]
    config = LlavaOnevisionConfig(
        vision_config=SiglipVisionConfig(**vision, vision_use_head=False),
        text_config=Qwen2Config(
            **text,
            rope_theta=1_000_000.0,
            eos_token_id=token_id(tokenizer, "<|im_end|>"),
            pad_token_id=tokenizer.pad_token_id,
        ),
        image_token_index=token_id(tokenizer, "<image>"),
        video_token_index=token_id(tokenizer, "<video>"),
        image_grid_pinpoints=pinpoints,
        vision_feature_select_strategy="full",
    )
    torch.set_default_dtype(torch.bfloat16)
    with torch.device(device):
        model = LlavaOnevisionForConditionalGeneration(config)  # random weights of the real shapes
    torch.set_default_dtype(torch.float32)
    model.save_pretrained(out)
    del model
    tokenizer.save_pretrained(out)
    onevision_image_processor(size, pinpoints).save_pretrained(out)


def timed_phases(engine: CriticEngine, sync: bool) -> dict[str, float]:
    """Wall time per phase of `judge` (generate and scoring include their own preprocessing; it is also counted
    apart), by wrapping the engine's own methods on this instance."""
    spent: dict[str, float] = {}

    def wrap(name: str, phase: str) -> None:
        inner = getattr(engine, name)

        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            result = inner(*args, **kwargs)
            if sync:
                torch.cuda.synchronize()
            spent[phase] = spent.get(phase, 0.0) + time.perf_counter() - started
            return result

        setattr(engine, name, timed)

    wrap("batch_inputs", "preprocess")
    wrap("_generate", "generate")
    wrap("_score", "scoring")
    return spent


def bitsandbytes_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bitsandbytes")
    except PackageNotFoundError:
        return "not installed"


def image_bytes(i: int, size: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), (i * 40 % 256, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny shapes on the CPU, to check the script")
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--quantization", default="nf4")
    args = parser.parse_args()
    device = "cpu" if args.smoke else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --smoke to check the script on a CPU")

    work = Path(tempfile.mkdtemp(prefix="critic-7b-"))
    started = time.perf_counter()
    build(work, args.smoke, device)
    built = time.perf_counter() - started
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    engine = CriticEngine.load(str(work), quantization=args.quantization, device=device, max_new_tokens=args.new_tokens)
    loaded = time.perf_counter() - started
    engine.model.generation_config.min_new_tokens = args.new_tokens  # random weights: fix the length
    weight_bytes = sum(p.numel() * p.element_size() for p in engine.model.parameters())
    weight_bytes += sum(b.numel() * b.element_size() for b in engine.model.buffers())
    size = SMOKE_VISION["image_size"] if args.smoke else SIGLIP_SO400M["image_size"]

    phases = timed_phases(engine, sync=device == "cuda")
    rows = []
    for batch in [int(b) for b in args.batches.split(",")]:
        requests = [
            JudgeRequest(
                [open_image(image_bytes(i, size))],
                "pairwise" if i % 2 else "pointwise",
                f"What is shown in image {i}?",
                "A coloured square on a plain background.",
                "A blue square." if i % 2 else "",
            )
            for i in range(batch)
        ]
        engine.judge(requests[:1])  # warm-up
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        phases.clear()
        t0 = time.perf_counter()
        engine.judge(requests)
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan")
        rows.append((batch, batch / seconds, batch * args.new_tokens / seconds, peak, dict(phases)))

    name = torch.cuda.get_device_name() if device == "cuda" else "CPU (smoke)"
    bandwidth = next((gbs for card, gbs in BANDWIDTH_GBS.items() if card in name), None)
    lines = [
        "## The critic at 7B shapes on a GPU (issue 3)",
        "",
        f"`python bench/gpu_critic_7b.py` on {name}: LLaVA-OneVision with llava-critic-7b's shapes, random weights, "
        f"{args.quantization}, {args.new_tokens} new tokens per item (forced length), one 384x384 image per item, "
        "half pointwise, half pairwise; each verdict's distribution scored as in production.",
        "",
        f"Weights in memory: {weight_bytes / 2**30:.2f} GiB; built in {built:.0f} s, loaded and quantized in "
        f"{loaded:.0f} s. torch {torch.__version__}, transformers {transformers.__version__}, bitsandbytes "
        f"{bitsandbytes_version()}.",
        "",
        "| batch | verdicts/s | generated tokens/s | peak GPU memory (GiB) | bandwidth limit (tokens/s) "
        "| of the limit | seconds: image preprocessing / generate / verdict scoring |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for batch, vps, tps, peak, spent in rows:
        limit = batch * bandwidth * 1e9 / weight_bytes if bandwidth else float("nan")
        split = " / ".join(f"{spent.get(k, 0.0):.2f}" for k in ("preprocess", "generate", "scoring"))
        lines.append(f"| {batch} | {vps:.2f} | {tps:.0f} | {peak:.1f} | {limit:.0f} | {tps / limit:.0%} | {split} |")
    base = rows[0][1]
    lines += [
        "",
        "Against batch 1: " + ", ".join(f"batch {b} {v / base:.1f}x" for b, v, *_ in rows[1:]) + ".",
        "The bandwidth limit counts only the weights read per decode step (not the prefill of ~1,500 image "
        "tokens per item, the KV cache, or the verdict scoring), so it is a ceiling, not a target.",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.smoke:
        from bench.report import write_section

        write_section("gpu-critic-7b", body)


if __name__ == "__main__":
    main()
