/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The shared libcurl layer: percent-encoding, backoff bounds, token bucket
 * arithmetic, settings, and the request loop's retry and error mapping
 * against a canned HTTP responder on 127.0.0.1 (a thread in this process). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "macro.h"
#include "remote.h"

/* ---- encoding ------------------------------------------------------------ */

typedef struct EncodeCase {
        const char *in;
        bool keep_slash;
        const char *out;
} EncodeCase;

static const EncodeCase encode_cases[] = {
        {"", true, ""},
        {"data/ab/pack-1.x_y~", true, "data/ab/pack-1.x_y~"},
        {"data/ab", false, "data%2Fab"},
        {"a b", true, "a%20b"},
        {"caf\xc3\xa9", true, "caf%C3%A9"},
        {"!*'();:@&=+$,?#[]%", true, "%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%3F%23%5B%5D%25"},
        {"\x7f\x01", true, "%7F%01"},
};

/* Criterion copies parameters into a fresh process: pass indexes, not pointers. */
static size_t case_index[16];

static struct criterion_test_params index_params(size_t n) {
        for (size_t i = 0; i < n; i++)
                case_index[i] = i;
        return cr_make_param_array(size_t, case_index, n);
}

ParameterizedTestParameters(remote, encode_is_rfc3986_uppercase) {
        return index_params(CN_ELEMENTSOF(encode_cases));
}

ParameterizedTest(size_t *i, remote, encode_is_rfc3986_uppercase) {
        const EncodeCase *c = &encode_cases[*i];
        char *s = NULL, *back = NULL;
        cr_assert_eq(cn_remote_encode_dup(c->in, c->keep_slash, &s), 0);
        cr_assert_str_eq(s, c->out);
        cr_assert_eq(cn_remote_decode_dup(s, strlen(s), &back), 0);
        cr_assert_str_eq(back, c->in);
        free(s);
        free(back);
}

Test(remote, decode_refuses_malformed_escapes) {
        static const char *const bad[] = {"%", "%4", "a%G1", "%1g", "%00", "x%"};
        char *s = NULL;
        for (size_t i = 0; i < CN_ELEMENTSOF(bad); i++)
                cr_assert_eq(cn_remote_decode_dup(bad[i], strlen(bad[i]), &s), -EPROTO, "%s", bad[i]);
        cr_assert_eq(cn_remote_decode_dup("a%2fb%2F", 8, &s), 0);
        cr_assert_str_eq(s, "a/b/");
        free(s);
        /* only n bytes are read */
        cr_assert_eq(cn_remote_decode_dup("abc%zz", 3, &s), 0);
        cr_assert_str_eq(s, "abc");
        free(s);
}

/* ---- backoff ---------------------------------------------------------------- */

Test(remote, backoff_stays_within_full_jitter_bounds) {
        static const uint64_t rnds[] = {0, 1, 12345, UINT64_MAX / 3, UINT64_MAX - 1, UINT64_MAX};
        for (unsigned a = 1; a < 200; a++) {
                uint64_t ceiling = a > 40 ? 8000 : CN_MIN((uint64_t) 250 << (a - 1), (uint64_t) 8000);
                for (size_t i = 0; i < CN_ELEMENTSOF(rnds); i++) {
                        uint64_t d = cn_remote_backoff_ms(a, 250, 8000, rnds[i]);
                        cr_assert_leq(d, ceiling, "attempt %u: %lu > %lu", a, (unsigned long) d,
                                      (unsigned long) ceiling);
                }
                /* the whole range is reachable: the top of it too */
                cr_assert_eq(cn_remote_backoff_ms(a, 250, 8000, ceiling), ceiling);
        }
        cr_assert_eq(cn_remote_backoff_ms(1, 250, 8000, 0), 0);
        /* no overflow with absurd inputs */
        cr_assert_leq(cn_remote_backoff_ms(UINT32_MAX, UINT64_MAX / 2, UINT64_MAX, UINT64_MAX), UINT64_MAX);
        cr_assert_eq(cn_remote_backoff_ms(5, 0, 8000, 777), 0);
}

/* ---- token bucket -------------------------------------------------------------- */

#define MS (UINT64_C(1000000))

Test(remote, token_bucket_grants_burst_then_rate) {
        CnTokenBucket tb;
        uint64_t wait = 0, t = 1000 * MS;

        cn_token_bucket_init(&tb, 1000, 100, t);
        cr_assert_eq(cn_token_bucket_take(&tb, t, 60, &wait), 60);
        cr_assert_eq(cn_token_bucket_take(&tb, t, 60, &wait), 40);
        cr_assert_eq(cn_token_bucket_take(&tb, t, 60, &wait), 0);
        /* 60 tokens at 1000/s: 60 ms */
        cr_assert_eq(wait, 60 * MS);
        cr_assert_eq(cn_token_bucket_take(&tb, t + 1 * MS, 60, &wait), 1);
        cr_assert_eq(cn_token_bucket_take(&tb, t + 1 * MS, 5, &wait), 0);
        cr_assert_eq(wait, 5 * MS);
        /* never more than the burst, however long it sat */
        cr_assert_eq(cn_token_bucket_take(&tb, t + 3600 * 1000 * MS, 1000000, &wait), 100);
        cr_assert_eq(cn_token_bucket_take(&tb, 0, 0, &wait), 0);
}

Test(remote, token_bucket_keeps_fractions) {
        CnTokenBucket tb;
        uint64_t wait, t = 0, granted = 0;

        /* 3 tokens/s, asked every 100 ms for 10 s: exactly 3 * 10 + the initial burst of 1 */
        cn_token_bucket_init(&tb, 3, 1, t);
        for (int i = 0; i <= 100; i++, t += 100 * MS)
                granted += cn_token_bucket_take(&tb, t, 1, &wait);
        cr_assert_eq(granted, 31);
}

Test(remote, token_bucket_long_run_stays_under_rate) {
        CnTokenBucket tb;
        uint64_t wait = 0, t = 0, granted = 0;
        const uint64_t rate = 100 * 1024, burst = 25 * 1024;

        cn_token_bucket_init(&tb, rate, burst, t);
        /* a greedy taker that sleeps exactly as told */
        while (t < 20 * 1000 * MS) {
                uint64_t g = cn_token_bucket_take(&tb, t, 16384, &wait);
                granted += g;
                if (g == 0) {
                        cr_assert_gt(wait, 0);
                        t += wait;
                }
        }
        cr_assert_leq(granted, burst + rate * 20 + 16384);
        cr_assert_geq(granted, rate * 19);
        /* unlimited grants everything */
        cn_token_bucket_init(&tb, 0, 1, 0);
        cr_assert_eq(cn_token_bucket_take(&tb, 0, 1u << 30, &wait), 1u << 30);
}

/* ---- settings ---------------------------------------------------------------------- */

Test(remote, settings_reject_out_of_range) {
        cr_assert_eq(cn_remote_set_connections(0), -EINVAL);
        cr_assert_eq(cn_remote_set_connections(CN_REMOTE_CONNECTIONS_MAX + 1), -EINVAL);
        cr_assert_eq(cn_remote_set_connections(7), 0);
        cr_assert_eq(cn_remote_connections(), 7);
        cn_remote_set_upload_limit(12345);
        cr_assert_eq(cn_remote_upload_limit(), 12345);
        cn_remote_set_upload_limit(0);
        cn_remote_set_retry_seconds(9);
        cr_assert_eq(cn_remote_retry_seconds(), 9);
}

/* ---- requests against a canned responder ------------------------------------------------ */

typedef struct Responder {
        int fd;
        int port;
        pthread_t thread;
        const char *const *answers; /* one full HTTP response per connection; the last repeats */
        size_t n_answers;
        unsigned served;
        size_t last_body_len; /* bytes of request body received last */
        char last_request[4096];
} Responder;

static size_t header_len(const char *p, size_t n) {
        for (size_t i = 3; i < n; i++)
                if (memcmp(p + i - 3, "\r\n\r\n", 4) == 0)
                        return i + 1;
        return 0;
}

static void *respond(void *userdata) {
        Responder *s = userdata;
        for (;;) {
                int c = accept(s->fd, NULL, NULL);
                if (c < 0)
                        return NULL;
                char buf[1 << 16];
                size_t n = 0, hl = 0;
                ssize_t k;
                while (!(hl = header_len(buf, n)) && n < sizeof buf && (k = read(c, buf + n, sizeof buf - n)) > 0)
                        n += (size_t) k;
                snprintf(s->last_request, sizeof s->last_request, "%.*s", (int) CN_MIN(hl, sizeof s->last_request - 1),
                         buf);
                size_t body = 0;
                const char *cl = memmem(buf, hl, "Content-Length: ", 16);
                if (cl)
                        body = strtoul(cl + 16, NULL, 10);
                size_t got = n - hl;
                while (got < body && (k = read(c, buf, sizeof buf)) > 0)
                        got += (size_t) k;
                s->last_body_len = got;
                const char *a = s->answers[CN_MIN(s->served, s->n_answers - 1)];
                s->served++;
                (void) !write(c, a, strlen(a));
                close(c);
        }
}

static void responder_start(Responder *s, const char *const *answers, size_t n) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof sa;

        *s = (Responder){.answers = answers, .n_answers = n};
        s->fd = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert_geq(s->fd, 0);
        cr_assert_eq(bind(s->fd, (struct sockaddr *) &sa, sizeof sa), 0);
        cr_assert_eq(listen(s->fd, 16), 0);
        cr_assert_eq(getsockname(s->fd, (struct sockaddr *) &sa, &len), 0);
        s->port = ntohs(sa.sin_port);
        cr_assert_eq(pthread_create(&s->thread, NULL, respond, s), 0);
}

static void responder_stop(Responder *s) {
        shutdown(s->fd, SHUT_RDWR);
        close(s->fd);
        pthread_join(s->thread, NULL);
}

static CnRemote *http_remote(void) {
        CnRemote *r = NULL;
        CnRemoteConfig cfg = {.protocols = "http"};
        cr_assert_eq(cn_remote_new(&cfg, &r), 0);
        return r;
}

static char *url_for(const Responder *s, const char *path) {
        char *u = NULL;
        cr_assert(asprintf(&u, "http://127.0.0.1:%d%s", s->port, path) > 0);
        return u;
}

Test(remote, retries_503_then_succeeds_with_body_and_headers) {
        static const char *const answers[] = {
                "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbusy",
                "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                "HTTP/1.1 200 OK\r\nConnection: close\r\nETag: \"abc\"\r\nContent-Length: 5\r\n\r\nhello",
        };
        static const char *const want[] = {"etag", "x-absent", NULL};
        Responder s;
        CnBuf out, err;

        cn_remote_set_retry_seconds(60);
        responder_start(&s, answers, CN_ELEMENTSOF(answers));
        CnRemote *r = http_remote();
        char *url = url_for(&s, "/obj");
        cn_buf_init(&out, 100);
        cn_buf_init(&err, 100);
        CnRemoteRequest req = {.url = url, .response = &out, .error_body = &err, .want_headers = want};
        cr_assert_eq(cn_remote_request(r, &req), 0, "%s", cn_backend_last_error());
        cr_assert_eq(req.attempts, 3);
        cr_assert_eq(req.status, 200);
        cr_assert(out.len == 5 && memcmp(out.data, "hello", 5) == 0);
        cr_assert_eq(err.len, 0);
        cr_assert_str_eq(req.header_values[0], "\"abc\"");
        cr_assert_null(req.header_values[1]);
        cr_assert_eq(req.content_length, 5);
        cn_remote_request_done(&req);
        cr_assert(strstr(s.last_request, "User-Agent: cairn/") != NULL);
        cn_buf_done(&out);
        cn_buf_done(&err);
        free(url);
        cn_remote_free(r);
        responder_stop(&s);
}

typedef struct StatusCase {
        const char *answer;
        int err;
} StatusCase;

static const StatusCase status_cases[] = {
        {"HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", -EACCES},
        {"HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", -EACCES},
        {"HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", -ENOENT},
        {"HTTP/1.1 412 Precondition Failed\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", -EEXIST},
        {"HTTP/1.1 416 Range Not Satisfiable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", -ENODATA},
        {"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", -EIO},
        {"HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.1:1/\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", -EIO},
        {"HTTP/1.1 507 Insufficient Storage\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", -ENOSPC},
};

ParameterizedTestParameters(remote, final_statuses_are_not_retried) {
        return index_params(CN_ELEMENTSOF(status_cases));
}

ParameterizedTest(size_t *i, remote, final_statuses_are_not_retried) {
        const StatusCase *c = &status_cases[*i];
        const char *const answers[] = {c->answer};
        Responder s;

        cn_remote_set_retry_seconds(60);
        responder_start(&s, answers, 1);
        CnRemote *r = http_remote();
        char *url = url_for(&s, "/x?X-Amz-Signature=SECRETSIG");
        CnRemoteRequest req = {.method = "DELETE", .url = url, .what = "remove x"};
        cr_assert_eq(cn_remote_request(r, &req), c->err, "%s", cn_backend_last_error());
        cr_assert_eq(req.attempts, 1);
        cr_assert_eq(s.served, 1);
        const char *e = cn_backend_last_error();
        cr_assert(strstr(e, "remove x") && strstr(e, "DELETE") && strstr(e, "HTTP "), "%s", e);
        cr_assert_null(strstr(e, "SECRETSIG"), "%s", e);
        cn_remote_request_done(&req);
        free(url);
        cn_remote_free(r);
        responder_stop(&s);
}

Test(remote, response_over_the_buffer_limit_is_e2big) {
        static const char *const answers[] = {
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 26\r\n\r\nabcdefghijklmnopqrstuvwxyz",
        };
        Responder s;
        CnBuf out;

        responder_start(&s, answers, 1);
        CnRemote *r = http_remote();
        char *url = url_for(&s, "/big");
        cn_buf_init(&out, 25);
        CnRemoteRequest req = {.url = url, .response = &out};
        cr_assert_eq(cn_remote_request(r, &req), -E2BIG);
        cr_assert_eq(out.len, 0);
        cr_assert_eq(req.attempts, 1);
        out.limit = 26;
        cr_assert_eq(cn_remote_request(r, &req), 0);
        cr_assert(out.len == 26 && memcmp(out.data, "abcdefghijklmnopqrstuvwxyz", 26) == 0);
        cn_buf_done(&out);
        free(url);
        cn_remote_free(r);
        responder_stop(&s);
}

Test(remote, upload_under_a_rate_limit_sends_the_whole_body) {
        static const char *const answers[] = {
                "HTTP/1.1 201 Created\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        };
        static uint8_t body[48 * 1024];
        Responder s;

        memset(body, 'x', sizeof body);
        responder_start(&s, answers, 1);
        cn_remote_set_upload_limit(256 * 1024);
        CnRemote *r = http_remote();
        char *url = url_for(&s, "/up");
        CnRemoteRequest req = {.method = "PUT", .url = url, .body = body, .body_len = sizeof body};
        cr_assert_eq(cn_remote_request(r, &req), 0, "%s", cn_backend_last_error());
        cr_assert_eq(s.last_body_len, sizeof body);
        cr_assert(strncmp(s.last_request, "PUT /up ", 8) == 0, "%s", s.last_request);
        /* an empty upload is still a PUT with a body of 0 bytes */
        CnRemoteRequest req0 = {.method = "PUT", .url = url, .flags = CN_REMOTE_UPLOAD};
        cr_assert_eq(cn_remote_request(r, &req0), 0, "%s", cn_backend_last_error());
        cr_assert(strstr(s.last_request, "Content-Length: 0") != NULL, "%s", s.last_request);
        cn_remote_set_upload_limit(0);
        free(url);
        cn_remote_free(r);
        responder_stop(&s);
}

Test(remote, refused_connection_retries_until_budget_then_eagain) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof sa;
        char *url = NULL;

        /* a port that was free a moment ago: connections are refused */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert_eq(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        cr_assert_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        close(fd);
        cr_assert(asprintf(&url, "http://127.0.0.1:%d/o", ntohs(sa.sin_port)) > 0);

        cn_remote_set_retry_seconds(1);
        CnRemote *r = http_remote();
        CnRemoteRequest req = {.url = url};
        cr_assert_eq(cn_remote_request(r, &req), -EAGAIN);
        cr_assert_geq(req.attempts, 1);
        cr_assert_eq(req.curl_code, CURLE_COULDNT_CONNECT);
        cr_assert(strstr(cn_backend_last_error(), "gave up") != NULL, "%s", cn_backend_last_error());
        cn_remote_set_retry_seconds(0);
        cr_assert_eq(cn_remote_request(r, &req), -EAGAIN);
        cr_assert_eq(req.attempts, 1);
        cn_remote_set_retry_seconds(CN_REMOTE_RETRY_SECONDS_DEFAULT);

        /* other protocols than the backend's are refused by libcurl itself */
        CnRemoteRequest other = {.url = "ftp://127.0.0.1:1/x"};
        cr_assert_lt(cn_remote_request(r, &other), 0);
        cr_assert_eq(other.attempts, 1);
        free(url);
        cn_remote_free(r);
}

Test(remote, messages_never_show_url_passwords) {
        CnRemote *r = http_remote();
        CnRemoteRequest req = {.url = "http://user:hunter2@127.0.0.1:1/o?sig=abc#frag"};
        cn_remote_set_retry_seconds(0);
        cr_assert_lt(cn_remote_request(r, &req), 0);
        const char *e = cn_backend_last_error();
        cr_assert_null(strstr(e, "hunter2"), "%s", e);
        cr_assert_null(strstr(e, "sig=abc"), "%s", e);
        cr_assert(strstr(e, "127.0.0.1") != NULL, "%s", e);
        cn_remote_set_retry_seconds(CN_REMOTE_RETRY_SECONDS_DEFAULT);
        cn_remote_free(r);
}

typedef struct Listing {
        size_t n;
        char names[16][64];
        uint64_t sizes[16];
} Listing;

/* ---- the WebDAV listing parser, fed by the canned responder ---------------------------- */

#define MS207_HEAD                                                                                                     \
        "HTTP/1.1 207 Multi-Status\r\nConnection: close\r\nContent-Type: application/xml\r\n\r\n"                      \
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
#define ROOT_OK                                                                                                        \
        MS207_HEAD "<D:multistatus xmlns:D=\"DAV:\"><D:response><D:href>/r/</D:href></D:response></D:multistatus>"

static int count_names(const char *name, uint64_t size, void *userdata) {
        Listing *l = userdata;
        cr_assert_lt(l->n, CN_ELEMENTSOF(l->names));
        snprintf(l->names[l->n], sizeof l->names[0], "%s", name);
        l->sizes[l->n++] = size;
        return 0;
}

typedef struct ListCase {
        const char *answer;
        int err;
        const char *names; /* space-separated, in answer order, when err == 0 */
} ListCase;

static const ListCase list_cases[] = {
        {MS207_HEAD "<D:multistatus xmlns:D=\"DAV:\"><D:response><D:href>/r/a</D:href>", -EPROTO, NULL},
        {MS207_HEAD "<html><body>hello</body></html>", -EPROTO, NULL},
        {MS207_HEAD "not xml at all", -EPROTO, NULL},
        {MS207_HEAD "<D:multistatus xmlns:D=\"DAV:\"><D:response><D:href>/r/a</D:href><D:propstat><D:prop>"
                    "<D:getcontentlength>12abc</D:getcontentlength></D:prop><D:status>HTTP/1.1 200 OK</D:status>"
                    "</D:propstat></D:response></D:multistatus>",
         -EPROTO, NULL},
        {MS207_HEAD "<D:multistatus xmlns:D=\"DAV:\"><D:response><D:href>/r/nosize</D:href><D:propstat><D:prop>"
                    "<D:resourcetype/></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
                    "</D:multistatus>",
         -EPROTO, NULL},
        {MS207_HEAD
         "<!DOCTYPE x [<!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">"
         "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;\">]>"
         "<D:multistatus xmlns:D=\"DAV:\"><D:response><D:href>/r/&d;</D:href></D:response>"
         "</D:multistatus>",
         -EPROTO, NULL},
        {MS207_HEAD "<multistatus xmlns=\"DAV:\">"
                    "<response><href>/r/</href><propstat><prop><resourcetype><collection/></resourcetype></prop>"
                    "<status>HTTP/1.1 200 OK</status></propstat></response>"
                    "<response><href>http://127.0.0.1/r/obj%2D1</href><propstat><prop><getcontentlength> 7 "
                    "</getcontentlength></prop><status>HTTP/1.1 200 OK</status></propstat></response>"
                    "<response><href>/r/.tmp-0123</href><propstat><prop><getcontentlength>3</getcontentlength>"
                    "</prop><status>HTTP/1.1 200 OK</status></propstat></response>"
                    "<response><href>/elsewhere/x</href><propstat><prop><getcontentlength>3</getcontentlength>"
                    "</prop><status>HTTP/1.1 200 OK</status></propstat></response>"
                    "<response><href>/r/bad%20name</href><propstat><prop><getcontentlength>3</getcontentlength>"
                    "</prop><status>HTTP/1.1 200 OK</status></propstat></response>"
                    "<response><href>/r/x2</href><propstat><prop><getcontentlength>99</getcontentlength></prop>"
                    "<status>HTTP/1.1 404 Not Found</status></propstat><propstat><prop>"
                    "<getcontentlength>5</getcontentlength></prop><status>HTTP/1.1 200 OK</status></propstat>"
                    "</response></multistatus>",
         0, "obj-1 x2"},
};

ParameterizedTestParameters(remote, webdav_list_parses_strictly) {
        return index_params(CN_ELEMENTSOF(list_cases));
}

ParameterizedTest(size_t *i, remote, webdav_list_parses_strictly) {
        const ListCase *c = &list_cases[*i];
        const char *const answers[] = {ROOT_OK, c->answer};
        Responder s;
        CnBackend *b = NULL;
        char *url = NULL;
        Listing l = {0};

        cn_remote_set_retry_seconds(0);
        responder_start(&s, answers, 2);
        cr_assert(asprintf(&url, "webdav+http://127.0.0.1:%d/r", s.port) > 0);
        cr_assert_eq(cn_backend_open(url, false, &b), 0, "%s", cn_backend_last_error());
        int r = cn_backend_list(b, "", count_names, &l);
        cr_assert_eq(r, c->err, "case %zu list: %d %s", *i, r, cn_backend_last_error());
        if (c->err == 0) {
                char got[256] = "";
                for (size_t k = 0; k < l.n; k++)
                        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", k ? " " : "", l.names[k]);
                cr_assert_str_eq(got, c->names);
        }
        cn_backend_close(b);
        free(url);
        cn_remote_set_retry_seconds(CN_REMOTE_RETRY_SECONDS_DEFAULT);
        responder_stop(&s);
}

Test(remote, webdav_urls_without_host_or_with_credentials_are_refused) {
        static const char *const bad[] = {
                "webdav+https:relative/path",          "webdav+https:///path",
                "webdav+http://user:pw@127.0.0.1:1/r", "webdav+https://127.0.0.1:1/r?x=1",
                "webdav+https://127.0.0.1:1/r#f",      "webdav+http://127.0.0.1:1/a\nb",
        };
        CnBackend *b = NULL;
        for (size_t i = 0; i < CN_ELEMENTSOF(bad); i++) {
                cr_assert_eq(cn_backend_open(bad[i], true, &b), -EINVAL, "%s", bad[i]);
                cr_assert_null(b);
                cr_assert_null(strstr(cn_backend_last_error(), "pw@"), "%s", cn_backend_last_error());
        }
}

Test(remote, webdav_get_cuts_the_range_when_the_server_ignores_it) {
        static const char *const answers[] = {
                ROOT_OK,
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 10\r\n\r\n0123456789",
        };
        Responder s;
        CnBackend *b = NULL;
        char *url = NULL;
        CnBuf out;

        cn_remote_set_retry_seconds(0);
        responder_start(&s, answers, CN_ELEMENTSOF(answers));
        cr_assert(asprintf(&url, "webdav+http://127.0.0.1:%d/r", s.port) > 0);
        cr_assert_eq(cn_backend_open(url, false, &b), 0, "%s", cn_backend_last_error());
        cn_buf_init(&out, 100);
        cr_assert_eq(cn_backend_get(b, "obj", 3, 4, &out), 0, "%s", cn_backend_last_error());
        cr_assert(out.len == 4 && memcmp(out.data, "3456", 4) == 0);
        cr_assert(strstr(s.last_request, "Range: bytes=3-6") != NULL, "%s", s.last_request);
        cr_assert_eq(cn_backend_get(b, "obj", 8, CN_GET_ALL, &out), 0);
        cr_assert(out.len == 2 && memcmp(out.data, "89", 2) == 0);
        cr_assert_eq(cn_backend_get(b, "obj", 8, 3, &out), -ENODATA);
        cr_assert_eq(out.len, 0);
        cn_buf_done(&out);
        cn_backend_close(b);
        free(url);
        cn_remote_set_retry_seconds(CN_REMOTE_RETRY_SECONDS_DEFAULT);
        responder_stop(&s);
}
