"""The Django project of tutorwatch: the store (models and migrations), the review UI, the exports
and the ``tutorwatch`` command line (Django's management commands plus ours)."""
