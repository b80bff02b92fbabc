from __future__ import annotations

from django.apps import AppConfig


class CriticWorkerConfig(AppConfig):
    name = "critic_worker"
    verbose_name = "Critic worker"
