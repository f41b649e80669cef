/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "location.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certificate.h"
#include "envelope.h"
#include "hex.h"
#include "macro.h"

/* Cap of a stored location, grant, removal or revocation (FORMAT.md
 * "Limits"): the largest body (about 5.7 KiB) sealed, with room to spare. */
#define MAX_OBJECT_BYTES (64u << 10)

#define LOCATIONS "locations/"
#define GRANTS "grants/"

void cn_location_done(CnLocation *l) {
        free(l->name);
        free(l->provider);
        free(l->region);
        free(l->note);
        free(l->creator);
        *l = (CnLocation){};
}

void cn_location_end_done(CnLocationEnd *e) {
        free(e->creator);
        *e = (CnLocationEnd){};
}

void cn_locations_done(CnLocations *s) {
        for (size_t i = 0; i < s->n; i++)
                cn_location_done(&s->v[i]);
        free(s->v);
        for (size_t i = 0; i < s->n_ends; i++)
                cn_location_end_done(&s->ends[i]);
        free(s->ends);
        *s = (CnLocations){};
}

bool cn_location_name_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        return n >= 1 && n <= CN_LOCATION_NAME_MAX &&
               strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

bool cn_location_text_valid(const char *s, size_t min, size_t max) {
        return s && strlen(s) >= min && cn_certificate_text_valid(s, max);
}

static bool creator_valid(const char *s) {
        return s && strlen(s) <= CN_MAX_LABEL_BYTES;
}

static bool location_valid(const CnLocation *l) {
        return cn_location_name_valid(l->name) && cn_location_text_valid(l->provider, 1, CN_LOCATION_TEXT_MAX) &&
               cn_location_text_valid(l->region, 1, CN_LOCATION_TEXT_MAX) &&
               cn_location_text_valid(l->note, 0, CN_LOCATION_NOTE_MAX) && creator_valid(l->creator);
}

bool cn_location_same(const CnLocation *a, const CnLocation *b) {
        return strcmp(a->name, b->name) == 0 && strcmp(a->provider, b->provider) == 0 &&
               strcmp(a->region, b->region) == 0;
}

int cn_location_encode(const CnLocation *l, CnBuf *b) {
        int r;
        if (!location_valid(l))
                return -EINVAL;
        if ((r = cn_buf_put_str(b, l->name)) < 0 || (r = cn_buf_put_str(b, l->provider)) < 0 || (r = cn_buf_put_str(b, l->region)) < 0 ||
            (r = cn_buf_put_str(b, l->note)) < 0 || (r = cn_buf_put_str(b, l->creator)) < 0 ||
            (r = cn_buf_put_i64(b, l->created)) < 0)
                return r;
        return 0;
}

int cn_location_decode(const uint8_t *p, size_t n, CnLocation *l) {
        CnReader rd;
        int r;

        cn_reader_init(&rd, p, n);
        if ((r = cn_reader_str(&rd, CN_LOCATION_NAME_MAX, &l->name)) < 0 ||
            (r = cn_reader_str(&rd, CN_LOCATION_TEXT_MAX, &l->provider)) < 0 ||
            (r = cn_reader_str(&rd, CN_LOCATION_TEXT_MAX, &l->region)) < 0 ||
            (r = cn_reader_str(&rd, CN_LOCATION_NOTE_MAX, &l->note)) < 0 ||
            (r = cn_reader_str(&rd, CN_MAX_LABEL_BYTES, &l->creator)) < 0)
                return r;
        if (cn_reader_i64(&rd, &l->created) < 0 || !cn_reader_empty(&rd) || !location_valid(l))
                return -EBADMSG;
        return 0;
}

int cn_location_end_encode(const CnLocationEnd *e, CnBuf *b) {
        int r;
        if (!creator_valid(e->creator))
                return -EINVAL;
        if ((r = cn_buf_append(b, e->target, CN_ID_BYTES)) < 0 || (r = cn_buf_put_str(b, e->creator)) < 0 ||
            (r = cn_buf_put_i64(b, e->created)) < 0)
                return r;
        return 0;
}

int cn_location_end_decode(const uint8_t *p, size_t n, CnLocationEnd *e) {
        CnReader rd;
        int r;

        cn_reader_init(&rd, p, n);
        if (cn_reader_get(&rd, e->target, CN_ID_BYTES) < 0)
                return -EBADMSG;
        if ((r = cn_reader_str(&rd, CN_MAX_LABEL_BYTES, &e->creator)) < 0)
                return r;
        if (cn_reader_i64(&rd, &e->created) < 0 || !cn_reader_empty(&rd))
                return -EBADMSG;
        return 0;
}

/* ---- in the repository ---- */

/* Where objects of one set live and how they are sealed: the repository's
 * locations (c NULL: config key, controller all zeros) or c's grants (c's
 * metadata key, controller c). */
typedef struct Folder {
        const CnController *c;
        char prefix[16 + CN_UUID_HEX]; /* "locations/" or "grants/<ctrl>/" */
        const char *magic, *end_magic;
        uint8_t *key; /* secret memory, owned (locations) or borrowed (grants) */
        uint8_t controller[CN_UUID_BYTES];
} Folder;

static int folder_init(CnRepo *r, const CnController *c, Folder *ret) {
        *ret = (Folder){.c = c};
        if (c) {
                snprintf(ret->prefix, sizeof ret->prefix, GRANTS "%s/", c->id_hex);
                ret->magic = CN_MAGIC_GRANT;
                ret->end_magic = CN_MAGIC_GRANT_REVOKE;
                ret->key = c->meta_key;
                memcpy(ret->controller, c->id, CN_UUID_BYTES);
                return 0;
        }
        snprintf(ret->prefix, sizeof ret->prefix, LOCATIONS);
        ret->magic = CN_MAGIC_LOCATION;
        ret->end_magic = CN_MAGIC_LOCATION_REMOVAL;
        ret->key = cn_secret_new(CN_KEY_BYTES);
        if (!ret->key)
                return -ENOMEM;
        int k = cn_repo_config_key(r, ret->key);
        if (k < 0) {
                cn_secret_free(ret->key);
                ret->key = NULL;
                return k;
        }
        return 0;
}

static void folder_done(Folder *f) {
        if (!f->c)
                cn_secret_free(f->key);
        f->key = NULL;
}

/* Seal body as an object of folder f and store it under its SHA-256. */
static int put_object(CnRepo *r, const Folder *f, const char *magic, const CnBuf *body, uint8_t ret_id[CN_ID_BYTES],
                      char ret_hex[CN_ID_HEX + 1]) {
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(MAX_OBJECT_BYTES);
        CnEnvelopeHeader h = {};
        char name[CN_LOCATION_OBJECT_NAME_MAX + 1], hex[CN_ID_HEX + 1];
        uint8_t id[CN_ID_BYTES];
        int k;

        memcpy(h.processor, cn_repo_processor_id(r), CN_UUID_BYTES);
        memcpy(h.controller, f->controller, CN_UUID_BYTES);
        k = cn_envelope_seal(&obj, magic, &h, f->key, body->data, body->len);
        if (k < 0)
                return k;
        cn_envelope_name_id(obj.data, obj.len, id);
        cn_hex_encode(id, CN_ID_BYTES, hex);
        snprintf(name, sizeof name, "%s%s", f->prefix, hex);
        k = cn_backend_put(cn_repo_backend(r), name, obj.data, obj.len, CN_PUT_EXCLUSIVE);
        if (k < 0)
                return k;
        memcpy(ret_id, id, CN_ID_BYTES);
        if (ret_hex)
                memcpy(ret_hex, hex, sizeof hex);
        return 0;
}

static int add_entry(CnRepo *r, const CnController *c, CnLocation *l) {
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(MAX_OBJECT_BYTES);
        Folder f;
        int k = cn_location_encode(l, &body);
        if (k < 0)
                return k;
        if ((k = folder_init(r, c, &f)) < 0)
                return k;
        k = put_object(r, &f, f.magic, &body, l->id, l->id_hex);
        folder_done(&f);
        return k;
}

int cn_location_add(CnRepo *r, CnLocation *l) {
        return add_entry(r, NULL, l);
}

int cn_grant_add(CnRepo *r, const CnController *c, CnLocation *g) {
        return add_entry(r, c, g);
}

static int end_entry(CnRepo *r, const CnController *c, CnLocation *l, const char *creator, int64_t created) {
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(MAX_OBJECT_BYTES);
        CnLocationEnd e = {.creator = (char *) (creator ? creator : ""), .created = created};
        uint8_t id[CN_ID_BYTES];
        Folder f;
        int k;

        if (l->end)
                return -EALREADY;
        memcpy(e.target, l->id, CN_ID_BYTES);
        if ((k = cn_location_end_encode(&e, &body)) < 0 || (k = folder_init(r, c, &f)) < 0)
                return k;
        k = put_object(r, &f, f.end_magic, &body, id, NULL);
        folder_done(&f);
        return k;
}

int cn_location_remove(CnRepo *r, CnLocation *l, const char *creator, int64_t created) {
        return end_entry(r, NULL, l, creator, created);
}

int cn_grant_revoke(CnRepo *r, const CnController *c, CnLocation *g, const char *creator, int64_t created) {
        return end_entry(r, c, g, creator, created);
}

typedef struct LoadCtx {
        CnRepo *repo;
        const Folder *f;
        CnStoreDamagedFn damaged;
        void *userdata;
        CnLocations set;
        size_t cap, cap_ends;
        CnBuf obj, body;
} LoadCtx;

/* Open object name of x->f into x->body: named <prefix><its SHA-256>,
 * either kind of the folder (*ret_end: the ending kind), this processor,
 * controller and epoch 0. */
static int open_one(LoadCtx *x, const char *name, bool *ret_end) {
        const Folder *f = x->f;
        CnEnvelopeHeader h;
        bool end;
        int k;

        if (strncmp(name, f->prefix, strlen(f->prefix)) != 0 || strlen(name) != strlen(f->prefix) + CN_ID_HEX)
                return -EBADMSG;
        k = cn_backend_get(cn_repo_backend(x->repo), name, 0, CN_GET_ALL, &x->obj);
        if (k < 0)
                return k;
        if (x->obj.len < CN_MAGIC_BYTES)
                return -EBADMSG;
        end = memcmp(x->obj.data, f->end_magic, CN_MAGIC_BYTES) == 0;
        k = cn_envelope_open(x->obj.data, x->obj.len, end ? f->end_magic : f->magic, f->key, &h, &x->body);
        if (k < 0)
                return k;
        if (!cn_memeq(h.processor, cn_repo_processor_id(x->repo), CN_UUID_BYTES) ||
            memcmp(h.controller, f->controller, CN_UUID_BYTES) != 0 || h.epoch != 0)
                return -EBADMSG;
        k = cn_envelope_check_content_name(name, x->obj.data, x->obj.len);
        if (k < 0)
                return k;
        *ret_end = end;
        return 0;
}

static int add_one(LoadCtx *x, const char *name) {
        bool end;
        int k = open_one(x, name, &end);
        if (k < 0)
                return k;
        if (end) {
                CnLocationEnd e = {};
                k = cn_location_end_decode(x->body.data, x->body.len, &e);
                if (k >= 0)
                        k = CN_GROW(x->set.ends, x->cap_ends, x->set.n_ends);
                if (k < 0) {
                        cn_location_end_done(&e);
                        return k;
                }
                x->set.ends[x->set.n_ends++] = e;
                return 0;
        }
        CnLocation l = {};
        k = cn_location_decode(x->body.data, x->body.len, &l);
        if (k >= 0)
                k = CN_GROW(x->set.v, x->cap, x->set.n);
        if (k < 0) {
                cn_location_done(&l);
                return k;
        }
        memcpy(l.id_hex, name + strlen(x->f->prefix), CN_ID_HEX + 1);
        cn_hex_decode(l.id_hex, l.id, CN_ID_BYTES);
        x->set.v[x->set.n++] = l;
        return 0;
}

static int load_one(const char *name, _unused_ uint64_t size, void *u) {
        LoadCtx *x = u;
        int k = add_one(x, name);

        if (k >= 0 || k == -ENOENT)
                return 0; /* ENOENT: removed meanwhile */
        if (cn_store_error_is_environment(k))
                return k;
        if (x->damaged)
                x->damaged(name, k, x->userdata);
        if (x->set.n_damaged++ == 0)
                snprintf(x->set.damaged, sizeof x->set.damaged, "%s", name);
        return 0;
}

static int location_cmp(const void *a, const void *b) {
        const CnLocation *x = a, *y = b;
        if (x->created != y->created)
                return x->created < y->created ? -1 : 1;
        return strcmp(x->id_hex, y->id_hex);
}

static int end_cmp(const void *a, const void *b) {
        const CnLocationEnd *x = a, *y = b;
        if (x->created != y->created)
                return x->created < y->created ? -1 : 1;
        return memcmp(x->target, y->target, CN_ID_BYTES);
}

static int ptr_id_cmp(const void *a, const void *b) {
        const CnLocation *const *x = a, *const *y = b;
        return memcmp((*x)->id, (*y)->id, CN_ID_BYTES);
}

static int key_id_cmp(const void *key, const void *elem) {
        const CnLocation *const *l = elem;
        return memcmp(key, (*l)->id, CN_ID_BYTES);
}

/* Point each entry at the oldest end naming it: entries by id and a binary
 * search per end, n log n however many there are. Ends are sorted by
 * created first, so the first one found is the oldest. */
static int link_ends(CnLocations *s) {
        _cleanup_free_ CnLocation **by_id = calloc(s->n ? s->n : 1, sizeof *by_id);
        if (!by_id)
                return -ENOMEM;
        for (size_t i = 0; i < s->n; i++)
                by_id[i] = &s->v[i];
        if (s->n > 1)
                qsort(by_id, s->n, sizeof *by_id, ptr_id_cmp);
        if (s->n_ends > 1)
                qsort(s->ends, s->n_ends, sizeof *s->ends, end_cmp);
        for (size_t j = 0; j < s->n_ends; j++) {
                CnLocation **found = s->n ? bsearch(s->ends[j].target, by_id, s->n, sizeof *by_id, key_id_cmp) : NULL;
                if (found && !(*found)->end)
                        (*found)->end = &s->ends[j];
        }
        return 0;
}

static int load(CnRepo *r, const CnController *c, CnStoreDamagedFn damaged, void *userdata, CnLocations *ret) {
        LoadCtx x = {.repo = r, .damaged = damaged, .userdata = userdata};
        Folder f;
        int k = folder_init(r, c, &f);
        if (k < 0)
                return k;
        x.f = &f;
        cn_buf_init(&x.obj, MAX_OBJECT_BYTES);
        cn_buf_init(&x.body, MAX_OBJECT_BYTES);
        k = cn_backend_list(cn_repo_backend(r), f.prefix, load_one, &x);
        cn_buf_done(&x.obj);
        cn_buf_done(&x.body);
        folder_done(&f);
        if (k >= 0) {
                if (x.set.n > 1)
                        qsort(x.set.v, x.set.n, sizeof *x.set.v, location_cmp);
                k = link_ends(&x.set);
        }
        if (k < 0) {
                cn_locations_done(&x.set);
                return k;
        }
        *ret = x.set;
        return 0;
}

int cn_locations_load(CnRepo *r, CnStoreDamagedFn damaged, void *userdata, CnLocations *ret) {
        return load(r, NULL, damaged, userdata, ret);
}

int cn_grants_load(CnRepo *r, const CnController *c, CnStoreDamagedFn damaged, void *userdata, CnLocations *ret) {
        return load(r, c, damaged, userdata, ret);
}

int cn_grant_read_object(CnRepo *r, CnController *c, const char *name, CnBuf *ret) {
        LoadCtx x = {.repo = r};
        Folder f;
        bool end;
        int k = folder_init(r, c, &f);
        if (k < 0)
                return k;
        x.f = &f;
        cn_buf_init(&x.obj, MAX_OBJECT_BYTES);
        cn_buf_init(&x.body, MAX_OBJECT_BYTES);
        k = open_one(&x, name, &end);
        if (k >= 0) {
                /* What the loader would skip is not copied either. */
                CnLocation l = {};
                CnLocationEnd e = {};
                k = end ? cn_location_end_decode(x.body.data, x.body.len, &e)
                        : cn_location_decode(x.body.data, x.body.len, &l);
                cn_location_done(&l);
                cn_location_end_done(&e);
        }
        if (k >= 0) {
                cn_buf_reset(ret);
                k = cn_buf_append(ret, x.obj.data, x.obj.len);
        }
        cn_buf_done(&x.obj);
        cn_buf_done(&x.body);
        folder_done(&f);
        return k;
}

size_t cn_locations_find(const CnLocations *s, const char *name, CnLocation **ret) {
        size_t count = 0;
        for (size_t i = 0; i < s->n; i++)
                if (cn_location_in_force(&s->v[i]) && strcmp(s->v[i].name, name) == 0) {
                        if (count++ == 0 && ret)
                                *ret = &s->v[i];
                }
        return count;
}

bool cn_locations_match(const CnLocations *grants, const CnLocation *l) {
        for (size_t i = 0; i < grants->n; i++)
                if (cn_location_in_force(&grants->v[i]) && cn_location_same(&grants->v[i], l))
                        return true;
        return false;
}

/* ---- the gate ---- */

static size_t in_force(const CnLocations *s) {
        size_t n = 0;
        for (size_t i = 0; i < s->n; i++)
                n += cn_location_in_force(&s->v[i]);
        return n;
}

int cn_location_gate_check(const CnLocations *grants, const CnLocations *locations, CnLocationRefusal *ret,
                           bool *ret_configured) {
        size_t n_grants = in_force(grants), n_locations = in_force(locations);

        if (locations->n_damaged || grants->n_damaged) {
                *ret = (CnLocationRefusal){.kind = CN_LOCATION_DAMAGED};
                snprintf(ret->object, sizeof ret->object, "%s",
                         locations->n_damaged ? locations->damaged : grants->damaged);
                return -EPERM;
        }
        /* Configured once anything was ever recorded: a removal or a
         * revocation never widens what the gate lets through. */
        if (locations->n == 0 && grants->n == 0) {
                if (ret_configured)
                        *ret_configured = false;
                return 0;
        }
        if (n_locations == 0) {
                *ret = (CnLocationRefusal){.kind = CN_LOCATION_NONE_RECORDED, .n_grants = n_grants};
                return -EPERM;
        }
        for (size_t i = 0; i < locations->n; i++) {
                const CnLocation *l = &locations->v[i];
                if (!cn_location_in_force(l) || cn_locations_match(grants, l))
                        continue;
                *ret = (CnLocationRefusal){.kind = CN_LOCATION_UNAUTHORISED, .n_grants = n_grants};
                snprintf(ret->name, sizeof ret->name, "%s", l->name);
                snprintf(ret->provider, sizeof ret->provider, "%s", l->provider);
                snprintf(ret->region, sizeof ret->region, "%s", l->region);
                return -EPERM;
        }
        if (ret_configured)
                *ret_configured = true;
        return 0;
}

int cn_location_gate_with(CnRepo *grants_repo, const CnController *c, const CnLocations *locations,
                          CnLocationRefusal *ret) {
        _cleanup_(cn_locations_done) CnLocations grants = {};
        CnLocationRefusal why;
        int k = cn_grants_load(grants_repo, c, NULL, NULL, &grants);
        if (k < 0)
                return k;
        k = cn_location_gate_check(&grants, locations, &why, NULL);
        if (k == -EPERM && ret) {
                *ret = why;
                ret->controller = c;
        }
        return k;
}

int cn_location_gate(CnRepo *grants_repo, const CnController *c, CnRepo *dest, CnLocationRefusal *ret) {
        _cleanup_(cn_locations_done) CnLocations locations = {};
        int k = cn_locations_load(dest, NULL, NULL, &locations);
        if (k < 0)
                return k;
        return cn_location_gate_with(grants_repo, c, &locations, ret);
}
