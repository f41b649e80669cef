/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The chunk store of one controller: dedup, compression, sealing, packs,
 * index and key-ledger files (docs/FORMAT.md "Packs", "Index", "Ledger").
 *
 * Writing a pack is three puts in this order, so an interrupted writer
 * leaves nothing a reader trusts that is not there:
 *   1. ledger/<ctrl>/<pack>  the data keys of the pack's blobs
 *   2. data/<ctrl>/<xx>/<pack>  the pack itself
 *   3. index/<ctrl>/<pack>  where each blob is
 * A pack without a good index file (a writer killed between 2 and 3, or an
 * index file lost or damaged) is read from its own encrypted header by every
 * store, and its index file put again by the next writer ("adoption").
 *
 * Puts are handed to worker threads (pack-writer.h): put returns once the
 * blob is queued, flush once everything queued is durably written. One
 * thread puts; gets and contains may come from that thread meanwhile. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "damage.h"
#include "index.h"
#include "repo.h"

typedef struct CnStore CnStore;

typedef struct CnStoreStats {
        uint64_t blobs_new, blobs_known;
        uint64_t raw_bytes_new;         /* plaintext of new blobs */
        uint64_t stored_bytes_new;      /* what new blobs cost in packs */
        uint64_t packs_written;
        uint64_t packs_adopted;         /* orphans from an interrupted writer */
} CnStoreStats;

enum {
        CN_STORE_KEYS = 1u << 0,        /* load the key ledger: needed to read blobs */
        CN_STORE_WRITE = 1u << 1,       /* will write: put index files of orphan packs, and
                                         * with KEYS treat chunks without a data key as absent */
        CN_STORE_VERIFY = 1u << 2,      /* with WRITE: read back every chunk a put would reuse
                                         * (backup --force); one that fails is stored again */
        CN_STORE_ALL_LOCATIONS = 1u << 3, /* keep every entry of every pack (cn_store_locations()) */
        CN_STORE_PRUNE = 1u << 4,       /* load the deletion plans; their locations and damaged
                                         * ones are read only when no other copy is known (as
                                         * readers do); with WRITE the session is a prune's */
        CN_STORE_ERASE = 1u << 5,       /* with PRUNE and WRITE: the session is an erasure's */
};

/* A deletion plan (docs/FORMAT.md "Deleting without a lock"), as loaded. */
typedef struct CnStorePlan {
        uint8_t id[CN_ID_BYTES];
        char *name;                     /* prune/<ctrl>/<id> */
        int64_t created;
        CnDamageSet locations;          /* sorted */
} CnStorePlan;

/* One entry of one pack's index (duplicates and damaged copies included). */
typedef struct CnStoreLocation {
        uint8_t id[CN_ID_BYTES];
        CnBlobLoc loc;
} CnStoreLocation;

/* A damaged object (index, ledger or damage record that cannot be read or
 * does not open, a pack whose index and header both fail, a pack holding a
 * reused chunk that failed CN_STORE_VERIFY): with a callback it is reported
 * (once) and read around; without, opening fails with its error. error is
 * a negative errno: -EBADMSG fails authentication or is not what its name
 * says, -E2BIG larger than any object may be, -EPROTONOSUPPORT unknown
 * version. */
typedef void (*CnStoreDamagedFn)(const char *name, int error, void *userdata);
/* Errors that tell of the machine or the connection (no memory, no space,
 * access refused, server gone), not of the object read: they fail an
 * operation, where the object's own errors are reported and read around. */
bool cn_store_error_is_environment(int r);

int cn_store_open(CnRepo *repo, CnController *c, unsigned flags, CnStore **ret);
int cn_store_open_tolerant(CnRepo *repo, CnController *c, unsigned flags, CnStoreDamagedFn fn, void *userdata,
                           CnStore **ret);
/* Frees without flushing: an unflushed pack is dropped (never half-written). */
CnStore *cn_store_free(CnStore *s);
static inline void cn_store_freep(CnStore **s) {
        cn_store_free(*s);
}

CnIndex *cn_store_index(CnStore *s);
void cn_store_stats(CnStore *s, CnStoreStats *ret);
/* Before the first put: zstd level (default 1) and compression threads
 * (default: one per online CPU). */
void cn_store_set_level(CnStore *s, int level);
void cn_store_set_workers(CnStore *s, unsigned workers);

/* Read through a cache of up to `packs` whole packs (off by default): a
 * reader that needs many blobs of one pack, as a restore does, then fetches
 * it once instead of once a blob. For remote repositories, where each fetch
 * is a request. A slot holds the blobs of one pack, as many bytes as the
 * pack's authenticated entries account for (cn_index_pack_extent(); 16 MiB
 * for the packs cairn writes), whatever the server sends. Before the first
 * read. */
int cn_store_set_pack_cache(CnStore *s, unsigned packs);

/* The repository the store reads, and its controller (borrowed). */
CnRepo *cn_store_repo(const CnStore *s);
CnController *cn_store_controller(const CnStore *s);

/* The keyed id of a chunk of this controller. */
void cn_store_chunk_id(const CnStore *s, const void *data, size_t n, uint8_t ret_id[CN_ID_BYTES]);

/* Store data as a blob of type unless its id is stored or queued already;
 * data is copied. ret_added may be NULL. */
int cn_store_put(CnStore *s, uint8_t type, const uint8_t id[CN_ID_BYTES], const void *data, size_t n,
                 bool *ret_added);
/* Store a blob sealed elsewhere as it is (cn_pack_writer_add_sealed()):
 * a replica's copy of a source blob (core/copy.c), or a blob prune moves
 * out of a pack it deletes, unless id is stored or queued already. Its seal
 * is checked first (-EBADMSG: it does not open under key for this
 * controller; -EINVAL: a loc no pack may hold). ret_added may be NULL. */
int cn_store_put_sealed(CnStore *s, const uint8_t id[CN_ID_BYTES], const CnBlobLoc *loc, const uint8_t *sealed,
                        const uint8_t key[CN_KEY_BYTES], bool *ret_added);
/* Where blob id is stored, for copying it sealed: its location, its data
 * key (into secret memory of the caller's) and its pack's backend name
 * (n bytes; 160 hold any). -ENOENT not stored in a written pack, -ENOKEY
 * no data key (the store was opened without CN_STORE_KEYS, or its ledger
 * is lost). */
int cn_store_locate(CnStore *s, const uint8_t id[CN_ID_BYTES], CnBlobLoc *ret_loc, uint8_t ret_key[CN_KEY_BYTES],
                    char *ret_pack_name, size_t n);
/* How many bytes of pack number `pack` its blobs take, as its
 * authenticated entries say (cn_index_pack_extent()), under the store's
 * lock: what a reader of its blobs fetches. -ENOENT for an unknown pack. */
int cn_store_pack_blob_end(CnStore *s, uint32_t pack, uint64_t *ret);
/* Write everything queued: its ledger, pack and index files are durable on
 * return; then a damage record (docs/FORMAT.md "Damage records") of every
 * location found or noted unreadable since the last flush. */
int cn_store_flush(CnStore *s);
/* Damage records. Opening a store loads them: a recorded location is left
 * out of the index (readers use it only when no other copy is known, so it
 * fails as damaged rather than missing). note queues a location of the
 * index (pack number, id) for the next flush to record; recorded ones are
 * skipped. */
int cn_store_note_damage(CnStore *s, uint32_t pack, const uint8_t id[CN_ID_BYTES]);
bool cn_store_damage_recorded(CnStore *s, uint32_t pack, const uint8_t id[CN_ID_BYTES]);
/* Writers (CN_STORE_WRITE) register a session as they open (docs/FORMAT.md
 * "Deleting without a lock"), refresh it as they put, and remove it when
 * freed. Before a writer stores a snapshot that names chunks it did not
 * write itself, it calls this: -ESTALE when a prune took its session for a
 * dead writer's (it stopped for CN_SESSION_STALE_SEC) and may have deleted
 * chunks it reuses; the snapshot must not be stored then. 0 for readers. */
int cn_store_session_check(CnStore *s);
/* Refresh the session if it is due (puts do; long work without puts
 * calls this now and then). 0 for readers. */
int cn_store_session_refresh(CnStore *s);
/* The session's object name, NULL for readers. */
const char *cn_store_session_name(const CnStore *s);
/* Writers: the deletion plans loaded at open, and whether a location of
 * the index is named by one (such a copy is treated as absent). */
const CnStorePlan *cn_store_plans(const CnStore *s, size_t *ret_n);
bool cn_store_planned(const CnStore *s, uint32_t pack, const uint8_t id[CN_ID_BYTES]);
/* CN_STORE_ALL_LOCATIONS: every entry of every pack the store read, in
 * the order read. Borrowed. */
const CnStoreLocation *cn_store_locations(const CnStore *s, size_t *ret_n);

/* Stored (at a location not recorded as damaged; for a writer also with
 * a data key) or queued. */
bool cn_store_contains(CnStore *s, const uint8_t id[CN_ID_BYTES]);
/* Make id absent (its location forgotten), so that a put stores it anew:
 * prune moving a chunk out of a pack it deletes. */
void cn_store_forget(CnStore *s, const uint8_t id[CN_ID_BYTES]);
/* The plaintext size of a stored blob; -ENOENT if not stored. */
int cn_store_blob_size(CnStore *s, const uint8_t id[CN_ID_BYTES], uint32_t *ret);

/* Read, authenticate and decompress blob id into out (replaced).
 * -ENOENT not in the index, -ENOKEY no data key (ledger missing or not loaded),
 * -EBADMSG authentication or decompression failed. */
int cn_store_get(CnStore *s, const uint8_t id[CN_ID_BYTES], CnBuf *out);

/* A reader of its own for each thread that reads blobs at the same time
 * as others (parallel restore): same errors as cn_store_get(). */
typedef struct CnStoreReader CnStoreReader;
int cn_store_reader_new(CnStore *s, CnStoreReader **ret);
CnStoreReader *cn_store_reader_free(CnStoreReader *rd);
static inline void cn_store_reader_freep(CnStoreReader **rd) {
        cn_store_reader_free(*rd);
}
int cn_store_read(CnStoreReader *rd, const uint8_t id[CN_ID_BYTES], CnBuf *out);

/* Verify a whole pack read into memory: its preamble, trailer and
 * encrypted header. Returns the length of its blob area, or -EBADMSG. */
int cn_store_verify_pack(CnStore *s, uint32_t pack, const uint8_t *data, size_t n, size_t *ret_blob_area);
/* Verify one blob of that pack in place (data is decrypted in place):
 * authenticated, decompressed, its keyed id recomputed. -ENOKEY without a
 * data key, -EBADMSG for any mismatch. */
int cn_store_verify_blob(CnStore *s, const uint8_t id[CN_ID_BYTES], const CnBlobLoc *loc, uint8_t *data,
                         size_t blob_area, CnBuf *scratch);

/* The ledger object that holds pack's keys (the first listed, when two
 * name it), NULL when none does: its name, borrowed until the store is
 * freed. */
const char *cn_store_pack_ledger(CnStore *s, uint32_t pack);
/* Ledger objects by number: those loaded at open (of the current epoch),
 * then those this store's writer put. For a loaded one, the packs it
 * names (*ret_n 0 for one this store put: it names that pack alone);
 * borrowed. NULL past the last. cn_store_pack_ledger() gives a pack's. */
size_t cn_store_n_ledgers(CnStore *s);
const char *cn_store_ledger(CnStore *s, size_t no, const uint8_t (**ret_packs)[CN_ID_BYTES], size_t *ret_n);
/* A version 2 pack's own key (docs/FORMAT.md "Packs"), NULL for a version
 * 1 pack or one no ledger names. Borrowed (secret memory). */
const uint8_t *cn_store_pack_key(CnStore *s, uint32_t pack);

/* The backend name of a pack of this store's controller. */
void cn_store_pack_name(const CnStore *s, const uint8_t pack_id[CN_ID_BYTES], char *out, size_t n);
