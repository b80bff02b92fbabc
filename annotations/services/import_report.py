"""What an import did, or why it did nothing: counts by kind and profile, by judge and by reason, and the problems
by row and field (the first 100, then a count)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from annotations.wording import counted

MAX_REPORTED = 100


@dataclass(frozen=True)
class Problem:
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        if not self.row:
            return f"file: {self.message}" if self.field == "file" else f"file, {self.field}: {self.message}"
        return f"row {self.row}, {self.field}: {self.message}"


def _nested() -> defaultdict[str, dict[str, int]]:
    return defaultdict(dict)


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    images_new: int = 0
    images_known: int = 0
    labels: int = 0
    reviewers_created: int = 0
    judge_verdicts: int = 0
    judge_unreadable: int = 0
    items: dict[str, dict[str, int]] = field(default_factory=_nested)  # kind -> profile -> items written
    judges: dict[str, dict[str, int]] = field(default_factory=_nested)  # judge -> {"verdicts", "unreadable"}
    refused: dict[str, int] = field(default_factory=dict)  # reason -> rows refused for it
    whole_prompt: int = 0  # critic rows kept whole (their prompt could not be split)
    with_context: int = 0  # items with earlier turns
    with_several_images: int = 0  # items with more than one image
    plain_conversations: int = 0  # LLaVA conversations that are not critic rows: question and answer
    desk_verdicts_kept: int = 0  # labels left out: the reviewer's desk verdict stands (services/import_rights.py)
    queued: int = 0  # items queued for the active critic after the import (the dataset's judge_new_items)
    queued_for: str = ""  # that critic's name
    ignored_fields: dict[str, int] = field(default_factory=dict)  # a JSONL/CSV field not imported -> rows with it
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def add(self, row: int, field_name: str, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_REPORTED:
            self.problems.append(Problem(row, field_name, message))

    def count_refused(self, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1

    def count_ignored(self, name: str) -> None:
        self.ignored_fields[name] = self.ignored_fields.get(name, 0) + 1

    def count_item(self, kind: str, profile: str) -> None:
        self.items[kind][profile] = self.items[kind].get(profile, 0) + 1

    def count_judge(self, name: str, *, readable: bool) -> None:
        counts = self.judges[name]
        counts["verdicts"] = counts.get("verdicts", 0) + 1
        counts["unreadable"] = counts.get("unreadable", 0) + (not readable)
        self.judge_verdicts += 1
        self.judge_unreadable += not readable

    def summary(self) -> str:
        if not self.ok:
            if self.rows == 0:
                return "Nothing was imported: the file has no rows"
            more = self.problem_count - len(self.problems)
            refused = ", ".join(f"{n} {reason}" for reason, n in sorted(self.refused.items()))
            return (
                f"Nothing was imported: {counted(self.problem_count, 'problem')} in {counted(self.rows, 'row')}"
                + (f" (rows refused: {refused})" if refused else "")
                + (f" (the first {len(self.problems)} are listed, {more} more)" if more else "")
            )
        by_profile = ", ".join(
            f"{n:,} {kind}" + (f" ({profile})" if profile != kind else "")
            for kind, profiles in sorted(self.items.items())
            for profile, n in profiles.items()
        )
        by_judge = ", ".join(
            f"{name} {c.get('verdicts', 0)} ({c.get('unreadable', 0)} unreadable)"
            for name, c in sorted(self.judges.items())
        )
        extras = [
            f"{n} {what}"
            for n, what in (
                (self.whole_prompt, "kept as whole prompts"),
                (self.with_context, "with earlier turns as context"),
                (self.with_several_images, "with several images"),
                (self.plain_conversations, "plain conversations (question and answer)"),
            )
            if n
        ]
        return (
            f"{counted(self.rows, 'row')}: {counted(self.created, 'item')} created, {self.updated:,} updated"
            + (f" ({by_profile})" if by_profile else "")
            + (f"; {', '.join(extras)}" if extras else "")
            + f"; images: {self.images_new:,} new, {self.images_known:,} already stored;"
            f" {counted(self.labels, 'human label')}; {counted(self.judge_verdicts, 'external verdict')}"
            f" ({self.judge_unreadable:,} unreadable)"
            + (f": {by_judge}" if by_judge else "")
            + (
                f"; {counted(self.desk_verdicts_kept, 'label')} left out: desk verdicts stand"
                if self.desk_verdicts_kept
                else ""
            )
            + (f"; {counted(self.queued, 'item')} queued for the critic {self.queued_for}" if self.queued else "")
            + (f"; fields not imported: {ignored}" if (ignored := self._ignored()) else "")
        )

    def _ignored(self) -> str:
        return ", ".join(f"{name} ({counted(n, 'row')})" for name, n in sorted(self.ignored_fields.items()))
