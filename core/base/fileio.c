/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"

int cn_read_fd_all(int fd, CnBuf *b) {
        for (;;) {
                int r = cn_buf_reserve(b, 64 * 1024);
                if (r < 0) {
                        /* Near the cap: try to read the last bytes that still fit. */
                        size_t room = b->limit - b->len;
                        if (room == 0) {
                                uint8_t probe;
                                ssize_t k = read(fd, &probe, 1);
                                return k == 0 ? 0 : -E2BIG;
                        }
                        r = cn_buf_reserve(b, room);
                        if (r < 0)
                                return r;
                }
                size_t room = CN_MIN(b->cap - b->len, b->limit - b->len);
                ssize_t k = read(fd, b->data + b->len, room);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return 0;
                b->len += (size_t) k;
        }
}

int cn_read_file_at(int dirfd, const char *path, CnBuf *b) {
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return cn_read_fd_all(fd, b);
}

int cn_write_all(int fd, const void *p, size_t n) {
        const uint8_t *q = p;
        while (n > 0) {
                ssize_t k = write(fd, q, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                q += k;
                n -= (size_t) k;
        }
        return 0;
}

int cn_pread_all(int fd, void *p, size_t n, uint64_t off) {
        uint8_t *q = p;
        while (n > 0) {
                ssize_t k = pread(fd, q, n, (off_t) off);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -ENODATA;
                q += k;
                n -= (size_t) k;
                off += (uint64_t) k;
        }
        return 0;
}

static int open_parent(int dirfd, const char *path, char **ret_base) {
        const char *slash = strrchr(path, '/');
        if (!slash) {
                *ret_base = strdup(path);
                if (!*ret_base)
                        return -ENOMEM;
                int fd = dirfd == AT_FDCWD ? open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                                           : fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
                return fd < 0 ? -errno : fd;
        }
        _cleanup_free_ char *dir = strndup(path, (size_t) (slash - path) + (slash == path));
        if (!dir)
                return -ENOMEM;
        int fd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret_base = strdup(slash + 1);
        if (!*ret_base) {
                close(fd);
                return -ENOMEM;
        }
        return fd;
}

int cn_write_file_atomic_at(int dirfd, const char *path, const void *p, size_t n, int mode, int exclusive) {
        _cleanup_free_ char *base = NULL;
        _cleanup_close_ int pfd = -1;
        char tmp[64];
        uint8_t rnd[8];
        int r;

        pfd = open_parent(dirfd, path, &base);
        if (pfd < 0)
                return pfd;
        if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
                return -EIO;
        snprintf(tmp, sizeof tmp, ".tmp-%02x%02x%02x%02x%02x%02x%02x%02x",
                 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);

        _cleanup_close_ int fd = openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        /* Held until fd closes, after the rename: whoever reaps stale
         * temporaries leaves a locked one alone (storage/backend-local.c). */
        (void) flock(fd, LOCK_EX | LOCK_NB);
        r = cn_write_all(fd, p, n);
        if (r < 0)
                goto fail;
        if (fsync(fd) < 0) {
                r = -errno;
                goto fail;
        }
        if (exclusive) {
                /* link(2) refuses to replace, unlike rename(2). */
                if (linkat(pfd, tmp, pfd, base, 0) < 0) {
                        r = -errno;
                        goto fail;
                }
                (void) unlinkat(pfd, tmp, 0);
        } else if (renameat(pfd, tmp, pfd, base) < 0) {
                r = -errno;
                goto fail;
        }
        if (fsync(pfd) < 0)
                return -errno;
        return 0;
fail:
        (void) unlinkat(pfd, tmp, 0);
        return r;
}

int cn_mkdir_p_at(int dirfd, const char *path, int mode) {
        char p[4096];
        size_t n = strlen(path);
        if (n == 0 || n >= sizeof p)
                return -ENAMETOOLONG;
        memcpy(p, path, n + 1);
        for (size_t i = 1; i <= n; i++) {
                if (p[i] != '/' && p[i] != 0)
                        continue;
                char c = p[i];
                p[i] = 0;
                if (mkdirat(dirfd, p, (mode_t) mode) < 0 && errno != EEXIST)
                        return -errno;
                p[i] = c;
        }
        return 0;
}

int cn_link_fd(int fd, int dirfd, const char *name) {
        char p[32];
        if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0)
                return 0;
        if (errno != ENOENT && errno != EPERM)
                return -errno;
        snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
        return linkat(AT_FDCWD, p, dirfd, name, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
}
