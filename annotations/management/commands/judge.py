from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.models import Dataset
from annotations.selectors.judging import critic_progress
from annotations.services.judging import checkpoint_resolve, verdicts_queue


class Command(BaseCommand):
    help = "Queue a dataset's items for the critic (the active checkpoint unless --checkpoint names one)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, help="dataset name")
        parser.add_argument("--checkpoint", default="", help="checkpoint name (default: the active one)")
        parser.add_argument(
            "--only-missing", action="store_true", help="only items without a finished verdict (default: all)"
        )
        parser.add_argument("--wait", action="store_true", help="print progress until every verdict is in")

    def handle(self, *args: Any, **options: Any) -> None:
        dataset = Dataset.objects.filter(name=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"No dataset named {options['dataset']!r}.")
        try:
            checkpoint = checkpoint_resolve(name=options["checkpoint"])
            result = verdicts_queue(dataset=dataset, checkpoint=checkpoint, only_missing=options["only_missing"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(
            f"Queued {result.queued} items of {dataset.name!r} for {checkpoint.name} in {result.batches} batches."
        )
        while options["wait"]:
            progress = critic_progress(dataset=dataset, checkpoint=checkpoint)
            self.stdout.write(
                f"  done {progress.done}, failed {progress.failed}, pending {progress.pending} of {progress.items}"
            )
            if progress.pending == 0:
                break
            time.sleep(2)
