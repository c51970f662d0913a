"""The REST API of the review queue, under ``/api/v1/`` (docs/api.md).

Django REST Framework: ``access`` (who may call it: tokens, sessions, roles, the throttle on
wrong tokens), ``serializers`` (the JSON), ``views`` and ``urls``. The rules are the UI's: the
views call the same model methods (``ReviewItem.claim``/``decide``/``release``), which write the
same audit rows, marked ``"via": "api"``. Settings: ``REST_FRAMEWORK``,
``SPECTACULAR_SETTINGS`` and ``TUTORWATCH_API_TOKEN_FAILURES`` in ``review_ui.settings``.
"""
