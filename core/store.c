/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "envelope.h"
#include "format.h"
#include "hex.h"
#include "macro.h"

#define PACK_MAX_ENTRIES 65536u
#define CHUNK_AD_BYTES (16 + 2 * CN_UUID_BYTES + CN_ID_BYTES + 1)
#define ENTRY_BYTES (CN_ID_BYTES + 2 + 4 * 3)
#define TRAILER_BYTES (4 + CN_MAGIC_BYTES)
#define PACK_PREAMBLE_BYTES (CN_MAGIC_BYTES + 4 + 2 * CN_UUID_BYTES)
#define PACK_HEADER_AD_BYTES (CN_MAGIC_BYTES + 4 + 2 * CN_UUID_BYTES + CN_ID_BYTES)

typedef struct PendingEntry {
        uint8_t id[CN_ID_BYTES];
        CnBlobLoc loc;
} PendingEntry;

struct CnStore {
        CnRepo *repo;                   /* borrowed */
        CnController *c;                /* borrowed */
        CnBackend *backend;             /* borrowed */
        CnIndex *index;
        CnStoreStats stats;
        int level;
        ZSTD_CCtx *cctx;
        ZSTD_DCtx *dctx;
        CnBuf scratch;                  /* compression output */
        CnBuf fetch;                    /* sealed blob read back */
        /* The open pack. */
        bool open;
        uint8_t pack_id[CN_ID_BYTES];
        uint32_t pack_no;
        CnBuf pack;
        PendingEntry *entries;
        uint8_t *keys;                  /* secret: PACK_MAX_ENTRIES * CN_KEY_BYTES */
        uint32_t n_entries;
        CnStoreDamagedFn damaged;
        void *damaged_userdata;
};

/* Report-and-skip for tolerant opens; the error itself otherwise. */
static int damaged(CnStore *s, const char *name, int r) {
        if (!s->damaged || r == -ENOMEM || r == -ENOSPC || r == -EACCES || r == -EAGAIN)
                return r;
        s->damaged(name, r, s->damaged_userdata);
        return 0;
}

static void chunk_ad(const CnStore *s, const uint8_t id[CN_ID_BYTES], uint8_t type, uint8_t ad[CHUNK_AD_BYTES]) {
        memcpy(ad, CN_CHUNK_AD_DOMAIN, 16);
        memcpy(ad + 16, cn_repo_processor_id(s->repo), CN_UUID_BYTES);
        memcpy(ad + 16 + CN_UUID_BYTES, s->c->id, CN_UUID_BYTES);
        memcpy(ad + 16 + 2 * CN_UUID_BYTES, id, CN_ID_BYTES);
        ad[CHUNK_AD_BYTES - 1] = type;
}

static void object_name(const CnStore *s, const char *kind, const uint8_t pack_id[CN_ID_BYTES], char *out,
                        size_t n) {
        char hex[CN_ID_HEX + 1];
        cn_hex_encode(pack_id, CN_ID_BYTES, hex);
        if (strcmp(kind, "data") == 0)
                snprintf(out, n, "data/%s/%.2s/%s", s->c->id_hex, hex, hex);
        else
                snprintf(out, n, "%s/%s/%s", kind, s->c->id_hex, hex);
}

/* The associated data of a pack's encrypted header. */
static void pack_header_ad(const CnStore *s, const uint8_t pack_id[CN_ID_BYTES], uint8_t ad[PACK_HEADER_AD_BYTES]) {
        memcpy(ad, CN_MAGIC_PACK_HEADER, CN_MAGIC_BYTES);
        cn_le32_put(ad + CN_MAGIC_BYTES, CN_FORMAT_VERSION);
        memcpy(ad + CN_MAGIC_BYTES + 4, cn_repo_processor_id(s->repo), CN_UUID_BYTES);
        memcpy(ad + CN_MAGIC_BYTES + 4 + CN_UUID_BYTES, s->c->id, CN_UUID_BYTES);
        memcpy(ad + CN_MAGIC_BYTES + 4 + 2 * CN_UUID_BYTES, pack_id, CN_ID_BYTES);
}

void cn_store_pack_name(const CnStore *s, const uint8_t pack_id[CN_ID_BYTES], char *out, size_t n) {
        object_name(s, "data", pack_id, out, n);
}

static CnEnvelopeHeader envelope_header(const CnStore *s, uint32_t epoch) {
        CnEnvelopeHeader h = { .epoch = epoch };
        memcpy(h.processor, cn_repo_processor_id(s->repo), CN_UUID_BYTES);
        memcpy(h.controller, s->c->id, CN_UUID_BYTES);
        return h;
}

/* entries = count:u32 { id[32] type:u8 flags:u8 offset:u32 length:u32 raw_length:u32 }* */
static int encode_entries(CnBuf *b, const PendingEntry *e, uint32_t n) {
        int r = cn_buf_reserve(b, 4 + (size_t) n * ENTRY_BYTES);
        if (r < 0)
                return r;
        cn_buf_put_u32(b, n);
        for (uint32_t i = 0; i < n; i++) {
                cn_buf_append(b, e[i].id, CN_ID_BYTES);
                cn_buf_put_u8(b, e[i].loc.type);
                cn_buf_put_u8(b, e[i].loc.flags);
                cn_buf_put_u32(b, e[i].loc.offset);
                cn_buf_put_u32(b, e[i].loc.length);
                cn_buf_put_u32(b, e[i].loc.raw_length);
        }
        return 0;
}

/* Parse entries of the pack numbered pack whose blob area is pack_size bytes
 * (0: unknown) into the index. Every field is checked before use. */
static int decode_entries(CnStore *s, CnReader *rd, uint32_t pack, uint64_t pack_size) {
        uint32_t n;
        int r;

        if (cn_reader_u32(rd, &n) < 0 || n > CN_MAX_PACK_ENTRIES || (uint64_t) n * ENTRY_BYTES > rd->left)
                return -EBADMSG;
        for (uint32_t i = 0; i < n; i++) {
                const uint8_t *id;
                CnBlobLoc loc = { .pack = pack };
                if (cn_reader_peek(rd, CN_ID_BYTES, &id) < 0 || cn_reader_u8(rd, &loc.type) < 0 ||
                    cn_reader_u8(rd, &loc.flags) < 0 || cn_reader_u32(rd, &loc.offset) < 0 ||
                    cn_reader_u32(rd, &loc.length) < 0 || cn_reader_u32(rd, &loc.raw_length) < 0)
                        return -EBADMSG;
                if ((loc.type != CN_BLOB_DATA && loc.type != CN_BLOB_TREE) || (loc.flags & ~CN_BLOB_ZSTD) ||
                    loc.length < CN_AEAD_NONCE_BYTES + CN_AEAD_TAG_BYTES || loc.offset < PACK_PREAMBLE_BYTES ||
                    (pack_size && (uint64_t) loc.offset + loc.length > pack_size) ||
                    loc.raw_length > (loc.type == CN_BLOB_TREE ? CN_MAX_TREE_BYTES : CN_MAX_CHUNK_BYTES))
                        return -EBADMSG;
                r = cn_index_insert(s->index, id, &loc);
                if (r < 0)
                        return r;
        }
        if (!cn_reader_empty(rd))
                return -EBADMSG;
        return 0;
}

typedef struct NameVec {
        char **v;
        size_t n;
} NameVec;

static int add_name(const char *name, uint64_t size, void *u) {
        NameVec *l = u;
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

static void name_vec_done(NameVec *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        free(l->v);
}

/* The pack id of "<kind>/<ctrl>/<hex>" or "data/<ctrl>/<xx>/<hex>"; -EINVAL for strays. */
static int name_pack_id(const char *name, uint8_t ret[CN_ID_BYTES]) {
        const char *slash = strrchr(name, '/');
        if (!slash)
                return -EINVAL;
        return cn_hex_decode(slash + 1, ret, CN_ID_BYTES);
}

typedef int (*ObjectFn)(CnStore *s, const uint8_t pack_id[CN_ID_BYTES], CnReader *rd);

/* Open every <kind>/<ctrl>/<pack> object, sealed under key with magic and
 * epoch, whose body starts with the pack id of its name; fn parses the
 * rest. Objects of another epoch (ledger copies of an erased epoch) are
 * skipped: nothing in them can be opened. */
static int load_objects(CnStore *s, const char *kind, const char *magic, const uint8_t *key, uint32_t epoch,
                        ObjectFn fn) {
        _cleanup_(name_vec_done) NameVec l = {};
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_done_wipep) CnBuf body = CN_BUF_INIT(CN_MAX_META_BYTES);
        char prefix[64];
        int r;

        snprintf(prefix, sizeof prefix, "%s/%s/", kind, s->c->id_hex);
        r = cn_backend_list(s->backend, prefix, add_name, &l);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l.n; i++) {
                CnEnvelopeHeader h;
                CnReader rd;
                uint8_t named[CN_ID_BYTES], pack_id[CN_ID_BYTES];

                if (name_pack_id(l.v[i], named) < 0)
                        continue;
                r = cn_backend_get(s->backend, l.v[i], 0, CN_GET_ALL, &obj);
                if (r == -ENOENT)
                        continue;       /* removed meanwhile */
                if (r < 0)
                        return r;
                r = cn_envelope_peek(obj.data, obj.len, magic, &h);
                if (r >= 0 && h.epoch != epoch)
                        continue;
                if (r >= 0)
                        r = cn_envelope_open(obj.data, obj.len, magic, key, &h, &body);
                if (r >= 0) {
                        cn_reader_init(&rd, body.data, body.len);
                        if (cn_reader_get(&rd, pack_id, CN_ID_BYTES) < 0 ||
                            memcmp(pack_id, named, CN_ID_BYTES) != 0 ||
                            memcmp(h.controller, s->c->id, CN_UUID_BYTES) != 0)
                                r = -EBADMSG;
                }
                if (r >= 0)
                        r = fn(s, pack_id, &rd);
                if (r < 0) {
                        r = damaged(s, l.v[i], r);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* index body after the pack id: the pack header's entries. */
static int index_object(CnStore *s, const uint8_t pack_id[CN_ID_BYTES], CnReader *rd) {
        uint32_t pack;
        int r = cn_index_add_pack(s->index, pack_id, &pack);
        if (r < 0)
                return r;
        r = decode_entries(s, rd, pack, 0);
        if (r < 0)
                return r;
        cn_index_pack_set_indexed(s->index, pack);
        return 0;
}

/* ledger body after the pack id: count:u32 { id[32] data_key[32] }*
 * A key opens the copy of its chunk in its own pack only: another pack may
 * hold the same chunk under another key (two writers at once), and a
 * ledger whose pack was never written (a writer that failed between the
 * two) names no pack the index knows. So a key is taken only where the
 * index places its chunk in this ledger's pack. */
static int ledger_object(CnStore *s, const uint8_t pack_id[CN_ID_BYTES], CnReader *rd) {
        uint32_t n, pack;
        if (cn_reader_u32(rd, &n) < 0 || n > CN_MAX_PACK_ENTRIES ||
            (uint64_t) n * (CN_ID_BYTES + CN_KEY_BYTES) != rd->left)
                return -EBADMSG;
        if (cn_index_find_pack(s->index, pack_id, &pack) < 0)
                return 0;
        for (uint32_t j = 0; j < n; j++) {
                const uint8_t *id, *key;
                CnBlobLoc loc;
                cn_reader_peek(rd, CN_ID_BYTES, &id);
                cn_reader_peek(rd, CN_KEY_BYTES, &key);
                if (!cn_index_lookup(s->index, id, &loc) || loc.pack != pack)
                        continue;
                int r = cn_index_set_key(s->index, id, key);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Read a pack's trailer and header and index its blobs (an orphan of an
 * interrupted writer, or a pack whose index file is lost). */
static int adopt_pack(CnStore *s, const char *name, uint64_t size, const uint8_t pack_id[CN_ID_BYTES],
                      bool write_index) {
        _cleanup_(cn_buf_donep) CnBuf tail = CN_BUF_INIT(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf idx = CN_BUF_INIT(CN_MAX_META_BYTES);
        uint8_t ad[PACK_HEADER_AD_BYTES];
        CnReader rd;
        uint32_t pack, hlen;
        int r;

        if (size < PACK_PREAMBLE_BYTES + TRAILER_BYTES + CN_AEAD_NONCE_BYTES + CN_AEAD_TAG_BYTES ||
            size > CN_MAX_PACK_BYTES)
                return -EBADMSG;
        r = cn_backend_get(s->backend, name, size - TRAILER_BYTES, TRAILER_BYTES, &tail);
        if (r < 0)
                return r;
        hlen = cn_le32_get(tail.data);
        if (memcmp(tail.data + 4, CN_MAGIC_PACK_TRAILER, CN_MAGIC_BYTES) != 0 ||
            hlen < CN_AEAD_NONCE_BYTES + CN_AEAD_TAG_BYTES || hlen > size - PACK_PREAMBLE_BYTES - TRAILER_BYTES)
                return -EBADMSG;
        r = cn_backend_get(s->backend, name, size - TRAILER_BYTES - hlen, hlen, &tail);
        if (r < 0)
                return r;
        pack_header_ad(s, pack_id, ad);
        r = cn_buf_reserve(&body, hlen);
        if (r < 0)
                return r;
        r = cn_aead_open(body.data, tail.data + CN_AEAD_NONCE_BYTES, hlen - CN_AEAD_NONCE_BYTES, ad, sizeof ad,
                         tail.data, s->c->meta_key);
        if (r < 0)
                return r;
        body.len = hlen - CN_AEAD_NONCE_BYTES - CN_AEAD_TAG_BYTES;
        r = cn_index_add_pack(s->index, pack_id, &pack);
        if (r < 0)
                return r;
        cn_reader_init(&rd, body.data, body.len);
        r = decode_entries(s, &rd, pack, size - TRAILER_BYTES - hlen);
        if (r < 0)
                return r;
        if (write_index) {
                char iname[128];
                CnEnvelopeHeader h = envelope_header(s, 0);
                _cleanup_(cn_buf_donep) CnBuf plain = CN_BUF_INIT(CN_MAX_META_BYTES);
                if ((r = cn_buf_append(&plain, pack_id, CN_ID_BYTES)) < 0 ||
                    (r = cn_buf_append(&plain, body.data, body.len)) < 0 ||
                    (r = cn_envelope_seal(&idx, CN_MAGIC_INDEX, &h, s->c->meta_key, plain.data, plain.len)) < 0)
                        return r;
                object_name(s, "index", pack_id, iname, sizeof iname);
                r = cn_backend_put(s->backend, iname, idx.data, idx.len, 0);
                if (r < 0)
                        return r;
        }
        cn_index_pack_set_indexed(s->index, pack);
        return 0;
}

typedef struct Orphans {
        CnStore *s;
        NameVec names;
        uint64_t *sizes;
} Orphans;

static int find_orphan(const char *name, uint64_t size, void *u) {
        Orphans *o = u;
        uint8_t id[CN_ID_BYTES];
        CnIndex *x = o->s->index;

        if (name_pack_id(name, id) < 0)
                return 0;
        /* Known packs were added by their index files. */
        uint32_t no;
        if (cn_index_find_pack(x, id, &no) == 0 && cn_index_pack_indexed(x, no))
                return 0;
        uint64_t *sz = realloc(o->sizes, (o->names.n + 1) * sizeof *sz);
        if (!sz)
                return -ENOMEM;
        o->sizes = sz;
        sz[o->names.n] = size;
        return add_name(name, size, &o->names);
}

static int adopt_orphans(CnStore *s) {
        Orphans o = { .s = s };
        char prefix[64];
        int r;

        snprintf(prefix, sizeof prefix, "data/%s/", s->c->id_hex);
        r = cn_backend_list(s->backend, prefix, find_orphan, &o);
        for (size_t i = 0; r >= 0 && i < o.names.n; i++) {
                uint8_t id[CN_ID_BYTES];
                name_pack_id(o.names.v[i], id);
                /* A pack that cannot be adopted (torn by a non-atomic backend)
                 * is left for check to report; its chunks are simply stored again. */
                if (adopt_pack(s, o.names.v[i], o.sizes[i], id, true) >= 0)
                        s->stats.packs_adopted++;
        }
        name_vec_done(&o.names);
        free(o.sizes);
        return r;
}

int cn_store_open(CnRepo *repo, CnController *c, unsigned flags, CnStore **ret) {
        return cn_store_open_tolerant(repo, c, flags, NULL, NULL, ret);
}

int cn_store_open_tolerant(CnRepo *repo, CnController *c, unsigned flags, CnStoreDamagedFn fn, void *userdata,
                           CnStore **ret) {
        int r;
        CnStore *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->damaged = fn;
        s->damaged_userdata = userdata;
        s->repo = repo;
        s->c = c;
        s->backend = cn_repo_backend(repo);
        s->level = 3;
        cn_buf_init(&s->scratch, CN_MAX_CHUNK_BYTES + (CN_MAX_CHUNK_BYTES >> 4) + 4096);
        cn_buf_init(&s->fetch, CN_MAX_TREE_BYTES + 4096);
        cn_buf_init(&s->pack, CN_MAX_PACK_BYTES);
        s->cctx = ZSTD_createCCtx();
        s->dctx = ZSTD_createDCtx();
        s->entries = calloc(PACK_MAX_ENTRIES, sizeof *s->entries);
        s->keys = cn_secret_new((size_t) PACK_MAX_ENTRIES * CN_KEY_BYTES);
        if (!s->cctx || !s->dctx || !s->entries || !s->keys) {
                r = -ENOMEM;
                goto fail;
        }
        r = cn_index_new(&s->index);
        if (r < 0)
                goto fail;
        r = load_objects(s, "index", CN_MAGIC_INDEX, s->c->meta_key, 0, index_object);
        if (r < 0)
                goto fail;
        if (flags & CN_STORE_WRITE) {
                r = adopt_orphans(s);
                if (r < 0)
                        goto fail;
        }
        /* Keys last: each is matched to the pack the index chose for its chunk. */
        if (flags & CN_STORE_KEYS) {
                r = load_objects(s, "ledger", CN_MAGIC_LEDGER, s->c->epoch_key, s->c->epoch, ledger_object);
                if (r < 0)
                        goto fail;
        }
        *ret = s;
        return 0;
fail:
        cn_store_free(s);
        return r;
}

CnStore *cn_store_free(CnStore *s) {
        if (!s)
                return NULL;
        cn_index_free(s->index);
        ZSTD_freeCCtx(s->cctx);
        ZSTD_freeDCtx(s->dctx);
        cn_buf_done_wipe(&s->scratch);
        cn_buf_done_wipe(&s->fetch);
        cn_buf_done(&s->pack);
        free(s->entries);
        cn_secret_free(s->keys);
        free(s);
        return NULL;
}

CnIndex *cn_store_index(CnStore *s) {
        return s->index;
}

const CnStoreStats *cn_store_stats(const CnStore *s) {
        return &s->stats;
}

void cn_store_set_level(CnStore *s, int level) {
        s->level = level;
}

void cn_store_chunk_id(const CnStore *s, const void *data, size_t n, uint8_t ret_id[CN_ID_BYTES]) {
        cn_id_hash(s->c->id_hasher, data, n, ret_id);
}

static int pack_begin(CnStore *s) {
        int r;
        cn_random(s->pack_id, CN_ID_BYTES);
        r = cn_index_add_pack(s->index, s->pack_id, &s->pack_no);
        if (r < 0)
                return r;
        cn_buf_reset(&s->pack);
        if ((r = cn_buf_append(&s->pack, CN_MAGIC_PACK, CN_MAGIC_BYTES)) < 0 ||
            (r = cn_buf_put_u32(&s->pack, CN_FORMAT_VERSION)) < 0 ||
            (r = cn_buf_append(&s->pack, cn_repo_processor_id(s->repo), CN_UUID_BYTES)) < 0 ||
            (r = cn_buf_append(&s->pack, s->c->id, CN_UUID_BYTES)) < 0)
                return r;
        s->n_entries = 0;
        s->open = true;
        return 0;
}

int cn_store_put(CnStore *s, uint8_t type, const uint8_t id[CN_ID_BYTES], const void *data, size_t n,
                 bool *ret_added) {
        uint8_t ad[CHUNK_AD_BYTES];
        const void *payload = data;
        size_t payload_len = n;
        uint8_t flags = 0, *dst;
        int r;

        if (n > (type == CN_BLOB_TREE ? CN_MAX_TREE_BYTES : CN_MAX_CHUNK_BYTES))
                return -E2BIG;
        if (cn_index_lookup(s->index, id, NULL)) {
                s->stats.blobs_known++;
                if (ret_added)
                        *ret_added = false;
                return 0;
        }
        if (n >= 64) {
                size_t bound = ZSTD_compressBound(n);
                cn_buf_reset(&s->scratch);
                r = cn_buf_reserve(&s->scratch, bound);
                if (r < 0)
                        return r;
                size_t z = ZSTD_compressCCtx(s->cctx, s->scratch.data, bound, data, n, s->level);
                /* Keep compression only where it pays: incompressible data is stored raw. */
                if (!ZSTD_isError(z) && z < n - n / 32) {
                        payload = s->scratch.data;
                        payload_len = z;
                        flags |= CN_BLOB_ZSTD;
                }
        }
        size_t stored = CN_AEAD_NONCE_BYTES + payload_len + CN_AEAD_TAG_BYTES;
        if (s->open && (s->pack.len + stored > CN_PACK_TARGET_BYTES || s->n_entries == PACK_MAX_ENTRIES)) {
                r = cn_store_flush(s);
                if (r < 0)
                        return r;
        }
        if (!s->open) {
                r = pack_begin(s);
                if (r < 0)
                        return r;
        }
        uint32_t offset = (uint32_t) s->pack.len;
        r = cn_buf_grow(&s->pack, stored, &dst);
        if (r < 0)
                return r;
        uint8_t *key = s->keys + (size_t) s->n_entries * CN_KEY_BYTES;
        cn_random(key, CN_KEY_BYTES);
        cn_random(dst, CN_AEAD_NONCE_BYTES);
        chunk_ad(s, id, type, ad);
        cn_aead_seal(dst + CN_AEAD_NONCE_BYTES, payload, payload_len, ad, sizeof ad, dst, key);

        PendingEntry *e = &s->entries[s->n_entries++];
        memcpy(e->id, id, CN_ID_BYTES);
        e->loc = (CnBlobLoc) {
                .pack = s->pack_no,
                .offset = offset,
                .length = (uint32_t) stored,
                .raw_length = (uint32_t) n,
                .type = type,
                .flags = flags,
        };
        r = cn_index_insert(s->index, id, &e->loc);
        if (r < 0)
                return r;
        r = cn_index_set_key(s->index, id, key);
        if (r < 0)
                return r;
        s->stats.blobs_new++;
        s->stats.raw_bytes_new += n;
        s->stats.stored_bytes_new += stored;
        if (ret_added)
                *ret_added = true;
        return 0;
}

int cn_store_flush(CnStore *s) {
        _cleanup_(cn_buf_done_wipep) CnBuf plain = CN_BUF_INIT(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(CN_MAX_META_BYTES);
        char name[160];
        uint8_t ad[PACK_HEADER_AD_BYTES];
        CnEnvelopeHeader h;
        int r;

        if (!s->open || s->n_entries == 0)
                return 0;

        /* 1. the ledger: keys first, so every pack that exists can be opened. */
        r = cn_buf_reserve(&plain, CN_ID_BYTES + 4 + (size_t) s->n_entries * (CN_ID_BYTES + CN_KEY_BYTES));
        if (r < 0)
                return r;
        cn_buf_append(&plain, s->pack_id, CN_ID_BYTES);
        cn_buf_put_u32(&plain, s->n_entries);
        for (uint32_t i = 0; i < s->n_entries; i++) {
                cn_buf_append(&plain, s->entries[i].id, CN_ID_BYTES);
                cn_buf_append(&plain, s->keys + (size_t) i * CN_KEY_BYTES, CN_KEY_BYTES);
        }
        h = envelope_header(s, s->c->epoch);
        r = cn_envelope_seal(&obj, CN_MAGIC_LEDGER, &h, s->c->epoch_key, plain.data, plain.len);
        if (r < 0)
                return r;
        object_name(s, "ledger", s->pack_id, name, sizeof name);
        r = cn_backend_put(s->backend, name, obj.data, obj.len, CN_PUT_EXCLUSIVE);
        if (r < 0)
                return r;

        /* 2. the pack, with its encrypted header and trailer. */
        cn_buf_done_wipe(&plain);
        cn_buf_init(&plain, CN_MAX_META_BYTES);
        r = encode_entries(&plain, s->entries, s->n_entries);
        if (r < 0)
                return r;
        pack_header_ad(s, s->pack_id, ad);
        size_t hlen = CN_AEAD_NONCE_BYTES + plain.len + CN_AEAD_TAG_BYTES;
        uint8_t *dst;
        r = cn_buf_grow(&s->pack, hlen + TRAILER_BYTES, &dst);
        if (r < 0)
                return r;
        cn_random(dst, CN_AEAD_NONCE_BYTES);
        cn_aead_seal(dst + CN_AEAD_NONCE_BYTES, plain.data, plain.len, ad, sizeof ad, dst, s->c->meta_key);
        cn_le32_put(dst + hlen, (uint32_t) hlen);
        memcpy(dst + hlen + 4, CN_MAGIC_PACK_TRAILER, CN_MAGIC_BYTES);
        object_name(s, "data", s->pack_id, name, sizeof name);
        r = cn_backend_put(s->backend, name, s->pack.data, s->pack.len, CN_PUT_EXCLUSIVE);
        if (r < 0)
                return r;

        /* 3. the index file: a copy of the header readers can fetch in one get. */
        cn_buf_reset(&obj);
        r = cn_buf_reserve(&plain, CN_ID_BYTES);
        if (r < 0)
                return r;
        memmove(plain.data + CN_ID_BYTES, plain.data, plain.len);
        memcpy(plain.data, s->pack_id, CN_ID_BYTES);
        plain.len += CN_ID_BYTES;
        h = envelope_header(s, 0);
        r = cn_envelope_seal(&obj, CN_MAGIC_INDEX, &h, s->c->meta_key, plain.data, plain.len);
        if (r < 0)
                return r;
        object_name(s, "index", s->pack_id, name, sizeof name);
        r = cn_backend_put(s->backend, name, obj.data, obj.len, CN_PUT_EXCLUSIVE);
        if (r < 0)
                return r;
        cn_index_pack_set_indexed(s->index, s->pack_no);
        cn_memzero(s->keys, (size_t) s->n_entries * CN_KEY_BYTES);
        s->stats.packs_written++;
        s->open = false;
        s->n_entries = 0;
        return 0;
}

/* Authenticate and decompress the sealed blob at sealed (loc->length bytes,
 * modified in place) into out. */
static int open_blob(CnStore *s, const uint8_t id[CN_ID_BYTES], const CnBlobLoc *loc, const uint8_t *key,
                     uint8_t *sealed, CnBuf *out) {
        uint8_t ad[CHUNK_AD_BYTES];
        int r;

        chunk_ad(s, id, loc->type, ad);
        size_t plain_len = loc->length - CN_AEAD_NONCE_BYTES - CN_AEAD_TAG_BYTES;
        uint8_t *plain = sealed + CN_AEAD_NONCE_BYTES;
        r = cn_aead_open(plain, plain, loc->length - CN_AEAD_NONCE_BYTES, ad, sizeof ad, sealed, key);
        if (r < 0)
                return r;
        cn_buf_reset(out);
        if (!(loc->flags & CN_BLOB_ZSTD)) {
                if (plain_len != loc->raw_length)
                        return -EBADMSG;
                return cn_buf_append(out, plain, plain_len);
        }
        r = cn_buf_reserve(out, loc->raw_length);
        if (r < 0)
                return r;
        size_t z = ZSTD_decompressDCtx(s->dctx, out->data, loc->raw_length, plain, plain_len);
        if (ZSTD_isError(z) || z != loc->raw_length)
                return -EBADMSG;
        out->len = z;
        return 0;
}

int cn_store_get(CnStore *s, const uint8_t id[CN_ID_BYTES], CnBuf *out) {
        char name[160];
        CnBlobLoc loc;
        int r;

        if (!cn_index_lookup(s->index, id, &loc))
                return -ENOENT;
        const uint8_t *key = cn_index_get_key(s->index, id);
        if (!key)
                return -ENOKEY;
        if (s->open && loc.pack == s->pack_no) {
                /* Still in the pack being written. */
                cn_buf_reset(&s->fetch);
                r = cn_buf_append(&s->fetch, s->pack.data + loc.offset, loc.length);
        } else {
                object_name(s, "data", cn_index_pack_id(s->index, loc.pack), name, sizeof name);
                r = cn_backend_get(s->backend, name, loc.offset, loc.length, &s->fetch);
        }
        if (r < 0)
                return r == -ENODATA ? -EBADMSG : r;
        return open_blob(s, id, &loc, key, s->fetch.data, out);
}

int cn_store_verify_blob(CnStore *s, const uint8_t id[CN_ID_BYTES], const CnBlobLoc *loc, uint8_t *data,
                         size_t blob_area, CnBuf *scratch) {
        uint8_t again[CN_ID_BYTES];
        const uint8_t *key = cn_index_get_key(s->index, id);
        int r;

        if (!key)
                return -ENOKEY;
        if ((uint64_t) loc->offset + loc->length > blob_area)
                return -EBADMSG;
        r = open_blob(s, id, loc, key, data + loc->offset, scratch);
        if (r < 0)
                return r;
        cn_store_chunk_id(s, scratch->data, scratch->len, again);
        return cn_memeq(again, id, CN_ID_BYTES) ? 0 : -EBADMSG;
}

int cn_store_verify_pack(CnStore *s, uint32_t pack, const uint8_t *data, size_t n, size_t *ret_blob_area) {
        const uint8_t *pack_id = cn_index_pack_id(s->index, pack);
        uint8_t ad[PACK_HEADER_AD_BYTES];
        int r;

        if (!pack_id)
                return -ENOENT;
        if (n < PACK_PREAMBLE_BYTES + TRAILER_BYTES || memcmp(data, CN_MAGIC_PACK, CN_MAGIC_BYTES) != 0 ||
            cn_le32_get(data + CN_MAGIC_BYTES) != CN_FORMAT_VERSION ||
            memcmp(data + CN_MAGIC_BYTES + 4, cn_repo_processor_id(s->repo), CN_UUID_BYTES) != 0 ||
            memcmp(data + CN_MAGIC_BYTES + 4 + CN_UUID_BYTES, s->c->id, CN_UUID_BYTES) != 0 ||
            memcmp(data + n - CN_MAGIC_BYTES, CN_MAGIC_PACK_TRAILER, CN_MAGIC_BYTES) != 0)
                return -EBADMSG;
        uint32_t hlen = cn_le32_get(data + n - TRAILER_BYTES);
        if (hlen < CN_AEAD_NONCE_BYTES + CN_AEAD_TAG_BYTES || hlen > n - PACK_PREAMBLE_BYTES - TRAILER_BYTES)
                return -EBADMSG;
        /* The header authenticates as a whole; its entries are what the index already holds. */
        _cleanup_(cn_buf_donep) CnBuf hdr = CN_BUF_INIT(CN_MAX_META_BYTES);
        r = cn_buf_append(&hdr, data + n - TRAILER_BYTES - hlen, hlen);
        if (r < 0)
                return r;
        pack_header_ad(s, pack_id, ad);
        r = cn_aead_open(hdr.data + CN_AEAD_NONCE_BYTES, hdr.data + CN_AEAD_NONCE_BYTES, hlen - CN_AEAD_NONCE_BYTES,
                         ad, sizeof ad, hdr.data, s->c->meta_key);
        if (r < 0)
                return r;
        *ret_blob_area = n - TRAILER_BYTES - hlen;
        return 0;
}
