/* SPDX-License-Identifier: GPL-3.0-or-later */
/* An LD_PRELOAD shim that makes one allocation fail: the Nth call, counted
 * from the start marker, of malloc, calloc, realloc, reallocarray,
 * posix_memalign, aligned_alloc, memalign, strdup, strndup and libsodium's
 * sodium_malloc and sodium_allocarray (which map their own pages, so they
 * are wrapped by name) returns NULL with errno ENOMEM. The start marker is
 * sodium_init(): cairn calls it once its argv is parsed, before any work,
 * so the loader's and libc's start-up allocations are never counted.
 *
 *   CAIRN_ALLOC_FAIL_AT=N      fail the Nth counted allocation (unset or 0:
 *                              only count)
 *   CAIRN_ALLOC_COUNT_FILE=F   at exit write "<count> <failed>" to F: how many
 *                              allocations were counted, and 1 if the Nth
 *                              was reached and failed
 *   CAIRN_ALLOC_SPARE=NAME     allocations made by the loaded library whose
 *                              path holds NAME are neither counted nor
 *                              failed: libarchive (export) dereferences NULL
 *                              or exits on some failed allocations of its
 *                              own, which no caller can handle; every other
 *                              allocation still fails in turn
 *
 * Threads count into one atomic counter, so with several threads the Nth
 * call is not always the same one: each run still fails exactly one.
 * Works under AddressSanitizer too (ASAN_OPTIONS=verify_asan_link_order=0):
 * the real functions are then ASan's. */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* The allocator underneath, found without dlsym() (which allocates, and
 * under AddressSanitizer must not run before ASan has set itself up):
 * ASan's when it is loaded (weak references resolve to it), else glibc's. */
extern void *__interceptor_malloc(size_t) __attribute__((weak));
extern void *__interceptor_calloc(size_t, size_t) __attribute__((weak));
extern void *__interceptor_realloc(void *, size_t) __attribute__((weak));
extern void __interceptor_free(void *) __attribute__((weak));
extern void *__interceptor_memalign(size_t, size_t) __attribute__((weak));
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static void *real_malloc(size_t n) {
        return __interceptor_malloc ? __interceptor_malloc(n) : __libc_malloc(n);
}
static void *real_calloc(size_t a, size_t b) {
        return __interceptor_calloc ? __interceptor_calloc(a, b) : __libc_calloc(a, b);
}
static void *real_realloc(void *p, size_t n) {
        return __interceptor_realloc ? __interceptor_realloc(p, n) : __libc_realloc(p, n);
}
static void real_free(void *p) {
        if (__interceptor_free)
                __interceptor_free(p);
        else
                __libc_free(p);
}
static void *real_memalign(size_t align, size_t n) {
        return __interceptor_memalign ? __interceptor_memalign(align, n) : __libc_memalign(align, n);
}

/* What the shim exports beyond <stdlib.h>'s. */
void *memalign(size_t align, size_t n);
void *sodium_malloc(size_t n);
void *sodium_allocarray(size_t a, size_t b);
int sodium_init(void);

static void *(*real_sodium_malloc)(size_t);
static void *(*real_sodium_allocarray)(size_t, size_t);
static int (*real_sodium_init)(void);

static atomic_long counted;
static atomic_bool started, failed;
static long fail_at = -1;               /* -1: not read yet */

/* The code of the library CAIRN_ALLOC_SPARE names, found at the start marker. */
static uintptr_t spare_lo, spare_hi;

static int find_spare(struct dl_phdr_info *info, size_t size, void *name) {
        (void) size;
        if (!info->dlpi_name || !strstr(info->dlpi_name, name))
                return 0;
        for (int i = 0; i < info->dlpi_phnum; i++) {
                const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
                if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
                        spare_lo = info->dlpi_addr + ph->p_vaddr;
                        spare_hi = spare_lo + ph->p_memsz;
                        return 1;
                }
        }
        return 0;
}

/* True when this call, made from caller, is the one to fail. */
static bool fail_now_from(const void *caller) {
        if (!atomic_load(&started))
                return false;
        if ((uintptr_t) caller >= spare_lo && (uintptr_t) caller < spare_hi)
                return false;
        long n = atomic_fetch_add(&counted, 1) + 1;
        if (n != fail_at)
                return false;
        atomic_store(&failed, true);
        errno = ENOMEM;
        return true;
}

/* Each wrapper asks for its own caller. */
#define fail_now() fail_now_from(__builtin_return_address(0))

EXPORT void *malloc(size_t n) {
        return fail_now() ? NULL : real_malloc(n);
}

EXPORT void *calloc(size_t a, size_t b) {
        return fail_now() ? NULL : real_calloc(a, b);
}

EXPORT void free(void *p) {
        real_free(p);
}

EXPORT void *realloc(void *p, size_t n) {
        return fail_now() ? NULL : real_realloc(p, n);
}

EXPORT void *reallocarray(void *p, size_t a, size_t b) {
        size_t n;
        if (__builtin_mul_overflow(a, b, &n)) {
                errno = ENOMEM;
                return NULL;
        }
        return fail_now() ? NULL : real_realloc(p, n);
}

EXPORT void *memalign(size_t align, size_t n) {
        return fail_now() ? NULL : real_memalign(align, n);
}

EXPORT void *aligned_alloc(size_t align, size_t n) {
        return fail_now() ? NULL : real_memalign(align, n);
}

EXPORT int posix_memalign(void **ret, size_t align, size_t n) {
        if (align % sizeof(void *) || (align & (align - 1)))
                return EINVAL;
        void *p = fail_now() ? NULL : real_memalign(align, n);
        if (!p)
                return ENOMEM;
        *ret = p;
        return 0;
}

/* AddressSanitizer implements these without calling malloc: wrapped here
 * so that they count the same in both builds. */
EXPORT char *strdup(const char *s) {
        size_t n = strlen(s) + 1;
        char *d = fail_now() ? NULL : real_malloc(n);
        return d ? memcpy(d, s, n) : NULL;
}

EXPORT char *strndup(const char *s, size_t max) {
        size_t n = strnlen(s, max);
        char *d = fail_now() ? NULL : real_malloc(n + 1);
        if (!d)
                return NULL;
        memcpy(d, s, n);
        d[n] = 0;
        return d;
}

EXPORT void *sodium_malloc(size_t n) {
        if (!real_sodium_malloc)
                real_sodium_malloc = (void *(*)(size_t)) dlsym(RTLD_NEXT, "sodium_malloc");
        return fail_now() ? NULL : real_sodium_malloc(n);
}

EXPORT void *sodium_allocarray(size_t a, size_t b) {
        if (!real_sodium_allocarray)
                real_sodium_allocarray = (void *(*)(size_t, size_t)) dlsym(RTLD_NEXT, "sodium_allocarray");
        return fail_now() ? NULL : real_sodium_allocarray(a, b);
}

EXPORT int sodium_init(void) {
        if (!real_sodium_init)
                real_sodium_init = (int (*)(void)) dlsym(RTLD_NEXT, "sodium_init");
        int r = real_sodium_init();
        if (fail_at < 0) {
                const char *e = getenv("CAIRN_ALLOC_FAIL_AT"), *spare = getenv("CAIRN_ALLOC_SPARE");
                fail_at = e ? atol(e) : 0;
                if (spare && *spare)
                        dl_iterate_phdr(find_spare, (void *) spare);
        }
        atomic_store(&started, true);
        return r;
}

__attribute__((destructor)) static void report(void) {
        const char *path = getenv("CAIRN_ALLOC_COUNT_FILE");
        char line[64];
        if (!path)
                return;
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return;
        int n = snprintf(line, sizeof line, "%ld %d\n", atomic_load(&counted), atomic_load(&failed) ? 1 : 0);
        if (write(fd, line, (size_t) n) != n)
                n = -1;
        close(fd);
}
