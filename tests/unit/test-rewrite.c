/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The tree rewrite erasure uses (core/rewrite.h, issue 10 item 4): dropped
 * entries are gone from the new tree and everything else is there; the
 * directories that did not change keep their ids (nothing written for
 * them); a dropped directory goes with its subtree, reported through the
 * callbacks with its chunks and trees; the blobs the new tree no longer
 * names are reported; a large directory of several leaves is written again
 * with its unchanged leaves shared. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "macro.h"
#include "repo.h"
#include "restore.h"
#include "rewrite.h"
#include "store.h"
#include "tree.h"

static char dir[64];
static CnBackend *backend;
static CnRepo *repo;
static CnStore *store;
static const CnRepoInitOptions fast = { .kdf = { 1, 8192 } };

static void setup(void) {
        char repo_dir[128];
        cr_assert_eq(cn_crypto_init(), 0);
        snprintf(dir, sizeof dir, "/tmp/cairn-test-rewrite.XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        snprintf(repo_dir, sizeof repo_dir, "%s/repo", dir);
        cr_assert_eq(cn_backend_open(repo_dir, true, &backend), 0);
        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &repo), 0);
        cr_assert_eq(cn_store_open(repo, cn_repo_controller(repo, 0), CN_STORE_KEYS | CN_STORE_WRITE, &store), 0);
}

static void teardown(void) {
        char cmd[128];
        cn_store_free(store);
        cn_repo_unref(repo);
        cn_backend_close(backend);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        cr_assert_eq(system(cmd), 0);
}

TestSuite(rewrite, .init = setup, .fini = teardown);

static CnNode file(const char *name, uint64_t size, uint8_t chunk, const char *subject) {
        CnNode n = { .type = CN_NODE_FILE, .mode = 0644, .size = size, .nlink = 1 };
        n.name = strdup(name);
        n.name_len = strlen(name);
        if (chunk) {
                n.chunks = calloc(1, CN_ID_BYTES);
                memset(n.chunks[0], chunk, CN_ID_BYTES);
                n.n_chunks = 1;
        }
        if (subject)
                cr_assert_eq(cn_node_add_subject(&n, subject, strlen(subject)), 1);
        return n;
}

static CnNode subdir(const char *name, const uint8_t tree[CN_ID_BYTES], const char *subject) {
        CnNode n = { .type = CN_NODE_DIR, .mode = 0755, .nlink = 2 };
        n.name = strdup(name);
        n.name_len = strlen(name);
        memcpy(n.subtree, tree, CN_ID_BYTES);
        if (subject)
                cr_assert_eq(cn_node_add_subject(&n, subject, strlen(subject)), 1);
        return n;
}

/* Store nodes (taken) as a directory, as backup writes one. */
static void store_dir(CnNode *nodes, size_t n, uint8_t ret[CN_ID_BYTES]) {
        CnTreeWriter *w;
        cn_nodes_sort(nodes, n);
        cr_assert_eq(cn_tree_writer_new(cn_tree_put_to_store, cn_tree_cut_by_store, store, &w), 0);
        for (size_t i = 0; i < n; i++) {
                cr_assert_eq(cn_tree_writer_add(w, &nodes[i]), 0);
                cn_node_done(&nodes[i]);
        }
        cr_assert_eq(cn_tree_writer_finish(w, ret), 0);
        cn_tree_writer_free(w);
}

#define BIG_ENTRIES 3000
#define BIG_PAD 4000

/* A directory of BIG_ENTRIES files with BIG_PAD bytes of xattr each: 12 MiB,
 * several leaves; but entry skip (SIZE_MAX: none). */
static void store_big(size_t skip, uint8_t ret[CN_ID_BYTES]) {
        CnTreeWriter *w;
        uint8_t *pad = calloc(1, BIG_PAD);
        cr_assert_eq(cn_tree_writer_new(cn_tree_put_to_store, cn_tree_cut_by_store, store, &w), 0);
        for (size_t i = 0; i < BIG_ENTRIES; i++) {
                if (i == skip)
                        continue;
                char name[32];
                snprintf(name, sizeof name, "f%06zu", i);
                CnNode n = file(name, i, 0, NULL);
                CnXattr x = { .name = "user.pad", .value = pad, .value_len = BIG_PAD };
                n.xattrs = &x;
                n.n_xattrs = 1;
                cr_assert_eq(cn_tree_writer_add(w, &n), 0);
                n.xattrs = NULL;
                n.n_xattrs = 0;
                cn_node_done(&n);
        }
        cr_assert_eq(cn_tree_writer_finish(w, ret), 0);
        cn_tree_writer_free(w);
        free(pad);
}

/* The test snapshot:
 *   /etc/{hosts,passwd}  /home/alice/{a.txt,sub/b.txt} (alice's)  /home/bob/b.txt  /big/f000000...
 * and the ids of its directories. */
typedef struct Snap {
        uint8_t root[CN_ID_BYTES], etc[CN_ID_BYTES], home[CN_ID_BYTES], alice[CN_ID_BYTES], sub[CN_ID_BYTES],
                bob[CN_ID_BYTES], big[CN_ID_BYTES];
} Snap;

static void make_snapshot(Snap *s) {
        CnNode etc[] = { file("passwd", 100, 1, NULL), file("hosts", 50, 2, NULL) };
        store_dir(etc, 2, s->etc);
        CnNode sub[] = { file("b.txt", 20, 4, "alice") };
        store_dir(sub, 1, s->sub);
        CnNode alice[] = { file("a.txt", 10, 3, "alice"), subdir("sub", s->sub, "alice") };
        store_dir(alice, 2, s->alice);
        CnNode bob[] = { file("b.txt", 30, 5, NULL) };
        store_dir(bob, 1, s->bob);
        CnNode home[] = { subdir("alice", s->alice, "alice"), subdir("bob", s->bob, NULL) };
        store_dir(home, 2, s->home);
        store_big(SIZE_MAX, s->big);
        CnNode root[] = { subdir("etc", s->etc, NULL), subdir("home", s->home, NULL), subdir("big", s->big, NULL) };
        store_dir(root, 3, s->root);
        cr_assert_eq(cn_store_flush(store), 0);
}

/* What the callbacks saw. */
typedef struct Seen {
        const char *drop_path;          /* drop this path; NULL: see drop_subject */
        const char *drop_subject;
        size_t asked;                   /* entries drop was asked about */
        char *asked_paths[64];          /* the first of them */
        char dropped[8][256];
        size_t n_dropped;
        uint8_t chunks[16][CN_ID_BYTES], trees[16][CN_ID_BYTES], replaced[64][CN_ID_BYTES];
        size_t n_chunks, n_trees, n_replaced;
        int fail_with;                  /* dropped returns this when non-zero */
} Seen;

static bool drop(const char *path, size_t len, const CnNode *n, void *u) {
        Seen *s = u;
        cr_assert_eq(strlen(path), len, "the path is NUL-terminated at its length");
        if (s->asked < CN_ELEMENTSOF(s->asked_paths))
                s->asked_paths[s->asked] = strdup(path);
        s->asked++;
        if (s->drop_path)
                return strcmp(path, s->drop_path) == 0;
        return s->drop_subject && cn_node_has_subject(n, s->drop_subject, strlen(s->drop_subject));
}

static int dropped(const char *path, size_t len, const CnNode *n, void *u) {
        Seen *s = u;
        cr_assert_lt(s->n_dropped, 8);
        snprintf(s->dropped[s->n_dropped++], 256, "%s", path);
        return s->fail_with;
}

static int on_chunk(const uint8_t id[CN_ID_BYTES], void *u) {
        Seen *s = u;
        cr_assert_lt(s->n_chunks, 16);
        memcpy(s->chunks[s->n_chunks++], id, CN_ID_BYTES);
        return 0;
}

static int on_tree(const uint8_t id[CN_ID_BYTES], void *u) {
        Seen *s = u;
        cr_assert_lt(s->n_trees, 16);
        memcpy(s->trees[s->n_trees++], id, CN_ID_BYTES);
        return 0;
}

static int on_replaced(const uint8_t id[CN_ID_BYTES], void *u) {
        Seen *s = u;
        cr_assert_lt(s->n_replaced, 64);
        memcpy(s->replaced[s->n_replaced++], id, CN_ID_BYTES);
        return 0;
}

static const CnRewriteOps ops = {
        .drop = drop, .dropped = dropped, .chunk = on_chunk, .tree = on_tree, .replaced = on_replaced
};

static void seen_done(Seen *s) {
        for (size_t i = 0; i < s->asked && i < CN_ELEMENTSOF(s->asked_paths); i++)
                free(s->asked_paths[i]);
}

static bool has_id(const uint8_t (*v)[CN_ID_BYTES], size_t n, const uint8_t id[CN_ID_BYTES]) {
        for (size_t i = 0; i < n; i++)
                if (memcmp(v[i], id, CN_ID_BYTES) == 0)
                        return true;
        return false;
}

static bool has_chunk(const Seen *s, uint8_t byte) {
        uint8_t id[CN_ID_BYTES];
        memset(id, byte, CN_ID_BYTES);
        return has_id((const uint8_t(*)[CN_ID_BYTES]) s->chunks, s->n_chunks, id);
}

/* Every path of the tree, one a line, in walk order. */
typedef struct Listing {
        char text[1 << 16];
        size_t entries;
} Listing;

static int list_one(const char *path, const CnNode *n, void *u) {
        Listing *l = u;
        l->entries++;
        if (strncmp(path, "/big/", 5) != 0) {
                strcat(l->text, path);
                strcat(l->text, "\n");
        }
        return 0;
}

static void list_tree(const uint8_t root[CN_ID_BYTES], Listing *l) {
        l->text[0] = 0;
        l->entries = 0;
        cr_assert_eq(cn_walk(store, root, "/", list_one, l), 0);
}

/* The subtree id of the entry name of directory id. */
static void entry_subtree(const uint8_t id[CN_ID_BYTES], const char *name, uint8_t ret[CN_ID_BYTES]) {
        CnBuf blob = CN_BUF_INIT(CN_MAX_TREE_BYTES);
        CnNode *nodes;
        size_t n;
        bool found = false;
        cr_assert_eq(cn_dir_load(store, id, &blob, &nodes, &n, NULL), 0);
        for (size_t i = 0; i < n; i++)
                if (strcmp(nodes[i].name, name) == 0) {
                        memcpy(ret, nodes[i].subtree, CN_ID_BYTES);
                        found = true;
                }
        cr_assert(found, "no %s", name);
        cn_nodes_free(nodes, n);
        cn_buf_done(&blob);
}

/* Blobs stored new so far (counted once written: flushes first). */
static uint64_t blobs_new(void) {
        CnStoreStats st;
        cr_assert_eq(cn_store_flush(store), 0);
        cn_store_stats(store, &st);
        return st.blobs_new;
}

static const char everything[] = "/big\n/etc\n/etc/hosts\n/etc/passwd\n/home\n/home/alice\n/home/alice/a.txt\n"
                                 "/home/alice/sub\n/home/alice/sub/b.txt\n/home/bob\n/home/bob/b.txt\n";

Test(rewrite, nothing_matched_keeps_the_root_and_writes_nothing) {
        Snap s;
        Seen seen = {};
        uint8_t root[CN_ID_BYTES];
        CnRewriteStats st;
        make_snapshot(&s);
        uint64_t before = blobs_new();
        cr_assert_eq(cn_tree_rewrite(store, s.root, &ops, &seen, root, &st, NULL), 0);
        cr_assert_eq(memcmp(root, s.root, CN_ID_BYTES), 0, "the same root id");
        cr_assert_not(st.changed);
        cr_assert_eq(st.entries + st.bytes + st.dirs_rewritten, 0);
        cr_assert_eq(blobs_new(), before, "nothing written");
        cr_assert_eq(seen.asked, 11 + BIG_ENTRIES, "drop is asked about every entry");
        cr_assert_eq(seen.n_dropped + seen.n_chunks + seen.n_trees + seen.n_replaced, 0);
        /* Full paths, parents before children, in the order of names. */
        cr_assert_str_eq(seen.asked_paths[0], "/big");
        cr_assert_str_eq(seen.asked_paths[1], "/big/f000000");
        cr_assert_str_eq(seen.asked_paths[63], "/big/f000062");
        seen_done(&seen);
}

Test(rewrite, a_dropped_file_is_gone_and_untouched_directories_keep_their_ids) {
        Snap s;
        Seen seen = { .drop_path = "/etc/passwd" };
        uint8_t root[CN_ID_BYTES], id[CN_ID_BYTES];
        CnRewriteStats st;
        Listing l;
        make_snapshot(&s);
        uint64_t before = blobs_new();
        cr_assert_eq(cn_tree_rewrite(store, s.root, &ops, &seen, root, &st, NULL), 0);
        cr_assert(st.changed);
        cr_assert_neq(memcmp(root, s.root, CN_ID_BYTES), 0);
        cr_assert_eq(st.entries, 1);
        cr_assert_eq(st.bytes, 100);
        cr_assert_eq(st.dirs_rewritten, 2, "/etc and the root");
        cr_assert_eq(blobs_new() - before, 2, "%lu new blobs", (unsigned long) (blobs_new() - before));
        cr_assert_eq(seen.n_dropped, 1);
        cr_assert_str_eq(seen.dropped[0], "/etc/passwd");
        cr_assert_eq(seen.n_chunks, 1);
        cr_assert(has_chunk(&seen, 1));
        cr_assert_eq(seen.n_trees, 0, "a file has no trees below it");
        cr_assert_eq(seen.n_replaced, 2);
        cr_assert(has_id((const uint8_t(*)[CN_ID_BYTES]) seen.replaced, 2, s.root));
        cr_assert(has_id((const uint8_t(*)[CN_ID_BYTES]) seen.replaced, 2, s.etc));
        cr_assert_eq(cn_store_flush(store), 0);
        list_tree(root, &l);
        cr_assert_str_eq(l.text, "/big\n/etc\n/etc/hosts\n/home\n/home/alice\n/home/alice/a.txt\n/home/alice/sub\n"
                                 "/home/alice/sub/b.txt\n/home/bob\n/home/bob/b.txt\n");
        cr_assert_eq(l.entries, 10 + BIG_ENTRIES);
        entry_subtree(root, "home", id);
        cr_assert_eq(memcmp(id, s.home, CN_ID_BYTES), 0, "/home did not change: same id");
        entry_subtree(root, "big", id);
        cr_assert_eq(memcmp(id, s.big, CN_ID_BYTES), 0, "/big did not change: same id");
        /* The old tree is still whole: nothing is deleted. */
        list_tree(s.root, &l);
        cr_assert_str_eq(l.text, everything);
        seen_done(&seen);
}

Test(rewrite, a_dropped_directory_goes_with_its_subtree_and_its_parent_stays) {
        Snap s;
        Seen seen = { .drop_subject = "alice" };
        uint8_t root[CN_ID_BYTES], id[CN_ID_BYTES];
        CnRewriteStats st;
        Listing l;
        make_snapshot(&s);
        cr_assert_eq(cn_tree_rewrite(store, s.root, &ops, &seen, root, &st, NULL), 0);
        cr_assert(st.changed);
        cr_assert_eq(st.entries, 4, "alice, a.txt, sub, sub/b.txt");
        cr_assert_eq(st.bytes, 30);
        cr_assert_eq(seen.n_dropped, 1, "below a dropped directory nothing is asked");
        cr_assert_str_eq(seen.dropped[0], "/home/alice");
        cr_assert_eq(seen.asked, 11 + BIG_ENTRIES - 3);
        cr_assert_eq(seen.n_chunks, 2);
        cr_assert(has_chunk(&seen, 3) && has_chunk(&seen, 4));
        cr_assert_eq(seen.n_trees, 2);
        cr_assert(has_id((const uint8_t(*)[CN_ID_BYTES]) seen.trees, 2, s.alice));
        cr_assert(has_id((const uint8_t(*)[CN_ID_BYTES]) seen.trees, 2, s.sub));
        cr_assert_eq(seen.n_replaced, 2, "the old /home and root");
        cr_assert(has_id((const uint8_t(*)[CN_ID_BYTES]) seen.replaced, 2, s.home));
        list_tree(root, &l);
        cr_assert_str_eq(l.text, "/big\n/etc\n/etc/hosts\n/etc/passwd\n/home\n/home/bob\n/home/bob/b.txt\n");
        entry_subtree(root, "etc", id);
        cr_assert_eq(memcmp(id, s.etc, CN_ID_BYTES), 0);
        entry_subtree(root, "home", id);
        uint8_t bob[CN_ID_BYTES];
        entry_subtree(id, "bob", bob);
        cr_assert_eq(memcmp(bob, s.bob, CN_ID_BYTES), 0, "/home/bob kept its id");
        seen_done(&seen);
}

Test(rewrite, a_directory_emptied_stays_empty) {
        Snap s;
        Seen seen = { .drop_path = "/home/bob/b.txt" };
        uint8_t root[CN_ID_BYTES];
        CnRewriteStats st;
        Listing l;
        make_snapshot(&s);
        cr_assert_eq(cn_tree_rewrite(store, s.root, &ops, &seen, root, &st, NULL), 0);
        cr_assert_eq(st.dirs_rewritten, 3, "bob, home, the root");
        list_tree(root, &l);
        cr_assert_str_eq(l.text, "/big\n/etc\n/etc/hosts\n/etc/passwd\n/home\n/home/alice\n/home/alice/a.txt\n"
                                 "/home/alice/sub\n/home/alice/sub/b.txt\n/home/bob\n");
        seen_done(&seen);
}

Test(rewrite, rewritten_directories_keep_the_subjects_of_what_stays) {
        Snap s;
        Seen seen = { .drop_path = "/home/alice/a.txt" };
        uint8_t root[CN_ID_BYTES], home[CN_ID_BYTES], alice[CN_ID_BYTES];
        CnRewriteStats st;
        CnBuf blob = CN_BUF_INIT(CN_MAX_TREE_BYTES);
        CnNode *nodes;
        size_t n;
        make_snapshot(&s);
        cr_assert_eq(cn_tree_rewrite(store, s.root, &ops, &seen, root, &st, NULL), 0);
        cr_assert_eq(st.dirs_rewritten, 3, "alice, home, the root");
        entry_subtree(root, "home", home);
        entry_subtree(home, "alice", alice);
        cr_assert_eq(cn_store_get(store, alice, &blob), 0);
        cr_assert_eq(blob.data[8], 3, "a v3 tree: sub keeps its subject");
        cr_assert_eq(cn_dir_load(store, alice, &blob, &nodes, &n, NULL), 0);
        cr_assert_eq(n, 1);
        cr_assert_str_eq(nodes[0].name, "sub");
        cr_assert(cn_node_has_subject(&nodes[0], "alice", 5));
        cr_assert_eq(memcmp(nodes[0].subtree, s.sub, CN_ID_BYTES), 0);
        cn_nodes_free(nodes, n);
        cr_assert_eq(cn_dir_load(store, home, &blob, &nodes, &n, NULL), 0);
        cr_assert_eq(n, 2);
        cr_assert(cn_node_has_subject(&nodes[0], "alice", 5), "/home/alice keeps its subject");
        cn_nodes_free(nodes, n);
        cn_buf_done(&blob);
        seen_done(&seen);
}

/* A large directory: written again as backup would write it without the
 * dropped entry (the same leaves, content-defined cuts), so it shares every
 * leaf before the dropped entry and the cuts after it find again; exactly
 * the old list and the old leaves it no longer names are reported replaced,
 * and only its new leaves, its list and the root are stored. */
Test(rewrite, a_large_directory_of_several_leaves_shares_its_unchanged_leaves) {
        Snap s;
        Seen seen = { .drop_path = "/big/f001500" };
        uint8_t root[CN_ID_BYTES], big[CN_ID_BYTES], want[CN_ID_BYTES];
        CnRewriteStats st;
        CnBuf blob = CN_BUF_INIT(CN_MAX_TREE_BYTES);
        uint8_t(*old)[CN_ID_BYTES], (*new)[CN_ID_BYTES];
        size_t n_old, n_new, shared = 0, before_drop = 0;
        make_snapshot(&s);
        cr_assert_eq(cn_store_get(store, s.big, &blob), 0);
        cr_assert(cn_tree_is_list(blob.data, blob.len));
        cr_assert_eq(cn_tree_list_decode(blob.data, blob.len, &old, &n_old), 0);
        cr_assert_geq(n_old, 3, "%zu leaves", n_old);
        uint64_t before = blobs_new();
        cr_assert_eq(cn_tree_rewrite(store, s.root, &ops, &seen, root, &st, NULL), 0);
        cr_assert_eq(st.entries, 1);
        cr_assert_eq(st.bytes, 1500);
        uint64_t stored = blobs_new() - before;
        entry_subtree(root, "big", big);
        store_big(1500, want);
        cr_assert_eq(memcmp(big, want, CN_ID_BYTES), 0, "not the directory backup writes without f001500");
        cr_assert_eq(cn_store_get(store, big, &blob), 0);
        cr_assert(cn_tree_is_list(blob.data, blob.len));
        cr_assert_eq(cn_tree_list_decode(blob.data, blob.len, &new, &n_new), 0);
        for (size_t i = 0; i < n_new; i++)
                shared += has_id((const uint8_t(*)[CN_ID_BYTES]) old, n_old, new[i]);
        while (before_drop < n_new && memcmp(new[before_drop], old[before_drop], CN_ID_BYTES) == 0)
                before_drop++;
        cr_assert_geq(before_drop, 1, "the leaves before the dropped entry are shared");
        cr_assert_lt(before_drop, n_new);
        cr_assert_eq(stored, (n_new - shared) + 2, "%lu stored: new leaves, the list, the root", (unsigned long) stored);
        size_t gone = 0;
        for (size_t i = 0; i < n_old; i++)
                if (!has_id((const uint8_t(*)[CN_ID_BYTES]) new, n_new, old[i])) {
                        gone++;
                        cr_assert(has_id((const uint8_t(*)[CN_ID_BYTES]) seen.replaced, seen.n_replaced, old[i]));
                }
        cr_assert_geq(gone, 1);
        cr_assert_eq(seen.n_replaced, gone + 2, "old leaves, old list, old root");
        cr_assert(has_id((const uint8_t(*)[CN_ID_BYTES]) seen.replaced, seen.n_replaced, s.big));
        cr_assert(has_id((const uint8_t(*)[CN_ID_BYTES]) seen.replaced, seen.n_replaced, s.root));
        Listing l;
        list_tree(root, &l);
        cr_assert_eq(l.entries, 11 + BIG_ENTRIES - 1);
        free(old);
        free(new);
        cn_buf_done(&blob);
        seen_done(&seen);
}

Test(rewrite, a_callback_error_ends_the_rewrite) {
        Snap s;
        Seen seen = { .drop_path = "/etc/hosts", .fail_with = -ECANCELED };
        uint8_t root[CN_ID_BYTES];
        CnRewriteStats st;
        make_snapshot(&s);
        cr_assert_eq(cn_tree_rewrite(store, s.root, &ops, &seen, root, &st, NULL), -ECANCELED);
        seen_done(&seen);
}

Test(rewrite, a_missing_tree_is_named) {
        Snap s;
        Seen seen = {};
        uint8_t root[CN_ID_BYTES], out[CN_ID_BYTES], failed[CN_ID_BYTES], missing[CN_ID_BYTES];
        CnRewriteStats st;
        make_snapshot(&s);
        memset(missing, 0x5a, CN_ID_BYTES);
        CnNode top[] = { subdir("gone", missing, NULL) };
        store_dir(top, 1, root);
        cr_assert_eq(cn_tree_rewrite(store, root, &ops, &seen, out, &st, failed), -ENOENT);
        cr_assert_eq(memcmp(failed, missing, CN_ID_BYTES), 0);
        seen_done(&seen);
}
