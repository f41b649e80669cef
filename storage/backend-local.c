/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The local backend: objects are files under a directory, named by their
 * object names ("data/ab/cd" is the file data/ab/cd below the root).
 *
 * Every operation works relative to one O_DIRECTORY fd of the root, which
 * is the only state an instance has, so any number of threads may use it.
 *
 * put writes a temporary ".tmp-<random>" file next to the target, fsyncs it,
 * then rename(2)s it over the target, or link(2)s it for CN_PUT_EXCLUSIVE
 * (link refuses to replace, so of racing writers exactly one wins), and
 * fsyncs the directory (cn_write_file_atomic_at). Missing parent directories
 * are made on demand, each fsync'd into its parent, so a put is durable when
 * it returns. Directories are never removed: an empty one is cheap, and
 * removing it would race with a writer about to put a file into it.
 * Because of this layout "a" and "a/b" cannot both be objects: the put that
 * would need both fails with -EEXIST (the repository layout never asks).
 *
 * A writer that dies leaves its ".tmp-*" file behind. list never reports
 * those, and deletes the stale ones it walks past; reap (cn_backend_reap(),
 * which backup calls as it starts) deletes them everywhere. Stale: older
 * than CN_BACKEND_TMP_MAX_AGE_SEC and not flock(2)ed: cn_write_file_atomic_at
 * holds a lock on its temporary until it is renamed, so a writer that is
 * alive, even stopped for days, keeps it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "fileio.h"
#include "macro.h"

#define CN_LOCAL_TMP_PREFIX ".tmp-"
/* How deep reap looks: the layout's deepest objects are data/<ctrl>/ab/<pack>. */
#define REAP_DEPTH 8

/* Packs are written once and read by many ranged gets (a restore reads
 * each blob of each pack): their fds are kept open, a few at a time, so a
 * get is one pread instead of open, fstat, pread and close. */
#define FD_CACHE 32
#define FD_CACHE_PREFIX "data/"

typedef struct CachedFd {
        char name[CN_BACKEND_NAME_MAX + 1];
        int fd;                         /* -1: free slot */
        uint64_t size;
        unsigned refs;                  /* gets reading through it now */
        uint64_t used;                  /* for least-recently-used eviction */
} CachedFd;

typedef struct CnBackendLocal {
        CnBackend base;
        int root_fd;
        pthread_mutex_t lock;           /* guards the cache */
        CachedFd cache[FD_CACHE];
        uint64_t tick;
} CnBackendLocal;

static int root_fd(CnBackend *b) {
        return ((CnBackendLocal *) b)->root_fd;
}

/* The one place that turns errno into the meanings of backend.h; anything
 * without one becomes -EIO, with the detail kept for the message. */
static int map_errno(int err, const char *op, const char *name) {
        switch (err) {
        case ENOENT:
        case EEXIST:
        case ENOMEM:
        case ENODATA:
        case E2BIG:
        case EINVAL:
                return -err;
        case EACCES:
        case EPERM:
        case EROFS:
                cn_backend_set_error("%s %s: %s", op, name, strerror(err));
                return -EACCES;
        case ENOSPC:
        case EDQUOT:
                cn_backend_set_error("%s %s: %s", op, name, strerror(err));
                return -ENOSPC;
        case EINTR:
        case EAGAIN:
                return -EAGAIN;
        case ENAMETOOLONG:
                cn_backend_set_error("%s %s: %s", op, name, strerror(err));
                return -EINVAL;
        default:
                cn_backend_set_error("%s %s: %s", op, name, strerror(err));
                return -EIO;
        }
}

static int local_open(const char *location, bool create, CnBackend **ret) {
        _cleanup_close_ int fd = -1;
        int r;

        if (create) {
                r = cn_mkdir_p_at(AT_FDCWD, location, 0700);
                if (r < 0)
                        return map_errno(-r, "mkdir", location);
        }
        fd = open(location, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOTDIR)
                        /* a file is in the way: nothing to open, and no place to make one */
                        return create ? -EEXIST : -ENOENT;
                return map_errno(errno, "open", location);
        }
        if (create) {
                /* Make the (possibly new) root durable in its parent. */
                _cleanup_close_ int pfd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (pfd < 0 || fsync(pfd) < 0 || fsync(fd) < 0)
                        return map_errno(errno, "fsync", location);
        }

        CnBackendLocal *l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->base.ops = &cn_backend_local_ops;
        l->base.local_path = realpath(location, NULL);
        if (!l->base.local_path) {
                free(l);
                return -ENOMEM;
        }
        l->root_fd = TAKE_FD(fd);
        pthread_mutex_init(&l->lock, NULL);
        for (size_t i = 0; i < FD_CACHE; i++)
                l->cache[i].fd = -1;
        *ret = &l->base;
        return 0;
}

static void local_close(CnBackend *b) {
        CnBackendLocal *l = (CnBackendLocal *) b;

        if (l->root_fd >= 0)
                close(l->root_fd);
        for (size_t i = 0; i < FD_CACHE; i++)
                if (l->cache[i].fd >= 0)
                        close(l->cache[i].fd);
        pthread_mutex_destroy(&l->lock);
        free(l);
}

/* mkdir every directory above name, one segment at a time. Each is fsync'd
 * into its parent even if another writer made it first: that writer may not
 * have synced it yet, and our put must not return before it is durable. */
static int make_parents(int root, const char *name) {
        _cleanup_close_ int cur = fcntl(root, F_DUPFD_CLOEXEC, 3);
        char seg[CN_BACKEND_NAME_MAX + 1];
        const char *p = name;

        if (cur < 0)
                return -errno;
        for (;;) {
                const char *slash = strchr(p, '/');
                if (!slash)
                        return 0;
                size_t len = (size_t) (slash - p);
                if (len >= sizeof seg)
                        return -ENAMETOOLONG;
                memcpy(seg, p, len);
                seg[len] = 0;

                if (mkdirat(cur, seg, 0700) < 0 && errno != EEXIST)
                        return -errno;
                if (fsync(cur) < 0)
                        return -errno;
                int next = openat(cur, seg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (next < 0)
                        return -errno;
                close(cur);
                cur = next;
                p = slash + 1;
        }
}

static int local_put(CnBackend *b, const char *name, const void *p, size_t n, unsigned flags) {
        int root = root_fd(b);
        int excl = !!(flags & CN_PUT_EXCLUSIVE);
        int r;

        r = cn_write_file_atomic_at(root, name, p, n, 0600, excl);
        if (r == -ENOENT && strchr(name, '/')) {
                /* Slow path: the parent directory does not exist yet. */
                r = make_parents(root, name);
                if (r < 0) {
                        if (r == -ENOTDIR || r == -EEXIST)
                                goto collision;
                        return map_errno(-r, "mkdir for", name);
                }
                r = cn_write_file_atomic_at(root, name, p, n, 0600, excl);
        }
        if (r == -ENOTDIR || r == -EISDIR)
                goto collision;
        if (r < 0)
                return map_errno(-r, "put", name);
        return 0;

collision:
        /* "a" and "a/b" cannot both be files; the repository layout never
         * asks for that, so say which name is in the way. */
        cn_backend_set_error("put %s: a file and a directory collide on this path", name);
        return -EEXIST;
}

/* Open name for reading if it is a regular file; -ENOENT for anything else. */
static int open_object(int root, const char *name, struct stat *ret_st) {
        _cleanup_close_ int fd = openat(root, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOTDIR || errno == EISDIR)
                        return -ENOENT;
                return map_errno(errno, "open", name);
        }
        if (fstat(fd, ret_st) < 0)
                return map_errno(errno, "stat", name);
        if (!S_ISREG(ret_st->st_mode))
                return -ENOENT;
        return TAKE_FD(fd);
}

/* A cached fd of name with a reference taken, or NULL. */
static CachedFd *cache_get(CnBackendLocal *l, const char *name) {
        CachedFd *c = NULL;
        pthread_mutex_lock(&l->lock);
        for (size_t i = 0; i < FD_CACHE && !c; i++)
                if (l->cache[i].fd >= 0 && strcmp(l->cache[i].name, name) == 0)
                        c = &l->cache[i];
        if (c) {
                c->refs++;
                c->used = ++l->tick;
        }
        pthread_mutex_unlock(&l->lock);
        return c;
}

static void cache_put(CnBackendLocal *l, CachedFd *c) {
        pthread_mutex_lock(&l->lock);
        c->refs--;
        pthread_mutex_unlock(&l->lock);
}

/* Offer fd of name to the cache; returns the entry (referenced) if taken. */
static CachedFd *cache_add(CnBackendLocal *l, const char *name, int fd, uint64_t size) {
        CachedFd *victim = NULL;
        pthread_mutex_lock(&l->lock);
        for (size_t i = 0; i < FD_CACHE; i++) {
                CachedFd *c = &l->cache[i];
                if (c->fd >= 0 && strcmp(c->name, name) == 0) {
                        victim = NULL;  /* another thread cached it meanwhile */
                        break;
                }
                if (c->refs == 0 && (!victim || c->fd < 0 || (victim->fd >= 0 && c->used < victim->used)))
                        victim = c;
        }
        if (victim) {
                if (victim->fd >= 0)
                        close(victim->fd);
                snprintf(victim->name, sizeof victim->name, "%s", name);
                victim->fd = fd;
                victim->size = size;
                victim->refs = 1;
                victim->used = ++l->tick;
        }
        pthread_mutex_unlock(&l->lock);
        return victim;
}

static void cache_drop(CnBackendLocal *l, const char *name) {
        pthread_mutex_lock(&l->lock);
        for (size_t i = 0; i < FD_CACHE; i++) {
                CachedFd *c = &l->cache[i];
                if (c->fd >= 0 && c->refs == 0 && strcmp(c->name, name) == 0) {
                        close(c->fd);
                        c->fd = -1;
                }
        }
        pthread_mutex_unlock(&l->lock);
}

static int local_get(CnBackend *b, const char *name, uint64_t offset, uint64_t length, CnBuf *out) {
        CnBackendLocal *l = (CnBackendLocal *) b;
        bool cacheable = strncmp(name, FD_CACHE_PREFIX, strlen(FD_CACHE_PREFIX)) == 0;
        _cleanup_close_ int own = -1;
        CachedFd *c = cacheable ? cache_get(l, name) : NULL;
        uint64_t size;
        uint8_t *dst;
        int fd, r;

        cn_buf_reset(out);
        if (c) {
                fd = c->fd;
                size = c->size;
        } else {
                struct stat st;
                own = open_object(root_fd(b), name, &st);
                if (own < 0)
                        return own;
                size = (uint64_t) st.st_size;
                if (cacheable && (c = cache_add(l, name, own, size)))
                        own = -1;       /* the cache owns it now */
                fd = c ? c->fd : own;
        }
        if (offset > size)
                r = -ENODATA;
        else {
                if (length == CN_GET_ALL)
                        length = size - offset;
                r = length > size - offset ? -ENODATA : length > out->limit ? -E2BIG : 0;
        }
        if (r >= 0)
                r = cn_buf_grow(out, (size_t) length, &dst);
        if (r >= 0) {
                r = cn_pread_all(fd, dst, (size_t) length, offset);
                if (r < 0) {
                        cn_buf_reset(out);
                        /* The fd pins the inode a rename may have replaced, so a
                         * short read means someone truncated the file in place. */
                        r = r == -ENODATA ? -ENODATA : map_errno(-r, "read", name);
                }
        }
        if (c)
                cache_put(l, c);
        return r;
}

static int local_stat(CnBackend *b, const char *name, uint64_t *ret_size) {
        struct stat st;

        if (fstatat(root_fd(b), name, &st, 0) < 0) {
                if (errno == ENOTDIR)
                        return -ENOENT;
                return map_errno(errno, "stat", name);
        }
        if (!S_ISREG(st.st_mode))
                return -ENOENT;
        *ret_size = (uint64_t) st.st_size;
        return 0;
}

static bool is_tmp(const char *entry) {
        return strncmp(entry, CN_LOCAL_TMP_PREFIX, strlen(CN_LOCAL_TMP_PREFIX)) == 0;
}

/* Delete the temporary name in the directory dfd if it is stale: a regular
 * file older than CN_BACKEND_TMP_MAX_AGE_SEC that no writer holds locked.
 * One we cannot open (another user's) is left to its owner. */
static void reap_tmp(int dfd, const char *name, time_t now) {
        _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || now - st.st_mtime <= CN_BACKEND_TMP_MAX_AGE_SEC)
                return;
        /* A file system without flock (ENOLCK, EOPNOTSUPP) leaves the age alone to decide. */
        if (flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK)
                return; /* its writer is alive */
        (void) unlinkat(dfd, name, 0);
}

typedef struct ListCtx {
        const char *prefix;
        size_t prefix_len;
        CnBackendListFn fn;
        void *userdata;
        time_t now;
        char path[CN_BACKEND_NAME_MAX + 2]; /* full relative name being walked */
} ListCtx;

/* Whether a directory whose name (with trailing '/') fills path[0..len) can
 * hold names that start with the prefix. */
static bool dir_may_match(const ListCtx *c, size_t len) {
        size_t k = CN_MIN(len, c->prefix_len);
        return strncmp(c->path, c->prefix, k) == 0;
}

static void cleanup_closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

/* Walk the directory open as dfd (taken over), whose name relative to the
 * root, with trailing '/', is path[0..len). */
static int walk(ListCtx *c, int dfd, size_t len) {
        _cleanup_(cleanup_closedirp) DIR *d = fdopendir(dfd);
        struct dirent *de;
        int r;

        if (!d) {
                r = -errno;
                close(dfd);
                return map_errno(-r, "list", c->path);
        }
        for (;;) {
                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return map_errno(errno, "list", c->path);
                        return 0;
                }
                const char *e = de->d_name;
                if (strcmp(e, ".") == 0 || strcmp(e, "..") == 0)
                        continue;

                struct stat st;
                if (is_tmp(e)) {
                        reap_tmp(dirfd(d), e, c->now);
                        continue;
                }

                size_t elen = strlen(e);
                if (len + elen > CN_BACKEND_NAME_MAX)
                        continue; /* cannot be an object name */
                memcpy(c->path + len, e, elen + 1);
                if (!dir_may_match(c, len + elen))
                        continue;

                if (fstatat(dirfd(d), e, &st, 0) < 0) {
                        if (errno == ENOENT)
                                continue; /* removed while we walked */
                        return map_errno(errno, "stat", c->path);
                }
                if (S_ISDIR(st.st_mode)) {
                        c->path[len + elen] = '/';
                        c->path[len + elen + 1] = 0;
                        if (!dir_may_match(c, len + elen + 1))
                                continue;
                        int sub = openat(dirfd(d), e, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (sub < 0) {
                                if (errno == ENOENT)
                                        continue;
                                return map_errno(errno, "list", c->path);
                        }
                        r = walk(c, sub, len + elen + 1);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (!S_ISREG(st.st_mode) || len + elen < c->prefix_len || !cn_backend_name_valid(c->path))
                        continue;
                r = c->fn(c->path, (uint64_t) st.st_size, c->userdata);
                if (r < 0)
                        return r;
        }
}

static int local_list(CnBackend *b, const char *prefix, CnBackendListFn fn, void *userdata) {
        ListCtx c = {
                .prefix = prefix,
                .prefix_len = strlen(prefix),
                .fn = fn,
                .userdata = userdata,
                .now = time(NULL),
        };
        const char *slash = strrchr(prefix, '/');
        size_t dlen = slash ? (size_t) (slash - prefix) + 1 : 0;
        int dfd;

        /* Start at the deepest directory the prefix names in full. */
        memcpy(c.path, prefix, dlen);
        c.path[dlen] = 0;
        if (dlen == 0)
                dfd = openat(root_fd(b), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        else
                dfd = openat(root_fd(b), c.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return 0;
                return map_errno(errno, "list", prefix);
        }
        return walk(&c, dfd, dlen);
}

/* Reap the directory open as dfd (taken over) and, depth levels down, its
 * subdirectories. Only names are read: no object is stat'ed. */
static void reap_dir(int dfd, time_t now, unsigned depth) {
        _cleanup_(cleanup_closedirp) DIR *d = fdopendir(dfd);
        struct dirent *de;

        if (!d) {
                close(dfd);
                return;
        }
        while ((de = readdir(d))) {
                const char *e = de->d_name;
                if (is_tmp(e)) {
                        reap_tmp(dirfd(d), e, now);
                        continue;
                }
                if (depth == 0 || strcmp(e, ".") == 0 || strcmp(e, "..") == 0 ||
                    (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
                        continue;
                int sub = openat(dirfd(d), e, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub >= 0)
                        reap_dir(sub, now, depth - 1);
        }
}

static int local_reap(CnBackend *b) {
        int dfd = openat(root_fd(b), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                reap_dir(dfd, time(NULL), REAP_DEPTH);
        return 0;
}

static int local_remove(CnBackend *b, const char *name) {
        const char *slash = strrchr(name, '/');
        _cleanup_close_ int pfd = -1;

        cache_drop((CnBackendLocal *) b, name);

        if (slash) {
                char dir[CN_BACKEND_NAME_MAX + 1];
                size_t len = (size_t) (slash - name);
                memcpy(dir, name, len);
                dir[len] = 0;
                pfd = openat(root_fd(b), dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        } else
                pfd = fcntl(root_fd(b), F_DUPFD_CLOEXEC, 3);
        if (pfd < 0) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return -ENOENT;
                return map_errno(errno, "remove", name);
        }
        const char *base = slash ? slash + 1 : name;
        if (unlinkat(pfd, base, 0) < 0) {
                /* Linux says EISDIR for a directory, POSIX allows EPERM. */
                if (errno == EISDIR || errno == ENOTDIR)
                        return -ENOENT;
                if (errno == EPERM) {
                        struct stat st;
                        if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
                                return -ENOENT;
                }
                return map_errno(errno, "remove", name);
        }
        /* Durable: an erased object must not come back after a crash. */
        if (fsync(pfd) < 0)
                return map_errno(errno, "fsync after remove of", name);
        return 0;
}

const CnBackendOps cn_backend_local_ops = {
        .scheme = "local",
        .caps = CN_BACKEND_CAP_EXCLUSIVE_PUT | CN_BACKEND_CAP_RANGED_GET | CN_BACKEND_CAP_ATOMIC_PUT,
        .open = local_open,
        .close = local_close,
        .put = local_put,
        .get = local_get,
        .stat = local_stat,
        .list = local_list,
        .remove = local_remove,
        .reap = local_reap,
};
