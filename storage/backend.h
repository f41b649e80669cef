/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Opaque named blobs: the only view of storage that core/ has.
 *
 * A repository is a flat namespace of objects named by '/'-separated
 * relative paths ("config", "data/<ctrl>/ab/<pack>", ...). A backend stores
 * whole objects; it never interprets their bytes. Every operation may be
 * called from several threads at once on one CnBackend.
 *
 * Each transport is a const CnBackendOps table plus a per-repository
 * instance; callers branch on capability bits, never on the scheme name.
 *
 * Errors are negative errno values with fixed meanings:
 *   -ENOENT  object (or, from open, the repository location) absent
 *   -EEXIST  CN_PUT_EXCLUSIVE and the object exists
 *   -EACCES  credentials or permissions refused
 *   -ENOSPC  storage full
 *   -EAGAIN  transient failure that outlived the backend's retries
 *   -EPROTO  malformed server reply
 *   -EOPNOTSUPP  the backend cannot do this
 *   -EIO     anything else; cn_backend_last_error() has the detail */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct CnBackend CnBackend;

enum {
        /* put with CN_PUT_EXCLUSIVE is atomic: exactly one of two racing writers wins. */
        CN_BACKEND_CAP_EXCLUSIVE_PUT = 1u << 0,
        /* get honours offset/length without transferring the whole object. */
        CN_BACKEND_CAP_RANGED_GET = 1u << 1,
        /* a put is visible in full or not at all, even if the writer dies. */
        CN_BACKEND_CAP_ATOMIC_PUT = 1u << 2,
};

enum {
        CN_PUT_EXCLUSIVE = 1u << 0,     /* fail with -EEXIST rather than replace */
};

#define CN_GET_ALL UINT64_MAX

typedef int (*CnBackendListFn)(const char *name, uint64_t size, void *userdata);

typedef struct CnBackendOps {
        const char *scheme;             /* "local", "sftp", ... */
        unsigned caps;
        /* location is what follows "scheme:" (or a plain path for local).
         * create: make the location if needed (init); else it must exist. */
        int (*open)(const char *location, bool create, CnBackend **ret);
        void (*close)(CnBackend *b);
        int (*put)(CnBackend *b, const char *name, const void *p, size_t n, unsigned flags);
        int (*get)(CnBackend *b, const char *name, uint64_t offset, uint64_t length, CnBuf *out);
        int (*stat)(CnBackend *b, const char *name, uint64_t *ret_size);
        int (*list)(CnBackend *b, const char *prefix, CnBackendListFn fn, void *userdata);
        int (*remove)(CnBackend *b, const char *name);
} CnBackendOps;

/* Every backend's instance struct starts with this. */
struct CnBackend {
        const CnBackendOps *ops;
        char *url;                      /* for messages; never holds a secret */
};

/* Open the repository at url ("/path", "local:/path", later "sftp://..."). */
int cn_backend_open(const char *url, bool create, CnBackend **ret);
CnBackend *cn_backend_close(CnBackend *b);      /* NULL-tolerant; returns NULL */
static inline void cn_backend_closep(CnBackend **b) {
        cn_backend_close(*b);
}

unsigned cn_backend_caps(const CnBackend *b);
const char *cn_backend_url(const CnBackend *b);

/* Store n bytes under name. Without CN_PUT_EXCLUSIVE an existing object is replaced. */
int cn_backend_put(CnBackend *b, const char *name, const void *p, size_t n, unsigned flags);
/* Replace out's contents with length bytes at offset (CN_GET_ALL: to the end).
 * A range past the end of the object fails with -ENODATA. out's cap applies. */
int cn_backend_get(CnBackend *b, const char *name, uint64_t offset, uint64_t length, CnBuf *out);
int cn_backend_stat(CnBackend *b, const char *name, uint64_t *ret_size);
/* Call fn for every object whose name starts with prefix, in no set order.
 * Temporary objects of interrupted writers are never listed. A negative
 * return from fn stops the walk and is returned. */
int cn_backend_list(CnBackend *b, const char *prefix, CnBackendListFn fn, void *userdata);
/* Delete name; -ENOENT if absent. */
int cn_backend_remove(CnBackend *b, const char *name);

extern const CnBackendOps cn_backend_local_ops;
