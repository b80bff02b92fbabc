from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.models import TrainingExport
from annotations.services.retraining import retraining_base_resolve, retraining_job_create


class Command(BaseCommand):
    help = (
        "Fine-tune a critic checkpoint with LoRA on a training export, register the child and gate it on the gold "
        "split. Queues the job on the critic worker; --now runs it in this process instead."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--export", required=True, type=int, help="the export's id")
        parser.add_argument(
            "--base", default="", help="checkpoint name (default: the export's source checkpoint, else the active one)"
        )
        parser.add_argument("--now", action="store_true", help="run the job here and wait for it (needs torch)")
        parser.add_argument("--epochs", type=int, help="passes over the export (default 3)")
        parser.add_argument("--max-steps", type=int, help="stop after this many optimiser steps")
        parser.add_argument("--batch-size", type=int, help="rows per step (default 4)")
        parser.add_argument("--learning-rate", type=float, help="AdamW learning rate (default 2e-4)")
        parser.add_argument("--lora-rank", type=int, help="LoRA rank r (default 16)")
        parser.add_argument("--merge", action="store_true", help="also save full weights with the adapter merged")

    def handle(self, *args: Any, **options: Any) -> None:
        export = TrainingExport.objects.filter(pk=options["export"]).first()
        if export is None:
            raise CommandError(f"No export with id {options['export']}.")
        training = {
            key: options[key]
            for key in ("epochs", "max_steps", "batch_size", "learning_rate", "lora_rank")
            if options[key] is not None
        }
        if options["merge"]:
            training["merge"] = True
        try:
            base = retraining_base_resolve(export=export, name=options["base"])
            job = retraining_job_create(
                export=export, base=base, created_by=None, options=training, send=not options["now"]
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"Retraining job {job.pk}: {base.name} on export #{export.number}.")
        if not options["now"]:
            self.stdout.write("Queued on the critic worker; follow it on the Retraining page.")
            return
        from critic_worker.tasks import retrain

        retrain(job.pk)
        job.refresh_from_db()
        if job.status != "done":
            raise CommandError(f"Retraining job {job.pk} failed: {job.error.splitlines()[0] if job.error else '?'}")
        losses = [entry["loss"] for entry in job.loss_log]
        gate = {True: "passed", False: "REFUSED (worse than the parent on gold)", None: "no evidence on gold"}
        self.stdout.write(
            f"Done: {len(losses)} steps, loss {losses[0]:.4f} -> {losses[-1]:.4f}; child {job.child}; "
            f"gate {gate[job.gate_passed]}."
        )
