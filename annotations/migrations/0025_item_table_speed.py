"""The item table at any size: each item's number of human verdicts and, on each critic verdict, whether people
disagree with it, kept on the rows (filled here from the verdicts there are); indexes for its counts, sorts and
filters; on PostgreSQL, statistics on its search's expressions."""

from django.conf import settings
from django.db import migrations, models

from critic_worker.profiles import PROFILES

COUNT = (
    "UPDATE annotations_item SET human_verdict_count ="
    " (SELECT COUNT(*) FROM annotations_humanverdict h WHERE h.item_id = annotations_item.id)"
    " WHERE EXISTS (SELECT 1 FROM annotations_humanverdict h WHERE h.item_id = annotations_item.id)"
)
# The dataset's disagreement rule as on the reveal (annotations/services/verdict_summary.py keeps it from now on).
DISAGREED = (
    "UPDATE annotations_criticverdict SET humans_disagree = TRUE WHERE id IN (SELECT c.id FROM"
    " annotations_criticverdict c JOIN annotations_humanverdict h ON h.item_id = c.item_id"
    " JOIN annotations_item i ON i.id = h.item_id JOIN annotations_dataset d ON d.id = i.dataset_id"
    " WHERE c.probe = '' AND c.status = 'done' AND (h.preference <> c.preference"
    " OR ABS(h.score - c.score) > d.disagreement_threshold * ({span})))"
)


SEARCH_STATISTICS = (
    "CREATE STATISTICS item_search_text ON (UPPER(external_id::text)), (UPPER(question)) FROM annotations_item"
)


def fill(apps, schema_editor):  # type: ignore[no-untyped-def]
    spans = [(name, p.score_max - p.score_min) for name, p in PROFILES.items() if p.is_pointwise]
    defined = apps.get_model("annotations", "PromptProfile").objects.filter(kind="pointwise")
    spans += [(name, high - low) for name, high, low in defined.values_list("name", "score_max", "score_min")]
    span = "CASE h.profile" + " WHEN %s THEN %s" * len(spans) + " ELSE 0 END"
    schema_editor.execute(COUNT, params=None)
    schema_editor.execute(DISAGREED.format(span=span), params=[v for name, s in spans for v in (name, float(s))])


def add_search_statistics(apps, schema_editor):  # type: ignore[no-untyped-def]
    # The search's expressions, sampled by ANALYZE: how many items a term matches is estimated from the text, not
    # guessed, so that a rare term is looked for by one scan rather than by walking every item in id order.
    if schema_editor.connection.vendor == "postgresql" and schema_editor.connection.pg_version >= 140000:
        schema_editor.execute(SEARCH_STATISTICS, params=None)


def drop_search_statistics(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP STATISTICS IF EXISTS item_search_text", params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('annotations', '0024_probes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='criticverdict',
            name='humans_disagree',
            field=models.BooleanField(default=False, editable=False, help_text="Done, and some human verdict on the item disagrees with it by the dataset's rule (kept by the services that write verdicts, annotations/services/verdict_summary.py): the item table's filter for administrators. Never shown to reviewers: it speaks of other people's verdicts."),
        ),
        migrations.AddField(
            model_name='item',
            name='human_verdict_count',
            field=models.PositiveIntegerField(default=0, editable=False, help_text='How many human verdicts the item has, desk and imported (kept by the services that write them, annotations/services/verdict_summary.py): the item table sorts by it.'),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),  # before the indexes: they are built once, at the end
        migrations.AddIndex(
            model_name='criticverdict',
            index=models.Index(condition=models.Q(('humans_disagree', True), ('probe', ''), ('status', 'done')), fields=['checkpoint', 'item'], name='critic_verdict_disagreed'),
        ),
        migrations.AddIndex(
            model_name='criticverdict',
            index=models.Index(condition=models.Q(('confidence__isnull', False), ('probe', ''), ('status', 'done')), fields=['checkpoint', 'confidence', 'item'], name='critic_verdict_confidence'),
        ),
        migrations.AddIndex(
            model_name='criticverdict',
            index=models.Index(condition=models.Q(('forced', True), ('probe', ''), ('status', 'done')), fields=['checkpoint', 'item'], name='critic_verdict_forced'),
        ),
        migrations.AddIndex(
            model_name='item',
            index=models.Index(fields=['dataset', 'id'], name='item_dataset_order'),
        ),
        migrations.AddIndex(
            model_name='item',
            index=models.Index(fields=['dataset', 'human_verdict_count', 'id'], name='item_dataset_verdict_count'),
        ),
        migrations.RunPython(add_search_statistics, drop_search_statistics),
    ]
