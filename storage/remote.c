/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The libcurl layer every remote backend shares (see remote.h).
 *
 * One request is one loop of attempts on one pooled easy handle. Each
 * attempt resets the handle (curl keeps its live connections, DNS and TLS
 * session caches across curl_easy_reset()), applies the defaults here, the
 * request's options and the backend's hooks, and performs. What an attempt
 * that failed was worth is decided in one place, classify(): retry within
 * the budget after a full-jitter backoff, or stop with an errno.
 *
 * Uploads are read from memory through read_cb(), which takes its bytes
 * from one process-wide token bucket, so the --limit-upload rate holds over
 * all connections of all backends together. */
#include "remote.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "hex.h"
#include "macro.h"

#ifndef CAIRN_VERSION
#define CAIRN_VERSION "unknown"
#endif

#define NS_PER_SEC UINT64_C(1000000000)
/* Slices of a limiter wait, so a changed limit or a stall check is seen soon. */
#define LIMIT_SLEEP_MAX_NS (200 * UINT64_C(1000000))
#define URL_SHOWN_MAX 200

/* ---- process-wide settings ------------------------------------------------ */

static pthread_once_t settings_once = PTHREAD_ONCE_INIT;
static atomic_uint connections_setting = CN_REMOTE_CONNECTIONS_DEFAULT;
static atomic_uint retry_seconds_setting = CN_REMOTE_RETRY_SECONDS_DEFAULT;
static _Atomic uint64_t upload_limit_setting;

static void settings_init(void) {
        const char *e = getenv("CAIRN_RETRY_SECONDS");
        if (e && *e) {
                char *end = NULL;
                errno = 0;
                unsigned long v = strtoul(e, &end, 10);
                if (errno == 0 && end && *end == 0 && v <= 24 * 3600)
                        atomic_store(&retry_seconds_setting, (unsigned) v);
        }
}

int cn_remote_set_connections(unsigned n) {
        pthread_once(&settings_once, settings_init);
        if (n == 0 || n > CN_REMOTE_CONNECTIONS_MAX)
                return -EINVAL;
        atomic_store(&connections_setting, n);
        return 0;
}

unsigned cn_remote_connections(void) {
        pthread_once(&settings_once, settings_init);
        return atomic_load(&connections_setting);
}

void cn_remote_set_upload_limit(uint64_t bytes_per_second) {
        pthread_once(&settings_once, settings_init);
        atomic_store(&upload_limit_setting, bytes_per_second);
}

uint64_t cn_remote_upload_limit(void) {
        pthread_once(&settings_once, settings_init);
        return atomic_load(&upload_limit_setting);
}

void cn_remote_set_retry_seconds(unsigned seconds) {
        pthread_once(&settings_once, settings_init);
        atomic_store(&retry_seconds_setting, seconds);
}

unsigned cn_remote_retry_seconds(void) {
        pthread_once(&settings_once, settings_init);
        return atomic_load(&retry_seconds_setting);
}

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * NS_PER_SEC + (uint64_t) ts.tv_nsec;
}

static void sleep_ns(uint64_t ns) {
        struct timespec ts = {.tv_sec = (time_t) (ns / NS_PER_SEC), .tv_nsec = (long) (ns % NS_PER_SEC)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* ---- token bucket ---------------------------------------------------------- */

void cn_token_bucket_init(CnTokenBucket *tb, uint64_t rate, uint64_t burst, uint64_t now) {
        *tb = (CnTokenBucket){
                .rate = rate,
                .burst = burst ? burst : 1,
                .tokens = burst ? burst : 1,
                .last_ns = now,
        };
}

static void bucket_refill(CnTokenBucket *tb, uint64_t now) {
        if (now <= tb->last_ns)
                return;
        /* tokens accrue at rate per second; frac keeps the remainder in
         * units of 1/NS_PER_SEC tokens so no fraction is ever lost. */
        unsigned __int128 total = (unsigned __int128) (now - tb->last_ns) * tb->rate + tb->frac;
        unsigned __int128 add = total / NS_PER_SEC;
        tb->last_ns = now;
        if (add > tb->burst - tb->tokens) {
                tb->tokens = tb->burst;
                tb->frac = 0;
        } else {
                tb->tokens += (uint64_t) add;
                tb->frac = (uint64_t) (total % NS_PER_SEC);
        }
}

uint64_t cn_token_bucket_take(CnTokenBucket *tb, uint64_t now, uint64_t want, uint64_t *ret_wait_ns) {
        if (want == 0)
                return 0;
        if (tb->rate == 0)
                return want;
        bucket_refill(tb, now);
        if (tb->tokens > 0) {
                uint64_t g = CN_MIN(want, tb->tokens);
                tb->tokens -= g;
                return g;
        }
        uint64_t need = CN_MIN(want, tb->burst);
        unsigned __int128 deficit = (unsigned __int128) need * NS_PER_SEC - tb->frac;
        unsigned __int128 wait = (deficit + tb->rate - 1) / tb->rate;
        if (ret_wait_ns)
                *ret_wait_ns = wait > UINT64_MAX ? UINT64_MAX : (uint64_t) wait;
        return 0;
}

/* The process-wide upload limiter. */
static pthread_mutex_t limiter_lock = PTHREAD_MUTEX_INITIALIZER;
static CnTokenBucket limiter;

static uint64_t limiter_burst(uint64_t rate) {
        /* a quarter second of traffic, within [1 KiB, 1 MiB] */
        return CN_MIN(CN_MAX(rate / 4, UINT64_C(1024)), UINT64_C(1) << 20);
}

/* Blocks until some of want bytes may be sent; returns how many (>= 1). */
static size_t limiter_take(size_t want) {
        for (;;) {
                uint64_t rate = cn_remote_upload_limit();
                if (rate == 0)
                        return want;
                uint64_t wait = 0, g;
                pthread_mutex_lock(&limiter_lock);
                uint64_t t = now_ns();
                if (limiter.rate != rate)
                        cn_token_bucket_init(&limiter, rate, limiter_burst(rate), t);
                g = cn_token_bucket_take(&limiter, t, want, &wait);
                pthread_mutex_unlock(&limiter_lock);
                if (g > 0)
                        return (size_t) g;
                sleep_ns(CN_MAX(CN_MIN(wait, LIMIT_SLEEP_MAX_NS), UINT64_C(1000000)));
        }
}

/* ---- backoff --------------------------------------------------------------- */

uint64_t cn_remote_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t cap_ms, uint64_t rnd) {
        uint64_t ceiling = base_ms;
        for (unsigned i = 1; i < attempt && ceiling < cap_ms; i++)
                ceiling = ceiling > UINT64_MAX / 2 ? UINT64_MAX : ceiling * 2;
        ceiling = CN_MIN(ceiling, cap_ms);
        if (ceiling == UINT64_MAX)
                return rnd;
        return rnd % (ceiling + 1);
}

static uint64_t random_u64(void) {
        uint64_t v = 0;
        if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t) sizeof v)
                v = now_ns() * UINT64_C(0x9E3779B97F4A7C15);
        return v;
}

/* ---- percent-encoding --------------------------------------------------------- */

static bool unreserved(unsigned char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
               c == '_' || c == '~';
}

int cn_remote_encode(CnBuf *out, const char *s, bool keep_slash) {
        static const char hex[] = "0123456789ABCDEF";
        int r;

        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (unreserved(*p) || (keep_slash && *p == '/'))
                        r = cn_buf_append(out, p, 1);
                else {
                        char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
                        r = cn_buf_append(out, e, 3);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

int cn_remote_encode_dup(const char *s, bool keep_slash, char **ret) {
        _cleanup_(cn_buf_donep) CnBuf b = CN_BUF_INIT(SIZE_MAX / 4);
        int r = cn_remote_encode(&b, s, keep_slash);
        if (r < 0)
                return r;
        r = cn_buf_append(&b, "", 1);
        if (r < 0)
                return r;
        *ret = (char *) TAKE_PTR(b.data);
        return 0;
}

int cn_remote_decode_dup(const char *s, size_t n, char **ret) {
        _cleanup_free_ char *d = malloc(n + 1);
        size_t k = 0;

        if (!d)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == 0)
                        return -EPROTO;
                if (s[i] != '%') {
                        d[k++] = s[i];
                        continue;
                }
                if (n - i < 3) /* fewer than two characters follow */
                        return -EPROTO;
                int hi = cn_hex_digit(s[i + 1]), lo = cn_hex_digit(s[i + 2]);
                if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                        return -EPROTO;
                d[k++] = (char) (hi << 4 | lo);
                i += 2;
        }
        d[k] = 0;
        *ret = TAKE_PTR(d);
        return 0;
}

/* ---- the pool ----------------------------------------------------------------- */

struct CnRemote {
        CnRemoteConfig cfg;
        bool http;
        char *ca_file; /* CAIRN_CA_FILE at creation, or NULL */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        unsigned max, busy, n_idle;
        CURL *idle[CN_REMOTE_CONNECTIONS_MAX];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init(void) {
        curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int cn_remote_new(const CnRemoteConfig *cfg, CnRemote **ret) {
        if (!cfg || !cfg->protocols || !ret)
                return -EINVAL;
        pthread_once(&curl_once, curl_init);
        if (curl_init_result != CURLE_OK) {
                cn_backend_set_error("libcurl initialisation failed: %s", curl_easy_strerror(curl_init_result));
                return -EIO;
        }

        CnRemote *r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        r->cfg = *cfg;
        r->http = strstr(cfg->protocols, "http") != NULL;
        r->max = cn_remote_connections();
        const char *ca = getenv("CAIRN_CA_FILE");
        if (r->http && ca && *ca) {
                if (access(ca, R_OK) < 0) {
                        int e = cn_negerrno();
                        cn_backend_set_error("CAIRN_CA_FILE %.200s: cannot read it: %s", ca, strerror(-e));
                        free(r);
                        return e == -ENOENT ? -EINVAL : e;
                }
                if (!(r->ca_file = strdup(ca))) {
                        free(r);
                        return -ENOMEM;
                }
        }
        pthread_mutex_init(&r->lock, NULL);
        pthread_cond_init(&r->cond, NULL);
        *ret = r;
        return 0;
}

CnRemote *cn_remote_free(CnRemote *r) {
        if (!r)
                return NULL;
        for (unsigned i = 0; i < r->n_idle; i++)
                curl_easy_cleanup(r->idle[i]);
        pthread_cond_destroy(&r->cond);
        pthread_mutex_destroy(&r->lock);
        free(r->ca_file);
        free(r);
        return NULL;
}

static CURL *handle_acquire(CnRemote *r) {
        CURL *h = NULL;

        pthread_mutex_lock(&r->lock);
        while (r->busy >= r->max)
                pthread_cond_wait(&r->cond, &r->lock);
        r->busy++;
        if (r->n_idle > 0)
                h = r->idle[--r->n_idle];
        pthread_mutex_unlock(&r->lock);
        if (!h) {
                h = curl_easy_init();
                if (!h) {
                        pthread_mutex_lock(&r->lock);
                        r->busy--;
                        pthread_cond_signal(&r->cond);
                        pthread_mutex_unlock(&r->lock);
                }
        }
        return h;
}

static void handle_release(CnRemote *r, CURL *h, bool keep) {
        pthread_mutex_lock(&r->lock);
        if (keep && r->n_idle < CN_ELEMENTSOF(r->idle)) {
                r->idle[r->n_idle++] = h;
                h = NULL;
        }
        r->busy--;
        pthread_cond_signal(&r->cond);
        pthread_mutex_unlock(&r->lock);
        if (h)
                curl_easy_cleanup(h);
}

/* ---- one attempt ------------------------------------------------------------------ */

typedef struct Transfer {
        CnRemote *r;
        CnRemoteRequest *req;
        CURL *h;
        size_t upload_pos;
        int sink_error; /* why write_cb refused bytes */
} Transfer;

static size_t read_cb(char *buf, size_t size, size_t nitems, void *userdata) {
        Transfer *t = userdata;
        size_t room = size * nitems, left = t->req->body_len - t->upload_pos;
        size_t n = CN_MIN(room, left);

        if (n == 0)
                return 0;
        n = limiter_take(n);
        memcpy(buf, (const uint8_t *) t->req->body + t->upload_pos, n);
        t->upload_pos += n;
        return n;
}

static int seek_cb(void *userdata, curl_off_t offset, int origin) {
        Transfer *t = userdata;
        if (origin != SEEK_SET || offset < 0 || (uint64_t) offset > t->req->body_len)
                return CURL_SEEKFUNC_FAIL;
        t->upload_pos = (size_t) offset;
        return CURL_SEEKFUNC_OK;
}

static size_t write_cb(char *p, size_t size, size_t nmemb, void *userdata) {
        Transfer *t = userdata;
        size_t n = size * nmemb;

        if (t->r->http) {
                long code = 0;
                (void) curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &code);
                if (code < 200 || code > 299) {
                        CnBuf *e = t->req->error_body;
                        if (e && e->len < e->limit)
                                (void) cn_buf_append(e, p, CN_MIN(n, e->limit - e->len));
                        return n;
                }
        }
        if (!t->req->response)
                return n;
        if (t->req->range && t->req->range_length != UINT64_MAX && t->r->http) {
                /* A 206 carries the range asked for and not a byte more: a
                 * server that sends more is refused as it starts to, before
                 * the surplus is held (a 200, the whole object of a server
                 * that ignores ranges, is held up to the buffer's cap). */
                long code = 0;
                (void) curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &code);
                if (code == 206 && n > t->req->range_length - CN_MIN(t->req->range_length, t->req->response->len)) {
                        t->sink_error = -EPROTO;
                        return 0;
                }
        }
        int r = cn_buf_append(t->req->response, p, n);
        if (r < 0) {
                t->sink_error = r;
                return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
        }
        return n;
}

static void free_header_values(CnRemoteRequest *req) {
        for (size_t i = 0; i < CN_REMOTE_HEADERS_MAX; i++) {
                free(req->header_values[i]);
                req->header_values[i] = NULL;
        }
}

static size_t header_cb(char *p, size_t size, size_t nitems, void *userdata) {
        Transfer *t = userdata;
        CnRemoteRequest *req = t->req;
        size_t n = size * nitems;

        if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
                /* a new response (after a 100 Continue, say): forget the last one's */
                free_header_values(req);
                return n;
        }
        if (!req->want_headers)
                return n;
        const char *colon = memchr(p, ':', n);
        if (!colon)
                return n;
        size_t name_len = (size_t) (colon - p);
        for (size_t i = 0; i < CN_REMOTE_HEADERS_MAX && req->want_headers[i]; i++) {
                const char *w = req->want_headers[i];
                if (strlen(w) != name_len || strncasecmp(w, p, name_len) != 0)
                        continue;
                const char *v = colon + 1, *end = p + n;
                while (v < end && (*v == ' ' || *v == '\t'))
                        v++;
                while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
                        end--;
                free(req->header_values[i]);
                req->header_values[i] = strndup(v, (size_t) (end - v));
                break;
        }
        return n;
}

/* url for messages: no userinfo password, no query, no fragment, bounded. */
static void shown_url(const char *url, char *out, size_t size) {
        size_t k = 0;
        const char *auth = strstr(url, "://");
        const char *at = NULL, *colon = NULL;

        if (auth) {
                auth += 3;
                size_t alen = strcspn(auth, "/?#");
                const char *a = memchr(auth, '@', alen);
                if (a) {
                        at = a;
                        colon = memchr(auth, ':', (size_t) (a - auth));
                }
        }
        for (const char *p = url; *p && *p != '?' && *p != '#' && k + 1 < size; p++) {
                if (colon && p >= colon && p < at)
                        continue;
                out[k++] = *p;
        }
        out[k] = 0;
}

static void set_error(const CnRemoteRequest *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(const CnRemoteRequest *req, const char *fmt, ...) {
        char url[URL_SHOWN_MAX], why[160];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
        shown_url(req->url ? req->url : "", url, sizeof url);
        cn_backend_set_error("%s%s%s %s: %s", req->what ? req->what : "", req->what ? ": " : "",
                             req->method ? req->method : (req->body || (req->flags & CN_REMOTE_UPLOAD) ? "PUT" : "GET"),
                             url, why);
}

int cn_remote_fail(const CnRemoteRequest *req, int err, const char *why) {
        set_error(req, "%s", why);
        return err;
}

static bool is_upload(const CnRemoteRequest *req) {
        return req->body || (req->flags & CN_REMOTE_UPLOAD);
}

static int attempt_setup(Transfer *t, struct curl_slist **ret_headers, char *errbuf) {
        CnRemote *r = t->r;
        CnRemoteRequest *req = t->req;
        CURL *h = t->h;
        char range[64];
        CURLcode c = CURLE_OK;

#define SET(opt, val) CN_CURL_SETOPT(c, h, opt, val)

        curl_easy_reset(h);
        SET(CURLOPT_URL, req->url);
        SET(CURLOPT_ERRORBUFFER, errbuf);
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_CONNECTTIMEOUT, (long) CN_REMOTE_CONNECT_TIMEOUT);
        SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
        SET(CURLOPT_LOW_SPEED_TIME, (long) CN_REMOTE_STALL_SECONDS);
        SET(CURLOPT_TCP_KEEPALIVE, 1L);
        SET(CURLOPT_SSL_VERIFYPEER, 1L);
        SET(CURLOPT_SSL_VERIFYHOST, 2L);
        SET(CURLOPT_PROXY_SSL_VERIFYPEER, 1L);
        SET(CURLOPT_PROXY_SSL_VERIFYHOST, 2L);
        if (r->ca_file)
                SET(CURLOPT_CAINFO, r->ca_file);
        SET(CURLOPT_FOLLOWLOCATION, 0L);
        SET(CURLOPT_PROTOCOLS_STR, r->cfg.protocols);
        SET(CURLOPT_REDIR_PROTOCOLS_STR, r->cfg.protocols);
        SET(CURLOPT_USERAGENT, "cairn/" CAIRN_VERSION);
        SET(CURLOPT_WRITEFUNCTION, write_cb);
        SET(CURLOPT_WRITEDATA, t);
        SET(CURLOPT_HEADERFUNCTION, header_cb);
        SET(CURLOPT_HEADERDATA, t);

        bool nobody = (req->flags & CN_REMOTE_NOBODY) || (req->method && strcmp(req->method, "HEAD") == 0);
        if (nobody)
                SET(CURLOPT_NOBODY, 1L);
        if (is_upload(req)) {
                t->upload_pos = 0;
                SET(CURLOPT_UPLOAD, 1L);
                SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t) req->body_len);
                SET(CURLOPT_READFUNCTION, read_cb);
                SET(CURLOPT_READDATA, t);
                SET(CURLOPT_SEEKFUNCTION, seek_cb);
                SET(CURLOPT_SEEKDATA, t);
        }
        if (r->http && req->method && strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0 &&
            !(strcmp(req->method, "PUT") == 0 && is_upload(req)))
                SET(CURLOPT_CUSTOMREQUEST, req->method);
        if (r->http && req->response && req->response->limit > 0)
                /* a declared Content-Length over the cap fails before any byte is held */
                SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) CN_MIN(req->response->limit, (size_t) INT64_MAX));
        if (req->range) {
                if (req->range_length == UINT64_MAX)
                        snprintf(range, sizeof range, "%" PRIu64 "-", req->range_offset);
                else
                        snprintf(range, sizeof range, "%" PRIu64 "-%" PRIu64, req->range_offset,
                                 req->range_offset + req->range_length - 1);
                SET(CURLOPT_RANGE, range);
        }
        if (r->http) {
                struct curl_slist *l = NULL;
                for (const struct curl_slist *s = req->headers; s; s = s->next) {
                        struct curl_slist *n = curl_slist_append(l, s->data);
                        if (!n) {
                                curl_slist_free_all(l);
                                return -ENOMEM;
                        }
                        l = n;
                }
                if (is_upload(req)) {
                        /* no 100-continue round trip: the body follows at once */
                        struct curl_slist *n = curl_slist_append(l, "Expect:");
                        if (!n) {
                                curl_slist_free_all(l);
                                return -ENOMEM;
                        }
                        l = n;
                }
                *ret_headers = l;
                SET(CURLOPT_HTTPHEADER, l);
        }
#undef SET
        if (c != CURLE_OK) {
                set_error(req, "libcurl refused an option: %s", curl_easy_strerror(c));
                return -EIO;
        }

        int e;
        if (r->cfg.setup && (e = r->cfg.setup(h, r->cfg.userdata)) < 0)
                return e;
        if (req->setup && (e = req->setup(h, req->setup_userdata)) < 0)
                return e;
        return 0;
}

static bool curl_code_transient(CURLcode c) {
        switch (c) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_PARTIAL_FILE:
        case CURLE_GOT_NOTHING:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_UPLOAD_FAILED:
                return true;
        default:
                return false;
        }
}

static bool status_transient(long s) {
        if (s == 408 || s == 429)
                return true;
        return s >= 500 && s <= 599 && s != 501 && s != 505 && s != 507;
}

static int status_errno(long s) {
        switch (s) {
        case 401:
        case 403:
                return -EACCES;
        case 404:
        case 410:
                return -ENOENT;
        case 412:
                return -EEXIST;
        case 416:
                return -ENODATA;
        case 507:
                return -ENOSPC;
        default:
                return -EIO;
        }
}

static const char *status_hint(long s) {
        switch (s) {
        case 401:
                return "authentication failed: check the user name and password or keys";
        case 403:
                return "permission denied: check the credentials and their permissions";
        case 404:
                return "not found";
        case 412:
                return "precondition failed (object exists)";
        case 416:
                return "range not satisfiable";
        case 429:
                return "too many requests";
        case 507:
                return "server storage full";
        default:
                if (s >= 300 && s < 400)
                        return "unexpected redirect (redirects are not followed)";
                return s >= 500 ? "server error" : "request refused";
        }
}

static int curl_code_errno(CURLcode c) {
        switch (c) {
        case CURLE_LOGIN_DENIED:
        case CURLE_REMOTE_ACCESS_DENIED:
                return -EACCES;
        case CURLE_REMOTE_FILE_NOT_FOUND:
                return -ENOENT;
        case CURLE_REMOTE_DISK_FULL:
                return -ENOSPC;
        case CURLE_REMOTE_FILE_EXISTS:
                return -EEXIST;
        case CURLE_RANGE_ERROR:
        case CURLE_BAD_DOWNLOAD_RESUME:
                return -ENODATA;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        default:
                return -EIO;
        }
}

/* Record why the attempt failed (for the final message) and say whether to retry. */
static bool judge(CnRemote *r, CnRemoteRequest *req, const char *errbuf, int *ret_err) {
        CnRemoteOutcome o = {.curl_code = req->curl_code, .status = req->status, .error_body = req->error_body};
        int cls = r->cfg.classify ? r->cfg.classify(&o, r->cfg.userdata) : CN_REMOTE_CLASS_DEFAULT;

        if (req->curl_code != CURLE_OK) {
                const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(req->curl_code);
                const char *hint = "";
                if (req->curl_code == CURLE_PEER_FAILED_VERIFICATION)
                        hint = " (TLS verification failed: for a private CA set CAIRN_CA_FILE to its certificate)";
                else if (req->curl_code == CURLE_SSL_CACERT_BADFILE)
                        hint = " (check the CA certificate file CAIRN_CA_FILE names)";
                else if (req->curl_code == CURLE_LOGIN_DENIED)
                        hint = " (check the credentials)";
                else if (req->curl_code == CURLE_SSL_CONNECT_ERROR && strstr(detail, "wrong version number")) {
                        /* OpenSSL's word for a peer that does not speak TLS: a
                         * wrong port or scheme, which no retry will fix */
                        set_error(req, "%s (the server does not speak TLS on this port)", detail);
                        *ret_err = -EIO;
                        return cls == CN_REMOTE_CLASS_RETRY;
                }
                set_error(req, "%s%s", detail, hint);
                *ret_err = curl_code_errno(req->curl_code);
                if (cls != CN_REMOTE_CLASS_DEFAULT)
                        return cls == CN_REMOTE_CLASS_RETRY;
                return curl_code_transient(req->curl_code);
        }
        set_error(req, "HTTP %ld, %s", req->status, status_hint(req->status));
        *ret_err = status_errno(req->status);
        if (cls != CN_REMOTE_CLASS_DEFAULT)
                return cls == CN_REMOTE_CLASS_RETRY;
        return status_transient(req->status);
}

void cn_remote_request_done(CnRemoteRequest *req) {
        if (req)
                free_header_values(req);
}

int cn_remote_request(CnRemote *r, CnRemoteRequest *req) {
        char errbuf[CURL_ERROR_SIZE];
        int err = -EIO;

        if (!r || !req || !req->url || (req->range && req->range_length == 0))
                return -EINVAL;
        if (req->want_headers) {
                size_t n = 0;
                while (req->want_headers[n])
                        n++;
                if (n > CN_REMOTE_HEADERS_MAX)
                        return -EINVAL;
        }
        free_header_values(req);
        req->status = 0;
        req->curl_code = CURLE_OK;
        req->content_length = -1;
        req->attempts = 0;

        CURL *h = handle_acquire(r);
        if (!h)
                return -ENOMEM;

        Transfer t = {.r = r, .req = req, .h = h};
        uint64_t start = now_ns();
        uint64_t budget = (uint64_t) cn_remote_retry_seconds() * NS_PER_SEC;
        bool keep = true;

        for (;;) {
                struct curl_slist *headers = NULL;
                int e;

                req->attempts++;
                errbuf[0] = 0;
                t.sink_error = 0;
                if (req->response)
                        cn_buf_reset(req->response);
                if (req->error_body)
                        cn_buf_reset(req->error_body);
                free_header_values(req);

                e = attempt_setup(&t, &headers, errbuf);
                if (e < 0) {
                        curl_slist_free_all(headers);
                        err = e;
                        keep = false;
                        break;
                }
                req->curl_code = curl_easy_perform(h);
                curl_slist_free_all(headers);
                req->status = 0;
                (void) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &req->status);
                curl_off_t cl = -1;
                if (curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK)
                        req->content_length = cl;

                if (req->curl_code == CURLE_FILESIZE_EXCEEDED && req->status >= 200 && req->status <= 299)
                        t.sink_error = req->range && req->status == 206 ? -EPROTO : -E2BIG;
                if (t.sink_error < 0) {
                        if (t.sink_error == -E2BIG)
                                set_error(req, "response larger than %zu bytes", req->response->limit);
                        else if (t.sink_error == -EPROTO)
                                set_error(req, "the server sent more than the %" PRIu64 " bytes asked for",
                                          req->range_length);
                        else
                                set_error(req, "out of memory for the response");
                        err = t.sink_error;
                        break;
                }
                if (req->curl_code == CURLE_OK && (!r->http || (req->status >= 200 && req->status <= 299))) {
                        err = 0;
                        break;
                }
                if (!judge(r, req, errbuf, &err))
                        break;

                uint64_t delay = cn_remote_backoff_ms(req->attempts, CN_REMOTE_BACKOFF_BASE_MS,
                                                      CN_REMOTE_BACKOFF_CAP_MS, random_u64()) *
                                 UINT64_C(1000000);
                uint64_t spent = now_ns() - start;
                if ((req->flags & CN_REMOTE_NO_RETRY) || spent + delay > budget) {
                        /* keep the last attempt's detail, say that we gave up */
                        char last[200];
                        snprintf(last, sizeof last, "%s", cn_backend_last_error());
                        cn_backend_set_error("%s (gave up after %u attempt%s in %" PRIu64 " s)", last, req->attempts,
                                             req->attempts == 1 ? "" : "s", spent / NS_PER_SEC);
                        err = -EAGAIN;
                        /* a handle that saw a transport failure gets a fresh start */
                        keep = req->curl_code == CURLE_OK;
                        break;
                }
                sleep_ns(delay);
        }
        if (req->response && err < 0)
                cn_buf_reset(req->response);
        /* drop the pointers to this frame (error buffer, callbacks' data);
         * live connections survive a reset */
        curl_easy_reset(h);
        handle_release(r, h, keep);
        return err;
}
