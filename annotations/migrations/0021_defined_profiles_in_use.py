"""Profiles a team defines become usable by datasets, items and verdicts. The check constraints keep the built-in
profiles' rules; triggers check a defined profile's from its PromptProfile row (that it exists and is of the row's
kind, a score in its range and on its step, a tie only where allowed), and refuse to change or delete a profile that
something uses. Errors are check violations (IntegrityError in Django)."""

from django.conf import settings
from django.db import migrations, models

BUILTINS = "ARRAY['pointwise', 'caption', 'llava-bench', 'pairwise', 'wildvision']"  # critic_worker.profiles, frozen

TRIGGERS = f"""
CREATE FUNCTION annotations_profile_fits_kind() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wanted_name text;
    wanted_kind text;
BEGIN
    -- TG_ARGV: pairs of (profile column, kind column or a literal kind prefixed with '=')
    FOR i IN 0 .. TG_NARGS / 2 - 1 LOOP
        wanted_name := to_jsonb(NEW) ->> TG_ARGV[2 * i];
        wanted_kind := CASE WHEN TG_ARGV[2 * i + 1] LIKE '=%' THEN substr(TG_ARGV[2 * i + 1], 2)
                     ELSE to_jsonb(NEW) ->> TG_ARGV[2 * i + 1] END;
        IF wanted_name <> ALL({BUILTINS}) AND NOT EXISTS (
            SELECT 1 FROM annotations_promptprofile p WHERE p.name = wanted_name AND p.kind = wanted_kind
        ) THEN
            RAISE EXCEPTION 'profile % is not a % profile', wanted_name, wanted_kind USING ERRCODE = 'check_violation';
        END IF;
    END LOOP;
    RETURN NEW;
END $$;

CREATE FUNCTION annotations_verdict_fits_profile() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    p annotations_promptprofile%ROWTYPE;
    col text;
    v text;
    steps float8;
BEGIN
    -- TG_ARGV: the verdict columns (scores, then preferences: names ending in 'preference')
    IF NEW.profile = ANY({BUILTINS}) THEN
        RETURN NEW;
    END IF;
    SELECT * INTO p FROM annotations_promptprofile WHERE annotations_promptprofile.name = NEW.profile;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no profile named %', NEW.profile USING ERRCODE = 'check_violation';
    END IF;
    FOREACH col IN ARRAY TG_ARGV LOOP
        v := to_jsonb(NEW) ->> col;
        CONTINUE WHEN v IS NULL;
        IF col LIKE '%preference' THEN
            IF p.kind <> 'pairwise' OR (v = 'tie' AND NOT p.allow_tie) THEN
                RAISE EXCEPTION '% % does not fit profile %', col, v, p.name USING ERRCODE = 'check_violation';
            END IF;
        ELSE
            steps := CASE WHEN p.score_step IS NULL THEN 0
                          ELSE (v::float8 - p.score_min) / p.score_step - round((v::float8 - p.score_min) / p.score_step)
                     END;
            IF p.kind <> 'pointwise' OR v::float8 < p.score_min OR v::float8 > p.score_max OR abs(steps) > 1e-6 THEN
                RAISE EXCEPTION '% % does not fit profile % (%-% by %)', col, v, p.name, p.score_min, p.score_max,
                    coalesce(p.score_step::text, 'any') USING ERRCODE = 'check_violation';
            END IF;
        END IF;
    END LOOP;
    RETURN NEW;
END $$;

CREATE FUNCTION annotations_profile_unchanged_in_use() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM annotations_item WHERE profile = OLD.name)
       OR EXISTS (SELECT 1 FROM annotations_dataset WHERE OLD.name IN (pointwise_profile, pairwise_profile))
       OR EXISTS (SELECT 1 FROM annotations_criticverdict WHERE profile = OLD.name)
       OR EXISTS (SELECT 1 FROM annotations_humanverdict WHERE profile = OLD.name) THEN
        RAISE EXCEPTION 'profile % is in use: a changed rubric is a new profile', OLD.name
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

CREATE TRIGGER annotations_item_profile BEFORE INSERT OR UPDATE OF profile, kind ON annotations_item
    FOR EACH ROW EXECUTE FUNCTION annotations_profile_fits_kind('profile', 'kind');
CREATE TRIGGER annotations_dataset_profiles BEFORE INSERT OR UPDATE OF pointwise_profile, pairwise_profile
    ON annotations_dataset FOR EACH ROW
    EXECUTE FUNCTION annotations_profile_fits_kind('pointwise_profile', '=pointwise', 'pairwise_profile', '=pairwise');
CREATE TRIGGER annotations_criticverdict_profile
    BEFORE INSERT OR UPDATE OF profile, score, preference ON annotations_criticverdict
    FOR EACH ROW EXECUTE FUNCTION annotations_verdict_fits_profile('score', 'preference');
CREATE TRIGGER annotations_humanverdict_profile
    BEFORE INSERT OR UPDATE OF profile, score, revised_score, preference, revised_preference ON annotations_humanverdict
    FOR EACH ROW EXECUTE FUNCTION annotations_verdict_fits_profile(
        'score', 'revised_score', 'preference', 'revised_preference');
CREATE TRIGGER annotations_promptprofile_in_use BEFORE UPDATE OR DELETE ON annotations_promptprofile
    FOR EACH ROW EXECUTE FUNCTION annotations_profile_unchanged_in_use();
"""

UNDO = """
DROP TRIGGER annotations_promptprofile_in_use ON annotations_promptprofile;
DROP TRIGGER annotations_humanverdict_profile ON annotations_humanverdict;
DROP TRIGGER annotations_criticverdict_profile ON annotations_criticverdict;
DROP TRIGGER annotations_dataset_profiles ON annotations_dataset;
DROP TRIGGER annotations_item_profile ON annotations_item;
DROP FUNCTION annotations_profile_unchanged_in_use();
DROP FUNCTION annotations_verdict_fits_profile();
DROP FUNCTION annotations_profile_fits_kind();
"""


def add_triggers(apps, schema_editor):
    # PostgreSQL only: the demo's SQLite database (make demo) relies on the services' checks alone.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGERS, params=None)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNDO, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('annotations', '0020_api_verdict_heartbeat'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='criticverdict',
            name='critic_verdict_fits_profile',
        ),
        migrations.RemoveConstraint(
            model_name='dataset',
            name='dataset_profiles_fit_kind',
        ),
        migrations.RemoveConstraint(
            model_name='humanverdict',
            name='human_verdict_fits_profile',
        ),
        migrations.RemoveConstraint(
            model_name='humanverdict',
            name='human_revision_fits_profile',
        ),
        migrations.RemoveConstraint(
            model_name='item',
            name='item_responses_fit_kind',
        ),
        migrations.AlterField(
            model_name='criticverdict',
            name='profile',
            field=models.CharField(max_length=32),
        ),
        migrations.AlterField(
            model_name='dataset',
            name='pairwise_profile',
            field=models.CharField(default='pairwise', help_text='Prompt profile for items with two responses, unless an item names its own.', max_length=32),
        ),
        migrations.AlterField(
            model_name='dataset',
            name='pointwise_profile',
            field=models.CharField(default='pointwise', help_text='Prompt profile for items with one response, unless an item names its own.', max_length=32),
        ),
        migrations.AlterField(
            model_name='humanverdict',
            name='profile',
            field=models.CharField(max_length=32),
        ),
        migrations.AlterField(
            model_name='item',
            name='profile',
            field=models.CharField(max_length=32),
        ),
        migrations.AddConstraint(
            model_name='criticverdict',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('preference__in', ('A', 'B', 'tie')), ('preference__isnull', False), ('profile__in', ['pairwise', 'wildvision']), ('score__isnull', True)), models.Q(models.Q(('profile__in', ['pointwise', 'caption', 'llava-bench', 'pairwise', 'wildvision']), _negated=True), models.Q(models.Q(('preference__in', ('A', 'B', 'tie')), ('preference__isnull', False), ('score__isnull', True)), models.Q(('preference__isnull', True), ('score__isnull', False)), _connector='OR')), models.Q(('preference__isnull', True), ('profile', 'pointwise'), ('score__gte', 0), ('score__isnull', False), ('score__lte', 100)), models.Q(('preference__isnull', True), ('profile', 'caption'), ('score__gte', 0), ('score__isnull', False), ('score__lte', 100)), models.Q(('preference__isnull', True), ('profile', 'llava-bench'), ('score__gte', 1), ('score__isnull', False), ('score__lte', 10)), models.Q(('preference__isnull', True), ('score__isnull', True)), _connector='OR'), name='critic_verdict_fits_profile'),
        ),
        migrations.AddConstraint(
            model_name='dataset',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('pointwise_profile__in', ['pairwise', 'wildvision']), _negated=True), models.Q(('pairwise_profile__in', ['pointwise', 'caption', 'llava-bench']), _negated=True)), name='dataset_profiles_fit_kind'),
        ),
        migrations.AddConstraint(
            model_name='humanverdict',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('preference__in', ('A', 'B', 'tie')), ('preference__isnull', False), ('profile__in', ['pairwise', 'wildvision']), ('score__isnull', True)), models.Q(models.Q(('profile__in', ['pointwise', 'caption', 'llava-bench', 'pairwise', 'wildvision']), _negated=True), models.Q(models.Q(('preference__in', ('A', 'B', 'tie')), ('preference__isnull', False), ('score__isnull', True)), models.Q(('preference__isnull', True), ('score__isnull', False)), _connector='OR')), models.Q(('preference__isnull', True), ('profile', 'pointwise'), ('score__gte', 0), ('score__isnull', False), ('score__lte', 100)), models.Q(('preference__isnull', True), ('profile', 'caption'), ('score__gte', 0), ('score__isnull', False), ('score__lte', 100)), models.Q(('preference__isnull', True), ('profile', 'llava-bench'), ('score__gte', 1), ('score__isnull', False), ('score__lte', 10)), _connector='OR'), name='human_verdict_fits_profile'),
        ),
        migrations.AddConstraint(
            model_name='humanverdict',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('profile__in', ['pairwise', 'wildvision']), ('revised_preference__in', ('A', 'B', 'tie')), ('revised_preference__isnull', False), ('revised_score__isnull', True)), models.Q(models.Q(('profile__in', ['pointwise', 'caption', 'llava-bench', 'pairwise', 'wildvision']), _negated=True), models.Q(models.Q(('revised_preference__in', ('A', 'B', 'tie')), ('revised_preference__isnull', False), ('revised_score__isnull', True)), models.Q(('revised_preference__isnull', True), ('revised_score__isnull', False)), _connector='OR')), models.Q(('profile', 'pointwise'), ('revised_preference__isnull', True), ('revised_score__gte', 0), ('revised_score__isnull', False), ('revised_score__lte', 100)), models.Q(('profile', 'caption'), ('revised_preference__isnull', True), ('revised_score__gte', 0), ('revised_score__isnull', False), ('revised_score__lte', 100)), models.Q(('profile', 'llava-bench'), ('revised_preference__isnull', True), ('revised_score__gte', 1), ('revised_score__isnull', False), ('revised_score__lte', 10)), models.Q(('revised_preference__isnull', True), ('revised_score__isnull', True)), _connector='OR'), name='human_revision_fits_profile'),
        ),
        migrations.AddConstraint(
            model_name='item',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind', 'pointwise'), ('model_b', ''), ('response_b', ''), models.Q(('profile__in', ['pairwise', 'wildvision']), _negated=True)), models.Q(('kind', 'pairwise'), models.Q(('profile__in', ['pointwise', 'caption', 'llava-bench']), _negated=True), models.Q(('response_b', ''), _negated=True)), _connector='OR'), name='item_responses_fit_kind'),
        ),
        migrations.RunPython(add_triggers, drop_triggers),
]
