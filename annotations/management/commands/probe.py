from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.management.inline import judge_here
from annotations.models import Dataset, Probe
from annotations.selectors.judging import verdict_failures
from annotations.selectors.metrics import agreement_for_dataset, metric_tables, metrics_checkpoint, shown
from annotations.services.judging import checkpoint_resolve
from annotations.services.probes import PROBE_SEED, probes_queue


class Command(BaseCommand):
    help = (
        "Probe whether the critic looks at the image (and at the answers, not their order): queue the dataset's "
        "items, or a seeded sample, judged again with a blank image of the same size (blank-image), another item's "
        "image (other-image) or the responses exchanged (swap), through the critic workers, or with --inline here, "
        "in this process; then print the flip rate and the mean score shift. Items that have the probe already "
        "are left (failed ones are tried again)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, help="dataset name")
        parser.add_argument("--kind", required=True, choices=Probe.values, help="what the probe changes")
        parser.add_argument("--sample", type=int, default=None, help="a seeded random sample of N items (default: all)")
        parser.add_argument("--seed", type=int, default=PROBE_SEED, help="the seed of the sample and of other-image")
        parser.add_argument("--checkpoint", default="", help="checkpoint name (default: the active one)")
        parser.add_argument(
            "--inline", action="store_true", help="judge here, in this process (for scripts and small sets)"
        )
        parser.add_argument("--batch-size", type=int, default=0, help="items per batch (default: CRITIC_BATCH_SIZE)")

    def handle(self, *args: Any, **options: Any) -> None:
        dataset = Dataset.objects.filter(name=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"No dataset named {options['dataset']!r}.")
        if options["sample"] is not None and options["sample"] < 1:
            raise CommandError("--sample must be a positive number of items.")
        if options["batch_size"] < 0:
            raise CommandError("--batch-size must be a positive number.")
        kind = options["kind"]
        try:
            checkpoint = checkpoint_resolve(name=options["checkpoint"])
            queued = probes_queue(
                dataset=dataset,
                checkpoint=checkpoint,
                kind=kind,
                sample=options["sample"],
                seed=options["seed"],
                wake=not options["inline"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        if not options["inline"]:
            self.stdout.write(
                f"Queued the {kind} probe of {queued.queued} items of {dataset.name!r} for {checkpoint.name} in "
                f"{queued.batches} batches. Its results: the dataset's metrics (probes), or this command again."
            )
            return
        self.stdout.write(f"Probing {queued.queued} items of {dataset.name!r} ({kind}) with {checkpoint.name}, here.")
        batch_size = options["batch_size"] or settings.CRITIC_BATCH_SIZE
        outcome, seconds = judge_here(self.stdout.write, verdict_ids=queued.verdict_ids, batch_size=batch_size)
        self.stdout.write(
            f"Judged {outcome.judged} of {queued.queued} probe verdicts in {seconds:.1f} s: "
            f"{outcome.done} done, {outcome.failed} failed."
        )
        for item, error in verdict_failures(verdict_ids=queued.verdict_ids):
            self.stdout.write(f"  failed {item}: {error}")
        self._summary(dataset, checkpoint_name=checkpoint.name, kind=kind)

    def _summary(self, dataset: Dataset, *, checkpoint_name: str, kind: str) -> None:
        """The probe's figures over all of the dataset's items that have it and the item's own verdict."""
        metrics = agreement_for_dataset(dataset=dataset, checkpoint=metrics_checkpoint(name=checkpoint_name))
        section = metrics["probes"][kind]
        self.stdout.write(f"{section['label']}: {section['verdicts']} finished probe verdicts.")
        rows = metric_tables(metrics)["statistics"]
        for item_kind in ("pointwise", "pairwise"):
            block = section.get(item_kind)
            if block is None:
                continue
            self.stdout.write(f"  {item_kind}: {block['n']} items with both verdicts; a flip: {block['flip_rule']}")
            for row in rows:
                if row["section"] == f"probe {kind} ({item_kind})":
                    self.stdout.write(f"    {row['statistic']:<22} {shown(row)}")
