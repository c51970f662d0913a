"""The audit log's hash chain (review_ui.audit_chain): the two columns, the chain filled in for
the rows already there (in pk order), one successor per row, and on PostgreSQL a trigger that
refuses UPDATE, DELETE and TRUNCATE on the table. A later migration that must rewrite audit rows
drops the trigger first and creates it again after."""

from django.db import migrations, models

from review_ui.audit_chain import GENESIS, canonical, link

TABLE = "review_ui_auditevent"
FUNCTION = "review_ui_auditevent_append_only"
CREATE_TRIGGER = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on {TABLE} refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'rows are checked with tutorwatch audit verify';
END
$$;
DROP TRIGGER IF EXISTS {FUNCTION} ON {TABLE};
CREATE TRIGGER {FUNCTION} BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION {FUNCTION}();
DROP TRIGGER IF EXISTS {FUNCTION}_truncate ON {TABLE};
CREATE TRIGGER {FUNCTION}_truncate BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}();
"""
DROP_TRIGGER = f"""
DROP TRIGGER IF EXISTS {FUNCTION} ON {TABLE};
DROP TRIGGER IF EXISTS {FUNCTION}_truncate ON {TABLE};
DROP FUNCTION IF EXISTS {FUNCTION}();
"""


def fill_chain(apps, schema_editor):
    events = apps.get_model("review_ui", "AuditEvent").objects.using(
        schema_editor.connection.alias)
    prev, batch = GENESIS, []
    for event in events.order_by("pk").iterator(chunk_size=2000):
        event.prev_hash = prev
        event.hash = prev = link(prev, canonical(event.at, event.actor_id, event.action,
                                                 event.ad_id, event.item_id, event.detail))
        batch.append(event)
        if len(batch) == 2000:
            events.bulk_update(batch, ["prev_hash", "hash"])
            batch = []
    events.bulk_update(batch, ["prev_hash", "hash"])


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_TRIGGER, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('review_ui', '0007_reviewitem_sample'),
    ]

    operations = [
        migrations.AddField(
            model_name='auditevent',
            name='prev_hash',
            field=models.CharField(default='', editable=False, max_length=64, verbose_name="previous row's hash"),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='hash',
            field=models.CharField(default='', editable=False, max_length=64, verbose_name='hash'),
        ),
        migrations.RunPython(fill_chain, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name='auditevent',
            constraint=models.UniqueConstraint(fields=('prev_hash',), name='review_ui_auditevent_one_successor'),
        ),
        migrations.RunPython(create_trigger, drop_trigger, elidable=False),
    ]
