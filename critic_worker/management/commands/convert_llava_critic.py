from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Convert LLaVA-Critic in its original LLaVA-NeXT layout (e.g. lmms-lab/llava-critic-7b downloaded to SRC) "
        "into a transformers LlavaOnevision checkpoint in OUT, for CRITIC_MODEL."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("src", help="folder with the original config.json, weights and tokenizer")
        parser.add_argument("out", help="folder to write the converted checkpoint to")
        parser.add_argument(
            "--vision-heads", type=int, help="attention heads of a vision tower other than SigLIP-so400m"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from critic_worker.convert import ConversionError, convert_llava_critic  # torch: only when run

        try:
            out = convert_llava_critic(options["src"], options["out"], vision_heads=options["vision_heads"])
        except (ConversionError, OSError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Converted {options['src']} into {out}. Point CRITIC_MODEL at it.")
