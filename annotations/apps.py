from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "annotations"
    verbose_name = "Critic Desk"

    def ready(self) -> None:
        """Make the profiles a team defined known to get_profile, read afresh for each request and task."""
        from celery.signals import task_prerun
        from django.core.signals import request_started
        from django.db.models.signals import post_delete, post_save

        from annotations.models import PromptProfile
        from annotations.selectors.profiles import StoredProfiles
        from critic_worker.profiles import add_profile_source, forget_defined_profiles

        def forget(**_: Any) -> None:
            forget_defined_profiles()

        add_profile_source(StoredProfiles())
        for signal in (request_started, task_prerun):
            signal.connect(forget, weak=False, dispatch_uid="annotations.forget_defined_profiles")
        for signal in (post_save, post_delete):
            signal.connect(forget, sender=PromptProfile, weak=False, dispatch_uid="annotations.forget_profile")
