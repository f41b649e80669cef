/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Snapshot filters (issue 9, item 6): restic's --host, --tag, --path. */
#include <criterion/criterion.h>
#include <string.h>

#include "snapshot.h"

static char *host_a = "a", *host_b = "b";
static char *paths_ab[] = {"/a", "/b"}, *paths_a[] = {"/a"};
static char *tags_xy[] = {"x", "y"}, *tags_x[] = {"x"};

static CnSnapshot snap(char *host, char **paths, size_t n_paths, char **tags, size_t n_tags, int64_t sec) {
        return (CnSnapshot){
                .hostname = host, .paths = paths, .n_paths = n_paths, .tags = tags, .n_tags = n_tags, .time = {sec, 0}};
}

Test(snapshot, tag_list_splits_at_commas_and_trims) {
        CnTagList l;
        cr_assert_eq(cn_tag_list_parse(" a ,b,\tc", &l), 0);
        cr_assert_eq(l.n_tags, 3);
        cr_assert_str_eq(l.tags[0], "a");
        cr_assert_str_eq(l.tags[1], "b");
        cr_assert_str_eq(l.tags[2], "c");
        cn_tag_list_done(&l);
        cr_assert_eq(cn_tag_list_parse("", &l), 0);
        cr_assert_eq(l.n_tags, 1);
        cr_assert_str_eq(l.tags[0], "");
        cn_tag_list_done(&l);
}

Test(snapshot, item6_host_any_of_the_given) {
        CnSnapshotFilter f = {};
        CnSnapshot a = snap(host_a, paths_a, 1, NULL, 0, 1), b = snap(host_b, paths_a, 1, NULL, 0, 2);
        cr_assert(cn_snapshot_filter_empty(&f));
        cr_assert(cn_snapshot_matches(&a, &f));
        cr_assert_eq(cn_snapshot_filter_add_host(&f, "b"), 0);
        cr_assert(!cn_snapshot_filter_empty(&f));
        cr_assert(!cn_snapshot_matches(&a, &f));
        cr_assert(cn_snapshot_matches(&b, &f));
        cr_assert_eq(cn_snapshot_filter_add_host(&f, "a"), 0);
        cr_assert(cn_snapshot_matches(&a, &f));
        cn_snapshot_filter_done(&f);
}

Test(snapshot, item6_tags_all_of_one_group_any_group) {
        CnSnapshotFilter f = {};
        CnSnapshot xy = snap(host_a, paths_a, 1, tags_xy, 2, 1), x = snap(host_a, paths_a, 1, tags_x, 1, 2),
                   none = snap(host_a, paths_a, 1, NULL, 0, 3);
        cr_assert_eq(cn_snapshot_filter_add_tags(&f, "x,y"), 0);
        cr_assert(cn_snapshot_matches(&xy, &f));
        cr_assert(!cn_snapshot_matches(&x, &f));
        cr_assert(!cn_snapshot_matches(&none, &f));
        /* A second group: either one. */
        cr_assert_eq(cn_snapshot_filter_add_tags(&f, "x"), 0);
        cr_assert(cn_snapshot_matches(&x, &f));
        cr_assert(!cn_snapshot_matches(&none, &f));
        /* '' means no tags. */
        cr_assert_eq(cn_snapshot_filter_add_tags(&f, ""), 0);
        cr_assert(cn_snapshot_matches(&none, &f));
        cn_snapshot_filter_done(&f);

        CnSnapshotFilter g = {};
        cr_assert_eq(cn_snapshot_filter_add_tags(&g, ""), 0);
        cr_assert(!cn_snapshot_matches(&x, &g));
        cr_assert(cn_snapshot_matches(&none, &g));
        cn_snapshot_filter_done(&g);
}

Test(snapshot, item6_paths_every_given_one_among_the_snapshots) {
        CnSnapshotFilter f = {};
        CnSnapshot ab = snap(host_a, paths_ab, 2, NULL, 0, 1), a = snap(host_a, paths_a, 1, NULL, 0, 2);
        cr_assert_eq(cn_snapshot_filter_add_path(&f, "/a"), 0);
        cr_assert(cn_snapshot_matches(&ab, &f));
        cr_assert(cn_snapshot_matches(&a, &f));
        cr_assert_eq(cn_snapshot_filter_add_path(&f, "/b"), 0);
        cr_assert(cn_snapshot_matches(&ab, &f));
        cr_assert(!cn_snapshot_matches(&a, &f));
        cn_snapshot_filter_done(&f);
}

Test(snapshot, item6_all_criteria_together) {
        CnSnapshotFilter f = {};
        CnSnapshot s = snap(host_a, paths_ab, 2, tags_x, 1, 1);
        cr_assert_eq(cn_snapshot_filter_add_host(&f, "a"), 0);
        cr_assert_eq(cn_snapshot_filter_add_tags(&f, "x"), 0);
        cr_assert_eq(cn_snapshot_filter_add_path(&f, "/b"), 0);
        cr_assert(cn_snapshot_matches(&s, &f));
        cr_assert_eq(cn_snapshot_filter_add_path(&f, "/c"), 0);
        cr_assert(!cn_snapshot_matches(&s, &f));
        cn_snapshot_filter_done(&f);
}

Test(snapshot, item6_latest_is_the_newest_that_matches) {
        CnController c1 = {}, c2 = {};
        CnSnapshot list[] = {snap(host_a, paths_a, 1, NULL, 0, 1), snap(host_b, paths_a, 1, NULL, 0, 2),
                             snap(host_a, paths_a, 1, NULL, 0, 3), snap(host_b, paths_a, 1, NULL, 0, 4)};
        list[0].controller = list[1].controller = list[3].controller = &c1;
        list[2].controller = &c2;
        CnSnapshotFilter f = {};
        cr_assert_eq(cn_snapshot_latest(list, 4, NULL, NULL), &list[3]);
        cr_assert_eq(cn_snapshot_latest(list, 4, &c2, NULL), &list[2]);
        cr_assert_eq(cn_snapshot_filter_add_host(&f, "a"), 0);
        cr_assert_eq(cn_snapshot_latest(list, 4, NULL, &f), &list[2]);
        cr_assert_eq(cn_snapshot_latest(list, 4, &c1, &f), &list[0]);
        cr_assert_null(cn_snapshot_latest(list, 0, &c1, &f));
        cn_snapshot_filter_done(&f);
        cr_assert_eq(cn_snapshot_filter_add_host(&f, "c"), 0);
        cr_assert_null(cn_snapshot_latest(list, 4, NULL, &f));
        cn_snapshot_filter_done(&f);
}

Test(snapshot, item6_filter_list_keeps_order_and_every_snapshot) {
        CnSnapshot list[] = {snap(host_a, paths_a, 1, NULL, 0, 1), snap(host_b, paths_a, 1, NULL, 0, 2),
                             snap(host_a, paths_a, 1, NULL, 0, 3), snap(host_b, paths_a, 1, NULL, 0, 4)};
        CnSnapshotFilter f = {};
        cr_assert_eq(cn_snapshot_filter_list(list, 4, &f), 4);
        cr_assert_eq(cn_snapshot_filter_add_host(&f, "b"), 0);
        cr_assert_eq(cn_snapshot_filter_list(list, 4, &f), 2);
        cr_assert_eq(list[0].time.sec, 2);
        cr_assert_eq(list[1].time.sec, 4);
        cr_assert_eq(list[2].time.sec + list[3].time.sec, 4);
        cn_snapshot_filter_done(&f);
}
