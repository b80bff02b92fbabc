"""The plain rows every import format is read into, before validation (no database here)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Label:
    """A human verdict collected elsewhere."""

    reviewer: str
    score: float | None = None
    preference: str | None = None  # as the file spells it (import_verdicts.file_preference reads it)
    where: str = "human_labels"  # the field its problems are reported on


@dataclass
class JudgeEntry:
    """Another judge's verdict on the row's item: a score, a preference, or its raw text (`output`) for the item's
    profile to read. `name` "" stands for the import's own judge (`--judge`, or the format's default)."""

    name: str
    score: float | None = None
    preference: str | None = None  # as the file spells it (import_verdicts.file_preference reads it)
    output: str = ""
    confidence: float | None = None
    where: str = "judge"  # the field its problems are reported on


@dataclass
class Row:
    """One item as read from a file, before validation. `number` is the line or row the user sees."""

    number: int
    external_id: str = ""
    image_ref: str = ""  # a relative path, or a data: URI
    image_bytes: bytes | None = None  # embedded in the file (parquet)
    more_image_refs: list[str] = field(default_factory=list)  # the item's second, third, ... images, in order
    question: str = ""
    response_a: str = ""
    response_b: str = ""
    model_a: str = ""
    model_b: str = ""
    reference: str = ""
    split: str = ""
    profile: str = ""
    context: list[dict[str, str]] = field(default_factory=list)  # earlier turns: {"role", "text"}
    labels: list[Label] = field(default_factory=list)
    judges: list[JudgeEntry] = field(default_factory=list)
    # A critic row imported with its prompt whole: the profiles that may read its verdict, in the order tried.
    whole_prompt_profiles: tuple[str, ...] = ()
    plain_conversation: bool = False  # a LLaVA conversation that is not a critic row: question and answer
    unknown_fields: list[str] = field(default_factory=list)  # a JSONL/CSV row's fields the import does not read
    problems: list[tuple[str, str]] = field(default_factory=list)  # (field, message) found while reading
    refused: str = ""  # why the row cannot be imported at all, in a few words (counted in the report)

    def problem(self, field_name: str, message: str) -> None:
        self.problems.append((field_name, message))

    def refuse(self, reason: str, field_name: str, message: str) -> None:
        self.refused = self.refused or reason
        self.problem(field_name, message)

    @property
    def image_count(self) -> int:
        return bool(self.image_ref or self.image_bytes is not None) + len(self.more_image_refs)

    @property
    def whole_prompt(self) -> bool:
        return bool(self.whole_prompt_profiles)
