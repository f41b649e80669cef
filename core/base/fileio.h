/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Whole-file helpers with the durability rules of docs/FORMAT.md. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Read all of fd (from its current offset) into b; -E2BIG past b's limit. */
int cn_read_fd_all(int fd, CnBuf *b);
/* Open path relative to dirfd (AT_FDCWD allowed) and read it whole. */
int cn_read_file_at(int dirfd, const char *path, CnBuf *b);
/* write(2) all of p, retrying on EINTR and short writes. */
int cn_write_all(int fd, const void *p, size_t n);
/* pread(2) exactly n bytes at off; -ENODATA if the file ends first. */
int cn_pread_all(int fd, void *p, size_t n, uint64_t off);

/* Durably create path (relative to dirfd) with exactly these bytes: write to
 * a temporary name in the same directory, fsync, rename over path, fsync the
 * directory. With exclusive, fails with -EEXIST instead of replacing. On
 * failure the temporary file is removed and path is untouched. */
int cn_write_file_atomic_at(int dirfd, const char *path, const void *p, size_t n, int mode, int exclusive);

/* Link the inode of fd (any open mode, O_PATH too; an O_TMPFILE file) as
 * name in dirfd: by the fd itself where allowed (CAP_DAC_READ_SEARCH),
 * else through its proc link. -EEXIST when name is taken (never replaced). */
int cn_link_fd(int fd, int dirfd, const char *name);

/* mkdir -p, relative to dirfd; existing directories are fine. */
int cn_mkdir_p_at(int dirfd, const char *path, int mode);
