from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotations.selectors.profiles import profile_reading
from critic_worker.profiles import get_profile


class Command(BaseCommand):
    help = (
        "Read a critic's verdict text from stdin with a prompt profile's reader and print one JSON object: "
        '{"readable": bool, "score": number|null, "preference": "A"|"B"|"tie"|null, "reason": str}.'
    )
    stealth_options = ("stdin",)  # call_command(..., stdin=StringIO(text)) for callers in the same process

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--profile", required=True, help="prompt profile whose reader reads the text")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            get_profile(options["profile"])  # an unknown name fails before stdin is waited on
        except KeyError as exc:
            raise CommandError(str(exc.args[0])) from None
        stdin = options.get("stdin") or sys.stdin
        self.stdout.write(json.dumps(profile_reading(name=options["profile"], text=stdin.read())))
