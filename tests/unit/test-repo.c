/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Opening and creating a repository in a hostile location: bad key files,
 * stray controller records, a lost config, racing inits (issue 8, items 1,
 * 8, 9 and 10). */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "hex.h"
#include "repo.h"

static char dir[64], dir2[64];
static CnBackend *backend, *backend2;
static const CnRepoInitOptions fast = { .kdf = { 1, 8192 } };   /* tests need no brute-force resistance */

static void setup(void) {
        cr_assert_eq(cn_crypto_init(), 0);
        snprintf(dir, sizeof dir, "/tmp/cairn-test-repo.XXXXXX");
        snprintf(dir2, sizeof dir2, "/tmp/cairn-test-repo2.XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        cr_assert_not_null(mkdtemp(dir2));
        cr_assert_eq(cn_backend_open(dir, true, &backend), 0);
        cr_assert_eq(cn_backend_open(dir2, true, &backend2), 0);
}

static void teardown(void) {
        char cmd[160];
        cn_backend_close(backend);
        cn_backend_close(backend2);
        snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, dir2);
        cr_assert_eq(system(cmd), 0);
}

TestSuite(repo_hostile, .init = setup, .fini = teardown);

/* What an open reported, by kind. */
typedef struct Reports {
        unsigned n[CN_REPO_CONTROLLER_NO_KEY + 1];
        char objects[16][64];
        size_t n_objects;
} Reports;

static void collect(const CnRepoProblem *p, void *u) {
        Reports *r = u;
        r->n[p->kind]++;
        if (r->n_objects < 16)
                snprintf(r->objects[r->n_objects++], sizeof r->objects[0], "%s", p->object);
}

static bool reported(const Reports *r, const char *object) {
        for (size_t i = 0; i < r->n_objects; i++)
                if (strcmp(r->objects[i], object) == 0)
                        return true;
        return false;
}

static int open_reporting(CnBackend *b, const char *pw, const char *hint, Reports *rep, CnRepo **ret) {
        CnRepoOpenOptions o = { .key_hint = hint, .on_problem = collect, .userdata = rep };
        *rep = (Reports) {};
        return cn_repo_open_with(b, pw, strlen(pw), &o, ret);
}

static void only_key_name(CnBackend *b, char *out, size_t n) {
        CnNames l = {};
        cr_assert_eq(cn_backend_list_names(b, "keys/", &l), 0);
        cr_assert_eq(l.n, 1);
        snprintf(out, n, "%s", l.v[0]);
        cn_names_done(&l);
}

static void get(CnBackend *b, const char *name, CnBuf *out) {
        cr_assert_eq(cn_backend_get(b, name, 0, CN_GET_ALL, out), 0, "get %s", name);
}

static void put(CnBackend *b, const char *name, const void *p, size_t n) {
        cr_assert_eq(cn_backend_put(b, name, p, n, 0), 0, "put %s", name);
}

Test(repo_hostile, item8_new_keys_outside_the_cost_caps_are_refused) {
        static const CnKdfParams bad[] = {
                { 0, 8192 }, { 17, 8192 }, { 1, 4096 }, { 1, (1ull << 30) + 1024 }, { 64, 4ull << 30 },
        };
        CnRepo *r;
        char id[CN_UUID_HEX + 1];
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                CnRepoInitOptions o = { .kdf = bad[i] };
                cr_assert_eq(cn_repo_init(backend, "pw", 2, &o, &r), -ERANGE, "init with %lu x %lu",
                             (unsigned long) bad[i].opslimit, (unsigned long) bad[i].memlimit);
        }
        CnNames l = {};
        cr_assert_eq(cn_backend_list_names(backend, "", &l), 0);
        cr_assert_eq(l.n, 0, "a refused init wrote %s", l.n ? l.v[0] : "");
        cn_names_done(&l);
        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &r), 0);
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
                cr_assert_eq(cn_repo_key_add(r, "x", 1, NULL, &bad[i], id), -ERANGE);
        cr_assert_eq(cn_repo_key_passwd(r, "x", 1, &bad[0]), -ERANGE);
        cn_repo_unref(r);
}

/* Each bad key file sorts before the real one; none may cost anything or
 * stop the real one from opening; each is reported once, by name. */
Test(repo_hostile, item8_bad_key_files_are_skipped_and_reported_before_any_derivation) {
        CnRepo *r;
        Reports rep;
        char real[64];
        CnBuf kf = CN_BUF_INIT(1u << 20);
        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &r), 0);
        cn_repo_unref(r);
        only_key_name(backend, real, sizeof real);
        get(backend, real, &kf);
        cr_assert_lt(kf.len, 200);
        uint8_t k[8192];

        memcpy(k, kf.data, kf.len);
        cn_le32_put(k + 8, 2);                     /* version 2 */
        put(backend, "keys/00000000000000000000000000000001", k, kf.len);
        memcpy(k, kf.data, kf.len);
        cn_le64_put(k + 16, 0);                    /* opslimit 0 */
        put(backend, "keys/00000000000000000000000000000002", k, kf.len);
        memcpy(k, kf.data, kf.len);
        cn_le64_put(k + 24, 0);                    /* memlimit 0 */
        put(backend, "keys/00000000000000000000000000000003", k, kf.len);
        memcpy(k, kf.data, kf.len);
        cn_le64_put(k + 16, 64);                   /* 4 GiB x 64 passes: minutes and 4 GiB each */
        cn_le64_put(k + 24, 4ull << 30);
        put(backend, "keys/00000000000000000000000000000004", k, kf.len);
        memcpy(k, kf.data, kf.len);
        cn_le64_put(k + 16, 17);                   /* just over the caps */
        put(backend, "keys/00000000000000000000000000000005", k, kf.len);
        memcpy(k, kf.data, kf.len);
        cn_le64_put(k + 24, (1ull << 30) + 1024);
        put(backend, "keys/00000000000000000000000000000006", k, kf.len);
        memset(k, 0, sizeof k);
        memcpy(k, kf.data, kf.len);
        put(backend, "keys/00000000000000000000000000000007", k, 5120);        /* over 4 KiB */
        put(backend, "keys/00000000000000000000000000000008", k, kf.len + 1);  /* a trailing byte */
        put(backend, "keys/00000000000000000000000000000009", kf.data, 40);    /* cut short */
        put(backend, "keys/0000000000000000000000000000000a", "garbage", 7);
        memcpy(k, kf.data, kf.len);
        cn_le32_put(k + 12, 2);                    /* kdf 2 */
        put(backend, "keys/0000000000000000000000000000000b", k, kf.len);
        put(backend, "keys/README", kf.data, kf.len);       /* a real key file under another name */

        cr_assert_eq(open_reporting(backend, "pw", NULL, &rep, &r), 0);
        cr_assert_eq(rep.n_objects, 12);
        cr_assert_eq(rep.n[CN_REPO_KEY_UNKNOWN_VERSION], 2);
        cr_assert_eq(rep.n[CN_REPO_KEY_COST], 5);
        cr_assert_eq(rep.n[CN_REPO_KEY_OVERSIZED], 1);
        cr_assert_eq(rep.n[CN_REPO_KEY_MALFORMED], 4);
        cr_assert(reported(&rep, "keys/00000000000000000000000000000004"));
        cr_assert(!reported(&rep, real));
        size_t n;
        const CnRepoProblem *p = cn_repo_problems(r, &n);
        cr_assert_eq(n, 12, "check sees what the open skipped");
        for (size_t i = 0; i < n; i++)
                if (p[i].kind == CN_REPO_KEY_OVERSIZED)
                        cr_assert_eq(p[i].size, 5120);
        cn_repo_unref(r);

        /* A wrong password: every usable key tried, the bad ones still only reported. */
        cr_assert_eq(open_reporting(backend, "wrong", NULL, &rep, &r), -EKEYREJECTED);
        cr_assert_eq(rep.n_objects, 12);
        cn_buf_done(&kf);
}

/* Key files of another repository that open with the same password: the
 * order in which they are tried shows in what is reported, since only a
 * key tried before the real one can be found foreign. */
Test(repo_hostile, item8_keys_are_tried_cheapest_first_and_the_hint_first_of_all) {
        static const CnKdfParams cheap = { 1, 8192 }, dear = { 3, 65536 };
        const CnRepoInitOptions mid = { .kdf = { 2, 16384 } };
        CnRepo *r, *other;
        Reports rep;
        char id[CN_UUID_HEX + 1], name[64];
        CnBuf kf = CN_BUF_INIT(1u << 20);

        cr_assert_eq(cn_repo_init(backend, "pw", 2, &mid, &r), 0);
        cn_repo_unref(r);
        cr_assert_eq(cn_repo_init(backend2, "other", 5, &fast, &other), 0);
        cr_assert_eq(cn_repo_key_add(other, "pw", 2, "cheap", &cheap, id), 0);
        snprintf(name, sizeof name, "keys/%s", id);
        get(backend2, name, &kf);
        put(backend, "keys/ffffffffffffffffffffffffffffff01", kf.data, kf.len);
        cr_assert_eq(cn_repo_key_add(other, "pw", 2, "dear", &dear, id), 0);
        snprintf(name, sizeof name, "keys/%s", id);
        get(backend2, name, &kf);
        put(backend, "keys/00000000000000000000000000000001", kf.data, kf.len);
        cn_repo_unref(other);

        cr_assert_eq(open_reporting(backend, "pw", NULL, &rep, &r), 0);
        cr_assert_eq(rep.n[CN_REPO_KEY_OTHER_REPOSITORY], 1, "the cheap foreign key goes first, the dear one never");
        cr_assert(reported(&rep, "keys/ffffffffffffffffffffffffffffff01"));
        cn_repo_unref(r);

        cr_assert_eq(open_reporting(backend, "pw", "0000000000000000000000000000", &rep, &r), 0);
        cr_assert_eq(rep.n[CN_REPO_KEY_OTHER_REPOSITORY], 2, "the hinted key goes first, however dear");
        cr_assert(reported(&rep, "keys/00000000000000000000000000000001"));
        cn_repo_unref(r);

        /* A hint that names no key, or several: reported, and every key is tried. */
        cr_assert_eq(open_reporting(backend, "pw", "abcdef", &rep, &r), 0);
        cr_assert_eq(rep.n[CN_REPO_KEY_HINT_UNMATCHED], 1);
        size_t n;
        cn_repo_problems(r, &n);
        cr_assert_eq(n, 1, "a hint is not a problem of the repository");
        cn_repo_unref(r);
        cr_assert_eq(open_reporting(backend, "pw", "", &rep, &r), 0);
        cr_assert_eq(rep.n[CN_REPO_KEY_HINT_UNMATCHED], 1);
        cn_repo_unref(r);
        cn_buf_done(&kf);
}

/* A controller record of another repository, or one copied under another
 * controller's name, is skipped and reported; the repository still opens. */
Test(repo_hostile, item10_stray_controller_records_are_skipped) {
        CnRepo *r, *other;
        CnController *c;
        Reports rep;
        char name[64];
        CnBuf obj = CN_BUF_INIT(1u << 20);

        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &r), 0);
        cr_assert_eq(cn_repo_init(backend2, "pw", 2, &fast, &other), 0);
        c = cn_repo_controller(other, 0);
        snprintf(name, sizeof name, "controllers/%s", c->id_hex);
        get(backend2, name, &obj);
        put(backend, name, obj.data, obj.len);
        snprintf(name, sizeof name, "controllers/%s", cn_repo_controller(r, 0)->id_hex);
        get(backend, name, &obj);
        put(backend, "controllers/00000000000000000000000000000000", obj.data, obj.len);
        put(backend, "controllers/ffffffffffffffffffffffffffffffff", "junk", 4);
        cn_repo_unref(other);
        cn_repo_unref(r);

        cr_assert_eq(open_reporting(backend, "pw", NULL, &rep, &r), 0);
        cr_assert_eq(cn_repo_n_controllers(r), 1);
        cr_assert_str_eq(cn_repo_controller(r, 0)->name, "default");
        /* Another repository's version 2 record: this key store has no key for it. */
        cr_assert_eq(rep.n[CN_REPO_CONTROLLER_FOREIGN], 2);
        cr_assert_eq(rep.n[CN_REPO_CONTROLLER_NO_KEY], 1);
        cn_repo_unref(r);
        cn_buf_done(&obj);
}

Test(repo_hostile, item1_controllers_are_listed_in_order_of_id_and_a_shared_name_finds_none) {
        CnRepo *r;
        CnController *c;
        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &r), 0);
        for (int i = 0; i < 6; i++) {
                char n[16];
                snprintf(n, sizeof n, "c%d", i);
                cr_assert_eq(cn_repo_controller_add(r, n, NULL, &c), 0);
        }
        cn_repo_unref(r);
        cr_assert_eq(cn_repo_open(backend, "pw", 2, &r), 0);
        cr_assert_eq(cn_repo_n_controllers(r), 7);
        for (size_t i = 1; i < 7; i++)
                cr_assert_lt(strcmp(cn_repo_controller(r, i - 1)->id_hex, cn_repo_controller(r, i)->id_hex), 0);
        cn_repo_unref(r);

        /* Two records with one name (two 'controller add' at once): the name finds neither. */
        CnRepo *a, *b;
        CnController *ca, *cb;
        cr_assert_eq(cn_repo_open(backend, "pw", 2, &a), 0);
        cr_assert_eq(cn_repo_open(backend, "pw", 2, &b), 0);
        cr_assert_eq(cn_repo_controller_add(a, "twin", NULL, &ca), 0);
        cr_assert_eq(cn_repo_controller_add(b, "twin", NULL, &cb), 0);
        cn_repo_unref(a);
        cn_repo_unref(b);
        cr_assert_eq(cn_repo_open(backend, "pw", 2, &r), 0);
        cr_assert_null(cn_repo_find_controller(r, "twin"));
        cr_assert_not_null(cn_repo_find_controller(r, "c3"));
        cn_repo_unref(r);
}

Test(repo_hostile, item9_init_refuses_a_location_that_holds_anything) {
        CnRepo *r;
        CnBuf cfg = CN_BUF_INIT(1u << 20);
        CnNames before = {}, after = {};

        put(backend, "notes.txt", "x", 1);
        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &r), -ENOTEMPTY);
        cr_assert_eq(cn_backend_remove(backend, "notes.txt"), 0);
        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &r), 0, "an empty directory is fine");
        cn_repo_unref(r);

        /* A repository that lost its config: no init over it, and no "nothing here" either. */
        get(backend, "config", &cfg);
        cr_assert_eq(cn_backend_remove(backend, "config"), 0);
        put(backend, "snapshots/00000000000000000000000000000000/aa", "x", 1);
        cr_assert_eq(cn_backend_list_names(backend, "", &before), 0);
        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &r), -ENOTEMPTY);
        cr_assert_eq(cn_backend_list_names(backend, "", &after), 0);
        cr_assert_eq(after.n, before.n, "the refused init wrote something");
        cr_assert_eq(cn_repo_open(backend, "pw", 2, &r), -EUCLEAN);
        CnRepoLocation l;
        cr_assert_eq(cn_repo_probe(backend, &l), 0);
        cr_assert(!l.config);
        cr_assert_not_null(l.first[0]);         /* keys/ */
        cr_assert_not_null(l.first[1]);         /* controllers/ */
        cr_assert_null(l.first[2]);             /* data/ */
        cr_assert_not_null(l.any);
        cn_repo_location_done(&l);

        /* With config back, everything opens as before. */
        cr_assert_eq(cn_backend_remove(backend, "snapshots/00000000000000000000000000000000/aa"), 0);
        put(backend, "config", cfg.data, cfg.len);
        cr_assert_eq(cn_repo_open(backend, "pw", 2, &r), 0);
        cn_repo_unref(r);
        cr_assert_eq(cn_repo_open(backend2, "pw", 2, &r), -ENOENT, "an empty location is no repository");
        cn_names_done(&before);
        cn_names_done(&after);
        cn_buf_done(&cfg);
}

typedef struct Racer {
        const char *pw;
        int result;
        pthread_barrier_t *start;
} Racer;

static void *race_init(void *u) {
        Racer *x = u;
        CnRepo *r = NULL;
        pthread_barrier_wait(x->start);
        x->result = cn_repo_init(backend, x->pw, strlen(x->pw), &fast, &r);
        cn_repo_unref(r);
        return NULL;
}

/* Exactly one of two racing inits wins; its password opens the repository
 * with nothing skipped; the loser says so and leaves nothing behind. */
Test(repo_hostile, item10_of_two_racing_inits_exactly_one_wins, .timeout = 120) {
        for (int round = 0; round < 20; round++) {
                char cmd[128];
                pthread_barrier_t start;
                pthread_t t[2];
                Racer x[2] = { { .pw = "alpha" }, { .pw = "bravo" } };
                CnRepo *r;
                Reports rep;
                CnNames l = {};

                snprintf(cmd, sizeof cmd, "rm -rf '%s'/*", dir);
                cr_assert_eq(system(cmd), 0);
                pthread_barrier_init(&start, NULL, 2);
                for (int i = 0; i < 2; i++) {
                        x[i].start = &start;
                        cr_assert_eq(pthread_create(&t[i], NULL, race_init, &x[i]), 0);
                }
                for (int i = 0; i < 2; i++)
                        pthread_join(t[i], NULL);
                pthread_barrier_destroy(&start);
                int won = x[0].result == 0 ? 0 : 1;
                cr_assert_eq(x[won].result, 0, "round %d: %d %d", round, x[0].result, x[1].result);
                cr_assert(x[1 - won].result == -EBUSY || x[1 - won].result == -EEXIST, "round %d: loser %d", round,
                          x[1 - won].result);
                cr_assert_eq(open_reporting(backend, x[won].pw, NULL, &rep, &r), 0, "round %d", round);
                cr_assert_eq(rep.n_objects, 0, "round %d: %s skipped", round, rep.objects[0]);
                cn_repo_unref(r);
                cr_assert_eq(cn_repo_open(backend, x[1 - won].pw, 5, &r), -EKEYREJECTED);
                cr_assert_eq(cn_backend_list_names(backend, "keys/", &l), 0);
                cr_assert_eq(l.n, 1, "round %d: %zu key files", round, l.n);
                cn_names_done(&l);
                cr_assert_eq(cn_backend_list_names(backend, "controllers/", &l), 0);
                cr_assert_eq(l.n, 1, "round %d: %zu controller records", round, l.n);
                cn_names_done(&l);
        }
}

/* ---- issue 10: the key store (docs/FORMAT.md "Key store") ---- */

/* A version 2 repository's controllers open only with its key store: the
 * object is at <key store>/<repo>/<ctrl>, sealed (no key in the clear),
 * and another location, or the object gone, leaves nothing to open. */
Test(repo_hostile, keystore_holds_what_opens_a_controller) {
        CnRepo *r;
        CnRepoInitOptions o = fast;
        CnRepoOpenOptions oo = { .key_store = dir2 };
        char name[CN_KEYSTORE_NAME_MAX];
        CnBuf obj = CN_BUF_INIT(1u << 20);

        o.key_store = dir2;
        cr_assert_eq(cn_repo_init(backend, "pw", 2, &o, &r), 0);
        CnController *c = cn_repo_controller(r, 0);
        cr_assert_eq(c->format, 2);
        cr_assert_eq(c->epoch, 1);
        cn_keystore_name(cn_repo_id(r), c->id, name);
        get(backend2, name, &obj);
        cr_assert_null(memmem(obj.data, obj.len, c->epoch_key, CN_KEY_BYTES), "the epoch key is sealed");
        cn_repo_unref(r);

        cr_assert_eq(cn_repo_open_with(backend, "pw", 2, &oo, &r), 0);
        cn_repo_unref(r);
        Reports rep = {};
        CnRepoOpenOptions elsewhere = { .key_store = "/nonexistent/cairn-keystore", .on_problem = collect,
                                        .userdata = &rep };
        cr_assert_eq(cn_repo_open_with(backend, "pw", 2, &elsewhere, &r), -ENOKEY);
        cr_assert_eq(rep.n[CN_REPO_CONTROLLER_NO_KEY], 1);
        cr_assert_eq(cn_backend_remove(backend2, name), 0);
        cr_assert_eq(cn_repo_open_with(backend, "pw", 2, &oo, &r), -ENOKEY);
        cn_buf_done(&obj);
}

/* Key store bodies: every rule of FORMAT.md is checked, and what is
 * encoded decodes to the same. */
Test(repo_hostile, keystore_body_is_strict) {
        CnKeyStore ks, back;
        uint8_t id[CN_UUID_BYTES] = { 1 }, key[CN_KEY_BYTES] = { 7 };
        CnBuf b = CN_BUF_INIT(1u << 16);

        cr_assert_eq(cn_keystore_init(&ks, id, id), 0);
        cr_assert_eq(cn_keystore_init(&back, id, id), 0);
        ks.generation = 3;
        cr_assert_eq(cn_keystore_add_location(&ks, "/var/lib/cairn/keystore"), 0);
        cr_assert_eq(cn_keystore_add_location(&ks, "/var/lib/cairn/keystore"), 0, "listed once");
        cr_assert_eq(cn_keystore_add_key(&ks, 2, key), 0);
        cr_assert_eq(cn_keystore_add_key(&ks, 1, key), 0);
        cr_assert_eq(cn_keystore_add_key(&ks, 2, key), -EEXIST);
        cr_assert_eq(ks.epochs[0], 1);
        cr_assert_eq(cn_keystore_body_encode(&ks, &b), 0);
        cr_assert_eq(cn_keystore_body_decode(b.data, b.len, &back), 0);
        cr_assert_eq(back.generation, 3);
        cr_assert_eq(back.n_locations, 1);
        cr_assert_eq(back.n_keys, 2);
        for (size_t len = 0; len < b.len; len++)
                cr_assert_eq(cn_keystore_body_decode(b.data, len, &back), -EBADMSG, "cut at %zu", len);
        cr_assert_eq(cn_buf_put_u8(&b, 0), 0);
        cr_assert_eq(cn_keystore_body_decode(b.data, b.len, &back), -EBADMSG, "a trailing byte");
        /* epochs out of order: swap the two epoch numbers */
        b.len--;
        size_t e1 = b.len - 2 * (4 + CN_KEY_BYTES), e2 = b.len - (4 + CN_KEY_BYTES);
        b.data[e1] = 2, b.data[e2] = 1;
        cr_assert_eq(cn_keystore_body_decode(b.data, b.len, &back), -EBADMSG, "epochs must increase");
        cn_keystore_keep_only(&ks, 2);
        cr_assert_eq(ks.n_keys, 1);
        cr_assert_eq(ks.epochs[0], 2);
        cn_keystore_done(&ks);
        cn_keystore_done(&back);
        cn_buf_done(&b);
}
