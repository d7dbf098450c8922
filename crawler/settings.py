"""Every Scrapy setting arsip changes, and every ``ARSIP_*`` setting with its default.

Used by ``arsip crawl`` and by ``scrapy crawl news -a url=...`` (through scrapy.cfg). Override any
of them with ``-s NAME=VALUE``. Values are only read when a crawl starts (``CrawlConfig``).
"""

from __future__ import annotations

BOT_NAME = "arsip"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# --- arsip's own settings ----------------------------------------------------------------------
# Folder for the SQLite file and WARCs; None means $ARSIP_DATA_DIR, else ./arsip-data.
ARSIP_DATA_DIR = None
# Any SQLAlchemy URL; None means $ARSIP_DB_URL, else sqlite:///<data dir>/arsip.db.
ARSIP_DB_URL = None
# WARC folder; None means <data dir>/warc.
ARSIP_WARC_DIR = None
# WARC file names are PREFIX-TIMESTAMP-SERIAL-HOST.warc.gz.
ARSIP_WARC_PREFIX = "arsip"
# The crawl node's name, HOST in its WARC file names; None means $ARSIP_NODE, else this
# machine's host name. A crawl repairs only the .open files of its own node; replay finds a
# node's files by it (--warc-root HOST=DIR). Two nodes on one machine need a name each.
ARSIP_NODE = None
# Start a new WARC file past this many bytes (1 GB, the usual archive convention).
ARSIP_WARC_MAX_SIZE = 1_000_000_000
# Close the open WARC file after this many idle seconds, so a quiet crawl leaves no .open file.
ARSIP_WARC_IDLE_TIMEOUT = 300.0
# Extraction processes; 0 means one per CPU core.
ARSIP_EXTRACT_WORKERS = 0
# A registered site's name (its stored profile and base URL), else a site profile name or .toml
# path; None means general rules for the start URL's host.
ARSIP_SITE = None
# A registered site by its id, never a profile (the daemon's crawls name their site so); 0: none.
ARSIP_SITE_ID = 0
# Skip articles whose sitemap or feed date is older than this ISO date.
ARSIP_SINCE = None
# Stop after fetching this many pages; 0 means no limit.
ARSIP_MAX_PAGES = 0
# The crawl's log file; None means <data dir>/logs/crawl-<start time>.log. The daemon sets it.
ARSIP_STATE_FILE = None  # append the crawl's states (crawler.runtime) to this file, as JSON lines
ARSIP_LOG_FILE = None
# Who started the crawl, recorded on the crawl run: "cli", "daemon" or "scrapy".
ARSIP_TRIGGER = "scrapy"
# Live progress on the terminal (the CLI turns it on when stderr is a TTY).
ARSIP_PROGRESS = False
# Send If-None-Match / If-Modified-Since for articles the archive already holds.
ARSIP_CONDITIONAL_REQUESTS = True
# Re-crawl policy (README "Re-crawls"): an article is revisited this long after its publication
# (or after it was last seen changing), then only when a sitemap or feed dates it after its last
# fetch. Hubs (home, sections, feeds, sitemaps) are fetched on every run.
ARSIP_REVISIT_LADDER = "1h,6h,1d,3d,7d,30d"
# Ask for every article the archive knows on this run (conditionally), due or not.
ARSIP_REVISIT_ALL = False
# One crawl per site at a time: wait for a live run of the same site to end (`arsip crawl
# --wait`), rather than stop with an error.
ARSIP_WAIT = False
# Also fetch each article's page requisites (stylesheets and what they import, fonts, scripts,
# the images of the article body) so the archived page replays as it looked; see
# crawler/requisites.py for which hosts.
ARSIP_REQUISITES = True
# Site boilerplate (README "Site boilerplate"): learn the lines a site repeats across its
# articles and strip them from the stored text. Lines are judged once this many articles of the
# site were seen, and learned when they appear on at least this share of its recent articles.
ARSIP_BOILERPLATE = True
ARSIP_BOILERPLATE_MIN_PAGES = 20
ARSIP_BOILERPLATE_SHARE = 0.3

# --- politeness ---------------------------------------------------------------------------------
ROBOTSTXT_OBEY = True
USER_AGENT = "arsip/0.1 (news archiver; +https://github.com/arsip-archive/arsip)"
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_DELAY = 0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0
DOWNLOAD_TIMEOUT = 30
RETRY_TIMES = 2
# warcio and pywb cannot read zstd and brotli is fragile in replay tools, so never ask for them.
DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "id,en;q=0.8",
    "Accept-Encoding": "gzip, deflate",
}
# Each capture stands on its own: no cookie state carried from one fetch to the next, so what
# is archived does not depend on the order pages were crawled in (and no per-response cookie
# parsing). Turn on for a site that insists on a cookie.
COOKIES_ENABLED = False
DOWNLOAD_MAXSIZE = 64 * 1024 * 1024
DOWNLOAD_WARNSIZE = 16 * 1024 * 1024
# As browsers and Scrapy's default: newsrooms chain shortlinks, trackers and old slugs.
REDIRECT_MAX_TIMES = 20
# A response cut short is still archived (with WARC-Truncated) rather than thrown away.
DOWNLOAD_FAIL_ON_DATALOSS = False
# Errors are archived and recorded too; the spider decides what to do with them.
HTTPERROR_ALLOW_ALL = False

# Not used by arsip, and each costs time on every response of a big crawl.
# (MetaCopyDetection is a development check that the spider never copies response.meta into
# new requests; it wraps every response's output in one more asynchronous layer.)
SPIDER_MIDDLEWARES = {
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
    "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
}
# A development aid that re-reads and parses a callback's source whenever its cache entry has
# died with the request holding it: per response, in practice. The spider is tested instead.
WARN_ON_GENERATOR_RETURN_VALUE = False
METAREFRESH_ENABLED = False  # newsrooms redirect with HTTP; a refresh page is archived as is

# --- components ---------------------------------------------------------------------------------
DOWNLOADER_MIDDLEWARES = {
    # before robots and everything else: a refused request costs nothing
    "crawler.middlewares.limits.PageLimitMiddleware": 50,
    "crawler.middlewares.conditional.ConditionalRequestMiddleware": 580,
    # Closest to the network: stamps the capture start time on each request.
    "crawler.middlewares.warc.WarcCaptureMiddleware": 990,
}
ITEM_PIPELINES = {
    "crawler.pipelines.extract.ExtractionPipeline": 300,
    "crawler.pipelines.store.StoragePipeline": 800,
}
EXTENSIONS = {
    "crawler.extensions.progress.ProgressExtension": 500,
}
# Scrapy's base extensions without RemoteControl, an HTTP endpoint that runs code inside the
# crawl, and TelnetConsole, a listening shell: an archiver has no use for either. They leave the
# base list rather than being set to None in EXTENSIONS because Scrapy imports every listed
# class, switched off or not, and RemoteControl's aiohttp import alone costs a fifth of a second
# of every crawl's start.
EXTENSIONS_BASE = {
    "scrapy.extensions.corestats.CoreStats": 0,
    "scrapy.extensions.logcount.LogCount": 0,
    "scrapy.extensions.memusage.MemoryUsage": 0,
    "scrapy.extensions.memdebug.MemoryDebugger": 0,
    "scrapy.extensions.closespider.CloseSpider": 0,
    "scrapy.extensions.feedexport.FeedExporter": 0,
    "scrapy.extensions.logstats.LogStats": 0,
    "scrapy.extensions.spiderstate.SpiderState": 0,
    "scrapy.extensions.throttle.AutoThrottle": 0,
}
REMOTE_CONTROL_ENABLED = False
# Only http(s) is archived: no file:, ftp:, s3: or data: fetches, whatever a page links to.
DOWNLOAD_HANDLERS = {"file": None, "ftp": None, "s3": None, "data": None}

# First in, first out within a priority: the spider gives discovery documents (robots, sitemaps,
# feeds) the highest priority, then the hubs known from earlier runs, then articles; a few listing
# pages at a time go ahead of articles so that pagination chains keep moving, none under
# --max-pages or with one request at a time (crawler.spiders.order).
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"

# Scrapy starts this many tasks for every response's output; article pages yield one item and
# listing pages a few dozen requests, so 100 (the default) only costs reactor time.
CONCURRENT_ITEMS = 16

LOG_LEVEL = "INFO"
TELNETCONSOLE_ENABLED = False  # no listening port in a crawl process
FEED_EXPORT_ENCODING = "utf-8"
