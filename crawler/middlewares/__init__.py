"""Downloader middlewares of the tutorwatch crawler, one per concern (see ``crawler/settings.py``
for where each sits in the chain):

- ``charset``: decode each page the way that reads cleanly (``crawler.charset``); binary bodies
  stop being treated as text.
- ``retry``: Scrapy's retries, honouring ``Retry-After`` on 429 and 503 and retrying a timed-out
  request fewer times than other failures.
- ``redirect``: Scrapy's redirects, with redirect loops named as such.
"""
