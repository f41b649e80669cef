/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "restore.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fileio.h"
#include "format.h"
#include "macro.h"
#include "tree.h"

#define MAX_PATH_BYTES (1u << 20)
#define MAX_DEPTH 4096

static int path_push(CnBuf *p, const char *name, size_t len, size_t *ret_mark) {
        int r;
        *ret_mark = p->len;
        if ((r = cn_buf_put_u8(p, '/')) < 0 || (r = cn_buf_append(p, name, len)) < 0 ||
            (r = cn_buf_put_u8(p, 0)) < 0)
                return r;
        p->len--;
        return 0;
}

static void path_pop(CnBuf *p, size_t mark) {
        p->len = mark;
        p->data[mark] = 0;
}

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
                        path_pop(&path, l->mark);
                        l->i++;
                        continue;
                }
                const CnNode *e = &l->nodes[l->i];
                r = path_push(&path, e->name, e->name_len, &l->mark);
                if (r >= 0)
                        r = fn((const char *) path.data, e, u);
                if (r < 0)
                        return r;
                if (r == 0 && e->type == CN_NODE_DIR) {
                        next = e->subtree;      /* in l->nodes, which stays put */
                        continue;
                }
                path_pop(&path, l->mark);
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

/* Write a file's content: chunks in order, laid out over the data extents
 * when sparse (holes are never written, so they stay holes). */
static int write_content(CnStoreReader *rd, const CnNode *n, int fd, bool seekable, CnBuf *chunk) {
        size_t ei = 0;
        uint64_t off = 0, eleft = 0, total = 0;
        int r;

        if (n->sparse) {
                if (ftruncate(fd, (off_t) n->size) < 0)
                        return -errno;
                if (n->n_extents) {
                        off = n->extents[0].offset;
                        eleft = n->extents[0].length;
                }
        }
        for (size_t i = 0; i < n->n_chunks; i++) {
                r = cn_store_read(rd, n->chunks[i], chunk);
                if (r < 0)
                        return r;
                const uint8_t *p = chunk->data;
                size_t left = chunk->len;
                total += left;
                if (!n->sparse) {
                        r = cn_write_all(fd, p, left);
                        if (r < 0)
                                return r;
                        continue;
                }
                while (left > 0) {
                        while (eleft == 0) {
                                if (++ei >= n->n_extents)
                                        return -EBADMSG;        /* more data than extents */
                                off = n->extents[ei].offset;
                                eleft = n->extents[ei].length;
                        }
                        size_t k = (size_t) CN_MIN((uint64_t) left, eleft);
                        if (seekable) {
                                ssize_t w = pwrite(fd, p, k, (off_t) off);
                                if (w < 0) {
                                        if (errno == EINTR)
                                                continue;
                                        return -errno;
                                }
                                k = (size_t) w;
                        }
                        p += k;
                        left -= k;
                        off += k;
                        eleft -= k;
                }
        }
        uint64_t expect = n->size;
        if (n->sparse) {
                expect = 0;
                for (size_t i = 0; i < n->n_extents; i++)
                        expect += n->extents[i].length;
        }
        return total == expect ? 0 : -EBADMSG;
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

int cn_dump_file(CnStore *store, const CnNode *n, int fd) {
        _cleanup_(cn_buf_donep) CnBuf chunk = CN_BUF_INIT(CN_MAX_CHUNK_BYTES);
        _cleanup_(cn_store_reader_freep) CnStoreReader *rd = NULL;
        int r;
        if (n->type != CN_NODE_FILE)
                return -EISDIR;
        r = cn_store_reader_new(store, &rd);
        if (r < 0)
                return r;
        if (!n->sparse)
                return write_content(rd, n, fd, false, &chunk);
        /* A stream cannot seek: write the holes as zeros between extents. */
        uint64_t pos = 0;
        size_t ci = 0, have_off = 0;
        for (size_t e = 0; e < n->n_extents; e++) {
                r = write_zeros(fd, n->extents[e].offset - pos);
                if (r < 0)
                        return r;
                uint64_t left = n->extents[e].length;
                while (left > 0) {
                        if (have_off == chunk.len) {
                                if (ci >= n->n_chunks)
                                        return -EBADMSG;
                                r = cn_store_read(rd, n->chunks[ci++], &chunk);
                                if (r < 0)
                                        return r;
                                have_off = 0;
                        }
                        size_t k = (size_t) CN_MIN(left, (uint64_t) (chunk.len - have_off));
                        r = cn_write_all(fd, chunk.data + have_off, k);
                        if (r < 0)
                                return r;
                        have_off += k;
                        left -= k;
                }
                pos = n->extents[e].offset + n->extents[e].length;
        }
        return write_zeros(fd, n->size - pos);
}

/* ---- restore ----
 *
 * The calling thread walks the trees: it makes directories, symlinks,
 * special files and hard links, and creates each regular file; worker
 * threads write the files' content and metadata. Directory metadata is
 * applied last, children before parents, so that neither the creation of
 * entries nor a read-only mode gets in the way. */

typedef struct LinkPath {
        uint64_t group;
        char *rel;                      /* path relative to the target */
} LinkPath;

/* A file being written; large ones are written by several workers at
 * once, a range of chunks each, and the last to finish applies the metadata. */
typedef struct FileTask {
        int fd;
        unsigned flags;                 /* CN_FSMETA_*, with FRESH for a file this restore made */
        CnNode node;
        char *path;                     /* in the snapshot, for messages */
        unsigned parts_left;            /* under the pool's lock */
        int error;                      /* the first, under the pool's lock */
} FileTask;

typedef struct FileJob {
        FileTask *task;
        bool whole;                     /* all of it through write_content() */
        size_t first, last;             /* else: chunks [first, last) ... */
        uint64_t offset;                /* ... written from here */
        struct FileJob *next;
} FileJob;

#define SPLIT_BYTES (32u << 20)         /* a file larger than this is written in parts */

typedef struct DirMeta {
        char *rel;                      /* relative to the target */
        CnNode node;                    /* metadata only */
        bool fresh;                     /* made by this restore */
} DirMeta;

typedef struct Worker {
        struct Restore *R;
        pthread_t thread;
        CnStoreReader *reader;
        CnBuf chunk;
} Worker;

#define QUEUE_MAX 256

typedef struct Restore {
        CnStore *store;
        const CnRestoreOptions *o;
        CnRestoreStats *stats;
        int target_fd;
        CnBuf path;                     /* absolute path in the snapshot */
        size_t base_len;                /* length of the subpath prefix within path */
        CnBuf blob;                     /* tree blobs of the walk */
        LinkPath *links;
        size_t n_links;
        DirMeta *dirs;
        size_t n_dirs, cap_dirs;
        /* The pool; lock guards it, stats and on_error. */
        pthread_mutex_t lock;
        pthread_cond_t has_job, has_room, idle;
        FileJob *head, *tail;
        unsigned queued, busy;
        bool stop;
        Worker *workers;
        unsigned n_workers;
} Restore;

static void report(Restore *R, const char *path, int r) {
        pthread_mutex_lock(&R->lock);
        R->stats->errors++;
        if (R->o->on_error)
                R->o->on_error(path, -r, R->o->userdata);
        pthread_mutex_unlock(&R->lock);
}

static int entry_error(Restore *R, int r) {
        report(R, (const char *) R->path.data, r);
        return 0;
}

static const char *rel_path(Restore *R) {
        const char *p = (const char *) R->path.data + R->base_len;
        while (*p == '/')
                p++;
        return p;
}

static LinkPath *link_find(Restore *R, uint64_t group) {
        for (size_t i = 0; i < R->n_links; i++)
                if (R->links[i].group == group)
                        return &R->links[i];
        return NULL;
}

static int link_add(Restore *R, uint64_t group) {
        LinkPath *l = realloc(R->links, (R->n_links + 1) * sizeof *l);
        if (!l)
                return -ENOMEM;
        R->links = l;
        l[R->n_links].group = group;
        l[R->n_links].rel = strdup(rel_path(R));
        if (!l[R->n_links].rel)
                return -ENOMEM;
        R->n_links++;
        return 0;
}

/* Remove what stands at name unless it is a directory we can reuse. */
static void clear_entry(int dirfd, const char *name) {
        if (unlinkat(dirfd, name, 0) < 0 && errno == EISDIR)
                (void) unlinkat(dirfd, name, AT_REMOVEDIR);
}

static void task_free(FileTask *t) {
        if (t->fd >= 0)
                close(t->fd);
        cn_node_done(&t->node);
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
                for (size_t done = 0; done < chunk->len;) {
                        ssize_t w = pwrite(fd, chunk->data + done, chunk->len - done, (off_t) (offset + done));
                        if (w < 0) {
                                if (errno == EINTR)
                                        continue;
                                return -errno;
                        }
                        done += (size_t) w;
                }
                offset += chunk->len;
        }
        return 0;
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
                pthread_cond_signal(&R->has_room);
                pthread_mutex_unlock(&R->lock);

                FileTask *t = j->task;
                int r = j->whole ? write_content(wk->reader, &t->node, t->fd, true, &wk->chunk)
                                 : write_range(wk->reader, &t->node, j->first, j->last, j->offset, t->fd, &wk->chunk);
                free(j);

                pthread_mutex_lock(&R->lock);
                if (r < 0 && t->error == 0)
                        t->error = r;
                bool last = --t->parts_left == 0;
                pthread_mutex_unlock(&R->lock);

                if (last) {
                        r = t->error;
                        if (r >= 0)
                                /* Everything goes through the fd: no directory is needed. */
                                r = cn_fsmeta_apply(-1, t->node.name, t->fd, &t->node, t->flags);
                        if (r < 0)
                                report(R, t->path, r);
                        pthread_mutex_lock(&R->lock);
                        if (r >= 0) {
                                R->stats->files++;
                                R->stats->bytes += t->node.size;
                        }
                        pthread_mutex_unlock(&R->lock);
                        task_free(t);
                }

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

/* Queue the writing of file n (opened as fd, which this takes): in ranges
 * of about SPLIT_BYTES when it is large and not sparse, else whole. */
static int dispatch(Restore *R, int fd, bool fresh, const CnNode *n) {
        FileTask *t = calloc(1, sizeof *t);
        if (!t) {
                close(fd);
                return -ENOMEM;
        }
        t->fd = fd;
        t->flags = R->o->meta_flags | (fresh ? CN_FSMETA_FRESH : 0);
        t->path = strdup((const char *) R->path.data);
        int r = !t->path ? -ENOMEM : cn_node_copy(&t->node, n);
        if (r < 0) {
                task_free(t);
                return r;
        }

        /* Where each range starts: from the chunks' sizes in the index. */
        size_t n_parts = 1;
        uint64_t *starts = NULL;
        size_t *bounds = NULL;
        if (!n->sparse && n->size > SPLIT_BYTES && n->n_chunks > 1) {
                size_t cap = (size_t) (n->size / SPLIT_BYTES) + 2;
                starts = malloc(cap * sizeof *starts);
                bounds = malloc(cap * sizeof *bounds);
                uint64_t off = 0, part_start = 0;
                bool ok = starts && bounds;
                n_parts = 0;
                for (size_t i = 0; ok && i < n->n_chunks; i++) {
                        uint32_t raw;
                        if (cn_store_blob_size(R->store, n->chunks[i], &raw) < 0) {
                                ok = false;
                                break;
                        }
                        if (i == 0 || (off - part_start >= SPLIT_BYTES && n_parts < cap - 1)) {
                                starts[n_parts] = off;
                                bounds[n_parts++] = i;
                                part_start = off;
                        }
                        off += raw;
                }
                if (!ok || off != n->size)
                        n_parts = 1;    /* the whole-file path reports what is wrong */
        }
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
                                report(R, t->path, -ENOMEM);
                                task_free(t);
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
        free(starts);
        free(bounds);
        return 0;
}

/* in_fresh: dirfd is a directory this restore made, so nothing is in it
 * but what the restore put there. */
static int restore_file(Restore *R, int dirfd, const CnNode *n, bool in_fresh) {
        bool fresh = false;
        int fd = -1, r;

        if (n->link_group) {
                LinkPath *l = link_find(R, n->link_group);
                if (l) {
                        int k = linkat(R->target_fd, l->rel, dirfd, n->name, 0);
                        if (k < 0 && errno == EEXIST) {
                                clear_entry(dirfd, n->name);
                                k = linkat(R->target_fd, l->rel, dirfd, n->name, 0);
                        }
                        if (k == 0) {
                                pthread_mutex_lock(&R->lock);
                                R->stats->files++;
                                pthread_mutex_unlock(&R->lock);
                                return 0;
                        }
                        /* Otherwise a copy: a path too long for linkat, a file system without links. */
                }
        }
        if (in_fresh) {
                fd = openat(dirfd, n->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                fresh = fd >= 0;
        }
        if (fd < 0)
                fd = openat(dirfd, n->name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && (errno == ELOOP || errno == EISDIR || errno == ETXTBSY)) {
                clear_entry(dirfd, n->name);
                fd = openat(dirfd, n->name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        }
        if (fd < 0)
                return -errno;
        if (n->link_group && !link_find(R, n->link_group)) {
                r = link_add(R, n->link_group);
                if (r < 0) {
                        close(fd);
                        return r;
                }
        }
        return dispatch(R, fd, fresh, n);
}

static int dir_meta_add(Restore *R, const CnNode *n, bool fresh) {
        if (R->n_dirs == R->cap_dirs) {
                size_t c = R->cap_dirs ? R->cap_dirs * 2 : 256;
                DirMeta *d = realloc(R->dirs, c * sizeof *d);
                if (!d)
                        return -ENOMEM;
                R->dirs = d;
                R->cap_dirs = c;
        }
        DirMeta *d = &R->dirs[R->n_dirs];
        *d = (DirMeta) {};
        CnNode meta = *n;
        meta.chunks = NULL;
        meta.n_chunks = 0;
        int r = cn_node_copy(&d->node, &meta);
        if (r < 0)
                return r;
        d->rel = strdup(rel_path(R));
        if (!d->rel) {
                cn_node_done(&d->node);
                return -ENOMEM;
        }
        d->fresh = fresh;
        R->n_dirs++;
        return 0;
}

/* Open rel (below the target) one component at a time, so that paths
 * longer than PATH_MAX work too. Returns the fd of its parent, and the
 * fd of rel itself in *ret_fd. */
static int open_rel(int target_fd, const char *rel, int *ret_fd) {
        int parent = fcntl(target_fd, F_DUPFD_CLOEXEC, 3);
        const char *p = rel;
        if (parent < 0)
                return -errno;
        for (;;) {
                size_t len = strcspn(p, "/");
                char name[CN_MAX_NAME_BYTES + 1];
                if (len > CN_MAX_NAME_BYTES) {
                        close(parent);
                        return -ENAMETOOLONG;
                }
                memcpy(name, p, len);
                name[len] = 0;
                int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0) {
                        int e = -errno;
                        close(parent);
                        return e;
                }
                if (p[len] == 0) {
                        *ret_fd = fd;
                        return parent;
                }
                close(parent);
                parent = fd;
                p += len + 1;
        }
}

static void apply_dir_metadata(Restore *R) {
        for (size_t i = R->n_dirs; i > 0; i--) {
                DirMeta *d = &R->dirs[i - 1];
                int fd = -1, parent = open_rel(R->target_fd, d->rel, &fd);
                int r = parent;
                if (parent >= 0) {
                        r = cn_fsmeta_apply(parent, d->node.name, fd, &d->node,
                                            R->o->meta_flags | (d->fresh ? CN_FSMETA_FRESH : 0));
                        close(fd);
                        close(parent);
                }
                if (r < 0) {
                        char *abs = NULL;
                        const char *base = (const char *) R->path.data;
                        if (asprintf(&abs, "%.*s/%s", (int) R->base_len, base, d->rel) < 0)
                                abs = NULL;
                        report(R, abs ? abs : d->rel, r);
                        free(abs);
                } else
                        R->stats->dirs++;
        }
}

static int restore_tree(Restore *R, int dirfd, bool fresh, const uint8_t tree[CN_ID_BYTES], bool selected,
                        int depth, uint64_t *ret_count);

/* in_fresh: dirfd was made by this restore (or is a target without a
 * default ACL), so what is made in it inherits nothing. */
static int restore_dir(Restore *R, int dirfd, bool in_fresh, const CnNode *n, bool selected, int depth,
                       uint64_t *ret_count) {
        _cleanup_close_ int fd = -1;
        bool created = false;
        uint64_t count = 0;
        int r;

        if (mkdirat(dirfd, n->name, 0700) == 0)
                created = true;
        else if (errno == EEXIST) {
                struct stat st;
                if (fstatat(dirfd, n->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
                        clear_entry(dirfd, n->name);
                        if (mkdirat(dirfd, n->name, 0700) < 0)
                                return -errno;
                        created = true;
                }
        } else
                return -errno;
        fd = openat(dirfd, n->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t at = R->n_dirs;
        bool fresh = created && in_fresh;
        r = dir_meta_add(R, n, fresh);
        if (r < 0)
                return r;
        r = restore_tree(R, fd, fresh, n->subtree, selected, depth + 1, &count);
        if (r < 0)
                return r;
        if (!selected && count == 0) {
                /* Only entered to look for includes, and nothing matched:
                 * no entry was made below, so nothing of it is left to apply. */
                for (size_t i = at; i < R->n_dirs; i++) {
                        free(R->dirs[i].rel);
                        cn_node_done(&R->dirs[i].node);
                }
                R->n_dirs = at;
                if (created)
                        (void) unlinkat(dirfd, n->name, AT_REMOVEDIR);
                return 0;
        }
        *ret_count += count + 1;
        return 0;
}

static int restore_tree(Restore *R, int dirfd, bool fresh, const uint8_t tree[CN_ID_BYTES], bool selected,
                        int depth, uint64_t *ret_count) {
        CnNode *nodes = NULL;
        size_t n = 0;
        int r;

        if (depth > MAX_DEPTH)
                return entry_error(R, -ELOOP);
        r = load_tree(R->store, tree, &R->blob, &nodes, &n);
        if (r < 0) {
                if (r == -ENOMEM)
                        return r;
                return entry_error(R, r);       /* a damaged tree loses its subtree, nothing else */
        }
        for (size_t i = 0; i < n; i++) {
                const CnNode *e = &nodes[i];
                size_t mark;
                r = path_push(&R->path, e->name, e->name_len, &mark);
                if (r < 0)
                        break;
                bool sel = selected || cn_patterns_match(R->o->includes, (const char *) R->path.data);
                if (e->type == CN_NODE_DIR)
                        r = restore_dir(R, dirfd, fresh, e, sel, depth, ret_count);
                else if (!sel)
                        r = 0;
                else if (e->type == CN_NODE_FILE) {
                        r = restore_file(R, dirfd, e, fresh);
                        if (r >= 0)
                                (*ret_count)++;
                } else {
                        r = cn_fsmeta_create_special(dirfd, e);
                        if (r == -EEXIST) {
                                clear_entry(dirfd, e->name);
                                r = cn_fsmeta_create_special(dirfd, e);
                        }
                        if (r >= 0)
                                r = cn_fsmeta_apply(dirfd, e->name, -1, e, R->o->meta_flags);
                        if (r >= 0) {
                                R->stats->others++;
                                (*ret_count)++;
                        }
                }
                if (r < 0 && r != -ENOMEM)
                        r = entry_error(R, r);
                path_pop(&R->path, mark);
                if (r < 0)
                        break;
        }
        cn_nodes_free(nodes, n);
        return r < 0 ? r : 0;
}

int cn_restore_run(CnStore *store, const CnSnapshot *snap, const CnRestoreOptions *o, CnRestoreStats *ret) {
        const char *sub = o->subpath ? o->subpath : "/";
        CnPatterns none = {};
        CnRestoreOptions opts = *o;
        CnNode base = {};
        uint64_t count = 0;
        int r;

        *ret = (CnRestoreStats) {};
        if (!opts.includes)
                opts.includes = &none;
        Restore R = { .store = store, .o = &opts, .stats = ret, .target_fd = -1 };
        cn_buf_init(&R.path, MAX_PATH_BYTES);
        cn_buf_init(&R.blob, CN_MAX_TREE_BYTES);
        pthread_mutex_init(&R.lock, NULL);
        pthread_cond_init(&R.has_job, NULL);
        pthread_cond_init(&R.has_room, NULL);
        pthread_cond_init(&R.idle, NULL);

        r = cn_snapshot_find_node(store, snap, sub, &base);
        if (r < 0)
                goto out;
        r = cn_mkdir_p_at(AT_FDCWD, o->target, 0700);
        if (r < 0)
                goto out;
        R.target_fd = open(o->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (R.target_fd < 0) {
                r = -errno;
                goto out;
        }
        /* A worker per CPU, or per connection when the backend has more:
         * remote reads wait on the network, not the CPU. */
        CnBackend *backend = cn_repo_backend(cn_store_repo(store));
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned workers = CN_MAX(cpus > 0 ? (unsigned) cpus : 1u, cn_backend_connections(backend));
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
        /* What is made in a target with a default ACL inherits it: then nothing counts as fresh. */
        bool target_fresh = fgetxattr(R.target_fd, "system.posix_acl_default", NULL, 0) < 0 &&
                            (errno == ENODATA || errno == EOPNOTSUPP);
        if (base.type == CN_NODE_DIR)
                r = restore_tree(&R, R.target_fd, target_fresh, base.subtree, selected, 0, &count);
        else {
                /* ID:FILE restores that one entry into target. */
                size_t mark;
                R.base_len = R.path.len - base.name_len - 1;
                path_pop(&R.path, R.base_len);
                r = path_push(&R.path, base.name, base.name_len, &mark);
                if (r >= 0) {
                        r = base.type == CN_NODE_FILE ? restore_file(&R, R.target_fd, &base, false)
                                                      : cn_fsmeta_create_special(R.target_fd, &base);
                        if (r >= 0 && base.type != CN_NODE_FILE)
                                r = cn_fsmeta_apply(R.target_fd, base.name, -1, &base, opts.meta_flags);
                        if (r < 0 && r != -ENOMEM)
                                r = entry_error(&R, r);
                }
        }
        pool_wait_idle(&R);
        if (r >= 0)
                apply_dir_metadata(&R);
out:
        pool_stop(&R);
        cn_node_done(&base);
        for (size_t i = 0; i < R.n_links; i++)
                free(R.links[i].rel);
        free(R.links);
        for (size_t i = 0; i < R.n_dirs; i++) {
                free(R.dirs[i].rel);
                cn_node_done(&R.dirs[i].node);
        }
        free(R.dirs);
        if (R.target_fd >= 0)
                close(R.target_fd);
        cn_buf_done(&R.path);
        cn_buf_done(&R.blob);
        pthread_mutex_destroy(&R.lock);
        pthread_cond_destroy(&R.has_job);
        pthread_cond_destroy(&R.has_room);
        pthread_cond_destroy(&R.idle);
        return r;
}
