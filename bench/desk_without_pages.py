"""Settings for bench/review_desk.py's second server: the app as deployed, except that the desk's next-item and
submit requests are answered by bench/desk_without_pages_urls.py, which does their database work only."""

from webapp.settings.base import *  # noqa: F403

ROOT_URLCONF = "bench.desk_without_pages_urls"
