"""The Django admin, closed to reviewers: a logged-in reviewer gets 403, not a second login form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


class CriticDeskAdminSite(admin.AdminSite):
    site_header = "Critic Desk administration"
    site_title = "Critic Desk admin"
    index_title = "Administration"

    def admin_view(self, view: Callable[..., Any], cacheable: bool = False) -> Any:
        inner = super().admin_view(view, cacheable)

        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied("Only administrators can use the admin.")
            return inner(request, *args, **kwargs)

        return guarded

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # One login page for the whole app; the admin's own form would let a reviewer try other accounts.
        if request.user.is_authenticated and not self.has_permission(request):
            raise PermissionDenied("Only administrators can use the admin.")
        return redirect_to_login(request.GET.get("next", request.get_full_path()))
