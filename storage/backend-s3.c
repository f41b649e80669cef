/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The S3 backend, and Cloud Storage through its S3-compatible XML API:
 * "s3://bucket/prefix" and "gs://bucket/prefix".
 *
 * An object name maps to the key prefix + name. Every request goes through
 * storage/remote.c (pooled handles, retries with backoff and jitter,
 * timeouts, the shared upload limit) and is signed by libcurl's SigV4
 * (CURLOPT_AWS_SIGV4). libcurl 7.88 signs the request as written, so this
 * file writes it canonically: each key segment percent-encoded, the query
 * sorted and encoded (cn_s3_query_build()), and x-amz-content-sha256 set to
 * the body's hex SHA-256 (the empty string's for bodiless requests).
 *
 * Operations:
 *   put     one PUT up to CN_S3_MULTIPART_THRESHOLD; above, a multipart
 *           upload of CN_S3_PART_BYTES parts sent one at a time from the
 *           caller's buffer (no copy), completed with their ETags, aborted
 *           on failure. CN_PUT_EXCLUSIVE sends If-None-Match: * (S3) or
 *           x-goog-if-generation-match: 0 (Cloud Storage, which takes no
 *           precondition on multipart uploads: one PUT of any size there):
 *           the server refuses with 412 if the key exists. Servers that answer 501 to
 *           that, or ignore it (found by a probe at open for custom
 *           endpoints), get a HEAD then a PUT instead, and the instance does
 *           not claim CN_BACKEND_CAP_EXCLUSIVE_PUT.
 *   get     GET with a Range; HEAD settles the edge cases (empty ranges,
 *           a range past the end, a range over the buffer's cap).
 *   stat    HEAD.
 *   list    ListObjectsV2 pages (continuation tokens), or v1 (markers) for
 *           servers that answer a v2 request in v1's shape; parsed by
 *           s3-proto.c with libxml2. Keys that are no valid object name
 *           (".tmp-*" probes, foreign objects) are not reported.
 *   remove  HEAD (S3 answers 204 to deleting an absent key) then DELETE.
 *
 * open checks with one cheap listing request that the bucket exists and
 * the credentials work, so a wrong secret fails at once with one message. */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "backend.h"
#include "fileio.h"
#include "hex.h"
#include "macro.h"
#include "remote.h"
#include "s3-proto.h"

#define CN_S3_MULTIPART_THRESHOLD (8u << 20)
#define CN_S3_PART_BYTES (8u << 20)
#define CN_S3_PARTS_MAX 10000u
#define ERROR_BODY_MAX (64u << 10)
#define SMALL_RESPONSE_MAX (1u << 20)
#define URL_MAX 4096

/* SHA-256 of nothing: the payload hash of GET, HEAD and DELETE. */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef enum Flavor {
        FLAVOR_S3,
        FLAVOR_GCS,
} Flavor;

typedef struct CnBackendS3 {
        CnBackend base;
        Flavor flavor;
        CnRemote *remote;
        char *bucket;
        char *prefix;   /* "" or "a/b/": prepended to every name */
        char *base_url; /* up to the key: ".../bucket" (path style) or "...//bucket.host" */
        char *sigv4;    /* "aws:amz:REGION:s3" */
        char *shown;    /* "s3://bucket" for messages */
        CnS3Creds creds;
        char *token_header;   /* "x-amz-security-token: ..." or NULL */
        atomic_bool cond_put; /* the server honours conditional PUTs */
        atomic_bool list_v1;  /* the server answers v2 listings as v1 */
} CnBackendS3;

static CnBackendS3 *S3(CnBackend *b) {
        return (CnBackendS3 *) b;
}

static const char *flavor_scheme(Flavor f) {
        return f == FLAVOR_GCS ? "gs" : "s3";
}

/* ---- requests ----------------------------------------------------------- */

static int sign_setup(CURL *h, void *userdata) {
        CnBackendS3 *s = userdata;
        if (curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_USERNAME, s->creds.key_id) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_PASSWORD, s->creds.secret) != CURLE_OK)
                return -EIO;
        return 0;
}

/* S3's transient errors that do not come as 5xx. */
static int classify(const CnRemoteOutcome *o, void *userdata) {
        char code[64], msg[8];

        if (o->curl_code != CURLE_OK || !o->error_body || o->error_body->len == 0)
                return CN_REMOTE_CLASS_DEFAULT;
        if (cn_s3_error_parse(o->error_body->data, o->error_body->len, code, sizeof code, msg, sizeof msg) < 0)
                return CN_REMOTE_CLASS_DEFAULT;
        if (strcmp(code, "SlowDown") == 0 || strcmp(code, "RequestTimeout") == 0 ||
            strcmp(code, "InternalError") == 0 || strcmp(code, "ServiceUnavailable") == 0 ||
            strcmp(code, "OperationAborted") == 0)
                return CN_REMOTE_CLASS_RETRY;
        return CN_REMOTE_CLASS_DEFAULT;
}

/* The URL of key (prefix + name, or "" for the bucket itself) with query. */
static int make_url(CnBackendS3 *s, const char *name, const CnS3Param *params, size_t n_params, char **ret) {
        _cleanup_free_ char *query = NULL;
        CnBuf u = CN_BUF_INIT(URL_MAX);
        int r;

        if (n_params > 0 && (r = cn_s3_query_build(params, n_params, &query)) < 0)
                return r;
        if ((r = cn_buf_append(&u, s->base_url, strlen(s->base_url))) < 0 || (r = cn_buf_append(&u, "/", 1)) < 0)
                goto fail;
        if (name) {
                if ((r = cn_remote_encode(&u, s->prefix, true)) < 0 || (r = cn_remote_encode(&u, name, true)) < 0)
                        goto fail;
        }
        if (query && ((r = cn_buf_append(&u, "?", 1)) < 0 || (r = cn_buf_append(&u, query, strlen(query))) < 0))
                goto fail;
        if ((r = cn_buf_append(&u, "", 1)) < 0)
                goto fail;
        *ret = (char *) u.data;
        return 0;
fail:
        cn_buf_done(&u);
        return r;
}

typedef struct Headers {
        struct curl_slist *l;
        int err;
} Headers;

static void headers_add(Headers *h, const char *line) {
        if (h->err < 0)
                return;
        struct curl_slist *n = curl_slist_append(h->l, line);
        if (!n) {
                h->err = -ENOMEM;
                return;
        }
        h->l = n;
}

static void headers_done(Headers *h) {
        curl_slist_free_all(h->l);
        h->l = NULL;
}

/* The headers every request carries: the payload hash (hex SHA-256 of
 * body, or of nothing) and the session token. */
static void headers_init(CnBackendS3 *s, Headers *h, const void *body, size_t n) {
        char line[128], hex[CN_S3_SHA256_HEX_BYTES];

        *h = (Headers){};
        if (body)
                cn_s3_sha256_hex(body, n, hex);
        snprintf(line, sizeof line, "x-amz-content-sha256: %s", body ? hex : EMPTY_SHA256);
        headers_add(h, line);
        if (s->token_header)
                headers_add(h, s->token_header);
}

/* After a failed request: turn S3's error document into backend.h's
 * meaning and a message that says what to do. r is what
 * cn_remote_request() returned. */
static int map_error(CnBackendS3 *s, const CnRemoteRequest *req, const CnBuf *error_body, int r) {
        char code[64] = "", msg[256] = "", why[512];

        if (r == -EAGAIN || req->curl_code != CURLE_OK || req->status == 0)
                return r;
        if (error_body && error_body->len > 0)
                (void) cn_s3_error_parse(error_body->data, error_body->len, code, sizeof code, msg, sizeof msg);

        if (strcmp(code, "NoSuchBucket") == 0) {
                cn_backend_set_error("%s: bucket \"%s\" does not exist (create it first, or check the URL and the "
                                     "endpoint)",
                                     s->shown, s->bucket);
                return -ENOENT;
        }
        if (strcmp(code, "InvalidAccessKeyId") == 0 || strcmp(code, "SignatureDoesNotMatch") == 0 ||
            strcmp(code, "AuthorizationHeaderMalformed") == 0 || strcmp(code, "InvalidToken") == 0 ||
            strcmp(code, "ExpiredToken") == 0 || strcmp(code, "AccessDenied") == 0 ||
            (req->status == 403 && !code[0]) || req->status == 401) {
                const char *hint =
                        strcmp(code, "AccessDenied") == 0
                                ? "the key lacks permission for this bucket, or the secret or key id is wrong"
                                : "wrong secret or key id";
                if (strcmp(code, "ExpiredToken") == 0 || strcmp(code, "InvalidToken") == 0)
                        hint = "the session token is expired or invalid";
                else if (strcmp(code, "AuthorizationHeaderMalformed") == 0)
                        hint = "wrong region for this bucket, or wrong key id";
                snprintf(why, sizeof why, "access denied (HTTP %ld%s%s): %s", req->status, code[0] ? " " : "", code,
                         hint);
                return cn_remote_fail(req, -EACCES, why);
        }
        if (req->status == 412 || strcmp(code, "PreconditionFailed") == 0)
                return -EEXIST;
        if (req->status == 416 || strcmp(code, "InvalidRange") == 0)
                return -ENODATA;
        if (req->status == 404 || strcmp(code, "NoSuchKey") == 0)
                return -ENOENT;
        if (code[0]) {
                snprintf(why, sizeof why, "HTTP %ld %s: %s", req->status, code, msg);
                return cn_remote_fail(req, r < 0 ? r : -EIO, why);
        }
        return r < 0 ? r : -EIO;
}

typedef struct Call {
        const char *method;
        const char *name; /* NULL: the bucket */
        const CnS3Param *params;
        size_t n_params;
        const void *body; /* NULL: none */
        size_t body_len;
        const char *extra_header; /* one more header line, or NULL */
        CnBuf *response;
        const char *const *want_headers;
        bool range;
        uint64_t range_offset, range_length;
        unsigned flags;
        const char *what;
        /* out */
        long status;
        int64_t content_length;
        char *header_values[CN_REMOTE_HEADERS_MAX];
} Call;

static void call_done(Call *c) {
        for (size_t i = 0; i < CN_REMOTE_HEADERS_MAX; i++) {
                free(c->header_values[i]);
                c->header_values[i] = NULL;
        }
}

/* libcurl 7.88's SigV4 signs every CURLOPT_HTTPHEADER entry, even the
 * "Expect:" that remote.c adds to suppress 100-continue, and then sends no
 * such header: the server computes another signature. So S3 requests set
 * their own header list last, and let curl send Expect: 100-continue (not
 * signed, which SigV4 allows) for large bodies. */
static int own_headers_setup(CURL *h, void *userdata) {
        return curl_easy_setopt(h, CURLOPT_HTTPHEADER, (struct curl_slist *) userdata) == CURLE_OK ? 0 : -EIO;
}

/* One request, retried by remote.c; errors mapped by map_error(). */
static int call(CnBackendS3 *s, Call *c) {
        _cleanup_free_ char *url = NULL;
        _cleanup_(cn_buf_donep) CnBuf err_body = CN_BUF_INIT(ERROR_BODY_MAX);
        Headers h;
        int r;

        r = make_url(s, c->name, c->params, c->n_params, &url);
        if (r < 0)
                return r;
        headers_init(s, &h, c->body ? c->body : (c->flags & CN_REMOTE_UPLOAD ? "" : NULL), c->body_len);
        if (c->extra_header)
                headers_add(&h, c->extra_header);
        if (h.err < 0) {
                headers_done(&h);
                return h.err;
        }

        CnRemoteRequest req = {
                .method = c->method,
                .url = url,
                .headers = h.l,
                .body = c->body,
                .body_len = c->body_len,
                .flags = c->flags,
                .range = c->range,
                .range_offset = c->range_offset,
                .range_length = c->range_length,
                .response = c->response,
                .error_body = &err_body,
                .want_headers = c->want_headers,
                .setup = own_headers_setup,
                .setup_userdata = h.l,
                .what = c->what,
        };
        r = cn_remote_request(s->remote, &req);
        headers_done(&h);
        c->status = req.status;
        c->content_length = req.content_length;
        for (size_t i = 0; i < CN_REMOTE_HEADERS_MAX; i++) {
                c->header_values[i] = req.header_values[i];
                req.header_values[i] = NULL;
        }
        cn_remote_request_done(&req);
        if (r < 0)
                return map_error(s, &req, &err_body, r);
        return 0;
}

/* ---- stat, get ------------------------------------------------------------ */

static int s3_stat(CnBackend *b, const char *name, uint64_t *ret_size) {
        CnBackendS3 *s = S3(b);
        char what[64 + CN_BACKEND_NAME_MAX];
        int r;

        snprintf(what, sizeof what, "stat %s", name);
        Call c = {.method = "HEAD", .name = name, .what = what};
        r = call(s, &c);
        call_done(&c);
        if (r < 0)
                return r;
        if (c.content_length < 0) {
                cn_backend_set_error("%s: stat %s: the server sent no Content-Length", s->shown, name);
                return -EPROTO;
        }
        *ret_size = (uint64_t) c.content_length;
        return 0;
}

/* What get owes when the answer depends on the object's size: absent
 * (-ENOENT), past the end (-ENODATA), over out's cap (-E2BIG), or an empty
 * range at the end (0). */
static int get_by_size(CnBackend *b, const char *name, uint64_t offset, uint64_t length, CnBuf *out) {
        uint64_t size;
        int r = s3_stat(b, name, &size);
        if (r < 0)
                return r;
        if (offset > size)
                return -ENODATA;
        if (length == CN_GET_ALL)
                length = size - offset;
        if (length > size - offset)
                return -ENODATA;
        if (length > out->limit)
                return -E2BIG;
        if (length == 0)
                return 0;
        return -EAGAIN; /* the object changed under us: say so as a transient failure */
}

static int s3_get(CnBackend *b, const char *name, uint64_t offset, uint64_t length, CnBuf *out) {
        CnBackendS3 *s = S3(b);
        char what[64 + CN_BACKEND_NAME_MAX];
        int r;

        cn_buf_reset(out);
        if (length == 0 || (length != CN_GET_ALL && (offset > UINT64_MAX - length || length > out->limit)))
                return get_by_size(b, name, offset, length, out);

        snprintf(what, sizeof what, "get %s", name);
        Call c = {
                .method = "GET",
                .name = name,
                .response = out,
                .range = offset > 0 || length != CN_GET_ALL,
                .range_offset = offset,
                .range_length = length,
                .what = what,
        };
        r = call(s, &c);
        call_done(&c);
        if (r == -ENODATA) {
                /* 416: past the end, unless the range starts right at it */
                cn_buf_reset(out);
                return get_by_size(b, name, offset, length, out);
        }
        if (r < 0) {
                cn_buf_reset(out);
                return r;
        }
        if (c.range && c.status == 200) {
                /* the server ignored the range and sent it all: cut it out */
                if (offset > out->len || (length != CN_GET_ALL && length > out->len - offset)) {
                        cn_buf_reset(out);
                        return -ENODATA;
                }
                size_t k = length == CN_GET_ALL ? out->len - (size_t) offset : (size_t) length;
                memmove(out->data, out->data + offset, k);
                out->len = k;
        }
        if (length != CN_GET_ALL && out->len != length) {
                /* a range that runs past the end comes back short */
                cn_buf_reset(out);
                return -ENODATA;
        }
        return 0;
}

/* ---- put ------------------------------------------------------------------- */

static const char *exclusive_header(CnBackendS3 *s) {
        return s->flavor == FLAVOR_GCS ? "x-goog-if-generation-match: 0" : "If-None-Match: *";
}

static int put_single(CnBackendS3 *s, const char *name, const void *p, size_t n, bool conditional) {
        char what[64 + CN_BACKEND_NAME_MAX];

        snprintf(what, sizeof what, "put %s", name);
        Call c = {
                .method = "PUT",
                .name = name,
                .body = p,
                .body_len = n,
                .flags = CN_REMOTE_UPLOAD,
                .extra_header = conditional ? exclusive_header(s) : NULL,
                .what = what,
        };
        int r = call(s, &c);
        call_done(&c);
        if (r < 0 && conditional && c.status == 501)
                return -EOPNOTSUPP;
        return r;
}

static void abort_upload(CnBackendS3 *s, const char *name, const char *upload_id) {
        const CnS3Param q[] = {{"uploadId", upload_id}};
        char saved[256];

        /* keep the message of the failure that made us abort */
        snprintf(saved, sizeof saved, "%s", cn_backend_last_error());
        Call c = {.method = "DELETE", .name = name, .params = q, .n_params = 1, .what = "abort multipart upload"};
        (void) call(s, &c);
        call_done(&c);
        cn_backend_set_error("%s", saved);
}

static void free_etags(char **etags, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(etags[i]);
        free(etags);
}

static int put_multipart(CnBackendS3 *s, const char *name, const void *p, size_t n, bool conditional) {
        static const char *const want_etag[] = {"ETag", NULL};
        _cleanup_(cn_buf_donep) CnBuf resp = CN_BUF_INIT(SMALL_RESPONSE_MAX);
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(SMALL_RESPONSE_MAX);
        _cleanup_free_ char *upload_id = NULL;
        char what[96 + CN_BACKEND_NAME_MAX], num[24];
        size_t parts = (n + CN_S3_PART_BYTES - 1) / CN_S3_PART_BYTES, done = 0;
        char **etags = NULL;
        int r;

        if (parts > CN_S3_PARTS_MAX)
                return -E2BIG;
        snprintf(what, sizeof what, "start multipart upload of %s", name);
        const CnS3Param init_q[] = {{"uploads", NULL}};
        Call ci = {.method = "POST",
                   .name = name,
                   .params = init_q,
                   .n_params = 1,
                   .body = "",
                   .body_len = 0,
                   .flags = CN_REMOTE_UPLOAD,
                   .response = &resp,
                   .what = what};
        r = call(s, &ci);
        call_done(&ci);
        if (r < 0)
                return r;
        r = cn_s3_initiate_parse(resp.data, resp.len, &upload_id);
        if (r < 0) {
                cn_backend_set_error("%s: %s: malformed InitiateMultipartUploadResult", s->shown, what);
                return r == -ENOMEM ? r : -EPROTO;
        }

        etags = calloc(parts, sizeof *etags);
        if (!etags) {
                r = -ENOMEM;
                goto abort;
        }
        for (; done < parts; done++) {
                size_t off = done * (size_t) CN_S3_PART_BYTES, len = CN_MIN((size_t) CN_S3_PART_BYTES, n - off);
                snprintf(num, sizeof num, "%zu", done + 1);
                snprintf(what, sizeof what, "put part %zu/%zu of %s", done + 1, parts, name);
                const CnS3Param part_q[] = {{"partNumber", num}, {"uploadId", upload_id}};
                Call cp = {.method = "PUT",
                           .name = name,
                           .params = part_q,
                           .n_params = 2,
                           .body = (const uint8_t *) p + off,
                           .body_len = len,
                           .flags = CN_REMOTE_UPLOAD,
                           .want_headers = want_etag,
                           .what = what};
                r = call(s, &cp);
                etags[done] = TAKE_PTR(cp.header_values[0]);
                call_done(&cp);
                if (r < 0)
                        goto abort;
                if (!etags[done] || !*etags[done]) {
                        cn_backend_set_error("%s: %s: the server sent no ETag", s->shown, what);
                        r = -EPROTO;
                        goto abort;
                }
        }

        r = cn_s3_complete_body(etags, parts, &body);
        if (r < 0)
                goto abort;
        snprintf(what, sizeof what, "complete multipart upload of %s", name);
        const CnS3Param done_q[] = {{"uploadId", upload_id}};
        Call cc = {.method = "POST",
                   .name = name,
                   .params = done_q,
                   .n_params = 1,
                   .body = body.data,
                   .body_len = body.len,
                   .flags = CN_REMOTE_UPLOAD,
                   .response = &resp,
                   .extra_header = conditional ? exclusive_header(s) : NULL,
                   .what = what};
        r = call(s, &cc);
        call_done(&cc);
        if (r == -ENOENT) {
                /* NoSuchUpload: a retried completion whose first try went
                 * through (its answer lost) finds the upload gone */
                uint64_t size;
                if (s3_stat(&s->base, name, &size) >= 0 && size == n) {
                        free_etags(etags, parts);
                        return 0;
                }
                r = -EIO;
        }
        if (r < 0)
                goto abort;
        /* S3 may answer 200 and put the failure in the body */
        char code[64], msg[200];
        if (cn_s3_error_parse(resp.data, resp.len, code, sizeof code, msg, sizeof msg) >= 0) {
                cn_backend_set_error("%s: %s: %s: %s", s->shown, what, code, msg);
                r = strcmp(code, "PreconditionFailed") == 0 ? -EEXIST : -EAGAIN;
                goto abort;
        }
        free_etags(etags, parts);
        return 0;

abort:
        abort_upload(s, name, upload_id);
        free_etags(etags, parts);
        return r;
}

static int put_any(CnBackendS3 *s, const char *name, const void *p, size_t n, bool conditional) {
        /* Cloud Storage takes no preconditions on multipart uploads, and a
         * single PUT of up to 5 TiB: a conditional put is one PUT there. */
        if (n > CN_S3_MULTIPART_THRESHOLD && !(conditional && s->flavor == FLAVOR_GCS))
                return put_multipart(s, name, p, n, conditional);
        return put_single(s, name, p, n, conditional);
}

static int s3_put(CnBackend *b, const char *name, const void *p, size_t n, unsigned flags) {
        CnBackendS3 *s = S3(b);
        uint64_t size;
        int r;

        if (!(flags & CN_PUT_EXCLUSIVE))
                return put_any(s, name, p, n, false);

        if (atomic_load(&s->cond_put)) {
                if (n > CN_S3_MULTIPART_THRESHOLD) {
                        /* skip the upload when the object is there already */
                        r = s3_stat(b, name, &size);
                        if (r >= 0)
                                return -EEXIST;
                        if (r != -ENOENT)
                                return r;
                }
                r = put_any(s, name, p, n, true);
                if (r != -EOPNOTSUPP)
                        return r;
                /* 501: this server cannot do conditional PUTs after all */
                atomic_store(&s->cond_put, false);
                __atomic_fetch_or(&b->caps_missing, CN_BACKEND_CAP_EXCLUSIVE_PUT, __ATOMIC_RELAXED);
        }
        /* Not atomic: two writers may both find the name free. The
         * repository only puts content-addressed or random names this way. */
        r = s3_stat(b, name, &size);
        if (r >= 0)
                return -EEXIST;
        if (r != -ENOENT)
                return r;
        return put_any(s, name, p, n, false);
}

/* ---- list, remove ---------------------------------------------------------- */

static int s3_list(CnBackend *b, const char *prefix, CnBackendListFn fn, void *userdata) {
        CnBackendS3 *s = S3(b);
        _cleanup_(cn_buf_donep) CnBuf resp = CN_BUF_INIT(CN_S3_XML_MAX);
        _cleanup_free_ char *full = NULL, *next = NULL;
        size_t plen = strlen(s->prefix);
        char what[64 + CN_BACKEND_NAME_MAX];
        int r;

        if (asprintf(&full, "%s%s", s->prefix, prefix) < 0)
                return -ENOMEM;
        snprintf(what, sizeof what, "list %s", prefix[0] ? prefix : "(all)");
        for (unsigned page = 0;; page++) {
                bool v1 = atomic_load(&s->list_v1);
                CnS3Param q[3];
                size_t nq = 0;
                if (!v1)
                        q[nq++] = (CnS3Param){"list-type", "2"};
                q[nq++] = (CnS3Param){"prefix", full};
                if (next)
                        q[nq++] = (CnS3Param){v1 ? "marker" : "continuation-token", next};

                Call c = {.method = "GET", .name = NULL, .params = q, .n_params = nq, .response = &resp, .what = what};
                r = call(s, &c);
                call_done(&c);
                if (r < 0)
                        return r;

                _cleanup_(cn_s3_list_page_done) CnS3ListPage p = {};
                r = cn_s3_list_parse(resp.data, resp.len, &p);
                if (r < 0) {
                        cn_backend_set_error("%s: %s: malformed listing from the server", s->shown, what);
                        return r == -ENOMEM ? r : -EPROTO;
                }
                if (!v1 && !p.v2) {
                        /* a v1 server ignored list-type=2: go on with markers */
                        atomic_store(&s->list_v1, true);
                        v1 = true;
                }
                for (size_t i = 0; i < p.n; i++) {
                        const char *key = p.entries[i].key;
                        if (strncmp(key, full, strlen(full)) != 0)
                                continue;
                        if (!cn_backend_name_valid(key + plen))
                                continue;
                        r = fn(key + plen, p.entries[i].size, userdata);
                        if (r < 0)
                                return r;
                }
                if (!p.truncated)
                        return 0;
                if (next && strcmp(next, p.next) == 0) {
                        cn_backend_set_error("%s: %s: the server repeats the same listing page", s->shown, what);
                        return -EPROTO;
                }
                free(next);
                next = TAKE_PTR(p.next);
                if (page > 16u * 1024 * 1024 / CN_S3_LIST_MAX_ENTRIES + 1024) {
                        cn_backend_set_error("%s: %s: too many listing pages", s->shown, what);
                        return -EPROTO;
                }
        }
}

static int s3_remove(CnBackend *b, const char *name) {
        CnBackendS3 *s = S3(b);
        char what[64 + CN_BACKEND_NAME_MAX];
        uint64_t size;
        int r;

        r = s3_stat(b, name, &size);
        if (r < 0)
                return r;
        snprintf(what, sizeof what, "remove %s", name);
        Call c = {.method = "DELETE", .name = name, .what = what};
        r = call(s, &c);
        call_done(&c);
        return r;
}

/* ---- open, close ------------------------------------------------------------- */

static void s3_free(CnBackendS3 *s) {
        if (!s)
                return;
        cn_remote_free(s->remote);
        free(s->bucket);
        free(s->prefix);
        free(s->base_url);
        free(s->sigv4);
        free(s->shown);
        cn_s3_creds_done(&s->creds);
        if (s->token_header) {
                explicit_bzero(s->token_header, strlen(s->token_header));
                free(s->token_header);
        }
        free(s);
}

static void s3_close(CnBackend *b) {
        s3_free(S3(b));
}

static const char *env(const char *name) {
        const char *v = getenv(name);
        return v && *v ? v : NULL;
}

static int read_small_file(const char *path, char **ret, size_t *ret_len) {
        _cleanup_(cn_buf_donep) CnBuf b = CN_BUF_INIT(CN_S3_CREDENTIALS_FILE_MAX + 1);
        FILE *f = fopen(path, "re");
        char chunk[4096];
        size_t k;
        int r = 0;

        if (!f)
                return -errno;
        while (r >= 0 && (k = fread(chunk, 1, sizeof chunk, f)) > 0)
                r = cn_buf_append(&b, chunk, k);
        if (r >= 0 && ferror(f))
                r = -EIO;
        fclose(f);
        if (r >= 0)
                r = cn_buf_append(&b, "", 1);
        if (r < 0) {
                cn_buf_done_wipe(&b);
                return r == -E2BIG ? -EPROTO : r;
        }
        *ret_len = b.len - 1;
        *ret = (char *) TAKE_PTR(b.data);
        return 0;
}

static int load_credentials(CnBackendS3 *s) {
        int r;

        if (s->flavor == FLAVOR_GCS) {
                const char *id = env("CAIRN_GCS_HMAC_ACCESS_ID"), *secret = env("CAIRN_GCS_HMAC_SECRET");
                if (!id || !secret) {
                        cn_backend_set_error(
                                "gs: no credentials: set CAIRN_GCS_HMAC_ACCESS_ID and CAIRN_GCS_HMAC_SECRET "
                                "to an HMAC key of a service account");
                        return -EACCES;
                }
                if (!(s->creds.key_id = strdup(id)) || !(s->creds.secret = strdup(secret)))
                        return -ENOMEM;
                return 0;
        }

        const char *id = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");
        if (id && secret) {
                const char *token = env("AWS_SESSION_TOKEN");
                if (!(s->creds.key_id = strdup(id)) || !(s->creds.secret = strdup(secret)) ||
                    (token && !(s->creds.token = strdup(token))))
                        return -ENOMEM;
        } else {
                const char *profile = env("AWS_PROFILE") ?: "default";
                const char *path = env("AWS_SHARED_CREDENTIALS_FILE");
                _cleanup_free_ char *def = NULL;
                if (!path) {
                        const char *home = env("HOME");
                        if (!home || asprintf(&def, "%s/.aws/credentials", home) < 0) {
                                cn_backend_set_error("s3: no credentials: set AWS_ACCESS_KEY_ID and "
                                                     "AWS_SECRET_ACCESS_KEY, or AWS_SHARED_CREDENTIALS_FILE");
                                return -EACCES;
                        }
                        path = def;
                }
                char *text = NULL;
                size_t len = 0;
                r = read_small_file(path, &text, &len);
                if (r < 0) {
                        if (r == -ENOENT)
                                cn_backend_set_error("s3: no credentials: set AWS_ACCESS_KEY_ID and "
                                                     "AWS_SECRET_ACCESS_KEY, or write them to %.200s",
                                                     path);
                        else
                                cn_backend_set_error("s3: cannot read credentials file %.200s: %s", path,
                                                     r == -EPROTO ? "too large" : strerror(-r));
                        return -EACCES;
                }
                r = cn_s3_credentials_parse(text, len, profile, &s->creds);
                explicit_bzero(text, len);
                free(text);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        cn_backend_set_error("s3: credentials file %.200s: %s", path,
                                             r == -ENOENT   ? "no such profile (AWS_PROFILE)"
                                             : r == -ENOKEY ? "the profile lacks aws_access_key_id or "
                                                              "aws_secret_access_key"
                                                            : "malformed");
                        return -EACCES;
                }
        }
        if (s->creds.token) {
                if (strchr(s->creds.token, '\n') || strchr(s->creds.token, '\r') ||
                    asprintf(&s->token_header, "x-amz-security-token: %s", s->creds.token) < 0) {
                        s->token_header = NULL;
                        cn_backend_set_error("s3: unusable AWS_SESSION_TOKEN");
                        return -EACCES;
                }
        }
        return 0;
}

static bool region_valid(const char *r) {
        size_t n = strlen(r);
        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') || r[i] == '-'))
                        return false;
        return true;
}

/* Bucket, prefix and where to send requests. */
static int configure(CnBackendS3 *s, const char *location) {
        const char *scheme = flavor_scheme(s->flavor);
        _cleanup_free_ char *default_host = NULL, *prefix = NULL;
        const char *region, *endpoint;
        bool custom, virtual_host;
        int r;

        /* location: "//bucket[/prefix]" */
        if (strncmp(location, "//", 2) != 0) {
                cn_backend_set_error("%s: expected %s://bucket[/prefix]", scheme, scheme);
                return -EINVAL;
        }
        location += 2;
        size_t bl = strcspn(location, "/");
        if (!(s->bucket = strndup(location, bl)))
                return -ENOMEM;
        if (!cn_s3_bucket_valid(s->bucket)) {
                cn_backend_set_error("%s: invalid bucket name \"%.64s\"", scheme, s->bucket);
                return -EINVAL;
        }
        const char *pfx = location + bl;
        while (*pfx == '/')
                pfx++;
        if (!(prefix = strdup(pfx)))
                return -ENOMEM;
        size_t pl = strlen(prefix);
        while (pl > 0 && prefix[pl - 1] == '/')
                prefix[--pl] = 0;
        if (pl > 0 && (pl > 256 || !cn_backend_name_valid(prefix))) {
                cn_backend_set_error("%s: invalid prefix \"%.64s\" (letters, digits, '.', '_', '-', '/')", scheme,
                                     prefix);
                return -EINVAL;
        }
        if (asprintf(&s->prefix, "%s%s", prefix, pl > 0 ? "/" : "") < 0 ||
            asprintf(&s->shown, "%s://%s", scheme, s->bucket) < 0) {
                s->prefix = s->shown = NULL;
                return -ENOMEM;
        }

        if (s->flavor == FLAVOR_GCS) {
                region = "auto";
                endpoint = env("CAIRN_GCS_ENDPOINT");
        } else {
                region = env("AWS_REGION") ?: env("AWS_DEFAULT_REGION") ?: "us-east-1";
                endpoint = env("CAIRN_S3_ENDPOINT");
        }
        if (!region_valid(region)) {
                cn_backend_set_error("%s: invalid region \"%.64s\"", scheme, region);
                return -EINVAL;
        }
        custom = endpoint != NULL;
        if (!custom) {
                if (s->flavor == FLAVOR_GCS)
                        default_host = strdup("storage.googleapis.com");
                else if (asprintf(&default_host, "s3.%s.amazonaws.com", region) < 0)
                        default_host = NULL;
                if (!default_host)
                        return -ENOMEM;
        }
        if (s->flavor == FLAVOR_GCS)
                virtual_host = false; /* Cloud Storage: always path style */
        else {
                r = cn_s3_virtual_host(env("CAIRN_S3_ADDRESSING"), custom, s->bucket, &virtual_host);
                if (r == -EDOM) {
                        cn_backend_set_error("s3: bucket \"%s\" cannot be a host name: use CAIRN_S3_ADDRESSING=path",
                                             s->bucket);
                        return -EINVAL;
                }
                if (r < 0) {
                        cn_backend_set_error("s3: CAIRN_S3_ADDRESSING must be \"path\" or \"virtual\"");
                        return -EINVAL;
                }
        }
        r = cn_s3_base_url(endpoint, default_host, s->bucket, virtual_host, &s->base_url);
        if (r == -EINVAL)
                cn_backend_set_error("%s: invalid endpoint \"%.100s\" (expected http(s)://host[:port])", scheme,
                                     endpoint ? endpoint : "");
        if (r < 0)
                return r;
        if (asprintf(&s->sigv4, "aws:amz:%s:s3", region) < 0) {
                s->sigv4 = NULL;
                return -ENOMEM;
        }

        CnRemoteConfig cfg = {
                .protocols = strncmp(s->base_url, "https:", 6) == 0 ? "https" : "http",
                .setup = sign_setup,
                .classify = classify,
                .userdata = s,
        };
        r = cn_remote_new(&cfg, &s->remote);
        if (r < 0)
                return r;
        /* AWS and Cloud Storage document conditional PUTs; others are probed. */
        atomic_store(&s->cond_put, !custom);
        return custom ? 1 : 0;
}

/* Does this server refuse a conditional PUT of an existing key? PUT a
 * probe object twice with the condition: the second must fail with 412.
 * Servers that answer 501, or store it twice, cannot. The probe's name
 * starts with ".tmp-", which list never reports. */
static void probe_conditional_put(CnBackendS3 *s) {
        uint8_t rnd[8];
        char name[64], hex[2 * sizeof rnd + 1];
        bool ok = false;
        int r;

        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
                memset(rnd, 0x5a, sizeof rnd);
        cn_hex_encode(rnd, sizeof rnd, hex);
        snprintf(name, sizeof name, ".tmp-cairn-probe-%s", hex);

        r = put_single(s, name, "probe", 5, true);
        if (r >= 0) {
                r = put_single(s, name, "probe", 5, true);
                ok = r == -EEXIST;
                Call c = {.method = "DELETE", .name = name, .what = "remove probe"};
                (void) call(s, &c);
                call_done(&c);
        }
        atomic_store(&s->cond_put, ok);
        if (!ok)
                s->base.caps_missing |= CN_BACKEND_CAP_EXCLUSIVE_PUT;
        cn_backend_set_error("%s", "");
}

static int open_flavor(Flavor flavor, const char *location, bool create, CnBackend **ret) {
        _cleanup_(cn_buf_donep) CnBuf resp = CN_BUF_INIT(CN_S3_XML_MAX);
        CnBackendS3 *s = calloc(1, sizeof *s);
        int r;

        if (!s)
                return -ENOMEM;
        s->flavor = flavor;
        atomic_init(&s->cond_put, false);
        atomic_init(&s->list_v1, false);
        r = load_credentials(s);
        if (r >= 0)
                r = configure(s, location);
        if (r < 0)
                goto fail;
        bool custom = r > 0;

        /* One cheap request: does the bucket exist, do the keys work, does
         * the server speak ListObjectsV2? */
        const CnS3Param q[] = {{"list-type", "2"}, {"max-keys", "1"}, {"prefix", s->prefix}};
        Call c = {.method = "GET", .name = NULL, .params = q, .n_params = 3, .response = &resp, .what = "open"};
        r = call(s, &c);
        call_done(&c);
        if (r == -ENOENT && c.status == 404) {
                cn_backend_set_error("%s: bucket \"%s\" does not exist (create it first, or check the URL and the "
                                     "endpoint)",
                                     s->shown, s->bucket);
        }
        if (r < 0)
                goto fail;
        CnS3ListPage p = {};
        r = cn_s3_list_parse(resp.data, resp.len, &p);
        if (r < 0) {
                cn_backend_set_error("%s: open: the server's answer is no S3 bucket listing", s->shown);
                r = r == -ENOMEM ? r : -EPROTO;
                goto fail;
        }
        atomic_store(&s->list_v1, !p.v2);
        cn_s3_list_page_done(&p);

        if (custom)
                probe_conditional_put(s);
        (void) create; /* buckets are made by their owner, never by cairn */
        *ret = &s->base;
        return 0;
fail:
        s3_free(s);
        return r;
}

static int s3_open(const char *location, bool create, CnBackend **ret) {
        return open_flavor(FLAVOR_S3, location, create, ret);
}

static int gs_open(const char *location, bool create, CnBackend **ret) {
        return open_flavor(FLAVOR_GCS, location, create, ret);
}

const CnBackendOps cn_backend_s3_ops = {
        .scheme = "s3",
        .caps = CN_BACKEND_CAP_EXCLUSIVE_PUT | CN_BACKEND_CAP_RANGED_GET | CN_BACKEND_CAP_ATOMIC_PUT,
        .open = s3_open,
        .close = s3_close,
        .put = s3_put,
        .get = s3_get,
        .stat = s3_stat,
        .list = s3_list,
        .remove = s3_remove,
};

const CnBackendOps cn_backend_gs_ops = {
        .scheme = "gs",
        .caps = CN_BACKEND_CAP_EXCLUSIVE_PUT | CN_BACKEND_CAP_RANGED_GET | CN_BACKEND_CAP_ATOMIC_PUT,
        .open = gs_open,
        .close = s3_close,
        .put = s3_put,
        .get = s3_get,
        .stat = s3_stat,
        .list = s3_list,
        .remove = s3_remove,
};
