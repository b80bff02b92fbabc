from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.models import Dataset
from annotations.selectors.metrics import agreement_for_dataset, metric_tables, metrics_checkpoint, shown
from annotations.selectors.trust import trust_lines


class Command(BaseCommand):
    help = (
        "Agreement between a critic checkpoint (default: the active one; external judges too) and the reviewers "
        "on a dataset, with bootstrap 95% intervals, and the trust section (alt-test, human ceiling, PPI, label "
        "planning): a table, or the JSON the API returns (--json). With no checkpoint, the reviewers' agreement. An "
        "administrator's tool: over all items (a reviewer's dashboard covers only the items they judged)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, help="dataset name")
        parser.add_argument("--checkpoint", default="", help="checkpoint name (default: the active one)")
        parser.add_argument("--split", default="", choices=["", "pool", "gold"], help="only this split")
        parser.add_argument("--profile", default="", help="only items with this prompt profile")
        parser.add_argument("--reviewer", default="", help="only this reviewer's verdicts (username)")
        parser.add_argument("--response-model", default="", help="only items where this model wrote a response")
        parser.add_argument("--json", action="store_true", help="print the metrics as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        dataset = Dataset.objects.filter(name=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"No dataset named {options['dataset']!r}.")
        try:
            checkpoint = metrics_checkpoint(name=options["checkpoint"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        metrics = agreement_for_dataset(
            dataset=dataset,
            checkpoint=checkpoint,
            split=options["split"],
            profile=options["profile"],
            reviewer=options["reviewer"],
            response_model=options["response_model"],
        )
        if options["json"]:
            self.stdout.write(json.dumps(metrics, indent=2))
            return
        critic = metrics["checkpoint"]["name"] if metrics["checkpoint"] else "none (the reviewers' agreement only)"
        self.stdout.write(f"{metrics['dataset']} · critic {critic}")
        section = ""
        for row in metric_tables(metrics)["statistics"]:
            if row["section"] != section:
                section = row["section"]
                self.stdout.write(f"\n{section}")
            self.stdout.write(f"  {row['statistic']:<26} {shown(row):<34} n={row['n']}")
        for row in metric_tables(metrics)["leaderboard"]:
            self.stdout.write(
                f"  {row['judge']:<7} #{row['rank']:<3} {row['model']:<28} {shown(row):<34} games={row['n']}"
            )
        for line in trust_lines(metrics["trust"]):
            self.stdout.write(line)
