/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "damage.h"
#include "envelope.h"
#include "format.h"
#include "hex.h"
#include "macro.h"
#include "pack-writer.h"
#include "pack.h"
#include "session.h"

/* Whole packs kept for readers (cn_store_set_pack_cache()): one fetch a
 * pack instead of one a blob, for remote repositories. Its own lock, so the
 * index stays free while a pack downloads. */
typedef struct CachedPack {
        uint32_t pack;
        enum { PACK_EMPTY, PACK_LOADING, PACK_READY } state;
        unsigned users;                 /* readers copying out of data */
        uint64_t used;                  /* the cache's clock at the last use */
        CnBuf data;
} CachedPack;

typedef struct PackCache {
        pthread_mutex_t lock;
        pthread_cond_t changed;
        CachedPack *v;
        size_t n;
        uint64_t clock;
} PackCache;

typedef struct FallbackBlob {
        uint8_t id[CN_ID_BYTES];
        CnBlobLoc loc;
} FallbackBlob;

typedef struct KeptLedger {
        uint32_t version;
        CnBuf body;                     /* secret; emptied once the keys are applied */
        uint8_t (*packs)[CN_ID_BYTES];  /* the packs it names */
        size_t n_packs;
} KeptLedger;

struct CnStore {
        CnRepo *repo;                   /* borrowed */
        CnController *c;                /* borrowed */
        CnBackend *backend;             /* borrowed */
        CnIndex *index;
        /* Guards the index once a writer runs: the writer's threads record
         * locations and keys while the caller claims ids and reads. */
        pthread_mutex_t lock;
        CnPackWriter *writer;           /* started by the first put */
        unsigned workers;
        int level;
        CnStoreStats stats;             /* of opening; the writer keeps its own */
        CnStoreReader *reader;          /* for cn_store_get() and verification */
        CnStoreDamagedFn damaged;
        void *damaged_userdata;
        PackCache *cache;               /* NULL: reads fetch each blob alone */
        unsigned flags;                 /* CN_STORE_* */
        CnDamageSet recorded;           /* locations damage records name (sorted) */
        CnDamageSet pending;            /* found by this store, recorded by the next flush */
        CnStorePlan *plans;             /* WRITE: the deletion plans loaded (prune/<ctrl>/) */
        size_t n_plans;
        CnDamageSet planned;            /* WRITE: every location they name (sorted) */
        CnSession *session;             /* WRITE: this writer's writers/<ctrl>/ object */
        CnStoreLocation *locations;     /* CN_STORE_ALL_LOCATIONS: every entry of every pack */
        size_t n_locations, cap_locations;
        FallbackBlob *fallback;         /* readers: recorded locations, used if nothing else is */
        size_t n_fallback;
        CnIndex *failed_index;          /* set of pack ids whose index file did not open */
        uint32_t packs_at_open;         /* packs numbered below were there before any put */
        CnIndex *verified;              /* CN_STORE_VERIFY: set of reused ids read back fine */
        CnIndex *reported;              /* CN_STORE_VERIFY: set of pack ids reported damaged */
        CnBuf verify;                   /* CN_STORE_VERIFY: a reused blob read back */
        CnNames ledgers;                /* ledger objects loaded and written, by number */
        CnIndex *ledger_map;            /* opening: pack id -> (ledger number, its part), pack key */
        KeptLedger *kept;               /* each loaded ledger, by number (fewer than ledgers.n) */
        size_t n_kept;
};

bool cn_store_error_is_environment(int r) {
        return r == -ENOMEM || r == -ENOSPC || r == -EACCES || r == -EAGAIN || r == -EPROTO || r == -EOPNOTSUPP ||
               r == -EINTR;
}

/* Report-and-skip for tolerant opens; the error itself otherwise. */
static int damaged(CnStore *s, const char *name, int r) {
        if (!s->damaged || cn_store_error_is_environment(r))
                return r;
        s->damaged(name, r, s->damaged_userdata);
        return 0;
}

/* An id set made of a CnIndex (the location is unused). */
static int set_mark(CnIndex **set, const uint8_t id[CN_ID_BYTES]) {
        CnBlobLoc loc = {};
        if (!*set) {
                int r = cn_index_new(set);
                if (r < 0)
                        return r;
        }
        return cn_index_insert(*set, id, &loc);
}

static bool set_marked(const CnIndex *set, const uint8_t id[CN_ID_BYTES]) {
        return set && cn_index_lookup(set, id, NULL);
}

static void object_name(const CnStore *s, const char *kind, const uint8_t pack_id[CN_ID_BYTES], char *out,
                        size_t n) {
        cn_pack_object_name(kind, s->c->id_hex, pack_id, out, n);
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

static int add_location(CnStore *s, const uint8_t id[CN_ID_BYTES], const CnBlobLoc *loc) {
        int r = CN_GROW(s->locations, s->cap_locations, s->n_locations);
        if (r < 0)
                return r;
        memcpy(s->locations[s->n_locations].id, id, CN_ID_BYTES);
        s->locations[s->n_locations++].loc = *loc;
        return 0;
}

/* Parse entries of the pack numbered pack whose blob area is pack_size bytes
 * (0: unknown) into the index: every entry is checked before any is added,
 * so a bad list adds nothing. A location a damage record names is left out
 * (writers store the chunk anew); readers keep it aside, to be used only if
 * no other copy turns up. */
static int decode_entries(CnStore *s, CnReader *rd, uint32_t pack, uint64_t pack_size) {
        const uint8_t *pack_id = cn_index_pack_id(s->index, pack), *id;
        FallbackBlob *f = NULL;
        CnBlobLoc loc;
        uint32_t n;
        int r;

        r = cn_pack_entries_begin(rd, pack_size, &n);
        if (r < 0)
                return r;
        uint64_t blob_end = 0;
        for (uint32_t i = 0; i < n; i++) {
                cn_pack_entry_read(rd, pack_size, &id, &loc);
                loc.pack = pack;
                blob_end = CN_MAX(blob_end, (uint64_t) loc.offset + loc.length);
                if ((s->flags & CN_STORE_ALL_LOCATIONS) && (r = add_location(s, id, &loc)) < 0)
                        return r;
                if (!cn_damage_set_contains(&s->recorded, pack_id, id) &&
                    !cn_damage_set_contains(&s->planned, pack_id, id)) {
                        r = cn_index_insert(s->index, id, &loc);
                        if (r < 0)
                                return r;
                        continue;
                }
                if ((s->flags & CN_STORE_WRITE) && !(s->flags & CN_STORE_PRUNE))
                        continue;
                if (!f) {
                        f = realloc(s->fallback, (s->n_fallback + n) * sizeof *f);
                        if (!f)
                                return -ENOMEM;
                        s->fallback = f;
                }
                memcpy(f[s->n_fallback].id, id, CN_ID_BYTES);
                f[s->n_fallback++].loc = loc;
        }
        cn_index_pack_set_extent(s->index, pack, blob_end, n);
        return 0;
}

/* The pack id of "<kind>/<ctrl>/<hex>" or "data/<ctrl>/<xx>/<hex>"; -EINVAL for strays. */
static int name_pack_id(const char *name, uint8_t ret[CN_ID_BYTES]) {
        const char *slash = strrchr(name, '/');
        if (!slash)
                return -EINVAL;
        return cn_hex_decode(slash + 1, ret, CN_ID_BYTES);
}

/* What each kind makes of an object that opened: name, its stored bytes
 * and a reader over its body. */
typedef int (*ObjectFn)(CnStore *s, const char *name, const CnBuf *obj, CnReader *body);

/* The key and version of pack_id's header and index file: version 2 packs
 * under their own key, named in their ledger; version 1 packs (those of
 * version 1 controllers) under the metadata key. -ENOKEY for a pack of a
 * version 2 controller that no loaded ledger names. */
static int pack_key(CnStore *s, const uint8_t pack_id[CN_ID_BYTES], uint32_t *ret_version, const uint8_t **ret_key) {
        uint32_t pack;
        const uint8_t *key = NULL;

        if (s->c->format == 1) {
                *ret_version = 1;
                *ret_key = s->c->meta_key;
                return 0;
        }
        if (s->ledger_map)
                key = cn_index_get_key(s->ledger_map, pack_id);
        else if (cn_index_find_pack(s->index, pack_id, &pack) == 0)
                key = cn_index_pack_key(s->index, pack);
        if (!key)
                return -ENOKEY;
        *ret_version = 2;
        *ret_key = key;
        return 0;
}

/* Open one object of kind into body: 1 when it is to be skipped unopened
 * (a ledger of another epoch, an index file of a pack no ledger names). */
static int open_object(CnStore *s, const char *kind, const char *magic, const char *name, const CnBuf *obj,
                       CnBuf *body) {
        CnEnvelopeHeader h;
        int r = cn_envelope_peek(obj->data, obj->len, magic, &h);
        if (r < 0)
                return r;
        if (strcmp(kind, "ledger") == 0 && h.epoch != s->c->epoch)
                return 1;       /* of an erased epoch, or the next one of an erasure under way */
        if (strcmp(kind, "index") != 0)
                return cn_controller_open(s->repo, s->c, magic, obj->data, obj->len, NULL, body);
        uint8_t pack_id[CN_ID_BYTES];
        const uint8_t *key;
        uint32_t version;
        if (name_pack_id(name, pack_id) < 0)
                return -EBADMSG;
        r = pack_key(s, pack_id, &version, &key);
        if (r == -ENOKEY)
                return 1;       /* its chunks have no data key either */
        if (r < 0)
                return r;
        if (h.version != version || h.epoch != 0 || memcmp(h.controller, s->c->id, CN_UUID_BYTES) != 0 ||
            !cn_memeq(h.processor, cn_repo_processor_id(s->repo), CN_UUID_BYTES))
                return h.version > version ? -EPROTONOSUPPORT : -EBADMSG;
        return cn_envelope_open(obj->data, obj->len, magic, key, NULL, body);
}

/* Open every <kind>/<ctrl>/<name> object of magic of this controller
 * (docs/FORMAT.md "Envelope"); fn parses the body. An object that cannot be
 * read or does not open (damaged, truncated, oversized, of another kind or
 * controller, sealed at an epoch whose key is gone) is reported and skipped
 * by a tolerant store. */
static int load_objects(CnStore *s, const char *kind, const char *magic, ObjectFn fn) {
        _cleanup_(cn_names_done) CnNames l = {};
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT_SECRET(CN_MAX_META_BYTES);
        char prefix[64];
        int r;

        snprintf(prefix, sizeof prefix, "%s/%s/", kind, s->c->id_hex);
        r = cn_backend_list_names(s->backend, prefix, &l);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l.n; i++) {
                CnReader rd;

                r = cn_backend_get(s->backend, l.v[i], 0, CN_GET_ALL, &obj);
                if (r == -ENOENT)
                        continue;       /* removed meanwhile */
                if (r >= 0)
                        r = open_object(s, kind, magic, l.v[i], &obj, &body);
                if (r == 1)
                        continue;
                if (r >= 0) {
                        cn_reader_init(&rd, body.data, body.len);
                        r = fn(s, l.v[i], &obj, &rd);
                }
                if (r < 0) {
                        uint8_t pack_id[CN_ID_BYTES];
                        r = damaged(s, l.v[i], r == -ENOKEY ? -EBADMSG : r);
                        if (r < 0)
                                return r;
                        /* Its pack is read from its own header (adopt_orphans()). */
                        if (strcmp(kind, "index") == 0 && name_pack_id(l.v[i], pack_id) >= 0 &&
                            (r = set_mark(&s->failed_index, pack_id)) < 0)
                                return r;
                }
        }
        return 0;
}

/* An index body starts with the pack id, which must be the one of its
 * name: a copy of another pack's file under this name is damage. */
static int body_pack_id(const char *name, CnReader *rd, uint8_t ret[CN_ID_BYTES]) {
        uint8_t named[CN_ID_BYTES];
        if (name_pack_id(name, named) < 0 || cn_reader_get(rd, ret, CN_ID_BYTES) < 0 ||
            memcmp(named, ret, CN_ID_BYTES) != 0)
                return -EBADMSG;
        return 0;
}

/* A pack enters the index with its key and ledger, from the ledgers loaded. */
static int add_pack(CnStore *s, const uint8_t pack_id[CN_ID_BYTES], uint32_t *ret_pack) {
        CnBlobLoc l;
        int r = cn_index_add_pack(s->index, pack_id, ret_pack);
        if (r < 0 || !s->ledger_map || !cn_index_lookup(s->ledger_map, pack_id, &l))
                return r;
        cn_index_pack_set_ledger(s->index, *ret_pack, l.pack);
        const uint8_t *key = cn_index_get_key(s->ledger_map, pack_id);
        return key ? cn_index_pack_set_key(s->index, *ret_pack, key) : 0;
}

/* index body = pack_id[32] entries (the pack header's entries). */
static int index_object(CnStore *s, const char *name, _unused_ const CnBuf *obj, CnReader *rd) {
        uint8_t pack_id[CN_ID_BYTES];
        uint32_t pack;
        int r = body_pack_id(name, rd, pack_id);
        if (r < 0)
                return r;
        r = add_pack(s, pack_id, &pack);
        if (r < 0)
                return r;
        r = decode_entries(s, rd, pack, 0);
        if (r < 0)
                return r;
        cn_index_pack_set_indexed(s->index, pack);
        return 0;
}

/* A ledger (docs/FORMAT.md "Index and ledger"): its body is kept until the
 * index is loaded, and each pack it names is mapped to it (the first
 * ledger listed that names a pack is its ledger: listings are sorted). A
 * version 1 ledger is named after its one pack. */
static int ledger_object(CnStore *s, const char *name, const CnBuf *obj, CnReader *rd) {
        _cleanup_free_ CnLedgerPack *v = NULL;
        size_t n;
        uint32_t version = cn_le32_get(obj->data + CN_MAGIC_BYTES);
        int r;

        if (version == 2 && cn_envelope_check_content_name(name, obj->data, obj->len) < 0)
                return -EBADMSG;
        r = cn_ledger_decode(rd->p, rd->left, version, &v, &n);
        if (r < 0)
                return r;
        if (version == 1) {
                uint8_t named[CN_ID_BYTES];
                if (name_pack_id(name, named) < 0 || memcmp(named, v[0].pack_id, CN_ID_BYTES) != 0)
                        return -EBADMSG;
        }
        uint32_t no = (uint32_t) s->ledgers.n;
        KeptLedger *kept = realloc(s->kept, (no + 1) * sizeof *kept);
        if (!kept)
                return -ENOMEM;
        s->kept = kept;
        kept[no] = (KeptLedger) { .version = version };
        cn_buf_init_secret(&kept[no].body, CN_MAX_META_BYTES);
        kept[no].packs = malloc(n * sizeof *kept[no].packs);
        if (!kept[no].packs || (r = cn_buf_append(&kept[no].body, rd->p, rd->left)) < 0 ||
            (r = cn_names_add(&s->ledgers, name)) < 0) {
                cn_buf_done(&kept[no].body);
                free(kept[no].packs);
                return kept[no].packs ? r : -ENOMEM;
        }
        s->n_kept = no + 1;
        kept[no].n_packs = n;
        for (size_t i = 0; i < n; i++)
                memcpy(kept[no].packs[i], v[i].pack_id, CN_ID_BYTES);
        for (size_t i = 0; i < n; i++) {
                CnBlobLoc l = { .pack = no, .offset = (uint32_t) i };
                r = cn_index_insert(s->ledger_map, v[i].pack_id, &l);
                if (r == 1 && v[i].pack_key)
                        r = cn_index_set_key(s->ledger_map, v[i].pack_id, v[i].pack_key);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Keys last: each data key is taken where the index places its chunk in
 * the key's own pack (a chunk may sit in two packs under two keys: two
 * writers at once, or a ledger whose pack was never written). */
static int apply_ledgers(CnStore *s) {
        for (size_t no = 0; no < s->n_kept; no++) {
                _cleanup_free_ CnLedgerPack *v = NULL;
                size_t n;
                int r = cn_ledger_decode(s->kept[no].body.data, s->kept[no].body.len, s->kept[no].version, &v, &n);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++) {
                        uint32_t pack, ledger;
                        if (cn_index_find_pack(s->index, v[i].pack_id, &pack) < 0 ||
                            cn_index_pack_ledger(s->index, pack, &ledger) < 0 || ledger != no)
                                continue;
                        for (uint32_t j = 0; j < v[i].n; j++) {
                                const uint8_t *id = v[i].pairs + (size_t) j * (CN_ID_BYTES + CN_KEY_BYTES);
                                CnBlobLoc loc;
                                if (!cn_index_lookup(s->index, id, &loc) || loc.pack != pack)
                                        continue;
                                r = cn_index_set_key(s->index, id, id + CN_ID_BYTES);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        return 0;
}

/* The keys are in the index now: the bodies go (wiped). */
static void kept_bodies_free(CnStore *s) {
        for (size_t i = 0; i < s->n_kept; i++)
                cn_buf_done(&s->kept[i].body);
        s->ledger_map = cn_index_free(s->ledger_map);
}

static void kept_free(CnStore *s) {
        kept_bodies_free(s);
        for (size_t i = 0; i < s->n_kept; i++)
                free(s->kept[i].packs);
        free(s->kept);
        s->kept = NULL;
        s->n_kept = 0;
}

/* Read a pack's trailer and header and index its blobs (an orphan of an
 * interrupted writer, or a pack whose index file is lost). */
static int adopt_pack(CnStore *s, const char *name, uint64_t size, const uint8_t pack_id[CN_ID_BYTES],
                      bool write_index) {
        _cleanup_(cn_buf_donep) CnBuf tail = CN_BUF_INIT(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf idx = CN_BUF_INIT(CN_MAX_META_BYTES);
        uint8_t ad[CN_PACK_HEADER_AD_BYTES];
        const uint8_t *key;
        CnReader rd;
        uint32_t pack, hlen, version;
        int r;

        r = pack_key(s, pack_id, &version, &key);
        if (r < 0)
                return r;
        if (size < CN_PACK_PREAMBLE_BYTES + CN_PACK_TRAILER_BYTES + CN_AEAD_NONCE_BYTES + CN_AEAD_TAG_BYTES ||
            size > CN_MAX_PACK_BYTES)
                return -EBADMSG;
        r = cn_backend_get(s->backend, name, size - CN_PACK_TRAILER_BYTES, CN_PACK_TRAILER_BYTES, &tail);
        if (r < 0)
                return r;
        if (tail.len != CN_PACK_TRAILER_BYTES || cn_pack_trailer_parse(tail.data, size, &hlen) < 0)
                return -EBADMSG;
        r = cn_backend_get(s->backend, name, size - CN_PACK_TRAILER_BYTES - hlen, hlen, &tail);
        if (r < 0)
                return r;
        if (tail.len != hlen)
                return -EBADMSG;
        cn_pack_header_ad(version, cn_repo_processor_id(s->repo), s->c->id, pack_id, ad);
        r = cn_buf_reserve(&body, hlen);
        if (r < 0)
                return r;
        r = cn_aead_open(body.data, tail.data + CN_AEAD_NONCE_BYTES, hlen - CN_AEAD_NONCE_BYTES, ad, sizeof ad,
                         tail.data, key);
        if (r < 0)
                return r;
        body.len = hlen - CN_AEAD_NONCE_BYTES - CN_AEAD_TAG_BYTES;
        r = add_pack(s, pack_id, &pack);
        if (r < 0)
                return r;
        cn_reader_init(&rd, body.data, body.len);
        r = decode_entries(s, &rd, pack, size - CN_PACK_TRAILER_BYTES - hlen);
        if (r < 0)
                return r;
        if (write_index) {
                char iname[128];
                CnEnvelopeHeader h = envelope_header(s, 0);
                _cleanup_(cn_buf_donep) CnBuf plain = CN_BUF_INIT(CN_MAX_META_BYTES);
                h.version = version;
                if ((r = cn_buf_append(&plain, pack_id, CN_ID_BYTES)) < 0 ||
                    (r = cn_buf_append(&plain, body.data, body.len)) < 0 ||
                    (r = cn_envelope_seal(&idx, CN_MAGIC_INDEX, &h, key, plain.data, plain.len)) < 0)
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
        CnNames names;
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
        return cn_names_add(&o->names, name);
}

/* Packs without an index file that opened: an interrupted writer's, or one
 * whose index file is lost or damaged. Their own encrypted header holds the
 * same entries, so every store reads it; a writer also puts the index file
 * again ("adoption"). A pack whose header does not open either is skipped:
 * reported when its index file was damaged too, else it is an interrupted
 * writer's torn pack (check lists it); its chunks are simply stored again. */
static int adopt_orphans(CnStore *s) {
        Orphans o = { .s = s };
        char prefix[64];
        int r;

        snprintf(prefix, sizeof prefix, "data/%s/", s->c->id_hex);
        r = cn_backend_list(s->backend, prefix, find_orphan, &o);
        for (size_t i = 0; r >= 0 && i < o.names.n; i++) {
                uint8_t id[CN_ID_BYTES];
                name_pack_id(o.names.v[i], id);
                r = adopt_pack(s, o.names.v[i], o.sizes[i], id, s->flags & CN_STORE_WRITE);
                if (r >= 0)
                        s->stats.packs_adopted++;
                else if (r == -ENOENT || r == -ENOKEY)
                        r = 0;  /* removed meanwhile; no ledger names it, so no key opens it */
                else if (set_marked(s->failed_index, id))
                        r = damaged(s, o.names.v[i], r);
                else if (!cn_store_error_is_environment(r))
                        r = 0;
        }
        cn_names_done(&o.names);
        free(o.sizes);
        return r;
}

/* damage body: the locations; the object's name is the SHA-256 of its bytes. */
static int damage_object(CnStore *s, const char *name, const CnBuf *obj, CnReader *rd) {
        int r = cn_envelope_check_content_name(name, obj->data, obj->len);
        if (r < 0)
                return r;
        return cn_damage_decode(rd->p, rd->left, &s->recorded);
}

/* plan body: created and the locations; named by the SHA-256 of the object. */
static int plan_object(CnStore *s, const char *name, const CnBuf *obj, CnReader *rd) {
        CnStorePlan p = {};
        int r = cn_envelope_check_content_name(name, obj->data, obj->len);
        if (r < 0)
                return r;
        r = cn_plan_decode(rd->p, rd->left, &p.created, &p.locations);
        if (r >= 0 && !(p.name = strdup(name)))
                r = -ENOMEM;
        CnStorePlan *v = r >= 0 ? realloc(s->plans, (s->n_plans + 1) * sizeof *v) : NULL;
        if (r >= 0 && !v)
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < p.locations.n; i++)
                r = cn_damage_set_add(&s->planned, p.locations.v[i].pack, p.locations.v[i].blob);
        if (r < 0) {
                free(p.name);
                cn_damage_set_done(&p.locations);
                return r;
        }
        cn_envelope_name_id(obj->data, obj->len, p.id);
        s->plans = v;
        v[s->n_plans++] = p;
        return 0;
}

/* -EBUSY when a live session of an erasure is there (docs/FORMAT.md
 * "Deleting without a lock", writers' step 1). */
static int erasure_running(CnStore *s) {
        CnSessionInfo *v = NULL;
        size_t n = 0;
        int r = cn_sessions_list(s->repo, s->c, time(NULL), NULL, NULL, &v, &n);
        if (r < 0)
                return cn_store_error_is_environment(r) ? r : 0;
        for (size_t i = 0; i < n && r == 0; i++)
                if (v[i].kind == CN_SESSION_ERASE && !v[i].stale)
                        r = -EBUSY;
        cn_sessions_free(v, n);
        return r;
}

/* Writers: a session first, so that a prune that puts a plan after this
 * store listed the plans knows this writer may not have seen it; then
 * the plans, whose locations are left out of the index like damaged ones;
 * then the session again, naming the plans seen (docs/FORMAT.md "Deleting
 * without a lock"). */
static int load_plans(CnStore *s) {
        CnSessionKind kind = (s->flags & CN_STORE_ERASE)   ? CN_SESSION_ERASE
                             : (s->flags & CN_STORE_PRUNE) ? CN_SESSION_PRUNE
                                                           : CN_SESSION_WRITER;
        int r;
        if ((s->flags & CN_STORE_WRITE) && (r = cn_session_begin(s->repo, s->c, kind, &s->session)) < 0)
                return r;
        /* A writer does not start while an erasure runs: of the two, at
         * least one sees the other's session, and stops. */
        if (s->session && kind == CN_SESSION_WRITER && (r = erasure_running(s)) != 0)
                return r;
        r = load_objects(s, "prune", CN_MAGIC_PLAN, plan_object);
        if (r < 0)
                return r;
        cn_damage_set_sort(&s->planned);
        if (!s->session)
                return 0;
        _cleanup_free_ uint8_t(*ids)[CN_ID_BYTES] = s->n_plans ? malloc(s->n_plans * sizeof *ids) : NULL;
        if (s->n_plans && !ids)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_plans; i++)
                memcpy(ids[i], s->plans[i].id, CN_ID_BYTES);
        return cn_session_set_plans(s->session, (const uint8_t(*)[CN_ID_BYTES]) ids, s->n_plans);
}

/* Readers: a chunk known only at a recorded location is read from there
 * (it may yet open: it fails as damaged, never as missing). */
static int use_fallback(CnStore *s) {
        for (size_t i = 0; i < s->n_fallback; i++) {
                int r = cn_index_insert(s->index, s->fallback[i].id, &s->fallback[i].loc);
                if (r < 0)
                        return r;
        }
        free(s->fallback);
        s->fallback = NULL;
        s->n_fallback = 0;
        return 0;
}

static int collect_unkeyed(const uint8_t id[CN_ID_BYTES], const CnBlobLoc *loc, void *u) {
        CnStore *s = u;
        if (cn_index_get_key(s->index, id))
                return 0;
        return cn_damage_set_add(&s->pending, cn_index_pack_id(s->index, loc->pack), id);
}

/* Writers: a chunk without a data key (its ledger file lost or damaged)
 * cannot be read, so it is not "stored": it is stored again when met, and
 * its location recorded as damaged by the next flush, so that readers then
 * find the new copy. */
static int drop_unkeyed(CnStore *s) {
        int r = cn_index_foreach(s->index, collect_unkeyed, s);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->pending.n; i++)
                cn_index_forget(s->index, s->pending.v[i].blob);
        return 0;
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
        s->flags = flags;
        s->backend = cn_repo_backend(repo);
        cn_buf_init_secret(&s->verify, CN_MAX_TREE_BYTES + 4096);
        /* Measured side by side (bench/RESULTS.md): level 3 stores 4% less than
         * level 1 on the Linux tree in about the same wall time, and 9% less on
         * a 2 GiB file for 13-32% more time; fewer bytes also go up offsite
         * links (docs/cli/backup.md). */
        s->level = 3;
        pthread_mutex_init(&s->lock, NULL);
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        s->workers = cpus > 0 ? (unsigned) cpus : 1;
        r = cn_store_reader_new(s, &s->reader);
        if (r < 0)
                goto fail;
        r = cn_index_new(&s->index);
        if (r < 0)
                goto fail;
        /* Damage records first: the locations they name are left out below. */
        r = load_objects(s, "damage", CN_MAGIC_DAMAGE, damage_object);
        if (r < 0)
                goto fail;
        cn_damage_set_sort(&s->recorded);
        if (flags & (CN_STORE_WRITE | CN_STORE_PRUNE)) {
                r = load_plans(s);
                if (r < 0)
                        goto fail;
        }
        /* Ledgers before the index: a version 2 pack's index file and header
         * open under the pack key its ledger holds. */
        if ((flags & CN_STORE_KEYS) || c->format == 2) {
                r = cn_index_new(&s->ledger_map);
                if (r < 0)
                        goto fail;
                r = load_objects(s, "ledger", CN_MAGIC_LEDGER, ledger_object);
                if (r < 0)
                        goto fail;
        }
        r = load_objects(s, "index", CN_MAGIC_INDEX, index_object);
        if (r < 0)
                goto fail;
        r = adopt_orphans(s);
        if (r < 0)
                goto fail;
        r = use_fallback(s);
        if (r < 0)
                goto fail;
        /* Keys last: each is matched to the pack the index chose for its chunk. */
        if (flags & CN_STORE_KEYS) {
                r = apply_ledgers(s);
                if (r < 0)
                        goto fail;
        }
        kept_bodies_free(s);
        if (flags & CN_STORE_KEYS) {
                if ((flags & CN_STORE_WRITE) && !(flags & CN_STORE_PRUNE)) {
                        r = drop_unkeyed(s);
                        if (r < 0)
                                goto fail;
                }
        }
        s->packs_at_open = cn_index_n_packs(s->index);
        *ret = s;
        return 0;
fail:
        cn_store_free(s);
        return r;
}

static void pack_cache_free(PackCache *pc) {
        if (!pc)
                return;
        for (size_t i = 0; i < pc->n; i++)
                cn_buf_done(&pc->v[i].data);
        free(pc->v);
        pthread_mutex_destroy(&pc->lock);
        pthread_cond_destroy(&pc->changed);
        free(pc);
}

int cn_store_set_pack_cache(CnStore *s, unsigned packs) {
        if (s->cache || packs == 0)
                return 0;
        PackCache *pc = calloc(1, sizeof *pc);
        if (!pc)
                return -ENOMEM;
        pc->v = calloc(packs, sizeof *pc->v);
        if (!pc->v) {
                free(pc);
                return -ENOMEM;
        }
        pc->n = packs;
        for (size_t i = 0; i < packs; i++)
                cn_buf_init(&pc->v[i].data, 0);        /* sized by each pack's extent */
        pthread_mutex_init(&pc->lock, NULL);
        pthread_cond_init(&pc->changed, NULL);
        s->cache = pc;
        return 0;
}

/* The cached copy of pack number `pack` (object name): its blobs, the
 * blob_end bytes its authenticated entries account for (never more: a
 * server that sends a larger pack cannot make a slot grow), fetched if
 * absent; the caller holds it (users) until pack_cache_release(). Waits
 * while the pack is being fetched by another reader, or while every slot is
 * in use. */
static int pack_cache_get(CnStore *s, uint32_t pack, const char *name, uint64_t blob_end, CachedPack **ret) {
        PackCache *pc = s->cache;
        int r;

        pthread_mutex_lock(&pc->lock);
        for (;;) {
                CachedPack *hit = NULL, *victim = NULL;
                for (size_t i = 0; i < pc->n; i++) {
                        CachedPack *e = &pc->v[i];
                        if (e->state != PACK_EMPTY && e->pack == pack) {
                                hit = e;
                                break;
                        }
                        if (e->users == 0 && e->state != PACK_LOADING &&
                            (!victim || e->state < victim->state ||
                             (e->state == victim->state && e->used < victim->used)))
                                victim = e;
                }
                if (hit && hit->state == PACK_READY) {
                        hit->users++;
                        hit->used = ++pc->clock;
                        pthread_mutex_unlock(&pc->lock);
                        *ret = hit;
                        return 0;
                }
                if (hit || !victim) {   /* being fetched, or no free slot: wait */
                        pthread_cond_wait(&pc->changed, &pc->lock);
                        continue;
                }
                victim->state = PACK_LOADING;
                victim->pack = pack;
                pthread_mutex_unlock(&pc->lock);
                victim->data.limit = blob_end;
                r = cn_backend_get(s->backend, name, 0, blob_end, &victim->data);
                if (r == -ENODATA)
                        r = -EBADMSG;   /* shorter than its entries say */
                pthread_mutex_lock(&pc->lock);
                victim->state = r < 0 ? PACK_EMPTY : PACK_READY;
                pthread_cond_broadcast(&pc->changed);
                if (r < 0) {
                        pthread_mutex_unlock(&pc->lock);
                        return r;
                }
        }
}

static void pack_cache_release(CnStore *s, CachedPack *e) {
        pthread_mutex_lock(&s->cache->lock);
        e->users--;
        pthread_cond_broadcast(&s->cache->changed);
        pthread_mutex_unlock(&s->cache->lock);
}

CnStore *cn_store_free(CnStore *s) {
        if (!s)
                return NULL;
        cn_pack_writer_free(s->writer);
        cn_session_end(s->session);
        for (size_t i = 0; i < s->n_plans; i++) {
                free(s->plans[i].name);
                cn_damage_set_done(&s->plans[i].locations);
        }
        free(s->plans);
        cn_damage_set_done(&s->planned);
        free(s->locations);
        cn_index_free(s->index);
        cn_index_free(s->failed_index);
        cn_index_free(s->verified);
        cn_index_free(s->reported);
        cn_damage_set_done(&s->recorded);
        cn_damage_set_done(&s->pending);
        free(s->fallback);
        cn_buf_done(&s->verify);
        kept_free(s);
        cn_names_done(&s->ledgers);
        cn_store_reader_free(s->reader);
        pack_cache_free(s->cache);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
}

CnIndex *cn_store_index(CnStore *s) {
        return s->index;
}

void cn_store_stats(CnStore *s, CnStoreStats *ret) {
        *ret = s->stats;
        if (s->writer) {
                CnPackWriterStats w;
                cn_pack_writer_stats(s->writer, &w);
                ret->blobs_new = w.blobs_new;
                ret->blobs_known = w.blobs_known;
                ret->raw_bytes_new = w.raw_bytes_new;
                ret->stored_bytes_new = w.stored_bytes_new;
                ret->packs_written = w.packs_written;
        }
}

CnRepo *cn_store_repo(const CnStore *s) {
        return s->repo;
}

void cn_store_set_level(CnStore *s, int level) {
        s->level = level;
}

void cn_store_set_workers(CnStore *s, unsigned workers) {
        s->workers = workers ? workers : 1;
}

void cn_store_chunk_id(const CnStore *s, const void *data, size_t n, uint8_t ret_id[CN_ID_BYTES]) {
        cn_id_hash(s->c->id_hasher, data, n, ret_id);
}

/* CN_STORE_VERIFY: before id is deduplicated against a copy that was in
 * the repository before this store opened, read that copy back and compare
 * it with data. A copy that fails (damaged, missing, not the same bytes) is
 * forgotten, so the put below stores the chunk anew, and its location is
 * recorded as damaged by the next flush. */
static int verify_reuse(CnStore *s, uint8_t type, const uint8_t id[CN_ID_BYTES], const void *data, size_t n) {
        char name[160];
        CnBlobLoc loc;
        bool found;
        int r;

        pthread_mutex_lock(&s->lock);
        found = cn_index_lookup(s->index, id, &loc);
        pthread_mutex_unlock(&s->lock);
        if (!found || loc.pack >= s->packs_at_open || set_marked(s->verified, id))
                return 0;
        r = cn_store_read(s->reader, id, &s->verify);
        if (r < 0 && cn_store_error_is_environment(r))
                return r;
        if (r >= 0 && loc.type == type && s->verify.len == n && memcmp(s->verify.data, data, n) == 0)
                return set_mark(&s->verified, id) < 0 ? -ENOMEM : 0;
        pthread_mutex_lock(&s->lock);
        const uint8_t *pack_id = cn_index_pack_id(s->index, loc.pack);
        r = cn_damage_set_add(&s->pending, pack_id, id);
        if (r >= 0)
                cn_index_forget(s->index, id);
        object_name(s, "data", pack_id, name, sizeof name);
        bool first = r >= 0 && !set_marked(s->reported, pack_id);
        if (first)
                r = set_mark(&s->reported, pack_id);
        pthread_mutex_unlock(&s->lock);
        if (r < 0)
                return r;
        if (first && s->damaged)
                s->damaged(name, -EBADMSG, s->damaged_userdata);
        return 0;
}

/* The writer starts with the first put. */
static int writer_start(CnStore *s) {
        if (s->writer)
                return 0;
        return cn_pack_writer_new(s->repo, s->c, s->index, &s->ledgers, &s->lock, s->workers, s->level, &s->writer);
}

int cn_store_put(CnStore *s, uint8_t type, const uint8_t id[CN_ID_BYTES], const void *data, size_t n,
                 bool *ret_added) {
        int r;
        if ((r = cn_store_session_refresh(s)) < 0)
                return r;
        if (s->flags & CN_STORE_VERIFY) {
                r = verify_reuse(s, type, id, data, n);
                if (r < 0)
                        return r;
        }
        r = writer_start(s);
        if (r < 0)
                return r;
        r = cn_pack_writer_add(s->writer, type, id, data, n);
        if (r < 0)
                return r;
        if (ret_added)
                *ret_added = r > 0;
        return 0;
}

int cn_store_put_sealed(CnStore *s, const uint8_t id[CN_ID_BYTES], const CnBlobLoc *loc, const uint8_t *sealed,
                        const uint8_t key[CN_KEY_BYTES], bool *ret_added) {
        uint8_t ad[CN_CHUNK_AD_BYTES];
        int r;

        if (loc->length < CN_AEAD_NONCE_BYTES + CN_AEAD_TAG_BYTES)
                return -EINVAL;
        /* Never store a copy that does not open: it would pass for a good one. */
        if ((r = cn_buf_reserve(&s->verify, loc->length)) < 0)
                return r;
        cn_pack_chunk_ad(cn_repo_processor_id(s->repo), s->c->id, id, loc->type, ad);
        r = cn_aead_open(s->verify.data, sealed + CN_AEAD_NONCE_BYTES, loc->length - CN_AEAD_NONCE_BYTES, ad,
                         sizeof ad, sealed, key);
        if (r >= 0)
                r = cn_store_session_refresh(s);
        if (r >= 0)
                r = writer_start(s);
        if (r < 0)
                return r;
        r = cn_pack_writer_add_sealed(s->writer, id, loc, sealed, key);
        if (r < 0)
                return r;
        if (ret_added)
                *ret_added = r > 0;
        return 0;
}

int cn_store_locate(CnStore *s, const uint8_t id[CN_ID_BYTES], CnBlobLoc *ret_loc, uint8_t ret_key[CN_KEY_BYTES],
                    char *ret_pack_name, size_t n) {
        CnBlobLoc loc;
        int r = -ENOENT;
        pthread_mutex_lock(&s->lock);
        if (cn_index_lookup(s->index, id, &loc) && cn_index_pack_indexed(s->index, loc.pack)) {
                const uint8_t *k = cn_index_get_key(s->index, id);
                r = k ? 0 : -ENOKEY;
                if (k) {
                        memcpy(ret_key, k, CN_KEY_BYTES);
                        object_name(s, "data", cn_index_pack_id(s->index, loc.pack), ret_pack_name, n);
                        *ret_loc = loc;
                }
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}

int cn_store_pack_blob_end(CnStore *s, uint32_t pack, uint64_t *ret) {
        pthread_mutex_lock(&s->lock);
        int r = cn_index_pack_extent(s->index, pack, ret, NULL);
        pthread_mutex_unlock(&s->lock);
        return r;
}

static int flush_writer(CnStore *s) {
        return s->writer ? cn_pack_writer_flush(s->writer) : 0;
}

/* Put one damage record of everything pending, named by its SHA-256. */
static int write_damage(CnStore *s) {
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(CN_MAX_META_BYTES);
        uint8_t id[CN_ID_BYTES];
        char name[CN_ENVELOPE_NAME_MAX];
        int r;

        pthread_mutex_lock(&s->lock);
        r = s->pending.n ? cn_damage_encode(&s->pending, &body) : 0;
        pthread_mutex_unlock(&s->lock);
        if (r < 0 || body.len == 0)
                return r;
        r = cn_controller_seal(s->repo, s->c, CN_MAGIC_DAMAGE, body.data, body.len, &obj);
        if (r < 0)
                return r;
        cn_envelope_content_name("damage", s->c->id_hex, obj.data, obj.len, id, name);
        r = cn_backend_put(s->backend, name, obj.data, obj.len, CN_PUT_EXCLUSIVE);
        if (r < 0 && r != -EEXIST)
                return r;
        r = 0;
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; r >= 0 && i < s->pending.n; i++)
                r = cn_damage_set_add(&s->recorded, s->pending.v[i].pack, s->pending.v[i].blob);
        cn_damage_set_sort(&s->recorded);
        cn_damage_set_done(&s->pending);
        pthread_mutex_unlock(&s->lock);
        return r;
}

int cn_store_flush(CnStore *s) {
        /* Fresh copies first: a record must not hide a location before
         * the copy that replaces it is there. */
        int r = flush_writer(s);
        if (r < 0)
                return r;
        return write_damage(s);
}

int cn_store_note_damage(CnStore *s, uint32_t pack, const uint8_t id[CN_ID_BYTES]) {
        const uint8_t *pack_id = cn_index_pack_id(s->index, pack);
        int r = 0;
        if (!pack_id)
                return -ENOENT;
        pthread_mutex_lock(&s->lock);
        if (!cn_damage_set_contains(&s->recorded, pack_id, id))
                r = cn_damage_set_add(&s->pending, pack_id, id);
        pthread_mutex_unlock(&s->lock);
        return r;
}

void cn_store_forget(CnStore *s, const uint8_t id[CN_ID_BYTES]) {
        pthread_mutex_lock(&s->lock);
        cn_index_forget(s->index, id);
        pthread_mutex_unlock(&s->lock);
}

int cn_store_session_refresh(CnStore *s) {
        return s->session ? cn_session_refresh(s->session, false) : 0;
}

int cn_store_session_check(CnStore *s) {
        return s->session ? cn_session_check(s->session) : 0;
}

const CnStorePlan *cn_store_plans(const CnStore *s, size_t *ret_n) {
        *ret_n = s->n_plans;
        return s->plans;
}

bool cn_store_planned(const CnStore *s, uint32_t pack, const uint8_t id[CN_ID_BYTES]) {
        const uint8_t *pack_id = cn_index_pack_id(s->index, pack);
        return pack_id && cn_damage_set_contains(&s->planned, pack_id, id);
}

const CnStoreLocation *cn_store_locations(const CnStore *s, size_t *ret_n) {
        *ret_n = s->n_locations;
        return s->locations;
}

const char *cn_store_session_name(const CnStore *s) {
        return s->session ? cn_session_name(s->session) : NULL;
}

bool cn_store_damage_recorded(CnStore *s, uint32_t pack, const uint8_t id[CN_ID_BYTES]) {
        const uint8_t *pack_id = cn_index_pack_id(s->index, pack);
        return pack_id && cn_damage_set_contains(&s->recorded, pack_id, id);
}

int cn_store_blob_size(CnStore *s, const uint8_t id[CN_ID_BYTES], uint32_t *ret) {
        CnBlobLoc loc;
        pthread_mutex_lock(&s->lock);
        bool found = cn_index_lookup(s->index, id, &loc);
        pthread_mutex_unlock(&s->lock);
        if (!found)
                return -ENOENT;
        *ret = loc.raw_length;
        return 0;
}

bool cn_store_contains(CnStore *s, const uint8_t id[CN_ID_BYTES]) {
        pthread_mutex_lock(&s->lock);
        bool r = cn_index_contains(s->index, id);
        pthread_mutex_unlock(&s->lock);
        return r;
}

/* Authenticate and decompress the sealed blob at sealed (loc->length bytes,
 * modified in place) into out. */
struct CnStoreReader {
        CnStore *s;
        ZSTD_DCtx *dctx;
        CnBuf fetch;                    /* sealed blob read back */
        uint8_t *key;                   /* secret: the data key of the blob being read */
};

CnStoreReader *cn_store_reader_free(CnStoreReader *rd) {
        if (!rd)
                return NULL;
        ZSTD_freeDCtx(rd->dctx);
        cn_buf_done(&rd->fetch);
        cn_secret_free(rd->key);
        free(rd);
        return NULL;
}

int cn_store_reader_new(CnStore *s, CnStoreReader **ret) {
        CnStoreReader *rd = calloc(1, sizeof *rd);
        if (!rd)
                return -ENOMEM;
        rd->s = s;
        cn_buf_init_secret(&rd->fetch, CN_MAX_TREE_BYTES + 4096);
        rd->dctx = ZSTD_createDCtx();
        rd->key = cn_secret_new(CN_KEY_BYTES);
        if (!rd->dctx || !rd->key) {
                cn_store_reader_free(rd);
                return -ENOMEM;
        }
        *ret = rd;
        return 0;
}

static int open_blob(CnStore *s, ZSTD_DCtx *dctx, const uint8_t id[CN_ID_BYTES], const CnBlobLoc *loc, const uint8_t *key,
                     uint8_t *sealed, CnBuf *out) {
        uint8_t ad[CN_CHUNK_AD_BYTES];
        int r;

        cn_pack_chunk_ad(cn_repo_processor_id(s->repo), s->c->id, id, loc->type, ad);
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
        size_t z = ZSTD_decompressDCtx(dctx, out->data, loc->raw_length, plain, plain_len);
        if (ZSTD_isError(z) || z != loc->raw_length)
                return -EBADMSG;
        out->len = z;
        return 0;
}

int cn_store_get(CnStore *s, const uint8_t id[CN_ID_BYTES], CnBuf *out) {
        return cn_store_read(s->reader, id, out);
}

int cn_store_read(CnStoreReader *rd, const uint8_t id[CN_ID_BYTES], CnBuf *out) {
        CnStore *s = rd->s;
        char name[160];
        CnBlobLoc loc;
        bool found, pending, key, cached;
        uint64_t blob_end = 0;
        int r;

        pthread_mutex_lock(&s->lock);
        found = cn_index_lookup(s->index, id, &loc);
        pending = !found ? cn_index_contains(s->index, id) : !cn_index_pack_indexed(s->index, loc.pack);
        pthread_mutex_unlock(&s->lock);
        if (pending) {
                /* Stored by this very store and not written yet: write it first. */
                r = flush_writer(s);
                if (r < 0)
                        return r;
                pthread_mutex_lock(&s->lock);
                found = cn_index_lookup(s->index, id, &loc);
                pthread_mutex_unlock(&s->lock);
        }
        if (!found)
                return -ENOENT;
        pthread_mutex_lock(&s->lock);
        const uint8_t *k = cn_index_get_key(s->index, id);
        if ((key = k != NULL))
                memcpy(rd->key, k, CN_KEY_BYTES);
        object_name(s, "data", cn_index_pack_id(s->index, loc.pack), name, sizeof name);
        cached = s->cache && cn_index_pack_extent(s->index, loc.pack, &blob_end, NULL) >= 0;
        pthread_mutex_unlock(&s->lock);
        if (!key)
                return -ENOKEY;
        if (cached) {
                CachedPack *e;
                r = pack_cache_get(s, loc.pack, name, blob_end, &e);
                if (r < 0)
                        return r;
                if ((uint64_t) loc.offset + loc.length > e->data.len)
                        r = -EBADMSG;   /* the index points past the pack's end */
                else {
                        /* A copy: opening decrypts in place. */
                        cn_buf_reset(&rd->fetch);
                        r = cn_buf_append(&rd->fetch, e->data.data + loc.offset, loc.length);
                }
                pack_cache_release(s, e);
        } else {
                r = cn_backend_get(s->backend, name, loc.offset, loc.length, &rd->fetch);
                if (r == -ENODATA)
                        r = -EBADMSG;
        }
        if (r < 0)
                return r;
        return open_blob(s, rd->dctx, id, &loc, rd->key, rd->fetch.data, out);
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
        r = open_blob(s, s->reader->dctx, id, loc, key, data + loc->offset, scratch);
        if (r < 0)
                return r;
        cn_store_chunk_id(s, scratch->data, scratch->len, again);
        return cn_memeq(again, id, CN_ID_BYTES) ? 0 : -EBADMSG;
}

int cn_store_verify_pack(CnStore *s, uint32_t pack, const uint8_t *data, size_t n, size_t *ret_blob_area) {
        const uint8_t *pack_id = cn_index_pack_id(s->index, pack), *key;
        uint8_t ad[CN_PACK_HEADER_AD_BYTES];
        uint32_t version;
        int r;

        if (!pack_id)
                return -ENOENT;
        pthread_mutex_lock(&s->lock);
        r = pack_key(s, pack_id, &version, &key);
        pthread_mutex_unlock(&s->lock);
        if (r < 0)
                return r == -ENOKEY ? -EBADMSG : r;
        if (n < CN_PACK_PREAMBLE_BYTES + CN_PACK_TRAILER_BYTES || memcmp(data, CN_MAGIC_PACK, CN_MAGIC_BYTES) != 0 ||
            cn_le32_get(data + CN_MAGIC_BYTES) != version ||
            memcmp(data + CN_MAGIC_BYTES + 4, cn_repo_processor_id(s->repo), CN_UUID_BYTES) != 0 ||
            memcmp(data + CN_MAGIC_BYTES + 4 + CN_UUID_BYTES, s->c->id, CN_UUID_BYTES) != 0)
                return -EBADMSG;
        uint32_t hlen;
        if (cn_pack_trailer_parse(data + n - CN_PACK_TRAILER_BYTES, n, &hlen) < 0)
                return -EBADMSG;
        /* The header authenticates as a whole; its entries are what the index already holds. */
        _cleanup_(cn_buf_donep) CnBuf hdr = CN_BUF_INIT(CN_MAX_META_BYTES);
        r = cn_buf_append(&hdr, data + n - CN_PACK_TRAILER_BYTES - hlen, hlen);
        if (r < 0)
                return r;
        cn_pack_header_ad(version, cn_repo_processor_id(s->repo), s->c->id, pack_id, ad);
        r = cn_aead_open(hdr.data + CN_AEAD_NONCE_BYTES, hdr.data + CN_AEAD_NONCE_BYTES, hlen - CN_AEAD_NONCE_BYTES,
                         ad, sizeof ad, hdr.data, key);
        if (r < 0)
                return r;
        *ret_blob_area = n - CN_PACK_TRAILER_BYTES - hlen;
        return 0;
}

const char *cn_store_pack_ledger(CnStore *s, uint32_t pack) {
        uint32_t ledger;
        pthread_mutex_lock(&s->lock);
        int r = cn_index_pack_ledger(s->index, pack, &ledger);
        const char *name = r >= 0 && ledger < s->ledgers.n ? s->ledgers.v[ledger] : NULL;
        pthread_mutex_unlock(&s->lock);
        return name;
}

const uint8_t *cn_store_pack_key(CnStore *s, uint32_t pack) {
        pthread_mutex_lock(&s->lock);
        const uint8_t *key = cn_index_pack_key(s->index, pack);
        pthread_mutex_unlock(&s->lock);
        return key;
}

size_t cn_store_n_ledgers(CnStore *s) {
        pthread_mutex_lock(&s->lock);
        size_t n = s->ledgers.n;
        pthread_mutex_unlock(&s->lock);
        return n;
}

const char *cn_store_ledger(CnStore *s, size_t no, const uint8_t (**ret_packs)[CN_ID_BYTES], size_t *ret_n) {
        pthread_mutex_lock(&s->lock);
        const char *name = no < s->ledgers.n ? s->ledgers.v[no] : NULL;
        *ret_packs = no < s->n_kept ? (const uint8_t(*)[CN_ID_BYTES]) s->kept[no].packs : NULL;
        *ret_n = no < s->n_kept ? s->kept[no].n_packs : 0;
        pthread_mutex_unlock(&s->lock);
        return name;
}

CnController *cn_store_controller(const CnStore *s) {
        return s->c;
}
