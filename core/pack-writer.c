/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "pack-writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "envelope.h"
#include "macro.h"
#include "pack.h"

/* Blobs travel in batches, so a tree of small files costs one hand-over
 * per JOB_TARGET_BYTES, not one per file. */
#define JOB_MAX_BLOBS 256
#define JOB_TARGET_BYTES (1u << 20)

typedef struct JobBlob {
        uint8_t id[CN_ID_BYTES];
        uint8_t type;
        size_t offset, length;          /* in data */
} JobBlob;

typedef struct Job {
        JobBlob blobs[JOB_MAX_BLOBS];
        unsigned n;
        CnBuf data;
        struct Job *next;
} Job;

typedef struct Pack {
        uint8_t id[CN_ID_BYTES];
        uint32_t no;                    /* in the index */
        CnBuf data;                     /* preamble and blobs; header and trailer when written */
        uint64_t blob_end;              /* where the blobs end, once written */
        CnPackEntry *entries;           /* CN_PACK_WRITER_MAX_BLOBS */
        uint8_t *keys;                  /* secret: a data key per entry, then the pack key (PACK_KEY) */
        uint32_t n;
        char ledger[CN_ENVELOPE_NAME_MAX]; /* its ledger's name, once put */
        struct Pack *next;
} Pack;

/* A version 2 pack's own key, after the data keys of its entries. */
#define PACK_KEY(p) ((p)->keys + (size_t) CN_PACK_WRITER_MAX_BLOBS * CN_KEY_BYTES)

typedef struct Worker {
        CnPackWriter *w;
        pthread_t thread;
        ZSTD_CCtx *cctx;
        CnBuf comp;                     /* compressed payload */
        CnBuf sealed;                   /* each blob's nonce, ciphertext, tag, one after another */
        size_t sealed_end[JOB_MAX_BLOBS];
        uint8_t flags[JOB_MAX_BLOBS];
        uint8_t *keys;                  /* secret: the data key of each blob of the job */
} Worker;

#define JOBS_PER_WORKER 2

struct CnPackWriter {
        CnRepo *repo;
        CnController *c;
        CnBackend *backend;
        CnIndex *index;
        CnNames *ledgers;               /* the caller's: ledger names, numbered as cn_index_pack_ledger() */
        int level;
        pthread_mutex_t *lock;          /* the caller's: guards the index and all below */
        pthread_cond_t job_ready;       /* workers wait for a job */
        pthread_cond_t job_free;        /* the caller waits for an empty job */
        pthread_cond_t pack_ready;      /* the writer waits for a full pack */
        pthread_cond_t pack_free;       /* workers wait for an empty pack */
        pthread_cond_t idle;            /* flush waits for the work to drain */
        Job *jobs;
        size_t n_jobs;
        Job *free_jobs, *ready, *ready_tail;
        Job *filling;                   /* the caller's, not yet handed over */
        /* One pack filling while each writer has one in hand: a writer per
         * transfer the backend can run at once (1 for a local disk). */
        Pack *packs;
        size_t n_packs;
        Pack *free_packs, *to_write, *to_write_tail, *open;
        unsigned busy;                  /* workers with a job in hand */
        unsigned writing;               /* writers with a pack in hand */
        bool stop;
        int error;
        char error_detail[256];         /* the backend's detail of error, from the thread that met it */
        Worker *workers;
        unsigned n_workers, started;
        pthread_t *writers;
        unsigned n_writers, writers_started;
        CnPackWriterStats stats;
};

static void wake_all_locked(CnPackWriter *w) {
        pthread_cond_broadcast(&w->job_ready);
        pthread_cond_broadcast(&w->job_free);
        pthread_cond_broadcast(&w->pack_ready);
        pthread_cond_broadcast(&w->pack_free);
        pthread_cond_broadcast(&w->idle);
}

static void fail_locked(CnPackWriter *w, int r) {
        if (r < 0 && w->error == 0) {
                w->error = r;
                snprintf(w->error_detail, sizeof w->error_detail, "%s", cn_backend_last_error());
        }
        wake_all_locked(w);
}

/* The sticky error, for the caller's thread: with the backend's detail of
 * it there too (cn_backend_last_error() is per thread). */
static int error_locked(CnPackWriter *w) {
        if (w->error && w->error_detail[0])
                cn_backend_set_error("%s", w->error_detail);
        return w->error;
}

/* ---- the writer thread ---- */

static int write_pack(CnPackWriter *w, Pack *p) {
        _cleanup_(cn_buf_donep) CnBuf plain = CN_BUF_INIT_SECRET(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(CN_MAX_META_BYTES);
        uint8_t ad[CN_PACK_HEADER_AD_BYTES], *dst;
        const uint8_t *proc = cn_repo_processor_id(w->repo);
        const CnController *c = w->c;
        /* Version 2: header and index file under the pack's own key, kept in
         * its ledger only (docs/FORMAT.md "Packs"). */
        uint32_t version = c->format == 2 ? 2 : 1;
        const uint8_t *hkey = version == 2 ? PACK_KEY(p) : c->meta_key;
        char name[160];
        CnEnvelopeHeader h = { .version = version };
        int r;

        memcpy(h.processor, proc, CN_UUID_BYTES);
        memcpy(h.controller, c->id, CN_UUID_BYTES);

        /* 1. the ledger: keys first, so every pack that exists can be opened. */
        if (version == 2 && (r = cn_buf_put_u32(&plain, 1)) < 0)
                return r;
        r = cn_ledger_encode_pack(&plain, p->id, version == 2 ? PACK_KEY(p) : NULL, p->n, p->entries[0].id,
                                  sizeof *p->entries, p->keys, CN_KEY_BYTES);
        if (r >= 0)
                r = cn_controller_seal(w->repo, c, CN_MAGIC_LEDGER, plain.data, plain.len, &obj);
        if (r < 0)
                return r;
        if (version == 2) {
                uint8_t id[CN_ID_BYTES];
                cn_envelope_content_name("ledger", c->id_hex, obj.data, obj.len, id, p->ledger);
        } else
                cn_pack_object_name("ledger", c->id_hex, p->id, p->ledger, sizeof p->ledger);
        r = cn_backend_put(w->backend, p->ledger, obj.data, obj.len, CN_PUT_EXCLUSIVE);
        if (r < 0)
                return r;

        /* 2. the pack, with its encrypted header and trailer. */
        cn_buf_done(&plain);
        r = cn_buf_append(&plain, p->id, CN_ID_BYTES);
        if (r >= 0)
                r = cn_pack_encode_entries(&plain, p->entries, p->n);
        if (r < 0)
                return r;
        const uint8_t *entries = plain.data + CN_ID_BYTES;
        size_t entries_len = plain.len - CN_ID_BYTES;
        size_t hlen = CN_AEAD_NONCE_BYTES + entries_len + CN_AEAD_TAG_BYTES;
        p->blob_end = p->data.len;
        r = cn_buf_grow(&p->data, hlen + CN_PACK_TRAILER_BYTES, &dst);
        if (r < 0)
                return r;
        cn_pack_header_ad(version, proc, c->id, p->id, ad);
        cn_random(dst, CN_AEAD_NONCE_BYTES);
        cn_aead_seal(dst + CN_AEAD_NONCE_BYTES, entries, entries_len, ad, sizeof ad, dst, hkey);
        cn_le32_put(dst + hlen, (uint32_t) hlen);
        memcpy(dst + hlen + 4, CN_MAGIC_PACK_TRAILER, CN_MAGIC_BYTES);
        cn_pack_object_name("data", w->c->id_hex, p->id, name, sizeof name);
        r = cn_backend_put(w->backend, name, p->data.data, p->data.len, CN_PUT_EXCLUSIVE);
        if (r < 0)
                return r;

        /* 3. the index file: the pack id and the header's entries again. */
        cn_buf_reset(&obj);
        r = cn_envelope_seal(&obj, CN_MAGIC_INDEX, &h, hkey, plain.data, plain.len);
        if (r < 0)
                return r;
        cn_pack_object_name("index", w->c->id_hex, p->id, name, sizeof name);
        r = cn_backend_put(w->backend, name, obj.data, obj.len, CN_PUT_EXCLUSIVE);
        /* Another writer that started between our steps 2 and 3 took the
         * pack for an orphan and indexed it from the same header: done. */
        return r == -EEXIST ? 0 : r;
}

static void *writer_main(void *arg) {
        CnPackWriter *w = arg;
        pthread_mutex_lock(w->lock);
        for (;;) {
                while (!w->stop && !w->to_write)
                        pthread_cond_wait(&w->pack_ready, w->lock);
                if (w->stop)
                        break;
                Pack *p = w->to_write;
                w->to_write = p->next;
                if (!w->to_write)
                        w->to_write_tail = NULL;
                w->writing++;
                int r = w->error;
                pthread_mutex_unlock(w->lock);

                if (r == 0)
                        r = write_pack(w, p);

                pthread_mutex_lock(w->lock);
                if (r < 0)
                        fail_locked(w, r);
                else {
                        cn_index_pack_set_indexed(w->index, p->no);
                        cn_index_pack_set_extent(w->index, p->no, p->blob_end, p->n);
                        if (w->c->format == 2 && (r = cn_index_pack_set_key(w->index, p->no, PACK_KEY(p))) < 0)
                                fail_locked(w, r);
                        if (r >= 0 && (r = cn_names_add(w->ledgers, p->ledger)) < 0)
                                fail_locked(w, r);
                        if (r >= 0)
                                cn_index_pack_set_ledger(w->index, p->no, (uint32_t) w->ledgers->n - 1);
                        w->stats.packs_written++;
                }
                if (p->keys)
                        cn_memzero(p->keys, (size_t) (CN_PACK_WRITER_MAX_BLOBS + 1) * CN_KEY_BYTES);
                p->n = 0;
                p->next = w->free_packs;
                w->free_packs = p;
                w->writing--;
                pthread_cond_broadcast(&w->pack_free);
                pthread_cond_broadcast(&w->idle);
        }
        pthread_mutex_unlock(w->lock);
        return NULL;
}

/* ---- workers ---- */

/* Compress (when it pays) and seal blob i of job j under a fresh key,
 * appending nonce, ciphertext and tag to wk->sealed. */
static int seal_blob(CnPackWriter *w, Worker *wk, const Job *j, unsigned i) {
        const JobBlob *b = &j->blobs[i];
        const void *payload = j->data.data + b->offset;
        size_t n = b->length, payload_len = n;
        uint8_t ad[CN_CHUNK_AD_BYTES], *dst, *key = wk->keys + (size_t) i * CN_KEY_BYTES;
        int r;

        wk->flags[i] = 0;
        if (n >= 64) {
                size_t bound = ZSTD_compressBound(n);
                cn_buf_reset(&wk->comp);
                r = cn_buf_reserve(&wk->comp, bound);
                if (r < 0)
                        return r;
                size_t z = ZSTD_compressCCtx(wk->cctx, wk->comp.data, bound, payload, n, w->level);
                /* Keep compression only where it pays: incompressible data is stored raw. */
                if (!ZSTD_isError(z) && z < n - n / 32) {
                        payload = wk->comp.data;
                        payload_len = z;
                        wk->flags[i] = CN_BLOB_ZSTD;
                }
        }
        r = cn_buf_grow(&wk->sealed, CN_AEAD_NONCE_BYTES + payload_len + CN_AEAD_TAG_BYTES, &dst);
        if (r < 0)
                return r;
        cn_random_fast(key, CN_KEY_BYTES);
        cn_random_fast(dst, CN_AEAD_NONCE_BYTES);
        cn_pack_chunk_ad(cn_repo_processor_id(w->repo), w->c->id, b->id, b->type, ad);
        cn_aead_seal(dst + CN_AEAD_NONCE_BYTES, payload, payload_len, ad, sizeof ad, dst, key);
        wk->sealed_end[i] = wk->sealed.len;
        return 0;
}

static void queue_for_writer_locked(CnPackWriter *w, Pack *p) {
        p->next = NULL;
        if (w->to_write_tail)
                w->to_write_tail->next = p;
        else
                w->to_write = p;
        w->to_write_tail = p;
        pthread_cond_signal(&w->pack_ready);
}

/* Make sure a pack is open, waiting for a free one; another worker may
 * open it while we wait, so the condition is checked again each time. */
static int ensure_open_locked(CnPackWriter *w) {
        while (!w->open) {
                if (w->error)
                        return w->error;
                if (w->stop)
                        return -ECANCELED;
                if (!w->free_packs) {
                        pthread_cond_wait(&w->pack_free, w->lock);
                        continue;
                }
                Pack *p = w->free_packs;
                uint32_t no;
                if (!p->entries) {
                        /* Made on first use: a backup with nothing new never needs them. */
                        p->entries = calloc(CN_PACK_WRITER_MAX_BLOBS, sizeof *p->entries);
                        p->keys = cn_secret_new((size_t) (CN_PACK_WRITER_MAX_BLOBS + 1) * CN_KEY_BYTES);
                        if (!p->entries || !p->keys) {
                                free(TAKE_PTR(p->entries));
                                cn_secret_free(TAKE_PTR(p->keys));
                                return -ENOMEM;
                        }
                }
                /* Room for a full pack and its largest header up front: growing
                 * by doubling would copy 16 MiB and touch 32. */
                if (cn_buf_reserve(&p->data, CN_PACK_TARGET_BYTES + CN_PACK_WRITER_MAX_BLOBS * CN_PACK_ENTRY_BYTES +
                                                     4096) < 0)
                        return -ENOMEM;
                cn_random(p->id, CN_ID_BYTES);
                cn_random(PACK_KEY(p), CN_KEY_BYTES);
                int r = cn_index_add_pack(w->index, p->id, &no);
                if (r < 0)
                        return r;
                w->free_packs = p->next;
                p->no = no;
                cn_buf_reset(&p->data);
                cn_buf_append(&p->data, CN_MAGIC_PACK, CN_MAGIC_BYTES);
                cn_buf_put_u32(&p->data, w->c->format == 2 ? CN_PACK_VERSION : 1);
                cn_buf_append(&p->data, cn_repo_processor_id(w->repo), CN_UUID_BYTES);
                cn_buf_append(&p->data, w->c->id, CN_UUID_BYTES);
                p->n = 0;
                w->open = p;
                /* Others waiting for a pack can use this one. */
                pthread_cond_broadcast(&w->pack_free);
        }
        return 0;
}

/* Append a sealed blob (nonce, ciphertext, tag: stored bytes) of id under
 * data key key to the open pack and record it in the index. */
static int append_sealed_locked(CnPackWriter *w, const uint8_t id[CN_ID_BYTES], uint8_t type, uint8_t flags,
                                uint32_t raw_length, const uint8_t *sealed, size_t stored, const uint8_t *key) {
        Pack *p;
        int r;

        /* A full pack goes to the writer; a blob larger than a pack gets one of its own. */
        for (;;) {
                r = ensure_open_locked(w);
                if (r < 0)
                        return r;
                p = w->open;
                if (p->n == 0 || (p->data.len + stored <= CN_PACK_TARGET_BYTES && p->n < CN_PACK_WRITER_MAX_BLOBS))
                        break;
                w->open = NULL;
                queue_for_writer_locked(w, p);
        }
        uint32_t offset = (uint32_t) p->data.len;
        r = cn_buf_append(&p->data, sealed, stored);
        if (r < 0)
                return r;
        CnPackEntry *e = &p->entries[p->n];
        memcpy(e->id, id, CN_ID_BYTES);
        e->loc = (CnBlobLoc) {
                .pack = p->no,
                .offset = offset,
                .length = (uint32_t) stored,
                .raw_length = raw_length,
                .type = type,
                .flags = flags,
        };
        memcpy(p->keys + (size_t) p->n * CN_KEY_BYTES, key, CN_KEY_BYTES);
        p->n++;
        r = cn_index_insert(w->index, id, &e->loc);
        if (r >= 0)
                r = cn_index_set_key(w->index, id, key);
        if (r < 0)
                return r;
        w->stats.blobs_new++;
        w->stats.raw_bytes_new += raw_length;
        w->stats.stored_bytes_new += stored;
        return 0;
}

/* Append sealed blob i of job j to the open pack. */
static int append_locked(CnPackWriter *w, Worker *wk, const Job *j, unsigned i) {
        const JobBlob *b = &j->blobs[i];
        size_t start = i ? wk->sealed_end[i - 1] : 0;
        return append_sealed_locked(w, b->id, b->type, wk->flags[i], (uint32_t) b->length, wk->sealed.data + start,
                                    wk->sealed_end[i] - start, wk->keys + (size_t) i * CN_KEY_BYTES);
}

static void *worker_main(void *arg) {
        Worker *wk = arg;
        CnPackWriter *w = wk->w;

        pthread_mutex_lock(w->lock);
        for (;;) {
                while (!w->stop && !w->ready)
                        pthread_cond_wait(&w->job_ready, w->lock);
                if (w->stop)
                        break;
                Job *j = w->ready;
                w->ready = j->next;
                if (!w->ready)
                        w->ready_tail = NULL;
                w->busy++;
                int r = w->error;
                pthread_mutex_unlock(w->lock);

                cn_buf_reset(&wk->sealed);
                for (unsigned i = 0; r == 0 && i < j->n; i++)
                        r = seal_blob(w, wk, j, i);

                pthread_mutex_lock(w->lock);
                for (unsigned i = 0; r == 0 && w->error == 0 && i < j->n; i++)
                        r = append_locked(w, wk, j, i);
                if (r < 0 && r != -ECANCELED)
                        fail_locked(w, r);
                cn_memzero(wk->keys, (size_t) j->n * CN_KEY_BYTES);
                j->n = 0;
                j->next = w->free_jobs;
                w->free_jobs = j;
                w->busy--;
                pthread_cond_signal(&w->job_free);
                if (!w->ready && !w->busy)
                        pthread_cond_broadcast(&w->idle);
        }
        pthread_mutex_unlock(w->lock);
        return NULL;
}

/* ---- the caller's side ---- */

/* Hand the caller's filling job to the workers. */
static void dispatch_locked(CnPackWriter *w) {
        Job *j = w->filling;
        if (!j || j->n == 0)
                return;
        w->filling = NULL;
        j->next = NULL;
        if (w->ready_tail)
                w->ready_tail->next = j;
        else
                w->ready = j;
        w->ready_tail = j;
        pthread_cond_signal(&w->job_ready);
}

int cn_pack_writer_add(CnPackWriter *w, uint8_t type, const uint8_t id[CN_ID_BYTES], const void *data, size_t n) {
        int r;

        if (n > (type == CN_BLOB_TREE ? CN_MAX_TREE_BYTES : CN_MAX_CHUNK_BYTES))
                return -E2BIG;
        pthread_mutex_lock(w->lock);
        if (w->error) {
                r = error_locked(w);
                goto out;
        }
        r = cn_index_claim(w->index, id);
        if (r <= 0) {
                if (r == 0)
                        w->stats.blobs_known++;
                goto out;
        }
        Job *j = w->filling;
        if (j && (j->n == JOB_MAX_BLOBS || j->data.len + n > JOB_TARGET_BYTES)) {
                dispatch_locked(w);
                j = NULL;
        }
        if (!j) {
                while (!w->free_jobs && !w->error)
                        pthread_cond_wait(&w->job_free, w->lock);
                if (w->error) {
                        r = error_locked(w);
                        goto out;
                }
                j = w->filling = w->free_jobs;
                w->free_jobs = j->next;
                j->n = 0;
                cn_buf_reset(&j->data);
        }
        pthread_mutex_unlock(w->lock);

        /* The filling job is the caller's alone: copy without the lock. */
        JobBlob *b = &j->blobs[j->n];
        memcpy(b->id, id, CN_ID_BYTES);
        b->type = type;
        b->offset = j->data.len;
        b->length = n;
        r = cn_buf_append(&j->data, data, n);
        if (r >= 0) {
                j->n++;
                return 1;
        }
        pthread_mutex_lock(w->lock);
        fail_locked(w, r);
out:
        pthread_mutex_unlock(w->lock);
        return r;
}

int cn_pack_writer_add_sealed(CnPackWriter *w, const uint8_t id[CN_ID_BYTES], const CnBlobLoc *loc,
                              const uint8_t *sealed, const uint8_t key[CN_KEY_BYTES]) {
        int r;

        if ((loc->type != CN_BLOB_DATA && loc->type != CN_BLOB_TREE) || (loc->flags & ~CN_BLOB_ZSTD) ||
            loc->length < CN_AEAD_NONCE_BYTES + CN_AEAD_TAG_BYTES ||
            loc->raw_length > (loc->type == CN_BLOB_TREE ? CN_MAX_TREE_BYTES : CN_MAX_CHUNK_BYTES) ||
            loc->length > ZSTD_COMPRESSBOUND(CN_MAX_TREE_BYTES) + CN_AEAD_NONCE_BYTES + CN_AEAD_TAG_BYTES)
                return -EINVAL;
        pthread_mutex_lock(w->lock);
        r = error_locked(w);
        if (r == 0)
                r = cn_index_claim(w->index, id);
        if (r == 0)
                w->stats.blobs_known++;
        if (r > 0) {
                /* Nothing to compress or seal: straight into the open pack,
                 * behind whatever the workers appended before. */
                int k = append_sealed_locked(w, id, loc->type, loc->flags, loc->raw_length, sealed, loc->length, key);
                if (k < 0) {
                        fail_locked(w, k);
                        r = k;
                }
        }
        pthread_mutex_unlock(w->lock);
        return r;
}

int cn_pack_writer_flush(CnPackWriter *w) {
        pthread_mutex_lock(w->lock);
        dispatch_locked(w);
        while (!w->error && (w->ready || w->busy))
                pthread_cond_wait(&w->idle, w->lock);
        if (!w->error && w->open && w->open->n) {
                queue_for_writer_locked(w, w->open);
                w->open = NULL;
        }
        while (!w->error && (w->to_write || w->writing))
                pthread_cond_wait(&w->idle, w->lock);
        int r = error_locked(w);
        pthread_mutex_unlock(w->lock);
        return r;
}

void cn_pack_writer_stats(CnPackWriter *w, CnPackWriterStats *ret) {
        pthread_mutex_lock(w->lock);
        *ret = w->stats;
        pthread_mutex_unlock(w->lock);
}

CnPackWriter *cn_pack_writer_free(CnPackWriter *w) {
        if (!w)
                return NULL;
        pthread_mutex_lock(w->lock);
        w->stop = true;
        wake_all_locked(w);
        pthread_mutex_unlock(w->lock);
        for (unsigned i = 0; i < w->started; i++)
                pthread_join(w->workers[i].thread, NULL);
        for (unsigned i = 0; i < w->writers_started; i++)
                pthread_join(w->writers[i], NULL);
        free(w->writers);
        /* Any array may be NULL: cn_pack_writer_new() fails over here too. */
        for (unsigned i = 0; w->workers && i < w->n_workers; i++) {
                ZSTD_freeCCtx(w->workers[i].cctx);
                cn_buf_done(&w->workers[i].comp);
                cn_buf_done(&w->workers[i].sealed);
                cn_secret_free(w->workers[i].keys);
        }
        free(w->workers);
        for (size_t i = 0; w->jobs && i < w->n_jobs; i++)
                cn_buf_done(&w->jobs[i].data);
        free(w->jobs);
        for (size_t i = 0; w->packs && i < w->n_packs; i++) {
                cn_buf_done(&w->packs[i].data);
                free(w->packs[i].entries);
                cn_secret_free(w->packs[i].keys);
        }
        free(w->packs);
        pthread_cond_destroy(&w->job_ready);
        pthread_cond_destroy(&w->job_free);
        pthread_cond_destroy(&w->pack_ready);
        pthread_cond_destroy(&w->pack_free);
        pthread_cond_destroy(&w->idle);
        free(w);
        return NULL;
}

int cn_pack_writer_new(CnRepo *repo, CnController *c, CnIndex *index, CnNames *ledgers, pthread_mutex_t *index_lock,
                       unsigned workers, int level, CnPackWriter **ret) {
        CnPackWriter *w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->repo = repo;
        w->c = c;
        w->backend = cn_repo_backend(repo);
        w->index = index;
        w->ledgers = ledgers;
        w->lock = index_lock;
        w->level = level;
        w->n_workers = workers ? workers : 1;
        w->n_writers = cn_backend_connections(w->backend);
        w->n_packs = w->n_writers + 1;
        pthread_cond_init(&w->job_ready, NULL);
        pthread_cond_init(&w->job_free, NULL);
        pthread_cond_init(&w->pack_ready, NULL);
        pthread_cond_init(&w->pack_free, NULL);
        pthread_cond_init(&w->idle, NULL);

        w->n_jobs = (size_t) w->n_workers * JOBS_PER_WORKER + 2;
        w->jobs = calloc(w->n_jobs, sizeof *w->jobs);
        w->workers = calloc(w->n_workers, sizeof *w->workers);
        w->packs = calloc(w->n_packs, sizeof *w->packs);
        w->writers = calloc(w->n_writers, sizeof *w->writers);
        if (!w->jobs || !w->workers || !w->packs || !w->writers)
                goto oom;
        for (size_t i = 0; i < w->n_jobs; i++) {
                cn_buf_init_secret(&w->jobs[i].data, CN_MAX_TREE_BYTES + JOB_TARGET_BYTES);
                w->jobs[i].next = w->free_jobs;
                w->free_jobs = &w->jobs[i];
        }
        for (size_t i = 0; i < w->n_packs; i++) {
                Pack *p = &w->packs[i];
                cn_buf_init(&p->data, CN_MAX_PACK_BYTES);
                p->next = w->free_packs;
                w->free_packs = p;
        }
        for (unsigned i = 0; i < w->n_workers; i++) {
                Worker *wk = &w->workers[i];
                wk->w = w;
                wk->cctx = ZSTD_createCCtx();
                wk->keys = cn_secret_new((size_t) JOB_MAX_BLOBS * CN_KEY_BYTES);
                cn_buf_init_secret(&wk->comp, ZSTD_COMPRESSBOUND(CN_MAX_TREE_BYTES));
                cn_buf_init(&wk->sealed, CN_MAX_TREE_BYTES + (size_t) JOB_MAX_BLOBS * 64 + JOB_TARGET_BYTES * 2);
                if (!wk->cctx || !wk->keys)
                        goto oom;
        }
        for (unsigned i = 0; i < w->n_workers; i++) {
                if (pthread_create(&w->workers[i].thread, NULL, worker_main, &w->workers[i]) != 0)
                        goto oom;
                w->started++;
        }
        for (unsigned i = 0; i < w->n_writers; i++) {
                if (pthread_create(&w->writers[i], NULL, writer_main, w) != 0)
                        goto oom;
                w->writers_started++;
        }
        *ret = w;
        return 0;
oom:
        cn_pack_writer_free(w);
        return -ENOMEM;
}
