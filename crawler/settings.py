"""Scrapy settings of the tutorwatch crawler.

Scrapy's own settings can be overridden per crawl with ``-s NAME=VALUE``; ours carry the
``TUTORWATCH_`` prefix. Environment variables are read only here and in ``review_ui.settings``.
"""

from __future__ import annotations

import os

from review_ui.env import envbool, envfloat, envurl

BOT_NAME = "tutorwatch"
SPIDER_LOADER_CLASS = "crawler.spiderloader.SourceSpiderLoader"
NEWSPIDER_MODULE = "crawler.spiders"

# --- Politeness -------------------------------------------------------------------------------
# Public-sector crawler: obey robots.txt, identify ourselves, go gently.
ROBOTSTXT_OBEY = True
USER_AGENT = "tutorwatch/0.1 (+education-bureau ad review; obeys robots.txt)"
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_DELAY = 0
AUTOTHROTTLE_ENABLED = False
COOKIES_ENABLED = False

# --- Bounds: a crawl ends by itself -----------------------------------------------------------
DOWNLOAD_TIMEOUT = 30            # seconds per request
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024   # a bigger body is dropped, not parsed
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 2
REDIRECT_MAX_TIMES = 5
DEPTH_LIMIT = 0                  # paging is bounded by a source's max_pages instead
CLOSESPIDER_TIMEOUT = 0

# --- Engine ------------------------------------------------------------------------------------
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = os.environ.get("TUTORWATCH_CRAWL_LOG_LEVEL", "INFO")
TELNETCONSOLE_ENABLED = False
LOG_FORMATTER = "crawler.logformatter.QuietItemsLogFormatter"

# --- Pipelines: page → clean text → contacts → classify → store --------------------------------
ITEM_PIPELINES = {
    "crawler.pipelines.CleanTextPipeline": 100,
    "crawler.pipelines.ContactsPipeline": 200,
    "crawler.pipelines.ClassifyPipeline": 300,
    "crawler.pipelines.StorePipeline": 900,
}

# --- Incremental crawls and re-checks (crawler/incremental.py) ---------------------------------
SPIDER_MIDDLEWARES = {"crawler.incremental.IncrementalMiddleware": 800}
# Skip detail pages of ads already stored until they are this many days old.
TUTORWATCH_INCREMENTAL = envbool("TUTORWATCH_INCREMENTAL", True)
TUTORWATCH_REFETCH_DAYS = envfloat("TUTORWATCH_REFETCH_DAYS", 30.0, low=0)
# A re-check crawl fetches the flagged, confirmed and escalated ads due (`crawl --recheck`).
TUTORWATCH_RECHECK = False
TUTORWATCH_RECHECK_HOURS = envfloat("TUTORWATCH_RECHECK_HOURS", 24.0, low=0)
# How the crawl was started, as recorded on its run: manual | scheduled.
TUTORWATCH_TRIGGER = "manual"

# --- Distributed mode (crawler/distributed.py) ----------------------------------------------------
# With a Redis URL, the frontier and duplicate filter are shared by every worker of a source.
REDIS_URL = envurl("TUTORWATCH_REDIS_URL", ("redis", "rediss", "unix"))
TUTORWATCH_REDIS_PREFIX = os.environ.get("TUTORWATCH_REDIS_PREFIX", "tutorwatch")
TUTORWATCH_REDIS_IDLE_CLOSE = 2.0    # seconds the shared crawl stays idle before a worker leaves
TUTORWATCH_REDIS_STALE = 15.0        # seconds without a heartbeat: that worker is gone
TUTORWATCH_REDIS_MAX_BACKLOG = 8     # pages a worker may hold unprocessed before taking more
if REDIS_URL:
    SCHEDULER = "crawler.distributed.RedisScheduler"

# --- tutorwatch ----------------------------------------------------------------------------------
# The classifier model file; empty means the shipped default (classifier/models/).
TUTORWATCH_MODEL = os.environ.get("TUTORWATCH_MODEL", "")
# Extra source YAML files the spider loader adds to the bundled ones (a list).
TUTORWATCH_SOURCE_FILES: list[str] = []
# Folder of bundled sources; empty means crawler/sources/.
TUTORWATCH_SOURCES_DIR = ""
# Keep the raw page of each ad as evidence (bytes, with its SHA-256).
TUTORWATCH_KEEP_RAW = True
