from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.models import CriticCheckpoint, Dataset
from annotations.services.rereading import verdicts_for_reread, verdicts_reread


class Command(BaseCommand):
    help = (
        "Re-read stored critic verdicts' raw outputs with the current verdict reader and report how many would "
        "change, by profile and checkpoint (read as another value, now unreadable, newly readable). With --apply, "
        "write the changes in one transaction, keeping every verdict's previous values in a re-read record."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", default="", help="only this dataset's verdicts")
        parser.add_argument("--checkpoint", default="", help="only this checkpoint's verdicts")
        parser.add_argument("--apply", action="store_true", help="write the changes (default: report only)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        dataset = None
        if options["dataset"]:
            dataset = Dataset.objects.filter(name=options["dataset"]).first()
            if dataset is None:
                raise CommandError(f"No dataset named {options['dataset']!r}.")
        if options["checkpoint"] and not CriticCheckpoint.objects.filter(name=options["checkpoint"]).exists():
            raise CommandError(f"No checkpoint named {options['checkpoint']!r}.")
        scope = ", ".join(f"{k} {options[k]}" for k in ("dataset", "checkpoint") if options[k]) or "all verdicts"
        report = verdicts_reread(
            verdicts=verdicts_for_reread(dataset=dataset, checkpoint_name=options["checkpoint"]),
            apply=options["apply"],
            scope=f"manage.py reread_verdicts: {scope}",
        )
        if options["json"]:
            self.stdout.write(json.dumps(report.as_json(), indent=2))
            return
        totals = report.totals()
        action = f"Applied (re-read #{report.run.pk})" if report.run else "Would change (nothing written; --apply)"
        self.stdout.write(
            f"Re-read {report.examined} verdicts ({scope}). {action}: {totals['changed']} read as another value, "
            f"{totals['unreadable']} now unreadable, {totals['readable']} newly readable."
        )
        for (profile, checkpoint), counts in sorted(report.by_group.items()):
            self.stdout.write(
                f"  {profile:<12} {checkpoint:<40} changed {counts['changed']:>6}  unreadable "
                f"{counts['unreadable']:>6}  readable {counts['readable']:>6}"
            )
