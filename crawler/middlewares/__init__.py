"""Downloader middlewares of the tutorwatch crawler, one per concern (see ``crawler/settings.py``
for where each sits in the chain):

- ``charset``: decode each page the way that reads cleanly (``crawler.charset``); binary bodies
  stop being treated as text.
- ``retry``: Scrapy's retries, honouring ``Retry-After`` on 429 and 503 and retrying a timed-out
  request fewer times than other failures.
- ``redirect``: Scrapy's redirects, with redirect loops named as such.
- ``network_guard``: requests, redirects included, to hosts outside the source's domains or to
  inside networks (loopback, private, link-local …) are refused; with the DNS resolver and the
  item stage that check the same at connect time and before the store.
"""
