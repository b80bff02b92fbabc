from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.models import Dataset, Item, Probe
from annotations.services.judging import checkpoint_resolve, verdict_job
from annotations.services.probes import probe_image_for


class Command(BaseCommand):
    help = (
        "Write exactly what the critic receives for one item: its pictures as image-1.png, image-2.png, ... (before "
        "the processor's own resizing) and the whole prompt after the chat template as prompt.txt; with --probe, "
        "what it receives under that probe (a blank image, another item's image, the responses swapped)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, help="dataset name")
        parser.add_argument("--item", required=True, help="the item's id in the dataset (as imported)")
        parser.add_argument("--out", required=True, help="folder to write the files to (made if missing)")
        parser.add_argument("--checkpoint", default="", help="whose processor and chat template (default: active)")
        parser.add_argument("--probe", default="", choices=["", *Probe.values], help="what a probe gives it instead")

    def handle(self, *args: Any, **options: Any) -> None:
        dataset = Dataset.objects.filter(name=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"No dataset named {options['dataset']!r}.")
        item = Item.objects.select_related("image").filter(dataset=dataset, external_id=options["item"]).first()
        if item is None:
            raise CommandError(f"No item {options['item']!r} in {dataset.name!r}.")
        probe = options["probe"]
        try:
            checkpoint = checkpoint_resolve(name=options["checkpoint"])
            if probe == Probe.SWAP and not item.is_pairwise:
                raise ValidationError(f"{item.external_id!r} has one response: there is nothing to swap.")
            instead = probe_image_for(item=item, checkpoint=checkpoint) if probe == Probe.OTHER_IMAGE else None
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        # torch and transformers: only when the command runs
        from critic_worker.engine import request_input
        from critic_worker.loading import load_processor
        from critic_worker.tasks import judge_request

        job = verdict_job(item=item, checkpoint=checkpoint, probe=probe, probe_image=instead)
        try:
            request = judge_request(job)
            processor, config = load_processor(checkpoint.model, revision=checkpoint.revision or None)
            seen = request_input(request, processor=processor, model_type=config.model_type)
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(f"{checkpoint.name}: {exc}") from None
        out = Path(options["out"])
        out.mkdir(parents=True, exist_ok=True)
        for n, picture in enumerate(seen.images, start=1):
            picture.save(out / f"image-{n}.png", format="PNG")
        (out / "prompt.txt").write_text(seen.prompt, encoding="utf-8")
        under = f" under the {probe} probe" if probe else ""
        self.stdout.write(
            f"Wrote {len(seen.images)} image(s) and prompt.txt ({len(seen.prompt)} characters) for "
            f"{dataset.name}/{item.external_id} as {checkpoint.name} sees it{under}, to {out}."
        )
