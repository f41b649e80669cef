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
 *   -EINVAL  an invalid object name (see cn_backend_name_valid())
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
        /* Frees the instance; cn_backend_close() frees url itself. */
        void (*close)(CnBackend *b);
        int (*put)(CnBackend *b, const char *name, const void *p, size_t n, unsigned flags);
        int (*get)(CnBackend *b, const char *name, uint64_t offset, uint64_t length, CnBuf *out);
        int (*stat)(CnBackend *b, const char *name, uint64_t *ret_size);
        int (*list)(CnBackend *b, const char *prefix, CnBackendListFn fn, void *userdata);
        int (*remove)(CnBackend *b, const char *name);
        /* Optional: remove stale temporaries everywhere (cn_backend_reap()). */
        int (*reap)(CnBackend *b);
} CnBackendOps;

/* Every backend's instance struct starts with this. */
struct CnBackend {
        const CnBackendOps *ops;
        char *url;                      /* for messages; never holds a secret */
        char *local_path;               /* local backends: the root directory, absolute; else NULL */
        /* Caps of ops->caps this instance lacks (0: none), for backends that
         * learn at open what the server can do (e.g. an S3-compatible store
         * that refuses conditional PUTs). cn_backend_caps() masks them out. */
        unsigned caps_missing;
        /* Transfers worth running at once on this instance (a remote
         * backend's connection pool); 0 means 1. Set by open. */
        unsigned connections;
};

/* The name rules every backend can hold: 1..CN_BACKEND_NAME_MAX bytes of
 * [A-Za-z0-9._-/], '/'-separated segments that are non-empty, not "." or
 * "..", and do not start with ".tmp-" (reserved for writers' temporaries).
 * The wrappers below check them and fail with -EINVAL before dispatching. */
#define CN_BACKEND_NAME_MAX 512
bool cn_backend_name_valid(const char *name);

/* The password in url's user part ("scheme://user:PASSWORD@host/..."),
 * which every backend refuses: true and its bytes [*ret_begin, *ret_end)
 * when there is one, so messages and certificates can leave it out. */
bool cn_backend_url_password(const char *url, const char **ret_begin, const char **ret_end);

/* Open the repository at url ("/path", "relative/path", "local:/path"; later
 * "sftp://", "webdav+http(s)://", "s3://", "gs://", which fail with
 * -EOPNOTSUPP until their backend exists). *ret is owned by the caller:
 * cn_backend_close() it. */
int cn_backend_open(const char *url, bool create, CnBackend **ret);
CnBackend *cn_backend_close(CnBackend *b);      /* NULL-tolerant; returns NULL */
static inline void cn_backend_closep(CnBackend **b) {
        cn_backend_close(*b);
}

unsigned cn_backend_caps(const CnBackend *b);
/* How many puts or gets the caller may usefully run at once (>= 1): writers
 * of packs and restore readers size their threads by it. */
unsigned cn_backend_connections(const CnBackend *b);
const char *cn_backend_url(const CnBackend *b);
/* The repository's directory on this machine (absolute), or NULL when the
 * repository is remote: so a backup never backs up its own repository. */
const char *cn_backend_local_path(const CnBackend *b);

/* Store n bytes under name. Without CN_PUT_EXCLUSIVE an existing object is replaced.
 * Durable when it returns 0. */
int cn_backend_put(CnBackend *b, const char *name, const void *p, size_t n, unsigned flags);
/* Replace out's contents with length bytes at offset (CN_GET_ALL: to the end).
 * A range past the end of the object fails with -ENODATA. out's cap applies:
 * a range longer than its limit fails with -E2BIG. On failure out is empty. */
int cn_backend_get(CnBackend *b, const char *name, uint64_t offset, uint64_t length, CnBuf *out);
/* Size of name in bytes; -ENOENT if absent. */
int cn_backend_stat(CnBackend *b, const char *name, uint64_t *ret_size);
/* Call fn for every object whose name starts with prefix ("" for all,
 * "data/", "snapshots/ab"), in no set order. The name passed to fn is
 * borrowed for the call only. Temporary objects of interrupted writers are
 * never listed; backends also delete the stale ones (see below) the walk
 * meets, so interrupted writes do not accumulate. A negative return from fn
 * stops the walk and is returned. */
int cn_backend_list(CnBackend *b, const char *prefix, CnBackendListFn fn, void *userdata);
/* Names, as a growable vector (capped at 16 Mi). */
typedef struct CnNames {
        char **v;
        size_t n;
} CnNames;
int cn_names_add(CnNames *l, const char *name);
void cn_names_done(CnNames *l);
/* Every name under prefix, as cn_backend_list() sees them, sorted. */
int cn_backend_list_names(CnBackend *b, const char *prefix, CnNames *ret);

/* The temporaries (".tmp-*") of writers that died are stale once older than
 * this, by their mtime; the local backend also never removes one that a
 * live writer still holds (writers keep a flock(2) on theirs, however long
 * they are stopped). The SFTP backend's TMP_MAX_AGE_SEC is the same age. */
#define CN_BACKEND_TMP_MAX_AGE_SEC (3 * 24 * 3600)
/* Remove the stale temporaries anywhere in the repository, not only where a
 * listing walks: for writers to call as they start (backup does). Best
 * effort: 0, or -ENOMEM. Backends that reap only as they list (the remote
 * ones) do nothing here. */
int cn_backend_reap(CnBackend *b);

/* Delete name; -ENOENT if absent. Durable when it returns 0. */
int cn_backend_remove(CnBackend *b, const char *name);

/* Detail of the last failure of a cn_backend_*() call on this thread
 * ("" if none), for messages; valid until the thread's next call. */
const char *cn_backend_last_error(void);
/* For backends: record the detail behind an error they return. */
void cn_backend_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

extern const CnBackendOps cn_backend_local_ops;
