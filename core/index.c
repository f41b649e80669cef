/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "macro.h"

#define NO_PACK UINT32_MAX
#define CLAIMED (UINT32_MAX - 1)        /* in pack: a blob on its way */
#define KEY_BLOCK 4096                  /* keys per secret block */
#define ENTRY_BLOCK_BITS 16             /* entries are allocated 65536 at a time */
#define ENTRY_BLOCK (1u << ENTRY_BLOCK_BITS)

/* 48 bytes: with a 4-byte slot at 0.375 to 0.75 load and a 4-byte key
 * number, 57 to 63 bytes a chunk (docs/internals/index.md). */
typedef struct Entry {
        uint8_t id[CN_ID_BYTES];
        uint32_t pack;                  /* CLAIMED: on its way; NO_PACK: never placed */
        uint32_t offset;
        uint32_t length;
        uint32_t meta;                  /* raw_length:29 type:2 flags:1 */
} Entry;

#define META(raw, type, flags) ((raw) | (uint32_t) (type) << 29 | (uint32_t) (flags) << 31)
#define META_RAW(m) ((m) & ((1u << 29) - 1))
#define META_TYPE(m) (((m) >> 29) & 3)
#define META_FLAGS(m) ((m) >> 31)

typedef struct Pack {
        uint8_t id[CN_ID_BYTES];
        bool indexed;
        bool has_extent;
        uint32_t entries;
        uint64_t blob_end;
        uint32_t key;                   /* its pack key's number; CN_NO_KEY: none */
        uint32_t ledger;                /* the caller's number of its ledger + 1; 0: none */
} Pack;

struct CnIndex {
        Entry **blocks;                 /* ENTRY_BLOCK entries each */
        uint32_t **key_numbers;         /* per block, made when a key is first set there */
        size_t n_blocks;
        uint32_t n_entries;
        uint32_t *slots;                /* entry number + 1; 0 = empty */
        size_t n_slots;                 /* power of two */
        Pack *packs;
        uint32_t n_packs, cap_packs;
        uint32_t *pack_slots;           /* pack number + 1; 0 = empty; 2 * cap_packs of them */
        uint8_t **key_blocks;           /* cn_secret_new(KEY_BLOCK * CN_KEY_BYTES) each */
        size_t n_key_blocks;
        uint32_t n_keys;
};

static inline Entry *entry(const CnIndex *x, uint32_t e) {
        return &x->blocks[e >> ENTRY_BLOCK_BITS][e & (ENTRY_BLOCK - 1)];
}

int cn_index_new(CnIndex **ret) {
        CnIndex *x = calloc(1, sizeof *x);
        if (!x)
                return -ENOMEM;
        x->n_slots = 1024;
        x->slots = calloc(x->n_slots, sizeof *x->slots);
        if (!x->slots) {
                free(x);
                return -ENOMEM;
        }
        *ret = x;
        return 0;
}

CnIndex *cn_index_free(CnIndex *x) {
        if (!x)
                return NULL;
        for (size_t i = 0; i < x->n_key_blocks; i++)
                cn_secret_free(x->key_blocks[i]);
        free(x->key_blocks);
        for (size_t i = 0; i < x->n_blocks; i++) {
                free(x->blocks[i]);
                free(x->key_numbers[i]);
        }
        free(x->blocks);
        free(x->key_numbers);
        free(x->slots);
        free(x->packs);
        free(x->pack_slots);
        free(x);
        return NULL;
}

static inline uint64_t id_hash(const uint8_t id[CN_ID_BYTES]) {
        return cn_le64_get(id);
}

/* Slot of pack_id in pack_slots (of 2 * cap_packs), or the empty one where it goes. */
static size_t pack_slot(const CnIndex *x, const uint8_t pack_id[CN_ID_BYTES]) {
        size_t mask = (size_t) x->cap_packs * 2 - 1;
        for (size_t s = id_hash(pack_id) & mask;; s = (s + 1) & mask) {
                uint32_t p = x->pack_slots[s];
                if (p == 0 || memcmp(x->packs[p - 1].id, pack_id, CN_ID_BYTES) == 0)
                        return s;
        }
}

int cn_index_find_pack(const CnIndex *x, const uint8_t pack_id[CN_ID_BYTES], uint32_t *ret_pack) {
        if (x->n_packs == 0)
                return -ENOENT;
        uint32_t p = x->pack_slots[pack_slot(x, pack_id)];
        if (p == 0)
                return -ENOENT;
        *ret_pack = p - 1;
        return 0;
}

int cn_index_add_pack(CnIndex *x, const uint8_t pack_id[CN_ID_BYTES], uint32_t *ret_pack) {
        if (cn_index_find_pack(x, pack_id, ret_pack) == 0)
                return 0;
        if (x->n_packs >= CLAIMED - 1)
                return -E2BIG;
        if (x->n_packs == x->cap_packs) {
                uint32_t n = x->cap_packs ? x->cap_packs * 2 : 64;
                Pack *p = realloc(x->packs, n * sizeof *p);
                if (!p)
                        return -ENOMEM;
                x->packs = p;
                uint32_t *slots = calloc((size_t) n * 2, sizeof *slots);
                if (!slots)
                        return -ENOMEM;
                free(x->pack_slots);
                x->pack_slots = slots;
                x->cap_packs = n;
                for (uint32_t i = 0; i < x->n_packs; i++)
                        x->pack_slots[pack_slot(x, x->packs[i].id)] = i + 1;
        }
        x->packs[x->n_packs] = (Pack) { .key = CN_NO_KEY };
        memcpy(x->packs[x->n_packs].id, pack_id, CN_ID_BYTES);
        x->pack_slots[pack_slot(x, pack_id)] = x->n_packs + 1;
        *ret_pack = x->n_packs++;
        return 0;
}

const uint8_t *cn_index_pack_id(const CnIndex *x, uint32_t pack) {
        return pack < x->n_packs ? x->packs[pack].id : NULL;
}

uint32_t cn_index_n_packs(const CnIndex *x) {
        return x->n_packs;
}

bool cn_index_pack_indexed(const CnIndex *x, uint32_t pack) {
        return pack < x->n_packs && x->packs[pack].indexed;
}

void cn_index_pack_set_indexed(CnIndex *x, uint32_t pack) {
        if (pack < x->n_packs)
                x->packs[pack].indexed = true;
}

void cn_index_pack_set_extent(CnIndex *x, uint32_t pack, uint64_t blob_end, uint32_t entries) {
        if (pack >= x->n_packs)
                return;
        Pack *p = &x->packs[pack];
        p->blob_end = CN_MAX(p->blob_end, blob_end);
        p->entries = CN_MAX(p->entries, entries);
        p->has_extent = true;
}

int cn_index_pack_extent(const CnIndex *x, uint32_t pack, uint64_t *ret_blob_end, uint32_t *ret_entries) {
        if (pack >= x->n_packs || !x->packs[pack].has_extent)
                return -ENOENT;
        if (ret_blob_end)
                *ret_blob_end = x->packs[pack].blob_end;
        if (ret_entries)
                *ret_entries = x->packs[pack].entries;
        return 0;
}

/* Slot holding id, or the empty slot where it would go. */
static size_t find_slot(const CnIndex *x, const uint8_t id[CN_ID_BYTES]) {
        size_t mask = x->n_slots - 1;
        for (size_t s = id_hash(id) & mask;; s = (s + 1) & mask) {
                uint32_t e = x->slots[s];
                if (e == 0 || memcmp(entry(x, e - 1)->id, id, CN_ID_BYTES) == 0)
                        return s;
        }
}

static int grow_slots(CnIndex *x) {
        size_t n = x->n_slots * 2, mask = n - 1;
        uint32_t *s = calloc(n, sizeof *s);
        if (!s)
                return -ENOMEM;
        free(x->slots);
        x->slots = s;
        x->n_slots = n;
        /* The ids are distinct: the first empty slot is the place, no compare needed. */
        for (uint32_t i = 0; i < x->n_entries; i++) {
                size_t k = id_hash(entry(x, i)->id) & mask;
                while (s[k])
                        k = (k + 1) & mask;
                s[k] = i + 1;
        }
        return 0;
}

static Entry *get_or_add(CnIndex *x, const uint8_t id[CN_ID_BYTES], bool *ret_added) {
        size_t s = find_slot(x, id);
        if (x->slots[s]) {
                *ret_added = false;
                return entry(x, x->slots[s] - 1);
        }
        if (x->n_entries >= UINT32_MAX - 1)
                return NULL;
        if (((size_t) x->n_entries + 1) * 4 > x->n_slots * 3) {
                if (grow_slots(x) < 0)
                        return NULL;
                s = find_slot(x, id);
        }
        if ((x->n_entries >> ENTRY_BLOCK_BITS) == x->n_blocks) {
                Entry **b = realloc(x->blocks, (x->n_blocks + 1) * sizeof *b);
                if (!b)
                        return NULL;
                x->blocks = b;
                uint32_t **k = realloc(x->key_numbers, (x->n_blocks + 1) * sizeof *k);
                if (!k)
                        return NULL;
                x->key_numbers = k;
                b[x->n_blocks] = malloc(ENTRY_BLOCK * sizeof(Entry));
                if (!b[x->n_blocks])
                        return NULL;
                k[x->n_blocks] = NULL;
                x->n_blocks++;
        }
        Entry *e = entry(x, x->n_entries);
        *e = (Entry) { .pack = NO_PACK };
        memcpy(e->id, id, CN_ID_BYTES);
        x->slots[s] = ++x->n_entries;
        *ret_added = true;
        return e;
}

int cn_index_insert(CnIndex *x, const uint8_t id[CN_ID_BYTES], const CnBlobLoc *loc) {
        bool added;
        Entry *e = get_or_add(x, id, &added);
        if (!e)
                return -ENOMEM;
        if (e->pack != NO_PACK && e->pack != CLAIMED)
                return 0;
        if (loc->raw_length >= (1u << 29) || loc->type > 3 || loc->flags > 1 || loc->pack >= CLAIMED)
                return -EINVAL;
        e->pack = loc->pack;
        e->offset = loc->offset;
        e->length = loc->length;
        e->meta = META(loc->raw_length, loc->type, loc->flags);
        return 1;
}

int cn_index_claim(CnIndex *x, const uint8_t id[CN_ID_BYTES]) {
        bool added;
        Entry *e = get_or_add(x, id, &added);
        if (!e)
                return -ENOMEM;
        if (e->pack != NO_PACK)
                return 0;
        e->pack = CLAIMED;
        return 1;
}

/* The entry number of id + 1, or 0. */
static uint32_t lookup_number(const CnIndex *x, const uint8_t id[CN_ID_BYTES]) {
        return x->slots[find_slot(x, id)];
}

void cn_index_forget(CnIndex *x, const uint8_t id[CN_ID_BYTES]) {
        uint32_t e = lookup_number(x, id);
        if (!e)
                return;
        e--;
        entry(x, e)->pack = NO_PACK;
        uint32_t *numbers = x->key_numbers[e >> ENTRY_BLOCK_BITS];
        if (!numbers || numbers[e & (ENTRY_BLOCK - 1)] == CN_NO_KEY)
                return;
        uint32_t k = numbers[e & (ENTRY_BLOCK - 1)];
        /* The key's place stays allocated (keys are numbered densely); its bytes go. */
        cn_memzero(x->key_blocks[k / KEY_BLOCK] + (size_t) (k % KEY_BLOCK) * CN_KEY_BYTES, CN_KEY_BYTES);
        numbers[e & (ENTRY_BLOCK - 1)] = CN_NO_KEY;
}

static const Entry *lookup(const CnIndex *x, const uint8_t id[CN_ID_BYTES]) {
        uint32_t e = lookup_number(x, id);
        return e ? entry(x, e - 1) : NULL;
}

bool cn_index_contains(const CnIndex *x, const uint8_t id[CN_ID_BYTES]) {
        const Entry *e = lookup(x, id);
        return e && e->pack != NO_PACK;
}

bool cn_index_lookup(const CnIndex *x, const uint8_t id[CN_ID_BYTES], CnBlobLoc *ret) {
        const Entry *e = lookup(x, id);
        if (!e || e->pack == NO_PACK || e->pack == CLAIMED)
                return false;
        if (ret)
                *ret = (CnBlobLoc) {
                        .pack = e->pack,
                        .offset = e->offset,
                        .length = e->length,
                        .raw_length = META_RAW(e->meta),
                        .type = (uint8_t) META_TYPE(e->meta),
                        .flags = (uint8_t) META_FLAGS(e->meta),
                };
        return true;
}

size_t cn_index_size(const CnIndex *x) {
        size_t n = 0;
        for (uint32_t i = 0; i < x->n_entries; i++)
                n += entry(x, i)->pack < CLAIMED;
        return n;
}

size_t cn_index_memory(const CnIndex *x) {
        size_t m = x->n_slots * sizeof *x->slots + x->n_blocks * ENTRY_BLOCK * sizeof(Entry);
        for (size_t i = 0; i < x->n_blocks; i++)
                if (x->key_numbers[i])
                        m += ENTRY_BLOCK * sizeof(uint32_t);
        return m;
}

int cn_index_foreach(const CnIndex *x, int (*fn)(const uint8_t id[CN_ID_BYTES], const CnBlobLoc *loc, void *u),
                     void *u) {
        for (uint32_t i = 0; i < x->n_entries; i++) {
                CnBlobLoc loc;
                const uint8_t *id = entry(x, i)->id;
                if (!cn_index_lookup(x, id, &loc))
                        continue;
                int r = fn(id, &loc, u);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Store key in slot *k, taking a new slot when it has none. */
static int key_put(CnIndex *x, uint32_t *k, const uint8_t key[CN_KEY_BYTES]) {
        if (*k == CN_NO_KEY) {
                if (x->n_keys == x->n_key_blocks * KEY_BLOCK) {
                        uint8_t **b = realloc(x->key_blocks, (x->n_key_blocks + 1) * sizeof *b);
                        if (!b)
                                return -ENOMEM;
                        x->key_blocks = b;
                        b[x->n_key_blocks] = cn_secret_new((size_t) KEY_BLOCK * CN_KEY_BYTES);
                        if (!b[x->n_key_blocks])
                                return -ENOMEM;
                        x->n_key_blocks++;
                }
                *k = x->n_keys++;
        }
        memcpy(x->key_blocks[*k / KEY_BLOCK] + (size_t) (*k % KEY_BLOCK) * CN_KEY_BYTES, key, CN_KEY_BYTES);
        return 0;
}

static const uint8_t *key_get(const CnIndex *x, uint32_t k) {
        return k == CN_NO_KEY ? NULL : x->key_blocks[k / KEY_BLOCK] + (size_t) (k % KEY_BLOCK) * CN_KEY_BYTES;
}

int cn_index_set_key(CnIndex *x, const uint8_t id[CN_ID_BYTES], const uint8_t key[CN_KEY_BYTES]) {
        uint32_t e = lookup_number(x, id);
        if (!e)
                return -ENOENT;
        e--;
        uint32_t **numbers = &x->key_numbers[e >> ENTRY_BLOCK_BITS];
        if (!*numbers) {
                *numbers = malloc(ENTRY_BLOCK * sizeof **numbers);
                if (!*numbers)
                        return -ENOMEM;
                memset(*numbers, 0xff, ENTRY_BLOCK * sizeof **numbers);        /* CN_NO_KEY */
        }
        return key_put(x, &(*numbers)[e & (ENTRY_BLOCK - 1)], key);
}

int cn_index_pack_set_key(CnIndex *x, uint32_t pack, const uint8_t key[CN_KEY_BYTES]) {
        if (pack >= x->n_packs)
                return -ENOENT;
        return key_put(x, &x->packs[pack].key, key);
}

const uint8_t *cn_index_pack_key(const CnIndex *x, uint32_t pack) {
        return pack < x->n_packs ? key_get(x, x->packs[pack].key) : NULL;
}

void cn_index_pack_set_ledger(CnIndex *x, uint32_t pack, uint32_t ledger) {
        if (pack < x->n_packs && ledger < UINT32_MAX)
                x->packs[pack].ledger = ledger + 1;
}

int cn_index_pack_ledger(const CnIndex *x, uint32_t pack, uint32_t *ret_ledger) {
        if (pack >= x->n_packs || x->packs[pack].ledger == 0)
                return -ENOENT;
        *ret_ledger = x->packs[pack].ledger - 1;
        return 0;
}

const uint8_t *cn_index_get_key(const CnIndex *x, const uint8_t id[CN_ID_BYTES]) {
        uint32_t e = lookup_number(x, id);
        if (!e)
                return NULL;
        e--;
        const uint32_t *numbers = x->key_numbers[e >> ENTRY_BLOCK_BITS];
        if (!numbers || numbers[e & (ENTRY_BLOCK - 1)] == CN_NO_KEY)
                return NULL;
        uint32_t k = numbers[e & (ENTRY_BLOCK - 1)];
        return x->key_blocks[k / KEY_BLOCK] + (size_t) (k % KEY_BLOCK) * CN_KEY_BYTES;
}
