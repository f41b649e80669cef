/* SPDX-License-Identifier: GPL-3.0-or-later */
/* WebDAV backend: "webdav+https://host[:port]/path" and "webdav+http://...".
 *
 * An object is a file below the repository collection, its name the path.
 * put writes "<dir>/.tmp-<random>" with PUT and MOVEs it onto the name
 * (Overwrite: F for an exclusive put, T otherwise), so a reader never sees
 * half an object. Missing parent collections are made with MKCOL when a PUT
 * answers 409, and remembered. get is GET with a Range, stat is HEAD, remove
 * is DELETE, list walks the collections with PROPFIND Depth: 1 (servers such
 * as nginx refuse Depth: infinity), parsing each 207 with libxml2
 * (webdav-proto.c).
 *
 * Caps: ranged get, atomic put. Not exclusive put: Overwrite: F is a check
 * the server makes, atomic on some servers (nginx with one worker) but not
 * promised by RFC 4918.
 *
 * Credentials: CAIRN_WEBDAV_USER / CAIRN_WEBDAV_PASSWORD, sent as Basic auth
 * through CURLOPT_USERNAME/PASSWORD, never in a URL or a message. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "backend.h"
#include "macro.h"
#include "remote.h"
#include "webdav-proto.h"

/* A PROPFIND answer for one collection may be this large. */
#define LIST_RESPONSE_MAX (32u * 1024 * 1024)
/* Collections one list may visit. */
#define LIST_COLLECTIONS_MAX (1u << 20)
/* Collections remembered as existing (beyond this, MKCOL on demand again). */
#define DIR_CACHE_MAX 65536u
/* Interrupted writers' temporaries older than this are deleted when a list meets them. */
#define TMP_STALE_SECONDS (24 * 3600)
#define ERROR_BODY_MAX 4096

typedef struct WebdavBackend {
        CnBackend base;
        CnRemote *remote;
        char *root_url;       /* "https://host:port/enc/path/" (always ends in '/') */
        char *root_path;      /* "/path/" decoded, as hrefs are compared */
        char *user;           /* NULL: no authentication */
        char *password;       /* wiped at close */
        pthread_mutex_t lock; /* guards dirs */
        CnNames dirs;         /* collections known to exist ("a/", "a/b/") */
} WebdavBackend;

static WebdavBackend *to_webdav(CnBackend *b) {
        return (WebdavBackend *) b;
}

static int auth_setup(CURL *h, void *userdata) {
        WebdavBackend *w = userdata;

        if (!w->user)
                return 0;
        if (curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_USERNAME, w->user) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_PASSWORD, w->password ? w->password : "") != CURLE_OK)
                return -EIO;
        return 0;
}

/* url = root_url + encoded rel (rel "" gives the root). */
static int object_url(WebdavBackend *w, const char *rel, char **ret) {
        _cleanup_(cn_buf_donep) CnBuf b = CN_BUF_INIT(64 * 1024);
        int r;

        if ((r = cn_buf_append(&b, w->root_url, strlen(w->root_url))) < 0 ||
            (r = cn_remote_encode(&b, rel, true)) < 0 || (r = cn_buf_append(&b, "", 1)) < 0)
                return r;
        *ret = (char *) TAKE_PTR(b.data);
        return 0;
}

/* ---- the collection cache ------------------------------------------------- */

static bool dir_known(WebdavBackend *w, const char *dir, size_t len) {
        bool found = false;

        pthread_mutex_lock(&w->lock);
        for (size_t i = 0; i < w->dirs.n && !found; i++)
                found = strlen(w->dirs.v[i]) == len && memcmp(w->dirs.v[i], dir, len) == 0;
        pthread_mutex_unlock(&w->lock);
        return found;
}

static void dir_remember(WebdavBackend *w, const char *dir, size_t len) {
        if (dir_known(w, dir, len))
                return;
        char *d = strndup(dir, len);
        if (!d)
                return;
        pthread_mutex_lock(&w->lock);
        if (w->dirs.n < DIR_CACHE_MAX)
                (void) cn_names_add(&w->dirs, d);
        pthread_mutex_unlock(&w->lock);
        free(d);
}

static void dir_forget_all(WebdavBackend *w) {
        pthread_mutex_lock(&w->lock);
        cn_names_done(&w->dirs);
        pthread_mutex_unlock(&w->lock);
}

/* MKCOL one collection (rel ends in '/'); exists already is fine. */
static int mkcol(WebdavBackend *w, const char *rel, const char *what) {
        _cleanup_free_ char *url = NULL;
        int r = object_url(w, rel, &url);
        if (r < 0)
                return r;
        CnRemoteRequest req = {.method = "MKCOL", .url = url, .what = what};
        r = cn_remote_request(w->remote, &req);
        cn_remote_request_done(&req);
        /* 405: it exists (RFC 4918 9.3.1) */
        if (r < 0 && req.status != 405)
                return r;
        return 0;
}

/* Make every collection above name (all of name if it ends in '/'), top down. */
static int make_parents(WebdavBackend *w, const char *name, const char *what) {
        for (const char *p = strchr(name, '/'); p; p = strchr(p + 1, '/')) {
                size_t len = (size_t) (p - name) + 1;
                if (dir_known(w, name, len))
                        continue;
                _cleanup_free_ char *d = strndup(name, len);
                if (!d)
                        return -ENOMEM;
                int r = mkcol(w, d, what);
                if (r < 0)
                        return r;
                dir_remember(w, name, len);
        }
        return 0;
}

/* ---- open / close -------------------------------------------------------------- */

static const char propfind_body[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                                    "<D:propfind xmlns:D=\"DAV:\"><D:prop>"
                                    "<D:resourcetype/><D:getcontentlength/><D:getlastmodified/>"
                                    "</D:prop></D:propfind>\n";

static int propfind(WebdavBackend *w, const char *url, const char *depth, CnBuf *out, const char *what) {
        struct curl_slist *h = NULL, *n;
        char d[32];

        snprintf(d, sizeof d, "Depth: %s", depth);
        if (!(n = curl_slist_append(h, d)))
                return -ENOMEM;
        h = n;
        if (!(n = curl_slist_append(h, "Content-Type: application/xml; charset=utf-8"))) {
                curl_slist_free_all(h);
                return -ENOMEM;
        }
        h = n;
        CnRemoteRequest req = {
                .method = "PROPFIND",
                .url = url,
                .headers = h,
                .body = propfind_body,
                .body_len = sizeof propfind_body - 1,
                .response = out,
                .what = what,
        };
        int r = cn_remote_request(w->remote, &req);
        cn_remote_request_done(&req);
        curl_slist_free_all(h);
        if (r < 0)
                return r;
        if (req.status != 207)
                return cn_remote_fail(&req, -EPROTO, "expected a 207 Multi-Status answer");
        return 0;
}

static void webdav_close(CnBackend *b) {
        WebdavBackend *w = to_webdav(b);

        cn_remote_free(w->remote);
        free(w->root_url);
        free(w->root_path);
        free(w->user);
        if (w->password) {
                explicit_bzero(w->password, strlen(w->password));
                free(w->password);
        }
        cn_names_done(&w->dirs);
        pthread_mutex_destroy(&w->lock);
        free(w);
}

static void webdav_closep(WebdavBackend **w) {
        if (*w)
                webdav_close(&(*w)->base);
}

static bool host_char_ok(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
               c == '_' || c == ':' || c == '[' || c == ']';
}

static int webdav_open_scheme(const char *location, bool create, bool tls, CnBackend **ret) {
        _cleanup_(webdav_closep) WebdavBackend *w = NULL;
        int r;

        if (strncmp(location, "//", 2) != 0) {
                cn_backend_set_error("WebDAV URL must look like webdav+%s://host[:port]/path", tls ? "https" : "http");
                return -EINVAL;
        }
        const char *host = location + 2;
        size_t host_len = strcspn(host, "/?#");
        if (host_len == 0) {
                cn_backend_set_error("WebDAV URL has no host");
                return -EINVAL;
        }
        for (size_t i = 0; i < host_len; i++)
                if (!host_char_ok(host[i])) {
                        /* never echo it: it may be "user:password@host" */
                        cn_backend_set_error("WebDAV URL: invalid host part (credentials go in CAIRN_WEBDAV_USER and "
                                             "CAIRN_WEBDAV_PASSWORD, not in the URL)");
                        return -EINVAL;
                }
        const char *path = host + host_len;
        if (strpbrk(path, "?#")) {
                cn_backend_set_error("WebDAV URL: a query or fragment is not allowed");
                return -EINVAL;
        }
        for (const char *p = path; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f) {
                        cn_backend_set_error("WebDAV URL: control character in path");
                        return -EINVAL;
                }

        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        pthread_mutex_init(&w->lock, NULL);

        /* root_path: "/" + path without leading/trailing slashes + "/" */
        while (*path == '/')
                path++;
        size_t plen = strlen(path);
        while (plen > 0 && path[plen - 1] == '/')
                plen--;
        if (asprintf(&w->root_path, "/%.*s%s", (int) plen, path, plen ? "/" : "") < 0) {
                w->root_path = NULL;
                return -ENOMEM;
        }
        _cleanup_(cn_buf_donep) CnBuf u = CN_BUF_INIT(64 * 1024);
        const char *sch = tls ? "https://" : "http://";
        if ((r = cn_buf_append(&u, sch, strlen(sch))) < 0 || (r = cn_buf_append(&u, host, host_len)) < 0 ||
            (r = cn_remote_encode(&u, w->root_path, true)) < 0 || (r = cn_buf_append(&u, "", 1)) < 0)
                return r;
        w->root_url = (char *) TAKE_PTR(u.data);

        const char *user = getenv("CAIRN_WEBDAV_USER"), *pw = getenv("CAIRN_WEBDAV_PASSWORD");
        if ((user && *user) || (pw && *pw)) {
                if (!(w->user = strdup(user ? user : "")) || !(w->password = strdup(pw ? pw : "")))
                        return -ENOMEM;
        }

        CnRemoteConfig cfg = {.protocols = tls ? "https" : "http", .setup = auth_setup, .userdata = w};
        r = cn_remote_new(&cfg, &w->remote);
        if (r < 0)
                return r;

        /* Does the collection exist (and do the credentials work)? */
        _cleanup_(cn_buf_donep) CnBuf out = CN_BUF_INIT(1024 * 1024);
        r = propfind(w, w->root_url, "0", &out, "open repository");
        if (r == -ENOENT && create) {
                for (const char *s = strchr(w->root_path + 1, '/'); s; s = strchr(s + 1, '/')) {
                        _cleanup_free_ char *url = NULL;
                        _cleanup_free_ char *seg = strndup(w->root_path, (size_t) (s - w->root_path) + 1);
                        if (!seg)
                                return -ENOMEM;
                        _cleanup_(cn_buf_donep) CnBuf su = CN_BUF_INIT(64 * 1024);
                        if ((r = cn_buf_append(&su, sch, strlen(sch))) < 0 ||
                            (r = cn_buf_append(&su, host, host_len)) < 0 ||
                            (r = cn_remote_encode(&su, seg, true)) < 0 || (r = cn_buf_append(&su, "", 1)) < 0)
                                return r;
                        url = (char *) TAKE_PTR(su.data);
                        CnRemoteRequest req = {.method = "MKCOL", .url = url, .what = "create repository"};
                        r = cn_remote_request(w->remote, &req);
                        cn_remote_request_done(&req);
                        if (r < 0 && req.status != 405)
                                return r;
                }
                r = propfind(w, w->root_url, "0", &out, "open repository");
        }
        if (r == -ENOENT)
                cn_backend_set_error("WebDAV collection %s not found (run init, or check the URL)", w->root_path);
        if (r < 0)
                return r;

        w->base.connections = cn_remote_connections();
        *ret = &TAKE_PTR(w)->base;
        return 0;
}

static int webdav_https_open(const char *location, bool create, CnBackend **ret) {
        return webdav_open_scheme(location, create, true, ret);
}

static int webdav_http_open(const char *location, bool create, CnBackend **ret) {
        return webdav_open_scheme(location, create, false, ret);
}

/* ---- put ------------------------------------------------------------------------- */

static int tmp_name_for(const char *name, char **ret) {
        uint8_t rnd[8];
        const char *slash = strrchr(name, '/');
        int dlen = slash ? (int) (slash - name) + 1 : 0;

        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
                return -EIO;
        if (asprintf(ret, "%.*s.tmp-%02x%02x%02x%02x%02x%02x%02x%02x", dlen, name, rnd[0], rnd[1], rnd[2], rnd[3],
                     rnd[4], rnd[5], rnd[6], rnd[7]) < 0)
                return -ENOMEM;
        return 0;
}

static int delete_url(WebdavBackend *w, const char *url, const char *what, unsigned *ret_attempts) {
        CnRemoteRequest req = {.method = "DELETE", .url = url, .what = what};
        int r = cn_remote_request(w->remote, &req);
        cn_remote_request_done(&req);
        if (ret_attempts)
                *ret_attempts = req.attempts;
        return r;
}

static int head_url(WebdavBackend *w, const char *url, const char *what, uint64_t *ret_size) {
        CnRemoteRequest req = {.method = "HEAD", .url = url, .what = what};
        int r = cn_remote_request(w->remote, &req);
        cn_remote_request_done(&req);
        if (r < 0)
                return r;
        if (req.content_length < 0)
                return cn_remote_fail(&req, -EPROTO, "no Content-Length in the answer");
        *ret_size = (uint64_t) req.content_length;
        return 0;
}

static int webdav_put(CnBackend *b, const char *name, const void *p, size_t n, unsigned flags) {
        WebdavBackend *w = to_webdav(b);
        _cleanup_free_ char *tmp = NULL, *tmp_url = NULL, *url = NULL, *dest = NULL;
        char what[96];
        int r;

        snprintf(what, sizeof what, "put %.80s", name);
        if ((r = tmp_name_for(name, &tmp)) < 0 || (r = object_url(w, tmp, &tmp_url)) < 0 ||
            (r = object_url(w, name, &url)) < 0)
                return r;

        /* Servers differ on a PUT below a missing collection (409, or 500
         * from nginx): make the parents first, from the cache when known. */
        r = make_parents(w, name, what);
        if (r < 0)
                return r;
        for (unsigned round = 0;; round++) {
                CnRemoteRequest req = {
                        .method = "PUT",
                        .url = tmp_url,
                        .body = p,
                        .body_len = n,
                        .flags = CN_REMOTE_UPLOAD,
                        .what = what,
                };
                r = cn_remote_request(w->remote, &req);
                cn_remote_request_done(&req);
                if (r >= 0)
                        break;
                /* 409: a parent collection is missing (RFC 4918 9.7.1) */
                if (req.status != 409 || round > 0 || !strchr(name, '/'))
                        return r;
                /* our cache was stale (someone removed a collection) */
                dir_forget_all(w);
                r = make_parents(w, name, what);
                if (r < 0)
                        return r;
        }
        const char *slash = strrchr(name, '/');
        if (slash)
                dir_remember(w, name, (size_t) (slash - name) + 1);

        if (asprintf(&dest, "Destination: %s", url) < 0) {
                dest = NULL;
                r = -ENOMEM;
                goto fail_tmp;
        }
        struct curl_slist *h = NULL, *hn;
        if (!(hn = curl_slist_append(h, dest))) {
                r = -ENOMEM;
                goto fail_tmp;
        }
        h = hn;
        if (!(hn = curl_slist_append(h, (flags & CN_PUT_EXCLUSIVE) ? "Overwrite: F" : "Overwrite: T"))) {
                curl_slist_free_all(h);
                r = -ENOMEM;
                goto fail_tmp;
        }
        h = hn;
        CnRemoteRequest mv = {.method = "MOVE", .url = tmp_url, .headers = h, .what = what};
        r = cn_remote_request(w->remote, &mv);
        cn_remote_request_done(&mv);
        curl_slist_free_all(h);
        if (r >= 0)
                return 0;
        if (mv.attempts > 1 && (mv.status == 404 || mv.status == 412)) {
                /* An earlier attempt may have moved it before its answer was
                 * lost: if the temporary is gone, that MOVE happened. */
                uint64_t size;
                if (head_url(w, tmp_url, what, &size) == -ENOENT)
                        return 0;
        }
        if (r == -EEXIST && !(flags & CN_PUT_EXCLUSIVE))
                r = -EIO;
        if (r == -EEXIST)
                cn_backend_set_error("%s: object exists", what);

fail_tmp:
        /* best effort; the failure reported is the one above */
        {
                char saved[256];
                snprintf(saved, sizeof saved, "%s", cn_backend_last_error());
                (void) delete_url(w, tmp_url, what, NULL);
                cn_backend_set_error("%s", saved);
        }
        return r;
}

/* ---- get / stat / remove ------------------------------------------------------------ */

static int webdav_stat(CnBackend *b, const char *name, uint64_t *ret_size) {
        WebdavBackend *w = to_webdav(b);
        _cleanup_free_ char *url = NULL;
        char what[96];
        uint64_t size;

        snprintf(what, sizeof what, "stat %.80s", name);
        int r = object_url(w, name, &url);
        if (r < 0)
                return r;
        r = head_url(w, url, what, &size);
        if (r < 0)
                return r;
        *ret_size = size;
        return 0;
}

static int webdav_get(CnBackend *b, const char *name, uint64_t offset, uint64_t length, CnBuf *out) {
        WebdavBackend *w = to_webdav(b);
        _cleanup_free_ char *url = NULL;
        char what[96];
        uint64_t size;
        int r;

        cn_buf_reset(out);
        snprintf(what, sizeof what, "get %.80s", name);
        if (length != CN_GET_ALL && length > out->limit) {
                cn_backend_set_error("%s: %" PRIu64 " bytes asked for, buffer holds %zu", what, length, out->limit);
                return -E2BIG;
        }
        if ((r = object_url(w, name, &url)) < 0)
                return r;
        if (length == 0 || (length != CN_GET_ALL && offset > UINT64_MAX - length)) {
                /* nothing to transfer: only whether the range is inside the object */
                r = head_url(w, url, what, &size);
                if (r < 0)
                        return r;
                if (length == 0 && offset <= size)
                        return 0;
                cn_backend_set_error("%s: range past the end of the object", what);
                return -ENODATA;
        }

        CnRemoteRequest req = {
                .method = "GET",
                .url = url,
                .range = offset > 0 || length != CN_GET_ALL,
                .range_offset = offset,
                .range_length = length,
                .response = out,
                .what = what,
        };
        r = cn_remote_request(w->remote, &req);
        cn_remote_request_done(&req);
        if (r == -ENODATA) {
                /* 416: the range starts at or past the end; at the end is an empty read */
                r = head_url(w, url, what, &size);
                if (r < 0)
                        return r;
                if (offset == size && length == CN_GET_ALL)
                        return 0;
                cn_backend_set_error("%s: range past the end of the object", what);
                return -ENODATA;
        }
        if (r < 0)
                return r;
        if (req.range && req.status == 200) {
                /* the server ignored Range and sent it all: cut the range out */
                if (offset > out->len) {
                        cn_buf_reset(out);
                        cn_backend_set_error("%s: range past the end of the object", what);
                        return -ENODATA;
                }
                size_t avail = out->len - (size_t) offset;
                size_t take = length == CN_GET_ALL ? avail : (size_t) CN_MIN((uint64_t) avail, length);
                memmove(out->data, out->data + offset, take);
                out->len = take;
        } else if (req.range && req.status != 206) {
                cn_buf_reset(out);
                return cn_remote_fail(&req, -EPROTO, "unexpected status for a ranged GET");
        }
        if (length != CN_GET_ALL && out->len != length) {
                cn_buf_reset(out);
                cn_backend_set_error("%s: range past the end of the object", what);
                return -ENODATA;
        }
        return 0;
}

static int webdav_remove(CnBackend *b, const char *name) {
        WebdavBackend *w = to_webdav(b);
        _cleanup_free_ char *url = NULL;
        char what[96];
        unsigned attempts = 0;

        snprintf(what, sizeof what, "remove %.80s", name);
        int r = object_url(w, name, &url);
        if (r < 0)
                return r;
        r = delete_url(w, url, what, &attempts);
        /* a retry that finds it gone: the lost earlier attempt deleted it */
        if (r == -ENOENT && attempts > 1)
                return 0;
        return r;
}

/* ---- list ----------------------------------------------------------------------------- */


typedef struct Entry {
        char *rel; /* name below the root; collections end in '/' */
        bool collection;
        bool has_size;
        uint64_t size;
        time_t mtime; /* -1 if unknown */
} Entry;

typedef struct ListWalk {
        WebdavBackend *w;
        const char *prefix;
        CnBackendListFn fn;
        void *userdata;
        CnNames todo; /* collections still to visit */
        size_t visited;
} ListWalk;

static int walk_entry(ListWalk *lw, const char *dir, Entry *e) {
        size_t plen = strlen(lw->prefix);
        size_t elen = strlen(e->rel);

        if (elen == 0 || strcmp(e->rel, dir) == 0)
                return 0; /* the collection itself */
        if (e->collection) {
                /* "a/b" or "a/b/": descend where the prefix may continue */
                if (e->rel[elen - 1] != '/') {
                        char *x = realloc(e->rel, elen + 2);
                        if (!x)
                                return -ENOMEM;
                        e->rel = x;
                        e->rel[elen++] = '/';
                        e->rel[elen] = 0;
                }
                if (strcmp(e->rel, dir) == 0 || strncmp(e->rel, dir, strlen(dir)) != 0)
                        return 0;
                /* check the segments as names would be checked */
                e->rel[elen - 1] = 0;
                bool ok = cn_backend_name_valid(e->rel);
                e->rel[elen - 1] = '/';
                if (!ok)
                        return 0;
                if (strncmp(e->rel, lw->prefix, CN_MIN(elen, plen)) != 0)
                        return 0;
                if (lw->todo.n + lw->visited >= LIST_COLLECTIONS_MAX) {
                        cn_backend_set_error("list: more than %u collections", LIST_COLLECTIONS_MAX);
                        return -E2BIG;
                }
                return cn_names_add(&lw->todo, e->rel);
        }
        if (strncmp(e->rel, dir, strlen(dir)) != 0 || strchr(e->rel + strlen(dir), '/'))
                return 0; /* not a direct child: ignore */
        const char *base = e->rel + strlen(dir);
        if (strncmp(base, ".tmp-", 5) == 0) {
                if (e->mtime >= 0 && time(NULL) - e->mtime > TMP_STALE_SECONDS) {
                        _cleanup_free_ char *url = NULL;
                        if (object_url(lw->w, e->rel, &url) >= 0)
                                (void) delete_url(lw->w, url, "remove stale temporary", NULL);
                        cn_backend_set_error("%s", "");
                }
                return 0;
        }
        if (!cn_backend_name_valid(e->rel) || strncmp(e->rel, lw->prefix, plen) != 0)
                return 0;
        if (!e->has_size) {
                cn_backend_set_error("list: PROPFIND answer has no size for an object");
                return -EPROTO;
        }
        return lw->fn(e->rel, e->size, lw->userdata);
}

typedef struct ListCall {
        ListWalk *lw;
        const char *dir;
} ListCall;

/* One <response> of a collection's listing: skipped unless below the root. */
static int on_entry(const CnWebdavEntry *pe, void *userdata) {
        ListCall *lc = userdata;
        const char *root = lc->lw->w->root_path;
        size_t rl = strlen(root);
        int r;

        if (strncmp(pe->path, root, rl) != 0)
                return 0; /* the collection itself may come back without its trailing '/' */
        Entry e = {.collection = pe->collection, .has_size = pe->has_size, .size = pe->size, .mtime = pe->mtime};
        e.rel = strdup(pe->path + rl);
        if (!e.rel)
                return -ENOMEM;
        r = walk_entry(lc->lw, lc->dir, &e);
        free(e.rel);
        return r;
}

static int list_collection(ListWalk *lw, const char *dir) {
        WebdavBackend *w = lw->w;
        _cleanup_free_ char *url = NULL;
        _cleanup_(cn_buf_donep) CnBuf out = CN_BUF_INIT(LIST_RESPONSE_MAX);
        int r;

        if ((r = object_url(w, dir, &url)) < 0)
                return r;
        r = propfind(w, url, "1", &out, "list");
        if (r == -ENOENT)
                return 0; /* no such collection: nothing below it */
        if (r == -E2BIG) {
                cn_backend_set_error("list: PROPFIND answer for %.80s larger than %u bytes", dir, LIST_RESPONSE_MAX);
                return -EPROTO;
        }
        if (r < 0)
                return r;
        ListCall lc = {.lw = lw, .dir = dir};
        return cn_webdav_propfind_parse(out.data, out.len, dir, on_entry, &lc);
}

static int webdav_list(CnBackend *b, const char *prefix, CnBackendListFn fn, void *userdata) {
        ListWalk lw = {.w = to_webdav(b), .prefix = prefix, .fn = fn, .userdata = userdata};
        const char *slash = strrchr(prefix, '/');
        int r;

        _cleanup_free_ char *start = strndup(prefix, slash ? (size_t) (slash - prefix) + 1 : 0);
        if (!start)
                return -ENOMEM;
        r = cn_names_add(&lw.todo, start);
        while (r >= 0 && lw.todo.n > 0) {
                char *dir = lw.todo.v[--lw.todo.n];
                lw.visited++;
                r = list_collection(&lw, dir);
                free(dir);
        }
        cn_names_done(&lw.todo);
        return r < 0 ? r : 0;
}

const CnBackendOps cn_backend_webdav_https_ops = {
        .scheme = "webdav+https",
        .caps = CN_BACKEND_CAP_RANGED_GET | CN_BACKEND_CAP_ATOMIC_PUT,
        .open = webdav_https_open,
        .close = webdav_close,
        .put = webdav_put,
        .get = webdav_get,
        .stat = webdav_stat,
        .list = webdav_list,
        .remove = webdav_remove,
};

const CnBackendOps cn_backend_webdav_http_ops = {
        .scheme = "webdav+http",
        .caps = CN_BACKEND_CAP_RANGED_GET | CN_BACKEND_CAP_ATOMIC_PUT,
        .open = webdav_http_open,
        .close = webdav_close,
        .put = webdav_put,
        .get = webdav_get,
        .stat = webdav_stat,
        .list = webdav_list,
        .remove = webdav_remove,
};
