from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.models import Dataset, JobStatus
from annotations.selectors.judging import checkpoint_named
from annotations.services.exports import FORMATS, IMAGES_DIR, MANIFEST, training_export_create, training_export_run


def _check_out(out: Path) -> None:
    """Refuse before anything is written: an existing file is never overwritten."""
    if out.exists():
        raise CommandError(f"--out {out} exists already; give a new path (exports never overwrite).")
    parent = out.parent
    if not parent.is_dir():
        raise CommandError(f"--out {out}: the folder {parent} does not exist (or is not a folder).")
    if not os.access(parent, os.W_OK):
        raise CommandError(f"--out {out}: the folder {parent} is not writable.")


def _place(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


class Command(BaseCommand):
    help = (
        "Export a dataset's corrected disagreements as critic training rows: a numbered snapshot under "
        "MEDIA_ROOT/exports/<number>/, copied to --out (data file; manifest beside it as <name>.manifest.json; "
        "images/ beside it for llava-json and dpo-jsonl). Only disagreements are exported unless "
        "--include-agreements is given; the gold split never is."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, help="dataset name")
        parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt", help="training file format")
        parser.add_argument("--out", required=True, type=Path, help="where to write the data file (must not exist)")
        parser.add_argument(
            "--only-disagreements",
            action="store_true",
            help="only items where the people's verdict differs from the critic's (the default, said explicitly)",
        )
        parser.add_argument(
            "--include-agreements", action="store_true", help="also items where people agreed with the critic"
        )
        parser.add_argument(
            "--checkpoint", default="", help="the critic whose verdicts are corrected (default: active)"
        )
        parser.add_argument(
            "--merge-with", default="", help="an existing training file of the same format; our rows win on an id"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["only_disagreements"] and options["include_agreements"]:
            raise CommandError("--only-disagreements and --include-agreements contradict each other; give one.")
        dataset = Dataset.objects.filter(name=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"No dataset named {options['dataset']!r}.")
        checkpoint = None
        if options["checkpoint"]:
            try:
                checkpoint = checkpoint_named(name=options["checkpoint"])
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from None
        out: Path = options["out"].expanduser().absolute()
        _check_out(out)
        started = time.perf_counter()
        try:
            export = training_export_create(
                dataset=dataset,
                fmt=options["fmt"],
                include_agreements=options["include_agreements"],
                checkpoint=checkpoint,
                merge_with=options["merge_with"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        done = training_export_run(export_id=export.pk)
        if done is None or done.status != JobStatus.DONE:
            raise CommandError(f"Export #{export.number} failed: {done.error if done else 'taken by a worker'}")
        folder = Path(settings.MEDIA_ROOT) / done.path
        manifest = done.manifest
        _place(folder / manifest["data_file"], out)
        _place(folder / MANIFEST, out.with_name(out.stem + ".manifest.json"))
        if manifest.get("image_folder"):
            images = out.parent / IMAGES_DIR
            images.mkdir(exist_ok=True)
            for image in (folder / IMAGES_DIR).iterdir():
                if not (images / image.name).exists():  # named by content: the same name is the same bytes
                    _place(image, images / image.name)
        counts, left_out = manifest["counts"], manifest["left_out"]
        per_profile = ", ".join(f"{k} {v}" for k, v in counts["per_profile"].items()) or "none"
        skipped = ", ".join(f"{k} {v}" for k, v in left_out.items() if v) or "nothing"
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"Export #{done.number}: {counts['rows']} rows ({per_profile}) to {out} in {seconds:.2f} s; "
            f"left out: {skipped}."
        )
