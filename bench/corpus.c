/* SPDX-License-Identifier: GPL-3.0-or-later */
#define _XOPEN_SOURCE 700
#include "corpus.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"

static Corpus *filling;         /* nftw() passes no user pointer */

static int add_file(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        _cleanup_close_ int fd = -1;
        Corpus *c = filling;

        if (type != FTW_F || !S_ISREG(st->st_mode) || st->st_size == 0)
                return 0;
        if (c->len >= c->cap)
                return 1;       /* full: stop the walk */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOATIME);
        if (fd < 0)
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return 0;
        while (c->len < c->cap) {
                ssize_t k = read(fd, c->data + c->len, c->cap - c->len);
                if (k <= 0)
                        break;
                c->len += (size_t) k;
        }
        c->n_files++;
        return 0;
}

size_t corpus_load(Corpus *c, size_t cap, char **dirs, int n_dirs) {
        c->data = malloc(cap);
        if (!c->data)
                return 0;
        c->cap = cap;
        filling = c;
        for (int i = 0; i < n_dirs && c->len < cap; i++)
                (void) nftw(dirs[i], add_file, 64, FTW_PHYS | FTW_MOUNT);
        filling = NULL;
        return c->len;
}

static uint64_t state = 0x9e3779b97f4a7c15u;

void corpus_rng_seed(uint64_t seed) {
        state = seed ? seed : 0x9e3779b97f4a7c15u;     /* xorshift needs a non-zero state */
}

uint64_t corpus_rng(void) {
        uint64_t s = state;
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        state = s;
        return s * UINT64_C(0x2545F4914F6CDD1D);
}
