"""The data model. Rules that keep data right live in the database itself (unique and check constraints);
what is allowed to change, and when, lives in services/."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from critic_worker.profiles import PREFERENCES, PROFILES, Profile, find_profile, get_profile, profile_names
from critic_worker.profiles import Kind as ProfileKind


class Kind(models.TextChoices):
    POINTWISE = "pointwise", "Pointwise (one response, a score)"
    PAIRWISE = "pairwise", "Pairwise (two responses, a preference)"


class Split(models.TextChoices):
    POOL = "pool", "Pool"
    GOLD = "gold", "Gold (frozen, never exported for training)"


class Preference(models.TextChoices):
    A = "A", "A is better"
    B = "B", "B is better"
    TIE = "tie", "Tie"


assert tuple(Preference.values) == PREFERENCES


class Probe(models.TextChoices):
    """A counterfactual probe: the item judged again with one thing changed, to see what the critic's verdict
    depends on. A probe's verdict is never the item's critic verdict (those have probe "")."""

    SWAP = "swap", "Responses swapped (A and B exchanged)"
    BLANK_IMAGE = "blank-image", "Blank image (white, of the same size)"
    OTHER_IMAGE = "other-image", "Another item's image"


class JobStatus(models.TextChoices):
    """The life of a critic verdict or a retraining job; moved on only by guarded updates in services."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


# The built-in profiles are checked by the constraints below; a team's own (PromptProfile rows, whose names can be
# none of these) by the triggers of migration 0021, which read the profile's kind and range from its row.
BUILTIN_POINTWISE = [name for name, p in PROFILES.items() if p.kind == "pointwise"]
BUILTIN_PAIRWISE = [name for name, p in PROFILES.items() if p.kind == "pairwise"]


def verdict_shape(score: str, preference: str, *, required: bool) -> Q:
    """A verdict (score or preference, by the profile's kind) that fits the row's profile: a built-in's range here,
    a defined profile's by trigger (only the shape here: a score, or one of A / B / tie, not both).

    With required=False both may be empty (no verdict yet, or no revision)."""
    # Each branch says isnull=False outright: a comparison with NULL is unknown, and CHECK lets unknown pass.
    a_preference = {f"{score}__isnull": True, f"{preference}__isnull": False, f"{preference}__in": PREFERENCES}
    a_score = {f"{preference}__isnull": True, f"{score}__isnull": False}
    fits = Q(profile__in=BUILTIN_PAIRWISE, **a_preference)
    fits |= ~Q(profile__in=[*BUILTIN_POINTWISE, *BUILTIN_PAIRWISE]) & (Q(**a_preference) | Q(**a_score))
    for name in BUILTIN_POINTWISE:
        p = PROFILES[name]
        fits |= Q(
            profile=name,
            **{
                f"{preference}__isnull": True,
                f"{score}__isnull": False,
                f"{score}__gte": p.score_min,
                f"{score}__lte": p.score_max,
            },
        )
    if required:
        return fits
    return fits | Q(**{f"{score}__isnull": True, f"{preference}__isnull": True})


class Dataset(models.Model):
    name = models.CharField(max_length=200, unique=True, validators=[ProhibitNullCharactersValidator()])
    description = models.TextField(blank=True, validators=[ProhibitNullCharactersValidator()])
    pointwise_profile = models.CharField(
        max_length=32,
        default="pointwise",
        help_text="Prompt profile for items with one response, unless an item names its own.",
    )
    pairwise_profile = models.CharField(
        max_length=32,
        default="pairwise",
        help_text="Prompt profile for items with two responses, unless an item names its own.",
    )
    review_overlap = models.PositiveSmallIntegerField(default=1, help_text="How many reviewers judge each item (k).")
    disagreement_threshold = models.FloatField(
        default=0.1,
        help_text="A human score and the critic's disagree when they differ by more than this fraction "
        "of the profile's score range (0.1 = 10 points on 0-100).",
    )
    gold_fraction = models.FloatField(
        default=0.0,
        help_text="Share of new items placed in the frozen gold split when an upload does not say.",
    )
    judge_new_items = models.BooleanField(
        default=True,
        help_text="Queue new items for the active critic as they arrive (uploads and imports).",
    )
    alt_test_epsilon = models.FloatField(
        null=True,
        blank=True,
        help_text="The alt-test's cost-benefit margin epsilon (Calderon et al. 2025); empty: the paper's default "
        "0.2 (its rule of thumb for experts; 0.15 for skilled annotators, 0.1 for crowd workers).",
    )
    target_interval_width = models.FloatField(
        default=0.1,
        help_text="Label planning: the 95% interval width to reach, as a fraction of the figure's scale "
        "(0.1 = a win rate within 0.1, a mean score within 10 points on 0-100).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(review_overlap__gte=1), name="dataset_overlap_at_least_1"),
            models.CheckConstraint(
                condition=Q(disagreement_threshold__gte=0, disagreement_threshold__lte=1),
                name="dataset_threshold_fraction",
            ),
            models.CheckConstraint(
                condition=Q(gold_fraction__gte=0, gold_fraction__lte=1), name="dataset_gold_fraction"
            ),
            models.CheckConstraint(
                condition=Q(alt_test_epsilon__isnull=True) | Q(alt_test_epsilon__gte=0, alt_test_epsilon__lte=1),
                name="dataset_alt_test_epsilon",
            ),
            models.CheckConstraint(
                condition=Q(target_interval_width__gt=0, target_interval_width__lte=1),
                name="dataset_target_interval_width",
            ),
            models.CheckConstraint(
                condition=~Q(pointwise_profile__in=BUILTIN_PAIRWISE) & ~Q(pairwise_profile__in=BUILTIN_POINTWISE),
                name="dataset_profiles_fit_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Each default names a profile of its kind, built-in or defined (ValidationError by field)."""
        errors = {}
        defaults: tuple[tuple[str, ProfileKind], ...] = (
            ("pointwise_profile", "pointwise"),
            ("pairwise_profile", "pairwise"),
        )
        for field_name, kind in defaults:
            name = getattr(self, field_name)
            found = find_profile(name)
            if found is None:
                errors[field_name] = f"Unknown profile {name!r}; {kind} ones: {', '.join(profile_names(kind))}."
            elif found.kind != kind:
                errors[field_name] = f"Profile {name!r} judges {found.kind} items, not {kind} ones."
        if errors:
            raise ValidationError(errors)


class Image(models.Model):
    """An image, stored once whatever the number of items that show it: addressed by the SHA-256 of its bytes.

    `file` is the original as uploaded, kept and never decoded again; `normalized` is its one rendition (PNG,
    upright 8-bit RGB on white, made at ingest) that the pages, the thumbnail, the critic and the exports use.
    width and height are the rendition's (an EXIF rotation swaps the original's)."""

    sha256 = models.CharField(max_length=64, unique=True)
    file = models.FileField(max_length=200, help_text="The original bytes, as uploaded.")
    normalized = models.FileField(
        max_length=200, help_text="The rendition everyone sees (PNG, upright 8-bit RGB on white), made at ingest."
    )
    normalized_sha256 = models.CharField(
        max_length=64, blank=True, help_text="The SHA-256 of the rendition's PNG (exports name its file by it)."
    )
    normalization_note = models.CharField(
        max_length=500, blank=True, help_text="What normalising changed; empty when the original needed nothing."
    )
    thumbnail = models.FileField(max_length=200, blank=True, help_text="Made from the rendition on first view.")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=8)
    size_bytes = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="image_sha256_hex"),
            models.CheckConstraint(condition=Q(width__gt=0, height__gt=0), name="image_has_pixels"),
        ]

    def __str__(self) -> str:
        return f"{self.sha256[:12]} ({self.width}x{self.height} {self.format})"


class Item(models.Model):
    """An image, a question and one response (pointwise) or two (pairwise), with the models that wrote them."""

    # db_index=False here and below: a composite index already leads with the column (each index is one more write
    # on every verdict, and the review desk writes on every request).
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="items", db_index=False)
    external_id = models.CharField(max_length=200, help_text="Unique within the dataset.")
    image = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="items")
    question = models.TextField()
    reference = models.TextField(blank=True, help_text="Optional reference answer.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    profile = models.CharField(max_length=32)
    response_a = models.TextField()
    model_a = models.CharField(max_length=200, blank=True)
    response_b = models.TextField(blank=True)
    model_b = models.CharField(max_length=200, blank=True)
    split = models.CharField(max_length=8, choices=Split.choices, default=Split.POOL)
    context = models.JSONField(
        default=list,
        blank=True,
        help_text='Earlier turns of the conversation: a list of {"role": "user"|"assistant"|"context", "text": ...}.',
    )
    review_complete = models.BooleanField(
        default=False, help_text="All of the dataset's review places hold a verdict (kept by the review service)."
    )
    human_verdict_count = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="How many human verdicts the item has, desk and imported (kept by the services that write them, "
        "annotations/services/verdict_summary.py): the item table sorts by it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "external_id"], name="item_id_unique_in_dataset"),
            models.CheckConstraint(condition=~Q(external_id=""), name="item_external_id_present"),
            models.CheckConstraint(condition=~Q(question="") & ~Q(response_a=""), name="item_has_text"),
            models.CheckConstraint(
                condition=(Q(kind=Kind.POINTWISE, response_b="", model_b="") & ~Q(profile__in=BUILTIN_PAIRWISE))
                | (Q(kind=Kind.PAIRWISE) & ~Q(profile__in=BUILTIN_POINTWISE) & ~Q(response_b="")),
                name="item_responses_fit_kind",
            ),
            models.CheckConstraint(condition=Q(split__in=Split.values), name="item_split_valid"),
        ]
        indexes = [
            models.Index(fields=["dataset", "split"], name="item_dataset_split"),
            # The review desk's candidates: items still open for review, in order, found without a scan.
            models.Index(fields=["dataset", "id"], condition=Q(review_complete=False), name="item_open_for_review"),
            # The item table: its pages in order and its counts, read from the index alone; its sort by verdicts.
            models.Index(fields=["dataset", "id"], name="item_dataset_order"),
            models.Index(fields=["dataset", "human_verdict_count", "id"], name="item_dataset_verdict_count"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset.name}/{self.external_id}"

    @property
    def is_pairwise(self) -> bool:
        return self.kind == Kind.PAIRWISE

    @property
    def profile_spec(self) -> Profile:
        return get_profile(self.profile)

    @property
    def context_turns(self) -> tuple[tuple[str, str], ...]:
        """The earlier turns as PromptInput takes them."""
        return tuple((str(t.get("role", "")), str(t.get("text", ""))) for t in self.context or [])


class TrainingExport(models.Model):
    """An immutable, numbered snapshot of training rows, with its manifest (filters, counts, file hashes)."""

    class Format(models.TextChoices):
        LLAVA_CRITIC_PARQUET = "llava-critic-parquet"
        LLAVA_JSON = "llava-json"
        DPO_JSONL = "dpo-jsonl"

    number = models.PositiveIntegerField(unique=True, help_text="Version, counted across all exports.")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="exports")
    format = models.CharField(max_length=32, choices=Format.choices)
    source_checkpoint = models.ForeignKey(
        "CriticCheckpoint", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    filters = models.JSONField(default=dict, blank=True)
    manifest = models.JSONField(default=dict, blank=True)
    path = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The job that writes the snapshot (services/exports/jobs.py creates rows as queued; a row made without a status
    # is a finished snapshot).
    status = models.CharField(max_length=8, choices=JobStatus.choices, default=JobStatus.DONE)
    items_done = models.PositiveIntegerField(default=0, help_text="Reviewed items looked at so far.")
    items_total = models.PositiveIntegerField(default=0, help_text="Reviewed items with the critic's verdict.")
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="export_status_valid")]

    def __str__(self) -> str:
        return f"export #{self.number} ({self.format}, {self.dataset.name})"

    @property
    def percent(self) -> int:
        if not self.items_total:
            return 100 if self.status == JobStatus.DONE else 0
        return min(100, round(100 * self.items_done / self.items_total))


class CriticCheckpoint(models.Model):
    """A judge whose verdicts are recorded: a model the critic runs, or an external judge (imported verdicts)."""

    class Quantization(models.TextChoices):
        NF4 = "nf4"
        INT8 = "int8"
        NONE = "none"

    name = models.CharField(max_length=200, unique=True)
    model = models.CharField(max_length=500, blank=True, help_text="Path or hub id; empty for an external judge.")
    revision = models.CharField(max_length=100, blank=True)
    quantization = models.CharField(max_length=8, choices=Quantization.choices, default=Quantization.NF4)
    is_external = models.BooleanField(default=False, help_text="Verdicts imported from another judge (e.g. GPT-4o).")
    is_demo = models.BooleanField(default=False, help_text="A random-weight model: its verdicts mean nothing.")
    is_active = models.BooleanField(default=False, help_text="The checkpoint new judging and reviews use.")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    training_export = models.ForeignKey(
        TrainingExport, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    adapter_path = models.CharField(max_length=500, blank=True, help_text="The LoRA adapter it was trained as.")
    merged_path = models.CharField(max_length=500, blank=True, help_text="Full weights with the adapter merged.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_checkpoint"),
            models.CheckConstraint(
                condition=Q(is_external=True) | ~Q(model=""), name="checkpoint_model_unless_external"
            ),
            models.CheckConstraint(condition=Q(quantization__in=["nf4", "int8", "none"]), name="checkpoint_quant"),
        ]

    def __str__(self) -> str:
        return self.name


class CriticVerdict(models.Model):
    """One checkpoint's verdict on one item. Its status is the job's state; the broker only wakes workers."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="critic_verdicts")
    checkpoint = models.ForeignKey(CriticCheckpoint, on_delete=models.PROTECT, related_name="verdicts")
    profile = models.CharField(max_length=32)
    status = models.CharField(max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED)
    score = models.FloatField(null=True, blank=True)
    preference = models.CharField(max_length=3, choices=Preference.choices, null=True, blank=True)  # noqa: DJ001
    confidence = models.FloatField(null=True, blank=True, help_text="Probability the critic gave its verdict.")
    probabilities = models.JSONField(default=dict, blank=True, help_text="Probability of each verdict.")
    expected_score = models.FloatField(null=True, blank=True, help_text="Mean score under those probabilities.")
    uncertainty = models.FloatField(
        null=True,
        blank=True,
        help_text="sqrt(E[(value - verdict)^2]) under those probabilities, in the verdict's units (scores: points; "
        "preferences: A = 1, B = 0, tie = 1/2): the desk's most-informative order reads it.",
    )
    justification = models.TextField(blank=True)
    raw_output = models.TextField(blank=True)
    prompt = models.TextField(
        blank=True, help_text="The whole prompt the critic was given, after its chat template (recorded by the worker)."
    )
    forced = models.BooleanField(default=False, help_text="Read from the logits: the free text did not parse.")
    error = models.TextField(blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    claim = models.CharField(max_length=32, blank=True, help_text="Which run of a worker holds it while running.")
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="While running: the worker holding it said it is alive (every few seconds)."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    probe = models.CharField(
        max_length=16,
        choices=Probe.choices,
        blank=True,
        default="",
        help_text="Empty: the item's verdict. Else a probe (never shown or counted as the critic's verdict): swap "
        "(the responses exchanged, the preference stored in the item's own order), blank-image (a white image of the "
        "same size), other-image (probe_image instead of the item's).",
    )
    probe_image = models.ForeignKey(
        Image,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="An other-image probe: the picture the critic was shown instead of the item's.",
    )
    humans_disagree = models.BooleanField(
        default=False,
        editable=False,
        help_text="Done, and some human verdict on the item disagrees with it by the dataset's rule (kept by the "
        "services that write verdicts, annotations/services/verdict_summary.py): the item table's filter for "
        "administrators. Never shown to reviewers: it speaks of other people's verdicts.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "checkpoint", "probe"], name="one_critic_verdict_per_item"),
            models.CheckConstraint(condition=Q(probe="") | Q(probe__in=Probe.values), name="critic_probe_valid"),
            models.CheckConstraint(
                condition=Q(probe=Probe.OTHER_IMAGE, probe_image__isnull=False)
                | (~Q(probe=Probe.OTHER_IMAGE) & Q(probe_image__isnull=True)),
                name="critic_probe_image_for_other_image",
            ),
            models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="critic_status_valid"),
            models.CheckConstraint(
                condition=verdict_shape("score", "preference", required=False), name="critic_verdict_fits_profile"
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | Q(score__isnull=False) | Q(preference__isnull=False),
                name="critic_done_has_verdict",
            ),
            models.CheckConstraint(
                condition=Q(confidence__isnull=True) | Q(confidence__gte=0, confidence__lte=1),
                name="critic_confidence_probability",
            ),
        ]
        indexes = [
            models.Index(fields=["checkpoint", "status"], name="critic_verdict_status"),
            # The item table: items where people disagree with a checkpoint, its items by the critic's confidence, and
            # its filter for verdicts read from the probabilities (rare: read from a small index, not by a scan).
            models.Index(
                fields=["checkpoint", "item"],
                condition=Q(humans_disagree=True, status="done", probe=""),
                name="critic_verdict_disagreed",
            ),
            models.Index(
                fields=["checkpoint", "confidence", "item"],
                condition=Q(status="done", probe="", confidence__isnull=False),
                name="critic_verdict_confidence",
            ),
            models.Index(
                fields=["checkpoint", "item"],
                condition=Q(forced=True, status="done", probe=""),
                name="critic_verdict_forced",
            ),
        ]

    def __str__(self) -> str:
        probe = f" ({self.probe} probe)" if self.probe else ""
        return f"{self.checkpoint} on {self.item_id}{probe}: {self.status}"

    @property
    def swapped(self) -> bool:
        """A swap probe (the swap check): judged with the two responses exchanged."""
        return self.probe == Probe.SWAP


class HumanVerdict(models.Model):
    """One reviewer's verdict on one item, committed blind. A revision after the reveal is kept beside it."""

    class Source(models.TextChoices):
        DESK = "desk", "Review desk"
        IMPORT = "import", "Imported label"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="human_verdicts", db_index=False)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="verdicts")
    profile = models.CharField(max_length=32)
    score = models.FloatField(null=True, blank=True)
    preference = models.CharField(max_length=3, choices=Preference.choices, null=True, blank=True)  # noqa: DJ001
    rationale = models.TextField(blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.DESK)
    committed_at = models.DateTimeField(auto_now_add=True)
    revised_score = models.FloatField(null=True, blank=True)
    revised_preference = models.CharField(  # noqa: DJ001 - NULL is "no verdict", as for the scores
        max_length=3, choices=Preference.choices, null=True, blank=True
    )
    revised_at = models.DateTimeField(null=True, blank=True)
    justification_flagged = models.BooleanField(
        default=False, help_text="The reviewer marked the critic's justification wrong."
    )
    corrected_justification = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "reviewer"], name="one_human_verdict_per_reviewer"),
            models.CheckConstraint(
                condition=verdict_shape("score", "preference", required=True), name="human_verdict_fits_profile"
            ),
            models.CheckConstraint(
                condition=verdict_shape("revised_score", "revised_preference", required=False),
                name="human_revision_fits_profile",
            ),
            models.CheckConstraint(
                condition=Q(revised_at__isnull=True, revised_score__isnull=True, revised_preference__isnull=True)
                | Q(revised_at__isnull=False),
                name="human_revision_dated",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} on {self.item_id}"


class RetrainingJob(models.Model):
    """Fine-tunes a checkpoint on an export, registers the child, and gates it on the gold split."""

    export = models.ForeignKey(TrainingExport, on_delete=models.PROTECT, related_name="retraining_jobs")
    base = models.ForeignKey(CriticCheckpoint, on_delete=models.PROTECT, related_name="+")
    child = models.ForeignKey(CriticCheckpoint, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.FloatField(default=0.0)
    loss_log = models.JSONField(default=list, blank=True)
    gold_metrics = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    promotion_override_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    options = models.JSONField(default=dict, blank=True, help_text="Training options (epochs, learning rate...).")
    stage = models.CharField(max_length=16, blank=True, help_text="training, evaluating, done")
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="The worker running it said it is alive.")
    gate_passed = models.BooleanField(
        null=True, blank=True, help_text="Child not worse than its parent on gold beyond the interval."
    )
    gate_report = models.JSONField(default=list, blank=True, help_text="Each statistic the gate compared.")
    promoted_at = models.DateTimeField(null=True, blank=True)
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__gte=0, progress__lte=1), name="retraining_progress"),
            models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="retraining_status_valid"),
        ]

    def __str__(self) -> str:
        return f"retrain {self.base} on export #{self.export.number}: {self.status}"


class ImportJob(models.Model):
    """A bulk import from the browser or the API, run on the `default` queue; its report stays with it."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED)
    format = models.CharField(max_length=32, default="auto")
    data_file = models.FileField(max_length=300)
    images_file = models.FileField(max_length=300, blank=True)
    profile = models.CharField(max_length=32, blank=True)
    update = models.BooleanField(default=False)
    whole_prompt = models.BooleanField(
        default=False, help_text="Import critic rows whose prompt cannot be split as whole-prompt items."
    )
    stage = models.CharField(max_length=16, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(status__in=JobStatus.values), name="import_status_valid")]

    def __str__(self) -> str:
        return f"import {self.pk} into {self.dataset}: {self.status}"

    @property
    def percent(self) -> int:
        """Checking and writing are half the work each."""
        if not self.rows_total:
            return 100 if self.status == JobStatus.DONE else 0
        share = self.rows_done / self.rows_total / 2
        return round(100 * (share + (0.5 if self.stage == "writing" else 0)))


class ApiToken(models.Model):
    """A user's key for the REST API. Only its SHA-256 is stored; the key is shown once, when made."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    key_sha256 = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="The key's first characters, to tell keys apart.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user} {self.prefix}…"


class ReviewSlot(models.Model):
    """One of an item's k review places (k = the dataset's overlap). Held with a lease while a reviewer works on
    the item, kept for good once their verdict is in. The unique constraints are what guarantee that no item is
    ever assigned to more than k reviewers, however many ask at once."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="review_slots", db_index=False)
    slot = models.PositiveSmallIntegerField()
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_slots", db_index=False
    )
    leased_until = models.DateTimeField(null=True, blank=True, help_text="Empty once the verdict is in.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "slot"], name="one_reviewer_per_slot"),
            models.UniqueConstraint(fields=["item", "reviewer"], name="one_slot_per_reviewer"),
        ]
        indexes = [models.Index(fields=["reviewer", "leased_until"], name="slot_reviewer_lease")]

    def __str__(self) -> str:
        return f"{self.item_id}#{self.slot} {self.reviewer}"


class ReviewSkip(models.Model):
    """An item a reviewer skipped: not offered to them again."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="review_skips")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "reviewer"], name="one_skip_per_reviewer")]

    def __str__(self) -> str:
        return f"{self.reviewer} skipped {self.item_id}"


# Re-read records, team-defined profiles, drift audits and items' further images live in their own modules;
# imported so Django registers them.
from annotations.models_drift import DriftAudit as DriftAudit  # noqa: E402
from annotations.models_drift import DriftVerdict as DriftVerdict  # noqa: E402
from annotations.models_images import ItemImage as ItemImage  # noqa: E402
from annotations.models_profiles import PromptProfile as PromptProfile  # noqa: E402
from annotations.models_reread import VerdictReread as VerdictReread  # noqa: E402
from annotations.models_reread import VerdictRereadChange as VerdictRereadChange  # noqa: E402
