/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What every libcurl backend (webdav, s3, gcs, sftp) shares: process-wide
 * transfer settings, a per-instance pool of easy handles, one request call
 * with retries, and the one place that maps transport errors and final
 * statuses to backend.h's errno values.
 *
 * Threads: every function here may be called from many threads at once,
 * except cn_remote_set_*(), which agent/ calls before opening any backend.
 *
 * Secrets: nothing here ever puts a header value, a password, a key or a
 * query string into an error message. Backends pass credentials only through
 * their setup hooks (CURLOPT_USERNAME/PASSWORD, CURLOPT_SSH_*, signed
 * headers), never in a URL. */
#pragma once

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* ---- process-wide settings --------------------------------------------- */

/* Transfers in flight per backend instance unless set (--connections N). */
#define CN_REMOTE_CONNECTIONS_DEFAULT 4u
#define CN_REMOTE_CONNECTIONS_MAX 64u
/* Total time one request may spend retrying (seconds) unless set. The
 * environment variable CAIRN_RETRY_SECONDS, when set to a number, replaces
 * this default (tests use it to make fault runs quick). */
#define CN_REMOTE_RETRY_SECONDS_DEFAULT 120u
/* A connection attempt fails after this long (seconds). */
#define CN_REMOTE_CONNECT_TIMEOUT 30u
/* A transfer that moves less than 1 byte/s for this long is a stall (seconds). */
#define CN_REMOTE_STALL_SECONDS 60u
/* Backoff between attempts: full jitter over [0, min(CAP, BASE * 2^attempt)]. */
#define CN_REMOTE_BACKOFF_BASE_MS 250u
#define CN_REMOTE_BACKOFF_CAP_MS 8000u

/* Take effect for backends opened afterwards (connections) or for transfers
 * started afterwards (the others). -EINVAL for 0 or > CN_REMOTE_CONNECTIONS_MAX. */
int cn_remote_set_connections(unsigned n);
unsigned cn_remote_connections(void);
/* Bytes per second over all uploads of the process together; 0: no limit. */
void cn_remote_set_upload_limit(uint64_t bytes_per_second);
uint64_t cn_remote_upload_limit(void);
/* Retry budget per request, seconds; 0: a single attempt. */
void cn_remote_set_retry_seconds(unsigned seconds);
unsigned cn_remote_retry_seconds(void);

/* For a run of curl_easy_setopt() calls on handle h: CURLcode c keeps the
 * first failure and the calls after it are skipped. */
#define CN_CURL_SETOPT(c, h, opt, val)                                                                                 \
        do {                                                                                                           \
                if ((c) == CURLE_OK)                                                                                   \
                        (c) = curl_easy_setopt((h), (opt), (val));                                                     \
        } while (0)

/* ---- per-backend instance ---------------------------------------------- */

typedef struct CnRemote CnRemote;

/* How one attempt ended, for a classifier. */
typedef struct CnRemoteOutcome {
        CURLcode curl_code;      /* CURLE_OK if the server answered */
        long status;             /* HTTP status (or the protocol's code); 0 if none */
        const CnBuf *error_body; /* non-2xx body, possibly truncated; may be NULL */
} CnRemoteOutcome;

enum {
        CN_REMOTE_CLASS_DEFAULT = 0, /* let remote.c decide */
        CN_REMOTE_CLASS_RETRY,       /* transient: retry within the budget */
        CN_REMOTE_CLASS_FINAL,       /* cannot succeed: no retry */
};

/* Applied to the handle on every attempt after remote.c's defaults and the
 * request's own options, right before the transfer: credentials, SigV4,
 * SSH keys, quote commands... Return 0 or a negative errno (aborts the
 * request without retry). The handle is reset between attempts, so a hook
 * sets everything it needs each time. */
typedef int (*CnRemoteSetupFn)(CURL *h, void *userdata);
/* Says whether an attempt that did not succeed is worth another try
 * (e.g. S3's 400 RequestTimeout, or SlowDown in a 200-less answer). */
typedef int (*CnRemoteClassifyFn)(const CnRemoteOutcome *o, void *userdata);

typedef struct CnRemoteConfig {
        /* CURLOPT_PROTOCOLS_STR: "https", "http", "sftp"... Also decides
         * whether HTTP header handling applies (any "http" in it). */
        const char *protocols;
        CnRemoteSetupFn setup;       /* optional, for every request */
        CnRemoteClassifyFn classify; /* optional */
        void *userdata;              /* for both; borrowed, must outlive the CnRemote */
} CnRemoteConfig;

/* A pool of at most cn_remote_connections() (at the time of the call) easy
 * handles in use at once; idle handles are kept, so connections stay alive.
 * Calls curl_global_init() once per process. cfg is copied (its strings are
 * not: protocols must be a literal or outlive the pool). */
int cn_remote_new(const CnRemoteConfig *cfg, CnRemote **ret);
CnRemote *cn_remote_free(CnRemote *r); /* NULL-tolerant; returns NULL; no request may be running */
static inline void cn_remote_freep(CnRemote **r) {
        cn_remote_free(*r);
}

/* ---- requests ------------------------------------------------------------ */

enum {
        /* Send body/body_len as the request body even when body_len is 0
         * (implied by a non-NULL body). HTTP: PUT, or `method` with a body. */
        CN_REMOTE_UPLOAD = 1u << 0,
        /* No response body (HEAD, or an SFTP quote-only request). Implied by method "HEAD". */
        CN_REMOTE_NOBODY = 1u << 1,
        /* Single attempt whatever the outcome (a non-idempotent request). */
        CN_REMOTE_NO_RETRY = 1u << 2,
};

#define CN_REMOTE_HEADERS_MAX 8

typedef struct CnRemoteRequest {
        /* -- in -- */
        const char *method;               /* HTTP: "GET", "PUT", "HEAD", "DELETE", "MKCOL"...; NULL: GET (or PUT
                                           * with a body). Ignored for non-HTTP protocols. */
        const char *url;                  /* full, percent-encoded; never holds a secret (it goes into messages,
                                           * minus any query string) */
        const struct curl_slist *headers; /* extra request headers; borrowed */
        const void *body;                 /* upload source, read through the shared rate limiter; borrowed */
        size_t body_len;
        unsigned flags; /* CN_REMOTE_* */
        bool range;     /* ask for bytes [range_offset, range_offset + range_length) */
        uint64_t range_offset;
        uint64_t range_length; /* CN_GET_ALL (UINT64_MAX): to the end; 0 is not allowed */
        CnBuf *response;       /* 2xx body (its limit holds: more, or a declared Content-Length
                                * over it, is -E2BIG before the surplus is held, never a
                                * truncation; a 206 longer than the range is -EPROTO);
                                * NULL: discarded. Reset at each attempt. */
        CnBuf *error_body;     /* non-2xx body, truncated at its limit; NULL: discarded */
        /* Response headers to capture (case-insensitive names, NULL-terminated,
         * at most CN_REMOTE_HEADERS_MAX); values land in header_values[i]
         * (malloc'd, NULL if absent; of the final response). Free them with
         * cn_remote_request_done(). */
        const char *const *want_headers;
        CnRemoteSetupFn setup; /* optional per-request hook, after the instance's */
        void *setup_userdata;
        const char *what; /* optional context for messages ("put data/ab/..."), no secrets */

        /* -- out (valid after cn_remote_request(), whatever it returned) -- */
        long status;            /* final HTTP status / protocol code, 0 if none */
        CURLcode curl_code;     /* final transport result */
        int64_t content_length; /* CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, -1 if unknown */
        unsigned attempts;
        char *header_values[CN_REMOTE_HEADERS_MAX];
} CnRemoteRequest;

/* Perform req on a pooled handle (waits while `connections` are busy),
 * retrying with exponential backoff and full jitter on transport failures
 * (refused or reset connections, timeouts, partial transfers), on HTTP 5xx
 * (but 501, 505, 507), 408 and 429, and on whatever the classifier calls
 * transient, until the retry budget runs out.
 *
 * Returns 0 on success (HTTP 2xx, or CURLE_OK for other protocols).
 * Otherwise a negative errno, and cn_backend_set_error() holds the detail:
 *   -EACCES  401, 403; login or access denied
 *   -ENOENT  404, 410; remote file not found
 *   -EEXIST  412 (a precondition such as If-None-Match or Overwrite: F)
 *   -ENODATA 416 (range not satisfiable)
 *   -ENOSPC  507; remote disk full
 *   -E2BIG   the response body exceeded req->response's limit
 *   -EPROTO  a 206 answer longer than the range asked for (never retried)
 *   -EAGAIN  retries ran out (budget spent on transient failures)
 *   -EIO     anything else (other 4xx, 3xx, TLS verification failure, ...)
 * req->status / req->curl_code let the caller remap (e.g. WebDAV 409). */
int cn_remote_request(CnRemote *r, CnRemoteRequest *req);
/* Frees header_values; leaves the request reusable. NULL-tolerant. */
void cn_remote_request_done(CnRemoteRequest *req);

/* Record a failure of req as cn_remote_request() would: "<what>: <METHOD>
 * <url without query>: <why>". For backends that find a reply malformed
 * after the fact. Returns err. */
int cn_remote_fail(const CnRemoteRequest *req, int err, const char *why);

/* ---- helpers --------------------------------------------------------------- */

/* Percent-encode s per RFC 3986: unreserved characters (A-Z a-z 0-9 - . _ ~)
 * stay, '/' stays when keep_slash, every other byte becomes %XX (uppercase
 * hex). Appends to out (no NUL). */
int cn_remote_encode(CnBuf *out, const char *s, bool keep_slash);
/* The same into a new NUL-terminated string the caller frees. */
int cn_remote_encode_dup(const char *s, bool keep_slash, char **ret);
/* Decode %XX escapes of s[0..n) into a new NUL-terminated string; -EPROTO on
 * a malformed escape or an encoded NUL. */
int cn_remote_decode_dup(const char *s, size_t n, char **ret);

/* The backoff before attempt number `attempt` (1 = the first retry): a
 * uniform draw from [0, min(cap_ms, base_ms * 2^(attempt-1))], made from rnd. */
uint64_t cn_remote_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t cap_ms, uint64_t rnd);

/* A token bucket: `rate` tokens (bytes) per second, holding at most `burst`.
 * Exposed for tests; the process-wide upload limiter is one of these. */
typedef struct CnTokenBucket {
        uint64_t rate; /* bytes per second; 0: unlimited */
        uint64_t burst;
        uint64_t tokens;
        uint64_t last_ns; /* time of the last refill */
        uint64_t frac;    /* sub-token remainder (rate * ns units) */
} CnTokenBucket;
void cn_token_bucket_init(CnTokenBucket *tb, uint64_t rate, uint64_t burst, uint64_t now_ns);
/* Take up to want tokens at now_ns: returns how many were granted (0 if
 * none are available, then *ret_wait_ns says how long until `min(want,
 * burst)` are). Never grants more than want. */
uint64_t cn_token_bucket_take(CnTokenBucket *tb, uint64_t now_ns, uint64_t want, uint64_t *ret_wait_ns);
