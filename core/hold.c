/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "hold.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "hex.h"
#include "macro.h"

/* Cap of a stored hold or release (FORMAT.md "Holds"): the largest body
 * (about 71 KiB) sealed, with room to spare. */
#define MAX_HOLD_OBJECT_BYTES (1u << 20)

const char *cn_hold_scope_name(CnHoldScope s) {
        switch (s) {
        case CN_HOLD_SNAPSHOT:
                return "snapshot";
        case CN_HOLD_CONTROLLER:
                return "controller";
        case CN_HOLD_PATH:
                return "path";
        case CN_HOLD_TAG:
                return "tag";
        }
        return "?";
}

void cn_hold_release_done(CnHoldRelease *r) {
        free(r->reason);
        free(r->creator);
        *r = (CnHoldRelease){};
}

void cn_hold_done(CnHold *h) {
        free(h->value);
        free(h->reason);
        free(h->reference);
        free(h->creator);
        cn_patterns_done(&h->pattern);
        *h = (CnHold){};
}

void cn_holds_done(CnHolds *h) {
        for (size_t i = 0; i < h->n; i++)
                cn_hold_done(&h->v[i]);
        free(h->v);
        for (size_t i = 0; i < h->n_releases; i++)
                cn_hold_release_done(&h->releases[i]);
        free(h->releases);
        *h = (CnHolds){};
}

static bool is_lower_hex(const char *s, size_t n) {
        return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

static size_t value_max(CnHoldScope scope) {
        switch (scope) {
        case CN_HOLD_SNAPSHOT:
                return CN_ID_HEX;
        case CN_HOLD_CONTROLLER:
                return CN_UUID_HEX;
        case CN_HOLD_PATH:
                return CN_MAX_PATH_BYTES;
        case CN_HOLD_TAG:
                return CN_MAX_LABEL_BYTES;
        }
        return 0;
}

/* What encode and decode both demand of a hold's fields. */
static bool hold_valid(const CnHold *h) {
        size_t max = value_max(h->scope);
        if (max == 0 || !h->value || !h->reason || !h->reference || !h->creator)
                return false;
        if (h->scope == CN_HOLD_SNAPSHOT || h->scope == CN_HOLD_CONTROLLER) {
                if (!is_lower_hex(h->value, max))
                        return false;
        } else if (h->value[0] == 0 || strlen(h->value) > max)
                return false;
        return h->reason[0] != 0 && strlen(h->reason) <= CN_MAX_HOLD_REASON_BYTES &&
               strlen(h->reference) <= CN_MAX_HOLD_REFERENCE_BYTES && strlen(h->creator) <= CN_MAX_LABEL_BYTES;
}

int cn_hold_encode(const CnHold *h, CnBuf *b) {
        int r;
        if (!hold_valid(h))
                return -EINVAL;
        if ((r = cn_buf_put_u8(b, (uint8_t) h->scope)) < 0 || (r = cn_buf_put_str(b, h->value)) < 0 ||
            (r = cn_buf_put_str(b, h->reason)) < 0 || (r = cn_buf_put_str(b, h->reference)) < 0 || (r = cn_buf_put_str(b, h->creator)) < 0 ||
            (r = cn_buf_put_i64(b, h->created)) < 0 || (r = cn_buf_put_u8(b, h->has_review)) < 0 ||
            (r = cn_buf_put_i64(b, h->has_review ? h->review : 0)) < 0)
                return r;
        return 0;
}

int cn_hold_decode(const uint8_t *p, size_t n, CnHold *h) {
        CnReader rd;
        uint8_t scope, has_review;
        int r;

        cn_reader_init(&rd, p, n);
        if (cn_reader_u8(&rd, &scope) < 0 || value_max(scope) == 0)
                return -EBADMSG;
        h->scope = scope;
        if ((r = cn_reader_str(&rd, value_max(h->scope), &h->value)) < 0 ||
            (r = cn_reader_str(&rd, CN_MAX_HOLD_REASON_BYTES, &h->reason)) < 0 ||
            (r = cn_reader_str(&rd, CN_MAX_HOLD_REFERENCE_BYTES, &h->reference)) < 0 ||
            (r = cn_reader_str(&rd, CN_MAX_LABEL_BYTES, &h->creator)) < 0)
                return r;
        if (cn_reader_i64(&rd, &h->created) < 0 || cn_reader_u8(&rd, &has_review) < 0 || has_review > 1 ||
            cn_reader_i64(&rd, &h->review) < 0 || !cn_reader_empty(&rd))
                return -EBADMSG;
        h->has_review = has_review;
        if ((!h->has_review && h->review != 0) || !hold_valid(h))
                return -EBADMSG;
        if (h->scope == CN_HOLD_PATH && (r = cn_patterns_add(&h->pattern, h->value)) < 0)
                return r == -EINVAL ? -EBADMSG : r;
        return 0;
}

static bool release_valid(const CnHoldRelease *r) {
        return r->reason && r->creator && r->reason[0] != 0 && strlen(r->reason) <= CN_MAX_HOLD_REASON_BYTES &&
               strlen(r->creator) <= CN_MAX_LABEL_BYTES;
}

int cn_hold_release_encode(const CnHoldRelease *rel, CnBuf *b) {
        int r;
        if (!release_valid(rel))
                return -EINVAL;
        if ((r = cn_buf_append(b, rel->hold, CN_ID_BYTES)) < 0 || (r = cn_buf_put_str(b, rel->reason)) < 0 ||
            (r = cn_buf_put_str(b, rel->creator)) < 0 || (r = cn_buf_put_i64(b, rel->created)) < 0)
                return r;
        return 0;
}

int cn_hold_release_decode(const uint8_t *p, size_t n, CnHoldRelease *rel) {
        CnReader rd;
        int r;

        cn_reader_init(&rd, p, n);
        if (cn_reader_get(&rd, rel->hold, CN_ID_BYTES) < 0)
                return -EBADMSG;
        if ((r = cn_reader_str(&rd, CN_MAX_HOLD_REASON_BYTES, &rel->reason)) < 0 ||
            (r = cn_reader_str(&rd, CN_MAX_LABEL_BYTES, &rel->creator)) < 0)
                return r;
        if (cn_reader_i64(&rd, &rel->created) < 0 || !cn_reader_empty(&rd) || !release_valid(rel))
                return -EBADMSG;
        return 0;
}

/* Seal body under c's metadata key and store it, named by its SHA-256. */
static int put_object(CnRepo *repo, CnController *c, const char *magic, const CnBuf *body,
                      uint8_t ret_id[CN_ID_BYTES]) {
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(MAX_HOLD_OBJECT_BYTES);
        CnEnvelopeHeader h = {};
        char name[CN_ENVELOPE_NAME_MAX];
        uint8_t id[CN_ID_BYTES];
        int r;

        memcpy(h.processor, cn_repo_processor_id(repo), CN_UUID_BYTES);
        memcpy(h.controller, c->id, CN_UUID_BYTES);
        r = cn_envelope_seal(&obj, magic, &h, c->meta_key, body->data, body->len);
        if (r < 0)
                return r;
        cn_envelope_content_name("holds", c->id_hex, obj.data, obj.len, id, name);
        r = cn_backend_put(cn_repo_backend(repo), name, obj.data, obj.len, CN_PUT_EXCLUSIVE);
        if (r < 0)
                return r;
        memcpy(ret_id, id, CN_ID_BYTES);
        return 0;
}

int cn_hold_save(CnRepo *repo, CnHold *h) {
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(MAX_HOLD_OBJECT_BYTES);
        int r;

        if (h->scope == CN_HOLD_CONTROLLER && (!h->value || strcmp(h->value, h->controller->id_hex) != 0))
                return -EINVAL;
        r = cn_hold_encode(h, &body);
        if (r < 0)
                return r;
        r = put_object(repo, h->controller, CN_MAGIC_HOLD, &body, h->id);
        if (r < 0)
                return r;
        cn_hex_encode(h->id, CN_ID_BYTES, h->id_hex);
        return 0;
}

static int add_release(CnHolds *holds, CnHoldRelease *rel) {
        CnHoldRelease *v = realloc(holds->releases, (holds->n_releases + 1) * sizeof *v);
        if (!v)
                return -ENOMEM;
        holds->releases = v;
        v[holds->n_releases++] = *rel;
        *rel = (CnHoldRelease){};
        return 0;
}

static int hold_ptr_id_cmp(const void *a, const void *b) {
        const CnHold *const *x = a, *const *y = b;
        return memcmp((*x)->id, (*y)->id, CN_ID_BYTES);
}

static int release_key_cmp(const void *key, const void *elem) {
        const CnHold *const *h = elem;
        return memcmp(key, (*h)->id, CN_ID_BYTES);
}

/* Point every hold at its oldest release (pointers into holds->releases,
 * which add_release may move: so this runs after every addition). Holds by
 * id, and a binary search a release: n log n, however many there are. */
static int link_releases(CnHolds *holds) {
        _cleanup_free_ CnHold **by_id = calloc(holds->n ? holds->n : 1, sizeof *by_id);
        if (!by_id)
                return -ENOMEM;
        for (size_t i = 0; i < holds->n; i++) {
                holds->v[i].release = NULL;
                by_id[i] = &holds->v[i];
        }
        if (holds->n > 1)
                qsort(by_id, holds->n, sizeof *by_id, hold_ptr_id_cmp);
        for (size_t j = 0; j < holds->n_releases; j++) {
                CnHoldRelease *rel = &holds->releases[j];
                CnHold **found = holds->n ? bsearch(rel->hold, by_id, holds->n, sizeof *by_id, release_key_cmp) : NULL;
                if (found && (!(*found)->release || rel->created < (*found)->release->created))
                        (*found)->release = rel;
        }
        return 0;
}

int cn_hold_release(CnRepo *repo, CnHolds *holds, CnHold *h, const CnHoldRelease *rel) {
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(MAX_HOLD_OBJECT_BYTES);
        CnHoldRelease copy = {};
        uint8_t id[CN_ID_BYTES];
        int r;

        if (h->release)
                return -EALREADY;
        copy.created = rel->created;
        memcpy(copy.hold, h->id, CN_ID_BYTES);
        copy.reason = strdup(rel->reason ? rel->reason : "");
        copy.creator = strdup(rel->creator ? rel->creator : "");
        if (!copy.reason || !copy.creator) {
                cn_hold_release_done(&copy);
                return -ENOMEM;
        }
        r = cn_hold_release_encode(&copy, &body);
        if (r >= 0)
                r = put_object(repo, h->controller, CN_MAGIC_HOLD_RELEASE, &body, id);
        if (r >= 0)
                r = add_release(holds, &copy);
        cn_hold_release_done(&copy);
        if (r < 0)
                return r;
        return link_releases(holds);
}

typedef struct LoadCtx {
        CnRepo *repo;
        CnController *c;
        CnStoreDamagedFn damaged;
        void *userdata;
        CnHolds holds;
        size_t n_damaged;
        CnBuf obj, body;
} LoadCtx;

/* Open holds/<ctrl>/<id>: a hold or a release of controller x->c, named by
 * its SHA-256. */
static int open_one(LoadCtx *x, const char *name) {
        CnEnvelopeHeader h;
        bool release;
        int r;

        r = cn_backend_get(cn_repo_backend(x->repo), name, 0, CN_GET_ALL, &x->obj);
        if (r < 0)
                return r;
        if (x->obj.len < CN_MAGIC_BYTES)
                return -EBADMSG;
        release = memcmp(x->obj.data, CN_MAGIC_HOLD_RELEASE, CN_MAGIC_BYTES) == 0;
        r = cn_envelope_open(x->obj.data, x->obj.len, release ? CN_MAGIC_HOLD_RELEASE : CN_MAGIC_HOLD, x->c->meta_key,
                             &h, &x->body);
        if (r < 0)
                return r;
        if (memcmp(h.controller, x->c->id, CN_UUID_BYTES) != 0 || h.epoch != 0)
                return -EBADMSG;
        r = cn_envelope_check_content_name(name, x->obj.data, x->obj.len);
        if (r < 0)
                return r;
        if (release) {
                CnHoldRelease rel = {};
                r = cn_hold_release_decode(x->body.data, x->body.len, &rel);
                if (r >= 0)
                        r = add_release(&x->holds, &rel);
                cn_hold_release_done(&rel);
                return r;
        }
        CnHold hold = {};
        r = cn_hold_decode(x->body.data, x->body.len, &hold);
        if (r >= 0 && hold.scope == CN_HOLD_CONTROLLER && strcmp(hold.value, x->c->id_hex) != 0)
                r = -EBADMSG; /* a hold on another controller, sealed under this one's key */
        CnHold *v = r >= 0 ? realloc(x->holds.v, (x->holds.n + 1) * sizeof *v) : NULL;
        if (r >= 0 && !v)
                r = -ENOMEM;
        if (r < 0) {
                cn_hold_done(&hold);
                return r;
        }
        hold.controller = x->c;
        memcpy(hold.id_hex, name + strlen(name) - CN_ID_HEX, CN_ID_HEX + 1);
        cn_hex_decode(hold.id_hex, hold.id, CN_ID_BYTES);
        x->holds.v = v;
        v[x->holds.n++] = hold;
        return 0;
}

static int load_one(const char *name, _unused_ uint64_t size, void *u) {
        LoadCtx *x = u;
        int r = open_one(x, name);

        if (r >= 0 || r == -ENOENT)
                return 0; /* ENOENT: removed meanwhile */
        if (cn_store_error_is_environment(r) || !x->damaged)
                return r;
        x->damaged(name, r, x->userdata);
        x->n_damaged++;
        return 0;
}

int cn_hold_read_object(CnRepo *repo, CnController *c, const char *name, CnBuf *ret) {
        LoadCtx x = {.repo = repo, .c = c};
        int r;

        cn_buf_init(&x.obj, MAX_HOLD_OBJECT_BYTES);
        cn_buf_init(&x.body, MAX_HOLD_OBJECT_BYTES);
        r = open_one(&x, name);
        if (r >= 0) {
                cn_buf_reset(ret);
                r = cn_buf_append(ret, x.obj.data, x.obj.len);
        }
        cn_holds_done(&x.holds);
        cn_buf_done(&x.obj);
        cn_buf_done(&x.body);
        return r;
}

static int hold_cmp(const void *a, const void *b) {
        const CnHold *x = a, *y = b;
        if (x->created != y->created)
                return x->created < y->created ? -1 : 1;
        return strcmp(x->id_hex, y->id_hex);
}

int cn_holds_load(CnRepo *repo, CnController *c, CnStoreDamagedFn damaged, void *userdata, CnHolds *ret,
                  size_t *ret_damaged) {
        LoadCtx x = {.repo = repo, .damaged = damaged, .userdata = userdata};
        char prefix[16 + CN_UUID_HEX];
        int r = 0;

        cn_buf_init(&x.obj, MAX_HOLD_OBJECT_BYTES);
        cn_buf_init(&x.body, MAX_HOLD_OBJECT_BYTES);
        for (size_t i = 0; r >= 0 && i < cn_repo_n_controllers(repo); i++) {
                x.c = cn_repo_controller(repo, i);
                if (c && x.c != c)
                        continue;
                snprintf(prefix, sizeof prefix, "holds/%s/", x.c->id_hex);
                r = cn_backend_list(cn_repo_backend(repo), prefix, load_one, &x);
        }
        cn_buf_done(&x.obj);
        cn_buf_done(&x.body);
        if (r < 0) {
                cn_holds_done(&x.holds);
                return r;
        }
        if (x.holds.n)
                qsort(x.holds.v, x.holds.n, sizeof *x.holds.v, hold_cmp);
        r = link_releases(&x.holds);
        if (r < 0) {
                cn_holds_done(&x.holds);
                return r;
        }
        *ret = x.holds;
        if (ret_damaged)
                *ret_damaged = x.n_damaged;
        return 0;
}

int cn_holds_find(CnHolds *holds, const char *prefix, CnHold **ret) {
        size_t i;
        int r = cn_hex_prefix_find(prefix, CN_ID_HEX, holds->v, holds->n, sizeof *holds->v, offsetof(CnHold, id_hex),
                                   &i);
        if (r == 1)
                *ret = &holds->v[i];
        return r;
}

/* a is b, or a directory above b (both absolute). */
static bool path_at_or_above(const char *a, size_t alen, const char *b) {
        if (alen == 1 && a[0] == '/')
                return true;
        return strncmp(a, b, alen) == 0 && (b[alen] == 0 || b[alen] == '/');
}

/* A pattern's leading components without a wildcard, from its leading '/'
 * up to the '/' before the first component that has one (or the end, less
 * a trailing '/'): its length; 1 for "/" alone. */
static size_t literal_prefix(const char *pattern) {
        size_t end = 1, i = 1;
        for (;;) {
                size_t k = i + strcspn(pattern + i, "/");
                if (strcspn(pattern + i, "*?[\\") < k - i)
                        return end;
                if (k > i)
                        end = k;
                if (pattern[k] == 0)
                        return end;
                i = k + 1;
        }
}

/* An empty, "." or ".." component in the first n bytes of path (past its
 * leading '/'): a pattern that may name what its text does not show. */
static bool odd_components(const char *path, size_t n) {
        for (size_t i = 1; i <= n;) {
                size_t k = i;
                while (k < n && path[k] != '/')
                        k++;
                if ((k == i && k < n) || (k - i == 1 && path[i] == '.') ||
                    (k - i == 2 && path[i] == '.' && path[i + 1] == '.'))
                        return true;
                i = k + 1;
        }
        return false;
}

static bool pattern_may_name_in(const CnHold *h, const CnSnapshot *s) {
        if (h->value[0] != '/')
                return true;
        size_t n = literal_prefix(h->value);
        if (odd_components(h->value, n))
                return true;
        for (size_t i = 0; i < s->n_paths; i++)
                if (path_at_or_above(h->value, n, s->paths[i]) ||
                    path_at_or_above(s->paths[i], strlen(s->paths[i]), h->value))
                        return true;
        return false;
}

static bool keeps_whole(const CnHold *h, const CnSnapshot *s) {
        switch (h->scope) {
        case CN_HOLD_SNAPSHOT:
                return strcmp(h->value, s->id_hex) == 0;
        case CN_HOLD_CONTROLLER:
                return true;
        case CN_HOLD_TAG:
                for (size_t i = 0; i < s->n_tags; i++)
                        if (strcmp(s->tags[i], h->value) == 0)
                                return true;
                return false;
        case CN_HOLD_PATH:
                return false;
        }
        return false;
}

bool cn_hold_covers_snapshot(const CnHolds *holds, const CnSnapshot *s) {
        for (size_t i = 0; i < holds->n; i++) {
                const CnHold *h = &holds->v[i];
                if (!cn_hold_active(h) || h->controller != s->controller)
                        continue;
                if (keeps_whole(h, s) || (h->scope == CN_HOLD_PATH && pattern_may_name_in(h, s)))
                        return true;
        }
        return false;
}

bool cn_hold_covers_path(const CnHolds *holds, const CnSnapshot *s, const char *path) {
        _cleanup_free_ char *p = strdup(path);
        for (size_t i = 0; i < holds->n; i++) {
                const CnHold *h = &holds->v[i];
                if (!cn_hold_active(h) || h->controller != s->controller)
                        continue;
                if (keeps_whole(h, s))
                        return true;
                if (h->scope != CN_HOLD_PATH)
                        continue;
                if (!p)
                        return true; /* out of memory: err towards keeping */
                /* path, then each directory above it */
                strcpy(p, path);
                for (;;) {
                        if (cn_patterns_match(&h->pattern, p))
                                return true;
                        char *slash = strrchr(p, '/');
                        if (!slash || slash == p) {
                                if (p[1] != 0 && cn_patterns_match(&h->pattern, "/"))
                                        return true;
                                break;
                        }
                        *slash = 0;
                }
        }
        return false;
}
