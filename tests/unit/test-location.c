/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Locations and the location gate (issue 11 item 4): strict bodies with a
 * rule for every field, the gate's decision for every combination of
 * locations and grants (ended ones and damaged objects included), and
 * locations, grants, removals and revocations stored and read back on a
 * local repository, with objects moved, renamed or planted refused. The
 * bodies' golden vectors are in test-format.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hex.h"
#include "location.h"

static char dir[64], dir2[64];
static CnBackend *backend, *backend2;
static const CnRepoInitOptions fast = {.kdf = {1, 8192}};

static void init(void) {
        cr_assert_eq(cn_crypto_init(), 0);
}

static void setup(void) {
        init();
        snprintf(dir, sizeof dir, "/tmp/cairn-test-location.XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(cn_backend_open(dir, true, &backend), 0);
        snprintf(dir2, sizeof dir2, "/tmp/cairn-test-location2.XXXXXX");
        cr_assert_not_null(mkdtemp(dir2));
        cr_assert_eq(cn_backend_open(dir2, true, &backend2), 0);
}

static void teardown(void) {
        char cmd[256];
        cn_backend_close(backend);
        cn_backend_close(backend2);
        snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, dir2);
        cr_assert_eq(system(cmd), 0);
}

static CnLocation sample(void) {
        return (CnLocation){.name = "aws-eu",
                            .provider = "AWS",
                            .region = "eu-central-1",
                            .note = "DPA 2024-17",
                            .creator = "root@host",
                            .created = 1700000000};
}

static char *repeat(char c, size_t n) {
        char *s = malloc(n + 1);
        memset(s, c, n);
        s[n] = 0;
        return s;
}

Test(location, every_truncation_and_trailing_byte_is_refused, .init = init) {
        CnLocation l = sample();
        CnLocationEnd e = {.creator = "ops@host", .created = 1800000000};
        CnBuf enc = CN_BUF_INIT(1 << 20), eenc = CN_BUF_INIT(1 << 20);
        memset(e.target, 0x5a, sizeof e.target);
        cr_assert_eq(cn_location_encode(&l, &enc), 0);
        cr_assert_eq(cn_location_end_encode(&e, &eenc), 0);
        for (size_t len = 0; len < enc.len; len++) {
                CnLocation t = {};
                cr_assert_eq(cn_location_decode(enc.data, len, &t), -EBADMSG, "length %zu accepted", len);
                cn_location_done(&t);
        }
        for (size_t len = 0; len < eenc.len; len++) {
                CnLocationEnd t = {};
                cr_assert_eq(cn_location_end_decode(eenc.data, len, &t), -EBADMSG, "length %zu accepted", len);
                cn_location_end_done(&t);
        }
        cr_assert_eq(cn_buf_append(&enc, "", 1), 0);
        cr_assert_eq(cn_buf_append(&eenc, "", 1), 0);
        CnLocation t = {};
        CnLocationEnd te = {};
        cr_assert_eq(cn_location_decode(enc.data, enc.len, &t), -EBADMSG, "trailing byte accepted");
        cr_assert_eq(cn_location_end_decode(eenc.data, eenc.len, &te), -EBADMSG, "trailing byte accepted");
        cn_location_done(&t);
        cn_location_end_done(&te);
        enc.len--;
        cr_assert_eq(cn_location_decode(enc.data, enc.len, &t), 0);
        cr_assert_str_eq(t.name, "aws-eu");
        cr_assert_str_eq(t.provider, "AWS");
        cr_assert_str_eq(t.region, "eu-central-1");
        cr_assert_str_eq(t.note, "DPA 2024-17");
        cr_assert_str_eq(t.creator, "root@host");
        cr_assert_eq(t.created, 1700000000);
        cn_location_done(&t);
        cn_buf_done(&enc);
        cn_buf_done(&eenc);
}

/* Every field at its limits: what the writer refuses, the reader refuses
 * when forged (the body written by hand). */
Test(location, every_field_has_a_rule, .init = init) {
        char *name64 = repeat('n', 64), *name65 = repeat('n', 65), *text256 = repeat('p', 256),
             *text257 = repeat('p', 257), *note4096 = repeat('x', 4096), *note4097 = repeat('x', 4097),
             *creator1024 = repeat('c', 1024), *creator1025 = repeat('c', 1025);
        const struct {
                int field; /* 0 name, 1 provider, 2 region, 3 note, 4 creator */
                const char *value;
                bool ok;
        } cases[] = {
                {0, name64, true},
                {0, name65, false},
                {0, "", false},
                {0, "a b", false},
                {0, "a/b", false},
                {0, "caf\xc3\xa9", false},
                {0, "A-z_0.9", true},
                {1, text256, true},
                {1, text257, false},
                {1, "", false},
                {1, "Google Cloud", true},
                {1, "a\x01", false},
                {1, "a\x7f", false},
                {1, "\xff", false},
                {1, "caf\xc3\xa9", true},
                {1, "\xe2\x80\xae", true},
                {2, text256, true},
                {2, text257, false},
                {2, "", false},
                {2, "a\nb", false},
                {3, "", true},
                {3, note4096, true},
                {3, note4097, false},
                {3, "a\tb", false},
                {4, "", true},
                {4, creator1024, true},
                {4, creator1025, false},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                CnLocation l = sample(), back = {};
                char **f[] = {&l.name, &l.provider, &l.region, &l.note, &l.creator};
                CnBuf enc = CN_BUF_INIT(1 << 20);
                *f[cases[i].field] = (char *) cases[i].value;
                cr_assert_eq(cn_location_encode(&l, &enc), cases[i].ok ? 0 : -EINVAL, "case %zu", i);
                if (!cases[i].ok) {
                        /* forge: encode the sample and splice the field in */
                        CnLocation s = sample();
                        CnBuf good = CN_BUF_INIT(1 << 20);
                        cr_assert_eq(cn_location_encode(&s, &good), 0);
                        size_t off = 0;
                        for (int k = 0; k < cases[i].field; k++)
                                off += 4 + cn_le32_get(good.data + off);
                        uint32_t len = cn_le32_get(good.data + off);
                        cn_buf_append(&enc, good.data, off);
                        cn_buf_put_bytes32(&enc, cases[i].value, strlen(cases[i].value));
                        cn_buf_append(&enc, good.data + off + 4 + len, good.len - off - 4 - len);
                        cn_buf_done(&good);
                }
                cr_assert_eq(cn_location_decode(enc.data, enc.len, &back), cases[i].ok ? 0 : -EBADMSG,
                             "case %zu decoded", i);
                cn_location_done(&back);
                cn_buf_done(&enc);
        }
        CnLocationEnd e = {.creator = creator1025};
        CnBuf enc = CN_BUF_INIT(1 << 20);
        cr_assert_eq(cn_location_end_encode(&e, &enc), -EINVAL);
        cn_buf_done(&enc);
        free(name64);
        free(name65);
        free(text256);
        free(text257);
        free(note4096);
        free(note4097);
        free(creator1024);
        free(creator1025);
}

/* ---- the gate, pure ---- */

/* A set of entries "name/provider/region", each optionally ended ("-"
 * before it). */
static void build(CnLocations *s, const char *const *spec, size_t n) {
        *s = (CnLocations){};
        s->v = calloc(n ? n : 1, sizeof *s->v);
        s->ends = calloc(n ? n : 1, sizeof *s->ends);
        for (size_t i = 0; i < n; i++) {
                const char *x = spec[i];
                bool ended = x[0] == '-';
                char *dup = strdup(x + ended), *save = NULL;
                CnLocation *l = &s->v[s->n++];
                l->name = strdup(strtok_r(dup, "/", &save));
                l->provider = strdup(strtok_r(NULL, "/", &save));
                l->region = strdup(strtok_r(NULL, "/", &save));
                l->note = strdup("");
                l->creator = strdup("");
                l->id[0] = (uint8_t) i;
                free(dup);
                if (ended) {
                        CnLocationEnd *e = &s->ends[s->n_ends++];
                        e->creator = strdup("");
                        e->target[0] = (uint8_t) i;
                        l->end = e;
                }
        }
}

#define SET(...) ((const char *const[]){__VA_ARGS__}), (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *))
#define NONE ((const char *const[]){""}), 0

static int gate(const char *const *g, size_t ng, const char *const *l, size_t nl, CnLocationRefusal *why,
                bool *configured) {
        CnLocations grants, locations;
        build(&grants, g, ng);
        build(&locations, l, nl);
        int r = cn_location_gate_check(&grants, &locations, why, configured);
        cn_locations_done(&grants);
        cn_locations_done(&locations);
        return r;
}

Test(location, gate_decides_every_combination, .init = init) {
        CnLocationRefusal why;
        bool configured = true;

        /* nothing recorded, nothing authorised: unconfigured, allowed */
        cr_assert_eq(gate(NONE, NONE, &why, &configured), 0);
        cr_assert_not(configured);
        /* authorised, and the repository lives there */
        cr_assert_eq(gate(SET("a/AWS/eu"), SET("a/AWS/eu"), &why, &configured), 0);
        cr_assert(configured);
        /* a repository that lives at two places needs both authorised */
        cr_assert_eq(gate(SET("a/AWS/eu", "b/Hetzner/fsn1"), SET("a/AWS/eu", "b/Hetzner/fsn1"), &why, NULL), 0);
        cr_assert_eq(gate(SET("a/AWS/eu"), SET("a/AWS/eu", "b/Hetzner/fsn1"), &why, NULL), -EPERM);
        cr_assert_eq(why.kind, CN_LOCATION_UNAUTHORISED);
        cr_assert_str_eq(why.name, "b");
        cr_assert_str_eq(why.provider, "Hetzner");
        cr_assert_str_eq(why.region, "fsn1");
        /* a location recorded, the controller authorised nothing */
        cr_assert_eq(gate(NONE, SET("a/AWS/eu"), &why, NULL), -EPERM);
        cr_assert_eq(why.kind, CN_LOCATION_UNAUTHORISED);
        cr_assert_eq(why.n_grants, 0);
        /* the same name at another region or provider is another location */
        cr_assert_eq(gate(SET("a/AWS/eu"), SET("a/AWS/us"), &why, NULL), -EPERM);
        cr_assert_str_eq(why.region, "us");
        cr_assert_eq(gate(SET("a/AWS/eu"), SET("a/GCP/eu"), &why, NULL), -EPERM);
        cr_assert_eq(gate(SET("a/AWS/eu"), SET("b/AWS/eu"), &why, NULL), -EPERM);
        /* authorised somewhere, the repository records no location */
        cr_assert_eq(gate(SET("a/AWS/eu", "b/X/y"), NONE, &why, NULL), -EPERM);
        cr_assert_eq(why.kind, CN_LOCATION_NONE_RECORDED);
        cr_assert_eq(why.n_grants, 2);
        /* a revoked grant authorises nothing, and never reopens the gate */
        cr_assert_eq(gate(SET("-a/AWS/eu"), SET("a/AWS/eu"), &why, NULL), -EPERM);
        cr_assert_eq(why.kind, CN_LOCATION_UNAUTHORISED);
        cr_assert_eq(gate(SET("-a/AWS/eu"), NONE, &why, &configured), -EPERM);
        cr_assert_eq(why.kind, CN_LOCATION_NONE_RECORDED);
        cr_assert_eq(gate(SET("-a/AWS/eu", "a/AWS/eu"), SET("a/AWS/eu"), &why, NULL), 0, "authorised again");
        /* a removed location is not where the repository lives; the last one
         * removed leaves it configured, with no location: refused */
        cr_assert_eq(gate(SET("a/AWS/eu"), SET("-b/X/y", "a/AWS/eu"), &why, NULL), 0);
        cr_assert_eq(gate(SET("a/AWS/eu"), SET("-a/AWS/eu"), &why, NULL), -EPERM);
        cr_assert_eq(why.kind, CN_LOCATION_NONE_RECORDED);
        cr_assert_eq(gate(NONE, SET("-a/AWS/eu"), &why, NULL), -EPERM);
        /* a damaged object may be a location or a revocation */
        CnLocations g, l;
        build(&g, SET("a/AWS/eu"));
        build(&l, SET("a/AWS/eu"));
        l.n_damaged = 1;
        snprintf(l.damaged, sizeof l.damaged, "locations/%064d", 0);
        cr_assert_eq(cn_location_gate_check(&g, &l, &why, NULL), -EPERM);
        cr_assert_eq(why.kind, CN_LOCATION_DAMAGED);
        cr_assert_str_eq(why.object, l.damaged);
        l.n_damaged = 0;
        g.n_damaged = 1;
        snprintf(g.damaged, sizeof g.damaged, "grants/x/y");
        cr_assert_eq(cn_location_gate_check(&g, &l, &why, NULL), -EPERM);
        cr_assert_str_eq(why.object, "grants/x/y");
        cn_locations_done(&g);
        cn_locations_done(&l);
}

/* ---- in a repository ---- */

static void add(CnRepo *r, const CnController *c, const char *name, const char *provider, const char *region,
                CnLocation *ret) {
        CnLocation l = sample();
        l.name = (char *) name;
        l.provider = (char *) provider;
        l.region = (char *) region;
        if (c)
                cr_assert_eq(cn_grant_add(r, c, &l), 0);
        else
                cr_assert_eq(cn_location_add(r, &l), 0);
        if (ret)
                *ret = l;
}

static size_t n_damaged;
static void on_damaged(const char *name, int error, void *u) {
        (void) name;
        (void) u;
        cr_assert(error == -EBADMSG || error == -E2BIG, "error %d", error);
        n_damaged++;
}

Test(location, stored_ended_and_read_back, .init = setup, .fini = teardown) {
        CnRepo *r;
        CnController *a, *b;
        CnLocations here = {}, ga = {}, gb = {};
        CnLocation l1;
        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &r), 0);
        a = cn_repo_controller(r, 0);
        cr_assert_eq(cn_repo_controller_add(r, "b", NULL, &b), 0);

        add(r, NULL, "aws-eu", "AWS", "eu-central-1", &l1);
        add(r, NULL, "hz", "Hetzner", "fsn1", NULL);
        add(r, a, "aws-eu", "AWS", "eu-central-1", NULL);
        cr_assert_eq(cn_locations_load(r, on_damaged, NULL, &here), 0);
        cr_assert_eq(cn_grants_load(r, a, on_damaged, NULL, &ga), 0);
        cr_assert_eq(cn_grants_load(r, b, on_damaged, NULL, &gb), 0);
        cr_assert_eq(here.n, 2);
        cr_assert_eq(ga.n, 1);
        cr_assert_eq(gb.n, 0, "a grant belongs to its controller only");
        CnLocation *found = NULL;
        cr_assert_eq(cn_locations_find(&here, "aws-eu", &found), 1);
        cr_assert_eq(memcmp(found->id, l1.id, CN_ID_BYTES), 0);
        cr_assert_str_eq(found->id_hex, l1.id_hex);
        cr_assert(cn_locations_match(&ga, found));
        /* a: hz is not authorised; b: nothing is */
        CnLocationRefusal why;
        cr_assert_eq(cn_location_gate(r, a, r, &why), -EPERM);
        cr_assert_eq(why.controller, a);
        cr_assert_str_eq(why.name, "hz");
        cr_assert_eq(cn_location_gate(r, b, r, &why), -EPERM);
        cr_assert_eq(why.controller, b);

        /* remove hz: a may; removing twice is refused */
        CnLocation *hz = NULL;
        cr_assert_eq(cn_locations_find(&here, "hz", &hz), 1);
        cr_assert_eq(cn_location_remove(r, hz, "ops@host", 1800000000), 0);
        cn_locations_done(&here);
        cr_assert_eq(cn_locations_load(r, on_damaged, NULL, &here), 0);
        cr_assert_eq(here.n, 2, "the removed location stays, with its removal");
        cr_assert_eq(here.n_ends, 1);
        cr_assert_eq(cn_locations_find(&here, "hz", &hz), 0);
        for (size_t i = 0; i < here.n; i++)
                if (strcmp(here.v[i].name, "hz") == 0) {
                        cr_assert_not_null(here.v[i].end);
                        cr_assert_str_eq(here.v[i].end->creator, "ops@host");
                        cr_assert_eq(here.v[i].end->created, 1800000000);
                        cr_assert_eq(cn_location_remove(r, &here.v[i], "x", 1), -EALREADY);
                }
        cr_assert_eq(cn_location_gate(r, a, r, &why), 0);

        /* revoke a's grant: refused again */
        cr_assert_eq(cn_grant_revoke(r, a, &ga.v[0], "ops@host", 1800000001), 0);
        cn_locations_done(&ga);
        cr_assert_eq(cn_grants_load(r, a, on_damaged, NULL, &ga), 0);
        cr_assert_not_null(ga.v[0].end);
        cr_assert_not(cn_locations_match(&ga, found = &here.v[0]));
        cr_assert_eq(cn_location_gate(r, a, r, &why), -EPERM);
        cr_assert_eq(n_damaged, 0);
        cn_locations_done(&here);
        cn_locations_done(&ga);
        cn_locations_done(&gb);
        cn_repo_unref(r);
}

static void copy_file(const char *from, const char *to) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\" && cp '%s' '%s'", to, from, to);
        cr_assert_eq(system(cmd), 0);
}

/* Objects moved to another name or folder, planted from another
 * repository, or damaged, are skipped and reported; the gate refuses. */
Test(location, moved_planted_and_damaged_objects_are_refused, .init = setup, .fini = teardown) {
        CnRepo *r, *other;
        CnController *a, *b;
        CnLocation l, g;
        CnLocations s = {};
        CnLocationRefusal why;
        char from[512], to[512];

        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &r), 0);
        cr_assert_eq(cn_repo_init(backend2, "pw", 2, &fast, &other), 0);
        a = cn_repo_controller(r, 0);
        cr_assert_eq(cn_repo_controller_add(r, "b", NULL, &b), 0);
        add(r, NULL, "x", "AWS", "eu", &l);
        add(r, a, "x", "AWS", "eu", &g);
        cr_assert_eq(cn_location_gate(r, a, r, &why), 0);

        /* a's grant copied into b's folder (same name: its hash) */
        snprintf(from, sizeof from, "%s/grants/%s/%s", dir, a->id_hex, g.id_hex);
        snprintf(to, sizeof to, "%s/grants/%s/%s", dir, b->id_hex, g.id_hex);
        copy_file(from, to);
        n_damaged = 0;
        cr_assert_eq(cn_grants_load(r, b, on_damaged, NULL, &s), 0);
        cr_assert_eq(s.n, 0);
        cr_assert_eq(s.n_damaged, 1);
        cr_assert_eq(n_damaged, 1);
        cn_locations_done(&s);
        cr_assert_eq(cn_location_gate(r, b, r, &why), -EPERM);
        cr_assert_eq(why.kind, CN_LOCATION_DAMAGED);
        unlink(to);

        /* the location under another name */
        snprintf(from, sizeof from, "%s/locations/%s", dir, l.id_hex);
        snprintf(to, sizeof to, "%s/locations/%064d", dir, 7);
        copy_file(from, to);
        cr_assert_eq(cn_locations_load(r, NULL, NULL, &s), 0);
        cr_assert_eq(s.n, 1);
        cr_assert_eq(s.n_damaged, 1);
        cr_assert_str_eq(s.damaged, "locations/0000000000000000000000000000000000000000000000000000000000000007");
        cn_locations_done(&s);
        cr_assert_eq(cn_location_gate(r, a, r, &why), -EPERM);
        cr_assert_eq(why.kind, CN_LOCATION_DAMAGED);
        unlink(to);

        /* a location of another repository (another config key) */
        CnLocation o;
        add(other, NULL, "planted", "Evil", "nowhere", &o);
        snprintf(from, sizeof from, "%s/locations/%s", dir2, o.id_hex);
        snprintf(to, sizeof to, "%s/locations/%s", dir, o.id_hex);
        copy_file(from, to);
        cr_assert_eq(cn_locations_load(r, NULL, NULL, &s), 0);
        cr_assert_eq(s.n, 1);
        cr_assert_eq(s.n_damaged, 1);
        cn_locations_done(&s);
        unlink(to);

        /* a flipped byte; a subfolder */
        snprintf(from, sizeof from, "%s/locations/%s", dir, l.id_hex);
        FILE *f = fopen(from, "r+b");
        cr_assert_not_null(f);
        fseek(f, 70, SEEK_SET);
        int ch = fgetc(f);
        fseek(f, 70, SEEK_SET);
        fputc(ch ^ 1, f);
        fclose(f);
        cr_assert_eq(cn_locations_load(r, NULL, NULL, &s), 0);
        cr_assert_eq(s.n, 0);
        cr_assert_eq(s.n_damaged, 1);
        cn_locations_done(&s);
        cr_assert_eq(cn_location_gate(r, a, r, &why), -EPERM);

        /* a removal naming nothing is kept and changes nothing */
        snprintf(to, sizeof to, "%s/locations", dir);
        unlink(from);
        CnLocation ghost = {.end = NULL};
        memset(ghost.id, 0x33, sizeof ghost.id);
        cr_assert_eq(cn_location_remove(r, &ghost, "x", 5), 0);
        cr_assert_eq(cn_locations_load(r, NULL, NULL, &s), 0);
        cr_assert_eq(s.n, 0);
        cr_assert_eq(s.n_ends, 1);
        cn_locations_done(&s);
        /* a has a grant and the repository records no location: refused */
        cr_assert_eq(cn_location_gate(r, a, r, &why), -EPERM);
        cr_assert_eq(why.kind, CN_LOCATION_NONE_RECORDED);

        /* grant objects read for copy: a good one is returned as stored,
         * a damaged one refused */
        CnBuf obj = CN_BUF_INIT(1 << 20);
        char name[256];
        snprintf(name, sizeof name, "grants/%s/%s", a->id_hex, g.id_hex);
        cr_assert_eq(cn_grant_read_object(r, a, name, &obj), 0);
        cr_assert_eq(cn_grant_read_object(r, b, name, &obj), -EBADMSG, "another controller's folder");
        snprintf(name, sizeof name, "grants/%s/%064d", a->id_hex, 1);
        cr_assert_eq(cn_grant_read_object(r, a, name, &obj), -ENOENT);
        cn_buf_done(&obj);
        cn_repo_unref(other);
        cn_repo_unref(r);
}
