"""tutorwatch's own Scrapy signals, for components of one crawl that need each other's news.

- :data:`shared_crawl_opened` (``shared``: a :class:`crawler.distributed.SharedCrawl`, ``lose``:
  a function of the Redis error that stops the crawl with ``redis_unavailable``): sent by the
  Redis scheduler when this worker enters a source's shared crawl, before the pipelines open;
  the run recorder records into the shared crawl's run, the downloader takes the leases of its
  download slots from it (:mod:`crawler.leases`).
- :data:`run_started` (``run_id``: int): sent by the run recorder
  (:mod:`crawler.extensions.runs`) once the crawl's run is recorded, before the first item;
  the store stage stores ads and takedowns under it.
"""

shared_crawl_opened = object()
run_started = object()
