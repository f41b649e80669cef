/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "restore.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fileio.h"
#include "format.h"
#include "linktable.h"
#include "macro.h"
#include "tree.h"

/* The snapshot path of the entry at hand: names are at most 4096 bytes, so
 * this is a million levels of the longest names; it grows as needed. */
#define MAX_PATH_BYTES (1u << 30)
/* Trees are content-addressed, so they cannot loop; this only bounds the
 * memory a walk holds (one decoded tree a level). */
#define MAX_DEPTH (1u << 20)

static int load_tree(CnStore *store, const uint8_t id[CN_ID_BYTES], CnBuf *scratch, CnNode **ret, size_t *ret_n) {
        return cn_dir_load(store, id, scratch, ret, ret_n, NULL);
}

/* Depth first without recursion: a level per directory on a heap stack, so
 * any depth the path buffer holds is walked. */
int cn_walk(CnStore *store, const uint8_t tree[CN_ID_BYTES], const char *prefix, CnWalkFn fn, void *u) {
        _cleanup_(cn_buf_donep) CnBuf path = CN_BUF_INIT(MAX_PATH_BYTES);
        _cleanup_(cn_buf_donep) CnBuf blob = CN_BUF_INIT(CN_MAX_TREE_BYTES);
        _cleanup_(cn_dir_stack_done) CnDirStack st = {};
        size_t len = strcmp(prefix, "/") == 0 ? 0 : strlen(prefix);
        const uint8_t *next = tree;
        int r;

        if ((r = cn_buf_append(&path, prefix, len)) < 0 || (r = cn_buf_put_u8(&path, 0)) < 0)
                return r;
        path.len--;
        for (;;) {
                if (next) {
                        CnNode *nodes;
                        size_t n;
                        r = load_tree(store, next, &blob, &nodes, &n);
                        if (r < 0 || (r = cn_dir_stack_push(&st, next, nodes, n)) < 0)
                                return r;
                        next = NULL;
                }
                CnDirLevel *l = cn_dir_stack_top(&st);
                if (l->i == l->n) {
                        cn_dir_stack_pop(&st);
                        if (!(l = cn_dir_stack_top(&st)))
                                return 0;
                        cn_path_pop(&path, l->mark);
                        l->i++;
                        continue;
                }
                const CnNode *e = &l->nodes[l->i];
                r = cn_path_push(&path, e->name, e->name_len, &l->mark);
                if (r >= 0)
                        r = fn((const char *) path.data, e, u);
                if (r < 0)
                        return r;
                if (r == 0 && e->type == CN_NODE_DIR) {
                        next = e->subtree;      /* in l->nodes, which stays put */
                        continue;
                }
                cn_path_pop(&path, l->mark);
                l->i++;
        }
}

int cn_snapshot_find_node(CnStore *store, const CnSnapshot *snap, const char *path, CnNode *ret) {
        _cleanup_(cn_buf_donep) CnBuf blob = CN_BUF_INIT(CN_MAX_TREE_BYTES);
        CnNode cur = { .type = CN_NODE_DIR, .mode = 0755 };
        int r;

        memcpy(cur.subtree, snap->tree, CN_ID_BYTES);
        for (const char *s = path;;) {
                while (*s == '/')
                        s++;
                if (*s == 0)
                        break;
                size_t len = strcspn(s, "/");
                CnNode *nodes;
                size_t n;
                if (cur.type != CN_NODE_DIR) {
                        cn_node_done(&cur);
                        return -ENOTDIR;
                }
                r = load_tree(store, cur.subtree, &blob, &nodes, &n);
                cn_node_done(&cur);
                if (r < 0)
                        return r;
                r = -ENOENT;
                for (size_t i = 0; i < n; i++)
                        if (cn_name_cmp(nodes[i].name, nodes[i].name_len, s, len) == 0) {
                                cur = nodes[i];
                                nodes[i] = (CnNode) {};
                                r = 0;
                                break;
                        }
                cn_nodes_free(nodes, n);
                if (r < 0)
                        return r;
                s += len;
        }
        *ret = cur;
        return 0;
}

/* ---- content ---- */

static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off) {
        while (n > 0) {
                ssize_t w = pwrite(fd, p, n, (off_t) off);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                n -= (size_t) w;
                off += (uint64_t) w;
        }
        return 0;
}

static int write_zeros(int fd, uint64_t n) {
        static const uint8_t zero[65536];
        while (n > 0) {
                size_t k = (size_t) CN_MIN(n, (uint64_t) sizeof zero);
                int r = cn_write_all(fd, zero, k);
                if (r < 0)
                        return r;
                n -= k;
        }
        return 0;
}

int cn_file_content(CnStoreReader *rd, const CnNode *n, CnBuf *chunk, CnContentFn fn, void *userdata) {
        const CnExtent whole = { 0, n->size };
        const CnExtent *ext = n->sparse ? n->extents : &whole;
        size_t n_ext = n->sparse ? n->n_extents : n->size > 0, ei = 0;
        uint64_t eoff = 0, placed = 0, want = 0;
        bool extra = false;
        int r;

        for (size_t i = 0; i < n_ext; i++)
                want += ext[i].length;
        for (size_t i = 0; i < n->n_chunks; i++) {
                r = cn_store_read(rd, n->chunks[i], chunk);
                if (r < 0)
                        return r;
                const uint8_t *p = chunk->data;
                size_t left = chunk->len;
                while (left > 0) {
                        while (ei < n_ext && eoff == ext[ei].length) {
                                ei++;
                                eoff = 0;
                        }
                        if (ei == n_ext) {
                                extra = true;
                                break;
                        }
                        size_t k = (size_t) CN_MIN((uint64_t) left, ext[ei].length - eoff);
                        r = fn(p, k, ext[ei].offset + eoff, userdata);
                        if (r < 0)
                                return r;
                        p += k;
                        left -= k;
                        eoff += k;
                        placed += k;
                }
        }
        return extra || placed < want ? -EUCLEAN : 0;
}

/* Where write_content() writes: seekable, at the offsets (holes left
 * unwritten); else a stream, holes written as zeros. */
typedef struct ContentOut {
        int fd;
        bool seekable;
        uint64_t pos;                   /* the end of what is written */
} ContentOut;

static int content_out(const uint8_t *p, size_t n, uint64_t off, void *u) {
        ContentOut *o = u;
        int r;
        if (o->seekable)
                r = pwrite_all(o->fd, p, n, off);
        else if ((r = write_zeros(o->fd, off - o->pos)) >= 0)
                r = cn_write_all(o->fd, p, n);
        if (r < 0)
                return r;
        o->pos = off + n;
        return 0;
}

/* Lay a file's content out (cn_file_content()): seekable, pwrite at the
 * offsets into an empty file, holes left unwritten after a truncate to
 * size; else a stream, holes written as zeros. The result is always size
 * bytes long; -EUCLEAN as cn_file_content(), after writing everything. */
static int write_content(CnStoreReader *rd, const CnNode *n, int fd, bool seekable, CnBuf *chunk) {
        ContentOut o = { .fd = fd, .seekable = seekable };
        int r, k;

        if (seekable && n->sparse && ftruncate(fd, (off_t) n->size) < 0)
                return -errno;
        r = cn_file_content(rd, n, chunk, content_out, &o);
        if (r < 0 && r != -EUCLEAN)
                return r;
        if (!seekable)
                k = write_zeros(fd, n->size - o.pos);
        else
                k = !n->sparse && o.pos < n->size && ftruncate(fd, (off_t) n->size) < 0 ? -errno : 0;
        return k < 0 ? k : r;
}

int cn_dump_file(CnStore *store, const CnNode *n, int fd) {
        _cleanup_(cn_buf_donep) CnBuf chunk = CN_BUF_INIT(CN_MAX_CHUNK_BYTES);
        _cleanup_(cn_store_reader_freep) CnStoreReader *rd = NULL;
        int r;
        if (n->type != CN_NODE_FILE)
                return -EISDIR;
        r = cn_store_reader_new(store, &rd);
        if (r < 0)
                return r;
        return write_content(rd, n, fd, false, &chunk);
}

/* ---- restore ----
 *
 * The calling thread, the walker, walks the snapshot's trees and makes each
 * directory, symlink and special file; for a regular file it makes a new
 * inode (O_TMPFILE, or a temporary name) and queues it. Worker threads write
 * the content, put the inode under its name, make the other names of its
 * hard link group, and apply its metadata.
 *
 * Nothing existing in the target is ever written into or changed through a
 * name: every entry is made new and put in place by a rename (or a link)
 * over whatever stands there, so a hard link, symlink, FIFO or device that
 * a local user planted there is replaced, never followed or written. All
 * metadata is applied through a descriptor of the entry this restore made.
 * An existing directory where the snapshot has one is reused. A directory
 * entered only to look for --include matches below it is made only when
 * something below it is, so what is not selected stays as it was.
 *
 * A directory's metadata is applied when the walker has left it and the
 * last file queued in it is in place (creating an entry changes a
 * directory's mtime). The walker holds descriptors for the last WINDOW
 * levels only: deeper in, an ancestor with nothing pending is closed and
 * reopened on the way back up through ".." of its child, checked to be the
 * same directory (device and inode). File tasks and pending links in flight
 * are bounded by what RLIMIT_NOFILE leaves, since each may hold a file and
 * a directory open. */

#define WINDOW 8                        /* directory descriptors the walker keeps */
#define SPLIT_BYTES (32u << 20)         /* a file larger than this is written in parts */
#define QUEUE_MAX 256                   /* parts queued for the workers */
#define INFLIGHT_MAX 256                /* file tasks and pending links, at most */

/* A directory of the target that this restore makes entries in. */
typedef struct Dir {
        int fd;                         /* -1: closed by the walker's window, nothing pending */
        dev_t dev;
        ino_t ino;
        unsigned pending;               /* file tasks and links still to be put in it (under lock) */
        bool left;                      /* the walker is done with it (under lock) */
        bool fresh;                     /* what is made in it inherits no ACL (see CN_FSMETA_FRESH) */
        bool has_meta;                  /* false for the target itself */
        bool made;                      /* exists: fd, dev and ino are set */
        CnNode meta;                    /* without chunks */
        char *path;                     /* in the snapshot, for messages, once left with work pending */
} Dir;

/* A later name of a hard link group whose first name is still being written. */
typedef struct PendingLink {
        Dir *dir;
        char *name;
        char *path;                     /* in the snapshot, for messages */
        struct PendingLink *next;
} PendingLink;

/* A file being written; large ones are written by several workers at
 * once, a range of chunks each, and the last to finish puts it in place. */
typedef struct FileTask {
        int fd;                         /* the new inode, open for writing */
        char *tmp;                      /* its temporary name in dir; NULL when O_TMPFILE */
        Dir *dir;
        unsigned flags;                 /* CN_FSMETA_* */
        CnNode node;
        char *path;                     /* in the snapshot */
        bool primary;                   /* the first name of its link group */
        PendingLink *links;             /* the group's later names (under lock) */
        unsigned parts_left;            /* under lock */
        int error;                      /* the first, under lock */
} FileTask;

typedef struct FileJob {
        FileTask *task;
        bool whole;                     /* all of it through write_content() */
        size_t first, last;             /* else: chunks [first, last) ... */
        uint64_t offset;                /* ... written from here */
        struct FileJob *next;
} FileJob;

/* A hard link group of the snapshot, once one of its names is selected. */
typedef struct LinkGroup {
        FileTask *task;                 /* the first name, on its way; NULL once done or failed */
        bool done;                      /* in place: rel names it, dev and ino are its inode */
        dev_t dev;
        ino_t ino;
        char *rel;                      /* relative to the target */
        uint32_t fsflags;               /* immutable or append-only: set when every name is made */
} LinkGroup;

/* A directory the walker is in. */
typedef struct Frame {
        Dir *dir;
        CnNode *nodes;
        size_t n, next;
        size_t mark;                    /* path length of this directory */
        bool selected;                  /* everything below is restored */
} Frame;

typedef struct Worker {
        struct Restore *R;
        pthread_t thread;
        CnStoreReader *reader;
        CnBuf chunk;
} Worker;

typedef struct Restore {
        CnStore *store;
        const CnRestoreOptions *o;
        CnRestoreStats *stats;
        int target_fd;                  /* borrowed: o->target_fd */
        CnBuf path;                     /* absolute path in the snapshot */
        size_t base_len;                /* length of the subpath prefix within path */
        CnBuf blob;                     /* tree blobs of the walk */
        Frame *frames;
        size_t n_frames, cap_frames;
        bool proc;                      /* /proc/self/fd reaches an fd's inode: O_TMPFILE and links by fd */
        unsigned tmp_seq;
        uint32_t tmp_base;
        /* The pool; lock guards it, the link groups, the Dirs' pending
         * counts, stats and on_error. */
        pthread_mutex_t lock;
        pthread_cond_t has_job, has_room, idle;
        FileJob *head, *tail;
        unsigned queued, busy, inflight, inflight_max;
        bool stop;
        CnLinkTable *links;             /* link_group -> LinkGroup */
        LinkGroup **locked;             /* groups whose inode takes immutable or append-only last */
        size_t n_locked, cap_locked;
        Worker *workers;
        unsigned n_workers;
} Restore;

static void report(Restore *R, const char *path, int r) {
        pthread_mutex_lock(&R->lock);
        R->stats->errors++;
        if (R->o->on_error)
                R->o->on_error(path ? path : "(a directory)", -r, R->o->userdata);
        pthread_mutex_unlock(&R->lock);
}

static int entry_error(Restore *R, int r) {
        report(R, R->path.len ? (const char *) R->path.data : "/", r);
        return 0;
}

static void count(Restore *R, uint64_t *stat, uint64_t bytes) {
        pthread_mutex_lock(&R->lock);
        (*stat)++;
        R->stats->bytes += bytes;
        pthread_mutex_unlock(&R->lock);
}

/* Every entry's metadata goes through here, last, when it is complete and
 * in place, and always through fd, a descriptor of the entry this restore
 * made (O_PATH for symlinks and special files): never by name. */
static int apply_metadata(Restore *R, int fd, const CnNode *n, unsigned flags) {
        return cn_fsmeta_apply(-1, n->name, fd, n, R->o->meta_flags | flags);
}

/* ---- putting inodes in place ---- */

static void tmp_name(Restore *R, char buf[32]) {
        unsigned seq = __atomic_fetch_add(&R->tmp_seq, 1, __ATOMIC_RELAXED);
        snprintf(buf, 32, ".cairn-restore-%08x%08x", R->tmp_base, seq);
}

/* cn_link_fd() to name, replacing what stands there. */
static int link_over(Restore *R, int fd, int dirfd, const char *name);

/* Rename tmp to name in dirfd, over whatever is there; an empty directory
 * in the way is removed, anything else in the way stays and fails it. */
static int rename_over(int dirfd, const char *tmp, const char *name) {
        if (renameat(dirfd, tmp, dirfd, name) == 0)
                return 0;
        if (errno != EISDIR && errno != ENOTEMPTY && errno != EEXIST)
                return -errno;
        if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
                return errno == ENOTEMPTY || errno == EEXIST ? -EISDIR : -errno;
        return renameat(dirfd, tmp, dirfd, name) < 0 ? -errno : 0;
}

/* Put the inode of fd under name in dirfd, replacing what is there. tmp is
 * its temporary name in dirfd, or NULL for an inode with no name yet. */
static int put_in_place(Restore *R, int fd, const char *tmp, int dirfd, const char *name) {
        if (tmp)
                return rename_over(dirfd, tmp, name);
        return link_over(R, fd, dirfd, name);
}

static int link_over(Restore *R, int fd, int dirfd, const char *name) {
        char t[32];
        int r = cn_link_fd(fd, dirfd, name);
        if (r != -EEXIST)
                return r;
        for (unsigned tries = 0;; tries++) {
                tmp_name(R, t);
                r = cn_link_fd(fd, dirfd, t);
                if (r != -EEXIST || tries >= 16)
                        break;
        }
        if (r < 0)
                return r;
        r = rename_over(dirfd, t, name);
        if (r < 0)
                (void) unlinkat(dirfd, t, 0);
        return r;
}

/* A new, empty regular file in dirfd for content: O_TMPFILE (no name until
 * it is complete) or, where that is not supported, a temporary name. */
static int new_file(Restore *R, int dirfd, char **ret_tmp) {
        char t[32];
        int fd;
        if (R->proc) {
                fd = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
                if (fd >= 0) {
                        *ret_tmp = NULL;
                        return fd;
                }
                if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
                        return -errno;
        }
        for (unsigned tries = 0;; tries++) {
                tmp_name(R, t);
                fd = openat(dirfd, t, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd >= 0)
                        break;
                if (errno != EEXIST || tries >= 16)
                        return -errno;
        }
        *ret_tmp = strdup(t);
        if (!*ret_tmp) {
                (void) unlinkat(dirfd, t, 0);
                close(fd);
                return -ENOMEM;
        }
        return fd;
}

/* Open the existing entry rel (relative to the target) as O_PATH, one
 * component at a time without following symlinks, and check it is the
 * inode dev:ino. */
static int open_rel(int target_fd, const char *rel, dev_t dev, ino_t ino) {
        _cleanup_close_ int dir = fcntl(target_fd, F_DUPFD_CLOEXEC, 3);
        if (dir < 0)
                return -errno;
        for (const char *p = rel;;) {
                size_t len = strcspn(p, "/");
                char name[CN_MAX_NAME_BYTES + 1];
                if (len == 0 || len > CN_MAX_NAME_BYTES)
                        return -ENOENT;
                memcpy(name, p, len);
                name[len] = 0;
                bool last = p[len] == 0;
                int fd = openat(dir, name, (last ? O_PATH : O_RDONLY | O_DIRECTORY) | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                close(dir);
                dir = fd;
                if (last)
                        break;
                p += len + 1;
        }
        struct stat st;
        if (fstat(dir, &st) < 0)
                return -errno;
        if (st.st_dev != dev || st.st_ino != ino)
                return -ESTALE;
        return TAKE_FD(dir);
}

/* ---- directories ---- */

static Dir *dir_free(Dir *d) {
        if (!d)
                return NULL;
        if (d->fd >= 0)
                close(d->fd);
        cn_node_done(&d->meta);
        free(d->path);
        free(d);
        return NULL;
}

/* The walker has left d and nothing is pending in it: apply its metadata. */
static void dir_finish(Restore *R, Dir *d, const char *path) {
        if (d->has_meta) {
                int r = apply_metadata(R, d->fd, &d->meta, d->fresh ? CN_FSMETA_FRESH : 0);
                if (r < 0)
                        report(R, path, r);
                else
                        count(R, &R->stats->dirs, 0);
        }
        dir_free(d);
}

/* One pending entry of d is in place (or failed); the last finishes d
 * once the walker has left it. */
static void dir_put(Restore *R, Dir *d) {
        pthread_mutex_lock(&R->lock);
        bool last = --d->pending == 0 && d->left;
        pthread_mutex_unlock(&R->lock);
        if (last)
                dir_finish(R, d, d->path);
}

/* ---- file tasks ---- */

static void pending_links_free(PendingLink *l) {
        while (l) {
                PendingLink *next = l->next;
                free(l->name);
                free(l->path);
                free(l);
                l = next;
        }
}

static void task_free(FileTask *t) {
        if (t->fd >= 0)
                close(t->fd);
        cn_node_done(&t->node);
        free(t->tmp);
        free(t->path);
        free(t);
}

/* Chunks [first, last) of a file that is not sparse, written at offset. */
static int write_range(CnStoreReader *rd, const CnNode *n, size_t first, size_t last, uint64_t offset, int fd,
                       CnBuf *chunk) {
        for (size_t i = first; i < last; i++) {
                int r = cn_store_read(rd, n->chunks[i], chunk);
                if (r < 0)
                        return r;
                r = pwrite_all(fd, chunk->data, chunk->len, offset);
                if (r < 0)
                        return r;
                offset += chunk->len;
        }
        return 0;
}

/* A later name of t's link group that could not be linked (a file system
 * without hard links): restore it as a copy of its own. */
static int write_copy(Restore *R, Worker *wk, FileTask *t, PendingLink *l) {
        char *tmp = NULL;
        int fd = new_file(R, l->dir->fd, &tmp), r;
        if (fd < 0)
                return fd;
        r = write_content(wk->reader, &t->node, fd, true, &wk->chunk);
        if (r >= 0 || r == -EUCLEAN)
                r = put_in_place(R, fd, tmp, l->dir->fd, l->name);
        else if (tmp)
                (void) unlinkat(l->dir->fd, tmp, 0);
        if (r >= 0)
                r = apply_metadata(R, fd, &t->node, l->dir->fresh ? CN_FSMETA_FRESH : 0);
        close(fd);
        free(tmp);
        return r;
}

/* Note t's group for restore_locked_groups(); under the lock, as the walker
 * reads the group meanwhile. */
static int lock_later(Restore *R, FileTask *t) {
        int r = 0;
        pthread_mutex_lock(&R->lock);
        LinkGroup *g = cn_linktable_get(R->links, t->node.link_group, 0);
        if (!g || CN_GROW(R->locked, R->cap_locked, R->n_locked) < 0)
                r = -ENOMEM;
        else {
                g->fsflags = t->node.fsflags;
                R->locked[R->n_locked++] = g;
        }
        pthread_mutex_unlock(&R->lock);
        return r;
}

/* The last part of t is written (or failed): put it in place with the
 * other names of its link group, apply its metadata, let its group and
 * directories know. */
static void task_finish(Restore *R, Worker *wk, FileTask *t) {
        int r = t->error, k;
        bool written = r >= 0 || r == -EUCLEAN, placed = false;

        if (written) {
                k = put_in_place(R, t->fd, t->tmp, t->dir->fd, t->node.name);
                if (k < 0)
                        r = k;
                else {
                        placed = true;
                        free(t->tmp);
                        t->tmp = NULL;
                }
        }
        if (!placed && t->tmp)
                (void) unlinkat(t->dir->fd, t->tmp, 0);

        /* The group: later names now link to the inode in place (or, if it
         * failed, the next name seen starts over). Taken under the lock, so
         * no new pending link can be added after this. */
        struct stat st = {};
        PendingLink *links;
        if (placed && t->primary && fstat(t->fd, &st) < 0)
                st = (struct stat) {};
        pthread_mutex_lock(&R->lock);
        links = TAKE_PTR(t->links);
        if (t->primary) {
                LinkGroup *g = cn_linktable_get(R->links, t->node.link_group, 0);
                g->task = NULL;
                if (placed && st.st_ino) {
                        g->rel = strdup(t->path + R->base_len + 1);
                        g->done = g->rel != NULL;
                        g->dev = st.st_dev;
                        g->ino = st.st_ino;
                }
        }
        pthread_mutex_unlock(&R->lock);

        /* Before the metadata: an immutable inode (flags come last) takes no links. */
        unsigned n_links = 0;
        for (PendingLink *l = links; l; l = l->next, n_links++) {
                int e = r;
                if (placed)
                        e = link_over(R, t->fd, l->dir->fd, l->name);
                if (written && e < 0 && e != -EISDIR)   /* no hard links here, or no first name: a copy */
                        e = write_copy(R, wk, t, l);
                if (e < 0)
                        report(R, l->path, e);
                else
                        count(R, &R->stats->files, 0);
        }

        /* An inode that turns immutable or append-only takes no more names:
         * a group's flags wait until the walk has linked every name. */
        unsigned defer = 0;
        if (placed && t->primary && (t->node.fsflags & CN_FSFLAGS_PRIVILEGED) &&
            !(R->o->meta_flags & CN_FSMETA_NO_OWNER) && lock_later(R, t) >= 0)
                defer = CN_FSMETA_DEFER_PRIVILEGED;
        if (placed) {
                k = apply_metadata(R, t->fd, &t->node, t->flags | defer);
                if (k < 0 && r >= 0)
                        r = k;
        }
        if (r < 0)
                report(R, t->path, r);
        if (placed)
                count(R, &R->stats->files, t->node.size);

        for (PendingLink *l = links; l; l = l->next)
                dir_put(R, l->dir);
        pending_links_free(links);
        Dir *d = t->dir;
        task_free(t);
        dir_put(R, d);

        pthread_mutex_lock(&R->lock);
        R->inflight -= 1 + n_links;
        pthread_cond_broadcast(&R->has_room);
        pthread_mutex_unlock(&R->lock);
}

static void *worker_main(void *arg) {
        Worker *wk = arg;
        Restore *R = wk->R;

        pthread_mutex_lock(&R->lock);
        for (;;) {
                while (!R->stop && !R->head)
                        pthread_cond_wait(&R->has_job, &R->lock);
                if (!R->head)
                        break;
                FileJob *j = R->head;
                R->head = j->next;
                if (!R->head)
                        R->tail = NULL;
                R->queued--;
                R->busy++;
                pthread_cond_broadcast(&R->has_room);
                pthread_mutex_unlock(&R->lock);

                FileTask *t = j->task;
                int r = j->whole ? write_content(wk->reader, &t->node, t->fd, true, &wk->chunk)
                                 : write_range(wk->reader, &t->node, j->first, j->last, j->offset, t->fd, &wk->chunk);
                free(j);

                pthread_mutex_lock(&R->lock);
                if (r < 0 && (t->error == 0 || t->error == -EUCLEAN))
                        t->error = r;
                bool last = --t->parts_left == 0;
                pthread_mutex_unlock(&R->lock);
                if (last)
                        task_finish(R, wk, t);

                pthread_mutex_lock(&R->lock);
                R->busy--;
                if (!R->head && !R->busy)
                        pthread_cond_broadcast(&R->idle);
        }
        pthread_mutex_unlock(&R->lock);
        return NULL;
}

static void pool_wait_idle(Restore *R) {
        pthread_mutex_lock(&R->lock);
        while (R->head || R->busy)
                pthread_cond_wait(&R->idle, &R->lock);
        pthread_mutex_unlock(&R->lock);
}

static void pool_stop(Restore *R) {
        pthread_mutex_lock(&R->lock);
        R->stop = true;
        pthread_cond_broadcast(&R->has_job);
        pthread_mutex_unlock(&R->lock);
        for (unsigned i = 0; i < R->n_workers; i++) {
                pthread_join(R->workers[i].thread, NULL);
                cn_store_reader_free(R->workers[i].reader);
                cn_buf_done(&R->workers[i].chunk);
        }
        free(R->workers);
        R->workers = NULL;
        R->n_workers = 0;
}

static int pool_start(Restore *R, unsigned n) {
        R->workers = calloc(n, sizeof *R->workers);
        if (!R->workers)
                return -ENOMEM;
        for (unsigned i = 0; i < n; i++) {
                Worker *wk = &R->workers[i];
                wk->R = R;
                cn_buf_init(&wk->chunk, CN_MAX_CHUNK_BYTES);
                int r = cn_store_reader_new(R->store, &wk->reader);
                if (r >= 0 && pthread_create(&wk->thread, NULL, worker_main, wk) != 0)
                        r = -ENOMEM;
                if (r < 0) {
                        cn_store_reader_free(wk->reader);
                        cn_buf_done(&wk->chunk);
                        return r;
                }
                R->n_workers++;
        }
        return 0;
}

/* Wait (under lock) until another task or pending link may start. */
static void wait_inflight_locked(Restore *R) {
        while (R->inflight >= R->inflight_max)
                pthread_cond_wait(&R->has_room, &R->lock);
}

static void enqueue_locked(Restore *R, FileJob *j) {
        while (R->queued >= QUEUE_MAX)
                pthread_cond_wait(&R->has_room, &R->lock);
        j->next = NULL;
        if (R->tail)
                R->tail->next = j;
        else
                R->head = j;
        R->tail = j;
        R->queued++;
        pthread_cond_signal(&R->has_job);
}

/* Where each part of a large file that is not sparse starts, from the
 * chunks' sizes in the index: *ret_n parts, or 1 (the whole file) when it
 * is small, sparse, or the sizes do not add up (write_content() then says
 * what is wrong). */
static void split_parts(Restore *R, const CnNode *n, uint64_t **ret_starts, size_t **ret_bounds, size_t *ret_n) {
        *ret_starts = NULL;
        *ret_bounds = NULL;
        *ret_n = 1;
        if (n->sparse || n->size <= SPLIT_BYTES || n->n_chunks <= 1)
                return;
        size_t cap = (size_t) (n->size / SPLIT_BYTES) + 2, n_parts = 0;
        _cleanup_free_ uint64_t *starts = malloc(cap * sizeof *starts);
        _cleanup_free_ size_t *bounds = malloc(cap * sizeof *bounds);
        uint64_t off = 0, part_start = 0;
        if (!starts || !bounds)
                return;
        for (size_t i = 0; i < n->n_chunks; i++) {
                uint32_t raw;
                if (cn_store_blob_size(R->store, n->chunks[i], &raw) < 0)
                        return;
                if (i == 0 || (off - part_start >= SPLIT_BYTES && n_parts < cap - 1)) {
                        starts[n_parts] = off;
                        bounds[n_parts++] = i;
                        part_start = off;
                }
                off += raw;
        }
        if (off != n->size)
                return;
        *ret_starts = TAKE_PTR(starts);
        *ret_bounds = TAKE_PTR(bounds);
        *ret_n = n_parts;
}

/* Queue the writing of t (which this takes). */
static void dispatch(Restore *R, FileTask *t) {
        const CnNode *n = &t->node;
        _cleanup_free_ uint64_t *starts = NULL;
        _cleanup_free_ size_t *bounds = NULL;
        size_t n_parts;

        split_parts(R, n, &starts, &bounds, &n_parts);
        pthread_mutex_lock(&R->lock);
        t->parts_left = (unsigned) n_parts;
        for (size_t p = 0; p < n_parts; p++) {
                FileJob *j = calloc(1, sizeof *j);
                if (!j) {
                        /* Parts not queued count as failed; the queued ones finish the task. */
                        if (t->error == 0)
                                t->error = -ENOMEM;
                        t->parts_left -= (unsigned) (n_parts - p);
                        if (t->parts_left == 0) {
                                pthread_mutex_unlock(&R->lock);
                                task_finish(R, NULL, t);
                                pthread_mutex_lock(&R->lock);
                        }
                        break;
                }
                j->task = t;
                if (n_parts == 1)
                        j->whole = true;
                else {
                        j->first = bounds[p];
                        j->last = p + 1 < n_parts ? bounds[p + 1] : n->n_chunks;
                        j->offset = starts[p];
                }
                enqueue_locked(R, j);
        }
        pthread_mutex_unlock(&R->lock);
}

/* ---- the walker ---- */

/* Link a later name of a link group already in place: the inode is found
 * by its path and checked to be the one restored. */
static int link_done(Restore *R, const LinkGroup *g, Dir *d, const char *name) {
        _cleanup_close_ int fd = open_rel(R->target_fd, g->rel, g->dev, g->ino);
        if (fd < 0)
                return fd;
        return link_over(R, fd, d->fd, name);
}

/* A regular file n in d. Returns > 0 when the entry is made or on its way. */
static int restore_file(Restore *R, Dir *d, const CnNode *n) {
        LinkGroup *g = NULL;
        bool primary = false, done = false;
        int r;

        pthread_mutex_lock(&R->lock);
        wait_inflight_locked(R);
        if (n->link_group) {
                g = cn_linktable_get(R->links, n->link_group, 0);
                if (g && g->task) {
                        /* Its first name is on its way: link when it is in place. */
                        PendingLink *l = calloc(1, sizeof *l);
                        if (l && (l->name = strdup(n->name)) && (l->path = strdup((const char *) R->path.data))) {
                                l->dir = d;
                                l->next = g->task->links;
                                g->task->links = l;
                                d->pending++;
                                R->inflight++;
                                pthread_mutex_unlock(&R->lock);
                                return 1;
                        }
                        pthread_mutex_unlock(&R->lock);
                        pending_links_free(l);
                        return -ENOMEM;
                }
                if (!g) {
                        g = calloc(1, sizeof *g);
                        if (!g || cn_linktable_put(R->links, n->link_group, 0, g) < 0) {
                                free(g);
                                pthread_mutex_unlock(&R->lock);
                                return -ENOMEM;
                        }
                }
                done = g->done;
                primary = !done;
        }
        pthread_mutex_unlock(&R->lock);

        if (done) {
                /* Only the walker changes a group that is done. */
                r = link_done(R, g, d, n->name);
                if (r >= 0) {
                        count(R, &R->stats->files, 0);
                        return 1;
                }
                /* The first name is gone or not the inode restored (changed
                 * by someone else meanwhile), or this file system has no
                 * hard links: a copy of its own. */
        }

        FileTask *t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->fd = new_file(R, d->fd, &t->tmp);
        if (t->fd < 0) {
                r = t->fd;
                free(t);
                return r;
        }
        t->dir = d;
        t->flags = d->fresh ? CN_FSMETA_FRESH : 0;
        t->path = strdup((const char *) R->path.data);
        r = !t->path ? -ENOMEM : cn_node_copy(&t->node, n);
        if (r < 0) {
                if (t->tmp)
                        (void) unlinkat(d->fd, t->tmp, 0);
                task_free(t);
                return r;
        }
        pthread_mutex_lock(&R->lock);
        if (primary) {
                t->primary = true;
                g->task = t;
        }
        d->pending++;
        R->inflight++;
        pthread_mutex_unlock(&R->lock);
        dispatch(R, t);
        return 1;
}

/* A symlink, FIFO, device or socket n in d: made under a temporary name,
 * checked, renamed over what stands at its name. */
static int restore_special(Restore *R, Dir *d, const CnNode *n) {
        CnNode tmp_node = *n;
        CnNodeType type;
        char tmp[32];
        int r;

        for (unsigned tries = 0;; tries++) {
                tmp_name(R, tmp);
                tmp_node.name = tmp;
                tmp_node.name_len = strlen(tmp);
                r = cn_fsmeta_create_special(d->fd, &tmp_node);
                if (r != -EEXIST || tries >= 16)
                        break;
        }
        if (r < 0)
                return r;
        /* O_PATH opens the entry itself: no FIFO is opened, no link followed. */
        _cleanup_close_ int fd = openat(d->fd, tmp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                r = -errno;
        else if (st.st_uid != geteuid() || cn_fsmeta_type_of(st.st_mode, &type) < 0 || type != n->type)
                r = -ESTALE;    /* replaced under its temporary name */
        if (r >= 0)
                r = rename_over(d->fd, tmp, n->name);
        if (r < 0) {
                (void) unlinkat(d->fd, tmp, 0);
                return r;
        }
        r = apply_metadata(R, fd, n, 0);
        if (r < 0)
                return r;
        count(R, &R->stats->others, 0);
        return 1;
}

/* Keep at most WINDOW made directories of the walker's stack open, beyond
 * those with something pending (open until it is done): close frame i's
 * once the frames above it are WINDOW deep and its child is made (the way
 * back to it is that child's ".."). */
static void window_close(Restore *R, size_t top) {
        if (top < WINDOW)
                return;
        Dir *d = R->frames[top - WINDOW].dir;
        if (!R->frames[top - WINDOW + 1].dir->made)
                return;
        pthread_mutex_lock(&R->lock);
        if (d->fd >= 0 && d->pending == 0) {
                close(d->fd);
                d->fd = -1;
        }
        pthread_mutex_unlock(&R->lock);
}

/* Enter directory d (taken, except on failure) with the entries of tree. */
static int push_frame(Restore *R, Dir *d, const uint8_t tree[CN_ID_BYTES], bool selected) {
        if (CN_GROW(R->frames, R->cap_frames, R->n_frames) < 0)
                return -ENOMEM;
        Frame *f = &R->frames[R->n_frames];
        *f = (Frame) { .dir = d, .mark = R->path.len, .selected = selected };
        if (R->n_frames >= MAX_DEPTH)
                entry_error(R, -ELOOP);
        else {
                int r = load_tree(R->store, tree, &R->blob, &f->nodes, &f->n);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        entry_error(R, r);      /* a damaged tree loses its subtree, nothing else */
        }
        R->n_frames++;
        if (d->made)
                window_close(R, R->n_frames - 1);
        return 0;
}

/* Make directory d (its name is d->meta.name) in parent, or reuse the one
 * there; whatever else stands at the name is removed (never followed). */
static int make_dir(Restore *R, Dir *parent, Dir *d) {
        const char *name = d->meta.name;
        bool created = false;

        if (mkdirat(parent->fd, name, 0700) == 0)
                created = true;
        else if (errno == EEXIST) {
                struct stat st;
                if (fstatat(parent->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
                        if (unlinkat(parent->fd, name, 0) < 0 || mkdirat(parent->fd, name, 0700) < 0)
                                return -errno;
                        created = true;
                }
        } else
                return -errno;
        _cleanup_close_ int fd = openat(parent->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (created && st.st_uid != geteuid())
                return -ESTALE;         /* replaced between mkdir and open */
        d->fd = TAKE_FD(fd);
        d->dev = st.st_dev;
        d->ino = st.st_ino;
        d->fresh = created && parent->fresh;
        d->made = true;
        return 0;
}

/* Something is made in the top frame's directory: make it first, and the
 * directories above it that were entered only to look for includes. Each
 * is made once; when the top is made this is one test. */
static int make_dirs(Restore *R) {
        size_t i = R->n_frames;
        while (!R->frames[i - 1].dir->made)
                i--;
        for (; i < R->n_frames; i++) {
                int r = make_dir(R, R->frames[i - 1].dir, R->frames[i].dir);
                if (r < 0)
                        return r;
                window_close(R, i);
        }
        return 0;
}

/* Enter the directory n of the top frame's directory. A selected one is
 * made now; one entered only to look for includes below it is made when
 * something below is (make_dirs()), so one where nothing matches leaves
 * the target as it was. */
static int enter_dir(Restore *R, const CnNode *n, bool selected) {
        Dir *d = calloc(1, sizeof *d);
        int r;
        if (!d)
                return -ENOMEM;
        d->fd = -1;
        d->has_meta = true;
        CnNode meta = *n;
        meta.chunks = NULL;
        meta.n_chunks = 0;
        r = cn_node_copy(&d->meta, &meta);
        if (r >= 0 && selected && (r = make_dirs(R)) >= 0)
                r = make_dir(R, R->frames[R->n_frames - 1].dir, d);
        if (r >= 0)
                r = push_frame(R, d, n->subtree, selected);
        if (r < 0)
                dir_free(d);
        return r;
}

/* Reopen the directory of frame i (closed by the window) through ".." of
 * frame i + 1's, and check it is the same directory. */
static int reopen_parent(Restore *R, size_t i) {
        Dir *p = R->frames[i].dir, *c = R->frames[i + 1].dir;
        int fd = openat(c->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
                int e = -errno;
                if (fd >= 0)
                        close(fd);
                return e;
        }
        if (st.st_dev != p->dev || st.st_ino != p->ino) {
                close(fd);
                return -ESTALE;
        }
        p->fd = fd;
        return 0;
}

/* Leave the top frame's directory: its metadata is applied now, or by the
 * worker that puts the last of its pending entries in place. One never
 * made (nothing below it matched an include) is just dropped. */
static int leave_dir(Restore *R) {
        Frame *f = &R->frames[R->n_frames - 1];
        Dir *d = f->dir;
        int r = 0;

        cn_nodes_free(f->nodes, f->n);
        f->nodes = NULL;
        cn_path_pop(&R->path, f->mark);
        R->n_frames--;
        if (!d->made) {
                dir_free(d);
                return 0;
        }
        if (R->n_frames > 0 && R->frames[R->n_frames - 1].dir->fd < 0) {
                r = reopen_parent(R, R->n_frames - 1);
                if (r < 0) {
                        /* Moved or replaced while restoring: nothing above can be reached safely. */
                        entry_error(R, r);
                        r = -ESTALE;
                }
        }
        pthread_mutex_lock(&R->lock);
        d->left = true;
        bool now = d->pending == 0;
        if (!now)
                d->path = strdup((const char *) R->path.data);
        pthread_mutex_unlock(&R->lock);
        if (now)
                dir_finish(R, d, (const char *) R->path.data);
        return r;
}

static int restore_walk(Restore *R) {
        int r = 0;
        while (R->n_frames > 0) {
                Frame *f = &R->frames[R->n_frames - 1];
                if (f->next == f->n) {
                        r = leave_dir(R);
                        if (r < 0)
                                break;
                        continue;
                }
                const CnNode *e = &f->nodes[f->next++];
                size_t mark;
                cn_path_pop(&R->path, f->mark);
                r = cn_path_push(&R->path, e->name, e->name_len, &mark);
                if (r < 0)
                        break;
                bool sel = f->selected || cn_patterns_match(R->o->includes, (const char *) R->path.data);
                if (e->type == CN_NODE_DIR)
                        r = enter_dir(R, e, sel);       /* f is stale from here */
                else if (!sel)
                        r = 0;
                else if ((r = make_dirs(R)) >= 0)
                        r = e->type == CN_NODE_FILE ? restore_file(R, f->dir, e) : restore_special(R, f->dir, e);
                if (r < 0 && r != -ENOMEM)
                        r = entry_error(R, r);
                if (r < 0)
                        break;
        }
        /* After a fatal error: unwind, applying nothing more. */
        while (R->n_frames > 0) {
                Frame *f = &R->frames[--R->n_frames];
                cn_nodes_free(f->nodes, f->n);
                pthread_mutex_lock(&R->lock);
                f->dir->left = true;
                bool now = f->dir->pending == 0;
                f->dir->has_meta = false;
                pthread_mutex_unlock(&R->lock);
                if (now)
                        dir_free(f->dir);
        }
        return r;
}

/* Every name is made: the immutable and append-only flags the link groups
 * put off go on now, each inode found again by its first name and checked
 * to be the one restored. */
static void restore_locked_groups(Restore *R) {
        for (size_t i = 0; i < R->n_locked; i++) {
                LinkGroup *g = R->locked[i];
                if (!g->done)
                        continue;
                CnNode n = {.type = CN_NODE_FILE, .name = g->rel, .fsflags = g->fsflags};
                _cleanup_close_ int fd = open_rel(R->target_fd, g->rel, g->dev, g->ino);
                int r = fd < 0 ? fd : cn_fsmeta_apply_fsflags(fd, &n, R->o->meta_flags);
                if (r < 0)
                        report(R, g->rel, r);
        }
}

static void link_group_free(void *p) {
        LinkGroup *g = p;
        free(g->rel);
        free(g);
}

/* Tasks and pending links in flight: each may hold a file and a directory
 * open; what RLIMIT_NOFILE leaves after the walker's window, the backend's
 * cached descriptors and the workers' own. */
static unsigned inflight_limit(unsigned workers) {
        struct rlimit rl;
        uint64_t reserve = 64 + WINDOW + 4 * (uint64_t) workers, avail = INFLIGHT_MAX * 2;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
                avail = rl.rlim_cur > reserve ? rl.rlim_cur - reserve : 0;
        return (unsigned) CN_MAX(CN_MIN(avail / 2, (uint64_t) INFLIGHT_MAX), 1u);
}

int cn_restore_run(CnStore *store, const CnSnapshot *snap, const CnRestoreOptions *o, CnRestoreStats *ret) {
        const char *sub = o->subpath ? o->subpath : "/";
        CnPatterns none = {};
        CnRestoreOptions opts = *o;
        CnNode base = {};
        Dir *root = NULL;
        int r;

        *ret = (CnRestoreStats) {};
        if (!opts.includes)
                opts.includes = &none;
        Restore R = {
                .store = store,
                .o = &opts,
                .stats = ret,
                .target_fd = o->target_fd,
                .proc = access("/proc/self/fd", F_OK) == 0,
                .tmp_base = (uint32_t) getpid() ^ (uint32_t) (uintptr_t) &R,
        };
        cn_buf_init(&R.path, MAX_PATH_BYTES);
        cn_buf_init(&R.blob, CN_MAX_TREE_BYTES);
        pthread_mutex_init(&R.lock, NULL);
        pthread_cond_init(&R.has_job, NULL);
        pthread_cond_init(&R.has_room, NULL);
        pthread_cond_init(&R.idle, NULL);

        r = cn_snapshot_find_node(store, snap, sub, &base);
        if (r < 0)
                goto out;
        r = cn_linktable_new(link_group_free, &R.links);
        if (r < 0)
                goto out;
        root = calloc(1, sizeof *root);
        if (!root) {
                r = -ENOMEM;
                goto out;
        }
        struct stat st;
        root->fd = fcntl(o->target_fd, F_DUPFD_CLOEXEC, 3);
        if (root->fd < 0 || fstat(root->fd, &st) < 0) {
                r = -errno;
                goto out;
        }
        if (!S_ISDIR(st.st_mode)) {
                r = -ENOTDIR;
                goto out;
        }
        root->dev = st.st_dev;
        root->ino = st.st_ino;
        root->made = true;
        /* What is made in a target with a default ACL inherits it: then nothing counts as fresh. */
        root->fresh = fgetxattr(root->fd, "system.posix_acl_default", NULL, 0) < 0 &&
                      (errno == ENODATA || errno == EOPNOTSUPP);
        /* A worker per CPU, or per connection when the backend has more:
         * remote reads wait on the network, not the CPU. */
        CnBackend *backend = cn_repo_backend(cn_store_repo(store));
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned workers = CN_MAX(cpus > 0 ? (unsigned) cpus : 1u, cn_backend_connections(backend));
        R.inflight_max = inflight_limit(workers);
        /* Remote: a pack is fetched once, whole, not once a chunk (files come
         * back in the order they were stored, so a pack's chunks are needed
         * together); a slot per worker and one to spare. */
        if (!cn_backend_local_path(backend))
                r = cn_store_set_pack_cache(store, workers + 1);
        if (r < 0)
                goto out;
        r = pool_start(&R, workers);
        if (r < 0)
                goto out;
        if (strcmp(sub, "/") != 0) {
                r = cn_buf_append(&R.path, sub, strlen(sub));
                if (r < 0)
                        goto out;
        }
        R.base_len = R.path.len;
        if ((r = cn_buf_put_u8(&R.path, 0)) < 0)
                goto out;
        R.path.len--;
        bool selected = opts.includes->n == 0 || cn_patterns_match(opts.includes, sub);
        if (base.type == CN_NODE_DIR) {
                r = push_frame(&R, root, base.subtree, selected);
                if (r >= 0) {
                        root = NULL;
                        r = restore_walk(&R);
                }
        } else {
                /* ID:FILE restores that one entry into target. */
                size_t mark;
                R.base_len = R.path.len - base.name_len - 1;
                cn_path_pop(&R.path, R.base_len);
                r = cn_path_push(&R.path, base.name, base.name_len, &mark);
                if (r >= 0) {
                        r = base.type == CN_NODE_FILE ? restore_file(&R, root, &base) : restore_special(&R, root, &base);
                        if (r < 0 && r != -ENOMEM)
                                r = entry_error(&R, r);
                }
                pthread_mutex_lock(&R.lock);
                root->left = true;
                bool now = root->pending == 0;
                pthread_mutex_unlock(&R.lock);
                if (now)
                        dir_free(root);
                root = NULL;
        }
        pool_wait_idle(&R);
        restore_locked_groups(&R);
out:
        pool_stop(&R);
        dir_free(root);
        for (size_t i = 0; i < R.n_frames; i++)
                cn_nodes_free(R.frames[i].nodes, R.frames[i].n);
        free(R.frames);
        cn_node_done(&base);
        free(R.locked);
        cn_linktable_free(R.links);
        cn_buf_done(&R.path);
        cn_buf_done(&R.blob);
        pthread_mutex_destroy(&R.lock);
        pthread_cond_destroy(&R.has_job);
        pthread_cond_destroy(&R.has_room);
        pthread_cond_destroy(&R.idle);
        return r < 0 ? r : 0;
}
