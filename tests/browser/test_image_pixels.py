"""What a person sees in the browser is, pixel for pixel, what the critic receives: Chromium draws the item page's
image into a canvas and its samples are compared with the worker's bytes and with the expected upright picture."""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from annotations.selectors.images import item_images_png
from annotations.services.items import item_create
from tests.browser.login import log_in
from tests.factories import DatasetFactory, UserFactory
from tests.hostile_images import difference, hostile_images, pixels

SHOWN = {"jpeg-exif-6", "jpeg-exif-5", "png-rgba-text", "png-palette-trns", "png-grey16", "tiff-float-unit", "apng"}

READ_PIXELS = """img => {
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const context = canvas.getContext('2d');
  context.fillStyle = '#fff'; context.fillRect(0, 0, canvas.width, canvas.height);  // the page's white
  context.drawImage(img, 0, 0);
  return [canvas.width, canvas.height, Array.from(context.getImageData(0, 0, canvas.width, canvas.height).data)];
}"""


@pytest.fixture
def logged_in(page: Page, live_server, transactional_db) -> Page:  # type: ignore[no-untyped-def]
    UserFactory(username="rita")
    log_in(page, live_server.url, "rita")
    return page


def test_the_browser_shows_exactly_what_the_critic_receives(logged_in: Page, live_server) -> None:  # type: ignore[no-untyped-def]
    dataset = DatasetFactory()
    for case in (c for c in hostile_images() if c.name in SHOWN):
        item = item_create(dataset=dataset, image_data=case.data, question="Top left?", response_a="Red.")
        logged_in.goto(f"{live_server.url}/items/{item.pk}/")
        logged_in.wait_for_function(
            "() => { const i = document.querySelector('.item-image img'); return i && i.complete && i.naturalWidth; }"
        )
        width, height, flat = logged_in.locator(".item-image img").evaluate(READ_PIXELS)
        seen = np.array(flat, np.uint8).reshape(height, width, 4)
        assert (seen[..., 3] == 255).all(), case.name  # nothing transparent is left to the page
        critic = pixels(item_images_png(item=item)[0])
        assert np.array_equal(seen[..., :3], critic), case.name
        assert difference(critic, case.expected) <= case.tolerance, case.name
        if case.note:
            expect(logged_in.locator(".normalization-note")).to_contain_text(case.note)
