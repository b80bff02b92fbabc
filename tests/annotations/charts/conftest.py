"""The charts draw the dashboard's scene and a finished retraining job: the fixtures those tests build."""

from tests.annotations.test_metrics import fresh_cache, scene  # noqa: F401
from tests.annotations.test_retraining_views import export, job  # noqa: F401
