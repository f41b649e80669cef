/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "damage.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

void cn_damage_set_done(CnDamageSet *d) {
        free(d->v);
        *d = (CnDamageSet) {};
}

int cn_damage_set_add(CnDamageSet *d, const uint8_t pack[CN_ID_BYTES], const uint8_t blob[CN_ID_BYTES]) {
        if (d->n == d->cap) {
                size_t cap = d->cap ? 2 * d->cap : 16;
                if (cap > CN_MAX_META_BYTES / CN_DAMAGE_ENTRY_BYTES)
                        return -E2BIG;
                CnDamage *v = realloc(d->v, cap * sizeof *v);
                if (!v)
                        return -ENOMEM;
                d->v = v;
                d->cap = cap;
        }
        memcpy(d->v[d->n].pack, pack, CN_ID_BYTES);
        memcpy(d->v[d->n].blob, blob, CN_ID_BYTES);
        d->n++;
        d->sorted = false;
        return 0;
}

static int damage_cmp(const void *a, const void *b) {
        return memcmp(a, b, sizeof(CnDamage));
}

void cn_damage_set_sort(CnDamageSet *d) {
        size_t k = 0;
        if (d->n > 1)
                qsort(d->v, d->n, sizeof *d->v, damage_cmp);
        for (size_t i = 0; i < d->n; i++)
                if (k == 0 || damage_cmp(&d->v[k - 1], &d->v[i]) != 0)
                        d->v[k++] = d->v[i];
        d->n = k;
        d->sorted = true;
}

bool cn_damage_set_contains(const CnDamageSet *d, const uint8_t pack[CN_ID_BYTES], const uint8_t blob[CN_ID_BYTES]) {
        CnDamage key;
        if (d->n == 0)
                return false;
        memcpy(key.pack, pack, CN_ID_BYTES);
        memcpy(key.blob, blob, CN_ID_BYTES);
        return bsearch(&key, d->v, d->n, sizeof key, damage_cmp) != NULL;
}

int cn_damage_encode(CnDamageSet *d, CnBuf *out) {
        int r;
        cn_damage_set_sort(d);
        if (d->n == 0)
                return -EINVAL;
        if ((r = cn_buf_reserve(out, 4 + d->n * sizeof(CnDamage))) < 0 || (r = cn_buf_put_u32(out, (uint32_t) d->n)) < 0)
                return r;
        for (size_t i = 0; i < d->n; i++)
                if ((r = cn_buf_append(out, d->v[i].pack, CN_ID_BYTES)) < 0 ||
                    (r = cn_buf_append(out, d->v[i].blob, CN_ID_BYTES)) < 0)
                        return r;
        return 0;
}

int cn_damage_decode(const uint8_t *p, size_t n, CnDamageSet *d) {
        CnReader rd;
        uint32_t count;
        const uint8_t *prev = NULL;
        int r;

        cn_reader_init(&rd, p, n);
        if (cn_reader_u32(&rd, &count) < 0 || count == 0 ||
            (uint64_t) count * CN_DAMAGE_ENTRY_BYTES != rd.left)
                return -EBADMSG;
        for (uint32_t i = 0; i < count; i++) {
                const uint8_t *e;
                cn_reader_peek(&rd, CN_DAMAGE_ENTRY_BYTES, &e);
                if (prev && memcmp(prev, e, CN_DAMAGE_ENTRY_BYTES) >= 0)
                        return -EBADMSG;
                prev = e;
        }
        for (uint32_t i = 0; i < count; i++) {
                const uint8_t *e = p + 4 + (size_t) i * CN_DAMAGE_ENTRY_BYTES;
                r = cn_damage_set_add(d, e, e + CN_ID_BYTES);
                if (r < 0)
                        return r;
        }
        return 0;
}
