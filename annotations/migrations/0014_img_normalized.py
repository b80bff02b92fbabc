"""Every stored image gets its rendition (the upright 8-bit RGB picture on white that everyone uses), its width and
height become the rendition's, and thumbnails made from the original are dropped (the next view makes them again)."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models


def make_renditions(apps: Any, schema_editor: Any) -> None:
    import hashlib
    import io

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from PIL import Image as PILImage

    from annotations.services.image_rendition import image_normalize

    Image = apps.get_model("annotations", "Image")
    for image in Image.objects.filter(normalized="").iterator(chunk_size=200):
        sha = image.sha256
        try:
            with default_storage.open(image.file.name, "rb") as f:
                data = f.read()
            with PILImage.open(io.BytesIO(data)) as im:
                rendition = image_normalize(image=im)
        except (OSError, SyntaxError, ValueError) as exc:
            # The original is gone or broken: no rendition; pages show none and the critic fails the item with why.
            image.normalization_note = f"no rendition: the original could not be read ({exc})"[:500]
            image.save(update_fields=["normalization_note"])
            continue
        name = default_storage.save(f"normalized/{sha[:2]}/{sha}.png", ContentFile(rendition.png))
        if image.thumbnail.name and default_storage.exists(image.thumbnail.name):
            default_storage.delete(image.thumbnail.name)
        image.normalized = name
        image.normalized_sha256 = hashlib.sha256(rendition.png).hexdigest()
        image.width, image.height = rendition.width, rendition.height
        image.normalization_note = rendition.note[:500]
        image.thumbnail = ""
        image.save(
            update_fields=["normalized", "normalized_sha256", "width", "height", "normalization_note", "thumbnail"]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0013_imports_context"),
    ]

    operations = [
        migrations.AddField(
            model_name="image",
            name="normalized",
            field=models.FileField(
                default="",
                help_text="The rendition everyone sees (PNG, upright 8-bit RGB on white), made at ingest.",
                max_length=200,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="image",
            name="normalized_sha256",
            field=models.CharField(
                blank=True,
                help_text="The SHA-256 of the rendition's PNG (exports name its file by it).",
                max_length=64,
            ),
        ),
        migrations.AddField(
            model_name="image",
            name="normalization_note",
            field=models.CharField(
                blank=True,
                help_text="What normalising changed; empty when the original needed nothing.",
                max_length=500,
            ),
        ),
        migrations.AlterField(
            model_name="image",
            name="file",
            field=models.FileField(help_text="The original bytes, as uploaded.", max_length=200),
        ),
        migrations.AlterField(
            model_name="image",
            name="thumbnail",
            field=models.FileField(blank=True, help_text="Made from the rendition on first view.", max_length=200),
        ),
        migrations.RunPython(make_renditions, migrations.RunPython.noop, elidable=True),
    ]
