"""The data model, one module per area. Rules that keep data right live in the database itself (unique and check
constraints); what is allowed to change, and when, lives in services/.

Every model is imported here, so Django registers them and code imports them from `annotations.models`."""

from __future__ import annotations

from .choices import BUILTIN_PAIRWISE, BUILTIN_POINTWISE, JobStatus, Kind, Preference, Probe, Split, verdict_shape
from .critic import CriticCheckpoint, CriticVerdict
from .drift import DriftAudit, DriftVerdict
from .images import ItemImage
from .imports import ImportJob
from .items import Dataset, Image, Item
from .profiles import PromptProfile
from .reread import VerdictReread, VerdictRereadChange
from .retraining import RetrainingJob, TrainingExport
from .review import HumanVerdict, ReviewSkip, ReviewSlot
from .tokens import ApiToken

__all__ = [
    "BUILTIN_PAIRWISE",
    "BUILTIN_POINTWISE",
    "ApiToken",
    "CriticCheckpoint",
    "CriticVerdict",
    "Dataset",
    "DriftAudit",
    "DriftVerdict",
    "HumanVerdict",
    "Image",
    "ImportJob",
    "Item",
    "ItemImage",
    "JobStatus",
    "Kind",
    "Preference",
    "Probe",
    "PromptProfile",
    "RetrainingJob",
    "ReviewSkip",
    "ReviewSlot",
    "Split",
    "TrainingExport",
    "VerdictReread",
    "VerdictRereadChange",
    "verdict_shape",
]
