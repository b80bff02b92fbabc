from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.importers.formats import FORMATS
from annotations.models import Dataset
from annotations.services.imports import items_import


class Command(BaseCommand):
    help = (
        "Import items from a JSONL or CSV file (with a folder or zip of images), a LLaVA JSON file, or "
        "llava-critic-113k-style parquet. The whole file is checked first; on any problem nothing is imported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="the data file")
        parser.add_argument("--images", type=Path, help="folder or zip archive the image paths are relative to")
        parser.add_argument("--dataset", required=True, help="dataset name (created if it does not exist)")
        parser.add_argument("--profile", default="", help="prompt profile for rows that do not name one")
        parser.add_argument("--format", default="auto", choices=["auto", *FORMATS])
        parser.add_argument(
            "--judge",
            default="",
            help="name of the external judge whose verdicts the file holds (default for llava-critic parquet: gpt-4o)",
        )
        parser.add_argument("--update", action="store_true", help="update items whose id exists instead of refusing")
        parser.add_argument(
            "--whole-prompt",
            action="store_true",
            help="keep LLaVA JSON / parquet critic rows whose prompt is in an unrecognised shape as whole-prompt items "
            "(the prompt as the question, with the verdict) instead of refusing them",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        dataset, created = Dataset.objects.get_or_create(name=options["dataset"])  # removed again if nothing comes in
        interactive = sys.stdout.isatty()

        def progress(stage: str, done: int, total: int) -> None:
            line = f"{stage}: {done:,} of {total:,} rows"
            self.stdout.write(f"\r{line}", ending="" if interactive else "\n")

        started = time.perf_counter()
        try:
            report = items_import(
                dataset=dataset,
                path=path,
                fmt=options["format"],
                images=options["images"],
                profile=options["profile"],
                judge=options["judge"],
                update=options["update"],
                whole_prompt=options["whole_prompt"],
                progress=progress,
            )
        except (ValidationError, ValueError) as exc:
            if created:
                dataset.delete()
            message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            raise CommandError(message) from None
        if interactive:
            self.stdout.write("")
        if not report.ok:
            for problem in report.problems:
                self.stderr.write(f"  {problem}")
            if created:
                dataset.delete()
            raise CommandError(report.summary())
        seconds = time.perf_counter() - started
        if created:
            self.stdout.write(f"Created dataset {dataset.name!r}.")
        self.stdout.write(
            f"Imported into {dataset.name!r} in {seconds:.2f} s ({report.rows / seconds:,.0f} rows/s): "
            f"{report.summary()}."
        )
