from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from critic_worker.checkpoint_info import TINY_ARCHES


class Command(BaseCommand):
    help = "Build a tiny critic with random weights (fully offline), for demos and tests. Its verdicts mean nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out", help="folder to write the model, tokenizer and image processor to")
        parser.add_argument(
            "--arch", choices=TINY_ARCHES, default="llava-onevision", help="the architecture (default: %(default)s)"
        )
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **options: Any) -> None:
        from critic_worker.tiny import build_tiny_critic  # torch: only when the command runs

        out = build_tiny_critic(options["out"], arch=options["arch"], seed=options["seed"])
        self.stdout.write(f"Built a random-weight {options['arch']} critic in {out}.")
