/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Backup of files that change while they are read (issue 8 item 2): the
 * entry is what was read (extents, size and chunks agree) and flagged, and
 * restore and dump give it back. Deterministic: the file is changed through
 * the before_read hook, between its extents being read and its data. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup.h"
#include "fileio.h"
#include "format.h"
#include "repo.h"
#include "restore.h"
#include "store.h"
#include "tree.h"

#define MIB (1024 * 1024)

static char dir[64], src[128], path[160];
static CnBackend *backend;
static CnRepo *repo;
static const CnRepoInitOptions fast = { .kdf = { 1, 8192 } };

static void setup(void) {
        cr_assert_eq(cn_crypto_init(), 0);
        snprintf(dir, sizeof dir, "/tmp/cairn-test-backup.XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        snprintf(src, sizeof src, "%s/src", dir);
        snprintf(path, sizeof path, "%s/file", src);
        cr_assert_eq(mkdir(src, 0700), 0);
        char repo_dir[128];
        snprintf(repo_dir, sizeof repo_dir, "%s/repo", dir);
        cr_assert_eq(cn_backend_open(repo_dir, true, &backend), 0);
        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &repo), 0);
}

static void teardown(void) {
        char cmd[128];
        cn_repo_unref(repo);
        cn_backend_close(backend);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        cr_assert_eq(system(cmd), 0);
}

TestSuite(changed, .init = setup, .fini = teardown);

static void fill(uint8_t *p, size_t n, uint32_t seed) {
        for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                p[i] = (uint8_t) (seed >> 16);
        }
}

/* A file of size bytes with data (random) at [off, off + len) of each extent. */
static void make_file(uint64_t size, const CnExtent *data, size_t n) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        cr_assert_geq(fd, 0);
        cr_assert_eq(ftruncate(fd, (off_t) size), 0);
        for (size_t i = 0; i < n; i++) {
                uint8_t *p = malloc(data[i].length);
                fill(p, data[i].length, (uint32_t) i + 1);
                cr_assert_eq(pwrite(fd, p, data[i].length, (off_t) data[i].offset), (ssize_t) data[i].length);
                free(p);
        }
        close(fd);
}

typedef struct Change {
        enum { TRUNCATE, APPEND } what;
        uint64_t at;
} Change;

static void change_file(int fd, void *userdata) {
        const Change *c = userdata;
        (void) fd;
        if (c->what == TRUNCATE)
                cr_assert_eq(truncate(path, (off_t) c->at), 0);
        else {
                int w = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
                cr_assert_geq(w, 0);
                cr_assert_eq(write(w, "more", 4), 4);
                close(w);
        }
}

static int n_changed;
static void on_error(const char *p, int error, void *userdata) {
        cr_assert_str_eq(p, path);
        cr_assert_eq(error, CN_BACKUP_CHANGED);
        n_changed++;
}

/* The whole file as it is now, read back. */
static void read_all(const char *p, CnBuf *out) {
        cn_buf_reset(out);
        cr_assert_eq(cn_read_file_at(AT_FDCWD, p, out), 0);
}

/* Back up src with the change made between extents and data; the entry
 * must be consistent, flagged, and restore and dump must give what was
 * read (the change only removed or added bytes at the end). */
static void back_up_and_check(const Change *c, bool want_sparse) {
        CnController *ctl = cn_repo_controller(repo, 0);
        char *paths[] = { src };
        CnBackupOptions o = {
                .paths = paths,
                .n_paths = 1,
                .hostname = "h",
                .username = "u",
                .stdin_fd = -1,
                .on_error = on_error,
                .before_read = change_file,
                .userdata = (void *) c,
        };
        CnSnapshot snap = {};
        CnStore *store;
        CnNode n = {};
        CnBuf now = CN_BUF_INIT(64 * MIB), got = CN_BUF_INIT(64 * MIB);

        n_changed = 0;
        cr_assert_eq(cn_backup_run(repo, ctl, &o, &snap), 0);
        cr_assert_eq(n_changed, 1, "the change was not reported");
        cr_assert(snap.flags & CN_SNAPSHOT_PARTIAL);
        cr_assert_eq(snap.n_errors, 1);
        cr_assert_eq(snap.errors[0].error, CN_BACKUP_CHANGED);

        cr_assert_eq(cn_store_open(repo, ctl, CN_STORE_KEYS, &store), 0);
        cr_assert_eq(cn_snapshot_find_node(store, &snap, path, &n), 0);
        cr_assert_eq(n.sparse, want_sparse, "the file system made no holes?");
        /* Consistent: the chunks hold exactly the extents' bytes, all within size. */
        uint64_t data = 0, in_chunks = 0, end = 0;
        for (size_t i = 0; i < n.n_extents; i++) {
                cr_assert_gt(n.extents[i].length, 0);
                cr_assert_geq(n.extents[i].offset, end);
                end = n.extents[i].offset + n.extents[i].length;
                data += n.extents[i].length;
        }
        cr_assert_leq(end, n.size);
        for (size_t i = 0; i < n.n_chunks; i++) {
                uint32_t raw;
                cr_assert_eq(cn_store_blob_size(store, n.chunks[i], &raw), 0);
                in_chunks += raw;
        }
        cr_assert_eq(in_chunks, n.sparse ? data : n.size);

        /* Dump and restore give the file as it is now (what was read of a
         * file that grew: its size before). */
        read_all(path, &now);
        if (c->what == TRUNCATE)
                cr_assert_eq(n.size, now.len);
        cr_assert_leq(n.size, now.len);
        now.len = n.size;
        char out[192];
        snprintf(out, sizeof out, "%s/dump", dir);
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        cr_assert_eq(cn_dump_file(store, &n, fd), 0);
        close(fd);
        read_all(out, &got);
        cr_assert(got.len == now.len && memcmp(got.data, now.data, now.len) == 0, "dump differs");

        char target[192], restored[384];
        snprintf(target, sizeof target, "%s/target", dir);
        cr_assert_eq(cn_mkdir_p_at(AT_FDCWD, target, 0700), 0);
        int tfd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CnRestoreOptions ro = { .target_fd = tfd, .meta_flags = CN_FSMETA_NO_OWNER };
        CnRestoreStats st;
        cr_assert_eq(cn_restore_run(store, &snap, &ro, &st), 0);
        close(tfd);
        cr_assert_eq(st.errors, 0);
        snprintf(restored, sizeof restored, "%s%s", target, path);
        read_all(restored, &got);
        cr_assert(got.len == now.len && memcmp(got.data, now.data, now.len) == 0, "restore differs");

        cn_buf_done(&now);
        cn_buf_done(&got);
        cn_node_done(&n);
        cn_store_free(store);
        cn_snapshot_done(&snap);
}

static const CnExtent three[] = { { 0, MIB }, { 4 * MIB, MIB }, { 9 * MIB, MIB } };

Test(changed, sparse_file_truncated_inside_an_extent_is_stored_as_read) {
        make_file(12 * MIB, three, 3);
        back_up_and_check(&(Change) { TRUNCATE, 4 * MIB + 12345 }, true);
}

Test(changed, sparse_file_truncated_in_a_hole_is_stored_as_read) {
        make_file(12 * MIB, three, 3);
        back_up_and_check(&(Change) { TRUNCATE, 6 * MIB }, true);
}

Test(changed, sparse_file_truncated_to_nothing_is_stored_as_read) {
        make_file(12 * MIB, three, 3);
        back_up_and_check(&(Change) { TRUNCATE, 0 }, true);
}

Test(changed, sparse_file_grown_is_flagged) {
        make_file(12 * MIB, three, 3);
        back_up_and_check(&(Change) { APPEND, 0 }, true);
}

Test(changed, plain_file_truncated_is_stored_as_read) {
        static const CnExtent all[] = { { 0, 3 * MIB } };
        make_file(3 * MIB, all, 1);
        back_up_and_check(&(Change) { TRUNCATE, MIB + 1 }, false);
}

static int restore_error;
static void on_restore_error(const char *p, int error, void *userdata) {
        cr_assert_str_eq(p, "/old");
        restore_error = error;
}

/* What a backup before this fix stored for a sparse file truncated while it
 * was read: extents holding more bytes than its chunks. Restore and dump
 * give what was stored (the rest as holes) and say the entry does not match
 * (-EUCLEAN), never that the data failed authentication. */
Test(changed, entry_with_more_extents_than_data_restores_what_was_stored) {
        CnController *ctl = cn_repo_controller(repo, 0);
        CnStore *store;
        uint8_t *data = malloc(MIB);
        CnBuf tree = CN_BUF_INIT(CN_MAX_TREE_BYTES), got = CN_BUF_INIT(16 * MIB);
        CnExtent ext[] = { { 0, MIB }, { 4 * MIB, MIB } };
        CnNode n = {
                .name = "old",
                .name_len = 3,
                .type = CN_NODE_FILE,
                .mode = 0600,
                .size = 8 * MIB,
                .sparse = true,
                .extents = ext,
                .n_extents = 2,
        };
        uint8_t ids[1][CN_ID_BYTES];
        CnSnapshot snap = {};

        fill(data, MIB, 7);
        cr_assert_eq(cn_store_open(repo, ctl, CN_STORE_KEYS | CN_STORE_WRITE, &store), 0);
        cn_store_chunk_id(store, data, MIB, ids[0]);
        cr_assert_eq(cn_store_put(store, CN_BLOB_DATA, ids[0], data, MIB, NULL), 0);
        n.chunks = ids;
        n.n_chunks = 1;
        cr_assert_eq(cn_tree_encode(&n, 1, &tree), 0);
        cn_store_chunk_id(store, tree.data, tree.len, snap.tree);
        cr_assert_eq(cn_store_put(store, CN_BLOB_TREE, snap.tree, tree.data, tree.len, NULL), 0);
        cr_assert_eq(cn_store_flush(store), 0);

        char out[192];
        snprintf(out, sizeof out, "%s/dump", dir);
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        cr_assert_eq(cn_dump_file(store, &n, fd), -EUCLEAN);
        close(fd);
        read_all(out, &got);
        cr_assert_eq(got.len, 8 * MIB);
        cr_assert_eq(memcmp(got.data, data, MIB), 0);
        for (size_t i = MIB; i < got.len; i++)
                cr_assert_eq(got.data[i], 0);

        char target[192], restored[256];
        snprintf(target, sizeof target, "%s/target", dir);
        cr_assert_eq(mkdir(target, 0700), 0);
        int tfd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CnRestoreOptions ro = { .target_fd = tfd, .meta_flags = CN_FSMETA_NO_OWNER, .on_error = on_restore_error };
        CnRestoreStats st;
        restore_error = 0;
        cr_assert_eq(cn_restore_run(store, &snap, &ro, &st), 0);
        close(tfd);
        cr_assert_eq(st.errors, 1);
        cr_assert_eq(restore_error, EUCLEAN);
        cr_assert_eq(st.files, 1);
        snprintf(restored, sizeof restored, "%s/old", target);
        read_all(restored, &got);
        cr_assert_eq(got.len, 8 * MIB);
        cr_assert_eq(memcmp(got.data, data, MIB), 0);

        cn_buf_done(&tree);
        cn_buf_done(&got);
        cn_store_free(store);
        free(data);
}

/* Issue 9, item 1: forget removes snapshot objects only, so a backup whose
 * parent is forgotten while it runs still finishes, and takes what did not
 * change from the parent's trees. Deterministic: the parent is removed from
 * the before_read hook, when the first file ("0", changed) is read and
 * before the walk reaches "z" (unchanged, matched in the parent). */
static const CnSnapshot *forgotten;
static int n_removed;
static void forget_parent(int fd, void *userdata) {
        (void) fd;
        (void) userdata;
        if (forgotten && n_removed++ == 0)
                cr_assert_eq(cn_snapshot_remove(repo, forgotten), 0);
}

static void write_file(const char *name, const char *text) {
        char p[192];
        snprintf(p, sizeof p, "%s/%s", src, name);
        FILE *f = fopen(p, "w");
        cr_assert_not_null(f);
        fputs(text, f);
        cr_assert_eq(fclose(f), 0);
}

TestSuite(forget, .init = setup, .fini = teardown);

Test(forget, item1_a_backup_whose_parent_is_forgotten_meanwhile_finishes) {
        CnController *ctl = cn_repo_controller(repo, 0);
        char *paths[] = { src };
        CnBackupOptions o = { .paths = paths, .n_paths = 1, .hostname = "h", .username = "u", .stdin_fd = -1,
                              .before_read = forget_parent };
        CnSnapshot first = {}, second = {}, *list;
        size_t n;
        CnStore *store;
        CnNode z0 = {}, z1 = {}, f0 = {};
        char zpath[192], fpath[192];

        write_file("0", "first");
        write_file("z", "unchanged");
        cr_assert_eq(cn_backup_run(repo, ctl, &o, &first), 0);
        sleep(1);       /* a new mtime and ctime for "0" */
        write_file("0", "second, longer");
        forgotten = &first;
        n_removed = 0;
        o.parent = &first;
        cr_assert_eq(cn_backup_run(repo, ctl, &o, &second), 0);
        cr_assert_eq(n_removed, 1, "\"0\" was read %d times (once expected; \"z\" must come from the parent)",
                     n_removed);
        forgotten = NULL;

        cr_assert_eq(cn_snapshot_list(repo, ctl, NULL, NULL, &list, &n), 0);
        cr_assert_eq(n, 1);
        cr_assert_str_eq(list[0].id_hex, second.id_hex);
        cn_snapshots_free(list, n);

        cr_assert_eq(cn_store_open(repo, ctl, CN_STORE_KEYS, &store), 0);
        snprintf(zpath, sizeof zpath, "%s/z", src);
        snprintf(fpath, sizeof fpath, "%s/0", src);
        cr_assert_eq(cn_snapshot_find_node(store, &first, zpath, &z0), 0);
        cr_assert_eq(cn_snapshot_find_node(store, &second, zpath, &z1), 0);
        cr_assert_eq(z1.n_chunks, z0.n_chunks);
        cr_assert_eq(memcmp(z1.chunks, z0.chunks, z0.n_chunks * sizeof *z0.chunks), 0);
        cr_assert_eq(cn_snapshot_find_node(store, &second, fpath, &f0), 0);
        cr_assert_eq(f0.size, strlen("second, longer"));
        cn_node_done(&z0);
        cn_node_done(&z1);
        cn_node_done(&f0);
        cn_store_free(store);
        cn_snapshot_done(&first);
        cn_snapshot_done(&second);
}
