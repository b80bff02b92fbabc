"""The web container's health check: GET the URL (default http://127.0.0.1:8000/healthz) as the TLS proxy would
forward it, under an allowed host name; exit 0 on 200, 1 otherwise. The deployment smoke test runs it too."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main(url: str) -> int:
    # The first allowed host ('.example.org' allows example.org and its subdomains; '*' allows anything).
    first = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost").split(",")[0].strip().lstrip(".")
    host = "localhost" if first in ("", "*") else first
    request = urllib.request.Request(url, headers={"Host": host, "X-Forwarded-Proto": "https"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - a URL the operator set
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000/healthz"))
