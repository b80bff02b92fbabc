"""The API against its own OpenAPI document (schemathesis), for a reviewer's token and an administrator's: requests
generated from the document, valid by it, never get a server error, never a status code the document does not
list, never a body that does not match the listed schema, and are never refused as malformed (400, 422) unless the
operation takes a file whose content the document cannot describe (an image, a data file): that refusal names the
field. Bounded: a few examples per operation, well under a minute for both roles."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.transport.serialization import Binary

from annotations.api import api
from annotations.models import CriticVerdict, HumanVerdict, ImportJob
from annotations.services.tokens import api_token_create
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, UserFactory
from webapp.wsgi import application

schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/"))
schema.app = application
schema.config.generation.update(modes=["positive"], allow_x00=False, codec="utf-8")

# Operations that take a file the server reads (an image, a data file): its content can be refused with a 422.
# A profile's template placeholders and its reader's round trip are checked on save: no schema can say them; nor
# which profile names exist (a team defines them), so a body naming a profile may be refused by the data too.
FILE_CONTENT_CHECKED = {"upload_item", "create_profile", "create_dataset", "upload_batch"}


@pytest.fixture
def world(db, reviewer, admin) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Rows for generated ids to find half of the time: a dataset with a judged and an unjudged item, an import."""
    checkpoint = CheckpointFactory(is_active=True)
    dataset = DatasetFactory()
    judged, _ = ItemFactory(dataset=dataset), ItemFactory(dataset=dataset)
    HumanVerdict.objects.create(item=judged, reviewer=UserFactory(), profile="pointwise", score=40)
    CriticVerdict.objects.create(item=judged, checkpoint=checkpoint, profile="pointwise", status="done", score=70)
    job = ImportJob.objects.create(dataset=dataset, created_by=reviewer, data_file="imports/x/rows.jsonl")
    return {"dataset_id": dataset.pk, "item_id": judged.pk, "import_id": job.pk, "export_id": 1}


@pytest.fixture(autouse=True)
def keep_the_test_connection() -> Iterator[None]:
    """The WSGI handler closes the database connection after each request; the test's transaction lives on it
    (Django's test client disconnects the same signal)."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture(params=["reviewer", "admin"])
def token(request: pytest.FixtureRequest, reviewer, admin) -> str:  # type: ignore[no-untyped-def]
    return api_token_create(user=reviewer if request.param == "reviewer" else admin)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=6,
    deadline=timedelta(seconds=10),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,
)
def test_the_api_keeps_its_document(case: schemathesis.Case, world: dict[str, Any], token: str) -> None:
    for name, value in list((case.path_parameters or {}).items()):
        if name in world and int(value) % 2 == 0:  # half the generated ids name a row that exists
            case.path_parameters[name] = world[name]
    if isinstance(case.body, dict):
        for name, value in case.body.items():
            if isinstance(value, Binary) and not value.data:  # werkzeug's test transport drops an empty file part
                case.body[name] = Binary(data=b"\n")
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"}, excluded_checks=[positive_data_acceptance]
    )
    refused_as_malformed = response.status_code in (400, 422)
    if refused_as_malformed and case.operation.definition.raw.get("operationId") not in FILE_CONTENT_CHECKED:
        pytest.fail(f"{case.operation.label}: a request valid by the document was refused: {response.text}")
