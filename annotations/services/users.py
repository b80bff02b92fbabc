"""People in the app: administrators create or invite reviewers, deactivate them, make them administrators and
reset their passwords, without the Django admin.

An invitation and a password reset are the same thing: a one-time link (Django's password-reset token, valid for
PASSWORD_RESET_TIMEOUT) that lets the person choose a password. No mail is sent: the administrator passes it on."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from annotations.models import ApiToken


def password_link_path(*, user: User) -> str:
    """The path of a one-time link that lets `user` choose a password (an invitation or a reset)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": default_token_generator.make_token(user)})


@transaction.atomic
def user_create(*, username: str, email: str = "", password: str = "", is_admin: bool = False) -> User:
    """A new account. With a password it can log in at once; without one it gets an invitation link to set one.

    Raises ValidationError when the name is taken or the password is too weak."""
    username = username.strip()
    if not username:
        raise ValidationError({"username": "Give the person a user name."})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": f"The user name {username!r} is taken."})
    user = User(username=username, email=email.strip(), is_staff=is_admin, is_superuser=is_admin)
    user.full_clean(exclude=["password"])
    if password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from None
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


def _not_yourself(*, actor: User, user: User, what: str) -> None:
    if actor.pk == user.pk:
        raise ValidationError(f"You cannot {what} yourself: ask another administrator.")


@transaction.atomic
def user_set_active(*, actor: User, user: User, active: bool) -> None:
    """Deactivate (the account can no longer log in, its sessions and API tokens stop working; its verdicts stay)
    or reactivate an account."""
    if not active:
        _not_yourself(actor=actor, user=user, what="deactivate")
    User.objects.filter(pk=user.pk).update(is_active=active)
    user.is_active = active


@transaction.atomic
def user_set_admin(*, actor: User, user: User, admin: bool) -> None:
    """Make an account an administrator (staff and superuser: everything, the Django admin included) or a
    reviewer again."""
    if not admin:
        _not_yourself(actor=actor, user=user, what="remove the administrator role from")
    User.objects.filter(pk=user.pk).update(is_staff=admin, is_superuser=admin)
    user.is_staff = user.is_superuser = admin


@transaction.atomic
def user_password_reset(*, user: User) -> str:
    """Lock the current password and API tokens out at once; return the path of the link that sets a new one."""
    user.set_unusable_password()
    user.save(update_fields=["password"])
    ApiToken.objects.filter(user=user).delete()
    return password_link_path(user=user)
