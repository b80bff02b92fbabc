"""Retraining at the critic's real size on a GPU: QLoRA (LoRA on an nf4 base) of a LLaVA-OneVision with
llava-critic-7b's shapes and random weights, through the same `train_lora` the retraining job runs, on rows shaped
as an export writes them (one image, the profile's prompt, the verdict text).

    python bench/gpu_retrain_7b.py               # on a CUDA machine: writes its section of docs/BENCHMARKS.md
    python bench/gpu_retrain_7b.py --smoke       # tiny shapes on the CPU: checks the script itself

Reports seconds per optimizer step, training tokens per second and peak GPU memory, with and without gradient
checkpointing. Random weights: the loss values mean nothing; the time and memory are those of the real shapes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench.gpu_critic_7b import SIGLIP_SO400M, SMOKE_VISION, bitsandbytes_version, build, image_bytes  # noqa: E402
from critic_worker import training  # noqa: E402
from critic_worker.profiles import PromptInput, Verdict, get_profile  # noqa: E402
from critic_worker.training import TrainingRow, TrainOptions, train_lora  # noqa: E402


def rows(n: int, size: int) -> list[TrainingRow]:
    """Export-shaped rows: half pointwise, half pairwise, each with its corrected verdict."""
    out = []
    for i in range(n):
        pairwise = bool(i % 2)
        profile = get_profile("pairwise" if pairwise else "pointwise")
        prompt = PromptInput(
            f"What is shown in image {i}?",
            "A coloured square on a plain background, slightly off centre.",
            "A blue square." if pairwise else "",
        )
        verdict = (
            Verdict(preference="A", justification="Response A describes the square and where it is; B only names it.")
            if pairwise
            else Verdict(score=70, justification="Right about the square, vague about its colour.")
        )
        out.append(
            TrainingRow(
                id=f"row_{i}",
                human="<image>\n" + profile.prompt(prompt),
                gpt=profile.render(verdict),
                image=image_bytes(i, size),
            )
        )
    return out


def count_tokens() -> list[int]:
    """Tokens (unpadded) of every batch the training builds, by wrapping the module's own batch builder."""
    counted: list[int] = []
    build_batch = training.training_batch

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        batch = build_batch(*args, **kwargs)
        counted.append(int(batch["attention_mask"].sum()))
        return batch

    training.training_batch = counting  # type: ignore[assignment]
    return counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny shapes on the CPU, to check the script")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()
    device = "cpu" if args.smoke else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --smoke to check the script on a CPU")
    work = Path(tempfile.mkdtemp(prefix="retrain-7b-"))
    build(work / "base", args.smoke, device)
    size = SMOKE_VISION["image_size"] if args.smoke else SIGLIP_SO400M["image_size"]
    data = rows(args.batch_size * (args.steps + 1), size)
    quantization = "none" if args.smoke else "nf4"
    tokens_per_batch = count_tokens()
    measured: list[tuple[bool, float | None, float | None]] = []
    for checkpointing in (True, False):
        if device == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        stamps: list[float] = []
        options = TrainOptions(
            max_steps=args.steps + 1,  # the first step (allocation, kernels' first run) is left out of the timing
            batch_size=args.batch_size,
            quantization=quantization,
            device=device,
            gradient_checkpointing=checkpointing,
        )
        try:
            train_lora(
                work / "base",
                data,
                work / f"child-{checkpointing}",
                options=options,
                on_step=lambda *_, record=stamps.append: record(time.perf_counter()),  # type: ignore[misc]
            )
        except torch.OutOfMemoryError:
            measured.append((checkpointing, None, None))
            continue
        per_step = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
        peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan")
        measured.append((checkpointing, per_step, peak))
    per_row = sum(tokens_per_batch) / len(tokens_per_batch) / args.batch_size
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU (smoke)"
    import transformers

    lines = [
        "## Retraining at 7B shapes on a GPU (issue 7)",
        "",
        f"`python bench/gpu_retrain_7b.py` on {name}: QLoRA through `train_lora` (the retraining job's code): "
        f"LLaVA-OneVision with llava-critic-7b's shapes and random weights, base in {quantization}, LoRA rank 16 on "
        f"the language model's linear layers, batch {args.batch_size}, rows shaped as an export writes them "
        f"(~{per_row:,.0f} tokens each, most of them the image's), {args.steps} timed steps after "
        f"one warm-up step. torch {torch.__version__}, transformers {transformers.__version__}, bitsandbytes "
        f"{bitsandbytes_version()}.",
        "",
        "| gradient checkpointing | seconds per step | rows per second | tokens per second | peak GPU memory (GiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for checkpointing, per_step, peak in measured:
        if per_step is None or peak is None:
            lines.append(f"| {'on' if checkpointing else 'off'} | out of GPU memory | | | |")
            continue
        rate = args.batch_size / per_step
        lines.append(
            f"| {'on' if checkpointing else 'off'} | {per_step:.2f} | {rate:.2f} | {rate * per_row:,.0f} | {peak:.1f} |"
        )
    lines += [
        "",
        "At the rate with checkpointing, an export of 10,000 corrected rows is one epoch in "
        f"{10_000 * (measured[0][1] or 0) / args.batch_size / 60:.0f} min.",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.smoke:
        from bench.report import write_section

        write_section("gpu-retrain-7b", body)


if __name__ == "__main__":
    main()
