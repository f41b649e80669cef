/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Reading and re-applying file metadata.
 *
 * Every entry is addressed as one name relative to a directory fd, never by a
 * full path, so trees deeper than PATH_MAX work. The xattr syscalls have no
 * *at() variants in glibc, so an entry without an open fd is reached as
 * "/proc/self/fd/<dirfd>/<name>" with the l*xattr() calls (the final name is
 * not followed; the magic link only stands for the directory). With an open
 * fd the f*xattr() calls are used, falling back to "/proc/self/fd/<fd>" for
 * O_PATH fds, which f*xattr() refuses with EBADF on older kernels.
 *
 * uid/gid <-> name lookups go through a small direct-mapped cache shared by
 * all threads and guarded by one mutex; NSS is called outside the lock. The
 * cache lives as long as the process: a name renamed mid-backup is seen late. */
#include "fs-meta.h"

#include <assert.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/fs.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "format.h"
#include "macro.h"

/* docs/FORMAT.md names the kept inode flags by their Linux values. */
_Static_assert(CN_FSFLAGS_KEEP == (FS_SECRM_FL | FS_UNRM_FL | FS_COMPR_FL | FS_SYNC_FL | FS_IMMUTABLE_FL |
                                   FS_APPEND_FL | FS_NODUMP_FL | FS_NOATIME_FL | FS_NOCOMP_FL | FS_JOURNAL_DATA_FL |
                                   FS_NOTAIL_FL | FS_DIRSYNC_FL | FS_TOPDIR_FL | FS_NOCOW_FL | FS_DAX_FL |
                                   FS_PROJINHERIT_FL),
               "CN_FSFLAGS_KEEP");
_Static_assert(CN_FSFLAGS_PRIVILEGED == (FS_IMMUTABLE_FL | FS_APPEND_FL), "CN_FSFLAGS_PRIVILEGED");
_Static_assert(CN_FSFLAG_NODUMP == FS_NODUMP_FL, "CN_FSFLAG_NODUMP");

/* Beyond this many data extents a file is stored as non-sparse: its holes
 * then cost chunks of zeros (which dedup to one) instead of a huge list. */
#define CN_FSMETA_EXTENTS_MAX (1u << 20)
/* Linux limits (XATTR_LIST_MAX, XATTR_SIZE_MAX); a reply above them is bogus. */
#define CN_XATTR_LIST_MAX 65536u
#define CN_XATTR_SIZE_MAX 65536u
#define CN_LINK_TARGET_MAX 65536u
/* getpwuid_r() and friends may ask for more buffer; never more than this. */
#define CN_NSS_BUF_MAX (1u << 20)
/* Retries when a list or value grows between the size query and the read. */
#define CN_XATTR_RETRIES 8

#define ACL_ACCESS "system.posix_acl_access"
#define ACL_DEFAULT "system.posix_acl_default"

/* ---- uid/gid <-> name cache ------------------------------------------- */

#define NAME_CACHE_SLOTS 64u

typedef struct IdEntry {
        bool used;
        uint32_t id;
        char *name; /* NULL: the id has no name */
} IdEntry;

typedef struct NameEntry {
        char *name; /* NULL: unused */
        bool found;
        uint32_t id;
} NameEntry;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static IdEntry uid_cache[NAME_CACHE_SLOTS], gid_cache[NAME_CACHE_SLOTS];
static NameEntry user_cache[NAME_CACHE_SLOTS], group_cache[NAME_CACHE_SLOTS];

static size_t name_hash(const char *s) {
        /* FNV-1a; a dozen distinct names is the common case. */
        uint32_t h = 2166136261u;
        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * 16777619u;
        return h % NAME_CACHE_SLOTS;
}

static int dup_or_null(const char *s, char **ret) {
        char *c = NULL;
        if (s) {
                c = strdup(s);
                if (!c)
                        return -ENOMEM;
        }
        *ret = c;
        return 0;
}

/* Calls getpwuid_r/getgrgid_r/getpwnam_r/getgrnam_r with a growing buffer.
 * Returns 1 and the name or id when found, 0 when there is none, < 0 on error. */
static int nss_lookup(bool group, const char *by_name, uint32_t by_id, char **ret_name, uint32_t *ret_id) {
        long hint = sysconf(group ? _SC_GETGR_R_SIZE_MAX : _SC_GETPW_R_SIZE_MAX);
        size_t size = hint > 0 && hint < (long) CN_NSS_BUF_MAX ? (size_t) hint : 1024;

        for (;;) {
                _cleanup_free_ char *buf = malloc(size);
                struct passwd pw, *pwr = NULL;
                struct group gr, *grr = NULL;
                const char *name;
                uint32_t id;
                int e;

                if (!buf)
                        return -ENOMEM;
                if (group)
                        e = by_name ? getgrnam_r(by_name, &gr, buf, size, &grr)
                                    : getgrgid_r((gid_t) by_id, &gr, buf, size, &grr);
                else
                        e = by_name ? getpwnam_r(by_name, &pw, buf, size, &pwr)
                                    : getpwuid_r((uid_t) by_id, &pw, buf, size, &pwr);
                if (e == ERANGE) {
                        if (size >= CN_NSS_BUF_MAX)
                                return -ERANGE;
                        size *= 2;
                        continue;
                }
                if (e == ENOMEM)
                        return -ENOMEM;
                if (e != 0)
                        return -e;
                if (group ? !grr : !pwr)
                        return 0;
                name = group ? gr.gr_name : pw.pw_name;
                id = group ? (uint32_t) gr.gr_gid : (uint32_t) pw.pw_uid;
                if (ret_name) {
                        int r = dup_or_null(name, ret_name);
                        if (r < 0)
                                return r;
                }
                if (ret_id)
                        *ret_id = id;
                return 1;
        }
}

/* The name of uid (or gid), newly allocated, or NULL when it has none. NSS
 * errors other than ENOMEM count as "no name" (a flaky directory service must
 * not fail a backup) and are not cached. */
static int id_to_name(bool group, uint32_t id, char **ret) {
        IdEntry *slot = &(group ? gid_cache : uid_cache)[id % NAME_CACHE_SLOTS];
        _cleanup_free_ char *name = NULL;
        int r;

        pthread_mutex_lock(&cache_lock);
        if (slot->used && slot->id == id) {
                r = dup_or_null(slot->name, ret);
                pthread_mutex_unlock(&cache_lock);
                return r;
        }
        pthread_mutex_unlock(&cache_lock);

        r = nss_lookup(group, NULL, id, &name, NULL);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                _cleanup_free_ char *copy = NULL;
                if (dup_or_null(name, &copy) < 0)
                        return -ENOMEM;
                pthread_mutex_lock(&cache_lock);
                free(slot->name);
                *slot = (IdEntry){.used = true, .id = id, .name = TAKE_PTR(copy)};
                pthread_mutex_unlock(&cache_lock);
        }
        *ret = TAKE_PTR(name);
        return 0;
}

/* 1 and the id when the name is known here, 0 when not, < 0 on ENOMEM. */
static int name_to_id(bool group, const char *name, uint32_t *ret) {
        NameEntry *slot = &(group ? group_cache : user_cache)[name_hash(name)];
        uint32_t id = 0;
        int r;

        pthread_mutex_lock(&cache_lock);
        if (slot->name && strcmp(slot->name, name) == 0) {
                r = slot->found;
                if (r)
                        *ret = slot->id;
                pthread_mutex_unlock(&cache_lock);
                return r;
        }
        pthread_mutex_unlock(&cache_lock);

        r = nss_lookup(group, name, 0, NULL, &id);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        char *copy = strdup(name);
        if (copy) {
                pthread_mutex_lock(&cache_lock);
                free(slot->name);
                *slot = (NameEntry){.name = copy, .found = r > 0, .id = id};
                pthread_mutex_unlock(&cache_lock);
        }
        if (r > 0)
                *ret = id;
        return r;
}

/* ---- addressing one entry --------------------------------------------- */

/* An entry as the xattr calls see it: by fd when open, else by name in dirfd. */
typedef struct Entry {
        int dirfd;
        const char *name;
        int fd;
        char path[PATH_MAX]; /* scratch for the /proc/self/fd form */
} Entry;

/* The path that reaches the entry with l*xattr() (follow == false) or, when
 * only an O_PATH fd is at hand, with the following calls (follow == true). */
static const char *entry_path(Entry *e, bool by_fd) {
        int n;

        if (by_fd)
                n = snprintf(e->path, sizeof e->path, "/proc/self/fd/%d", e->fd);
        else if (e->dirfd == AT_FDCWD || e->name[0] == '/')
                return e->name;
        else
                n = snprintf(e->path, sizeof e->path, "/proc/self/fd/%d/%s", e->dirfd, e->name);
        if (n < 0 || (size_t) n >= sizeof e->path) {
                errno = ENAMETOOLONG;
                return NULL;
        }
        return e->path;
}

/* The f*xattr() call on an O_PATH fd fails with EBADF before Linux 6.x; then
 * go through the proc magic link, which resolves to the open file. */
#define ENTRY_CALL(e, fcall, pathcall_follow, pathcall_nofollow)                                                       \
        ({                                                                                                             \
                ssize_t _r;                                                                                            \
                const char *_p;                                                                                        \
                if ((e)->fd >= 0) {                                                                                    \
                        _r = (fcall);                                                                                  \
                        if (_r < 0 && errno == EBADF) {                                                                \
                                _p = entry_path((e), true);                                                            \
                                _r = _p ? (pathcall_follow) : -1;                                                      \
                        }                                                                                              \
                } else {                                                                                               \
                        _p = entry_path((e), false);                                                                   \
                        _r = _p ? (pathcall_nofollow) : -1;                                                            \
                }                                                                                                      \
                _r;                                                                                                    \
        })

static ssize_t entry_listxattr(Entry *e, char *buf, size_t size) {
        return ENTRY_CALL(e, flistxattr(e->fd, buf, size), listxattr(_p, buf, size), llistxattr(_p, buf, size));
}

static ssize_t entry_getxattr(Entry *e, const char *name, void *buf, size_t size) {
        return ENTRY_CALL(e, fgetxattr(e->fd, name, buf, size), getxattr(_p, name, buf, size),
                          lgetxattr(_p, name, buf, size));
}

static int entry_setxattr(Entry *e, const char *name, const void *value, size_t size) {
        return (int) ENTRY_CALL(e, fsetxattr(e->fd, name, value, size, 0), setxattr(_p, name, value, size, 0),
                                lsetxattr(_p, name, value, size, 0));
}

static int entry_removexattr(Entry *e, const char *name) {
        return (int) ENTRY_CALL(e, fremovexattr(e->fd, name), removexattr(_p, name), lremovexattr(_p, name));
}

static bool errno_is_not_supported(int e) {
        return e == ENOTSUP || e == EOPNOTSUPP || e == ENOSYS;
}

/* ---- reading ------------------------------------------------------------ */

static int read_link_target(int dirfd, const char *name, const struct stat *st, CnNode *node) {
        /* st_size is the target length on most file systems, 0 on some (proc). */
        size_t size = st->st_size > 0 && (uint64_t) st->st_size < CN_LINK_TARGET_MAX ? (size_t) st->st_size + 1 : 256;

        for (;;) {
                _cleanup_free_ char *buf = malloc(size);
                ssize_t n;

                if (!buf)
                        return -ENOMEM;
                n = readlinkat(dirfd, name, buf, size);
                if (n < 0)
                        return cn_negerrno();
                if ((size_t) n < size) {
                        buf[n] = 0;
                        node->target = TAKE_PTR(buf);
                        node->target_len = (size_t) n;
                        return 0;
                }
                /* Possibly truncated: the link changed or st_size was wrong. */
                if (size >= CN_LINK_TARGET_MAX)
                        return -ENAMETOOLONG;
                size *= 2;
        }
}

/* The NUL-separated list of xattr names, or 0 names where unsupported. */
static int read_xattr_names(Entry *e, char **ret, size_t *ret_len) {
        for (unsigned attempt = 0; attempt < CN_XATTR_RETRIES; attempt++) {
                _cleanup_free_ char *buf = NULL;
                ssize_t size, n;

                size = entry_listxattr(e, NULL, 0);
                if (size < 0) {
                        if (errno_is_not_supported(errno)) {
                                *ret = NULL;
                                *ret_len = 0;
                                return 0;
                        }
                        return cn_negerrno();
                }
                if (size == 0) {
                        *ret = NULL;
                        *ret_len = 0;
                        return 0;
                }
                if ((size_t) size > CN_XATTR_LIST_MAX)
                        return -E2BIG;
                /* Room for one more name than asked: a grown list then fits. */
                buf = malloc((size_t) size + 256);
                if (!buf)
                        return -ENOMEM;
                n = entry_listxattr(e, buf, (size_t) size + 256);
                if (n < 0) {
                        if (errno == ERANGE)
                                continue;
                        return cn_negerrno();
                }
                if (n > 0 && buf[n - 1] != 0)
                        return -EBADMSG;
                *ret = TAKE_PTR(buf);
                *ret_len = (size_t) n;
                return 0;
        }
        return -EAGAIN;
}

/* One value into x. 1 when read, 0 when it vanished or this process may not
 * read it (skip the name), < 0 on error. */
static int read_xattr_value(Entry *e, const char *name, CnXattr *x) {
        for (unsigned attempt = 0; attempt < CN_XATTR_RETRIES; attempt++) {
                _cleanup_free_ uint8_t *buf = NULL;
                ssize_t size, n;

                size = entry_getxattr(e, name, NULL, 0);
                if (size < 0) {
                        if (errno == ENODATA || errno == EACCES || errno == EPERM || errno_is_not_supported(errno))
                                return 0;
                        return cn_negerrno();
                }
                if ((size_t) size > CN_XATTR_SIZE_MAX)
                        return -E2BIG;
                /* Always allocate, so an empty value is not a NULL pointer;
                 * the slack absorbs a value that grows a little meanwhile. */
                buf = malloc((size_t) size + 64);
                if (!buf)
                        return -ENOMEM;
                n = entry_getxattr(e, name, buf, (size_t) size + 64);
                if (n < 0) {
                        if (errno == ERANGE)
                                continue;
                        if (errno == ENODATA || errno == EACCES || errno == EPERM || errno_is_not_supported(errno))
                                return 0;
                        return cn_negerrno();
                }
                x->name = strdup(name);
                if (!x->name)
                        return -ENOMEM;
                x->value = TAKE_PTR(buf);
                x->value_len = (size_t) n;
                return 1;
        }
        return -EAGAIN;
}

static int xattr_cmp(const void *a, const void *b) {
        return strcmp(((const CnXattr *) a)->name, ((const CnXattr *) b)->name);
}

static int read_xattrs(Entry *e, CnNode *node) {
        _cleanup_free_ char *names = NULL;
        size_t len, count = 0;
        int r;

        r = read_xattr_names(e, &names, &len);
        if (r < 0)
                return r;
        for (size_t i = 0; i < len; i += strlen(names + i) + 1)
                count++;
        if (count == 0)
                return 0;
        node->xattrs = calloc(count, sizeof *node->xattrs);
        if (!node->xattrs)
                return -ENOMEM;
        for (size_t i = 0; i < len; i += strlen(names + i) + 1) {
                if (names[i] == 0)
                        continue;
                r = read_xattr_value(e, names + i, &node->xattrs[node->n_xattrs]);
                if (r < 0)
                        return r;
                if (r > 0)
                        node->n_xattrs++;
        }
        /* A stable order, so one state of a file always records the same. */
        qsort(node->xattrs, node->n_xattrs, sizeof *node->xattrs, xattr_cmp);
        return 0;
}

static int extents_add(CnNode *node, size_t *cap, uint64_t off, uint64_t len) {
        if (node->n_extents > 0) {
                CnExtent *last = &node->extents[node->n_extents - 1];
                if (last->offset + last->length == off) {
                        last->length += len;
                        return 0;
                }
        }
        if (node->n_extents == *cap) {
                size_t ncap = *cap ? *cap * 2 : 16;
                CnExtent *n;

                if (ncap > CN_FSMETA_EXTENTS_MAX)
                        ncap = CN_FSMETA_EXTENTS_MAX;
                if (node->n_extents >= ncap)
                        return -E2BIG;
                n = realloc(node->extents, ncap * sizeof *n);
                if (!n)
                        return -ENOMEM;
                node->extents = n;
                *cap = ncap;
        }
        node->extents[node->n_extents++] = (CnExtent){.offset = off, .length = len};
        return 0;
}

static void extents_drop(CnNode *node) {
        free(node->extents);
        node->extents = NULL;
        node->n_extents = 0;
        node->sparse = false;
}

/* Walk the data extents of fd up to size. Leaves node non-sparse where the
 * file system cannot tell holes, the file has none, or has too many. */
static int read_extents_walk(int fd, uint64_t size, CnNode *node) {
        size_t cap = 0;
        uint64_t off = 0;
        int r;

        while (off < size) {
                off_t data, hole;

                data = lseek(fd, (off_t) off, SEEK_DATA);
                if (data < 0) {
                        if (errno == ENXIO) /* only a hole up to EOF */
                                break;
                        if (errno == EINVAL || errno_is_not_supported(errno)) {
                                extents_drop(node);
                                return 0;
                        }
                        return cn_negerrno();
                }
                if ((uint64_t) data >= size)
                        break;
                hole = lseek(fd, data, SEEK_HOLE);
                if (hole < 0) {
                        if (errno != ENXIO) /* truncated meanwhile */
                                return cn_negerrno();
                        hole = (off_t) size;
                }
                if ((uint64_t) hole > size)
                        hole = (off_t) size;
                if (hole <= data)
                        break;
                r = extents_add(node, &cap, (uint64_t) data, (uint64_t) (hole - data));
                if (r == -E2BIG) {
                        extents_drop(node);
                        return 0;
                }
                if (r < 0)
                        return r;
                off = (uint64_t) hole;
        }
        node->sparse = true;
        if (node->n_extents == 1 && node->extents[0].offset == 0 && node->extents[0].length == size)
                extents_drop(node);
        return 0;
}

static int read_extents(int fd, const struct stat *st, CnNode *node) {
        off_t pos;
        int r;

        /* Allocation below the size hints at holes; SEEK_DATA confirms. */
        if (st->st_size <= 0 || (uint64_t) st->st_blocks * 512 >= (uint64_t) st->st_size)
                return 0;
        /* The caller reads content from fd next: keep its offset. */
        pos = lseek(fd, 0, SEEK_CUR);
        if (pos < 0)
                return errno == ESPIPE ? 0 : cn_negerrno();
        r = read_extents_walk(fd, (uint64_t) st->st_size, node);
        if (lseek(fd, pos, SEEK_SET) < 0 && r >= 0)
                r = cn_negerrno();
        if (r < 0)
                extents_drop(node);
        return r;
}

/* A file system without inode flags, or a file type that has none. */
static bool errno_is_no_flags(int e) {
        return errno_is_not_supported(e) || e == ENOTTY || e == EINVAL;
}

int cn_fsmeta_read_fsflags(int fd, uint32_t *ret) {
        int v = 0;
        if (ioctl(fd, FS_IOC_GETFLAGS, &v) < 0) {
                if (!errno_is_no_flags(errno))
                        return cn_negerrno();
                v = 0;
        }
        *ret = (uint32_t) v & CN_FSFLAGS_KEEP;
        return 0;
}

int cn_fsmeta_type_of(mode_t m, CnNodeType *ret) {
        switch (m & S_IFMT) {
        case S_IFREG:
                *ret = CN_NODE_FILE;
                return 0;
        case S_IFDIR:
                *ret = CN_NODE_DIR;
                return 0;
        case S_IFLNK:
                *ret = CN_NODE_SYMLINK;
                return 0;
        case S_IFIFO:
                *ret = CN_NODE_FIFO;
                return 0;
        case S_IFCHR:
                *ret = CN_NODE_CHR;
                return 0;
        case S_IFBLK:
                *ret = CN_NODE_BLK;
                return 0;
        case S_IFSOCK:
                *ret = CN_NODE_SOCK;
                return 0;
        default:
                return -EOPNOTSUPP;
        }
}

static CnTime cn_time_from(const struct timespec *ts) {
        return (CnTime){.sec = (int64_t) ts->tv_sec, .nsec = (uint32_t) ts->tv_nsec};
}

int cn_fsmeta_read(int dirfd, const char *name, int fd, const struct stat *st, CnNode *node) {
        Entry e = {.dirfd = dirfd, .name = name, .fd = fd};
        int r;

        if (!name || !*name || !st || !node)
                return -EINVAL;
        r = cn_fsmeta_type_of(st->st_mode, &node->type);
        if (r < 0)
                return r;

        node->name_len = strlen(name);
        node->name = strdup(name);
        if (!node->name)
                return -ENOMEM;
        node->mode = (uint32_t) (st->st_mode & 07777);
        node->uid = (uint32_t) st->st_uid;
        node->gid = (uint32_t) st->st_gid;
        node->mtime = cn_time_from(&st->st_mtim);
        node->atime = cn_time_from(&st->st_atim);
        node->ctime = cn_time_from(&st->st_ctim);
        node->inode = (uint64_t) st->st_ino;
        node->dev = (uint64_t) st->st_dev;
        node->nlink = (uint64_t) st->st_nlink;
        if (node->type == CN_NODE_FILE)
                node->size = (uint64_t) st->st_size;
        if (node->type == CN_NODE_CHR || node->type == CN_NODE_BLK)
                node->rdev = (uint64_t) st->st_rdev;

        r = id_to_name(false, node->uid, &node->user);
        if (r < 0)
                return r;
        r = id_to_name(true, node->gid, &node->group);
        if (r < 0)
                return r;

        if (node->type == CN_NODE_SYMLINK) {
                r = read_link_target(dirfd, name, st, node);
                if (r < 0)
                        return r;
                /* A symlink has no file to open: never go through an fd. */
                e.fd = -1;
        }

        r = read_xattrs(&e, node);
        if (r < 0)
                return r;

        if (node->type == CN_NODE_FILE && fd >= 0) {
                r = read_extents(fd, st, node);
                if (r < 0)
                        return r;
        }

        /* Inode flags: only through an open file or directory (opening a
         * device or FIFO to ask could have effects). A directory given
         * without fd is opened here; one that cannot be has no flags known
         * to us, recorded as 0. */
        node->fsflags_known = true;
        if ((node->type == CN_NODE_FILE || node->type == CN_NODE_DIR) && fd >= 0)
                return cn_fsmeta_read_fsflags(fd, &node->fsflags);
        if (node->type == CN_NODE_DIR) {
                _cleanup_close_ int dfd =
                        openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
                if (dfd >= 0)
                        return cn_fsmeta_read_fsflags(dfd, &node->fsflags);
        }
        return 0;
}

/* ---- creating and applying ---------------------------------------------- */

/* One path component: not empty, ".", "..", no '/' and no NUL inside. */
static bool name_is_valid(const CnNode *node) {
        if (!node->name || node->name_len == 0 || node->name_len > NAME_MAX)
                return false;
        if (strlen(node->name) != node->name_len || memchr(node->name, '/', node->name_len))
                return false;
        return strcmp(node->name, ".") != 0 && strcmp(node->name, "..") != 0;
}

int cn_fsmeta_create_special(int dirfd, const CnNode *node) {
        /* Created owner-only; cn_fsmeta_apply() sets the real mode. */
        const mode_t m = 0600;

        if (!node || !name_is_valid(node))
                return -EINVAL;

        switch (node->type) {
        case CN_NODE_SYMLINK:
                if (!node->target || node->target_len == 0 || strlen(node->target) != node->target_len)
                        return -EINVAL;
                if (symlinkat(node->target, dirfd, node->name) < 0)
                        return cn_negerrno();
                return 0;
        case CN_NODE_FIFO:
                if (mkfifoat(dirfd, node->name, m) < 0)
                        return cn_negerrno();
                return 0;
        case CN_NODE_CHR:
        case CN_NODE_BLK:
                if (mknodat(dirfd, node->name, (node->type == CN_NODE_CHR ? S_IFCHR : S_IFBLK) | m,
                            (dev_t) node->rdev) < 0)
                        return cn_negerrno();
                return 0;
        case CN_NODE_SOCK:
                /* An unbound socket inode: what a restore can give back. */
                if (mknodat(dirfd, node->name, S_IFSOCK | m, 0) < 0)
                        return cn_negerrno();
                return 0;
        default:
                return -EINVAL;
        }
}

static void keep_first(int *first, int r) {
        if (r < 0 && *first >= 0)
                *first = r;
}

static int apply_owner(Entry *e, const CnNode *node, unsigned flags) {
        uint32_t uid = node->uid, gid = node->gid;
        int r;

        if (!(flags & CN_FSMETA_NUMERIC_OWNER)) {
                /* The name wins where this system knows it; else the number. */
                if (node->user) {
                        r = name_to_id(false, node->user, &uid);
                        if (r < 0)
                                return r;
                }
                if (node->group) {
                        r = name_to_id(true, node->group, &gid);
                        if (r < 0)
                                return r;
                }
        }
        if ((flags & CN_FSMETA_FRESH) && uid == geteuid() && gid == getegid())
                return 0;
        if (e->fd >= 0)
                r = fchownat(e->fd, "", (uid_t) uid, (gid_t) gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
        else
                r = fchownat(e->dirfd, e->name, (uid_t) uid, (gid_t) gid, AT_SYMLINK_NOFOLLOW);
        return r < 0 ? cn_negerrno() : 0;
}

static const CnXattr *node_xattr(const CnNode *node, const char *name) {
        for (size_t i = 0; i < node->n_xattrs; i++)
                if (strcmp(node->xattrs[i].name, name) == 0)
                        return &node->xattrs[i];
        return NULL;
}

static int apply_xattrs(Entry *e, const CnNode *node, unsigned flags) {
        int first = 0;

        for (size_t i = 0; i < node->n_xattrs; i++) {
                const CnXattr *x = &node->xattrs[i];

                if (!x->name || !*x->name)
                        continue;
                if (strcmp(x->name, ACL_DEFAULT) == 0 && node->type != CN_NODE_DIR)
                        continue;
                if (entry_setxattr(e, x->name, x->value, x->value_len) < 0)
                        keep_first(&first, cn_negerrno());
        }

        /* A new entry inherits an access ACL (and a dir a default ACL) from a
         * default ACL of its parent; the recorded entry had none. */
        for (unsigned k = 0; k < 2 && !(flags & CN_FSMETA_FRESH); k++) {
                const char *acl = k == 0 ? ACL_ACCESS : ACL_DEFAULT;

                if (node->type == CN_NODE_SYMLINK || (k == 1 && node->type != CN_NODE_DIR))
                        continue;
                if (node_xattr(node, acl))
                        continue;
                if (entry_removexattr(e, acl) < 0 && errno != ENODATA && !errno_is_not_supported(errno))
                        keep_first(&first, cn_negerrno());
        }
        return first;
}

static int apply_mode(Entry *e, const CnNode *node) {
        mode_t m = (mode_t) (node->mode & 07777);
        int r;

        if (e->fd >= 0) {
                r = fchmod(e->fd, m);
                if (r < 0 && errno == EBADF) {
                        const char *p = entry_path(e, true);
                        r = p ? chmod(p, m) : -1;
                }
        } else
                /* glibc does NOFOLLOW through O_PATH and /proc where the
                 * kernel lacks fchmodat2; only a symlink then refuses. */
                r = fchmodat(e->dirfd, e->name, m, AT_SYMLINK_NOFOLLOW);
        return r < 0 ? cn_negerrno() : 0;
}

static int apply_times(Entry *e, const CnNode *node) {
        struct timespec ts[2] = {
                {.tv_sec = (time_t) node->atime.sec, .tv_nsec = (long) node->atime.nsec},
                {.tv_sec = (time_t) node->mtime.sec, .tv_nsec = (long) node->mtime.nsec},
        };
        int r = -1;

        if (node->atime.nsec >= 1000000000u || node->mtime.nsec >= 1000000000u)
                return -EINVAL;
        if (node->atime.sec == 0 && node->atime.nsec == 0)
                ts[0].tv_nsec = UTIME_OMIT;     /* not recorded (docs/FORMAT.md "Tree") */
        if (e->fd < 0)
                r = utimensat(e->dirfd, e->name, ts, AT_SYMLINK_NOFOLLOW);
        else if ((r = futimens(e->fd, ts)) < 0 && errno == EBADF) {
                /* An O_PATH fd (symlinks, special files): by the fd itself
                 * (Linux 5.8), else through its proc link, which ends on the
                 * entry and follows nothing further. */
                r = utimensat(e->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
                if (r < 0 && errno == EINVAL) {
                        const char *p = entry_path(e, true);
                        r = p ? utimensat(AT_FDCWD, p, ts, 0) : -1;
                }
        }
        return r < 0 ? cn_negerrno() : 0;
}

/* The recorded inode flags, leaving the bits cairn does not keep as they
 * are; with CN_FSMETA_NO_OWNER (not root) also immutable and append-only,
 * which need CAP_LINUX_IMMUTABLE. On a file system without flags, nothing
 * to set is no error. */
static int apply_fsflags(Entry *e, const CnNode *node, unsigned flags) {
        bool privileged = !(flags & (CN_FSMETA_NO_OWNER | CN_FSMETA_DEFER_PRIVILEGED));
        uint32_t manage = CN_FSFLAGS_KEEP & ~(privileged ? 0u : CN_FSFLAGS_PRIVILEGED);
        uint32_t want = node->fsflags & manage;
        _cleanup_close_ int own = -1;
        int fd = e->fd, cur = 0;

        if (node->type != CN_NODE_FILE && node->type != CN_NODE_DIR)
                return 0;
        int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
        if (fl < 0 || (fl & O_PATH)) {
                /* O_PATH fds take no ioctl: open the entry itself. */
                const char *p = fd >= 0 ? entry_path(e, true) : NULL;
                int of = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
                         (node->type == CN_NODE_DIR ? O_DIRECTORY : 0);
                own = p ? open(p, of) : openat(e->dirfd, e->name, of | O_NOFOLLOW);
                if (own < 0)
                        return want ? cn_negerrno() : 0;
                fd = own;
        }
        if (ioctl(fd, FS_IOC_GETFLAGS, &cur) < 0) {
                if (!want && errno_is_no_flags(errno))
                        return 0;
                return cn_negerrno();
        }
        int next = (int) (((uint32_t) cur & ~manage) | want);
        if (next == cur)
                return 0;
        return ioctl(fd, FS_IOC_SETFLAGS, &next) < 0 ? cn_negerrno() : 0;
}

/* Order: chown first (it clears setuid/setgid and file capabilities), then
 * xattrs and ACLs while the owner can still write them (an unprivileged owner
 * cannot set user.* on a file whose mode lacks u+w), then the mode (the ACL
 * mask follows the group bits, which match the recorded ACL), times, and
 * the inode flags very last. */
int cn_fsmeta_apply(int dirfd, const char *name, int fd, const CnNode *node, unsigned flags) {
        Entry e = {.dirfd = dirfd, .name = name, .fd = fd};
        int first = 0;

        if (!name || !*name || !node)
                return -EINVAL;

        if (!(flags & CN_FSMETA_NO_OWNER))
                keep_first(&first, apply_owner(&e, node, flags));
        keep_first(&first, apply_xattrs(&e, node, flags));
        if (node->type != CN_NODE_SYMLINK &&
            !((flags & CN_FSMETA_FRESH) && (node->mode & 07777) == (node->type == CN_NODE_DIR ? 0700u : 0600u)))
                keep_first(&first, apply_mode(&e, node));
        keep_first(&first, apply_times(&e, node));
        /* Last: an immutable or append-only entry takes nothing more. */
        keep_first(&first, apply_fsflags(&e, node, flags));
        return first;
}

int cn_fsmeta_apply_fsflags(int fd, const CnNode *node, unsigned flags) {
        Entry e = {.dirfd = -1, .name = node->name, .fd = fd};
        return apply_fsflags(&e, node, flags);
}
