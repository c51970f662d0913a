"""Scrapy settings of the tutorwatch crawler.

Scrapy's own settings can be overridden per crawl with ``-s NAME=VALUE``; ours carry the
``TUTORWATCH_`` prefix. Environment variables are read only here and in ``review_ui.settings``.
"""

from __future__ import annotations

import os
import shutil

from review_ui.env import envbool, envchoice, envfloat, envnetworks, envurl

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
# Scrapy's downloader, except that it holds CONCURRENT_REQUESTS_PER_DOMAIN under the asyncio
# reactor, where Scrapy's own sends a slow site up to CONCURRENT_REQUESTS at once.
DOWNLOADER = "crawler.downloader.SlotLimitedDownloader"
COOKIES_ENABLED = False

# --- Memory -----------------------------------------------------------------------------------
# A crawl that fetches faster than its pipeline worker scores and stores keeps the fetched pages
# whose ads wait for it. Scrapy stops fetching once those pages' bodies pass
# SCRAPER_SLOT_MAX_ACTIVE_SIZE (5 MB by default, counting a page of less than 1 KB as 1 KB), and
# starts CONCURRENT_ITEMS asyncio tasks for every page it processes (100 by default), which live
# as long as the page does. With both defaults, a crawl of 1 KB ad pages held 4,600 pages at
# about 105 KB each: 500 MiB more than its start. With these, it rose 63 MiB over 100,000 pages
# (most of it the links seen) and took as long (docs/benchmarks.md, 2026-12-07;
# tests/crawler/test_backlog.py). Up to 16 of one page's items still wait for the worker
# together, and 1 MB of pages is about 1,000 small ads, ten of the worker's batches.
CONCURRENT_ITEMS = 16
SCRAPER_SLOT_MAX_ACTIVE_SIZE = 1_000_000

# --- Bounds: a crawl ends by itself -----------------------------------------------------------
# Each URL that yields no ad is counted once as tutorwatch/failed/<reason> (crawler/failures.py).
DOWNLOAD_TIMEOUT = 10            # seconds for a whole response; a stalling server fails "timeout"
DOWNLOAD_MAXSIZE = 4 * 1024 * 1024   # a bigger body is cut off and fails "too_big"
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 2                  # 500s, broken connections: three tries in all
TUTORWATCH_TIMEOUT_RETRY_TIMES = 1   # a timed-out request: two tries (each costs DOWNLOAD_TIMEOUT)
TUTORWATCH_RETRY_AFTER_MAX = 60  # obey a 429/503 Retry-After up to this many seconds, else fail
TUTORWATCH_RETRY_BACKOFF = 1.0   # a 429/503 without Retry-After waits this, doubled at each try
REDIRECT_MAX_TIMES = 5           # more fails "too_many_redirects"; a loop fails "redirect_loop"
DEPTH_LIMIT = 0                  # paging is bounded by the three limits below instead
TUTORWATCH_MAX_PAGES = 100       # list pages per start URL when a source sets no max_pages
TUTORWATCH_STALE_PAGES = 3       # stop paging after this many list pages with no new link
TUTORWATCH_MAX_LINKS_PER_PAGE = 500  # detail links followed from one list page
CLOSESPIDER_TIMEOUT = 0

# --- Engine ------------------------------------------------------------------------------------
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = envchoice("TUTORWATCH_CRAWL_LOG_LEVEL",
                      ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), "INFO")
TELNETCONSOLE_ENABLED = False
LOG_FORMATTER = "crawler.logformatter.QuietItemsLogFormatter"

# --- Network guard (crawler/network.py, crawler/middlewares/network_guard.py) -----------------
# Inside networks (loopback, private, link-local, reserved...) a crawl may reach, as CIDRs: empty
# by default, so every request, redirect, stored ad's final URL and rendering browser connection
# to such an address is refused. The demo and the tests set 127.0.0.0/8 for their sandbox sites.
TUTORWATCH_ALLOW_NETWORKS = envnetworks("TUTORWATCH_ALLOW_NETWORKS")
# Scrapy's resolver, refusing an inside address at connect time (a DNS answer that changed since
# the middleware checked the host).
DNS_RESOLVER = "crawler.middlewares.network_guard.GuardedResolver"

# --- Downloader middlewares (crawler/middlewares/) -----------------------------------------------
DOWNLOADER_MIDDLEWARES = {
    # Off-site and inside-network requests, redirects included, refused before anything else
    # (Scrapy's offsite filter is at 50, robots.txt at 100).
    "crawler.middlewares.network_guard.NetworkGuardMiddleware": 40,
    # Retries that honour Retry-After, in place of Scrapy's.
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.retry.PoliteRetryMiddleware": 550,
    # Redirects that name loops, in place of Scrapy's.
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.middlewares.redirect.LoopAwareMetaRefreshMiddleware": 580,
    "crawler.middlewares.redirect.LoopAwareRedirectMiddleware": 600,
    # Charset decision: after decompression (590), before meta refresh (580) reads the text.
    "crawler.middlewares.charset.CharsetMiddleware": 585,
    # Challenge pages (captcha, login wall, rate limit) fail as blocked, after the redirects and
    # the charset decision, before the retries: a challenge is never retried.
    "crawler.middlewares.blocks.BlockDetectionMiddleware": 560,
}

# --- Extensions (crawler/extensions/) ------------------------------------------------------------
EXTENSIONS = {
    # With JOBDIR: a crawl killed outright restarts from its start URLs instead of losing pages.
    "crawler.extensions.jobdir.CrashSafeJobDir": 0,
    # log_count/<LEVEL> of each crawl counts its own records only, in place of Scrapy's, which
    # counts every record of the process for every crawl in it.
    "scrapy.extensions.logcount.LogCount": None,
    "crawler.extensions.logcount.CrawlLogCount": 0,
    # The process (or thread) the classify and store stages score and store on, one per crawl.
    "crawler.extensions.pipeline_worker.PipelineWorkerExtension": 100,
    # Each crawl of a source recorded as a run: started, kept alive, finished and checked.
    "crawler.extensions.runs.CrawlRunRecorder": 200,
    # The screenshot worker of the crawl, outside the reactor: started when a crawl that flagged
    # an ad closes (before the run is recorded, which names the worker), or beside a long one.
    "crawler.extensions.capture.CaptureWorkerExtension": 150,
    # The start-up's objects out of the garbage collector's full passes, once per process.
    "crawler.extensions.gcfreeze.FreezeStartup": 0,
}

# --- Rendering (sources with render: true only; see crawler/spiders/__init__.py) -----------------
# Debian's Chromium; Playwright never downloads a browser. TUTORWATCH_CHROMIUM names another one.
TUTORWATCH_CHROMIUM = os.environ.get("TUTORWATCH_CHROMIUM") or shutil.which("chromium") or ""
PLAYWRIGHT_BROWSER_TYPE = "chromium"


def chromium_args(euid: int) -> list[str]:
    """Chromium's flags for a crawl run by user id ``euid``. Its sandbox cannot start as root,
    so only then is it switched off; production crawls run as the unprivileged tutorwatch user
    (docs/deploy.md), with the sandbox on."""
    sandbox = ["--no-sandbox"] if euid == 0 else []
    return [*sandbox, "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"]


PLAYWRIGHT_LAUNCH_OPTIONS = {
    "headless": True,
    "args": chromium_args(os.geteuid() if hasattr(os, "geteuid") else -1),
    **({"executable_path": TUTORWATCH_CHROMIUM} if TUTORWATCH_CHROMIUM else {}),
}
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = DOWNLOAD_TIMEOUT * 1000
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 4

# --- Screenshots of flagged ads (crawler/screenshots.py, review_ui/capture.py) -------------------
# A crawl that flags an ad starts a capture worker process (crawler/extensions/capture.py);
# off: the captures wait for `tutorwatch capture`. Same browser, sandbox and network guard.
TUTORWATCH_CAPTURE = envbool("TUTORWATCH_CAPTURE", True)
# When: as the crawl closes, or beside it once this many seconds have passed since its first
# flagged ad (0: at the first flagged ad). The worker's start is not taken from a short crawl.
TUTORWATCH_CAPTURE_DELAY = envfloat("TUTORWATCH_CAPTURE_DELAY", 300.0, low=0)
# Captures started per minute at most, by the one worker of the store (0: no limit).
TUTORWATCH_CAPTURE_RATE = envfloat("TUTORWATCH_CAPTURE_RATE", 20.0, low=0)
# Seconds for one capture in all (load, settle, screenshot); longer fails "timeout".
TUTORWATCH_CAPTURE_TIMEOUT = envfloat("TUTORWATCH_CAPTURE_TIMEOUT", 30.0, low=1)

# --- Pipelines: page → clean text → contacts → classify → store --------------------------------
ITEM_PIPELINES = {
    "crawler.pipelines.CleanTextPipeline": 100,
    "crawler.pipelines.ContactsPipeline": 200,
    "crawler.pipelines.ClassifyPipeline": 300,
    # The store's last check: the ad's final URL is still one the crawl may fetch.
    "crawler.middlewares.network_guard.FinalUrlPipeline": 850,
    "crawler.pipelines.StorePipeline": 900,
}
# Score ads in batches on the worker the store writes on, rather than one by one on the reactor.
TUTORWATCH_CLASSIFY_IN_BATCHES = True
# That worker is a child process of the crawl, forked once the model is loaded, so that scoring
# and storing run on a second core beside the reactor (crawler/pipelines/worker.py); off: a
# thread of the crawl process. Where fork is not available, always a thread.
TUTORWATCH_PIPELINE_PROCESS = envbool("TUTORWATCH_PIPELINE_PROCESS", True)

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
TUTORWATCH_REDIS_MAX_BACKLOG = 100  # pages a worker may hold unprocessed before taking more
# (as many as the store writes in one transaction: fewer starve its batches)
# Per-site limits hold for all workers through leases in Redis (crawler/leases.py); a dead
# worker's leases expire this many seconds after its last heartbeat.
TUTORWATCH_REDIS_LEASE_TTL = 5.0
if REDIS_URL:
    SCHEDULER = "crawler.distributed.RedisScheduler"

# --- tutorwatch ----------------------------------------------------------------------------------
# The classifier model file; empty means the shipped default (classifier/models/).
TUTORWATCH_MODEL = os.environ.get("TUTORWATCH_MODEL", "")
# Score at or above which an ad is flagged; None means the model's own threshold.
TUTORWATCH_FLAG_THRESHOLD = envfloat("TUTORWATCH_FLAG_THRESHOLD", None, low=0, high=1)
# Extra source YAML files the spider loader adds to the bundled ones (a list).
TUTORWATCH_SOURCE_FILES: list[str] = []
# Folder of bundled sources; empty means crawler/sources/.
TUTORWATCH_SOURCES_DIR = ""
# Keep the raw page of each ad as evidence (bytes, with its SHA-256).
TUTORWATCH_KEEP_RAW = True
