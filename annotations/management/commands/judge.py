from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.management.inline import judge_here
from annotations.models import CriticCheckpoint, Dataset
from annotations.selectors.judging import critic_progress, verdict_failures
from annotations.services.judging import QueueResult, checkpoint_resolve, verdicts_queue


class Command(BaseCommand):
    help = (
        "Queue a dataset's items for the critic (the active checkpoint unless --checkpoint names one), or with "
        "--inline judge them here, in this process, without a worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, help="dataset name")
        parser.add_argument("--checkpoint", default="", help="checkpoint name (default: the active one)")
        parser.add_argument(
            "--only-missing", action="store_true", help="only items without a finished verdict (default: all)"
        )
        parser.add_argument("--wait", action="store_true", help="print progress until every verdict is in")
        parser.add_argument(
            "--inline",
            action="store_true",
            help="judge here, in this process (for scripts and small sets), with progress and a summary",
        )
        parser.add_argument("--batch-size", type=int, default=0, help="items per batch (default: CRITIC_BATCH_SIZE)")

    def handle(self, *args: Any, **options: Any) -> None:
        dataset = Dataset.objects.filter(name=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"No dataset named {options['dataset']!r}.")
        if options["batch_size"] < 0:
            raise CommandError("--batch-size must be a positive number.")
        try:
            checkpoint = checkpoint_resolve(name=options["checkpoint"])
            result = verdicts_queue(
                dataset=dataset,
                checkpoint=checkpoint,
                only_missing=options["only_missing"],
                wake=not options["inline"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        if options["inline"]:
            self._inline(dataset, checkpoint, result, batch_size=options["batch_size"] or settings.CRITIC_BATCH_SIZE)
            return
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

    def _inline(self, dataset: Dataset, checkpoint: CriticCheckpoint, queued: QueueResult, *, batch_size: int) -> None:
        self.stdout.write(f"Judging {queued.queued} items of {dataset.name!r} with {checkpoint.name}, here.")
        outcome, seconds = judge_here(self.stdout.write, verdict_ids=queued.verdict_ids, batch_size=batch_size)
        totals = critic_progress(dataset=dataset, checkpoint=checkpoint)
        rate = f", {outcome.judged / seconds:.2f} items/s" if outcome.judged and seconds > 0 else ""
        self.stdout.write(
            f"Judged {outcome.judged} of {queued.queued} items in {seconds:.1f} s{rate}: {outcome.done} done, "
            f"{outcome.failed} failed. {dataset.name!r} with {checkpoint.name} now has {totals.done} verdicts "
            f"({totals.forced} read from the logits), {totals.failed} failed, {totals.pending} pending, "
            f"{totals.missing} items without one."
        )
        for item, error in verdict_failures(verdict_ids=queued.verdict_ids):
            self.stdout.write(f"  failed {item}: {error}")
        if outcome.judged < queued.queued:
            self.stdout.write(f"  {queued.queued - outcome.judged} were taken by a worker meanwhile.")
