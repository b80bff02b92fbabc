"""API tokens: random keys shown once; only their SHA-256 is kept."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from annotations.models import ApiToken


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(*, user: User, name: str = "") -> str:
    """A new key for the user (their earlier keys keep working until revoked in the admin)."""
    key = "cd_" + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, key_sha256=_digest(key), prefix=key[:8])
    return key


def api_token_user(*, key: str) -> User | None:
    """The active user a key belongs to, or None."""
    token = ApiToken.objects.select_related("user").filter(key_sha256=_digest(key)).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
