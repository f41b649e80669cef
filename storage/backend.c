/* SPDX-License-Identifier: GPL-3.0-or-later */
/* URL dispatch and the checks every backend gets for free.
 *
 * A URL picks its backend from the scheme table below; anything that does
 * not start with a known "scheme:" (or an unknown "scheme://") is a local
 * path. The wrappers validate object names once here, so a backend only
 * ever sees names that every transport can hold. */
#include "backend.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

typedef struct CnScheme {
        const char *name;        /* what precedes ':' in the URL */
        const CnBackendOps *ops; /* NULL: known, not built yet */
} CnScheme;

extern const CnBackendOps cn_backend_webdav_http_ops;   /* backend-webdav.c */
extern const CnBackendOps cn_backend_webdav_https_ops;
extern const CnBackendOps cn_backend_s3_ops;            /* backend-s3.c */
extern const CnBackendOps cn_backend_gs_ops;
extern const CnBackendOps cn_backend_sftp_ops;          /* backend-sftp.c */

/* clang-format off */
static const CnScheme schemes[] = {
        { "local", &cn_backend_local_ops },
        { "sftp", &cn_backend_sftp_ops },
        { "webdav+http", &cn_backend_webdav_http_ops },
        { "webdav+https", &cn_backend_webdav_https_ops },
        { "s3", &cn_backend_s3_ops },
        { "gs", &cn_backend_gs_ops },
};
/* clang-format on */

static _Thread_local char last_error[256];

const char *cn_backend_last_error(void) {
        return last_error;
}

void cn_backend_set_error(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(last_error, sizeof last_error, fmt, ap);
        va_end(ap);
}

static void clear_error(void) {
        last_error[0] = 0;
}

static bool name_char_ok(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
               c == '-' || c == '/';
}

/* Shared by names and list prefixes. A prefix may be empty, end in '/', and
 * end in a partial segment; a name may do none of these. */
static bool path_valid(const char *s, bool prefix) {
        size_t n = strlen(s);

        if (n > CN_BACKEND_NAME_MAX)
                return false;
        if (n == 0)
                return prefix;
        if (s[0] == '/')
                return false;

        const char *seg = s;
        for (const char *p = s;; p++) {
                if (*p != 0 && *p != '/') {
                        if (!name_char_ok(*p))
                                return false;
                        continue;
                }
                size_t len = (size_t) (p - seg);
                bool last = *p == 0;
                if (len == 0)
                        /* empty segment: "a//b", or a trailing '/' */
                        return last && prefix;
                if (!(last && prefix)) {
                        /* A prefix's last segment may still grow, so only
                         * whole segments are held to these. */
                        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
                                return false;
                }
                if (len >= 5 && memcmp(seg, ".tmp-", 5) == 0)
                        return false;
                if (last)
                        return true;
                seg = p + 1;
        }
}

bool cn_backend_url_password(const char *url, const char **ret_begin, const char **ret_end) {
        const char *auth = strstr(url, "://");
        if (!auth)
                return false;
        auth += 3;
        size_t auth_len = strcspn(auth, "/?#");
        const char *at = memrchr(auth, '@', auth_len), *colon = memchr(auth, ':', auth_len);
        if (!at || !colon || colon > at)
                return false;
        *ret_begin = colon + 1;
        *ret_end = at;
        return true;
}

bool cn_backend_name_valid(const char *name) {
        return name && path_valid(name, false);
}

static bool prefix_valid(const char *prefix) {
        return prefix && path_valid(prefix, true);
}

/* "scheme:" at the start of url, by RFC 3986 syntax; length of scheme or 0. */
static size_t scheme_len(const char *url) {
        size_t i = 0;

        if (!((url[0] >= 'A' && url[0] <= 'Z') || (url[0] >= 'a' && url[0] <= 'z')))
                return 0;
        for (i = 1; url[i] != 0 && url[i] != ':'; i++) {
                char c = url[i];
                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                      c == '-' || c == '.'))
                        return 0;
        }
        return url[i] == ':' ? i : 0;
}

int cn_backend_open(const char *url, bool create, CnBackend **ret) {
        const CnBackendOps *ops = &cn_backend_local_ops;
        const char *location = url;
        CnBackend *b = NULL;
        int r;

        clear_error();
        if (!url || !ret)
                return -EINVAL;

        size_t sl = scheme_len(url);
        if (sl > 0) {
                const CnScheme *found = NULL;
                for (size_t i = 0; i < CN_ELEMENTSOF(schemes); i++)
                        if (strlen(schemes[i].name) == sl && strncmp(url, schemes[i].name, sl) == 0) {
                                found = &schemes[i];
                                break;
                        }
                if (found) {
                        if (!found->ops) {
                                cn_backend_set_error("%s: backend not available in this build", found->name);
                                return -EOPNOTSUPP;
                        }
                        ops = found->ops;
                        location = url + sl + 1;
                } else if (strncmp(url + sl + 1, "//", 2) == 0) {
                        cn_backend_set_error("unknown URL scheme \"%.*s\"", (int) CN_MIN(sl, (size_t) 64), url);
                        return -EOPNOTSUPP;
                }
                /* else a relative path that happens to hold a ':' */
        }
        if (location[0] == 0) {
                cn_backend_set_error("empty repository location");
                return -EINVAL;
        }

        _cleanup_free_ char *u = strdup(url);
        if (!u)
                return -ENOMEM;
        r = ops->open(location, create, &b);
        if (r < 0)
                return r;
        b->ops = ops;
        b->url = TAKE_PTR(u);
        *ret = b;
        return 0;
}

CnBackend *cn_backend_close(CnBackend *b) {
        if (!b)
                return NULL;
        char *url = b->url, *local = b->local_path;
        b->ops->close(b);
        free(url);
        free(local);
        return NULL;
}

unsigned cn_backend_caps(const CnBackend *b) {
        return b->ops->caps & ~__atomic_load_n(&b->caps_missing, __ATOMIC_RELAXED);
}

unsigned cn_backend_connections(const CnBackend *b) {
        return b->connections ? b->connections : 1;
}

const char *cn_backend_local_path(const CnBackend *b) {
        return b->local_path;
}

const char *cn_backend_url(const CnBackend *b) {
        return b->url ? b->url : "";
}

static int bad_name(const char *name) {
        cn_backend_set_error("invalid object name \"%.64s\"", name ? name : "(null)");
        return -EINVAL;
}

int cn_backend_put(CnBackend *b, const char *name, const void *p, size_t n, unsigned flags) {
        clear_error();
        if (!cn_backend_name_valid(name))
                return bad_name(name);
        if ((!p && n > 0) || (flags & ~(unsigned) CN_PUT_EXCLUSIVE))
                return -EINVAL;
        return b->ops->put(b, name, p ? p : "", n, flags);
}

int cn_backend_get(CnBackend *b, const char *name, uint64_t offset, uint64_t length, CnBuf *out) {
        clear_error();
        if (!out)
                return -EINVAL;
        if (!cn_backend_name_valid(name)) {
                cn_buf_reset(out);
                return bad_name(name);
        }
        return b->ops->get(b, name, offset, length, out);
}

int cn_backend_stat(CnBackend *b, const char *name, uint64_t *ret_size) {
        clear_error();
        if (!cn_backend_name_valid(name))
                return bad_name(name);
        if (!ret_size)
                return -EINVAL;
        return b->ops->stat(b, name, ret_size);
}

int cn_backend_list(CnBackend *b, const char *prefix, CnBackendListFn fn, void *userdata) {
        clear_error();
        if (!prefix_valid(prefix))
                return bad_name(prefix);
        if (!fn)
                return -EINVAL;
        return b->ops->list(b, prefix, fn, userdata);
}

int cn_backend_remove(CnBackend *b, const char *name) {
        clear_error();
        if (!cn_backend_name_valid(name))
                return bad_name(name);
        return b->ops->remove(b, name);
}

int cn_backend_reap(CnBackend *b) {
        clear_error();
        return b->ops->reap ? b->ops->reap(b) : 0;
}

int cn_names_add(CnNames *l, const char *name) {
        if (l->n >= (1u << 24))
                return -E2BIG;
        char **v = realloc(l->v, (l->n + 1) * sizeof *v);
        if (!v)
                return -ENOMEM;
        l->v = v;
        if (!(v[l->n] = strdup(name)))
                return -ENOMEM;
        l->n++;
        return 0;
}

void cn_names_done(CnNames *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        free(l->v);
        *l = (CnNames) {};
}

static int add_listed(const char *name, uint64_t size, void *u) {
        return cn_names_add(u, name);
}

static int names_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int cn_backend_list_names(CnBackend *b, const char *prefix, CnNames *ret) {
        CnNames l = {};
        int r = cn_backend_list(b, prefix, add_listed, &l);
        if (r < 0) {
                cn_names_done(&l);
                return r;
        }
        if (l.n > 1)
                qsort(l.v, l.n, sizeof *l.v, names_cmp);
        *ret = l;
        return 0;
}
