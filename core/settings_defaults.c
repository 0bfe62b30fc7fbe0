/* The built-in settings table: every setting silk knows, its type, its default written as
 * `-s NAME=TEXT` would give it (NULL: None), and one line of help. Names and defaults
 * follow Scrapy 2.8 where silk honours the same setting; docs/settings.md documents each
 * one and tests/test_settings.c checks that every default parses and is documented.
 * Settings are grouped by area, in the order docs/settings.md lists them. */
#include "core/settings.h"

#define B SILK_SET_BOOL
#define I SILK_SET_INT
#define F SILK_SET_FLOAT
#define S SILK_SET_STR
#define L SILK_SET_LIST
#define D SILK_SET_DICT

const silk_setting_def silk__settings_builtin[] = {
    /* ---- crawling ------------------------------------------------------------------ */
    {"BOT_NAME", S, "silk", "name of the bot, used in the default User-Agent and logs"},
    {"CONCURRENT_REQUESTS", I, "16", "maximum requests in flight across all domains"},
    {"CONCURRENT_REQUESTS_PER_DOMAIN", I, "8", "maximum requests in flight per download slot"},
    {"CONCURRENT_ITEMS", I, "100", "maximum items processed in parallel per response"},
    {"DEPTH_LIMIT", I, "0", "maximum link depth to follow (0: unlimited)"},
    {"DEPTH_PRIORITY", I, "0",
     "priority change per depth level (positive: breadth-first, negative: depth-first)"},
    {"DEPTH_STATS_VERBOSE", B, "false", "collect request_depth_count/<N> stats per depth"},
    {"DUPEFILTER_DEBUG", B, "false", "log every filtered duplicate request, not just the first"},
    {"SCHEDULER_DEBUG", B, "false", "log requests the scheduler cannot keep on disk"},
    {"JOBDIR", S, NULL, "directory that keeps crawl state so a crawl can be paused and resumed"},
    {"PARSE_IN_THREADPOOL", B, "true", "parse HTML in libuv's thread pool instead of the loop"},
    {"PARSE_THREADS", I, "0",
     "threads in libuv's pool, which parses HTML (0: one per CPU, at most 4; the "
     "UV_THREADPOOL_SIZE environment variable wins)"},
    {"SCRAPER_SLOT_MAX_ACTIVE_SIZE", I, "5000000",
     "bytes of responses being parsed above which the engine stops downloading"},
    {"CLOSESPIDER_TIMEOUT", F, "0.0", "close the spider after this many seconds (0: never)"},
    {"CLOSESPIDER_ITEMCOUNT", I, "0", "close the spider after this many items (0: never)"},
    {"CLOSESPIDER_PAGECOUNT", I, "0", "close the spider after this many responses (0: never)"},
    {"CLOSESPIDER_ERRORCOUNT", I, "0", "close the spider after this many errors (0: never)"},

    /* ---- logging and stats ----------------------------------------------------------- */
    {"LOG_ENABLED", B, "true", "write log lines at all"},
    {"LOG_LEVEL", S, "INFO", "lowest level logged: DEBUG, INFO, WARNING, ERROR or CRITICAL"},
    {"LOG_FILE", S, NULL, "file to log to instead of standard error"},
    {"LOG_FILE_APPEND", B, "true", "append to LOG_FILE instead of truncating it"},
    {"LOGSTATS_INTERVAL", F, "60.0", "seconds between \"Crawled N pages\" lines (0: off)"},
    {"STATS_DUMP", B, "true", "log all stats when the spider closes"},

    /* ---- downloader ------------------------------------------------------------------- */
    {"USER_AGENT", S, "silk/0.1 (+https://github.com/silk-crawler/silk)",
     "default User-Agent header"},
    {"DEFAULT_REQUEST_HEADERS", D,
     "{\"Accept\": \"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\", "
     "\"Accept-Language\": \"en\"}",
     "headers added to every request that does not set them"},
    {"DOWNLOAD_DELAY", F, "0", "seconds to wait between requests to the same download slot"},
    {"RANDOMIZE_DOWNLOAD_DELAY", B, "true", "multiply DOWNLOAD_DELAY by a random 0.5 to 1.5"},
    {"DOWNLOAD_TIMEOUT", F, "180", "seconds before a download times out"},
    {"DOWNLOAD_MAXSIZE", I, "1073741824", "largest response body in bytes (0: no limit)"},
    {"DOWNLOAD_WARNSIZE", I, "33554432",
     "response size in bytes above which a warning is logged (0: never)"},
    {"DOWNLOAD_FAIL_ON_DATALOSS", B, "true",
     "fail truncated responses instead of passing them on flagged 'dataloss'"},
    {"DOWNLOAD_SLOTS", D, "{}",
     "per-slot overrides: {\"host\": {\"concurrency\": 2, \"delay\": 1.0}}"},
    {"DNSCACHE_ENABLED", B, "true", "share libcurl's DNS cache between requests"},
    {"CONNECT_TO", L, "[]",
     "curl CONNECT_TO entries \"host:port:connect_host:connect_port\" (virtual hosts)"},
    {"DEMO_SITE", S, "127.0.0.1:8089", "host:port of the local demo site the demo spiders crawl"},

    /* ---- downloader middlewares ----------------------------------------------------- */
    {"DOWNLOADER_MIDDLEWARES", D, "{}",
     "downloader middlewares to add or disable (null), merged over the _BASE dict"},
    {"DOWNLOADER_MIDDLEWARES_BASE", D,
     "{\"RobotsTxtMiddleware\": 100, \"HttpAuthMiddleware\": 300, "
     "\"DownloadTimeoutMiddleware\": 350, \"DefaultHeadersMiddleware\": 400, "
     "\"UserAgentMiddleware\": 500, \"RetryMiddleware\": 550, \"MetaRefreshMiddleware\": 580, "
     "\"HttpCompressionMiddleware\": 590, \"RedirectMiddleware\": 600, "
     "\"CookiesMiddleware\": 700, \"HttpProxyMiddleware\": 750, \"DownloaderStats\": 850}",
     "downloader middlewares enabled by default, with their orders"},
    {"RETRY_ENABLED", B, "true", "retry failed downloads and retryable HTTP codes"},
    {"RETRY_TIMES", I, "2", "retries per request, besides the first download"},
    {"RETRY_HTTP_CODES", L, "[500, 502, 503, 504, 522, 524, 408, 429]",
     "HTTP status codes that are retried"},
    {"RETRY_PRIORITY_ADJUST", I, "-1", "priority change of a retried request"},
    {"REDIRECT_ENABLED", B, "true", "follow HTTP redirects"},
    {"REDIRECT_MAX_TIMES", I, "20", "redirects followed per request"},
    {"REDIRECT_PRIORITY_ADJUST", I, "2", "priority change of a redirected request"},
    {"METAREFRESH_ENABLED", B, "true", "follow <meta http-equiv=\"refresh\"> redirects"},
    {"METAREFRESH_MAXDELAY", I, "100", "longest meta refresh delay in seconds that is followed"},
    {"COMPRESSION_ENABLED", B, "true", "accept and decode gzip, deflate and br responses"},
    {"COOKIES_ENABLED", B, "true", "keep cookies per spider and send them back"},
    {"COOKIES_DEBUG", B, "false", "log every Cookie and Set-Cookie header"},
    {"HTTPPROXY_ENABLED", B, "true", "use proxies from the environment or request meta"},
    {"ROBOTSTXT_OBEY", B, "false", "fetch robots.txt and skip disallowed requests"},
    {"ROBOTSTXT_USER_AGENT", S, NULL, "user agent matched in robots.txt (None: USER_AGENT)"},
    {"DOWNLOADER_STATS", B, "true", "collect downloader/* stats"},

    /* ---- spider middlewares ------------------------------------------------------------ */
    {"SPIDER_MIDDLEWARES", D, "{}",
     "spider middlewares to add or disable (null), merged over the _BASE dict"},
    {"SPIDER_MIDDLEWARES_BASE", D,
     "{\"HttpErrorMiddleware\": 50, \"OffsiteMiddleware\": 500, \"RefererMiddleware\": 700, "
     "\"UrlLengthMiddleware\": 800, \"DepthMiddleware\": 900}",
     "spider middlewares enabled by default, with their orders"},
    {"HTTPERROR_ALLOWED_CODES", L, "[]", "non-2xx status codes passed to callbacks"},
    {"HTTPERROR_ALLOW_ALL", B, "false", "pass every response to callbacks, whatever its status"},
    {"URLLENGTH_LIMIT", I, "2083", "longest URL followed (0: no limit)"},
    {"REFERER_ENABLED", B, "true", "set the Referer header from the response a request came from"},

    /* ---- item pipelines and extensions ------------------------------------------------- */
    {"ITEM_PIPELINES", D, "{}", "item pipelines to enable, with their orders"},
    {"ITEM_PIPELINES_BASE", D, "{}", "item pipelines enabled by default (none)"},
    {"EXTENSIONS", D, "{}", "extensions to add or disable (null), merged over the _BASE dict"},
    {"EXTENSIONS_BASE", D,
     "{\"CoreStats\": 0, \"TelnetConsole\": 0, \"MemoryUsage\": 0, \"MemoryDebugger\": 0, "
     "\"CloseSpider\": 0, \"FeedExporter\": 0, \"LogStats\": 0, \"LeakAlarm\": 0, "
     "\"StackTraceDump\": 0, \"MemoryPlot\": 0}",
     "extensions enabled by default"},

    /* ---- feeds ------------------------------------------------------------------------- */
    {"FEEDS", D, "{}",
     "feeds to write: {\"items.jsonl\": {\"format\": \"jsonlines\"}}; %(name)s and %(time)s "
     "expand"},
    {"FEED_EXPORT_ENCODING", S, "utf-8", "encoding of exported feeds"},
    {"FEED_EXPORT_FIELDS", L, NULL, "fields exported, in order (None: every field of each item)"},
    {"FEED_EXPORT_INDENT", I, "0", "indentation of json and xml feeds (0: one item per line)"},
    {"FEED_STORE_EMPTY", B, "true", "write feeds even when no item was scraped"},

    /* ---- telnet console ------------------------------------------------------------------ */
    {"TELNETCONSOLE_ENABLED", B, "true", "run the telnet console"},
    {"TELNETCONSOLE_PORT", L, "[6023, 6073]",
     "port range [first, last] tried in turn (empty or null: any free port)"},
    {"TELNETCONSOLE_HOST", S, "127.0.0.1", "address the console listens on"},
    {"TELNETCONSOLE_USERNAME", S, "silk", "console login name"},
    {"TELNETCONSOLE_PASSWORD", S, NULL, "console password (None: a random one, logged at startup)"},
    {"TELNETCONSOLE_IDLE_TIMEOUT", F, "3600.0", "seconds before an idle session is closed"},
    {"TELNETCONSOLE_MAX_LINE", I, "4096", "longest input line accepted, in bytes"},

    /* ---- memory and leak diagnostics --------------------------------------------------- */
    {"TRACK_REFS", B, "true", "keep live lists of tracked objects for prefs() and the heap view"},
    {"MEMUSAGE_ENABLED", B, "true", "watch the process's memory use"},
    {"MEMUSAGE_LIMIT_MB", I, "0", "close the spiders and exit above this RSS in MiB (0: off)"},
    {"MEMUSAGE_WARNING_MB", I, "0", "warn once above this RSS in MiB (0: off)"},
    {"MEMUSAGE_CHECK_INTERVAL_SECONDS", F, "60.0", "seconds between memory checks"},
    {"MEMUSAGE_SPIDER_LIMIT_MB", I, "0",
     "close a spider whose own tracked objects exceed this many MiB (0: off)"},
    {"MEMDEBUG_ENABLED", B, "false", "record memdebug/* stats of objects left alive at close"},
    {"MEMDEBUG_PLOT", S, NULL,
     "SVG file to draw live objects per class and spider, and RSS, over time into"},
    {"MEMDEBUG_PLOT_INTERVAL", F, "1.0", "seconds between the samples MEMDEBUG_PLOT draws"},
    {"LEAK_ALARM_ENABLED", B, "true",
     "warn when a class's live count keeps growing while throughput does not"},
    {"LEAK_ALARM_WINDOW", F, "60.0", "seconds of history the leak alarm looks at"},
    {"LEAK_ALARM_MIN_GROWTH", I, "100",
     "live objects a class must gain over the window to raise the alarm"},
};

const size_t silk__settings_builtin_count =
    sizeof silk__settings_builtin / sizeof silk__settings_builtin[0];
