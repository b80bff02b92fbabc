from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from annotations.services.demo import demo_load


class Command(BaseCommand):
    help = "Create the demo accounts and the demo dataset from fixtures/demo (a second run adds nothing)."

    def handle(self, *args: Any, **options: Any) -> None:
        result = demo_load()
        self.stdout.write(f"Dataset {result.dataset.name!r}: {result.items_added} new items.")
        for username, password in result.accounts.items():
            self.stdout.write(f"  log in as {username} / {password}")
