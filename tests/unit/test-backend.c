/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The backend contract: checks that take any CnBackend and state what every
 * backend must do, whatever its transport.
 *
 * Each check works below its own namespace ("ns", a name prefix ending in
 * '/'), so one repository can hold the runs of every check. The suite runs
 * against a fresh local backend in a mkdtemp() directory per check, and,
 * when CAIRN_TEST_BACKEND_URL is set, once more against that URL (a remote
 * backend's test script starts its server and sets it), each check under a
 * random namespace that it removes afterwards.
 *
 * Tests after the contract cover what only the local backend or the URL
 * parser can show. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "fileio.h"
#include "macro.h"

#define NAME_LEN 600 /* room for ns + CN_BACKEND_NAME_MAX in these tests */
#define BIG_SIZE (5u * 1024 * 1024)
#define N_THREADS 8

/* ---- helpers ---------------------------------------------------------- */

static void name_at(char *out, const char *ns, const char *rel) {
        int k = snprintf(out, NAME_LEN, "%s%s", ns, rel);
        cr_assert(k >= 0 && k < NAME_LEN);
}

static void put_ok(CnBackend *b, const char *ns, const char *rel, const void *p, size_t n) {
        char name[NAME_LEN];
        name_at(name, ns, rel);
        cr_assert_eq(cn_backend_put(b, name, p, n, 0), 0, "put %s: %s", name, cn_backend_last_error());
}

static void assert_content(CnBackend *b, const char *name, const void *p, size_t n) {
        CnBuf out;
        cn_buf_init(&out, 64u * 1024 * 1024);
        int r = cn_backend_get(b, name, 0, CN_GET_ALL, &out);
        cr_assert_eq(r, 0, "get %s: %d %s", name, r, cn_backend_last_error());
        cr_assert_eq(out.len, n, "get %s: %zu bytes, want %zu", name, out.len, n);
        cr_assert(n == 0 || memcmp(out.data, p, n) == 0, "get %s: content differs", name);
        cn_buf_done(&out);
}

static void fill_pattern(uint8_t *p, size_t n, uint32_t seed) {
        uint32_t x = seed * 2654435761u + 1;
        for (size_t i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                p[i] = (uint8_t) x;
        }
}

typedef struct Listing {
        size_t n;
        char *names[512];
        uint64_t sizes[512];
} Listing;

static int collect(const char *name, uint64_t size, void *userdata) {
        Listing *l = userdata;
        cr_assert(l->n < CN_ELEMENTSOF(l->names), "list returned too many names");
        l->names[l->n] = strdup(name);
        cr_assert_not_null(l->names[l->n]);
        l->sizes[l->n] = size;
        l->n++;
        return 0;
}

static void listing_done(Listing *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->names[i]);
        l->n = 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* list(ns + prefix) must return exactly the names ns + want[i] (any order). */
static void assert_list(CnBackend *b, const char *ns, const char *prefix, const char *const *want, size_t n_want) {
        char full[NAME_LEN];
        Listing l = {0};

        name_at(full, ns, prefix);
        int r = cn_backend_list(b, full, collect, &l);
        cr_assert_eq(r, 0, "list %s: %d %s", full, r, cn_backend_last_error());
        cr_assert_eq(l.n, n_want, "list %s: %zu names, want %zu", full, l.n, n_want);

        char *sorted_want[64];
        char buf[64][NAME_LEN];
        cr_assert(n_want <= 64);
        for (size_t i = 0; i < n_want; i++) {
                name_at(buf[i], ns, want[i]);
                sorted_want[i] = buf[i];
        }
        qsort(sorted_want, n_want, sizeof(char *), cmp_str);
        qsort(l.names, l.n, sizeof(char *), cmp_str);
        for (size_t i = 0; i < n_want; i++)
                cr_assert_str_eq(l.names[i], sorted_want[i], "list %s", full);
        listing_done(&l);
}

/* ---- the contract ----------------------------------------------------- */

static void check_round_trip(CnBackend *b, const char *ns) {
        char name[NAME_LEN];

        put_ok(b, ns, "small", "hello", 5);
        name_at(name, ns, "small");
        assert_content(b, name, "hello", 5);

        put_ok(b, ns, "empty", NULL, 0);
        name_at(name, ns, "empty");
        assert_content(b, name, NULL, 0);

        uint8_t *big = malloc(BIG_SIZE);
        cr_assert_not_null(big);
        fill_pattern(big, BIG_SIZE, 7);
        put_ok(b, ns, "data/aa/big", big, BIG_SIZE);
        name_at(name, ns, "data/aa/big");
        assert_content(b, name, big, BIG_SIZE);
        free(big);

        /* the longest name the rules allow: 512 bytes in short segments */
        char rel[NAME_LEN];
        size_t room = CN_BACKEND_NAME_MAX - strlen(ns), i;
        for (i = 0; i < room; i++)
                rel[i] = (i % 100 == 99) ? '/' : 'n';
        if (rel[room - 1] == '/')
                rel[room - 1] = 'n';
        rel[room] = 0;
        put_ok(b, ns, rel, "long", 4);
        name_at(name, ns, rel);
        cr_assert_eq(strlen(name), CN_BACKEND_NAME_MAX);
        assert_content(b, name, "long", 4);
}

static void check_ranged_get(CnBackend *b, const char *ns) {
        uint8_t p[1000];
        char name[NAME_LEN];
        CnBuf out;

        fill_pattern(p, sizeof p, 3);
        put_ok(b, ns, "r", p, sizeof p);
        name_at(name, ns, "r");
        cn_buf_init(&out, 1 << 20);

        cr_assert_eq(cn_backend_get(b, name, 100, 50, &out), 0);
        cr_assert(out.len == 50 && memcmp(out.data, p + 100, 50) == 0);
        cr_assert_eq(cn_backend_get(b, name, 990, CN_GET_ALL, &out), 0);
        cr_assert(out.len == 10 && memcmp(out.data, p + 990, 10) == 0);
        cr_assert_eq(cn_backend_get(b, name, 0, sizeof p, &out), 0);
        cr_assert(out.len == sizeof p && memcmp(out.data, p, sizeof p) == 0);
        /* the end itself is an empty range, not past it */
        cr_assert_eq(cn_backend_get(b, name, sizeof p, CN_GET_ALL, &out), 0);
        cr_assert_eq(out.len, 0);
        cr_assert_eq(cn_backend_get(b, name, sizeof p, 0, &out), 0);
        cr_assert_eq(out.len, 0);

        cr_assert_eq(cn_backend_get(b, name, sizeof p + 1, CN_GET_ALL, &out), -ENODATA);
        cr_assert_eq(cn_backend_get(b, name, 900, 101, &out), -ENODATA);
        cr_assert_eq(cn_backend_get(b, name, 5000, 1, &out), -ENODATA);
        cr_assert_eq(cn_backend_get(b, name, UINT64_MAX - 1, 10, &out), -ENODATA);
        cn_buf_done(&out);
}

static void check_get_respects_buffer_cap(CnBackend *b, const char *ns) {
        uint8_t p[4096];
        char name[NAME_LEN];
        CnBuf out;

        fill_pattern(p, sizeof p, 5);
        put_ok(b, ns, "capped", p, sizeof p);
        name_at(name, ns, "capped");

        cn_buf_init(&out, 1000);
        cr_assert_eq(cn_backend_get(b, name, 0, CN_GET_ALL, &out), -E2BIG);
        cr_assert_eq(out.len, 0);
        cr_assert_eq(cn_backend_get(b, name, 0, 1001, &out), -E2BIG);
        /* a range within the cap still works */
        cr_assert_eq(cn_backend_get(b, name, 96, 1000, &out), 0);
        cr_assert(out.len == 1000 && memcmp(out.data, p + 96, 1000) == 0);
        cn_buf_done(&out);
}

static void check_exclusive_put(CnBackend *b, const char *ns) {
        char name[NAME_LEN];

        name_at(name, ns, "locks/excl");
        cr_assert_eq(cn_backend_put(b, name, "first", 5, CN_PUT_EXCLUSIVE), 0);
        cr_assert_eq(cn_backend_put(b, name, "second!", 7, CN_PUT_EXCLUSIVE), -EEXIST);
        assert_content(b, name, "first", 5);
        cr_assert_eq(cn_backend_put(b, name, "", 0, CN_PUT_EXCLUSIVE), -EEXIST);
        assert_content(b, name, "first", 5);
}

static void check_replace(CnBackend *b, const char *ns) {
        char name[NAME_LEN];
        uint64_t size;

        name_at(name, ns, "replaced");
        cr_assert_eq(cn_backend_put(b, name, "old contents", 12, 0), 0);
        cr_assert_eq(cn_backend_put(b, name, "new", 3, 0), 0);
        assert_content(b, name, "new", 3);
        cr_assert_eq(cn_backend_stat(b, name, &size), 0);
        cr_assert_eq(size, 3);
}

static void check_stat_sizes(CnBackend *b, const char *ns) {
        static const size_t sizes[] = {0, 1, 4097, 65536};
        static uint8_t p[65536];
        char name[NAME_LEN], rel[32];
        uint64_t size = 12345;

        for (size_t i = 0; i < CN_ELEMENTSOF(sizes); i++) {
                snprintf(rel, sizeof rel, "st/%zu", sizes[i]);
                put_ok(b, ns, rel, p, sizes[i]);
                name_at(name, ns, rel);
                cr_assert_eq(cn_backend_stat(b, name, &size), 0);
                cr_assert_eq(size, sizes[i]);
        }
        name_at(name, ns, "st/absent");
        size = 12345;
        cr_assert_eq(cn_backend_stat(b, name, &size), -ENOENT);
        cr_assert_eq(size, 12345, "ret_size written on failure");
}

static void check_list_by_prefix(CnBackend *b, const char *ns) {
        /* clang-format off */
        static const char *const all[] = {
                "config",
                "snapshots/ab01",
                "snapshots/ab02",
                "snapshots/ac03",
                "data/c1/aa/pack1",
                "data/c1/aa/pack2",
                "data/c1/bb/pack3",
                "data/c2/pack4",
                "data-old",
        };
        /* clang-format on */
        for (size_t i = 0; i < CN_ELEMENTSOF(all); i++)
                put_ok(b, ns, all[i], all[i], strlen(all[i]));

        assert_list(b, ns, "", all, CN_ELEMENTSOF(all));
        assert_list(b, ns, "data/",
                    (const char *const[]){"data/c1/aa/pack1", "data/c1/aa/pack2", "data/c1/bb/pack3", "data/c2/pack4"},
                    4);
        assert_list(b, ns, "data",
                    (const char *const[]){"data/c1/aa/pack1", "data/c1/aa/pack2", "data/c1/bb/pack3", "data/c2/pack4",
                                          "data-old"},
                    5);
        assert_list(b, ns, "data/c1/aa/", (const char *const[]){"data/c1/aa/pack1", "data/c1/aa/pack2"}, 2);
        assert_list(b, ns, "data/c1/aa/pack1", (const char *const[]){"data/c1/aa/pack1"}, 1);
        assert_list(b, ns, "snapshots/ab", (const char *const[]){"snapshots/ab01", "snapshots/ab02"}, 2);
        assert_list(b, ns, "snapshots/", (const char *const[]){"snapshots/ab01", "snapshots/ab02", "snapshots/ac03"},
                    3);
        assert_list(b, ns, "snapshots/zz", NULL, 0);
        assert_list(b, ns, "nothere/", NULL, 0);
        assert_list(b, ns, "config/", NULL, 0);

        /* sizes come with the names */
        char full[NAME_LEN];
        Listing l = {0};
        name_at(full, ns, "snapshots/ac");
        cr_assert_eq(cn_backend_list(b, full, collect, &l), 0);
        cr_assert_eq(l.n, 1);
        cr_assert_eq(l.sizes[0], strlen("snapshots/ac03"));
        listing_done(&l);
}

static int stop_at_first(const char *name, uint64_t size, void *userdata) {
        (*(int *) userdata)++;
        return -ECANCELED;
}

static void check_list_stops_on_callback_error(CnBackend *b, const char *ns) {
        int calls = 0;

        put_ok(b, ns, "s/1", "a", 1);
        put_ok(b, ns, "s/2", "b", 1);
        put_ok(b, ns, "s/3", "c", 1);
        cr_assert_eq(cn_backend_list(b, ns, stop_at_first, &calls), -ECANCELED);
        cr_assert_eq(calls, 1);
}

static void check_remove(CnBackend *b, const char *ns) {
        char name[NAME_LEN];
        uint64_t size;
        CnBuf out;

        put_ok(b, ns, "gone/soon", "x", 1);
        put_ok(b, ns, "gone/stays", "y", 1);
        name_at(name, ns, "gone/soon");
        cr_assert_eq(cn_backend_remove(b, name), 0);

        cn_buf_init(&out, 1024);
        cr_assert_eq(cn_backend_get(b, name, 0, CN_GET_ALL, &out), -ENOENT);
        cn_buf_done(&out);
        cr_assert_eq(cn_backend_stat(b, name, &size), -ENOENT);
        cr_assert_eq(cn_backend_remove(b, name), -ENOENT);
        assert_list(b, ns, "gone/", (const char *const[]){"gone/stays"}, 1);

        name_at(name, ns, "never/was/here");
        cr_assert_eq(cn_backend_remove(b, name), -ENOENT);
        /* a name can come back after removal */
        put_ok(b, ns, "gone/soon", "z", 1);
        name_at(name, ns, "gone/soon");
        assert_content(b, name, "z", 1);
}

static void check_get_absent(CnBackend *b, const char *ns) {
        char name[NAME_LEN];
        CnBuf out;

        cn_buf_init(&out, 1024);
        name_at(name, ns, "absent");
        cr_assert_eq(cn_backend_get(b, name, 0, CN_GET_ALL, &out), -ENOENT);
        name_at(name, ns, "no/such/dir/absent");
        cr_assert_eq(cn_backend_get(b, name, 0, 1, &out), -ENOENT);
        cn_buf_done(&out);
}

static void check_invalid_names(CnBackend *b, const char *ns) {
        static const char *const bad[] = {
                "",       "/abs", "a//b", "a/",   "//",  ".",    "..",          "./a", "a/.",       "a/./b",
                "a/../b", "../a", "a b",  "a\\b", "a:b", "a\nb", "caf\xc3\xa9", "a*",  ".tmp-1234", "d/.tmp-x",
        };
        char name[NAME_LEN];
        CnBuf out;
        uint64_t size;

        cn_buf_init(&out, 1024);
        for (size_t i = 0; i < CN_ELEMENTSOF(bad); i++) {
                cr_assert_eq(cn_backend_put(b, bad[i], "x", 1, 0), -EINVAL, "put \"%s\"", bad[i]);
                cr_assert_eq(cn_backend_put(b, bad[i], "x", 1, CN_PUT_EXCLUSIVE), -EINVAL);
                cr_assert_eq(cn_backend_get(b, bad[i], 0, CN_GET_ALL, &out), -EINVAL, "get \"%s\"", bad[i]);
                cr_assert_eq(cn_backend_stat(b, bad[i], &size), -EINVAL, "stat \"%s\"", bad[i]);
                cr_assert_eq(cn_backend_remove(b, bad[i]), -EINVAL, "remove \"%s\"", bad[i]);
                cr_assert_str_neq(cn_backend_last_error(), "");
        }
        cr_assert_eq(cn_backend_put(b, NULL, "x", 1, 0), -EINVAL);

        char longname[CN_BACKEND_NAME_MAX + 2];
        memset(longname, 'a', sizeof longname - 1);
        longname[sizeof longname - 1] = 0;
        cr_assert_eq(cn_backend_put(b, longname, "x", 1, 0), -EINVAL);

        /* prefixes: "" and a partial last segment are fine, the rest is not */
        static const char *const bad_prefix[] = {"/", "/a", "a//", "../", "a/../", "./", "a b", ".tmp-"};
        Listing l = {0};
        for (size_t i = 0; i < CN_ELEMENTSOF(bad_prefix); i++)
                cr_assert_eq(cn_backend_list(b, bad_prefix[i], collect, &l), -EINVAL, "list \"%s\"", bad_prefix[i]);
        cr_assert_eq(l.n, 0);

        /* nothing got stored under any of them */
        name_at(name, ns, "");
        cr_assert_eq(cn_backend_list(b, name, collect, &l), 0);
        cr_assert_eq(l.n, 0);
        cn_buf_done(&out);
}

typedef struct Racer {
        CnBackend *b;
        const char *ns;
        pthread_barrier_t *start;
        unsigned id;
        int result;
        int failures;
} Racer;

static void *race_exclusive(void *userdata) {
        Racer *r = userdata;
        char name[NAME_LEN], content[32];

        snprintf(name, sizeof name, "%srace/new/dir/lock", r->ns);
        int n = snprintf(content, sizeof content, "writer %u", r->id);
        pthread_barrier_wait(r->start);
        r->result = cn_backend_put(r->b, name, content, (size_t) n, CN_PUT_EXCLUSIVE);
        return NULL;
}

static void check_concurrent_exclusive_one_wins(CnBackend *b, const char *ns) {
        pthread_barrier_t start;
        pthread_t t[N_THREADS];
        Racer r[N_THREADS];
        unsigned winner = 0, wins = 0;

        if (!(cn_backend_caps(b) & CN_BACKEND_CAP_EXCLUSIVE_PUT)) {
                /* the backend says it cannot promise this (e.g. an S3-compatible
                 * server that refuses conditional PUTs): nothing to hold it to */
                cr_log_info("%s lacks CN_BACKEND_CAP_EXCLUSIVE_PUT: race not checked", cn_backend_url(b));
                return;
        }

        pthread_barrier_init(&start, NULL, N_THREADS);
        for (unsigned i = 0; i < N_THREADS; i++) {
                r[i] = (Racer){.b = b, .ns = ns, .start = &start, .id = i};
                cr_assert_eq(pthread_create(&t[i], NULL, race_exclusive, &r[i]), 0);
        }
        for (unsigned i = 0; i < N_THREADS; i++)
                pthread_join(t[i], NULL);
        pthread_barrier_destroy(&start);

        for (unsigned i = 0; i < N_THREADS; i++) {
                if (r[i].result == 0) {
                        wins++;
                        winner = i;
                } else
                        cr_assert_eq(r[i].result, -EEXIST, "writer %u: %d", i, r[i].result);
        }
        cr_assert_eq(wins, 1, "%u writers won", wins);

        char name[NAME_LEN], content[32];
        name_at(name, ns, "race/new/dir/lock");
        int n = snprintf(content, sizeof content, "writer %u", winner);
        assert_content(b, name, content, (size_t) n);
        assert_list(b, ns, "race/", (const char *const[]){"race/new/dir/lock"}, 1);
}

#define DISTINCT_PER_THREAD 16

static void *race_distinct(void *userdata) {
        Racer *r = userdata;
        char name[NAME_LEN], content[32];

        pthread_barrier_wait(r->start);
        for (unsigned j = 0; j < DISTINCT_PER_THREAD; j++) {
                /* all threads race to make the same fresh directories */
                snprintf(name, sizeof name, "%sdistinct/%02x/t%u-%u", r->ns, j % 4, r->id, j);
                int n = snprintf(content, sizeof content, "%u/%u", r->id, j);
                if (cn_backend_put(r->b, name, content, (size_t) n, j % 2 ? CN_PUT_EXCLUSIVE : 0) < 0)
                        r->failures++;
        }
        return NULL;
}

static void check_concurrent_distinct_all_land(CnBackend *b, const char *ns) {
        pthread_barrier_t start;
        pthread_t t[N_THREADS];
        Racer r[N_THREADS];

        pthread_barrier_init(&start, NULL, N_THREADS);
        for (unsigned i = 0; i < N_THREADS; i++) {
                r[i] = (Racer){.b = b, .ns = ns, .start = &start, .id = i};
                cr_assert_eq(pthread_create(&t[i], NULL, race_distinct, &r[i]), 0);
        }
        for (unsigned i = 0; i < N_THREADS; i++)
                pthread_join(t[i], NULL);
        pthread_barrier_destroy(&start);
        for (unsigned i = 0; i < N_THREADS; i++)
                cr_assert_eq(r[i].failures, 0, "writer %u: %d puts failed", i, r[i].failures);

        char full[NAME_LEN], name[NAME_LEN], content[32];
        Listing l = {0};
        name_at(full, ns, "distinct/");
        cr_assert_eq(cn_backend_list(b, full, collect, &l), 0);
        cr_assert_eq(l.n, N_THREADS * DISTINCT_PER_THREAD);
        listing_done(&l);
        for (unsigned i = 0; i < N_THREADS; i++)
                for (unsigned j = 0; j < DISTINCT_PER_THREAD; j++) {
                        snprintf(name, sizeof name, "%sdistinct/%02x/t%u-%u", ns, j % 4, i, j);
                        int n = snprintf(content, sizeof content, "%u/%u", i, j);
                        assert_content(b, name, content, (size_t) n);
                }
}

typedef void (*CheckFn)(CnBackend *b, const char *ns);

static const struct {
        const char *name;
        CheckFn fn;
} contract[] = {
        {"round_trip", check_round_trip},
        {"ranged_get", check_ranged_get},
        {"get_respects_buffer_cap", check_get_respects_buffer_cap},
        {"exclusive_put", check_exclusive_put},
        {"replace", check_replace},
        {"stat_sizes", check_stat_sizes},
        {"list_by_prefix", check_list_by_prefix},
        {"list_stops_on_callback_error", check_list_stops_on_callback_error},
        {"remove", check_remove},
        {"get_absent", check_get_absent},
        {"invalid_names", check_invalid_names},
        {"concurrent_exclusive_one_wins", check_concurrent_exclusive_one_wins},
        {"concurrent_distinct_all_land", check_concurrent_distinct_all_land},
};

/* ---- fixtures --------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -1 : 0;
}

/* A fresh directory; *ret_dir is malloc'd. */
static char *make_tmpdir(void) {
        const char *t = getenv("TMPDIR");
        char *dir = NULL;
        cr_assert(asprintf(&dir, "%s/cairn-test-backend-XXXXXX", t && *t ? t : "/tmp") > 0);
        cr_assert_not_null(mkdtemp(dir));
        return dir;
}

static void rm_rf(char *dir) {
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(dir);
}

static size_t contract_index[CN_ELEMENTSOF(contract)];

static struct criterion_test_params contract_params(void) {
        for (size_t i = 0; i < CN_ELEMENTSOF(contract); i++)
                contract_index[i] = i;
        return cr_make_param_array(size_t, contract_index, CN_ELEMENTSOF(contract));
}

ParameterizedTestParameters(backend_local, contract) {
        return contract_params();
}

/* Each check on a fresh local repository: once with names at the top, as
 * the repository layout has them, once below a namespace as a shared remote
 * run would. */
ParameterizedTest(size_t *i, backend_local, contract) {
        static const char *const namespaces[] = {"", "ns-1/"};

        for (size_t k = 0; k < CN_ELEMENTSOF(namespaces); k++) {
                char *dir = make_tmpdir();
                CnBackend *b = NULL;
                cr_log_info("local contract check %s (ns \"%s\")", contract[*i].name, namespaces[k]);
                cr_assert_eq(cn_backend_open(dir, false, &b), 0);
                contract[*i].fn(b, namespaces[k]);
                cn_backend_close(b);
                rm_rf(dir);
        }
}

static int remove_each(const char *name, uint64_t size, void *userdata) {
        CnBackend *b = userdata;
        int r = cn_backend_remove(b, name);
        return r == -ENOENT ? 0 : r;
}

ParameterizedTestParameters(backend_url, contract) {
        return contract_params();
}

/* The same checks against CAIRN_TEST_BACKEND_URL, each below a random
 * namespace that it cleans up. */
ParameterizedTest(size_t *i, backend_url, contract) {
        const char *url = getenv("CAIRN_TEST_BACKEND_URL");
        uint8_t rnd[6];
        char ns[64];
        CnBackend *b = NULL;

        if (!url || !*url)
                cr_skip_test("CAIRN_TEST_BACKEND_URL not set");
        cr_assert_eq(getrandom(rnd, sizeof rnd, 0), (ssize_t) sizeof rnd);
        snprintf(ns, sizeof ns, "cairn-test-%02x%02x%02x%02x%02x%02x/", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
        cr_log_info("contract check %s on %s (ns \"%s\")", contract[*i].name, url, ns);
        int r = cn_backend_open(url, true, &b);
        cr_assert_eq(r, 0, "open %s: %d %s", url, r, cn_backend_last_error());
        contract[*i].fn(b, ns);
        cr_assert_eq(cn_backend_list(b, ns, remove_each, b), 0);
        cn_backend_close(b);
}

/* ---- the local backend and URL parsing -------------------------------- */

Test(backend_local, open_missing_dir_without_create_is_enoent) {
        char *dir = make_tmpdir();
        char *missing = NULL;
        CnBackend *b = NULL;

        cr_assert(asprintf(&missing, "%s/not/there", dir) > 0);
        cr_assert_eq(cn_backend_open(missing, false, &b), -ENOENT);
        cr_assert_null(b);
        free(missing);
        rm_rf(dir);
}

Test(backend_local, open_create_makes_private_nested_dir) {
        char *dir = make_tmpdir();
        char *repo = NULL;
        CnBackend *b = NULL;
        struct stat st;

        cr_assert(asprintf(&repo, "%s/a/b/repo", dir) > 0);
        cr_assert_eq(cn_backend_open(repo, true, &b), 0);
        cr_assert_eq(stat(repo, &st), 0);
        cr_assert(S_ISDIR(st.st_mode));
        cr_assert_eq(st.st_mode & 0077, 0);
        cn_backend_close(b);

        /* again on the existing (now non-empty) directory: fine at this layer */
        cr_assert_eq(cn_backend_open(repo, true, &b), 0);
        cr_assert_eq(cn_backend_put(b, "config", "c", 1, 0), 0);
        cn_backend_close(b);
        cr_assert_eq(cn_backend_open(repo, true, &b), 0);
        cn_backend_close(b);
        cr_assert_eq(cn_backend_open(repo, false, &b), 0);
        assert_content(b, "config", "c", 1);
        cn_backend_close(b);

        /* a file in the way */
        char *file = NULL;
        cr_assert(asprintf(&file, "%s/file", dir) > 0);
        cr_assert_eq(cn_write_file_atomic_at(AT_FDCWD, file, "x", 1, 0600, 0), 0);
        cr_assert_eq(cn_backend_open(file, false, &b), -ENOENT);
        cr_assert_eq(cn_backend_open(file, true, &b), -EEXIST);
        free(file);
        free(repo);
        rm_rf(dir);
}

Test(backend_local, objects_are_private_files) {
        char *dir = make_tmpdir();
        char *path = NULL;
        CnBackend *b = NULL;
        struct stat st;

        cr_assert_eq(cn_backend_open(dir, false, &b), 0);
        cr_assert_eq(cn_backend_put(b, "data/ab/obj", "x", 1, 0), 0);
        cr_assert(asprintf(&path, "%s/data/ab/obj", dir) > 0);
        cr_assert_eq(stat(path, &st), 0);
        cr_assert(S_ISREG(st.st_mode));
        cr_assert_eq(st.st_mode & 0077, 0);
        cn_backend_close(b);
        free(path);
        rm_rf(dir);
}

Test(backend_url, schemes_pick_backends) {
        static const char *const unsupported[] = {
                "ftp://host/repo",
        };
        char *dir = make_tmpdir();
        char *url = NULL;
        CnBackend *b = NULL;

        for (size_t i = 0; i < CN_ELEMENTSOF(unsupported); i++) {
                cr_assert_eq(cn_backend_open(unsupported[i], true, &b), -EOPNOTSUPP, "%s", unsupported[i]);
                cr_assert_null(b);
        }
        cr_assert_eq(cn_backend_open("", true, &b), -EINVAL);
        cr_assert_eq(cn_backend_open("local:", true, &b), -EINVAL);

        /* "local:/path" */
        cr_assert(asprintf(&url, "local:%s", dir) > 0);
        cr_assert_eq(cn_backend_open(url, false, &b), 0);
        cr_assert_str_eq(cn_backend_url(b), url);
        cr_assert_eq(cn_backend_caps(b),
                     CN_BACKEND_CAP_EXCLUSIVE_PUT | CN_BACKEND_CAP_RANGED_GET | CN_BACKEND_CAP_ATOMIC_PUT);
        cr_assert_eq(cn_backend_put(b, "config", "via-url", 7, 0), 0);
        b = cn_backend_close(b);
        cr_assert_null(b);
        cr_assert_null(cn_backend_close(NULL));

        /* a plain absolute path names the same repository */
        cr_assert_eq(cn_backend_open(dir, false, &b), 0);
        cr_assert_str_eq(cn_backend_url(b), dir);
        assert_content(b, "config", "via-url", 7);
        b = cn_backend_close(b);

        /* relative paths, including one with a ':' that is no scheme */
        cr_assert_eq(chdir(dir), 0);
        cr_assert_eq(cn_backend_open("rel/repo", true, &b), 0);
        cr_assert_eq(cn_backend_put(b, "config", "rel", 3, 0), 0);
        b = cn_backend_close(b);
        cr_assert_eq(cn_backend_open("local:rel/repo", false, &b), 0);
        assert_content(b, "config", "rel", 3);
        b = cn_backend_close(b);
        cr_assert_eq(cn_backend_open("odd:name", true, &b), 0);
        b = cn_backend_close(b);
        struct stat st;
        cr_assert_eq(stat("odd:name", &st), 0);
        cr_assert(S_ISDIR(st.st_mode));

        free(url);
        rm_rf(dir);
}

static void touch_at(const char *dir, const char *rel, time_t age) {
        char *path = NULL;
        cr_assert(asprintf(&path, "%s/%s", dir, rel) > 0);
        cr_assert_eq(cn_write_file_atomic_at(AT_FDCWD, path, "partial", 7, 0600, 0), 0);
        if (age > 0) {
                struct timespec ts[2] = {
                        {.tv_sec = time(NULL) - age},
                        {.tv_sec = time(NULL) - age},
                };
                cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
        }
        free(path);
}

static bool exists_at(const char *dir, const char *rel) {
        char *path = NULL;
        struct stat st;
        cr_assert(asprintf(&path, "%s/%s", dir, rel) > 0);
        bool r = stat(path, &st) == 0;
        free(path);
        return r;
}

Test(backend_local, list_skips_temporaries_and_reaps_stale_ones) {
        char *dir = make_tmpdir();
        CnBackend *b = NULL;

        cr_assert_eq(cn_backend_open(dir, false, &b), 0);
        cr_assert_eq(cn_backend_put(b, "config", "c", 1, 0), 0);
        cr_assert_eq(cn_backend_put(b, "data/ab/pack", "p", 1, 0), 0);
        /* what interrupted writers leave behind */
        touch_at(dir, ".tmp-fresh0000000000", 0);
        touch_at(dir, "data/ab/.tmp-fresh1111111111", 60);
        touch_at(dir, "data/ab/.tmp-stale2222222222", CN_BACKEND_TMP_MAX_AGE_SEC + 60);
        touch_at(dir, ".tmp-stale3333333333", 2 * CN_BACKEND_TMP_MAX_AGE_SEC);

        assert_list(b, "", "", (const char *const[]){"config", "data/ab/pack"}, 2);
        assert_list(b, "", "data/ab/", (const char *const[]){"data/ab/pack"}, 1);
        cr_assert(exists_at(dir, ".tmp-fresh0000000000"));
        cr_assert(exists_at(dir, "data/ab/.tmp-fresh1111111111"));
        cr_assert(!exists_at(dir, "data/ab/.tmp-stale2222222222"));
        cr_assert(!exists_at(dir, ".tmp-stale3333333333"));

        /* a put leaves no temporary behind */
        Listing l = {0};
        cr_assert_eq(cn_backend_put(b, "data/ab/pack", "q", 1, CN_PUT_EXCLUSIVE), -EEXIST);
        cr_assert_eq(cn_backend_list(b, "", collect, &l), 0);
        cr_assert_eq(l.n, 2);
        listing_done(&l);
        cn_backend_close(b);
        rm_rf(dir);
}

/* Issue 8, item 16: reap removes stale temporaries in every directory, not
 * only where a listing walks (the root, data/, a pack directory), keeps
 * fresh ones, and keeps a stale one a live writer holds locked. */
Test(backend_local, reap_removes_stale_temporaries_everywhere_but_locked_ones) {
        char *dir = make_tmpdir(), *path = NULL;
        CnBackend *b = NULL;
        static const char *const stale[] = { ".tmp-root000000000", "data/.tmp-data00000000",
                                             "data/c/ab/.tmp-pack00000000", "keys/.tmp-keys00000000" };

        cr_assert_eq(cn_backend_open(dir, false, &b), 0);
        cr_assert_eq(cn_backend_put(b, "data/c/ab/pack", "p", 1, 0), 0);
        cr_assert_eq(cn_backend_put(b, "keys/k", "k", 1, 0), 0);
        for (size_t i = 0; i < CN_ELEMENTSOF(stale); i++)
                touch_at(dir, stale[i], CN_BACKEND_TMP_MAX_AGE_SEC + 60);
        touch_at(dir, "data/c/ab/.tmp-fresh0000000000", CN_BACKEND_TMP_MAX_AGE_SEC - 60);
        touch_at(dir, "data/.tmp-locked000000000", 2 * CN_BACKEND_TMP_MAX_AGE_SEC);
        cr_assert(asprintf(&path, "%s/data/.tmp-locked000000000", dir) > 0);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);  /* a writer, stopped for days */

        cr_assert_eq(cn_backend_reap(b), 0);
        for (size_t i = 0; i < CN_ELEMENTSOF(stale); i++)
                cr_assert(!exists_at(dir, stale[i]), "%s is still there", stale[i]);
        cr_assert(exists_at(dir, "data/c/ab/.tmp-fresh0000000000"));
        cr_assert(exists_at(dir, "data/.tmp-locked000000000"));
        cr_assert(exists_at(dir, "data/c/ab/pack"));
        cr_assert(exists_at(dir, "keys/k"));

        close(fd);      /* the writer died: now it goes */
        cr_assert_eq(cn_backend_reap(b), 0);
        cr_assert(!exists_at(dir, "data/.tmp-locked000000000"));
        free(path);
        cn_backend_close(b);
        rm_rf(dir);
}

Test(backend_local, directories_are_not_objects) {
        char *dir = make_tmpdir();
        CnBackend *b = NULL;
        CnBuf out;
        uint64_t size;

        cn_buf_init(&out, 1024);
        cr_assert_eq(cn_backend_open(dir, false, &b), 0);
        cr_assert_eq(cn_backend_put(b, "d/x", "x", 1, 0), 0);
        cr_assert_eq(cn_backend_get(b, "d", 0, CN_GET_ALL, &out), -ENOENT);
        cr_assert_eq(cn_backend_stat(b, "d", &size), -ENOENT);
        cr_assert_eq(cn_backend_remove(b, "d"), -ENOENT);
        /* "d/x" and "d/x/y" cannot both exist on a file system */
        cr_assert_eq(cn_backend_put(b, "d/x/y", "y", 1, 0), -EEXIST);
        cr_assert_eq(cn_backend_put(b, "d", "d", 1, 0), -EEXIST);
        cr_assert_eq(cn_backend_get(b, "d/x/y", 0, CN_GET_ALL, &out), -ENOENT);
        assert_content(b, "d/x", "x", 1);
        /* removing the last object keeps its directory, which lists nothing */
        cr_assert_eq(cn_backend_remove(b, "d/x"), 0);
        assert_list(b, "", "", NULL, 0);
        cr_assert(exists_at(dir, "d"));
        cn_buf_done(&out);
        cn_backend_close(b);
        rm_rf(dir);
}
