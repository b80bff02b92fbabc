"""The swap check becomes one kind of probe: CriticVerdict.swapped (a boolean) gives way to CriticVerdict.probe
("" for the item's verdict; swap, blank-image, other-image), existing swap checks kept as swap probes."""

import django.db.models.deletion
from django.db import migrations, models


def swapped_to_probe(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("annotations", "CriticVerdict").objects.filter(swapped=True).update(probe="swap")


def probe_to_swapped(apps, schema_editor):  # type: ignore[no-untyped-def]
    verdicts = apps.get_model("annotations", "CriticVerdict").objects
    if verdicts.exclude(probe__in=["", "swap"]).exists():
        raise RuntimeError("Image probes cannot be kept as swap checks: delete them before migrating back.")
    verdicts.filter(probe="swap").update(swapped=True)


PROBE_CHOICES = [
    ("swap", "Responses swapped (A and B exchanged)"),
    ("blank-image", "Blank image (white, of the same size)"),
    ("other-image", "Another item's image"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0023_item_images_in_order"),
    ]

    operations = [
        migrations.AddField(
            model_name="criticverdict",
            name="probe",
            field=models.CharField(
                blank=True,
                choices=PROBE_CHOICES,
                default="",
                help_text="Empty: the item's verdict. Else a probe (never shown or counted as the critic's verdict): "
                "swap (the responses exchanged, the preference stored in the item's own order), blank-image (a white "
                "image of the same size), other-image (probe_image instead of the item's).",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="criticverdict",
            name="probe_image",
            field=models.ForeignKey(
                blank=True,
                help_text="An other-image probe: the picture the critic was shown instead of the item's.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="annotations.image",
            ),
        ),
        migrations.RunPython(swapped_to_probe, probe_to_swapped),
        migrations.RemoveConstraint(
            model_name="criticverdict",
            name="one_critic_verdict_per_item",
        ),
        migrations.RemoveField(
            model_name="criticverdict",
            name="swapped",
        ),
        migrations.AddConstraint(
            model_name="criticverdict",
            constraint=models.UniqueConstraint(
                fields=("item", "checkpoint", "probe"), name="one_critic_verdict_per_item"
            ),
        ),
        migrations.AddConstraint(
            model_name="criticverdict",
            constraint=models.CheckConstraint(
                condition=models.Q(("probe", ""), ("probe__in", ["swap", "blank-image", "other-image"]), _connector="OR"),
                name="critic_probe_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="criticverdict",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("probe", "other-image"), ("probe_image__isnull", False)),
                    models.Q(models.Q(("probe", "other-image"), _negated=True), ("probe_image__isnull", True)),
                    _connector="OR",
                ),
                name="critic_probe_image_for_other_image",
            ),
        ),
    ]
