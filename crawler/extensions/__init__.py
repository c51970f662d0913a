"""Scrapy extensions of the tutorwatch crawler (see ``EXTENSIONS`` in ``crawler/settings.py``)."""
