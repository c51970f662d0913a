"""The review item's copy of its ad's current score, filled from the verdicts, and the index
the queue's score orders walk (issue 22, point 4)."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_scores(apps, schema_editor):
    Ad = apps.get_model("review_ui", "Ad")
    ReviewItem = apps.get_model("review_ui", "ReviewItem")
    ReviewItem.objects.update(score=Subquery(
        Ad.objects.filter(pk=OuterRef("ad_id")).values("verdict__score")[:1]))


class Migration(migrations.Migration):

    dependencies = [
        ('review_ui', '0022_ad_first_seen_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='reviewitem',
            name='score',
            field=models.FloatField(blank=True, null=True, verbose_name='score'),
        ),
        migrations.RunPython(fill_scores, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='reviewitem',
            index=models.Index(fields=['status', '-score', '-priority', '-id'],
                               name='review_item_score'),
        ),
    ]
