/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Leaf macros every folder uses: cleanup attributes, ownership transfer, sizes. */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _warn_unused_result_ __attribute__((warn_unused_result))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define CN_ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define CN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define CN_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Hand a pointer (or fd) out of a cleanup scope: return TAKE_PTR(p); */
#define TAKE_PTR(p)                             \
        ({                                      \
                __typeof__(p) _p_ = (p);        \
                (p) = NULL;                     \
                _p_;                            \
        })
#define TAKE_FD(fd)                             \
        ({                                      \
                int _fd_ = (fd);                \
                (fd) = -1;                      \
                _fd_;                           \
        })

/* Define fooo_unrefp(Foo **p) for _cleanup_ from a NULL-tolerant destructor. */
#define CN_DEFINE_CLEANUP(type, func)                   \
        static inline void func##p(type *p) {           \
                if (*p)                                 \
                        func(*p);                       \
        }

static inline void cn_freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(cn_freep)

static inline void cn_closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(cn_closep)

/* Make room for element n of a growable array *v holding *cap elements of
 * size bytes (n <= *cap): the capacity doubles, from 16. On -ENOMEM (or a
 * size that would overflow) *v and *cap are left as they were. */
static inline int cn_grow_array(void **v, size_t *cap, size_t n, size_t size) {
        if (n < *cap)
                return 0;
        size_t c = *cap ? *cap * 2 : 16;
        void *nv = reallocarray(*v, c, size);
        if (!nv)
                return -ENOMEM;
        *v = nv;
        *cap = c;
        return 0;
}
#define CN_GROW(v, cap, n) cn_grow_array((void **) &(v), &(cap), (n), sizeof *(v))

/* Negative errno from the current errno, never 0. */
static inline int cn_negerrno(void) {
        return errno > 0 ? -errno : -EIO;
}

/* a * b without overflow, or -EOVERFLOW. */
static inline int cn_mul_size(size_t a, size_t b, size_t *ret) {
        size_t r;
        if (__builtin_mul_overflow(a, b, &r))
                return -EOVERFLOW;
        *ret = r;
        return 0;
}
