"""A profile's name is locked while a row that names it is written and while the profile itself is changed, so that an
edit or deletion saved at the same moment as a dataset, an item or a verdict naming the profile either waits for it
and then sees the profile in use, or goes first and the row is checked against the profile as changed. Before, both
committed: a dataset could name a profile renamed away, or a rubric could change under a dataset being created.

The lock is a transaction-level advisory lock on (PROFILE_LOCK, hashtext(name)): shared by the rows that name the
profile (taking it again in the same transaction is a lookup in the backend's own lock table, so a large import pays
almost nothing), exclusive for the change. A lookup after the wait sees what was committed meanwhile: in READ
COMMITTED each query of a (volatile) trigger function takes a fresh snapshot. Same checks as 0021 otherwise."""

from django.db import migrations

BUILTINS = "ARRAY['pointwise', 'caption', 'llava-bench', 'pairwise', 'wildvision']"  # critic_worker.profiles, frozen
PROFILE_LOCK = 1_640_021  # the advisory locks' first key: profile names (annotations.services.profiles uses it too)


def functions(lock: bool) -> str:
    """0021's three functions, each taking the profile name's lock first when ``lock`` (as 0021 wrote them if not)."""

    def locked(name: str, *, shared: bool = True) -> str:
        kind = "_shared" if shared else ""
        return f"PERFORM pg_advisory_xact_lock{kind}({PROFILE_LOCK}, hashtext({name}));" if lock else ""

    return f"""
CREATE OR REPLACE FUNCTION annotations_profile_fits_kind() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wanted_name text;
    wanted_kind text;
BEGIN
    -- TG_ARGV: pairs of (profile column, kind column or a literal kind prefixed with '=')
    FOR i IN 0 .. TG_NARGS / 2 - 1 LOOP
        wanted_name := to_jsonb(NEW) ->> TG_ARGV[2 * i];
        wanted_kind := CASE WHEN TG_ARGV[2 * i + 1] LIKE '=%' THEN substr(TG_ARGV[2 * i + 1], 2)
                     ELSE to_jsonb(NEW) ->> TG_ARGV[2 * i + 1] END;
        IF wanted_name <> ALL({BUILTINS}) THEN
            {locked("wanted_name")}
            IF NOT EXISTS (
                SELECT 1 FROM annotations_promptprofile p WHERE p.name = wanted_name AND p.kind = wanted_kind
            ) THEN
                RAISE EXCEPTION 'profile % is not a % profile', wanted_name, wanted_kind
                    USING ERRCODE = 'check_violation';
            END IF;
        END IF;
    END LOOP;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION annotations_verdict_fits_profile() RETURNS trigger LANGUAGE plpgsql AS $$
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
    {locked("NEW.profile")}
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

CREATE OR REPLACE FUNCTION annotations_profile_unchanged_in_use() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {locked("OLD.name", shared=False)}
    IF EXISTS (SELECT 1 FROM annotations_item WHERE profile = OLD.name)
       OR EXISTS (SELECT 1 FROM annotations_dataset WHERE OLD.name IN (pointwise_profile, pairwise_profile))
       OR EXISTS (SELECT 1 FROM annotations_criticverdict WHERE profile = OLD.name)
       OR EXISTS (SELECT 1 FROM annotations_humanverdict WHERE profile = OLD.name) THEN
        RAISE EXCEPTION 'profile % is in use: a changed rubric is a new profile', OLD.name
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
"""


def lock_names(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":  # the demo's SQLite has no triggers (0021)
        schema_editor.execute(functions(True), params=None)


def unlock_names(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(functions(False), params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0025_item_table_speed"),
    ]

    operations = [
        migrations.RunPython(lock_names, unlock_names),
    ]
