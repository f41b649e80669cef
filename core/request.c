/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "request.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "macro.h"
#include "sealed.h"

#define FOLDER "requests"

enum { KIND_REQUEST, KIND_CLOSING };
static const char *const magics[] = {[KIND_REQUEST] = CN_MAGIC_REQUEST, [KIND_CLOSING] = CN_MAGIC_REQUEST_CLOSING};

static const char *const kind_names[] = {
        [CN_REQUEST_ACCESS] = "access",
        [CN_REQUEST_ERASURE] = "erasure",
        [CN_REQUEST_RECTIFICATION] = "rectification",
        [CN_REQUEST_DISCLOSURE] = "disclosure",
};
static const char *const scope_names[] = {
        [CN_REQUEST_SCOPE_NONE] = "none",
        [CN_REQUEST_SCOPE_SUBJECT] = "subject",
        [CN_REQUEST_SCOPE_PATH] = "path",
        [CN_REQUEST_SCOPE_CONTROLLER] = "controller",
};
static const char *const outcome_names[] = {
        [CN_REQUEST_ANSWERED] = "answered",
        [CN_REQUEST_REFUSED] = "refused",
        [CN_REQUEST_PARTIAL] = "partial",
        [CN_REQUEST_WITHDRAWN] = "withdrawn",
};

const char *cn_request_kind_name(CnRequestKind k) {
        return (unsigned) k < CN_ELEMENTSOF(kind_names) ? kind_names[k] : NULL;
}

const char *cn_request_scope_name(CnRequestScope s) {
        return (unsigned) s < CN_ELEMENTSOF(scope_names) ? scope_names[s] : NULL;
}

const char *cn_request_outcome_name(CnRequestOutcome o) {
        return (unsigned) o < CN_ELEMENTSOF(outcome_names) ? outcome_names[o] : NULL;
}

static int name_parse(const char *const *names, size_t n, const char *s, unsigned *ret) {
        for (unsigned i = 1; i < n; i++)
                if (strcmp(names[i], s) == 0) {
                        *ret = i;
                        return 0;
                }
        return -EINVAL;
}

int cn_request_kind_parse(const char *s, CnRequestKind *ret) {
        unsigned v;
        int r = name_parse(kind_names, CN_ELEMENTSOF(kind_names), s, &v);
        if (r >= 0)
                *ret = (CnRequestKind) v;
        return r;
}

int cn_request_outcome_parse(const char *s, CnRequestOutcome *ret) {
        unsigned v;
        int r = name_parse(outcome_names, CN_ELEMENTSOF(outcome_names), s, &v);
        if (r >= 0)
                *ret = (CnRequestOutcome) v;
        return r;
}

void cn_request_done(CnRequest *q) {
        free(q->reference);
        free(q->note);
        free(q->creator);
        *q = (CnRequest){};
}

void cn_request_closing_done(CnRequestClosing *x) {
        free(x->note);
        free(x->creator);
        *x = (CnRequestClosing){};
}

void cn_requests_done(CnRequests *l) {
        for (size_t i = 0; i < l->n; i++)
                cn_request_done(&l->v[i]);
        free(l->v);
        for (size_t i = 0; i < l->n_closings; i++)
                cn_request_closing_done(&l->closings[i]);
        free(l->closings);
        *l = (CnRequests){};
}

static bool zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

static bool time_ok(int64_t t) {
        return t >= 0 && t <= CN_REQUEST_MAX_TIME;
}

static bool text_ok(const char *s, size_t min, size_t max) {
        return s && strlen(s) >= min && strlen(s) <= max;
}

static bool request_valid(const CnRequest *q) {
        return cn_request_kind_name(q->kind) && cn_request_scope_name(q->scope) &&
               (q->scope != CN_REQUEST_SCOPE_NONE || zero(q->scope_pseudonym, CN_ID_BYTES)) && time_ok(q->received) &&
               time_ok(q->created) && text_ok(q->reference, 1, CN_MAX_LABEL_BYTES) &&
               text_ok(q->note, 0, CN_MAX_REQUEST_NOTE_BYTES) && text_ok(q->creator, 0, CN_MAX_LABEL_BYTES);
}

static bool closing_valid(const CnRequestClosing *x) {
        return cn_request_outcome_name(x->outcome) &&
               !(x->links & ~(unsigned) (CN_REQUEST_LINK_EXPORT | CN_REQUEST_LINK_CERTIFICATE)) &&
               ((x->links & CN_REQUEST_LINK_EXPORT) || zero(x->export_digest, CN_ID_BYTES)) &&
               ((x->links & CN_REQUEST_LINK_CERTIFICATE) || zero(x->certificate, CN_ID_BYTES)) && time_ok(x->created) &&
               text_ok(x->note, 0, CN_MAX_REQUEST_NOTE_BYTES) && text_ok(x->creator, 0, CN_MAX_LABEL_BYTES);
}

int cn_request_encode(const CnRequest *q, CnBuf *b) {
        int r;
        if (!request_valid(q))
                return -EINVAL;
        if ((r = cn_buf_put_u8(b, (uint8_t) q->kind)) < 0 || (r = cn_buf_put_i64(b, q->received)) < 0 ||
            (r = cn_buf_put_str(b, q->reference)) < 0 || (r = cn_buf_put_u8(b, (uint8_t) q->scope)) < 0 ||
            (r = cn_buf_append(b, q->scope_pseudonym, CN_ID_BYTES)) < 0 || (r = cn_buf_put_str(b, q->note)) < 0 ||
            (r = cn_buf_put_str(b, q->creator)) < 0 || (r = cn_buf_put_i64(b, q->created)) < 0)
                return r;
        return 0;
}

int cn_request_decode(const uint8_t *p, size_t n, CnRequest *ret) {
        CnRequest q = {};
        CnReader rd;
        uint8_t kind, scope;
        int r;

        cn_reader_init(&rd, p, n);
        if (cn_reader_u8(&rd, &kind) < 0 || cn_reader_i64(&rd, &q.received) < 0)
                return -EBADMSG;
        q.kind = kind;
        if ((r = cn_reader_str(&rd, CN_MAX_LABEL_BYTES, &q.reference)) < 0 || (r = cn_reader_u8(&rd, &scope)) < 0 ||
            (r = cn_reader_get(&rd, q.scope_pseudonym, CN_ID_BYTES)) < 0 ||
            (r = cn_reader_str(&rd, CN_MAX_REQUEST_NOTE_BYTES, &q.note)) < 0 ||
            (r = cn_reader_str(&rd, CN_MAX_LABEL_BYTES, &q.creator)) < 0 || (r = cn_reader_i64(&rd, &q.created)) < 0 ||
            !cn_reader_empty(&rd) || (q.scope = scope, !request_valid(&q))) {
                cn_request_done(&q);
                return r == -ENOMEM ? r : -EBADMSG;
        }
        *ret = q;
        return 0;
}

int cn_request_closing_encode(const CnRequestClosing *x, CnBuf *b) {
        int r;
        if (!closing_valid(x))
                return -EINVAL;
        if ((r = cn_buf_append(b, x->request, CN_ID_BYTES)) < 0 || (r = cn_buf_put_u8(b, (uint8_t) x->outcome)) < 0 ||
            (r = cn_buf_put_u8(b, (uint8_t) x->links)) < 0 ||
            (r = cn_buf_append(b, x->export_digest, CN_ID_BYTES)) < 0 ||
            (r = cn_buf_append(b, x->certificate, CN_ID_BYTES)) < 0 || (r = cn_buf_put_str(b, x->note)) < 0 ||
            (r = cn_buf_put_str(b, x->creator)) < 0 || (r = cn_buf_put_i64(b, x->created)) < 0)
                return r;
        return 0;
}

int cn_request_closing_decode(const uint8_t *p, size_t n, CnRequestClosing *ret) {
        CnRequestClosing x = {};
        CnReader rd;
        uint8_t outcome, links;
        int r;

        cn_reader_init(&rd, p, n);
        if ((r = cn_reader_get(&rd, x.request, CN_ID_BYTES)) < 0 || (r = cn_reader_u8(&rd, &outcome)) < 0 ||
            (r = cn_reader_u8(&rd, &links)) < 0 || (r = cn_reader_get(&rd, x.export_digest, CN_ID_BYTES)) < 0 ||
            (r = cn_reader_get(&rd, x.certificate, CN_ID_BYTES)) < 0 ||
            (r = cn_reader_str(&rd, CN_MAX_REQUEST_NOTE_BYTES, &x.note)) < 0 ||
            (r = cn_reader_str(&rd, CN_MAX_LABEL_BYTES, &x.creator)) < 0 || (r = cn_reader_i64(&rd, &x.created)) < 0 ||
            !cn_reader_empty(&rd) || (x.outcome = outcome, x.links = links, !closing_valid(&x))) {
                cn_request_closing_done(&x);
                return r == -ENOMEM ? r : -EBADMSG;
        }
        *ret = x;
        return 0;
}

int cn_request_add(CnRepo *repo, CnRequest *q) {
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(CN_MAX_SEALED_OBJECT_BYTES);
        int r = cn_request_encode(q, &body);
        if (r < 0)
                return r;
        r = cn_sealed_put(repo, q->controller, FOLDER, CN_MAGIC_REQUEST, body.data, body.len, q->id);
        if (r < 0)
                return r;
        cn_hex_encode(q->id, CN_ID_BYTES, q->id_hex);
        return 0;
}

int cn_request_close(CnRepo *repo, const CnRequest *q, CnRequestClosing *x) {
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(CN_MAX_SEALED_OBJECT_BYTES);
        int r;
        if (q->closing)
                return -EALREADY;
        memcpy(x->request, q->id, CN_ID_BYTES);
        r = cn_request_closing_encode(x, &body);
        if (r < 0)
                return r;
        r = cn_sealed_put(repo, q->controller, FOLDER, CN_MAGIC_REQUEST_CLOSING, body.data, body.len, x->id);
        if (r < 0)
                return r;
        cn_hex_encode(x->id, CN_ID_BYTES, x->id_hex);
        return 0;
}

typedef struct Load {
        CnController *c;
        CnRequests l;
        size_t cap, closings_cap;
} Load;

static int load_one(const char *name, const uint8_t id[CN_ID_BYTES], size_t kind, const uint8_t *body, size_t n,
                    void *u) {
        Load *x = u;
        const char *hex = strrchr(name, '/') + 1;
        int r;

        if (kind == KIND_CLOSING) {
                CnRequestClosing c = {};
                if ((r = cn_request_closing_decode(body, n, &c)) < 0)
                        return r;
                if (CN_GROW(x->l.closings, x->closings_cap, x->l.n_closings + 1) < 0) {
                        cn_request_closing_done(&c);
                        return -ENOMEM;
                }
                memcpy(c.id, id, CN_ID_BYTES);
                memcpy(c.id_hex, hex, CN_ID_HEX + 1);
                x->l.closings[x->l.n_closings++] = c;
                return 0;
        }
        CnRequest q = {};
        if ((r = cn_request_decode(body, n, &q)) < 0)
                return r;
        if (CN_GROW(x->l.v, x->cap, x->l.n + 1) < 0) {
                cn_request_done(&q);
                return -ENOMEM;
        }
        q.controller = x->c;
        memcpy(q.id, id, CN_ID_BYTES);
        memcpy(q.id_hex, hex, CN_ID_HEX + 1);
        x->l.v[x->l.n++] = q;
        return 0;
}

static int request_cmp(const void *a, const void *b) {
        const CnRequest *x = a, *y = b;
        if (x->received != y->received)
                return x->received < y->received ? -1 : 1;
        if (x->created != y->created)
                return x->created < y->created ? -1 : 1;
        return memcmp(x->id, y->id, CN_ID_BYTES);
}

static int request_ptr_id_cmp(const void *a, const void *b) {
        const CnRequest *const *x = a, *const *y = b;
        return memcmp((*x)->id, (*y)->id, CN_ID_BYTES);
}

static int closing_key_cmp(const void *key, const void *elem) {
        const CnRequest *const *q = elem;
        return memcmp(key, (*q)->id, CN_ID_BYTES);
}

int cn_requests_load(CnRepo *repo, const CnController *c, CnStoreDamagedFn damaged, void *userdata, CnRequests *ret,
                     size_t *ret_damaged) {
        Load x = {};
        size_t n_damaged = 0;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < cn_repo_n_controllers(repo); i++) {
                size_t d = 0;
                x.c = cn_repo_controller(repo, i);
                if (c && x.c != c)
                        continue;
                r = cn_sealed_list(repo, x.c, FOLDER, magics, CN_ELEMENTSOF(magics), load_one, &x, damaged, userdata,
                                   &d);
                n_damaged += d;
        }
        _cleanup_free_ CnRequest **by_id = r >= 0 ? calloc(x.l.n ? x.l.n : 1, sizeof *by_id) : NULL;
        if (r >= 0 && !by_id)
                r = -ENOMEM;
        if (r < 0) {
                cn_requests_done(&x.l);
                return r;
        }
        if (x.l.n > 1)
                qsort(x.l.v, x.l.n, sizeof *x.l.v, request_cmp);
        /* Each request's oldest closing: requests by id, a binary search a
         * closing (a closing of another controller's request names none). */
        for (size_t i = 0; i < x.l.n; i++)
                by_id[i] = &x.l.v[i];
        if (x.l.n > 1)
                qsort(by_id, x.l.n, sizeof *by_id, request_ptr_id_cmp);
        for (size_t j = 0; j < x.l.n_closings; j++) {
                const CnRequestClosing *k = &x.l.closings[j];
                CnRequest **q = x.l.n ? bsearch(k->request, by_id, x.l.n, sizeof *by_id, closing_key_cmp) : NULL;
                if (q && (!(*q)->closing || k->created < (*q)->closing->created ||
                          (k->created == (*q)->closing->created && memcmp(k->id, (*q)->closing->id, CN_ID_BYTES) < 0)))
                        (*q)->closing = k;
        }
        *ret = x.l;
        if (ret_damaged)
                *ret_damaged = n_damaged;
        return 0;
}

int cn_requests_find(CnRequests *l, const char *prefix, CnRequest **ret) {
        size_t i;
        int r = cn_hex_prefix_find(prefix, CN_ID_HEX, l->v, l->n, sizeof *l->v, offsetof(CnRequest, id_hex), &i);
        if (r == 1)
                *ret = &l->v[i];
        return r;
}

int cn_request_read_object(CnRepo *repo, CnController *c, const char *name, CnBuf *ret) {
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(CN_MAX_SEALED_OBJECT_BYTES);
        size_t kind;
        int r = cn_sealed_open(repo, c, name, magics, CN_ELEMENTSOF(magics), ret, &body, &kind);
        if (r < 0)
                return r;
        if (kind == KIND_CLOSING) {
                CnRequestClosing x = {};
                r = cn_request_closing_decode(body.data, body.len, &x);
                cn_request_closing_done(&x);
        } else {
                CnRequest q = {};
                r = cn_request_decode(body.data, body.len, &q);
                cn_request_done(&q);
        }
        return r;
}
