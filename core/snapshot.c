/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "snapshot.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "hex.h"
#include "macro.h"

#define MAX_PATHS 65536
#define MAX_TAGS 4096
#define MAX_ERRORS (1u << 20)

static void strv_free(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

void cn_snapshot_done(CnSnapshot *s) {
        free(s->hostname);
        free(s->username);
        strv_free(s->paths, s->n_paths);
        strv_free(s->tags, s->n_tags);
        for (size_t i = 0; i < s->n_errors; i++)
                free(s->errors[i].path);
        free(s->errors);
        *s = (CnSnapshot) {};
}

void cn_snapshots_free(CnSnapshot *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                cn_snapshot_done(&s[i]);
        free(s);
}

static int put_strv(CnBuf *b, char *const *v, size_t n) {
        int r = cn_buf_put_u32(b, (uint32_t) n);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = cn_buf_put_str(b, v[i]);
        return r;
}

/* body = time:i64 nsec:u32 hostname username paths tags tree[32] has_parent:u8
 *        parent[32] flags:u32 files dirs others bytes blobs_new stored_new
 *        duration_ns (u64 each) errors:u32 { path:bytes32 errno:u32 }* */
int cn_snapshot_encode(const CnSnapshot *s, CnBuf *b) {
        int r;
        if ((r = cn_buf_put_i64(b, s->time.sec)) < 0 || (r = cn_buf_put_u32(b, s->time.nsec)) < 0 ||
            (r = cn_buf_put_str(b, s->hostname)) < 0 || (r = cn_buf_put_str(b, s->username)) < 0 ||
            (r = put_strv(b, s->paths, s->n_paths)) < 0 || (r = put_strv(b, s->tags, s->n_tags)) < 0 ||
            (r = cn_buf_append(b, s->tree, CN_ID_BYTES)) < 0 || (r = cn_buf_put_u8(b, s->has_parent)) < 0 ||
            (r = cn_buf_append(b, s->parent, CN_ID_BYTES)) < 0 || (r = cn_buf_put_u32(b, s->flags)) < 0 ||
            (r = cn_buf_put_u64(b, s->files)) < 0 || (r = cn_buf_put_u64(b, s->dirs)) < 0 ||
            (r = cn_buf_put_u64(b, s->others)) < 0 || (r = cn_buf_put_u64(b, s->bytes)) < 0 ||
            (r = cn_buf_put_u64(b, s->blobs_new)) < 0 || (r = cn_buf_put_u64(b, s->stored_bytes_new)) < 0 ||
            (r = cn_buf_put_u64(b, s->duration_ns)) < 0 || (r = cn_buf_put_u32(b, (uint32_t) s->n_errors)) < 0)
                return r;
        for (size_t i = 0; i < s->n_errors; i++)
                if ((r = cn_buf_put_str(b, s->errors[i].path)) < 0 || (r = cn_buf_put_u32(b, (uint32_t) s->errors[i].error)) < 0)
                        return r;
        return 0;
}

static int get_strv(CnReader *rd, size_t max_n, char ***ret, size_t *ret_n) {
        uint32_t n;
        int r;
        if (cn_reader_u32(rd, &n) < 0 || n > max_n || (uint64_t) n * 4 > rd->left)
                return -EBADMSG;
        *ret = calloc(n ? n : 1, sizeof **ret);
        if (!*ret)
                return -ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
                (*ret_n)++;
                r = cn_reader_str(rd, CN_MAX_PATH_BYTES, &(*ret)[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int cn_snapshot_decode(const uint8_t *p, size_t len, CnSnapshot *s) {
        CnReader rd;
        uint8_t has_parent;
        uint32_t n;
        int r;

        cn_reader_init(&rd, p, len);
        if (cn_reader_i64(&rd, &s->time.sec) < 0 || cn_reader_u32(&rd, &s->time.nsec) < 0 ||
            s->time.nsec >= 1000000000u)
                return -EBADMSG;
        if ((r = cn_reader_str(&rd, CN_MAX_LABEL_BYTES, &s->hostname)) < 0 ||
            (r = cn_reader_str(&rd, CN_MAX_LABEL_BYTES, &s->username)) < 0 ||
            (r = get_strv(&rd, MAX_PATHS, &s->paths, &s->n_paths)) < 0 ||
            (r = get_strv(&rd, MAX_TAGS, &s->tags, &s->n_tags)) < 0)
                return r;
        if (cn_reader_get(&rd, s->tree, CN_ID_BYTES) < 0 || cn_reader_u8(&rd, &has_parent) < 0 || has_parent > 1 ||
            cn_reader_get(&rd, s->parent, CN_ID_BYTES) < 0 || cn_reader_u32(&rd, &s->flags) < 0 ||
            cn_reader_u64(&rd, &s->files) < 0 || cn_reader_u64(&rd, &s->dirs) < 0 ||
            cn_reader_u64(&rd, &s->others) < 0 || cn_reader_u64(&rd, &s->bytes) < 0 ||
            cn_reader_u64(&rd, &s->blobs_new) < 0 || cn_reader_u64(&rd, &s->stored_bytes_new) < 0 ||
            cn_reader_u64(&rd, &s->duration_ns) < 0 || cn_reader_u32(&rd, &n) < 0 || n > MAX_ERRORS ||
            (uint64_t) n * 8 > rd.left)
                return -EBADMSG;
        s->has_parent = has_parent;
        s->errors = calloc(n ? n : 1, sizeof *s->errors);
        if (!s->errors)
                return -ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
                uint32_t e;
                s->n_errors++;
                if ((r = cn_reader_str(&rd, CN_MAX_PATH_BYTES, &s->errors[i].path)) < 0)
                        return r;
                if (cn_reader_u32(&rd, &e) < 0 || e > 4095)
                        return -EBADMSG;
                s->errors[i].error = (int) e;
        }
        return cn_reader_empty(&rd) ? 0 : -EBADMSG;
}

/* Version 3: HMAC-SHA-256(chunk-id key, "cairn.snapshot.v3" || body). */
static int keyed_id(const CnController *c, const uint8_t *body, size_t n, uint8_t ret[CN_ID_BYTES]) {
        const size_t dl = sizeof CN_SNAPSHOT_ID_DOMAIN - 1;
        _cleanup_free_ uint8_t *m = malloc(dl + n);
        if (!m)
                return -ENOMEM;
        memcpy(m, CN_SNAPSHOT_ID_DOMAIN, dl);
        memcpy(m + dl, body, n);
        cn_id_hmac(ret, m, dl + n, c->id_key);
        return 0;
}

int cn_snapshot_save(CnRepo *repo, CnSnapshot *s) {
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(CN_MAX_META_BYTES);
        const CnController *c = s->controller;
        char name[CN_ENVELOPE_NAME_MAX];
        int r;

        r = cn_snapshot_encode(s, &body);
        if (r < 0)
                return r;
        r = cn_controller_seal(repo, c, CN_MAGIC_SNAPSHOT, body.data, body.len, &obj);
        if (r < 0)
                return r;
        if (c->format == 1) {
                /* Version 2: the id is the SHA-256 of the stored bytes, so no other
                 * snapshot (an older one copied over this name) can pass for it. */
                cn_envelope_content_name("snapshots", c->id_hex, obj.data, obj.len, s->id, name);
                cn_hex_encode(s->id, CN_ID_BYTES, s->id_hex);
                return cn_backend_put(cn_repo_backend(repo), name, obj.data, obj.len, CN_PUT_EXCLUSIVE);
        }
        /* Version 3: the id is keyed over the body, so it survives sealing
         * again under the next epoch's key. Two objects of one name hold the
         * same body: a plain put, and one already there (a resumed erasure's
         * rewrite) is the same snapshot. */
        r = keyed_id(c, body.data, body.len, s->id);
        if (r < 0)
                return r;
        cn_hex_encode(s->id, CN_ID_BYTES, s->id_hex);
        snprintf(name, sizeof name, "snapshots/%s/%s", c->id_hex, s->id_hex);
        return cn_backend_put(cn_repo_backend(repo), name, obj.data, obj.len, 0);
}

int cn_snapshot_remove(CnRepo *repo, const CnSnapshot *s) {
        char name[32 + CN_UUID_HEX + CN_ID_HEX];
        snprintf(name, sizeof name, "snapshots/%s/%s", s->controller->id_hex, s->id_hex);
        return cn_backend_remove(cn_repo_backend(repo), name);
}

typedef struct ListCtx {
        CnRepo *repo;
        CnController *c;
        CnStoreDamagedFn damaged;
        void *userdata;
        CnSnapshot *v;
        size_t n;
        CnBuf obj, body;
} ListCtx;

/* Open snapshots/<ctrl>/<id> into s: its envelope must name the controller
 * of its folder, and a version 2 snapshot must be named by its SHA-256. */
static int open_one(ListCtx *x, const char *name, CnSnapshot *s) {
        char folder[CN_UUID_HEX + 1];
        CnEnvelopeHeader h;
        CnController *c;
        const char *rest = name + strlen("snapshots/");
        const char *slash = strchr(rest, '/');
        int r;

        if (!slash || slash - rest != CN_UUID_HEX || strchr(slash + 1, '/') ||
            cn_hex_decode(slash + 1, s->id, CN_ID_BYTES) < 0)
                return -EBADMSG;        /* not a snapshot's name */
        memcpy(folder, rest, CN_UUID_HEX);
        folder[CN_UUID_HEX] = 0;
        c = NULL;
        for (size_t i = 0; i < cn_repo_n_controllers(x->repo) && !c; i++)
                if (strcmp(cn_repo_controller(x->repo, i)->id_hex, folder) == 0)
                        c = cn_repo_controller(x->repo, i);
        if (!c)
                return -ENOKEY;         /* no controller of this repository */
        r = cn_backend_get(cn_repo_backend(x->repo), name, 0, CN_GET_ALL, &x->obj);
        if (r < 0)
                return r;
        r = cn_controller_open(x->repo, c, CN_MAGIC_SNAPSHOT, x->obj.data, x->obj.len, &h, &x->body);
        if (r < 0)
                return r;
        if (h.version == 2 && (r = cn_envelope_check_content_name(name, x->obj.data, x->obj.len)) < 0)
                return r;
        if (h.version == 3) {
                uint8_t id[CN_ID_BYTES];
                r = keyed_id(c, x->body.data, x->body.len, id);
                if (r < 0)
                        return r;
                if (memcmp(id, s->id, CN_ID_BYTES) != 0)
                        return -EBADMSG;
        }
        r = cn_snapshot_decode(x->body.data, x->body.len, s);
        if (r < 0)
                return r;
        s->controller = c;
        memcpy(s->id_hex, slash + 1, CN_ID_HEX + 1);
        return 0;
}

int cn_snapshot_reseal(CnRepo *repo, const CnSnapshot *s, uint32_t epoch) {
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf out = CN_BUF_INIT(CN_MAX_META_BYTES);
        const CnController *c = s->controller;
        char name[CN_ENVELOPE_NAME_MAX];
        CnEnvelopeHeader h;
        int r;

        if (c->format != 2)
                return -EOPNOTSUPP;
        snprintf(name, sizeof name, "snapshots/%s/%s", c->id_hex, s->id_hex);
        r = cn_backend_get(cn_repo_backend(repo), name, 0, CN_GET_ALL, &obj);
        if (r < 0)
                return r;
        r = cn_controller_open(repo, c, CN_MAGIC_SNAPSHOT, obj.data, obj.len, &h, &body);
        if (r < 0)
                return r;
        if (h.epoch == epoch)
                return 0;
        r = cn_controller_seal_at(repo, c, CN_MAGIC_SNAPSHOT, epoch, body.data, body.len, &out);
        if (r < 0)
                return r;
        return cn_backend_put(cn_repo_backend(repo), name, out.data, out.len, 0);
}

int cn_snapshot_read_object(CnRepo *repo, const CnSnapshot *s, CnBuf *ret) {
        ListCtx x = { .repo = repo };
        CnSnapshot again = {};
        char name[CN_ENVELOPE_NAME_MAX];
        int r;

        snprintf(name, sizeof name, "snapshots/%s/%s", s->controller->id_hex, s->id_hex);
        cn_buf_init(&x.obj, CN_MAX_META_BYTES);
        cn_buf_init(&x.body, CN_MAX_META_BYTES);
        r = open_one(&x, name, &again);
        /* Read again since it was listed: it must still be that snapshot. */
        if (r >= 0 && (again.controller != s->controller || memcmp(again.tree, s->tree, CN_ID_BYTES) != 0 ||
                       again.time.sec != s->time.sec || again.time.nsec != s->time.nsec))
                r = -EBADMSG;
        if (r >= 0) {
                cn_buf_reset(ret);
                r = cn_buf_append(ret, x.obj.data, x.obj.len);
        }
        cn_snapshot_done(&again);
        cn_buf_done(&x.obj);
        cn_buf_done(&x.body);
        return r;
}

static int list_one(const char *name, _unused_ uint64_t size, void *u) {
        ListCtx *x = u;
        CnSnapshot s = {};
        int r = open_one(x, name, &s);

        if (r < 0) {
                cn_snapshot_done(&s);
                if (r == -ENOENT)
                        return 0;       /* removed meanwhile */
                if (cn_store_error_is_environment(r) || !x->damaged)
                        return r;
                x->damaged(name, r, x->userdata);
                return 0;
        }
        CnSnapshot *v = realloc(x->v, (x->n + 1) * sizeof *v);
        if (!v) {
                cn_snapshot_done(&s);
                return -ENOMEM;
        }
        x->v = v;
        v[x->n++] = s;
        return 0;
}

static int snapshot_time_cmp(const void *a, const void *b) {
        const CnSnapshot *x = a, *y = b;
        if (x->time.sec != y->time.sec)
                return x->time.sec < y->time.sec ? -1 : 1;
        if (x->time.nsec != y->time.nsec)
                return x->time.nsec < y->time.nsec ? -1 : 1;
        return strcmp(x->id_hex, y->id_hex);
}

int cn_snapshot_list(CnRepo *repo, CnController *c, CnStoreDamagedFn damaged, void *userdata, CnSnapshot **ret,
                     size_t *ret_n) {
        ListCtx x = { .repo = repo, .c = c, .damaged = damaged, .userdata = userdata };
        char prefix[32 + CN_UUID_HEX];
        int r;

        cn_buf_init(&x.obj, CN_MAX_META_BYTES);
        cn_buf_init(&x.body, CN_MAX_META_BYTES);
        if (c)
                snprintf(prefix, sizeof prefix, "snapshots/%s/", c->id_hex);
        else
                snprintf(prefix, sizeof prefix, "snapshots/");
        r = cn_backend_list(cn_repo_backend(repo), prefix, list_one, &x);
        cn_buf_done(&x.obj);
        cn_buf_done(&x.body);
        if (r < 0) {
                cn_snapshots_free(x.v, x.n);
                return r;
        }
        if (x.n)
                qsort(x.v, x.n, sizeof *x.v, snapshot_time_cmp);
        *ret = x.v;
        *ret_n = x.n;
        return 0;
}

int cn_snapshot_find(CnSnapshot *list, size_t n, const char *what, CnSnapshot **ret) {
        CnSnapshot *found = NULL;
        size_t len = strlen(what);
        int count = 0;

        if (strcmp(what, "latest") == 0) {
                if (n == 0)
                        return 0;
                *ret = &list[n - 1];
                return 1;
        }
        if (len == 0 || len > CN_ID_HEX || strspn(what, "0123456789abcdefABCDEF") != len)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (strncasecmp(list[i].id_hex, what, len) == 0) {
                        found = &list[i];
                        if (count < INT_MAX)
                                count++;
                }
        if (count == 1)
                *ret = found;
        return count;
}

static int strv_add(char ***v, size_t *n, const char *s, size_t len) {
        char *copy = strndup(s, len);
        if (!copy)
                return -ENOMEM;
        char **a = realloc(*v, (*n + 1) * sizeof *a);
        if (!a) {
                free(copy);
                return -ENOMEM;
        }
        a[(*n)++] = copy;
        *v = a;
        return 0;
}

int cn_tag_list_parse(const char *s, CnTagList *ret) {
        CnTagList l = {};
        for (const char *p = s;;) {
                const char *comma = strchrnul(p, ',');
                const char *b = p, *e = comma;
                while (b < e && (*b == ' ' || *b == '\t'))
                        b++;
                while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
                        e--;
                int r = strv_add(&l.tags, &l.n_tags, b, (size_t) (e - b));
                if (r < 0) {
                        cn_tag_list_done(&l);
                        return r;
                }
                if (!*comma)
                        break;
                p = comma + 1;
        }
        *ret = l;
        return 0;
}

void cn_tag_list_done(CnTagList *l) {
        strv_free(l->tags, l->n_tags);
        *l = (CnTagList) {};
}

static bool strv_contains(char *const *v, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

bool cn_snapshot_has_tags(const CnSnapshot *s, const CnTagList *l) {
        /* restic's HasTags, in its order: an empty tag before any the
         * snapshot lacks matches a snapshot without tags. */
        for (size_t i = 0; i < l->n_tags; i++) {
                if (!*l->tags[i] && s->n_tags == 0)
                        return true;
                if (!strv_contains(s->tags, s->n_tags, l->tags[i]))
                        return false;
        }
        return true;
}

bool cn_snapshot_filter_empty(const CnSnapshotFilter *f) {
        return !f || f->n_hosts + f->n_tag_lists + f->n_paths == 0;
}

bool cn_snapshot_matches(const CnSnapshot *s, const CnSnapshotFilter *f) {
        if (!f)
                return true;
        if (f->n_hosts && !strv_contains(f->hosts, f->n_hosts, s->hostname))
                return false;
        bool tagged = f->n_tag_lists == 0;
        for (size_t i = 0; i < f->n_tag_lists && !tagged; i++)
                tagged = cn_snapshot_has_tags(s, &f->tag_lists[i]);
        if (!tagged)
                return false;
        for (size_t i = 0; i < f->n_paths; i++)
                if (!strv_contains(s->paths, s->n_paths, f->paths[i]))
                        return false;
        return true;
}

int cn_snapshot_filter_add_host(CnSnapshotFilter *f, const char *host) {
        return strv_add(&f->hosts, &f->n_hosts, host, strlen(host));
}

int cn_snapshot_filter_add_path(CnSnapshotFilter *f, const char *path) {
        return strv_add(&f->paths, &f->n_paths, path, strlen(path));
}

int cn_snapshot_filter_add_tags(CnSnapshotFilter *f, const char *tags) {
        CnTagList l;
        int r = cn_tag_list_parse(tags, &l);
        if (r < 0)
                return r;
        CnTagList *a = realloc(f->tag_lists, (f->n_tag_lists + 1) * sizeof *a);
        if (!a) {
                cn_tag_list_done(&l);
                return -ENOMEM;
        }
        a[f->n_tag_lists++] = l;
        f->tag_lists = a;
        return 0;
}

void cn_snapshot_filter_done(CnSnapshotFilter *f) {
        strv_free(f->hosts, f->n_hosts);
        for (size_t i = 0; i < f->n_tag_lists; i++)
                cn_tag_list_done(&f->tag_lists[i]);
        free(f->tag_lists);
        strv_free(f->paths, f->n_paths);
        *f = (CnSnapshotFilter) {};
}

CnSnapshot *cn_snapshot_latest(CnSnapshot *list, size_t n, const CnController *c, const CnSnapshotFilter *f) {
        for (size_t i = n; i > 0; i--)
                if ((!c || list[i - 1].controller == c) && cn_snapshot_matches(&list[i - 1], f))
                        return &list[i - 1];
        return NULL;
}

size_t cn_snapshot_filter_list(CnSnapshot *list, size_t n, const CnSnapshotFilter *f) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                if (cn_snapshot_matches(&list[i], f)) {
                        CnSnapshot t = list[k];
                        list[k++] = list[i];
                        list[i] = t;
                }
        return k;
}
