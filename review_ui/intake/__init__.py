"""Intake: what reaches the bureau other than by crawling.

- ``submissions``: an ad an officer saw anywhere (a WeChat group, a leaflet…), entered with
  pictures, stored through the store's one ingest path and always queued for review;
- ``images``: the pictures' checks and re-encoding;
- ``leads`` and ``lead_files``: complaints (12345 hotline tickets, letters, visits), entered in
  the UI or imported from the hotline's export (``tutorwatch leads import FILE``), each linked to
  the ads, leads and cases that share a phone, WeChat id or institution name with it.
"""
