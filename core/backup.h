/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One backup run: walk the source, store what is new, write a snapshot. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "location.h"
#include "pattern.h"
#include "snapshot.h"
#include "subject.h"

/* A source entry that could not be read; error is a positive errno, or
 * CN_BACKUP_CHANGED: a file that changed while it was read, stored as read,
 * or CN_BACKUP_SUBJECT: an entry stored without a data subject the rules
 * give it (over CN_MAX_SUBJECT_BYTES, or past CN_MAX_SUBJECTS), which is
 * reported only, not recorded in the snapshot. */
typedef void (*CnSourceErrorFn)(const char *path, int error, void *userdata);
#define CN_BACKUP_CHANGED EBUSY
#define CN_BACKUP_SUBJECT EMSGSIZE

typedef struct CnBackupOptions {
        char *const *paths;             /* absolute; cleaned by cn_path_clean() */
        size_t n_paths;
        const CnPatterns *excludes;     /* may be NULL */
        const CnSubjectRules *subjects; /* data subjects of the entries; may be NULL */
        bool one_file_system;
        bool exclude_nodump;            /* skip files and directories with the nodump inode flag (chattr +d) */
        int compression_level;          /* zstd level 1..19; 0: the store's default */
        bool record_atime;              /* off: atime is recorded as 0 (unrecorded), so reading
                                         * a tree does not change its next snapshot */
        char *const *tags;
        size_t n_tags;
        const char *hostname;
        const char *username;
        int stdin_fd;                   /* >= 0: back up this stream instead of paths */
        const char *stdin_filename;     /* its name in the snapshot (one component) */
        const CnSnapshot *parent;       /* unchanged files are taken from here; may be NULL */
        bool verify_existing;           /* read back every stored chunk reused (CN_STORE_VERIFY) */
        CnSourceErrorFn on_error;
        CnStoreDamagedFn on_damaged;    /* damaged repository objects read around; may be NULL */
        CnLocationRefusal *refusal;     /* why the location gate refused (-EPERM); may be NULL */
        /* Tests only, NULL otherwise: called with each regular file's fd
         * after its metadata and extents are read, before its content is. */
        void (*before_read)(int fd, void *userdata);
        void *userdata;
} CnBackupOptions;

/* Store everything and save the snapshot (ret, owned by the caller).
 * The location gate (core/location.h) is checked first, before anything
 * is read or written, and again before the snapshot is saved: -EPERM, and
 * o->refusal says why, when c has not authorised where repo lives.
 * Unreadable source entries are reported through on_error, recorded in the
 * snapshot and flag it CN_SNAPSHOT_PARTIAL; they do not fail the run.
 * Repository errors do: nothing is saved and the packs already written are
 * adopted by the next run. */
int cn_backup_run(CnRepo *repo, CnController *c, const CnBackupOptions *o, CnSnapshot *ret);

/* The newest snapshot in list (oldest first) of this host with the same
 * set of paths, or NULL. */
const CnSnapshot *cn_backup_find_parent(const CnSnapshot *list, size_t n, const char *hostname,
                                        char *const *paths, size_t n_paths);

/* Make p absolute (relative to the working directory) and remove "//",
 * "/./", "/x/.." lexically and any trailing '/'. Caller frees *ret. */
int cn_path_clean(const char *p, char **ret);
