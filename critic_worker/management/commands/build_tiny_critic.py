from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Build a tiny critic with random weights (fully offline), for demos and tests. Its verdicts mean nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out", help="folder to write the model, tokenizer and image processor to")
        parser.add_argument("--arch", choices=["llava-onevision", "llava"], default="llava-onevision")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **options: Any) -> None:
        from critic_worker.tiny import build_tiny_critic  # torch: only when the command runs

        out = build_tiny_critic(options["out"], arch=options["arch"], seed=options["seed"])
        self.stdout.write(f"Built a random-weight {options['arch']} critic in {out}.")
