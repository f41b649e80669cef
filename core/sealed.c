/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "sealed.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "envelope.h"
#include "hex.h"
#include "macro.h"

int cn_sealed_put(CnRepo *repo, const CnController *c, const char *folder, const char magic[CN_MAGIC_BYTES],
                  const void *body, size_t n, uint8_t ret_id[CN_ID_BYTES]) {
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(CN_MAX_SEALED_OBJECT_BYTES);
        char name[CN_ENVELOPE_NAME_MAX];
        uint8_t id[CN_ID_BYTES];
        int r;

        r = cn_controller_seal(repo, c, magic, body, n, &obj);
        if (r < 0)
                return r;
        cn_envelope_content_name(folder, c->id_hex, obj.data, obj.len, id, name);
        r = cn_backend_put(cn_repo_backend(repo), name, obj.data, obj.len, CN_PUT_EXCLUSIVE);
        if (r < 0 && r != -EEXIST)
                return r; /* EEXIST: these very bytes are stored (their SHA-256 is the name) */
        memcpy(ret_id, id, CN_ID_BYTES);
        return 0;
}

int cn_sealed_open(CnRepo *repo, const CnController *c, const char *name, const char *const *magics, size_t n_magics,
                   CnBuf *obj, CnBuf *body, size_t *ret_kind) {
        _cleanup_(cn_buf_donep) CnBuf own = CN_BUF_INIT(CN_MAX_SEALED_OBJECT_BYTES);
        CnBuf *o = obj ? obj : &own;
        CnEnvelopeHeader h;
        size_t kind;
        int r;

        r = cn_backend_get(cn_repo_backend(repo), name, 0, CN_GET_ALL, o);
        if (r < 0)
                return r;
        for (kind = 0; kind < n_magics; kind++)
                if (o->len >= CN_MAGIC_BYTES && memcmp(o->data, magics[kind], CN_MAGIC_BYTES) == 0)
                        break;
        if (kind == n_magics)
                return -EBADMSG;
        r = cn_controller_open(repo, c, magics[kind], o->data, o->len, &h, body);
        if (r < 0)
                return r;
        r = cn_envelope_check_content_name(name, o->data, o->len);
        if (r < 0)
                return r;
        *ret_kind = kind;
        return 0;
}

typedef struct List {
        CnRepo *repo;
        const CnController *c;
        const char *const *magics;
        size_t n_magics;
        CnSealedFn fn;
        void *userdata;
        CnStoreDamagedFn damaged;
        void *damaged_userdata;
        size_t n_damaged;
        CnBuf body;
} List;

static int list_one(const char *name, _unused_ uint64_t size, void *u) {
        List *l = u;
        uint8_t id[CN_ID_BYTES];
        size_t kind;
        const char *slash = strrchr(name, '/');
        int r;

        r = cn_sealed_open(l->repo, l->c, name, l->magics, l->n_magics, NULL, &l->body, &kind);
        if (r >= 0 && cn_hex_decode(slash + 1, id, CN_ID_BYTES) < 0)
                r = -EBADMSG;
        if (r >= 0)
                r = l->fn(name, id, kind, l->body.data, l->body.len, l->userdata);
        if (r >= 0 || r == -ENOENT)
                return 0; /* ENOENT: removed meanwhile */
        if (cn_store_error_is_environment(r) || !l->damaged)
                return r;
        l->damaged(name, r, l->damaged_userdata);
        l->n_damaged++;
        return 0;
}

int cn_sealed_list(CnRepo *repo, const CnController *c, const char *folder, const char *const *magics, size_t n_magics,
                   CnSealedFn fn, void *userdata, CnStoreDamagedFn damaged, void *damaged_userdata,
                   size_t *ret_damaged) {
        List l = {.repo = repo,
                  .c = c,
                  .magics = magics,
                  .n_magics = n_magics,
                  .fn = fn,
                  .userdata = userdata,
                  .damaged = damaged,
                  .damaged_userdata = damaged_userdata};
        char prefix[64];
        int r;

        cn_buf_init(&l.body, CN_MAX_SEALED_OBJECT_BYTES);
        snprintf(prefix, sizeof prefix, "%s/%s/", folder, c->id_hex);
        r = cn_backend_list(cn_repo_backend(repo), prefix, list_one, &l);
        cn_buf_done(&l.body);
        if (r < 0)
                return r;
        if (ret_damaged)
                *ret_damaged = l.n_damaged;
        return 0;
}
