"""Scrapy settings of the tutorwatch crawler.

Scrapy's own settings can be overridden per crawl with ``-s NAME=VALUE``; ours carry the
``TUTORWATCH_`` prefix. Environment variables are read only here and in ``review_ui.settings``.
"""

from __future__ import annotations

import os

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

# --- tutorwatch ----------------------------------------------------------------------------------
# The classifier model file; empty means the shipped default (classifier/models/).
TUTORWATCH_MODEL = os.environ.get("TUTORWATCH_MODEL", "")
# Extra source YAML files the spider loader adds to the bundled ones (a list).
TUTORWATCH_SOURCE_FILES: list[str] = []
# Folder of bundled sources; empty means crawler/sources/.
TUTORWATCH_SOURCES_DIR = ""
# Keep the raw page of each ad as evidence (bytes, with its SHA-256).
TUTORWATCH_KEEP_RAW = True
