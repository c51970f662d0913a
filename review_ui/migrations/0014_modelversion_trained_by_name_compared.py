# Model versions record who trained them by name (the OS user or the scheduler need not be a
# user of the site) and a candidate's figures beside the current model's on the same data.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('review_ui', '0012_intake'),
    ]

    operations = [
        migrations.AddField(
            model_name='modelversion',
            name='trained_by_name',
            field=models.CharField(blank=True, max_length=150, verbose_name='trained by (name)'),
        ),
        migrations.AddField(
            model_name='modelversion',
            name='compared',
            field=models.JSONField(default=dict, verbose_name='compared at training'),
        ),
    ]
