/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The record of processing (issue 11 item 3): built from a repository with
 * two controllers, locations recorded, authorised, removed and revoked, and
 * a hold; every member derived from what the repository holds. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hold.h"
#include "location.h"
#include "records.h"

static char dir[64];
static CnBackend *backend;
static const CnRepoInitOptions fast = {.kdf = {1, 8192}};

static void setup(void) {
        cr_assert_eq(cn_crypto_init(), 0);
        snprintf(dir, sizeof dir, "/tmp/cairn-test-records.XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(cn_backend_open(dir, true, &backend), 0);
}

static void teardown(void) {
        char cmd[128];
        cn_backend_close(backend);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        cr_assert_eq(system(cmd), 0);
}

static json_t *controller(json_t *doc, const char *name) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(doc, "controllers"), i, c) {
                const char *n = json_string_value(json_object_get(json_object_get(c, "controller"), "name"));
                if (n && strcmp(n, name) == 0)
                        return c;
        }
        cr_assert_fail("no controller %s", name);
        return NULL;
}

static const char *get_str(json_t *o, const char *key) {
        const char *s = json_string_value(json_object_get(o, key));
        cr_assert_not_null(s, "no string %s", key);
        return s;
}

Test(records, text_that_is_not_utf8_becomes_replacement_characters) {
        json_t *j = cn_json_text("a\xff"
                                 "b\xc3\xa9");
        cr_assert_str_eq(json_string_value(j), "a\xef\xbf\xbd"
                                               "b\xc3\xa9");
        json_decref(j);
}

Test(records, derived_from_what_the_repository_holds, .init = setup, .fini = teardown) {
        CnRepo *r;
        CnController *a, *b;
        json_t *doc;
        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &r), 0);
        a = cn_repo_controller(r, 0);
        cr_assert_eq(cn_repo_controller_add(r, "b", NULL, &b), 0);

        /* nothing recorded: both unconfigured, no category, no sub-processor */
        cr_assert_eq(cn_records_build(r, NULL, 1800000000, NULL, NULL, &doc), 0);
        cr_assert_str_eq(get_str(doc, "format"), "cairn.records.v1");
        cr_assert_str_eq(get_str(doc, "generated_at"), "2027-01-15T08:00:00Z");
        cr_assert_eq(json_array_size(json_object_get(doc, "controllers")), 2);
        cr_assert_str_eq(get_str(controller(doc, "default"), "location_gate"), "unconfigured");
        cr_assert_eq(json_array_size(json_object_get(controller(doc, "b"), "categories")), 0);
        cr_assert_eq(json_array_size(json_object_get(controller(doc, "b"), "sub_processors")), 0);
        json_decref(doc);

        CnLocation l = {.name = "eu",
                        .provider = "AWS",
                        .region = "eu-west-1",
                        .note = "",
                        .creator = "x",
                        .created = 1700000000};
        CnLocation l2 = l, l3 = l, r1 = l;
        l2.name = "eu2";
        l2.region = "eu-central-1";
        l3.name = "old";
        l3.provider = "Hetzner";
        l3.region = "fsn1";
        r1.name = "rep";
        r1.provider = "Google Cloud";
        r1.region = "us-east1";
        cr_assert_eq(cn_location_add(r, &l), 0);
        cr_assert_eq(cn_location_add(r, &l2), 0);
        cr_assert_eq(cn_location_add(r, &l3), 0);
        cr_assert_eq(cn_location_remove(r, &l3, "y", 1700000100), 0);
        cr_assert_eq(cn_grant_add(r, a,
                                  &(CnLocation){.name = "eu",
                                                .provider = "AWS",
                                                .region = "eu-west-1",
                                                .note = "DPA",
                                                .creator = "x",
                                                .created = 1700000001}),
                     0);
        cr_assert_eq(cn_grant_add(r, a,
                                  &(CnLocation){.name = "eu2",
                                                .provider = "AWS",
                                                .region = "eu-central-1",
                                                .note = "",
                                                .creator = "x",
                                                .created = 1700000002}),
                     0);
        cr_assert_eq(cn_grant_add(r, a, &r1), 0); /* a replica's */
        CnLocation gb = l;
        cr_assert_eq(cn_grant_add(r, b, &gb), 0);
        cr_assert_eq(cn_grant_revoke(r, b, &gb, "z", 1700000200), 0);
        CnHold h = {.controller = b,
                    .scope = CN_HOLD_TAG,
                    .value = "legal",
                    .reason = "case",
                    .reference = "R",
                    .creator = "c",
                    .created = 1700000300};
        cr_assert_eq(cn_hold_save(r, &h), 0);

        cr_assert_eq(cn_records_build(r, NULL, 1800000000, NULL, NULL, &doc), 0);
        json_t *ja = controller(doc, "default"), *jb = controller(doc, "b");
        cr_assert_str_eq(get_str(ja, "location_gate"), "allowed");
        cr_assert_str_eq(get_str(jb, "location_gate"), "refused");
        /* a: a grant of a location not recorded here is a replica's */
        json_t *cat = json_object_get(ja, "categories");
        cr_assert_eq(json_array_size(cat), 1);
        cr_assert_str_eq(json_string_value(json_array_get(cat, 0)), "replication");
        cr_assert_eq(json_array_size(json_object_get(ja, "locations")), 2, "the removed one is history only");
        cr_assert_eq(json_array_size(json_object_get(ja, "authorised")), 3);
        /* sub-processors: each provider once, each region once */
        json_t *sp = json_object_get(ja, "sub_processors");
        cr_assert_eq(json_array_size(sp), 2);
        cr_assert_str_eq(get_str(json_array_get(sp, 0), "provider"), "AWS");
        cr_assert_eq(json_array_size(json_object_get(json_array_get(sp, 0), "regions")), 2);
        cr_assert_str_eq(get_str(json_array_get(sp, 1), "provider"), "Google Cloud");
        /* history: 3 recorded, 1 removed, 3 authorised, oldest first */
        json_t *hist = json_object_get(ja, "location_history");
        cr_assert_eq(json_array_size(hist), 7);
        cr_assert_str_eq(get_str(json_array_get(hist, 6), "event"), "location removed");
        cr_assert_str_eq(get_str(json_array_get(hist, 6), "name"), "old");
        cr_assert_str_eq(get_str(json_array_get(hist, 6), "time"), "2023-11-14T22:15:00Z");
        /* b: revoked, with its hold */
        cr_assert_eq(json_array_size(json_object_get(jb, "authorised")), 0);
        json_t *hb = json_object_get(jb, "location_history");
        cr_assert_str_eq(get_str(json_array_get(hb, json_array_size(hb) - 1), "event"), "revoked");
        cr_assert_eq(json_array_size(json_object_get(jb, "holds")), 1);
        cr_assert_str_eq(get_str(json_array_get(json_object_get(jb, "holds"), 0), "scope"), "tag");
        cr_assert_eq(json_array_size(json_object_get(ja, "holds")), 0, "a hold is its controller's only");
        json_decref(doc);

        /* one controller */
        cr_assert_eq(cn_records_build(r, b, 1800000000, NULL, NULL, &doc), 0);
        cr_assert_eq(json_array_size(json_object_get(doc, "controllers")), 1);
        json_decref(doc);
        cn_repo_unref(r);
}
