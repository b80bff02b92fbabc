"""The profile form offers only what applies to the chosen kind: the page marks what to hide (the value map is
pairwise only; each family's reader reads one kind), and without JavaScript the server leaves out a value map on a
pointwise profile and refuses a reader of the other kind."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from annotations.models import PromptProfile
from tests.annotations.test_defined_profiles import LIKERT
from tests.annotations.test_profile_pages import form_data

pytestmark = pytest.mark.django_db


def test_the_page_marks_the_value_map_pairwise_and_each_reader_with_its_kind(admin_client: Client) -> None:
    page = admin_client.get(reverse("profile-new")).content.decode()
    value_map = re.search(r'<div data-show-if="([^"]+)">\s*<label for="id_value_map">', page)
    assert value_map is not None
    assert value_map.group(1) == "kind=pairwise"
    assert 'data-options-follow="kind"' in page
    kinds = dict(re.findall(r'<option value="([a-z-]+)" data-kind="(\w+)"', page))
    assert kinds == {
        "pointwise": "pointwise",
        "caption": "pointwise",
        "llava-bench": "pointwise",
        "pairwise": "pairwise",
        "wildvision": "pairwise",
    }


def test_a_value_map_left_on_a_pointwise_profile_is_left_out(admin_client: Client) -> None:
    data = form_data(LIKERT) | {"value_map": "A = A\nB = B\ntie = tie"}  # typed as pairwise, then the kind changed
    response = admin_client.post(reverse("profile-new"), data)
    assert response.status_code == 302, response.content.decode()
    assert PromptProfile.objects.get().value_map == {}


@pytest.mark.parametrize(("kind", "reader"), [("pointwise", "wildvision"), ("pointwise", "pairwise")])
def test_a_reader_of_the_other_kind_is_refused_and_nothing_is_saved(
    admin_client: Client, kind: str, reader: str
) -> None:
    response = admin_client.post(reverse("profile-new"), form_data(LIKERT | {"kind": kind, "reader": reader}))
    assert response.status_code == 400
    assert f"the &#x27;{reader}&#x27; reader reads pairwise verdicts" in response.content.decode()
    assert not PromptProfile.objects.exists()
