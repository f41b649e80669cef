/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chunker.h"
#include "fileio.h"
#include "format.h"
#include "fs-meta.h"
#include "linktable.h"
#include "macro.h"
#include "store.h"
#include "tree.h"

#define MAX_PATH_BYTES (1u << 20)
/* The least room a read gets: the buffer holds the largest chunk and this. */
#define READ_BYTES (1u << 20)
/* The most source errors a snapshot lists, and bytes of their paths; more
 * are reported (on_error) but not listed. */
#define MAX_ERRORS (1u << 20)
#define MAX_ERROR_BYTES (64u << 20)
/* The most directory fds the walk keeps open at once (fd_window()). */
#define FD_WINDOW_MAX 32

typedef struct LinkEntry {
        CnNode node;                    /* the first name seen, content included */
} LinkEntry;

typedef struct Backup {
        CnRepo *repo;
        CnController *c;
        const CnBackupOptions *o;
        CnStore *store;
        CnChunker *chunker;
        CnSnapshot *snap;
        uint8_t *buf;                   /* read window: 2 * max chunk */
        size_t buf_cap;
        CnBuf path;                     /* absolute path of the entry at hand, NUL-terminated */
        CnBuf parent_blob;              /* scratch of the parent snapshot's tree blobs */
        size_t fd_window;               /* directory fds the walk keeps open */
        size_t error_bytes;             /* of the paths in snap->errors */
        CnLinkTable *links;             /* (dev, inode) -> LinkEntry, files with more than one link */
        uint64_t next_link_group;
        dev_t root_dev;
} Backup;

static int64_t mono_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- paths ---- */

int cn_path_clean(const char *p, char **ret) {
        _cleanup_free_ char *abs = NULL;
        if (p[0] != '/') {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);
                if (!cwd)
                        return -errno;
                if (asprintf(&abs, "%s/%s", cwd, p) < 0)
                        return -ENOMEM;
        } else if (!(abs = strdup(p)))
                return -ENOMEM;
        char *out = malloc(strlen(abs) + 2);
        if (!out)
                return -ENOMEM;
        size_t n = 0;
        for (char *s = abs; *s;) {
                while (*s == '/')
                        s++;
                char *e = strchrnul(s, '/');
                size_t len = (size_t) (e - s);
                if (len == 0 || (len == 1 && s[0] == '.')) {
                } else if (len == 2 && s[0] == '.' && s[1] == '.') {
                        while (n > 0 && out[n - 1] != '/')
                                n--;
                        if (n > 0)
                                n--;
                } else {
                        out[n++] = '/';
                        memcpy(out + n, s, len);
                        n += len;
                }
                s = e;
        }
        if (n == 0)
                out[n++] = '/';
        out[n] = 0;
        *ret = out;
        return 0;
}

/* Push "/name" onto b->path; returns the length to pop back to. */
static int path_push(Backup *b, const char *name, size_t name_len, size_t *ret_mark) {
        int r;
        *ret_mark = b->path.len;
        if (b->path.len > 1 || (b->path.len == 1 && b->path.data[0] != '/')) {
                if ((r = cn_buf_put_u8(&b->path, '/')) < 0)
                        return r;
        }
        if ((r = cn_buf_append(&b->path, name, name_len)) < 0 || (r = cn_buf_put_u8(&b->path, 0)) < 0)
                return r;
        b->path.len--;          /* keep the NUL outside len */
        return 0;
}

static void path_pop(Backup *b, size_t mark) {
        b->path.len = mark;
        b->path.data[mark] = 0;
}

static const char *path_str(Backup *b) {
        return b->path.len ? (const char *) b->path.data : "/";
}

static int source_error(Backup *b, int error) {
        CnSnapshot *s = b->snap;
        if (b->o->on_error)
                b->o->on_error(path_str(b), error, b->o->userdata);
        s->flags |= CN_SNAPSHOT_PARTIAL;
        /* The list is capped so the snapshot stays far below its cap. */
        if (s->n_errors >= MAX_ERRORS || b->error_bytes >= MAX_ERROR_BYTES)
                return 0;
        CnSnapshotError *e = realloc(s->errors, (s->n_errors + 1) * sizeof *e);
        if (!e)
                return -ENOMEM;
        s->errors = e;
        /* Deeper than a snapshot records a path (FORMAT.md "Limits"): the
         * leading components that fit, then "/..." (what is below them). */
        const char *p = path_str(b);
        size_t len = strlen(p);
        if (len > CN_MAX_PATH_BYTES) {
                len = CN_MAX_PATH_BYTES - 4;
                while (len > 0 && p[len] != '/')
                        len--;
        }
        e[s->n_errors].path = malloc(len + 5);
        if (!e[s->n_errors].path)
                return -ENOMEM;
        memcpy(e[s->n_errors].path, p, len);
        strcpy(e[s->n_errors].path + len, p[len] ? "/..." : "");
        b->error_bytes += len + 8;
        e[s->n_errors++].error = error;
        return 0;
}

/* Errors of the source that skip one entry rather than fail the backup. */
static bool skippable(int r) {
        return r == -ENOENT || r == -EACCES || r == -EPERM || r == -ELOOP || r == -ENOTDIR || r == -ENXIO ||
               r == -ENODEV || r == -EIO || r == -ESTALE || r == -ENAMETOOLONG || r == -EOVERFLOW ||
               r == -ETXTBSY || r == -EWOULDBLOCK || r == -ENODATA;
}

/* ---- content ---- */

static int add_chunk(CnNode *n, size_t *cap, const uint8_t id[CN_ID_BYTES]) {
        if (CN_GROW(n->chunks, *cap, n->n_chunks) < 0)
                return -ENOMEM;
        memcpy(n->chunks[n->n_chunks++], id, CN_ID_BYTES);
        return 0;
}

static int store_chunk(Backup *b, CnNode *n, size_t *cap, const uint8_t *p, size_t len) {
        uint8_t id[CN_ID_BYTES];
        cn_store_chunk_id(b->store, p, len, id);
        int r = cn_store_put(b->store, CN_BLOB_DATA, id, p, len, NULL);
        if (r < 0)
                return r;
        return add_chunk(n, cap, id);
}

/* Where store_stream() reads from: fd to its end from the current offset,
 * or only the given ranges (the data extents of a sparse file). A ranged
 * read that finds the file ended before a range did trims the ranges to
 * what was read and ends there. */
typedef struct Source {
        int fd;
        bool ranged;
        CnExtent *ranges;
        size_t n_ranges, ri;
        uint64_t roff, rleft;
        bool eof;
        bool shrank;                    /* ranged: the file ended at roff, before its ranges did */
} Source;

/* One read (or pread) into the n bytes at p: bytes read, 0 at the end of
 * the source (src->eof set), or a negative errno. */
static ssize_t source_read(Source *src, uint8_t *p, size_t n) {
        for (;;) {
                ssize_t k;
                if (src->ranged) {
                        while (src->rleft == 0 && src->ri < src->n_ranges) {
                                src->roff = src->ranges[src->ri].offset;
                                src->rleft = src->ranges[src->ri].length;
                                src->ri++;
                        }
                        if (src->rleft == 0) {
                                src->eof = true;
                                return 0;
                        }
                        k = pread(src->fd, p, CN_MIN(n, src->rleft), (off_t) src->roff);
                        if (k == 0) {
                                /* Truncated under us: what was read is all there is. */
                                src->ranges[src->ri - 1].length -= src->rleft;
                                for (size_t i = src->ri; i < src->n_ranges; i++)
                                        src->ranges[i].length = 0;
                                src->rleft = 0;
                                src->shrank = src->eof = true;
                                return 0;
                        }
                        if (k > 0) {
                                src->roff += (uint64_t) k;
                                src->rleft -= (uint64_t) k;
                        }
                } else {
                        k = read(src->fd, p, n);
                        if (k == 0)
                                src->eof = true;
                }
                if (k < 0 && errno == EINTR)
                        continue;
                return k < 0 ? -errno : k;
        }
}

/* The file changed while it was read: it is stored as read (a consistent
 * entry, restorable), and flagged, which makes the snapshot partial. */
static bool changed_while_read(const Source *src, const struct stat *before, uint64_t total) {
        struct stat after;
        if (src->shrank || (!src->ranged && total != (uint64_t) before->st_size))
                return true;
        if (fstat(src->fd, &after) < 0)
                return false;
        return after.st_size != before->st_size || after.st_mtim.tv_sec != before->st_mtim.tv_sec ||
               after.st_mtim.tv_nsec != before->st_mtim.tv_nsec || after.st_ctim.tv_sec != before->st_ctim.tv_sec ||
               after.st_ctim.tv_nsec != before->st_ctim.tv_nsec;
}

/* Read fd to its end from the current offset (n not sparse), or just the
 * data extents of sparse n (none for a file of holes only), and store the
 * bytes as content-defined chunks. n's size and extents are then what was
 * read: a file that shrank while read keeps the extents up to where it
 * ended. st is fd's stat before reading (NULL for a stream): a file whose
 * stat differs after the read, or that ended early, is reported as changed
 * (CN_BACKUP_CHANGED). Returns 0 or a negative errno.
 *
 * The buffer holds the largest chunk plus one read. A cut is final once the
 * chunker finds a boundary inside the bytes read so far, or they reach the
 * largest chunk, or the source ends: a boundary depends only on the bytes
 * before it, so reading more cannot move it. Otherwise more is read, after
 * moving the unfinished chunk to the front when the buffer's end is near. */
static int store_stream(Backup *b, int fd, const struct stat *st, CnNode *n) {
        const size_t max = cn_chunker_params(b->chunker)->max_size;
        Source src = { .fd = fd, .ranged = n->sparse, .ranges = n->extents, .n_ranges = n->n_extents };
        size_t have = 0, start = 0, cap = 0;
        uint64_t total = 0;
        int r;

        if (st && b->o->before_read)
                b->o->before_read(fd, b->o->userdata);
        for (;;) {
                size_t cut = have ? cn_chunker_cut(b->chunker, b->buf + start, have) : 0;
                if (have > 0 && (cut < have || have >= max || src.eof)) {
                        r = store_chunk(b, n, &cap, b->buf + start, cut);
                        if (r < 0)
                                return r;
                        start += cut;
                        have -= cut;
                        if (have == 0)
                                start = 0;
                        continue;
                }
                if (src.eof)
                        break;
                if (b->buf_cap - start - have < READ_BYTES) {
                        memmove(b->buf, b->buf + start, have);
                        start = 0;
                }
                ssize_t k = source_read(&src, b->buf + start + have, b->buf_cap - start - have);
                if (k < 0)
                        return (int) k;
                have += (size_t) k;
                total += (uint64_t) k;
        }
        if (!n->sparse)
                n->size = total;        /* what we read is what we have */
        else if (src.shrank) {
                /* It ended at or before roff, after the last byte read: take
                 * its size now where that is in between. */
                struct stat now;
                size_t k = 0;
                for (size_t i = 0; i < n->n_extents; i++)
                        if (n->extents[i].length > 0)
                                n->extents[k++] = n->extents[i];
                n->n_extents = k;
                uint64_t end = k ? n->extents[k - 1].offset + n->extents[k - 1].length : 0;
                n->size = src.roff;
                if (fstat(fd, &now) == 0 && (uint64_t) now.st_size >= end && (uint64_t) now.st_size < n->size)
                        n->size = (uint64_t) now.st_size;
        }
        if (st && changed_while_read(&src, st, total))
                return source_error(b, CN_BACKUP_CHANGED);
        return 0;
}

/* ---- hard links ---- */

static void link_entry_free(void *p) {
        LinkEntry *e = p;
        cn_node_done(&e->node);
        free(e);
}

static LinkEntry *link_find(Backup *b, uint64_t dev, uint64_t ino) {
        return b->links ? cn_linktable_get(b->links, dev, ino) : NULL;
}

static int link_add(Backup *b, const CnNode *n) {
        int r;
        if (!b->links && (r = cn_linktable_new(link_entry_free, &b->links)) < 0)
                return r;
        LinkEntry *e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        r = cn_node_copy(&e->node, n);
        if (r >= 0)
                r = cn_linktable_put(b->links, n->dev, n->inode, e);
        if (r < 0)
                link_entry_free(e);
        return r;
}

/* ---- the parent snapshot ---- */

/* A small directory of the parent (the virtual top), loaded whole. */
typedef struct ParentDir {
        CnNode *nodes;
        size_t n;
} ParentDir;

static void parent_dir_done(ParentDir *p) {
        cn_nodes_free(p->nodes, p->n);
        *p = (ParentDir) {};
}

/* Load the parent's tree id; any failure just means "no parent here". */
static void parent_dir_load(Backup *b, const uint8_t id[CN_ID_BYTES], ParentDir *ret) {
        *ret = (ParentDir) {};
        if (cn_dir_load(b->store, id, &b->parent_blob, &ret->nodes, &ret->n, NULL) < 0)
                *ret = (ParentDir) {};
}

static const CnNode *parent_find(const ParentDir *p, const char *name, size_t len) {
        size_t lo = 0, hi = p->n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = cn_name_cmp(p->nodes[mid].name, p->nodes[mid].name_len, name, len);
                if (c == 0)
                        return &p->nodes[mid];
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

/* The parent's copy of a directory the walk is in, read a leaf at a time
 * as the walk's names (sorted the same way) go by. */
typedef struct ParentCursor {
        CnDirReader *rd;                /* NULL: no parent here (or it could not be read) */
        CnNode *nodes;                  /* the current leaf */
        size_t n, i;
} ParentCursor;

static void parent_cursor_done(ParentCursor *pc) {
        cn_dir_reader_free(pc->rd);
        cn_nodes_free(pc->nodes, pc->n);
        *pc = (ParentCursor) {};
}

static void parent_cursor_open(Backup *b, const CnNode *parent, ParentCursor *ret) {
        *ret = (ParentCursor) {};
        if (parent && parent->type == CN_NODE_DIR &&
            cn_dir_reader_open(cn_tree_get_from_store, b->store, parent->subtree, &b->parent_blob, &ret->rd) < 0)
                ret->rd = NULL;
}

/* The parent's entry of that name, or NULL; names come in increasing order.
 * The entry is valid until the next call. Any failure means "no parent". */
static const CnNode *parent_cursor_find(Backup *b, ParentCursor *pc, const char *name, size_t len) {
        while (pc->rd) {
                for (; pc->i < pc->n; pc->i++) {
                        int c = cn_name_cmp(pc->nodes[pc->i].name, pc->nodes[pc->i].name_len, name, len);
                        if (c == 0)
                                return &pc->nodes[pc->i];
                        if (c > 0)
                                return NULL;
                }
                cn_nodes_free(pc->nodes, pc->n);
                pc->nodes = NULL;
                pc->n = pc->i = 0;
                CnNode *leaf;
                size_t k;
                if (cn_dir_reader_next(pc->rd, &b->parent_blob, &leaf, &k) <= 0) {
                        pc->rd = cn_dir_reader_free(pc->rd);
                        break;
                }
                pc->nodes = leaf;
                pc->n = k;
        }
        return NULL;
}

static bool chunks_known(Backup *b, const CnNode *n) {
        for (size_t i = 0; i < n->n_chunks; i++)
                if (!cn_store_contains(b->store, n->chunks[i]))
                        return false;
        return true;
}

/* Same inode, size, mtime and ctime as the parent's entry: the content, and
 * everything a ctime change would reveal (mode, owner, xattrs, inode
 * flags), is unchanged. */
static bool parent_unchanged(Backup *b, const CnNode *p, const struct stat *st) {
        return p && p->type == CN_NODE_FILE && p->size == (uint64_t) st->st_size &&
               p->inode == (uint64_t) st->st_ino && p->mtime.sec == st->st_mtim.tv_sec &&
               p->mtime.nsec == (uint32_t) st->st_mtim.tv_nsec && p->ctime.sec == st->st_ctim.tv_sec &&
               p->ctime.nsec == (uint32_t) st->st_ctim.tv_nsec && chunks_known(b, p);
}

/* ---- trees ---- */

/* Trees are stored, and large directories cut into leaves, as
 * docs/FORMAT.md "Large directories" says (keyed by the controller). */
static int tree_writer_new(Backup *b, CnTreeWriter **ret) {
        return cn_tree_writer_new(cn_tree_put_to_store, cn_tree_cut_by_store, b->store, ret);
}

/* Add n (which this takes) to a directory; b->path is n's path. Its data
 * subjects are the rules' for that path (whatever a parent's entry it was
 * copied from had); one that cannot be recorded is reported. An entry
 * too large for any tree blob is skipped and recorded; so is every entry
 * once the directory is full, which sets *full. */
static int tree_add(Backup *b, CnTreeWriter *w, CnNode *n, bool *full) {
        size_t left_out = 0;
        int r = cn_subject_rules_apply(b->o->subjects, path_str(b), b->path.len ? b->path.len : 1, n, &left_out);
        if (r >= 0 && left_out && b->o->on_error)
                b->o->on_error(path_str(b), CN_BACKUP_SUBJECT, b->o->userdata);
        if (r >= 0)
                r = cn_tree_writer_add(w, n);
        cn_node_done(n);
        if (r == -EFBIG || r == -E2BIG) {
                if (r == -E2BIG && full)
                        *full = true;
                return source_error(b, -r);
        }
        return r;
}

/* Store nodes (any order; taken) as the directory prefix (for messages, "" for the root). */
static int store_tree(Backup *b, const char *prefix, CnNode *nodes, size_t n, uint8_t ret_id[CN_ID_BYTES]) {
        _cleanup_(cn_tree_writer_freep) CnTreeWriter *w = NULL;
        size_t i = 0;
        int r;

        cn_nodes_sort(nodes, n);
        r = tree_writer_new(b, &w);
        for (; r >= 0 && i < n; i++) {
                size_t mark;
                b->path.len = 0;
                r = path_push(b, prefix[0] ? prefix : "/", prefix[0] ? strlen(prefix) : 1, &mark);
                if (r >= 0)
                        r = path_push(b, nodes[i].name, nodes[i].name_len, &mark);
                if (r >= 0)
                        r = tree_add(b, w, &nodes[i], NULL);
        }
        for (; i < n; i++)
                cn_node_done(&nodes[i]);
        if (r >= 0)
                r = cn_tree_writer_finish(w, ret_id);
        return r;
}

static int store_tree_empty(Backup *b, uint8_t ret_id[CN_ID_BYTES]) {
        return store_tree(b, "", NULL, 0, ret_id);
}

/* ---- directory listings ---- */

/* A directory's names, sorted, back to back in one allocation. */
typedef struct Names {
        char *buf;
        size_t len, cap;
        size_t *off;
        size_t n, cap_off;
} Names;

static void names_done(Names *n) {
        free(n->buf);
        free(n->off);
        *n = (Names) {};
}

static const char *names_get(const Names *n, size_t i) {
        return n->buf + n->off[i];
}

static int names_cmp(const void *x, const void *y, void *u) {
        return strcmp((const char *) u + *(const size_t *) x, (const char *) u + *(const size_t *) y);
}

static int names_add(Names *n, const char *name) {
        size_t len = strlen(name) + 1;
        if (CN_GROW(n->off, n->cap_off, n->n) < 0)
                return -ENOMEM;
        if (n->cap - n->len < len) {
                size_t c = CN_MAX(n->cap ? n->cap * 2 : 64, n->len + len);
                char *p = realloc(n->buf, c);
                if (!p)
                        return -ENOMEM;
                n->buf = p;
                n->cap = c;
        }
        memcpy(n->buf + n->len, name, len);
        n->off[n->n++] = n->len;
        n->len += len;
        return 0;
}

/* Every name in directory fd but "." and "..", sorted as trees sort them
 * (strcmp is memcmp order on NUL-free names, shorter first). A directory
 * with more than a tree can hold is cut at that many names, recorded. */
static int names_read(Backup *b, int fd, Names *ret) {
        Names n = {};
        bool full = false;
        int r = 0;

        int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dfd < 0)
                return -errno;
        DIR *d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return -errno;
        }
        for (;;) {
                errno = 0;
                struct dirent *de = readdir(d);
                if (!de) {
                        if (errno)
                                r = -errno;
                        break;
                }
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (n.n == CN_MAX_DIR_ENTRIES) {
                        full = true;
                        break;
                }
                if ((r = names_add(&n, de->d_name)) < 0)
                        break;
        }
        closedir(d);
        if (r >= 0 && full)
                r = source_error(b, E2BIG);
        if (r < 0) {
                names_done(&n);
                return r;
        }
        if (n.n > 1)
                qsort_r(n.off, n.n, sizeof *n.off, names_cmp, n.buf);
        *ret = n;
        return 0;
}

/* ---- the walk ---- */

/* What every freshly read node goes through. */
static void meta_read_done(Backup *b, CnNode *n) {
        if (!b->o->record_atime)
                n->atime = (CnTime) {};
}

static bool excluded_nodump(Backup *b, uint32_t fsflags) {
        return b->o->exclude_nodump && (fsflags & CN_FSFLAG_NODUMP);
}

static int set_name(CnNode *n, const char *name, size_t len) {
        free(n->name);
        n->name = strndup(name, len);
        n->name_len = len;
        return n->name ? 0 : -ENOMEM;
}

/* Open name in dirfd as the regular file st says it is: the fd, or a
 * negative errno; -ENOENT when something else is there now. */
static int open_file(int dirfd, const char *name, const struct stat *st, struct stat *ret_st) {
        _cleanup_close_ int fd =
                openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_NOATIME);
        if (fd < 0 && errno == EPERM)   /* O_NOATIME needs ownership */
                fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, ret_st) < 0)
                return -errno;
        if (ret_st->st_ino != st->st_ino || ret_st->st_dev != st->st_dev || !S_ISREG(ret_st->st_mode))
                return -ENOENT;         /* replaced between readdir and open */
        return TAKE_FD(fd);
}

/* 1: excluded (--exclude-nodump), n left for the caller to clear. */
static int backup_file(Backup *b, int dirfd, const char *name, const struct stat *st, const CnNode *parent,
                       CnNode *n) {
        _cleanup_close_ int fd = -1;
        struct stat st2;
        int r;

        if (parent_unchanged(b, parent, st)) {
                uint32_t fsflags = parent->fsflags;
                if (!parent->fsflags_known) {
                        /* A v1 parent did not record the inode flags: ask the file. */
                        fd = open_file(dirfd, name, st, &st2);
                        if (fd < 0)
                                return fd;
                        r = cn_fsmeta_read_fsflags(fd, &fsflags);
                        if (r < 0)
                                return r;
                }
                if (excluded_nodump(b, fsflags))
                        return 1;
                r = cn_node_copy(n, parent);
                if (r < 0)
                        return r;
                if (b->o->record_atime)
                        n->atime = (CnTime) { st->st_atim.tv_sec, (uint32_t) st->st_atim.tv_nsec };
                n->nlink = st->st_nlink;
                n->dev = st->st_dev;
                n->link_group = 0;
                n->fsflags = fsflags;
                n->fsflags_known = true;
                return 0;
        }
        fd = open_file(dirfd, name, st, &st2);
        if (fd < 0)
                return fd;
        r = cn_fsmeta_read(dirfd, name, fd, &st2, n);
        if (r < 0)
                return r;
        meta_read_done(b, n);
        if (excluded_nodump(b, n->fsflags))
                return 1;
        return store_stream(b, fd, &st2, n);
}

/* Open the directory name in dirfd (st from fstatat) and read its node.
 * Returns 0 with *ret_fd and n filled, 1 when it is skipped (excluded, or
 * unreadable and recorded: n is cleared), or a negative errno. */
static int open_dir(Backup *b, int dirfd, const char *name, const struct stat *st, int *ret_fd, struct stat *ret_st,
                    CnNode *n) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int r = 0;

        if (fd < 0)
                r = -errno;
        else if (fstat(fd, ret_st) < 0)
                r = -errno;
        else if (ret_st->st_ino != st->st_ino || ret_st->st_dev != st->st_dev)
                r = -ENOENT;            /* replaced between fstatat and open */
        if (r >= 0) {
                r = cn_fsmeta_read(dirfd, name, fd, ret_st, n);
                meta_read_done(b, n);
        }
        if (r >= 0 && excluded_nodump(b, n->fsflags)) {
                cn_node_done(n);
                return 1;
        }
        if (r < 0) {
                cn_node_done(n);
                return skippable(r) ? (source_error(b, -r) < 0 ? -ENOMEM : 1) : r;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static bool crosses_fs(Backup *b, const struct stat *st) {
        return b->o->one_file_system && st->st_dev != b->root_dev;
}

static int backup_entry(Backup *b, int dirfd, const char *name, size_t name_len, const struct stat *st,
                        const CnNode *parent, CnNode *n, bool *ret_skip);

/* One directory on the walk's stack. */
typedef struct Frame {
        int fd;                         /* -1: outside the window of open directories */
        uint64_t dev, ino;              /* as opened: a reopened fd must be this directory */
        Names names;
        size_t next;                    /* the next name to back up */
        size_t path_mark;               /* b->path without this directory's name */
        CnTreeWriter *w;
        ParentCursor pc;
        CnNode self;                    /* its own entry, for the frame above once done */
        bool lost;                      /* gone or full: the rest of it is skipped */
} Frame;

typedef struct Walk {
        Frame *f;
        size_t depth, cap;
} Walk;

static void frame_done(Frame *f) {
        if (f->fd >= 0)
                close(f->fd);
        names_done(&f->names);
        cn_tree_writer_free(f->w);
        parent_cursor_done(&f->pc);
        cn_node_done(&f->self);
        *f = (Frame) { .fd = -1 };
}

static void walk_done(Walk *wk) {
        for (size_t i = 0; i < wk->depth; i++)
                frame_done(&wk->f[i]);
        free(wk->f);
        *wk = (Walk) {};
}

/* Push the directory open as fd (taken, with its names, taken) whose entry is
 * self (taken; empty for the walk's root) and whose copy in the parent
 * snapshot is parent. Beyond the window, the fd of the directory that many
 * levels up is closed: reopened when the walk comes back to it. */
static int walk_push(Backup *b, Walk *wk, int fd, const struct stat *st, Names *names, CnNode *self,
                     const CnNode *parent, size_t path_mark) {
        if (CN_GROW(wk->f, wk->cap, wk->depth) < 0) {
                close(fd);
                names_done(names);
                cn_node_done(self);
                return -ENOMEM;
        }
        Frame *f = &wk->f[wk->depth++];
        *f = (Frame) { .fd = fd, .dev = st->st_dev, .ino = st->st_ino, .names = *names, .path_mark = path_mark,
                       .self = *self };
        *names = (Names) {};
        *self = (CnNode) {};
        parent_cursor_open(b, parent, &f->pc);
        if (wk->depth > b->fd_window + 1) {
                Frame *old = &wk->f[wk->depth - 1 - b->fd_window];
                if (old->fd >= 0)
                        old->fd = (close(old->fd), -1);
        }
        return tree_writer_new(b, &f->w);
}

static bool same_dir(int fd, const Frame *f) {
        struct stat st;
        return fstat(fd, &st) == 0 && (uint64_t) st.st_dev == f->dev && (uint64_t) st.st_ino == f->ino;
}

/* Give frame i back its fd: ".." of frame i+1 (still open) when that is the
 * directory recorded, else component by component from the nearest open
 * frame above, never following a symlink, each level checked. -ESTALE when
 * another directory is there now, -ENOENT when none is. */
static int walk_reopen(Walk *wk, size_t i) {
        Frame *f = &wk->f[i];
        if (i + 1 < wk->depth && wk->f[i + 1].fd >= 0) {
                int fd = openat(wk->f[i + 1].fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd >= 0 && same_dir(fd, f)) {
                        f->fd = fd;
                        return 0;
                }
                if (fd >= 0)
                        close(fd);
        }
        size_t a = i;
        while (a > 0 && wk->f[a].fd < 0)
                a--;
        int cur = wk->f[a].fd;
        for (size_t k = a + 1; k <= i; k++) {
                const Frame *up = &wk->f[k - 1];
                int fd = openat(cur, names_get(&up->names, up->next - 1), O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                                                                 O_CLOEXEC);
                int e = errno;
                if (cur != wk->f[a].fd)
                        close(cur);
                if (fd < 0)
                        return -e;
                if (!same_dir(fd, &wk->f[k])) {
                        close(fd);
                        return -ESTALE;
                }
                cur = fd;
        }
        f->fd = cur;
        return 0;
}

/* One name of the top frame. The entry is added to the frame's tree, or,
 * a directory, pushed as a frame of its own. */
static int walk_entry(Backup *b, Walk *wk) {
        Frame *f = &wk->f[wk->depth - 1];
        const char *name = names_get(&f->names, f->next++);
        size_t len = strlen(name), mark;
        struct stat st;
        int r;

        r = path_push(b, name, len, &mark);
        if (r == -E2BIG) {
                path_pop(b, mark);
                return source_error(b, ENAMETOOLONG);
        }
        if (r < 0)
                return r;
        if (b->o->excludes && cn_patterns_match(b->o->excludes, path_str(b))) {
                path_pop(b, mark);
                return 0;
        }
        if (fstatat(f->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                r = -errno;
                if (skippable(r))
                        r = source_error(b, -r);
                path_pop(b, mark);
                return r;
        }
        const CnNode *pn = parent_cursor_find(b, &f->pc, name, len);
        CnNode n = {};
        if (S_ISDIR(st.st_mode)) {
                struct stat st2;
                int fd;
                r = open_dir(b, f->fd, name, &st, &fd, &st2, &n);
                if (r != 0) {
                        path_pop(b, mark);
                        return r < 0 ? r : 0;
                }
                if (crosses_fs(b, &st2)) {
                        close(fd);
                        r = store_tree_empty(b, n.subtree);
                        if (r >= 0)
                                r = tree_add(b, f->w, &n, &f->lost);
                        if (r >= 0)
                                b->snap->dirs++;
                        cn_node_done(&n);
                        path_pop(b, mark);
                        return r;
                }
                Names names;
                r = names_read(b, fd, &names);
                if (r < 0) {
                        close(fd);
                        cn_node_done(&n);
                        if (skippable(r))
                                r = source_error(b, -r);
                        path_pop(b, mark);
                        return r;
                }
                /* The path stays pushed until the frame is done. */
                return walk_push(b, wk, fd, &st2, &names, &n, pn, mark);
        }
        bool skip;
        r = backup_entry(b, f->fd, name, len, &st, pn, &n, &skip);
        if (r >= 0 && !skip)
                r = tree_add(b, f->w, &n, &f->lost);
        cn_node_done(&n);
        path_pop(b, mark);
        return r;
}

/* Back up the directory open as fd (borrowed; st its fstat) and everything
 * below it, depth first, without recursion: each level is a frame holding
 * the directory's sorted names, its tree writer (one leaf at most) and its
 * parent-snapshot cursor. Only the innermost b->fd_window directories keep
 * an fd (and the walk's root); the others are reopened on the way back up.
 * ret_id gets the directory's tree id. */
static int walk(Backup *b, int fd, const struct stat *st, const CnNode *parent, uint8_t ret_id[CN_ID_BYTES]) {
        _cleanup_(walk_done) Walk wk = {};
        Names names;
        CnNode none = {};
        int r;

        int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dfd < 0)
                return -errno;
        r = names_read(b, dfd, &names);
        if (r < 0) {
                close(dfd);
                return r;
        }
        r = walk_push(b, &wk, dfd, st, &names, &none, parent, b->path.len);
        while (r >= 0) {
                Frame *f = &wk.f[wk.depth - 1];
                if (!f->lost && f->next < f->names.n) {
                        r = walk_entry(b, &wk);
                        continue;
                }
                uint8_t id[CN_ID_BYTES];
                r = cn_tree_writer_finish(f->w, id);
                if (r < 0)
                        break;
                if (wk.depth == 1) {
                        memcpy(ret_id, id, CN_ID_BYTES);
                        break;
                }
                /* Back up one level: the parent gets its fd again (from
                 * this one, still open) and this directory's entry. */
                Frame *up = &wk.f[wk.depth - 2];
                if (up->fd < 0 && !up->lost) {
                        r = walk_reopen(&wk, wk.depth - 2);
                        if (r < 0 && !skippable(r))
                                break;
                        if (r < 0) {
                                /* Its path, for the message: this one's without the last name. */
                                size_t here = b->path.len;
                                path_pop(b, f->path_mark);
                                r = source_error(b, -r);
                                b->path.len = here;
                                up->lost = true;
                                if (r < 0)
                                        break;
                        }
                }
                memcpy(f->self.subtree, id, CN_ID_BYTES);
                r = tree_add(b, up->w, &f->self, &up->lost);
                if (r >= 0)
                        b->snap->dirs++;
                path_pop(b, f->path_mark);
                frame_done(f);
                wk.depth--;
        }
        return r;
}

static int backup_entry(Backup *b, int dirfd, const char *name, size_t name_len, const struct stat *st,
                        const CnNode *parent, CnNode *n, bool *ret_skip) {
        int r = 0;

        *ret_skip = false;
        if (S_ISREG(st->st_mode)) {
                LinkEntry *le = st->st_nlink > 1 ? link_find(b, st->st_dev, st->st_ino) : NULL;
                if (le) {
                        r = cn_node_copy(n, &le->node);
                        if (r >= 0)
                                r = set_name(n, name, name_len);
                        if (r >= 0) {
                                b->snap->files++;
                                b->snap->bytes += n->size;
                        }
                        return r;
                }
                r = backup_file(b, dirfd, name, st, parent, n);
                if (r == 1) {
                        cn_node_done(n);
                        *ret_skip = true;
                        return 0;
                }
                if (r >= 0 && st->st_nlink > 1) {
                        n->link_group = ++b->next_link_group;
                        r = link_add(b, n);
                }
                if (r >= 0) {
                        b->snap->files++;
                        b->snap->bytes += n->size;
                }
        } else if (S_ISDIR(st->st_mode)) {
                _cleanup_close_ int fd = -1;
                struct stat st2;
                r = open_dir(b, dirfd, name, st, &fd, &st2, n);
                if (r != 0) {
                        *ret_skip = r > 0;
                        return r < 0 ? r : 0;
                }
                if (crosses_fs(b, &st2))
                        r = store_tree_empty(b, n->subtree);
                else
                        r = walk(b, fd, &st2, parent, n->subtree);
                if (r >= 0)
                        b->snap->dirs++;
        } else {
                r = cn_fsmeta_read(dirfd, name, -1, st, n);
                meta_read_done(b, n);
                if (r >= 0)
                        b->snap->others++;
        }
        if (r >= 0)
                r = set_name(n, name, name_len);
        if (r < 0 && skippable(r)) {
                cn_node_done(n);
                *ret_skip = true;
                return source_error(b, -r);
        }
        return r;
}

/* ---- the top: a virtual tree of the requested paths ---- */

/* The leading directory prefix, O_PATH: it need only be searchable, not
 * readable. When st holds what an earlier open saw, it must be that one. */
static int virtual_open(const char *prefix, struct stat *st, bool again) {
        _cleanup_close_ int fd = open(prefix[0] ? prefix : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct stat now;
        if (fd < 0 || fstat(fd, &now) < 0)
                return -errno;
        if (again && (now.st_dev != st->st_dev || now.st_ino != st->st_ino))
                return -ENOENT;
        *st = now;
        return TAKE_FD(fd);
}

/* paths[0..n) all start with prefix + "/" (prefix "" for the root).
 * Builds the tree of the directory prefix holding just those paths. Its
 * fd is closed while a deeper leading directory is done, so the fds held
 * stay few however many components the paths have. */
static int backup_virtual(Backup *b, const char *prefix, char *const *paths, size_t n, const CnNode *parent,
                          uint8_t ret_id[CN_ID_BYTES]) {
        _cleanup_(parent_dir_done) ParentDir pd = {};
        _cleanup_close_ int dirfd = -1;
        struct stat dst = {};
        size_t plen = strlen(prefix);
        CnNode *nodes = calloc(n ? n : 1, sizeof *nodes);
        size_t n_nodes = 0;
        int r = 0;

        if (!nodes)
                return -ENOMEM;
        if (parent && parent->type == CN_NODE_DIR)
                parent_dir_load(b, parent->subtree, &pd);
        for (size_t i = 0; i < n;) {
                const char *comp = paths[i] + plen + 1;
                size_t clen = strcspn(comp, "/");
                size_t j = i;
                /* Paths sharing this component. */
                while (j < n && strncmp(paths[j] + plen + 1, comp, clen) == 0 &&
                       (paths[j][plen + 1 + clen] == 0 || paths[j][plen + 1 + clen] == '/'))
                        j++;
                bool whole = paths[i][plen + 1 + clen] == 0;    /* sorted: the exact path comes first */
                struct stat st;
                size_t mark;    /* unused: the virtual walk resets the path per entry */
                _cleanup_free_ char *cname = strndup(comp, clen);
                if (!cname) {
                        r = -ENOMEM;
                        goto out;
                }
                const CnNode *pn = parent_find(&pd, cname, clen);
                CnNode *nd = &nodes[n_nodes];

                if (dirfd < 0) {
                        dirfd = virtual_open(prefix, &dst, i > 0);
                        if (dirfd < 0) {
                                /* Nothing (more) below can be reached: record it, keep what was done. */
                                r = dirfd;
                                b->path.len = 0;
                                if (skippable(r) && (r = path_push(b, plen ? prefix : "/", plen ? plen : 1, &mark)) >= 0)
                                        r = source_error(b, -dirfd);
                                if (r < 0)
                                        goto out;
                                break;
                        }
                }
                b->path.len = 0;
                r = path_push(b, paths[i], plen + 1 + clen, &mark);
                if (r < 0)
                        goto out;
                if (fstatat(dirfd, cname, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = source_error(b, errno);
                        if (r < 0)
                                goto out;
                        i = j;
                        continue;
                }
                if (whole) {
                        bool skip;
                        b->root_dev = st.st_dev;
                        r = backup_entry(b, dirfd, cname, clen, &st, pn, nd, &skip);
                        if (r < 0) {
                                cn_node_done(nd);       /* not counted in n_nodes yet */
                                goto out;
                        }
                        if (!skip)
                                n_nodes++;
                } else {
                        if (!S_ISDIR(st.st_mode)) {
                                r = source_error(b, ENOTDIR);
                                if (r < 0)
                                        goto out;
                                i = j;
                                continue;
                        }
                        r = cn_fsmeta_read(dirfd, cname, -1, &st, nd);
                        if (r >= 0)
                                r = set_name(nd, cname, clen);
                        meta_read_done(b, nd);
                        if (r < 0) {
                                cn_node_done(nd);
                                if (!skippable(r))
                                        goto out;
                                r = source_error(b, -r);
                                if (r < 0)
                                        goto out;
                                i = j;
                                continue;
                        }
                        _cleanup_free_ char *sub = strndup(paths[i], plen + 1 + clen);
                        if (!sub) {
                                r = -ENOMEM;
                                goto out;
                        }
                        n_nodes++;
                        dirfd = (close(dirfd), -1);
                        r = backup_virtual(b, sub, paths + i, j - i, pn, nd->subtree);
                        if (r < 0)
                                goto out;
                        b->snap->dirs++;
                }
                i = j;
        }
        r = store_tree(b, prefix, nodes, n_nodes, ret_id);
out:
        cn_nodes_free(nodes, n_nodes);
        return r;
}

static int backup_stdin(Backup *b, uint8_t ret_id[CN_ID_BYTES]) {
        CnNode n = {};
        struct timespec now;
        int r;

        clock_gettime(CLOCK_REALTIME, &now);
        n.type = CN_NODE_FILE;
        n.mode = 0600;
        n.uid = getuid();
        n.gid = getgid();
        n.mtime = n.atime = n.ctime = (CnTime) { now.tv_sec, (uint32_t) now.tv_nsec };
        r = set_name(&n, b->o->stdin_filename, strlen(b->o->stdin_filename));
        if (r >= 0)
                r = store_stream(b, b->o->stdin_fd, NULL, &n);
        if (r >= 0) {
                b->snap->files = 1;
                b->snap->bytes = n.size;
                r = store_tree(b, "", &n, 1, ret_id);
        }
        cn_node_done(&n);
        return r;
}

static int strv_dup(char *const *v, size_t n, char ***ret) {
        char **c = calloc(n ? n : 1, sizeof *c);
        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(c[i] = strdup(v[i]))) {
                        for (size_t j = 0; j < i; j++)
                                free(c[j]);
                        free(c);
                        return -ENOMEM;
                }
        *ret = c;
        return 0;
}

static int cmp_paths(const void *x, const void *y) {
        return strcmp(*(char *const *) x, *(char *const *) y);
}

/* How many directory fds the walk keeps: a sixteenth of what the process
 * may open, between 2 and FD_WINDOW_MAX. Deeper trees reopen theirs. */
static size_t fd_window(void) {
        struct rlimit rl;
        rlim_t w = FD_WINDOW_MAX;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
                w = CN_MIN(CN_MAX(rl.rlim_cur / 16, (rlim_t) 2), w);
        return (size_t) w;
}

int cn_backup_run(CnRepo *repo, CnController *c, const CnBackupOptions *o, CnSnapshot *ret) {
        _cleanup_(cn_store_freep) CnStore *store = NULL;
        _cleanup_(cn_chunker_freep) CnChunker *chunker = NULL;
        CnSnapshot snap = { .controller = c };
        struct timespec now;
        int64_t t0 = mono_ns();
        int r;

        /* Where the data would live, before a file is read or a session put. */
        r = cn_location_gate(repo, c, repo, o->refusal);
        if (r < 0)
                return r;
        r = cn_store_open_tolerant(repo, c, CN_STORE_KEYS | CN_STORE_WRITE | (o->verify_existing ? CN_STORE_VERIFY : 0),
                                   o->on_damaged, o->userdata, &store);
        if (r < 0)
                return r;
        if (o->compression_level > 0)
                cn_store_set_level(store, o->compression_level);
        r = cn_chunker_new(&c->chunker, c->chunker_key, &chunker);
        if (r < 0)
                return r;
        Backup b = {
                .repo = repo,
                .c = c,
                .o = o,
                .store = store,
                .chunker = chunker,
                .snap = &snap,
                .buf_cap = (size_t) c->chunker.max_size + READ_BYTES,
                .fd_window = fd_window(),
        };
        cn_buf_init(&b.path, MAX_PATH_BYTES);
        cn_buf_init(&b.parent_blob, CN_MAX_TREE_BYTES);
        b.buf = malloc(b.buf_cap);
        if (!b.buf) {
                r = -ENOMEM;
                goto out;
        }
        clock_gettime(CLOCK_REALTIME, &now);
        snap.time = (CnTime) { now.tv_sec, (uint32_t) now.tv_nsec };
        if (!(snap.hostname = strdup(o->hostname ? o->hostname : "")) ||
            !(snap.username = strdup(o->username ? o->username : ""))) {
                r = -ENOMEM;
                goto out;
        }
        if ((r = strv_dup(o->tags, o->n_tags, &snap.tags)) < 0)
                goto out;
        snap.n_tags = o->n_tags;
        if (o->stdin_fd >= 0) {
                char *p = NULL;
                if (asprintf(&p, "/%s", o->stdin_filename) < 0) {
                        r = -ENOMEM;
                        goto out;
                }
                snap.paths = calloc(1, sizeof *snap.paths);
                if (!snap.paths) {
                        free(p);
                        r = -ENOMEM;
                        goto out;
                }
                snap.paths[0] = p;
                snap.n_paths = 1;
                r = backup_stdin(&b, snap.tree);
        } else {
                if ((r = strv_dup(o->paths, o->n_paths, &snap.paths)) < 0)
                        goto out;
                snap.n_paths = o->n_paths;
                qsort(snap.paths, snap.n_paths, sizeof *snap.paths, cmp_paths);
                /* Drop paths inside another requested path, and duplicates. */
                size_t k = 0;
                for (size_t i = 0; i < snap.n_paths; i++) {
                        size_t l = k ? strlen(snap.paths[k - 1]) : 0;
                        if (k && (strcmp(snap.paths[k - 1], "/") == 0 ||
                                  (strncmp(snap.paths[i], snap.paths[k - 1], l) == 0 &&
                                   (snap.paths[i][l] == '/' || snap.paths[i][l] == 0)))) {
                                free(snap.paths[i]);
                                continue;
                        }
                        snap.paths[k++] = snap.paths[i];
                }
                snap.n_paths = k;
                CnNode root_parent = { .type = CN_NODE_DIR };
                if (o->parent)
                        memcpy(root_parent.subtree, o->parent->tree, CN_ID_BYTES);
                if (k == 1 && strcmp(snap.paths[0], "/") == 0) {
                        _cleanup_close_ int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        struct stat st;
                        if (fd < 0 || fstat(fd, &st) < 0)
                                r = -errno;
                        else {
                                b.root_dev = st.st_dev;
                                r = walk(&b, fd, &st, o->parent ? &root_parent : NULL, snap.tree);
                        }
                } else
                        r = backup_virtual(&b, "", snap.paths, k, o->parent ? &root_parent : NULL, snap.tree);
        }
        if (r < 0)
                goto out;
        r = cn_store_flush(store);
        if (r < 0)
                goto out;
        if (o->parent) {
                snap.has_parent = true;
                memcpy(snap.parent, o->parent->id, CN_ID_BYTES);
        }
        CnStoreStats st;
        cn_store_stats(store, &st);
        snap.blobs_new = st.blobs_new;
        snap.stored_bytes_new = st.stored_bytes_new;
        snap.duration_ns = (uint64_t) (mono_ns() - t0);
        /* The chunks it reuses are still there unless a prune took this
         * backup for a dead one (docs/FORMAT.md "Deleting without a lock"). */
        r = cn_store_session_check(store);
        /* Again: a location recorded or a grant revoked meanwhile. */
        if (r >= 0)
                r = cn_location_gate(repo, c, repo, o->refusal);
        if (r < 0)
                goto out;
        r = cn_snapshot_save(repo, &snap);
        if (r < 0)
                goto out;
        *ret = snap;
        snap = (CnSnapshot) {};
out:
        cn_snapshot_done(&snap);
        cn_linktable_free(b.links);
        free(b.buf);
        cn_buf_done(&b.path);
        cn_buf_done(&b.parent_blob);
        return r;
}

static bool same_paths(char *const *a, size_t na, char *const *b, size_t nb) {
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++) {
                bool found = false;
                for (size_t j = 0; j < nb && !found; j++)
                        found = strcmp(a[i], b[j]) == 0;
                if (!found)
                        return false;
        }
        return true;
}

const CnSnapshot *cn_backup_find_parent(const CnSnapshot *list, size_t n, const char *hostname,
                                        char *const *paths, size_t n_paths) {
        for (size_t i = n; i > 0; i--) {
                const CnSnapshot *s = &list[i - 1];
                if (strcmp(s->hostname, hostname) == 0 && same_paths(s->paths, s->n_paths, paths, n_paths))
                        return s;
        }
        return NULL;
}
