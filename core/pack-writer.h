/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Building and writing packs of one controller in parallel.
 *
 * The caller (one thread) hands over blobs with their ids, in batches of up
 * to 1 MiB so that small files cost little synchronisation; worker threads
 * compress and seal them, each under a fresh random data key, and append
 * them to the open pack; writer threads, as many as the backend has
 * connections (cn_backend_connections(): 1 for a local disk), each put a
 * full pack as ledger, pack, index, in that order (docs/FORMAT.md). Memory
 * is bounded: a fixed number of job buffers and one pack more than there are
 * writers; add() waits when they are all in use.
 *
 * The index is shared with the caller and guarded by its lock: add() claims
 * the id, a worker records the location, the writer marks the pack indexed.
 * Errors are sticky: after the first, add() and flush() return it and
 * nothing more is written. */
#pragma once

#include <pthread.h>
#include <stdint.h>

#include "index.h"
#include "repo.h"

typedef struct CnPackWriter CnPackWriter;

typedef struct CnPackWriterStats {
        uint64_t blobs_new, blobs_known;
        uint64_t raw_bytes_new, stored_bytes_new;
        uint64_t packs_written;
} CnPackWriterStats;

/* workers: compression threads (>= 1). index_lock guards index and
 * ledgers for every user. Each pack written gets, in index, its pack key
 * (version 2) and the number in ledgers of its ledger's name, appended
 * there. */
int cn_pack_writer_new(CnRepo *repo, CnController *c, CnIndex *index, CnNames *ledgers, pthread_mutex_t *index_lock,
                       unsigned workers, int level, CnPackWriter **ret);
/* Stops the threads; blobs not yet written are dropped, never half-written. */
CnPackWriter *cn_pack_writer_free(CnPackWriter *w);

/* Queue a copy of data (n <= the cap of its type) as blob id: 1 if queued,
 * 0 if id is already stored or queued, < 0 the sticky error. */
int cn_pack_writer_add(CnPackWriter *w, uint8_t type, const uint8_t id[CN_ID_BYTES], const void *data, size_t n);
/* Append a blob sealed elsewhere, as it is: loc->length bytes at sealed
 * (nonce, ciphertext, tag) under data key key, with loc's type, flags and
 * raw_length (its pack and offset are ignored). Only a repository of the
 * same processor and controller can open it (the chunk's associated data
 * names both): replicas (core/copy.c). 1 if appended, 0 if id is already
 * stored or queued, -EINVAL for a loc no pack may hold, < 0 the sticky
 * error. */
int cn_pack_writer_add_sealed(CnPackWriter *w, const uint8_t id[CN_ID_BYTES], const CnBlobLoc *loc,
                              const uint8_t *sealed, const uint8_t key[CN_KEY_BYTES]);
/* Wait until every queued blob is in a pack that is durably written. */
int cn_pack_writer_flush(CnPackWriter *w);
void cn_pack_writer_stats(CnPackWriter *w, CnPackWriterStats *ret);
