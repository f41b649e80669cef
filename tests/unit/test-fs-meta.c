/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cn_fsmeta_*: read an entry, re-create and apply it elsewhere, compare.
 *
 * Runs as root (CI) and as an ordinary user; root-only properties (chown to
 * another uid, devices, trusted.*) skip otherwise. Where the file system
 * refuses something (ACLs, pre-1970 times) the test skips that part. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "format.h"
#include "fs-meta.h"
#include "macro.h"

static char tmp_path[] = "/tmp/cn-fsmeta-XXXXXX";
static int tmp_fd = -1;
static int src_fd = -1, dst_fd = -1;

static void setup(void) {
        cr_assert_not_null(mkdtemp(tmp_path));
        tmp_fd = open(tmp_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(tmp_fd, 0);
        cr_assert_eq(mkdirat(tmp_fd, "src", 0755), 0);
        cr_assert_eq(mkdirat(tmp_fd, "dst", 0755), 0);
        src_fd = openat(tmp_fd, "src", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        dst_fd = openat(tmp_fd, "dst", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert(src_fd >= 0 && dst_fd >= 0);
}

static void teardown(void) {
        char cmd[sizeof tmp_path + 16];

        if (tmp_fd < 0)
                return;
        close(src_fd);
        close(dst_fd);
        close(tmp_fd);
        src_fd = dst_fd = tmp_fd = -1;
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_path);
        if (system(cmd) != 0)
                cr_log_warn("could not remove %s", tmp_path);
}

/* cr_skip_test() leaves without running .fini: clean up first. */
#define skip(...)                                                                                                      \
        do {                                                                                                           \
                teardown();                                                                                            \
                cr_skip_test(__VA_ARGS__);                                                                             \
        } while (0)

TestSuite(fsmeta, .init = setup, .fini = teardown);

static bool is_root(void) {
        return geteuid() == 0;
}

static unsigned default_flags(void) {
        return is_root() ? 0 : CN_FSMETA_NO_OWNER;
}

/* Open what cn_fsmeta_* wants an fd for: regular files and directories. */
static int open_entry(int dirfd, const char *name, const struct stat *st) {
        if (S_ISREG(st->st_mode))
                return openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (S_ISDIR(st->st_mode))
                return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return -1;
}

static void read_node(int dirfd, const char *name, CnNode *n) {
        struct stat st;
        _cleanup_close_ int fd = -1;
        int r;

        cr_assert_eq(fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW), 0, "lstat %s: %m", name);
        fd = open_entry(dirfd, name, &st);
        *n = (CnNode){};
        r = cn_fsmeta_read(dirfd, name, fd, &st, n);
        cr_assert_eq(r, 0, "cn_fsmeta_read(%s) = %s", name, strerror(-r));
}

static int apply_node(int dirfd, const char *name, const CnNode *n, unsigned flags) {
        struct stat st;
        _cleanup_close_ int fd = -1;

        cr_assert_eq(fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW), 0, "lstat %s: %m", name);
        fd = open_entry(dirfd, name, &st);
        return cn_fsmeta_apply(dirfd, name, fd, n, flags);
}

static void make_file(int dirfd, const char *name, const void *p, size_t n) {
        _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        cr_assert_geq(fd, 0, "create %s: %m", name);
        if (n > 0)
                cr_assert_eq(write(fd, p, n), (ssize_t) n);
}

static struct stat lstat_at(int dirfd, const char *name) {
        struct stat st;
        cr_assert_eq(fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW), 0, "lstat %s: %m", name);
        return st;
}

/* Value of one xattr of name in dirfd (not following symlinks), or -errno. */
static ssize_t get_xattr(int dirfd, const char *name, const char *attr, void *buf, size_t size) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "/proc/self/fd/%d/%s", dirfd, name);
        ssize_t r = lgetxattr(path, attr, buf, size);
        return r < 0 ? -errno : r;
}

static int set_xattr(int dirfd, const char *name, const char *attr, const void *v, size_t n) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "/proc/self/fd/%d/%s", dirfd, name);
        return lsetxattr(path, attr, v, n, 0) < 0 ? -errno : 0;
}

static const CnXattr *find_xattr(const CnNode *n, const char *name) {
        for (size_t i = 0; i < n->n_xattrs; i++)
                if (strcmp(n->xattrs[i].name, name) == 0)
                        return &n->xattrs[i];
        return NULL;
}

/* Read src/name, create dst/name like it, apply, and return the new node read back. */
static void round_trip_file(const char *name, CnNode *ret_src, CnNode *ret_dst) {
        read_node(src_fd, name, ret_src);
        make_file(dst_fd, name, NULL, 0);
        int r = apply_node(dst_fd, name, ret_src, default_flags());
        cr_assert_eq(r, 0, "apply %s: %s", name, strerror(-r));
        read_node(dst_fd, name, ret_dst);
}

Test(fsmeta, read_fills_type_mode_ids_names_and_times) {
        CnNode n;
        make_file(src_fd, "f", "hello", 5);
        struct stat st = lstat_at(src_fd, "f");

        read_node(src_fd, "f", &n);
        cr_assert_str_eq(n.name, "f");
        cr_assert_eq(n.name_len, 1);
        cr_assert_eq(n.type, CN_NODE_FILE);
        cr_assert_eq(n.mode, st.st_mode & 07777);
        cr_assert_eq(n.uid, st.st_uid);
        cr_assert_eq(n.gid, st.st_gid);
        cr_assert_eq(n.size, 5);
        cr_assert_eq(n.inode, st.st_ino);
        cr_assert_eq(n.dev, st.st_dev);
        cr_assert_eq(n.nlink, 1);
        cr_assert_eq(n.mtime.sec, st.st_mtim.tv_sec);
        cr_assert_eq(n.mtime.nsec, st.st_mtim.tv_nsec);
        cr_assert_eq(n.ctime.sec, st.st_ctim.tv_sec);
        cr_assert_not(n.sparse);
        if (is_root()) {
                cr_assert_str_eq(n.user, "root");
                cr_assert_not_null(n.group);
        }
        cn_node_done(&n);

        /* The name cache answers the same the second time. */
        read_node(src_fd, "f", &n);
        if (is_root())
                cr_assert_str_eq(n.user, "root");
        cn_node_done(&n);
}

Test(fsmeta, mode_with_setuid_setgid_sticky_survives_apply) {
        static const mode_t modes[] = {04755, 02755, 01777, 06711, 0000, 07777, 0640};
        char name[32];

        for (size_t i = 0; i < CN_ELEMENTSOF(modes); i++) {
                CnNode a, b;
                snprintf(name, sizeof name, "f%zu", i);
                make_file(src_fd, name, "x", 1);
                cr_assert_eq(fchmodat(src_fd, name, modes[i], 0), 0);
                cr_assert_eq(lstat_at(src_fd, name).st_mode & 07777, modes[i]);
                round_trip_file(name, &a, &b);
                cr_assert_eq(b.mode, modes[i], "%s: mode %o, want %o", name, b.mode, modes[i]);
                cn_node_done(&a);
                cn_node_done(&b);
        }

        /* A sticky, world-writable directory. */
        CnNode d;
        cr_assert_eq(mkdirat(src_fd, "d", 0700), 0);
        cr_assert_eq(fchmodat(src_fd, "d", 01777, 0), 0);
        read_node(src_fd, "d", &d);
        cr_assert_eq(d.type, CN_NODE_DIR);
        cr_assert_eq(mkdirat(dst_fd, "d", 0700), 0);
        cr_assert_eq(apply_node(dst_fd, "d", &d, default_flags()), 0);
        cr_assert_eq(lstat_at(dst_fd, "d").st_mode & 07777, 01777);
        cn_node_done(&d);
}

Test(fsmeta, ns_times_survive_apply_in_any_year) {
        static const struct {
                const char *what;
                int64_t sec;
                long nsec;
                bool may_refuse; /* pre-1970: some file systems clamp */
        } times[] = {
                {"2100-01-01 00:00:00.123456789", 4102444800, 123456789, false},
                {"1970-01-01 00:00:00.5", 0, 500000000, false},
                {"2024-02-29 12:34:56.000000001", 1709210096, 1, false},
                {"1901-12-14 00:00:00.999999999", -2147472000, 999999999, true},
                {"1969-12-31 23:59:59.25", -1, 250000000, true},
        };

        for (size_t i = 0; i < CN_ELEMENTSOF(times); i++) {
                char name[32];
                struct timespec ts[2] = {
                        {.tv_sec = 1000000000, .tv_nsec = 42},
                        {.tv_sec = times[i].sec, .tv_nsec = times[i].nsec},
                };
                CnNode a, b;

                snprintf(name, sizeof name, "t%zu", i);
                make_file(src_fd, name, NULL, 0);
                cr_assert_eq(utimensat(src_fd, name, ts, AT_SYMLINK_NOFOLLOW), 0);
                struct stat st = lstat_at(src_fd, name);
                if (st.st_mtim.tv_sec != times[i].sec || st.st_mtim.tv_nsec != times[i].nsec) {
                        cr_assert(times[i].may_refuse, "the file system changed %s", times[i].what);
                        cr_log_warn("file system stores %s as %lld.%09ld; not checked", times[i].what,
                                    (long long) st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
                        continue;
                }
                round_trip_file(name, &a, &b);
                cr_assert_eq(a.mtime.sec, times[i].sec, "%s", times[i].what);
                cr_assert_eq(a.mtime.nsec, times[i].nsec, "%s", times[i].what);
                cr_assert_eq(b.mtime.sec, times[i].sec, "%s", times[i].what);
                cr_assert_eq(b.mtime.nsec, times[i].nsec, "%s", times[i].what);
                cr_assert_eq(b.atime.sec, 1000000000);
                cr_assert_eq(b.atime.nsec, 42);
                cn_node_done(&a);
                cn_node_done(&b);
        }
}

Test(fsmeta, user_xattrs_with_binary_values_survive_apply) {
        static const uint8_t bin[] = {0x00, 0xff, 0x0a, 0x00, 0x80, 'z'};
        uint8_t big[4000], buf[8192];
        CnNode a, b;

        for (size_t i = 0; i < sizeof big; i++)
                big[i] = (uint8_t) (i * 7);
        make_file(src_fd, "f", "x", 1);
        if (set_xattr(src_fd, "f", "user.bin", bin, sizeof bin) == -EOPNOTSUPP)
                skip("no user xattrs on this file system");
        cr_assert_eq(set_xattr(src_fd, "f", "user.empty", "", 0), 0);
        cr_assert_eq(set_xattr(src_fd, "f", "user.big", big, sizeof big), 0);
        cr_assert_eq(set_xattr(src_fd, "f", "user.\xff\n odd", "v", 1), 0);
        /* The owner can not set user.* on a file without u+w unless xattrs
         * go on before the mode. */
        cr_assert_eq(fchmodat(src_fd, "f", 0444, 0), 0);

        round_trip_file("f", &a, &b);
        cr_assert_geq(a.n_xattrs, 4);
        for (size_t i = 1; i < a.n_xattrs; i++)
                cr_assert_lt(strcmp(a.xattrs[i - 1].name, a.xattrs[i].name), 0, "xattrs not sorted");
        const CnXattr *x = find_xattr(&a, "user.bin");
        cr_assert_not_null(x);
        cr_assert_eq(x->value_len, sizeof bin);
        cr_assert_eq(memcmp(x->value, bin, sizeof bin), 0);
        x = find_xattr(&a, "user.empty");
        cr_assert_not_null(x);
        cr_assert_eq(x->value_len, 0);

        cr_assert_eq(get_xattr(dst_fd, "f", "user.bin", buf, sizeof buf), (ssize_t) sizeof bin);
        cr_assert_eq(memcmp(buf, bin, sizeof bin), 0);
        cr_assert_eq(get_xattr(dst_fd, "f", "user.big", buf, sizeof buf), (ssize_t) sizeof big);
        cr_assert_eq(memcmp(buf, big, sizeof big), 0);
        cr_assert_eq(get_xattr(dst_fd, "f", "user.empty", buf, sizeof buf), 0);
        cr_assert_eq(get_xattr(dst_fd, "f", "user.\xff\n odd", buf, sizeof buf), 1);
        cr_assert_eq(lstat_at(dst_fd, "f").st_mode & 07777, 0444);
        cr_assert_eq(b.n_xattrs, a.n_xattrs);
        cn_node_done(&a);
        cn_node_done(&b);
}

/* A POSIX ACL in the kernel's xattr form: le32 version 2, then entries of
 * le16 tag, le16 perm, le32 id, sorted by tag then id. */
static size_t build_acl(uint8_t *p, const uint16_t (*ents)[2], const uint32_t *ids, size_t n) {
        size_t o = 0;
        p[o++] = 2, p[o++] = 0, p[o++] = 0, p[o++] = 0;
        for (size_t i = 0; i < n; i++) {
                p[o++] = (uint8_t) ents[i][0], p[o++] = (uint8_t) (ents[i][0] >> 8);
                p[o++] = (uint8_t) ents[i][1], p[o++] = 0;
                for (int k = 0; k < 4; k++)
                        p[o++] = (uint8_t) (ids[i] >> (8 * k));
        }
        return o;
}

enum { ACL_USER_OBJ = 1, ACL_USER = 2, ACL_GROUP_OBJ = 4, ACL_GROUP = 8, ACL_MASK = 0x10, ACL_OTHER = 0x20 };
#define ACL_NOID 0xffffffffu

Test(fsmeta, posix_acls_survive_apply_as_raw_xattrs) {
        static const uint16_t acc[][2] = {
                {ACL_USER_OBJ, 7}, {ACL_USER, 4}, {ACL_GROUP_OBJ, 5}, {ACL_GROUP, 2}, {ACL_MASK, 7}, {ACL_OTHER, 0},
        };
        static const uint32_t acc_ids[] = {ACL_NOID, 12345, ACL_NOID, 54321, ACL_NOID, ACL_NOID};
        static const uint16_t def[][2] = {
                {ACL_USER_OBJ, 7}, {ACL_USER, 5}, {ACL_GROUP_OBJ, 5}, {ACL_MASK, 5}, {ACL_OTHER, 1},
        };
        static const uint32_t def_ids[] = {ACL_NOID, 65534, ACL_NOID, ACL_NOID, ACL_NOID};
        uint8_t va[128], vd[128], buf[256];
        size_t na = build_acl(va, acc, acc_ids, CN_ELEMENTSOF(acc));
        size_t nd = build_acl(vd, def, def_ids, CN_ELEMENTSOF(def));
        CnNode f, d;
        int r;

        make_file(src_fd, "f", "x", 1);
        r = set_xattr(src_fd, "f", "system.posix_acl_access", va, na);
        if (r == -EOPNOTSUPP)
                skip("no POSIX ACLs on this file system");
        cr_assert_eq(r, 0, "set ACL: %s", strerror(-r));
        cr_assert_eq(mkdirat(src_fd, "d", 0755), 0);
        cr_assert_eq(set_xattr(src_fd, "d", "system.posix_acl_access", va, na), 0);
        cr_assert_eq(set_xattr(src_fd, "d", "system.posix_acl_default", vd, nd), 0);
        cr_assert_eq(fchmodat(src_fd, "d", 02770, 0), 0);

        read_node(src_fd, "f", &f);
        cr_assert_eq(f.mode, 0770);
        const CnXattr *x = find_xattr(&f, "system.posix_acl_access");
        cr_assert_not_null(x);
        cr_assert_eq(x->value_len, na);
        cr_assert_eq(memcmp(x->value, va, na), 0);
        make_file(dst_fd, "f", NULL, 0);
        cr_assert_eq(apply_node(dst_fd, "f", &f, default_flags()), 0);
        cr_assert_eq(get_xattr(dst_fd, "f", "system.posix_acl_access", buf, sizeof buf), (ssize_t) na);
        cr_assert_eq(memcmp(buf, va, na), 0);
        cr_assert_eq(lstat_at(dst_fd, "f").st_mode & 07777, 0770);

        read_node(src_fd, "d", &d);
        cr_assert_not_null(find_xattr(&d, "system.posix_acl_default"));
        cr_assert_eq(mkdirat(dst_fd, "d", 0700), 0);
        cr_assert_eq(apply_node(dst_fd, "d", &d, default_flags()), 0);
        ssize_t got = get_xattr(dst_fd, "d", "system.posix_acl_access", buf, sizeof buf);
        cr_assert_eq(got, (ssize_t) na);
        /* chmod 02770 turned the mask into rwx's group bits: compare with src. */
        uint8_t want[256];
        cr_assert_eq(get_xattr(src_fd, "d", "system.posix_acl_access", want, sizeof want), (ssize_t) na);
        cr_assert_eq(memcmp(buf, want, na), 0);
        cr_assert_eq(get_xattr(dst_fd, "d", "system.posix_acl_default", buf, sizeof buf), (ssize_t) nd);
        cr_assert_eq(memcmp(buf, vd, nd), 0);
        cr_assert_eq(lstat_at(dst_fd, "d").st_mode & 07777, 02770);

        /* A file created in d inherits d's default ACL; applying a node that
         * had none removes it again. */
        CnNode plain;
        make_file(src_fd, "plain", NULL, 0);
        cr_assert_eq(fchmodat(src_fd, "plain", 0640, 0), 0);
        read_node(src_fd, "plain", &plain);
        cr_assert_null(find_xattr(&plain, "system.posix_acl_access"));
        _cleanup_close_ int dd = openat(dst_fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(dd, 0);
        make_file(dd, "plain", NULL, 0);
        cr_assert_geq(get_xattr(dd, "plain", "system.posix_acl_access", buf, sizeof buf), 0);
        cr_assert_eq(apply_node(dd, "plain", &plain, default_flags()), 0);
        cr_assert_eq(get_xattr(dd, "plain", "system.posix_acl_access", buf, sizeof buf), -ENODATA);
        cr_assert_eq(lstat_at(dd, "plain").st_mode & 07777, 0640);

        cn_node_done(&f);
        cn_node_done(&d);
        cn_node_done(&plain);
}

Test(fsmeta, symlink_with_non_utf8_name_and_target_round_trips) {
        const char *name = "\xff\xfe link\n\x01";
        const char *target = "../\xc3\x28/\xff target\nwith newline";
        struct timespec ts[2] = {{.tv_sec = 7, .tv_nsec = 8}, {.tv_sec = 4102444800, .tv_nsec = 123456789}};
        char buf[256];
        CnNode a;

        cr_assert_eq(symlinkat(target, src_fd, name), 0);
        cr_assert_eq(utimensat(src_fd, name, ts, AT_SYMLINK_NOFOLLOW), 0);
        read_node(src_fd, name, &a);
        cr_assert_eq(a.type, CN_NODE_SYMLINK);
        cr_assert_eq(a.name_len, strlen(name));
        cr_assert_eq(a.target_len, strlen(target));
        cr_assert_eq(memcmp(a.target, target, a.target_len), 0);

        cr_assert_eq(cn_fsmeta_create_special(dst_fd, &a), 0);
        cr_assert_eq(cn_fsmeta_create_special(dst_fd, &a), -EEXIST);
        cr_assert_eq(cn_fsmeta_apply(dst_fd, name, -1, &a, default_flags()), 0);
        ssize_t n = readlinkat(dst_fd, name, buf, sizeof buf);
        cr_assert_eq(n, (ssize_t) strlen(target));
        cr_assert_eq(memcmp(buf, target, (size_t) n), 0);
        struct stat st = lstat_at(dst_fd, name);
        cr_assert(S_ISLNK(st.st_mode));
        cr_assert_eq(st.st_mtim.tv_sec, 4102444800);
        cr_assert_eq(st.st_mtim.tv_nsec, 123456789);
        cn_node_done(&a);
}

Test(fsmeta, fifo_and_socket_are_recreated_with_mode_and_times) {
        static const struct {
                const char *name;
                mode_t type;
                CnNodeType cn;
                mode_t mode;
        } cases[] = {
                {"fifo", S_IFIFO, CN_NODE_FIFO, 0640},
                {"fifo-sticky", S_IFIFO, CN_NODE_FIFO, 01600},
                {"sock", S_IFSOCK, CN_NODE_SOCK, 0755},
        };

        for (size_t i = 0; i < CN_ELEMENTSOF(cases); i++) {
                struct timespec ts[2] = {{.tv_sec = 5}, {.tv_sec = 123456789, .tv_nsec = 987654321}};
                CnNode a;

                cr_assert_eq(mknodat(src_fd, cases[i].name, cases[i].type | 0600, 0), 0, "mknod: %m");
                cr_assert_eq(fchmodat(src_fd, cases[i].name, cases[i].mode, 0), 0);
                cr_assert_eq(utimensat(src_fd, cases[i].name, ts, AT_SYMLINK_NOFOLLOW), 0);
                read_node(src_fd, cases[i].name, &a);
                cr_assert_eq(a.type, cases[i].cn);
                cr_assert_eq(cn_fsmeta_create_special(dst_fd, &a), 0);
                cr_assert_eq(cn_fsmeta_apply(dst_fd, cases[i].name, -1, &a, default_flags()), 0);
                struct stat st = lstat_at(dst_fd, cases[i].name);
                cr_assert_eq(st.st_mode & S_IFMT, cases[i].type);
                cr_assert_eq(st.st_mode & 07777, cases[i].mode);
                cr_assert_eq(st.st_mtim.tv_sec, 123456789);
                cr_assert_eq(st.st_mtim.tv_nsec, 987654321);
                cr_assert_eq(st.st_atim.tv_sec, 5);
                cn_node_done(&a);
        }
}

Test(fsmeta, sparse_file_reports_merged_data_extents) {
        static const uint64_t MiB = 1024 * 1024;
        uint8_t block[8192];
        CnNode n;
        _cleanup_close_ int fd = openat(src_fd, "sparse", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

        cr_assert_geq(fd, 0);
        memset(block, 'a', sizeof block);
        /* Two writes that touch: one extent [0, 8192). */
        cr_assert_eq(pwrite(fd, block, 4096, 0), 4096);
        cr_assert_eq(pwrite(fd, block, 4096, 4096), 4096);
        cr_assert_eq(pwrite(fd, block, 4096, 10 * MiB), 4096);
        cr_assert_eq(ftruncate(fd, 20 * MiB), 0);
        cr_assert_eq(fsync(fd), 0);
        struct stat st = lstat_at(src_fd, "sparse");
        if ((uint64_t) st.st_blocks * 512 >= 20 * MiB)
                skip("file system does not keep holes");

        /* The caller's offset survives the SEEK_DATA walk. */
        cr_assert_eq(lseek(fd, 1234, SEEK_SET), 1234);
        n = (CnNode){};
        cr_assert_eq(cn_fsmeta_read(src_fd, "sparse", fd, &st, &n), 0);
        cr_assert_eq(lseek(fd, 0, SEEK_CUR), 1234);
        cr_assert(n.sparse);
        cr_assert_eq(n.size, 20 * MiB);
        cr_assert_eq(n.n_extents, 2, "%zu extents", n.n_extents);
        /* File systems may round to their block size; the data must be inside. */
        cr_assert_eq(n.extents[0].offset, 0);
        cr_assert_geq(n.extents[0].length, 8192);
        cr_assert_leq(n.extents[0].length, 1 * MiB);
        cr_assert_leq(n.extents[1].offset, 10 * MiB);
        cr_assert_geq(n.extents[1].offset + n.extents[1].length, 10 * MiB + 4096);
        cr_assert_leq(n.extents[1].offset + n.extents[1].length, 20 * MiB);
        cr_assert_gt(n.extents[1].offset, n.extents[0].offset + n.extents[0].length);
        cn_node_done(&n);

        /* Without an fd nothing is probed. */
        n = (CnNode){};
        cr_assert_eq(cn_fsmeta_read(src_fd, "sparse", -1, &st, &n), 0);
        cr_assert_not(n.sparse);
        cn_node_done(&n);
}

Test(fsmeta, all_hole_file_is_sparse_without_extents_and_dense_file_is_not_sparse) {
        uint8_t data[65536];
        CnNode n;
        _cleanup_close_ int fd = openat(src_fd, "holes", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

        cr_assert_geq(fd, 0);
        cr_assert_eq(ftruncate(fd, 1 << 30), 0);
        read_node(src_fd, "holes", &n);
        if (lstat_at(src_fd, "holes").st_blocks == 0) {
                cr_assert(n.sparse);
                cr_assert_eq(n.n_extents, 0);
                cr_assert_eq(n.size, 1u << 30);
        }
        cn_node_done(&n);

        memset(data, 0x5a, sizeof data);
        make_file(src_fd, "dense", data, sizeof data);
        read_node(src_fd, "dense", &n);
        cr_assert_not(n.sparse);
        cr_assert_eq(n.n_extents, 0);
        cn_node_done(&n);

        make_file(src_fd, "empty", NULL, 0);
        read_node(src_fd, "empty", &n);
        cr_assert_not(n.sparse);
        cr_assert_eq(n.size, 0);
        cn_node_done(&n);
}

Test(fsmeta, hard_links_share_inode_and_count) {
        CnNode a, b;
        make_file(src_fd, "one", "x", 1);
        cr_assert_eq(linkat(src_fd, "one", src_fd, "two", 0), 0);
        read_node(src_fd, "one", &a);
        read_node(src_fd, "two", &b);
        cr_assert_eq(a.nlink, 2);
        cr_assert_eq(a.inode, b.inode);
        cr_assert_eq(a.dev, b.dev);
        cr_assert_eq(a.link_group, 0, "link_group is the caller's");
        cn_node_done(&a);
        cn_node_done(&b);
}

Test(fsmeta, apply_tries_every_step_and_returns_the_first_error) {
        CnNode a;
        make_file(src_fd, "f", "x", 1);
        read_node(src_fd, "f", &a);
        a.mode = 0751;
        a.mtime = (CnTime){.sec = 4102444800, .nsec = 5};
        /* An xattr namespace no file system has: setxattr fails. */
        CnXattr *x = realloc(a.xattrs, (a.n_xattrs + 1) * sizeof *x);
        cr_assert_not_null(x);
        a.xattrs = x;
        a.xattrs[a.n_xattrs++] =
                (CnXattr){.name = strdup("bogus.ns"), .value = (uint8_t *) strdup("v"), .value_len = 1};

        make_file(dst_fd, "f", NULL, 0);
        int r = apply_node(dst_fd, "f", &a, default_flags());
        cr_assert_eq(r, -EOPNOTSUPP, "got %d", r);
        struct stat st = lstat_at(dst_fd, "f");
        cr_assert_eq(st.st_mode & 07777, 0751);
        cr_assert_eq(st.st_mtim.tv_sec, 4102444800);
        cr_assert_eq(st.st_mtim.tv_nsec, 5);
        cn_node_done(&a);
}

Test(fsmeta, create_special_refuses_bad_names_and_regular_types) {
        CnNode n = {.type = CN_NODE_FIFO, .mode = 0644};
        const char *bad[] = {"", ".", "..", "a/b"};

        for (size_t i = 0; i < CN_ELEMENTSOF(bad); i++) {
                n.name = (char *) bad[i];
                n.name_len = strlen(bad[i]);
                cr_assert_eq(cn_fsmeta_create_special(dst_fd, &n), -EINVAL, "%s", bad[i]);
        }
        n.name = (char *) "a\0b";
        n.name_len = 3;
        cr_assert_eq(cn_fsmeta_create_special(dst_fd, &n), -EINVAL);
        n.name = (char *) "f";
        n.name_len = 1;
        n.type = CN_NODE_FILE;
        cr_assert_eq(cn_fsmeta_create_special(dst_fd, &n), -EINVAL);
        n.type = CN_NODE_SYMLINK;
        cr_assert_eq(cn_fsmeta_create_special(dst_fd, &n), -EINVAL, "symlink without target");
}

Test(fsmeta, names_of_255_bytes_deeper_than_path_max_work) {
        char name[256];
        int fd = dup(src_fd), dfd = dup(dst_fd);
        size_t depth = 2 * PATH_MAX / 255 + 2;
        CnNode a;

        /* Every byte but '/' and NUL, and a newline. */
        for (size_t i = 0; i < 255; i++)
                name[i] = (char) ((1 + i % 254) == '/' ? 'x' : 1 + i % 254);
        name[255] = 0;
        name[0] = '\n';
        name[1] = (char) 0xff;
        for (size_t i = 0; i < depth; i++) {
                int nfd, ndfd;
                cr_assert_eq(mkdirat(fd, name, 0755), 0, "mkdir depth %zu: %m", i);
                cr_assert_eq(mkdirat(dfd, name, 0755), 0);
                nfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                ndfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                cr_assert(nfd >= 0 && ndfd >= 0);
                close(fd);
                close(dfd);
                fd = nfd;
                dfd = ndfd;
        }
        make_file(fd, name, "deep", 4);
        cr_assert_eq(fchmodat(fd, name, 04711, 0), 0);
        if (set_xattr(fd, name, "user.deep", "1", 1) != 0)
                cr_log_warn("no user xattrs here");
        read_node(fd, name, &a);
        cr_assert_eq(a.name_len, 255);
        cr_assert_eq(memcmp(a.name, name, 255), 0);
        make_file(dfd, name, NULL, 0);
        cr_assert_eq(apply_node(dfd, name, &a, default_flags()), 0);
        cr_assert_eq(lstat_at(dfd, name).st_mode & 07777, 04711);
        cr_assert_eq(a.n_xattrs > 0, get_xattr(dfd, name, "user.deep", NULL, 0) == 1);

        /* A symlink at that depth: its xattrs go through /proc/self/fd/<dirfd>. */
        CnNode l;
        cr_assert_eq(symlinkat("t", fd, "l"), 0);
        read_node(fd, "l", &l);
        cr_assert_eq(cn_fsmeta_create_special(dfd, &l), 0);
        cr_assert_eq(cn_fsmeta_apply(dfd, "l", -1, &l, default_flags()), 0);
        cn_node_done(&a);
        cn_node_done(&l);
        close(fd);
        close(dfd);
}

Test(fsmeta, owner_applies_by_name_then_by_number) {
        CnNode a;

        if (!is_root())
                skip("chown to another uid needs root");
        make_file(src_fd, "f", "x", 1);
        cr_assert_eq(fchownat(src_fd, "f", 12345, 54321, 0), 0);
        cr_assert_eq(fchmodat(src_fd, "f", 06755, 0), 0);
        read_node(src_fd, "f", &a);
        cr_assert_eq(a.uid, 12345);
        cr_assert_eq(a.gid, 54321);
        cr_assert_null(a.user, "uid 12345 has a name here: %s", a.user);

        /* No name: the number, and setuid survives the chown. */
        make_file(dst_fd, "f", NULL, 0);
        cr_assert_eq(apply_node(dst_fd, "f", &a, 0), 0);
        struct stat st = lstat_at(dst_fd, "f");
        cr_assert_eq(st.st_uid, 12345);
        cr_assert_eq(st.st_gid, 54321);
        cr_assert_eq(st.st_mode & 07777, 06755);

        /* A name known here wins over the recorded number... */
        free(a.user);
        a.user = strdup("nobody");
        cr_assert_eq(apply_node(dst_fd, "f", &a, 0), 0);
        st = lstat_at(dst_fd, "f");
        struct passwd *pw = getpwnam("nobody");
        if (pw)
                cr_assert_eq(st.st_uid, pw->pw_uid);
        cr_assert_eq(st.st_mode & 07777, 06755);

        /* ...unless numeric owners are asked for. */
        cr_assert_eq(apply_node(dst_fd, "f", &a, CN_FSMETA_NUMERIC_OWNER), 0);
        cr_assert_eq(lstat_at(dst_fd, "f").st_uid, 12345);

        /* An unknown name falls back to the number. */
        free(a.user);
        a.user = strdup("cairn-no-such-user-here");
        a.uid = 23456;
        cr_assert_eq(apply_node(dst_fd, "f", &a, 0), 0);
        cr_assert_eq(lstat_at(dst_fd, "f").st_uid, 23456);

        /* NO_OWNER leaves the owner alone. */
        a.uid = 1;
        a.gid = 1;
        cr_assert_eq(apply_node(dst_fd, "f", &a, CN_FSMETA_NO_OWNER | CN_FSMETA_NUMERIC_OWNER), 0);
        cr_assert_eq(lstat_at(dst_fd, "f").st_uid, 23456);

        /* Symlinks are chowned themselves, not their target. */
        CnNode l;
        cr_assert_eq(symlinkat("f", src_fd, "l"), 0);
        cr_assert_eq(fchownat(src_fd, "l", 777, 888, AT_SYMLINK_NOFOLLOW), 0);
        read_node(src_fd, "l", &l);
        cr_assert_eq(cn_fsmeta_create_special(dst_fd, &l), 0);
        cr_assert_eq(cn_fsmeta_apply(dst_fd, "l", -1, &l, 0), 0);
        cr_assert_eq(lstat_at(dst_fd, "l").st_uid, 777);
        cr_assert_eq(lstat_at(dst_fd, "l").st_gid, 888);
        cr_assert_eq(lstat_at(dst_fd, "f").st_uid, 23456);
        cn_node_done(&a);
        cn_node_done(&l);
}

Test(fsmeta, char_and_block_devices_round_trip) {
        if (!is_root())
                skip("mknod of devices needs root");
        static const struct {
                const char *name;
                mode_t type;
                CnNodeType cn;
                unsigned maj, min;
        } cases[] = {
                {"null", S_IFCHR, CN_NODE_CHR, 1, 3},
                {"blk", S_IFBLK, CN_NODE_BLK, 7, 200},
                {"bigminor", S_IFCHR, CN_NODE_CHR, 4095, 1048575},
        };
        for (size_t i = 0; i < CN_ELEMENTSOF(cases); i++) {
                CnNode a;
                dev_t dev = makedev(cases[i].maj, cases[i].min);
                cr_assert_eq(mknodat(src_fd, cases[i].name, cases[i].type | 0600, dev), 0, "mknod: %m");
                cr_assert_eq(fchmodat(src_fd, cases[i].name, 0620, 0), 0);
                read_node(src_fd, cases[i].name, &a);
                cr_assert_eq(a.type, cases[i].cn);
                cr_assert_eq(a.rdev, dev);
                cr_assert_eq(cn_fsmeta_create_special(dst_fd, &a), 0);
                cr_assert_eq(cn_fsmeta_apply(dst_fd, cases[i].name, -1, &a, 0), 0);
                struct stat st = lstat_at(dst_fd, cases[i].name);
                cr_assert_eq(st.st_mode & S_IFMT, cases[i].type);
                cr_assert_eq(st.st_rdev, dev);
                cr_assert_eq(major(st.st_rdev), cases[i].maj);
                cr_assert_eq(minor(st.st_rdev), cases[i].min);
                cr_assert_eq(st.st_mode & 07777, 0620);
                cn_node_done(&a);
        }
}

Test(fsmeta, trusted_xattrs_round_trip_as_root) {
        static const uint8_t v[] = {0, 1, 2, 0xff};
        uint8_t buf[16];
        CnNode a, b;

        if (!is_root())
                skip("trusted.* needs CAP_SYS_ADMIN");
        make_file(src_fd, "f", "x", 1);
        int r = set_xattr(src_fd, "f", "trusted.cairn", v, sizeof v);
        if (r == -EOPNOTSUPP || r == -EPERM)
                skip("trusted xattrs refused here: %s", strerror(-r));
        cr_assert_eq(r, 0);
        /* trusted.* is allowed on symlinks, unlike user.*. */
        cr_assert_eq(symlinkat("f", src_fd, "l"), 0);
        cr_assert_eq(set_xattr(src_fd, "l", "trusted.link", "L", 1), 0);

        round_trip_file("f", &a, &b);
        cr_assert_not_null(find_xattr(&a, "trusted.cairn"));
        cr_assert_eq(get_xattr(dst_fd, "f", "trusted.cairn", buf, sizeof buf), (ssize_t) sizeof v);
        cr_assert_eq(memcmp(buf, v, sizeof v), 0);
        cn_node_done(&a);
        cn_node_done(&b);

        read_node(src_fd, "l", &a);
        cr_assert_not_null(find_xattr(&a, "trusted.link"));
        cr_assert_null(find_xattr(&a, "trusted.cairn"), "read the target's xattrs");
        cr_assert_eq(cn_fsmeta_create_special(dst_fd, &a), 0);
        cr_assert_eq(cn_fsmeta_apply(dst_fd, "l", -1, &a, 0), 0);
        cr_assert_eq(get_xattr(dst_fd, "l", "trusted.link", buf, sizeof buf), 1);
        cn_node_done(&a);
}

/* ---- inode flags ---- */

static int get_flags(int dirfd, const char *name, uint32_t *ret) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        int v = 0;
        if (fd < 0 || ioctl(fd, FS_IOC_GETFLAGS, &v) < 0)
                return -errno;
        *ret = (uint32_t) v;
        return 0;
}

/* Set (or with clear, remove) flags on name; -errno when refused. */
static int set_flags(int dirfd, const char *name, uint32_t flags, bool clear) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        int v = 0;
        if (fd < 0 || ioctl(fd, FS_IOC_GETFLAGS, &v) < 0)
                return -errno;
        v = clear ? (int) ((uint32_t) v & ~flags) : (int) ((uint32_t) v | flags);
        return ioctl(fd, FS_IOC_SETFLAGS, &v) < 0 ? -errno : 0;
}

/* Flags this file system takes here, or skip. */
static void need_flags(int dirfd, const char *name, uint32_t flags) {
        int r = set_flags(dirfd, name, flags, false);
        if (r == -ENOTTY || r == -EOPNOTSUPP || r == -EINVAL || r == -EPERM)
                skip("inode flags %#x not supported here: %s", flags, strerror(-r));
        cr_assert_eq(r, 0, "set flags: %s", strerror(-r));
        cr_assert_eq(set_flags(dirfd, name, flags, true), 0);
}

Test(fsmeta, inode_flags_are_read_from_files_and_directories) {
        CnNode f, d, d2;
        struct stat st;
        make_file(src_fd, "f", "x", 1);
        cr_assert_eq(mkdirat(src_fd, "d", 0755), 0);
        need_flags(src_fd, "f", FS_NOATIME_FL | FS_NODUMP_FL);
        cr_assert_eq(set_flags(src_fd, "f", FS_NOATIME_FL | FS_NODUMP_FL, false), 0);
        cr_assert_eq(set_flags(src_fd, "d", FS_DIRSYNC_FL | FS_NODUMP_FL, false), 0);
        read_node(src_fd, "f", &f);
        read_node(src_fd, "d", &d);
        cr_assert_eq(f.fsflags, FS_NOATIME_FL | FS_NODUMP_FL, "file: %#x", f.fsflags);
        cr_assert_eq(d.fsflags, FS_DIRSYNC_FL | FS_NODUMP_FL, "dir: %#x", d.fsflags);
        cr_assert(f.fsflags_known && d.fsflags_known);
        /* A directory given without fd is opened for its flags. */
        cr_assert_eq(fstatat(src_fd, "d", &st, AT_SYMLINK_NOFOLLOW), 0);
        d2 = (CnNode) {};
        cr_assert_eq(cn_fsmeta_read(src_fd, "d", -1, &st, &d2), 0);
        cr_assert_eq(d2.fsflags, d.fsflags);
        cn_node_done(&f);
        cn_node_done(&d);
        cn_node_done(&d2);
}

/* Flags go on last: an immutable, append-only file still gets its xattrs,
 * mode and times; and kept flags it should not have are cleared. */
Test(fsmeta, inode_flags_are_applied_last_and_exactly) {
        CnNode n;
        uint32_t got;
        if (!is_root())
                skip("immutable and append-only need CAP_LINUX_IMMUTABLE");
        make_file(src_fd, "f", "x", 1);
        need_flags(src_fd, "f", FS_IMMUTABLE_FL | FS_APPEND_FL | FS_NOATIME_FL);
        if (set_xattr(src_fd, "f", "user.k", "v", 1) < 0)
                skip("no user xattrs here");
        cr_assert_eq(fchmodat(src_fd, "f", 0640, 0), 0);
        struct timespec ts[2] = { { 1000000000, 5 }, { 1000000000, 7 } };
        cr_assert_eq(utimensat(src_fd, "f", ts, 0), 0);
        cr_assert_eq(set_flags(src_fd, "f", FS_IMMUTABLE_FL | FS_APPEND_FL | FS_NOATIME_FL, false), 0);
        read_node(src_fd, "f", &n);
        cr_assert_eq(set_flags(src_fd, "f", FS_IMMUTABLE_FL | FS_APPEND_FL, true), 0);

        make_file(dst_fd, "f", "x", 1);
        cr_assert_eq(set_flags(dst_fd, "f", FS_NODUMP_FL, false), 0);       /* not in the node: cleared */
        int r = apply_node(dst_fd, "f", &n, 0);
        cr_assert_eq(r, 0, "apply: %s", strerror(-r));
        cr_assert_eq(get_flags(dst_fd, "f", &got), 0);
        cr_assert_eq(got & CN_FSFLAGS_KEEP, FS_IMMUTABLE_FL | FS_APPEND_FL | FS_NOATIME_FL, "flags %#x", got);
        char v[4];
        cr_assert_eq(get_xattr(dst_fd, "f", "user.k", v, sizeof v), 1, "the xattr was not set before +i");
        struct stat st = lstat_at(dst_fd, "f");
        cr_assert_eq(st.st_mode & 07777, 0640);
        cr_assert_eq(st.st_mtim.tv_sec, 1000000000);
        cr_assert_eq(st.st_mtim.tv_nsec, 7);
        cr_assert_eq(set_flags(dst_fd, "f", FS_IMMUTABLE_FL | FS_APPEND_FL, true), 0);
        cn_node_done(&n);
}

/* Not root: immutable and append-only are left alone (like ownership), the
 * rest is applied, and that is no error. */
Test(fsmeta, without_root_immutable_and_append_only_are_left_alone) {
        CnNode n = { .type = CN_NODE_FILE, .mode = 0600, .name = "f", .name_len = 1 };
        uint32_t got;
        make_file(dst_fd, "f", "x", 1);
        need_flags(dst_fd, "f", FS_NOATIME_FL);
        n.fsflags = FS_IMMUTABLE_FL | FS_APPEND_FL | FS_NOATIME_FL;
        n.uid = geteuid();
        n.gid = getegid();
        n.mtime = (CnTime) { 1000000000, 0 };
        int r = apply_node(dst_fd, "f", &n, CN_FSMETA_NO_OWNER);
        cr_assert_eq(r, 0, "apply: %s", strerror(-r));
        cr_assert_eq(get_flags(dst_fd, "f", &got), 0);
        cr_assert_eq(got & CN_FSFLAGS_KEEP, FS_NOATIME_FL, "flags %#x", got);
        n.name = NULL;
}

/* A flag the file system refuses is an error; no flags on such a file
 * system is none. tmpfs takes i, a, d, A only. */
Test(fsmeta, a_refused_flag_is_an_error_and_no_flags_need_nothing) {
        char dir[] = "/dev/shm/cn-fsmeta-XXXXXX";
        if (!mkdtemp(dir))
                skip("no /dev/shm");
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cr_assert_geq(dfd, 0);
        make_file(dfd, "f", "x", 1);
        CnNode n = { .type = CN_NODE_FILE, .mode = 0600, .name = "f", .name_len = 1, .fsflags = FS_SYNC_FL };
        n.uid = geteuid();
        n.gid = getegid();
        int r = apply_node(dfd, "f", &n, CN_FSMETA_NO_OWNER);
        n.fsflags = 0;
        int r0 = apply_node(dfd, "f", &n, CN_FSMETA_NO_OWNER);
        unlinkat(dfd, "f", 0);
        close(dfd);
        rmdir(dir);
        n.name = NULL;
        if (r == 0)
                cr_skip_test("this tmpfs takes the sync flag");
        cr_assert_lt(r, 0);
        cr_assert_eq(r0, 0, "no flags to set failed: %s", strerror(-r0));
}
