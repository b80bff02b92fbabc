"""The prompt profile form of the Profiles pages: it parses what was typed into the fields the service takes
(annotations.services.profiles), which decides whether they make a profile, as it does for the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import escape

from annotations.services.profiles import FIELDS
from critic_worker.profile_specs import MAX_CHARS, NAME
from critic_worker.profiles import FAMILIES, PREFERENCES, SYSTEM_PROMPT, find_profile

READERS = [
    ("pattern", "A pattern of our own (the three fields below)"),
    *[(name, f"The {name!r} family's reader ({family.kind})") for name, family in FAMILIES.items()],
]
# What a new profile starts from, per kind: a scale of 1 to 5 in ones, ties allowed, and a pattern that reads the
# verdict line it writes back.
DEFAULTS: dict[str, dict[str, Any]] = {
    "pointwise": {
        "kind": "pointwise",
        "system": SYSTEM_PROMPT,
        "score_min": 1,
        "score_max": 5,
        "score_step": 1,
        "allow_tie": True,
        "reader": "pattern",
        "verdict_pattern": r"Rating:\s*(?P<score>\d+(?:\.\d+)?)",
        "verdict_line": "Rating: {score}",
    },
    "pairwise": {
        "kind": "pairwise",
        "system": SYSTEM_PROMPT,
        "allow_tie": True,
        "reader": "pattern",
        "verdict_pattern": r"Better:\s*(?P<preference>A|B|tie)\b",
        "value_map": "A = A\nB = B\ntie = tie",
        "verdict_line": "Better: {preference}",
    },
}


class MultilineField(forms.CharField):
    """Text kept as typed (no strip: a template's trailing space is part of the prompt), with the browser's CRLF line
    ends made LF, as the critic's prompts are written."""

    def __init__(self, *, rows: int, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": rows}))
        super().__init__(strip=False, **kwargs)

    def to_python(self, value: Any) -> str:
        return str(super().to_python(value)).replace("\r\n", "\n").replace("\r", "\n")


class ReaderSelect(forms.Select):
    """The reader's choices, each family's marked with the kind it reads (data-kind): the page offers only those of
    the chosen kind (app.js, data-options-follow)."""

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        if value in FAMILIES:
            option["attrs"]["data-kind"] = FAMILIES[value].kind
        return option


class ProfileForm(forms.Form):
    name = forms.CharField(
        help_text="1-32 lower-case letters, digits, '.', '_' or '-'. Items, imports and the API name the profile by "
        "it, and it cannot be changed once the profile is in use.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    title = forms.CharField(
        required=False,
        max_length=MAX_CHARS["title"],
        help_text="Shown beside the name where a profile is chosen; the name if empty.",
    )
    kind = forms.ChoiceField(
        choices=[("pointwise", "Pointwise: one response, a score"), ("pairwise", "Pairwise: two responses, A / B")],
    )
    template = MultilineField(
        rows=9,
        help_text="The user turn after the image(s), exactly as the critic gets it. Placeholders: {question}; "
        "{response} (pointwise) or {response_a} and {response_b} (pairwise); {reference} (optional: the item's "
        "reference answer). A literal brace is written {{ or }}.",
    )
    system = MultilineField(
        rows=2,
        required=False,
        label="System turn",
        help_text="The conversation's system text. Empty: the model's default (LLaVA-Critic's own system turn, or "
        "the chat template's for other architectures).",
    )
    score_min = forms.FloatField(required=False, label="Lowest score")
    score_max = forms.FloatField(required=False, label="Highest score")
    score_step = forms.FloatField(
        required=False,
        label="Step",
        help_text="1 for whole points, 0.5 for halves: every score is the lowest plus a whole number of steps.",
    )
    allow_tie = forms.BooleanField(
        required=False, label="A tie is a verdict", help_text="Off: the critic and reviewers must choose A or B."
    )
    reader = forms.ChoiceField(
        choices=READERS,
        widget=ReaderSelect(attrs={"data-options-follow": "kind"}),
        label="Verdict reader",
        help_text="How a verdict is read out of the critic's text. A family's reader reads as a careful person does "
        "(labels, scales, negations), on this profile's own range and step.",
    )
    verdict_pattern = forms.CharField(
        required=False,
        strip=False,
        label="Verdict pattern",
        help_text=escape(  # Django shows a help text as HTML
            "A regular expression with a named group (?P<score>...) for pointwise or (?P<preference>...) for "
            r"pairwise; its last match in the text is the verdict. E.g. Rating:\s*(?P<score>\d+)."
        ),
        widget=forms.TextInput(attrs={"spellcheck": "false", "class": "mono"}),
    )
    value_map = MultilineField(
        rows=3,
        required=False,
        label="Value map",
        help_text="One line per value the preference group can match: 'matched = A', '= B' or '= tie' (case is "
        "ignored). The first value of each is how a verdict is written back.",
    )
    verdict_line = forms.CharField(
        required=False,
        max_length=MAX_CHARS["verdict_line"],
        strip=False,
        label="Verdict line",
        help_text="How a verdict is written back (exports, the critic's confidence): with {score} or {preference}. "
        "Its pattern must read every verdict line back as the same verdict.",
    )

    # The fieldsets: legend, fields, and the value of another field they apply to ("" for always); a field within
    # one may apply to fewer (FIELD_RULES). The page hides those that do not apply (app.js, data-show-if);
    # profile_fields() leaves out their values either way.
    GROUPS = [
        ("The prompt", ["name", "title", "kind", "template", "system"], ""),
        ("The scale (pointwise)", ["score_min", "score_max", "score_step"], "kind=pointwise"),
        ("Ties (pairwise)", ["allow_tie"], "kind=pairwise"),
        ("Reading the verdict", ["reader"], ""),
        ("The pattern", ["verdict_pattern", "value_map", "verdict_line"], "reader=pattern"),
    ]
    FIELD_RULES = {"value_map": "kind=pairwise"}

    def groups(self) -> Iterator[tuple[str, list[tuple[forms.BoundField, str]], str]]:
        """The fields in their fieldsets, for the template: (legend, [(bound field, its data-show-if rule)], the
        fieldset's rule)."""
        for legend, names, rule in self.GROUPS:
            yield legend, [(self[name], self.FIELD_RULES.get(name, "")) for name in names], rule

    def clean_value_map(self) -> dict[str, str]:
        mapping: dict[str, str] = {}
        for number, line in enumerate(self.cleaned_data.get("value_map", "").split("\n"), start=1):
            if not line.strip():
                continue
            matched, sep, value = line.rpartition("=")
            if not sep or value.strip() not in PREFERENCES or not matched.strip():
                raise ValidationError(f"Line {number} ({line.strip()!r}): write it as 'matched = A', '= B' or '= tie'.")
            mapping[matched.strip()] = value.strip()
        return mapping

    def profile_fields(self) -> dict[str, Any]:
        """The cleaned fields as the service takes them. A pairwise profile has no scale and a pointwise one no tie
        to allow, and only a pattern reader has a pattern: the fields that do not apply are left out."""
        fields = {name: self.cleaned_data.get(name) for name in FIELDS}
        if fields["kind"] == "pairwise":
            fields.update(score_min=None, score_max=None, score_step=None)
        else:
            fields.update(allow_tie=True, value_map={})
        if fields["reader"] != "pattern":
            fields.update(verdict_pattern="", value_map={}, verdict_line="")
        return fields

    def add_service_errors(self, error: ValidationError) -> None:
        """The service's errors, each on its field (or above the form when it names none)."""
        for field, messages in error.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)


def profile_form_defaults(kind: str) -> dict[str, Any]:
    """A new profile's starting values for a kind (pointwise unless "pairwise")."""
    return dict(DEFAULTS["pairwise" if kind == "pairwise" else "pointwise"])


def profile_form_initial(values: dict[str, Any], *, copy: bool) -> dict[str, Any]:
    """The form's values from a profile's fields (a stored profile's, or selectors.profiles.profile_detail's for any
    profile). ``copy``: for a new profile made from this one ("New from this one"), under the first free name
    ``<name>-2``, ``<name>-3``, ..."""
    initial = {name: values[name] for name in FIELDS if name != "value_map"}
    initial["value_map"] = "\n".join(f"{matched} = {value}" for matched, value in (values["value_map"] or {}).items())
    if initial["allow_tie"] is None:  # a built-in pointwise profile: ties do not apply
        initial["allow_tie"] = True
    if copy:
        initial["name"] = free_name(values["name"])
    return initial


def free_name(name: str) -> str:
    """The first of ``<name>-2``, ``<name>-3``, ... that no profile has, cut to fit the name's 32 characters."""
    for n in range(2, 1000):
        suffix = f"-{n}"
        candidate = name[: 32 - len(suffix)] + suffix
        if NAME.fullmatch(candidate) and find_profile(candidate) is None:
            return candidate
    return ""
