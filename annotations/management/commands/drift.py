from __future__ import annotations

import json
import socket
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.models import Dataset, DriftAudit
from annotations.selectors.drift import drift_lines, drift_report
from annotations.selectors.judging import checkpoint_named
from annotations.services.drift import DEFAULT_SAMPLE, drift_audit_create, quantizations_parse


class Command(BaseCommand):
    help = (
        "A drift audit: judge a sample of a dataset's items with one checkpoint at several quantizations (nf4, int8, "
        "full precision) and report how far its verdicts agree between them (Pearson r, Cohen's kappa, flip rate, "
        "with 95% intervals). Queued on a critic worker, or with --inline judged here, in this process. Its "
        "verdicts never count as the checkpoint's critic verdicts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--checkpoint", required=True, help="checkpoint name")
        parser.add_argument("--dataset", required=True, help="dataset name (the sample is drawn from its items)")
        parser.add_argument("--sample", type=int, default=DEFAULT_SAMPLE, help=f"items (default {DEFAULT_SAMPLE})")
        parser.add_argument(
            "--quantizations", default="nf4,int8,none", help="at least two of nf4, int8, none (default: all three)"
        )
        parser.add_argument("--seed", type=int, default=None, help="seed of the sample draw (default: random)")
        parser.add_argument("--inline", action="store_true", help="judge here, in this process, without a worker")
        parser.add_argument("--json", action="store_true", help="print the report as JSON (with --inline)")

    def handle(self, *args: Any, **options: Any) -> None:
        dataset = Dataset.objects.filter(name=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"No dataset named {options['dataset']!r}.")
        try:
            checkpoint = checkpoint_named(name=options["checkpoint"])
            audit = drift_audit_create(
                checkpoint=checkpoint,
                dataset=dataset,
                quantizations=quantizations_parse(options["quantizations"]),
                sample=options["sample"],
                seed=options["seed"],
                wake=not options["inline"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        if not options["inline"]:
            self.stdout.write(
                f"Queued drift audit {audit.pk} of {checkpoint.name} on {dataset.name!r} "
                f"({', '.join(audit.quantizations)}) for a critic worker. Its report is on the checkpoint's page."
            )
            return
        self._inline(audit, as_json=options["json"])

    def _inline(self, audit: DriftAudit, *, as_json: bool) -> None:
        from critic_worker.tasks_drift import run_drift_audit  # torch loads with the first model

        log = self.stderr if as_json else self.stdout
        log.write(f"Drift audit {audit.pk}: judging {audit.verdicts.count()} verdicts here.")
        started = time.perf_counter()

        def report(quantization: str, judged: int, loaded: dict[str, Any]) -> None:
            state = f"unavailable: {loaded['unavailable']}" if "unavailable" in loaded else f"{judged} judged"
            log.write(f"  {quantization}: {state}, {time.perf_counter() - started:.1f} s")

        run_drift_audit(audit_id=audit.pk, worker=f"inline@{socket.gethostname()}", on_stage=report)
        result = drift_report(audit=DriftAudit.objects.select_related("checkpoint", "dataset").get(pk=audit.pk))
        if as_json:
            self.stdout.write(json.dumps(result, indent=2))
        else:
            self.stdout.write("\n".join(drift_lines(result)))
        if result["status"] == "failed":
            raise CommandError(f"Drift audit {audit.pk} failed: {result['error']}")
