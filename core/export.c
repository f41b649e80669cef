/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Export: the walk of a scope (cn_erase_scope_walk()) over the snapshots of
 * a controller, each entry into the archive (libarchive) with its content
 * read as restore reads it (cn_file_content()), each entry's record into an
 * unlinked temporary file; at the end manifest.json put together from that
 * file and signed in two passes over it, then manifest.sig. */
#include "export.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "certificate.h"
#include "fileio.h"
#include "hex.h"
#include "hold.h"
#include "linktable.h"
#include "location.h"
#include "macro.h"
#include "records.h"
#include "restore.h"
#include "retention.h"
#include "utf8.h"

#define _cleanup_json_ _cleanup_(json_decrefp)
#define JSON_FLAGS (JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER)
#define IO_BYTES (1u << 20) /* reading the records back, zeros of holes */
#define ACL_ACCESS "system.posix_acl_access"
#define ACL_DEFAULT "system.posix_acl_default"

static const char *const type_names[] = {NULL, "file", "dir", "symlink", "fifo", "chardev", "blockdev", "socket"};

/* ---- times ---- */

#define TIME_TEXT_BYTES CN_EXPORT_TIME_BYTES
void cn_export_time(int64_t sec, uint32_t nsec, bool frac, char buf[CN_EXPORT_TIME_BYTES]) {
        int64_t days = sec / 86400, rem = sec % 86400;
        if (rem < 0)
                rem += 86400, days--;
        /* civil from days (H. Hinnant), in int64: any day of any int64 second */
        int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097, doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365, y = yoe + era * 400;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
        int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
        char year[32], fraction[16] = "";
        y += m <= 2;
        if (y >= 0 && y <= 9999)
                snprintf(year, sizeof year, "%04lld", (long long) y);
        else
                snprintf(year, sizeof year, "%+05lld", (long long) y);
        if (frac)
                snprintf(fraction, sizeof fraction, ".%09u", nsec);
        snprintf(buf, CN_EXPORT_TIME_BYTES, "%s-%02d-%02dT%02d:%02d:%02d%sZ", year, (int) m, (int) d,
                 (int) (rem / 3600), (int) (rem / 60 % 60), (int) (rem % 60), fraction);
}

/* ---- the order of entries ---- */

int cn_export_path_cmp(const char *a, size_t a_len, const char *b, size_t b_len) {
        size_t i = 0, j = 0;
        for (;;) {
                /* a trailing '/' starts no component: "x/" is "x" */
                bool more_a = i < a_len, more_b = j < b_len;
                if (!more_a || !more_b)
                        return (int) more_a - (int) more_b;
                size_t ei = i, ej = j;
                while (ei < a_len && a[ei] != '/')
                        ei++;
                while (ej < b_len && b[ej] != '/')
                        ej++;
                int c = cn_name_cmp(a + i, ei - i, b + j, ej - j);
                if (c != 0)
                        return c;
                i = ei + 1;
                j = ej + 1;
        }
}

/* ---- temporary files ---- */

/* A new file nobody else can reach: unlinked from the start (O_TMPFILE),
 * or unlinked as soon as it is made. */
static int tmp_open(int dirfd) {
        int fd = openat(dirfd >= 0 ? dirfd : AT_FDCWD, dirfd >= 0 ? "." : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
                return fd >= 0 ? fd : -errno;
        char name[] = "/tmp/cairn-export-XXXXXX";
        fd = mkostemp(name, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        (void) unlink(name);
        return fd;
}

/* ---- names ----
 *
 * libarchive writes a name as UTF-8 (pax: a plain "path" header; zip: the
 * UTF-8 flag) when the thread's locale is UTF-8, and as its bytes (pax:
 * hdrcharset=BINARY; zip: no flag) when it cannot convert it. So each
 * entry is written in C.UTF-8 when its names are UTF-8 and in C when one
 * is not, and archives are read in C.UTF-8 (then every name comes back as
 * its bytes). Only this thread's locale changes (uselocale()), and back. */
typedef struct Locales {
        locale_t utf8, plain; /* (locale_t) 0 where there is none: no switching */
} Locales;

static void locales_init(Locales *l) {
        l->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t) 0);
        l->plain = newlocale(LC_CTYPE_MASK, "C", (locale_t) 0);
}

static void locales_done(Locales *l) {
        if (l->utf8)
                freelocale(l->utf8);
        if (l->plain)
                freelocale(l->plain);
}

/* Switch to utf8 (or plain); returns the locale to go back to, or 0. */
static locale_t locale_use(const Locales *l, bool utf8) {
        locale_t to = utf8 ? l->utf8 : l->plain;
        return l->utf8 && l->plain ? uselocale(to) : (locale_t) 0;
}

static bool text_utf8(const char *s) {
        return !s || cn_utf8_valid(s, strlen(s));
}

/* ---- the writer ---- */

typedef struct Snap {
        CnSnapshot *s; /* in the list */
        char folder[CN_EXPORT_FOLDER_BYTES];
        bool selected; /* options.snapshots names it (or names none) */
        bool in_scope; /* an entry of it is */
        bool restricted;
        uint64_t entries;
} Snap;

/* A directory above the entry at hand that the scope does not reach:
 * written before the first entry below it that it does. */
typedef struct Ancestor {
        char *path;
        size_t len;
        CnNode node; /* without chunks */
        bool written;
} Ancestor;

/* The first name of a hard link group in this snapshot. */
typedef struct LinkFirst {
        char *archive_path;
        uint8_t sha256[CN_ID_BYTES];
} LinkFirst;

typedef struct Export {
        CnRepo *repo;
        CnController *c;
        const CnExportOptions *o;
        CnExportResult *res;
        CnEraseRequest q;
        CnStore *store;
        CnStoreReader *reader;
        CnBuf chunk;
        CnSha256 *sha;
        uint8_t *io; /* IO_BYTES: zeros for holes, then reading records back */
        struct archive *a;
        struct archive_entry *e;
        Locales loc;
        CnSnapshot *list;
        size_t n_list;
        Snap *snaps; /* by folder name: time order */
        size_t n_snaps;
        Snap *at;
        Ancestor *anc;
        size_t n_anc, cap_anc;
        CnLinkTable *links; /* link group -> LinkFirst, this snapshot's */
        CnBuf apath;        /* the archive path at hand */
        int rec_fd;         /* records: the files, then the events */
        FILE *rec;
        uint64_t files_len, events_len; /* bytes of each in rec */
        CnAuditLog log;                 /* the controller's audit log as the export began */
        bool log_loaded;
} Export;

static int archive_error(Export *x) {
        int e = archive_errno(x->a);
        x->res->output_failed = true;
        return e > 0 ? -e : -EIO;
}

/* ARCHIVE_WARN is a success: a name libarchive could not translate to
 * UTF-8 is stored as its bytes (hdrcharset=BINARY), as it should be. */
static int archive_check(Export *x, int r) {
        return r >= ARCHIVE_WARN ? 0 : archive_error(x);
}

static int feed(Export *x, const void *p, size_t n, bool hash) {
        if (hash)
                cn_sha256_update(x->sha, p, n);
        while (n > 0) {
                la_ssize_t w = archive_write_data(x->a, p, n);
                if (w < 0)
                        return archive_error(x);
                if (w == 0)
                        return -EIO;
                p = (const uint8_t *) p + w;
                n -= (size_t) w;
        }
        return 0;
}

/* Holes as zeros: the pax writer skips what its sparse map says is a hole. */
static int feed_zeros(Export *x, uint64_t n) {
        while (n > 0) {
                size_t k = (size_t) CN_MIN(n, (uint64_t) IO_BYTES);
                int r = feed(x, x->io, k, true);
                if (r < 0)
                        return r;
                n -= k;
        }
        return 0;
}

typedef struct Content {
        Export *x;
        uint64_t pos;
} Content;

static int content_put(const uint8_t *p, size_t n, uint64_t off, void *u) {
        Content *k = u;
        int r = feed_zeros(k->x, off - k->pos);
        if (r >= 0)
                r = feed(k->x, p, n, true);
        k->pos = off + n;
        return r;
}

/* A JSON string of the n bytes at s: themselves when they are UTF-8, else
 * each byte that is not as U+FFFD, and then key_hex the exact bytes. */
static int put_text(json_t *o, const char *key, const char *s, size_t n) {
        json_t *v;
        if (cn_utf8_valid(s, n) && !memchr(s, 0, n))
                return json_object_set_new(o, key, json_stringn(s, n)) < 0 ? -ENOMEM : 0;
        _cleanup_free_ char *t = cn_utf8_lossy(s, n), *hex = malloc(2 * n + 1);
        char hkey[64];
        if (!t || !hex || !(v = json_string(t)) || json_object_set_new(o, key, v) < 0)
                return -ENOMEM;
        cn_hex_encode((const uint8_t *) s, n, hex);
        snprintf(hkey, sizeof hkey, "%s_hex", key);
        return json_object_set_new(o, hkey, json_string(hex)) < 0 ? -ENOMEM : 0;
}

static json_t *hex_json(const uint8_t *p, size_t n) {
        char hex[2 * CN_ID_BYTES + 1];
        cn_hex_encode(p, n, hex);
        return json_string(hex);
}

static json_t *time_json(int64_t sec, uint32_t nsec, bool frac) {
        char t[TIME_TEXT_BYTES];
        cn_export_time(sec, nsec, frac, t);
        return json_string(t);
}

/* Append one record (a line of JSON) of the files or events to rec. */
static int record_put(Export *x, json_t *rec, uint64_t *len) {
        _cleanup_free_ char *s = json_dumps(rec, JSON_FLAGS);
        if (!s)
                return -ENOMEM;
        size_t n = strlen(s);
        if ((*len && fputs(",\n", x->rec) == EOF) || fwrite(s, 1, n, x->rec) != n)
                return -EIO;
        *len += n + (*len ? 2 : 0);
        return 0;
}

typedef struct Written {
        bool in_archive;
        bool hashed;
        uint8_t sha256[CN_ID_BYTES];
        const char *link; /* the first name of its hard link group */
} Written;

static int file_record(Export *x, const char *path, size_t len, const CnNode *n, bool in_scope, const Written *w) {
        _cleanup_json_ json_t *o = json_object();
        const CnSnapshot *s = x->at->s;
        const char *apath = (const char *) x->apath.data;
        int r;
        if (!o)
                return -ENOMEM;
        if ((r = put_text(o, "path", path, len)) < 0)
                return r;
        if (w->in_archive)
                r = put_text(o, "archive_path", apath, x->apath.len);
        else
                r = json_object_set_new(o, "archive_path", json_null());
        if (r < 0 || json_object_set_new(o, "snapshot", json_string(s->id_hex)) < 0 ||
            json_object_set_new(o, "snapshot_time", time_json(s->time.sec, 0, false)) < 0 ||
            json_object_set_new(o, "backup_time", time_json(s->time.sec, s->time.nsec, true)) < 0 ||
            json_object_set_new(o, "type", json_string(type_names[n->type])) < 0 ||
            json_object_set_new(o, "size", json_integer((json_int_t) n->size)) < 0 ||
            json_object_set_new(o, "sha256", w->hashed ? hex_json(w->sha256, CN_ID_BYTES) : json_null()) < 0 ||
            json_object_set_new(o, "mode", json_integer(n->mode)) < 0 ||
            json_object_set_new(o, "uid", json_integer(n->uid)) < 0 ||
            json_object_set_new(o, "gid", json_integer(n->gid)) < 0)
                return -ENOMEM;
        if ((r = n->user ? put_text(o, "user", n->user, strlen(n->user))
                         : json_object_set_new(o, "user", json_null())) < 0 ||
            (r = n->group ? put_text(o, "group", n->group, strlen(n->group))
                          : json_object_set_new(o, "group", json_null())) < 0)
                return -ENOMEM;
        if (json_object_set_new(o, "mtime", time_json(n->mtime.sec, n->mtime.nsec, true)) < 0 ||
            json_object_set_new(o, "in_scope", json_boolean(in_scope)) < 0)
                return -ENOMEM;
        if (w->link)
                r = put_text(o, "link", w->link, strlen(w->link));
        else
                r = json_object_set_new(o, "link", json_null());
        if (r < 0)
                return -ENOMEM;
        if (n->type == CN_NODE_SYMLINK)
                r = put_text(o, "target", n->target ? n->target : "", n->target_len);
        else
                r = json_object_set_new(o, "target", json_null());
        if (r < 0)
                return -ENOMEM;
        return record_put(x, o, &x->files_len);
}

/* A raw POSIX ACL (system.posix_acl_*: version 2, then entries of tag:u16
 * perm:u16 id:u32) into e's ACL of type; false if it is not one (then it
 * goes as the extended attribute it is). */
static bool put_acl(struct archive_entry *e, int type, const uint8_t *v, size_t n) {
        static const struct {
                unsigned tag;
                int archive;
        } tags[] = {
                {0x01, ARCHIVE_ENTRY_ACL_USER_OBJ}, {0x02, ARCHIVE_ENTRY_ACL_USER}, {0x04, ARCHIVE_ENTRY_ACL_GROUP_OBJ},
                {0x08, ARCHIVE_ENTRY_ACL_GROUP},    {0x10, ARCHIVE_ENTRY_ACL_MASK}, {0x20, ARCHIVE_ENTRY_ACL_OTHER},
        };
        if (n < 4 || (n - 4) % 8 != 0 || cn_le32_get(v) != 2)
                return false;
        for (int pass = 0; pass < 2; pass++)
                for (size_t off = 4; off < n; off += 8) {
                        unsigned tag = v[off] | v[off + 1] << 8, perm = v[off + 2] | v[off + 3] << 8;
                        int t = 0;
                        for (size_t i = 0; i < CN_ELEMENTSOF(tags); i++)
                                if (tags[i].tag == tag)
                                        t = tags[i].archive;
                        if (t == 0 || perm > 7)
                                return false;
                        bool named = t == ARCHIVE_ENTRY_ACL_USER || t == ARCHIVE_ENTRY_ACL_GROUP;
                        /* read 4, write 2, execute 1: libarchive's bits too */
                        if (pass == 1 && archive_entry_acl_add_entry(e, type, (int) perm, t,
                                                                     named ? (int) cn_le32_get(v + off + 4) : -1,
                                                                     NULL) != ARCHIVE_OK)
                                return false;
                }
        return true;
}

/* What the archive entry says of n, but for its type and size. */
static void entry_meta(Export *x, const CnNode *n) {
        struct archive_entry *e = x->e;
        bool pax = x->o->archive == CN_EXPORT_PAX;
        archive_entry_clear(e);
        archive_entry_copy_pathname(e, (const char *) x->apath.data);
        archive_entry_set_uid(e, n->uid);
        archive_entry_set_gid(e, n->gid);
        if (n->user)
                archive_entry_copy_uname(e, n->user);
        if (n->group)
                archive_entry_copy_gname(e, n->group);
        archive_entry_set_mtime(e, n->mtime.sec, n->mtime.nsec);
        if (n->atime.sec || n->atime.nsec)
                archive_entry_set_atime(e, n->atime.sec, n->atime.nsec);
        archive_entry_set_ctime(e, n->ctime.sec, n->ctime.nsec);
        archive_entry_set_perm(e, n->mode & 07777);
        if (!pax)
                return;
        for (size_t i = 0; i < n->n_xattrs; i++) {
                const CnXattr *xa = &n->xattrs[i];
                int type = strcmp(xa->name, ACL_ACCESS) == 0    ? ARCHIVE_ENTRY_ACL_TYPE_ACCESS
                           : strcmp(xa->name, ACL_DEFAULT) == 0 ? ARCHIVE_ENTRY_ACL_TYPE_DEFAULT
                                                                : 0;
                if (type == 0 || !put_acl(e, type, xa->value, xa->value_len))
                        archive_entry_xattr_add_entry(e, xa->name, xa->value, xa->value_len);
        }
        if (n->fsflags)
                archive_entry_set_fflags(e, n->fsflags, 0);
}

/* The mode is set before the access ACL, whose owner, group and other
 * entries then replace its permission bits (libarchive keeps them there):
 * with a mask, the group bits are the group entry's, as POSIX.1e has it;
 * an extractor that sets the ACL gets the mask back into the mode. */
static int write_header(Export *x, mode_t type) {
        struct archive_entry *e = x->e;
        archive_entry_set_filetype(e, type);
        bool utf8 = text_utf8(archive_entry_pathname(e)) && text_utf8(archive_entry_hardlink(e)) &&
                    text_utf8(archive_entry_symlink(e)) && text_utf8(archive_entry_uname(e)) &&
                    text_utf8(archive_entry_gname(e));
        locale_t back = locale_use(&x->loc, utf8);
        int r = archive_write_header(x->a, e);
        if (back)
                uselocale(back);
        return archive_check(x, r);
}

static void link_first_free(void *p) {
        LinkFirst *l = p;
        free(l->archive_path);
        free(l);
}

static int write_file(Export *x, const char *path, const CnNode *n, Written *w) {
        bool pax = x->o->archive == CN_EXPORT_PAX;
        LinkFirst *first = NULL;
        int r;

        if (pax && n->link_group && (first = cn_linktable_get(x->links, n->link_group, 0))) {
                archive_entry_copy_hardlink(x->e, first->archive_path);
                archive_entry_set_size(x->e, 0);
                if ((r = write_header(x, AE_IFREG)) < 0)
                        return r;
                memcpy(w->sha256, first->sha256, CN_ID_BYTES);
                w->hashed = true;
                w->link = first->archive_path;
                return 0;
        }
        archive_entry_set_size(x->e, (la_int64_t) n->size);
        if (pax && n->sparse)
                for (size_t i = 0; i < n->n_extents; i++)
                        archive_entry_sparse_add_entry(x->e, (la_int64_t) n->extents[i].offset,
                                                       (la_int64_t) n->extents[i].length);
        if ((r = write_header(x, AE_IFREG)) < 0)
                return r;
        Content k = {.x = x};
        r = cn_file_content(x->reader, n, &x->chunk, content_put, &k);
        if (r == -EUCLEAN && x->o->warn)
                x->o->warn(x->at->s, path, r, x->o->userdata);
        if (r < 0 && r != -EUCLEAN)
                return r;
        if ((r = feed_zeros(x, n->size - k.pos)) < 0 || (r = cn_sha256_final(x->sha, w->sha256)) < 0)
                return r;
        w->hashed = true;
        x->res->files++;
        x->res->bytes += n->size;
        if (pax && n->link_group) {
                LinkFirst *l = calloc(1, sizeof *l);
                if (!l || !(l->archive_path = strdup((const char *) x->apath.data))) {
                        free(l);
                        return -ENOMEM;
                }
                memcpy(l->sha256, w->sha256, CN_ID_BYTES);
                if ((r = cn_linktable_put(x->links, n->link_group, 0, l)) < 0) {
                        link_first_free(l);
                        return r;
                }
        }
        return 0;
}

/* Entry n at path (len bytes) of the snapshot at hand into the archive
 * (what the archive can hold) and its record into rec. */
static int put_entry(Export *x, const char *path, size_t len, const CnNode *n, bool in_scope) {
        bool pax = x->o->archive == CN_EXPORT_PAX;
        Written w = {.in_archive = true};
        int r;

        cn_buf_reset(&x->apath);
        if ((r = cn_buf_append(&x->apath, CN_EXPORT_FILES, strlen(CN_EXPORT_FILES))) < 0 ||
            (r = cn_buf_append(&x->apath, x->at->folder, strlen(x->at->folder))) < 0 ||
            (r = cn_buf_append(&x->apath, path, len)) < 0 || (r = cn_buf_put_u8(&x->apath, 0)) < 0)
                return r;
        x->apath.len--;
        entry_meta(x, n);
        switch (n->type) {
        case CN_NODE_FILE:
                r = write_file(x, path, n, &w);
                break;
        case CN_NODE_DIR:
                archive_entry_set_size(x->e, 0);
                r = write_header(x, AE_IFDIR);
                break;
        case CN_NODE_SYMLINK:
                archive_entry_copy_symlink(x->e, n->target ? n->target : "");
                r = write_header(x, AE_IFLNK);
                break;
        case CN_NODE_FIFO:
        case CN_NODE_CHR:
        case CN_NODE_BLK:
                /* zip holds none of these: in the manifest only */
                if (!pax) {
                        w.in_archive = false;
                        break;
                }
                archive_entry_set_rdev(x->e, (dev_t) n->rdev);
                r = write_header(x, n->type == CN_NODE_FIFO ? AE_IFIFO : n->type == CN_NODE_CHR ? AE_IFCHR : AE_IFBLK);
                break;
        default:
                w.in_archive = false; /* sockets: neither pax nor zip holds one */
                break;
        }
        if (r < 0)
                return r;
        if (w.in_archive && (r = archive_check(x, archive_write_finish_entry(x->a))) < 0)
                return r;
        x->res->entries++;
        x->at->entries++;
        return file_record(x, path, len, n, in_scope, &w);
}

static void ancestors_pop_to(Export *x, size_t keep) {
        while (x->n_anc > keep) {
                Ancestor *a = &x->anc[--x->n_anc];
                free(a->path);
                cn_node_done(&a->node);
        }
}

/* The first entry of the snapshot at hand in scope: is it restricted? */
static int snapshot_begin(Export *x) {
        bool restricted;
        int r = cn_erase_restricted(x->repo, x->store, x->at->s, &restricted);
        if (r < 0)
                return r;
        if (restricted) {
                r = x->o->restricted ? x->o->restricted(x->at->s, x->o->userdata) : -EACCES;
                if (r < 0)
                        return r;
                x->res->restricted++;
        }
        x->at->in_scope = true;
        x->at->restricted = restricted;
        x->res->snapshots++;
        return 0;
}

static int export_entry(const char *path, size_t len, const CnNode *n, CnEraseReach reach, void *u) {
        Export *x = u;
        int r;

        /* the directories above path that the scope does not reach */
        size_t keep = x->n_anc;
        while (keep > 0 && !(len > x->anc[keep - 1].len && path[x->anc[keep - 1].len] == '/' &&
                             memcmp(path, x->anc[keep - 1].path, x->anc[keep - 1].len) == 0))
                keep--;
        ancestors_pop_to(x, keep);
        if (reach == CN_ERASE_OUT) {
                if (n->type != CN_NODE_DIR)
                        return 0;
                if (CN_GROW(x->anc, x->cap_anc, x->n_anc) < 0)
                        return -ENOMEM;
                Ancestor *a = &x->anc[x->n_anc];
                CnNode meta = *n;
                meta.chunks = NULL;
                meta.n_chunks = 0;
                *a = (Ancestor){.path = strndup(path, len), .len = len};
                if (!a->path || cn_node_copy(&a->node, &meta) < 0) {
                        free(a->path);
                        cn_node_done(&a->node);
                        return -ENOMEM;
                }
                x->n_anc++;
                return 0;
        }
        if (!x->at->in_scope && (r = snapshot_begin(x)) < 0)
                return r;
        for (size_t i = 0; i < x->n_anc; i++)
                if (!x->anc[i].written) {
                        if ((r = put_entry(x, x->anc[i].path, x->anc[i].len, &x->anc[i].node, false)) < 0)
                                return r;
                        x->anc[i].written = true;
                }
        return put_entry(x, path, len, n, true);
}

/* ---- the snapshots ---- */

static int snap_cmp(const void *a, const void *b) {
        const CnSnapshot *s = ((const Snap *) a)->s, *t = ((const Snap *) b)->s;
        if (s->time.sec != t->time.sec)
                return s->time.sec < t->time.sec ? -1 : 1;
        if (s->time.nsec != t->time.nsec)
                return s->time.nsec < t->time.nsec ? -1 : 1;
        return memcmp(s->id, t->id, CN_ID_BYTES);
}

void cn_export_folder(const CnSnapshot *const *v, size_t n, size_t i, char ret[CN_EXPORT_FOLDER_BYTES]) {
        const CnTime *t = &v[i]->time;
        bool sec = false, ns = false;
        /* sorted by time: the same second, and the same nanosecond, are neighbours */
        for (size_t j = i > 0 ? i - 1 : 0; j < n && j <= i + 1; j++)
                if (j != i && v[j]->time.sec == t->sec) {
                        sec = true;
                        ns = ns || v[j]->time.nsec == t->nsec;
                }
        char tt[CN_EXPORT_TIME_BYTES];
        cn_export_time(t->sec, t->nsec, sec, tt);
        snprintf(ret, CN_EXPORT_FOLDER_BYTES, "%s%s%s", tt, ns ? "-" : "", ns ? v[i]->id_hex : "");
}

/* Every snapshot of the controller by time, each with its folder. */
static int snapshots_init(Export *x) {
        _cleanup_free_ const CnSnapshot **v = NULL;
        int r = cn_snapshot_list(x->repo, x->c, x->o->damaged, x->o->userdata, &x->list, &x->n_list);
        if (r < 0)
                return r;
        x->snaps = calloc(x->n_list ? x->n_list : 1, sizeof *x->snaps);
        v = calloc(x->n_list ? x->n_list : 1, sizeof *v);
        if (!x->snaps || !v)
                return -ENOMEM;
        x->n_snaps = x->n_list;
        for (size_t i = 0; i < x->n_list; i++)
                x->snaps[i].s = &x->list[i];
        qsort(x->snaps, x->n_snaps, sizeof *x->snaps, snap_cmp);
        for (size_t i = 0; i < x->n_snaps; i++)
                v[i] = x->snaps[i].s;
        for (size_t i = 0; i < x->n_snaps; i++) {
                cn_export_folder(v, x->n_snaps, i, x->snaps[i].folder);
                x->snaps[i].selected = x->o->n_snapshots == 0;
                for (size_t k = 0; k < x->o->n_snapshots; k++)
                        if (memcmp(x->o->snapshots[k], x->snaps[i].s->id, CN_ID_BYTES) == 0)
                                x->snaps[i].selected = true;
        }
        return 0;
}

/* ---- the manifest ---- */

static const char *scope_name(CnEraseScope s) {
        return s == CN_ERASE_CONTROLLER ? "controller" : s == CN_ERASE_SUBJECT ? "subject" : "path";
}

static const char *const hold_scope_names[] = {NULL, "snapshot", "controller", "path", "tag"};

/* Active holds that keep a snapshot in scope: id, kind, reason,
 * reference, created, review, and which of those snapshots. */
static int holds_json(Export *x, const CnHolds *holds, json_t **ret) {
        _cleanup_json_ json_t *a = json_array();
        if (!a)
                return -ENOMEM;
        for (size_t h = 0; h < holds->n; h++) {
                CnHold *hd = &holds->v[h];
                CnHolds one = {.v = hd, .n = 1};
                json_t *snaps = json_array(), *o;
                if (!snaps)
                        return -ENOMEM;
                for (size_t i = 0; cn_hold_active(hd) && i < x->n_snaps; i++)
                        if (x->snaps[i].in_scope && cn_hold_covers_snapshot(&one, x->snaps[i].s))
                                json_array_append_new(snaps, json_string(x->snaps[i].s->id_hex));
                if (json_array_size(snaps) == 0) {
                        json_decref(snaps);
                        continue;
                }
                o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "id", hd->id_hex, "scope",
                              hold_scope_names[hd->scope], "reason", cn_json_text(hd->reason), "reference",
                              cn_json_text(hd->reference), "created", time_json(hd->created, 0, false), "review",
                              hd->has_review ? time_json(hd->review, 0, false) : json_null(), "snapshots", snaps);
                if (!o || json_array_append_new(a, o) < 0)
                        return -ENOMEM;
                x->res->holds++;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

/* The audit log's entries that touch the scope into rec, after the files:
 * every one for a controller; for a subject or a path, those naming a
 * snapshot in scope or the value's pseudonym (as a subject or a path). */
static int events_write(Export *x) {
        const CnExportOptions *o = x->o;
        uint8_t pseudonym[CN_ID_BYTES];
        unsigned field = o->scope == CN_ERASE_SUBJECT ? CN_AUDIT_F_SUBJECT : CN_AUDIT_F_PATH;
        int r;

        if ((r = cn_audit_load(x->repo, x->c->id, &x->log)) < 0)
                return r;
        x->log_loaded = true;
        if (o->scope != CN_ERASE_CONTROLLER &&
            (r = cn_audit_pseudonym(x->c, x->q.value, strlen(x->q.value), pseudonym)) < 0)
                return r;
        for (size_t i = 0; i < x->log.n; i++) {
                const CnAuditEntry *e = &x->log.v[i];
                bool touches = o->scope == CN_ERASE_CONTROLLER || cn_audit_entry_has(e, field, pseudonym, CN_ID_BYTES);
                for (size_t j = 0; !touches && j < x->n_snaps; j++)
                        touches = x->snaps[j].in_scope &&
                                  cn_audit_entry_has(e, CN_AUDIT_F_SNAPSHOT, x->snaps[j].s->id, CN_ID_BYTES);
                if (!touches)
                        continue;
                _cleanup_json_ json_t *j = cn_audit_entry_json(e);
                if (!j)
                        return -ENOMEM;
                if ((r = record_put(x, j, &x->events_len)) < 0)
                        return r;
                x->res->events++;
        }
        return 0;
}

/* The stored retention policy: when it was set, and its rules as
 * 'retention show --json' gives them (cn_retention_policy_json()). */
static json_t *policy_json(const CnForgetPolicy *p, int64_t created) {
        return json_pack("{s:o, s:o}", "set", time_json(created, 0, false), "rules", cn_retention_policy_json(p));
}

/* Retention: the policy in effect and, for each snapshot in scope, whether
 * it keeps it, by which rules, and until when (core/retention.h, at the
 * export's time); a hold keeps a snapshot whatever the rules say. Without
 * a policy (none set, or cleared) nothing removes a snapshot by itself. */
static int retention_json(Export *x, const CnHolds *holds, int64_t now, json_t **ret) {
        _cleanup_free_ CnRetentionVerdict *v = NULL;
        _cleanup_json_ json_t *snaps = json_array(), *policy = NULL;
        CnForgetPolicy p = {};
        bool set = false, unreadable = false;
        int64_t created = 0;
        int r = cn_retention_load(x->repo, x->c, &p, &set, &created);
        if (r == -EBADMSG)
                unreadable = true, set = false, r = 0;
        if (r < 0)
                return r;
        if (!snaps || (set && !(v = calloc(x->n_list ? x->n_list : 1, sizeof *v))))
                return -ENOMEM;
        p.holds = holds;
        if (set && (r = cn_retention_expiry(&p, x->list, x->n_list, (CnTime){now, 0}, v)) < 0)
                return r;
        if (!(policy = set ? policy_json(&p, created) : json_null()))
                return -ENOMEM;
        for (size_t i = 0; i < x->n_snaps; i++) {
                const Snap *s = &x->snaps[i];
                if (!s->in_scope)
                        continue;
                const CnRetentionVerdict *vd = set ? &v[s->s - x->list] : NULL;
                json_t *rules = json_array(), *o;
                if (!rules)
                        return -ENOMEM;
                for (size_t k = 0; vd && k < vd->n_rules; k++)
                        if (json_array_append_new(rules, json_string(vd->rules[k].text)) < 0) {
                                json_decref(rules);
                                return -ENOMEM;
                        }
                o = json_pack("{s:s, s:b, s:b, s:o, s:o}", "snapshot", s->s->id_hex, "kept", vd ? vd->keep : true,
                              "held", vd ? vd->held : cn_hold_covers_snapshot(holds, s->s), "rules", rules, "until",
                              vd && vd->has_expiry ? time_json(vd->expiry.sec, vd->expiry.nsec, true) : json_null());
                if (!o || json_array_append_new(snaps, o) < 0)
                        return -ENOMEM;
        }
        *ret = json_pack("{s:O, s:b, s:O}", "policy", policy, "unreadable", unreadable, "snapshots", snaps);
        return *ret ? 0 : -ENOMEM;
}

/* Where the data is: the repository's locations and the controller's
 * grants, each with when it was recorded and (null while in force) when
 * it ended. */
static json_t *places_json(const CnLocations *s, const char *since, const char *until) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < s->n; i++) {
                const CnLocation *l = &s->v[i];
                json_t *o =
                        json_pack("{s:s, s:o, s:o, s:o, s:o}", "name", l->name, "provider", cn_json_text(l->provider),
                                  "region", cn_json_text(l->region), since, time_json(l->created, 0, false), until,
                                  l->end ? time_json(l->end->created, 0, false) : json_null());
                if (!o || json_array_append_new(a, o) < 0) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

static int locations_json(Export *x, json_t **ret) {
        _cleanup_(cn_locations_done) CnLocations here = {}, grants = {};
        int r;
        if ((r = cn_locations_load(x->repo, x->o->damaged, x->o->userdata, &here)) < 0 ||
            (r = cn_grants_load(x->repo, x->c, x->o->damaged, x->o->userdata, &grants)) < 0)
                return r;
        *ret = json_pack("{s:o, s:o, s:I}", "repository", places_json(&here, "recorded", "removed"), "authorised",
                         places_json(&grants, "authorised", "revoked"), "unreadable",
                         (json_int_t) (here.n_damaged + grants.n_damaged));
        return *ret ? 0 : -ENOMEM;
}

/* The audit anchor: a signed checkpoint of the log as the export read it
 * (cn_audit_checkpoint()), or null for a broken log (then "audit_log" says
 * where it breaks). */
static int anchor_json(Export *x, json_t **ret_anchor, json_t **ret_log) {
        _cleanup_(cn_buf_donep) CnBuf cp = CN_BUF_INIT(CN_AUDIT_MAX_CHECKPOINT_BYTES);
        json_error_t err;
        json_t *anchor = json_null();
        int r;
        if (!x->log.broken) {
                if ((r = cn_audit_checkpoint(x->repo, &x->log, &cp)) < 0)
                        return r;
                if (!(anchor = json_loadb((const char *) cp.data, cp.len, 0, &err)))
                        return -ENOMEM;
        }
        *ret_log = json_pack("{s:I, s:b, s:o, s:o}", "entries", (json_int_t) x->log.n, "broken", x->log.broken,
                             "broken_seq", x->log.broken ? json_integer((json_int_t) x->log.broken_seq) : json_null(),
                             "why", x->log.broken && x->log.why ? json_string(x->log.why) : json_null());
        if (!*ret_log) {
                json_decref(anchor);
                return -ENOMEM;
        }
        *ret_anchor = anchor;
        return 0;
}

typedef int (*SinkFn)(const void *p, size_t n, void *userdata);

/* manifest.json: the head's members, "files" and "events" from rec, the
 * tail's members, as the header of export.h says. */
typedef struct Manifest {
        char *head; /* "{...," */
        char *tail; /* "...}\n" */
} Manifest;

static int emit_text(const char *s, SinkFn fn, void *u) {
        return fn(s, strlen(s), u);
}

static int emit_records(Export *x, uint64_t off, uint64_t len, SinkFn fn, void *u) {
        int r;
        if (len == 0)
                return 0;
        if ((r = emit_text("\n", fn, u)) < 0)
                return r;
        while (len > 0) {
                size_t k = (size_t) CN_MIN(len, (uint64_t) IO_BYTES);
                if ((r = cn_pread_all(x->rec_fd, x->io, k, off)) < 0 || (r = fn(x->io, k, u)) < 0)
                        return r;
                off += k;
                len -= k;
        }
        return emit_text("\n", fn, u);
}

static int manifest_emit(Export *x, const Manifest *m, SinkFn fn, void *u) {
        int r;
        if ((r = emit_text(m->head, fn, u)) < 0 || (r = emit_text("\"files\":[", fn, u)) < 0 ||
            (r = emit_records(x, 0, x->files_len, fn, u)) < 0 || (r = emit_text("],\"events\":[", fn, u)) < 0 ||
            (r = emit_records(x, x->files_len, x->events_len, fn, u)) < 0 || (r = emit_text("],", fn, u)) < 0)
                return r;
        return emit_text(m->tail, fn, u);
}

typedef struct Pass {
        Export *x;
        CnSignStream *sign;
        bool write; /* into the archive, hashed */
        uint64_t len;
} Pass;

static int pass_put(const void *p, size_t n, void *u) {
        Pass *ps = u;
        cn_sign_stream_update(ps->sign, p, n);
        ps->len += n;
        return ps->write ? feed(ps->x, p, n, true) : 0;
}

static char *dump(const json_t *j) {
        return j ? json_dumps(j, JSON_FLAGS) : NULL;
}

static int manifest_parts(Export *x, int64_t now, Manifest *m) {
        const CnExportOptions *o = x->o;
        CnRepo *repo = x->repo;
        _cleanup_json_ json_t *snaps = json_array(), *restricted = json_array(), *head = NULL, *tail = NULL;
        _cleanup_(cn_holds_done) CnHolds all_holds = {};
        json_t *holds = NULL, *anchor = NULL, *log = NULL, *locations = NULL, *retention = NULL;
        size_t damaged = 0;
        char id[CN_UUID_HEX + 1], rid[CN_UUID_HEX + 1];
        int r;

        if (!snaps || !restricted)
                return -ENOMEM;
        for (size_t i = 0; i < x->n_snaps; i++) {
                const Snap *s = &x->snaps[i];
                char folder[sizeof s->folder + sizeof CN_EXPORT_FILES];
                if (!s->in_scope)
                        continue;
                snprintf(folder, sizeof folder, "%s%s", CN_EXPORT_FILES, s->folder);
                if (json_array_append_new(snaps, json_pack("{s:s, s:o, s:s, s:b, s:I}", "id", s->s->id_hex, "time",
                                                           time_json(s->s->time.sec, s->s->time.nsec, true), "folder",
                                                           folder, "restricted", s->restricted, "entries",
                                                           (json_int_t) s->entries)) < 0 ||
                    (s->restricted && json_array_append_new(restricted, json_string(s->s->id_hex)) < 0))
                        return -ENOMEM;
        }
        cn_hex_encode(cn_repo_processor_id(repo), CN_UUID_BYTES, id);
        cn_hex_encode(cn_repo_id(repo), CN_UUID_BYTES, rid);
        json_t *glass = x->res->restricted
                                ? json_pack("{s:o, s:O}", "purpose", cn_json_text(o->break_glass ? o->break_glass : ""),
                                            "snapshots", restricted)
                                : json_null();
        head = json_pack("{s:s, s:s, s:{s:s, s:o, s:o}, s:{s:s, s:o}, s:{s:s, s:o}, s:o, s:s, s:b, s:o, s:O}", "format",
                         CN_EXPORT_FORMAT, "repository", rid, "processor", "id", id, "name",
                         cn_json_text(cn_repo_processor_name(repo) ? cn_repo_processor_name(repo) : ""), "public_key",
                         hex_json(cn_repo_processor_public_key(repo), CN_SIGN_PUBLIC_BYTES), "controller", "id",
                         x->c->id_hex, "name", cn_json_text(x->c->name), "scope", "kind", scope_name(o->scope), "value",
                         cn_json_text(x->q.value), "created_at", time_json(now, 0, false), "archive",
                         o->archive == CN_EXPORT_PAX ? "pax" : "zip", "empty", x->res->entries == 0, "break_glass",
                         glass, "snapshots", snaps);
        if (!head)
                return -ENOMEM;
        if ((r = cn_holds_load(x->repo, x->c, o->damaged, o->userdata, &all_holds, &damaged)) < 0 ||
            (r = holds_json(x, &all_holds, &holds)) < 0)
                return r;
        if ((r = retention_json(x, &all_holds, now, &retention)) < 0) {
                json_decref(holds);
                return r;
        }
        if ((r = locations_json(x, &locations)) < 0) {
                json_decref(holds);
                json_decref(retention);
                return r;
        }
        if ((r = anchor_json(x, &anchor, &log)) < 0) {
                json_decref(holds);
                json_decref(locations);
                json_decref(retention);
                return r;
        }
        tail = json_pack("{s:o, s:o, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I}}", "locations", locations,
                         "retention", retention, "holds", holds, "audit_anchor", anchor, "audit_log", log, "counts",
                         "snapshots", (json_int_t) x->res->snapshots, "entries", (json_int_t) x->res->entries, "files",
                         (json_int_t) x->res->files, "bytes", (json_int_t) x->res->bytes, "events",
                         (json_int_t) x->res->events, "holds", (json_int_t) x->res->holds);
        if (!tail)
                return -ENOMEM;
        /* {a,b} and {c} become "{a,b," and "c}\n" */
        if (!(m->head = dump(head)) || !(m->tail = dump(tail)))
                return -ENOMEM;
        size_t hn = strlen(m->head), tn = strlen(m->tail);
        m->head[hn - 1] = ',';
        memmove(m->tail, m->tail + 1, tn - 1);
        memcpy(m->tail + tn - 1, "\n", 2);
        return 0;
}

static int write_small(Export *x, const char *name, const void *p, size_t n, int64_t now) {
        int r;
        archive_entry_clear(x->e);
        archive_entry_copy_pathname(x->e, name);
        archive_entry_set_filetype(x->e, AE_IFREG);
        archive_entry_set_perm(x->e, 0644);
        archive_entry_set_size(x->e, (la_int64_t) n);
        archive_entry_set_mtime(x->e, now, 0);
        if ((r = archive_check(x, archive_write_header(x->a, x->e))) < 0 || (r = feed(x, p, n, false)) < 0)
                return r;
        return archive_check(x, archive_write_finish_entry(x->a));
}

static int write_signature(Export *x, const uint8_t sig[CN_SIGN_BYTES], int64_t now) {
        json_t *sj = cn_signature_json(cn_repo_processor_public_key(x->repo), sig);
        _cleanup_free_ char *s = dump(sj), *line = NULL;
        json_decref(sj);
        if (!s || !(line = malloc(strlen(s) + 2)))
                return -ENOMEM;
        size_t n = strlen(s);
        memcpy(line, s, n);
        memcpy(line + n, "\n", 2);
        return write_small(x, CN_EXPORT_SIGNATURE, line, n + 1, now);
}

/* manifest.json signed in two passes over it, written in the second;
 * then manifest.sig. */
static int sign_and_write(Export *x, const Manifest *m, int64_t now) {
        _cleanup_(cn_sign_stream_freep) CnSignStream *sign = NULL;
        uint8_t sig[CN_SIGN_BYTES];
        int r;

        if ((r = cn_sign_stream_new(cn_repo_processor_secret_key(x->repo), &sign)) < 0)
                return r;
        Pass p1 = {.x = x, .sign = sign};
        cn_sign_stream_update(sign, CN_EXPORT_SIGN_DOMAIN, strlen(CN_EXPORT_SIGN_DOMAIN));
        if ((r = manifest_emit(x, m, pass_put, &p1)) < 0 || (r = cn_sign_stream_second(sign)) < 0)
                return r;
        archive_entry_clear(x->e);
        archive_entry_copy_pathname(x->e, CN_EXPORT_MANIFEST);
        archive_entry_set_filetype(x->e, AE_IFREG);
        archive_entry_set_perm(x->e, 0644);
        archive_entry_set_size(x->e, (la_int64_t) p1.len);
        archive_entry_set_mtime(x->e, now, 0);
        if ((r = archive_check(x, archive_write_header(x->a, x->e))) < 0)
                return r;
        Pass p2 = {.x = x, .sign = sign, .write = true};
        cn_sign_stream_update(sign, CN_EXPORT_SIGN_DOMAIN, strlen(CN_EXPORT_SIGN_DOMAIN));
        if ((r = manifest_emit(x, m, pass_put, &p2)) < 0)
                return r;
        if (p2.len != p1.len) /* the temporary file changed under us */
                return -EIO;
        if ((r = archive_check(x, archive_write_finish_entry(x->a))) < 0 ||
            (r = cn_sha256_final(x->sha, x->res->digest)) < 0 || (r = cn_sign_stream_final(sign, sig)) < 0)
                return r;
        x->res->manifest_bytes = p1.len;
        return write_signature(x, sig, now);
}

static int write_manifest(Export *x, int64_t now) {
        Manifest m = {};
        int r;
        if (fflush(x->rec) != 0)
                return -EIO;
        r = manifest_parts(x, now, &m);
        if (r >= 0)
                r = sign_and_write(x, &m, now);
        free(m.head);
        free(m.tail);
        return r;
}

static int run(Export *x, int fd) {
        const CnExportOptions *o = x->o;
        int64_t now = o->now ? o->now : (int64_t) time(NULL);
        int r;

        if ((r = cn_store_open_tolerant(x->repo, x->c, CN_STORE_KEYS, o->damaged, o->userdata, &x->store)) < 0)
                return r;
        /* remote: a pack fetched once, not once a chunk, as restore does */
        if (!cn_backend_local_path(cn_repo_backend(x->repo)) && (r = cn_store_set_pack_cache(x->store, 2)) < 0)
                return r;
        if ((r = cn_store_reader_new(x->store, &x->reader)) < 0 || (r = cn_sha256_new(&x->sha)) < 0)
                return r;
        if (!(x->io = calloc(1, IO_BYTES)))
                return -ENOMEM;
        if ((x->rec_fd = tmp_open(o->tmp_dirfd)) < 0)
                return x->rec_fd;
        if (!(x->rec = fdopen(x->rec_fd, "w+"))) {
                r = -errno;
                close(x->rec_fd);
                x->rec_fd = -1;
                return r;
        }
        if ((r = snapshots_init(x)) < 0)
                return r;
        if (!(x->a = archive_write_new()) || !(x->e = archive_entry_new()))
                return -ENOMEM;
        r = o->archive == CN_EXPORT_PAX ? archive_write_set_format_pax(x->a) : archive_write_set_format_zip(x->a);
        if (r != ARCHIVE_OK || archive_write_open_fd(x->a, fd) != ARCHIVE_OK)
                return archive_error(x);
        for (size_t i = 0; i < x->n_snaps; i++) {
                if (!x->snaps[i].selected)
                        continue;
                x->at = &x->snaps[i];
                if ((r = cn_linktable_new(link_first_free, &x->links)) < 0)
                        return r;
                r = cn_erase_scope_walk(x->store, &x->q, x->at->s, export_entry, x);
                ancestors_pop_to(x, 0);
                x->links = cn_linktable_free(x->links);
                if (r < 0)
                        return r;
        }
        x->res->empty = x->res->entries == 0;
        if ((r = events_write(x)) < 0 || (r = write_manifest(x, now)) < 0)
                return r;
        return archive_check(x, archive_write_close(x->a));
}

int cn_export(CnRepo *repo, CnController *c, const CnExportOptions *o, int fd, CnExportResult *ret) {
        Export x = {.repo = repo, .c = c, .o = o, .res = ret, .rec_fd = -1};
        int r;

        *ret = (CnExportResult){};
        if ((o->archive != CN_EXPORT_PAX && o->archive != CN_EXPORT_ZIP) ||
            (o->scope == CN_ERASE_SUBJECT && (!o->value || !cn_subject_valid(o->value, strlen(o->value)))) ||
            (o->scope == CN_ERASE_PATH && (!o->value || !*o->value)) ||
            (o->scope != CN_ERASE_CONTROLLER && o->scope != CN_ERASE_SUBJECT && o->scope != CN_ERASE_PATH))
                return -EINVAL;
        x.q = (CnEraseRequest){.scope = o->scope, .value = o->scope == CN_ERASE_CONTROLLER ? c->id_hex : o->value};
        cn_buf_init(&x.chunk, CN_MAX_CHUNK_BYTES);
        cn_buf_init(&x.apath, SIZE_MAX);
        locales_init(&x.loc);
        r = run(&x, fd);
        if (x.a) {
                /* After a failure libarchive may be in its fatal state, where
                 * free skips close and loses the output buffer: close first
                 * (what it writes goes to a file the caller discards). */
                if (r < 0)
                        (void) archive_write_close(x.a);
                archive_write_free(x.a);
        }
        archive_entry_free(x.e);
        if (x.rec)
                fclose(x.rec);
        ancestors_pop_to(&x, 0);
        free(x.anc);
        cn_linktable_free(x.links);
        cn_snapshots_free(x.list, x.n_list);
        free(x.snaps);
        free(x.io);
        if (x.log_loaded)
                cn_audit_log_done(&x.log);
        cn_sha256_free(x.sha);
        cn_store_reader_free(x.reader);
        cn_store_free(x.store);
        cn_buf_done(&x.chunk);
        cn_buf_done(&x.apath);
        locales_done(&x.loc);
        return r;
}

/* ---- verifying ----
 *
 * One pass over the archive: each file entry's type, size, SHA-256, hard
 * link and symlink target into a temporary file of records, in archive
 * order; manifest.json into another; manifest.sig kept. Then the
 * signature, in one pass over the manifest's copy, and the manifest read
 * a JSON value at a time (never whole: a record of "files" or "events" at
 * a time), its records merged with the archive's in cn_export_path_cmp()
 * order, which both follow: memory does not grow with the archive. */

typedef struct ArchRec {
        uint8_t type; /* CnNodeType; 0 a hard link */
        uint64_t size;
        uint8_t sha256[CN_ID_BYTES];
        CnBuf path, link, target;
} ArchRec;

typedef struct Verify {
        CnExportProblemFn fn;
        void *userdata;
        CnExportVerifyResult *res;
        const uint8_t *pk;
        int tmp_dirfd;
        struct archive *a;
        CnSha256 *sha;
        uint8_t *io;
        FILE *rec;
        int man_fd;
        uint64_t man_len;
        bool have_manifest, have_sig;
        CnBuf sig;
        CnBuf prev; /* the last archive path, for the order */
        /* the merge */
        ArchRec cur;
        bool cur_valid;
        CnBuf mprev; /* the last archive path of a manifest record */
        bool mprev_set;
        bool files_seen, format_seen, processor_seen, empty_seen, empty;
        char text[512];
} Verify;

static void problem(Verify *v, const char *entry, const char *why) {
        v->res->problems++;
        v->fn(entry, why, v->userdata);
}

static const char *archive_text(Verify *v) {
        const char *s = archive_error_string(v->a);
        snprintf(v->text, sizeof v->text, "%s", s ? s : "unreadable");
        return v->text;
}

static int put_bytes(FILE *f, const void *p, uint32_t n) {
        uint8_t len[4];
        cn_le32_put(len, n);
        return fwrite(len, 1, 4, f) == 4 && fwrite(p, 1, n, f) == n ? 0 : -EIO;
}

static int get_bytes(FILE *f, CnBuf *b) {
        uint8_t len[4];
        cn_buf_reset(b);
        if (fread(len, 1, 4, f) != 4)
                return -EIO;
        size_t n = cn_le32_get(len);
        int r = cn_buf_reserve(b, n + 1);
        if (r < 0 || fread(b->data, 1, n, f) != n)
                return r < 0 ? r : -EIO;
        b->data[n] = 0;
        b->len = n;
        return 0;
}

static int rec_write(Verify *v, const ArchRec *a) {
        uint8_t head[9];
        head[0] = a->type;
        cn_le64_put(head + 1, a->size);
        if (fwrite(head, 1, sizeof head, v->rec) != sizeof head ||
            fwrite(a->sha256, 1, CN_ID_BYTES, v->rec) != CN_ID_BYTES)
                return -EIO;
        int r = put_bytes(v->rec, a->path.data, (uint32_t) a->path.len);
        if (r >= 0)
                r = put_bytes(v->rec, a->link.data, (uint32_t) a->link.len);
        if (r >= 0)
                r = put_bytes(v->rec, a->target.data, (uint32_t) a->target.len);
        return r;
}

/* The next archive record into v->cur; cur_valid false at the end. */
static int rec_next(Verify *v) {
        uint8_t head[9];
        int r;
        v->cur_valid = false;
        size_t k = fread(head, 1, sizeof head, v->rec);
        if (k == 0 && feof(v->rec))
                return 0;
        if (k != sizeof head || fread(v->cur.sha256, 1, CN_ID_BYTES, v->rec) != CN_ID_BYTES)
                return -EIO;
        v->cur.type = head[0];
        v->cur.size = cn_le64_get(head + 1);
        if ((r = get_bytes(v->rec, &v->cur.path)) < 0 || (r = get_bytes(v->rec, &v->cur.link)) < 0 ||
            (r = get_bytes(v->rec, &v->cur.target)) < 0)
                return r;
        v->cur_valid = true;
        return 0;
}

static int set_buf(CnBuf *b, const void *p, size_t n) {
        int r;
        cn_buf_reset(b);
        if ((r = cn_buf_append(b, p, n)) < 0 || (r = cn_buf_put_u8(b, 0)) < 0)
                return r;
        b->len--;
        return 0;
}

static CnNodeType type_of(mode_t t) {
        switch (t) {
        case AE_IFREG:
                return CN_NODE_FILE;
        case AE_IFDIR:
                return CN_NODE_DIR;
        case AE_IFLNK:
                return CN_NODE_SYMLINK;
        case AE_IFIFO:
                return CN_NODE_FIFO;
        case AE_IFCHR:
                return CN_NODE_CHR;
        case AE_IFBLK:
                return CN_NODE_BLK;
        default:
                return CN_NODE_SOCK; /* nothing an export writes */
        }
}

/* Read the data of the entry at hand: to fd (a copy) or only hashed and counted. */
static int read_data(Verify *v, int fd, uint64_t max, uint64_t *ret_len) {
        uint64_t len = 0;
        for (;;) {
                la_ssize_t k = archive_read_data(v->a, v->io, IO_BYTES);
                if (k < 0)
                        return -EBADMSG;
                if (k == 0)
                        break;
                if (len + (uint64_t) k > max)
                        return -E2BIG;
                cn_sha256_update(v->sha, v->io, (size_t) k);
                if (fd >= 0) {
                        int r = cn_write_all(fd, v->io, (size_t) k);
                        if (r < 0)
                                return r;
                }
                len += (uint64_t) k;
        }
        *ret_len = len;
        return 0;
}

static int read_entry(Verify *v, struct archive_entry *e, ArchRec *rec) {
        const char *name = archive_entry_pathname(e);
        uint64_t len;
        int r;

        if (!name)
                name = archive_entry_pathname_utf8(e);
        if (!name) {
                problem(v, NULL, "an entry without a name that can be read");
                return archive_read_data_skip(v->a) < ARCHIVE_WARN ? -EBADMSG : 0;
        }
        if (strcmp(name, CN_EXPORT_MANIFEST) == 0) {
                if (v->have_manifest) {
                        problem(v, name, "a second manifest.json: the archive was changed after it was written");
                        return archive_read_data_skip(v->a) < ARCHIVE_WARN ? -EBADMSG : 0;
                }
                v->have_manifest = true;
                if ((r = tmp_open(v->tmp_dirfd)) < 0)
                        return r;
                v->man_fd = r;
                r = read_data(v, v->man_fd, CN_EXPORT_MAX_MANIFEST_BYTES, &v->man_len);
                if (r == -E2BIG)
                        problem(v, name, "larger than a manifest may be (1 TiB)");
                if (r >= 0)
                        r = cn_sha256_final(v->sha, v->res->digest);
                return r;
        }
        if (strcmp(name, CN_EXPORT_SIGNATURE) == 0) {
                if (v->have_sig || !v->have_manifest)
                        problem(v, name, v->have_sig ? "a second manifest.sig" : "manifest.sig before manifest.json");
                if (v->have_sig)
                        return archive_read_data_skip(v->a) < ARCHIVE_WARN ? -EBADMSG : 0;
                v->have_sig = true;
                _cleanup_close_ int fd = tmp_open(v->tmp_dirfd);
                if (fd < 0)
                        return fd;
                r = read_data(v, fd, CN_EXPORT_MAX_SIGNATURE_BYTES, &len);
                if (r == -E2BIG) {
                        problem(v, name, "larger than a signature may be (4 KiB)");
                        return 0;
                }
                if (r < 0 || (r = cn_buf_reserve(&v->sig, (size_t) len + 1)) < 0 ||
                    (r = cn_pread_all(fd, v->sig.data, len, 0)) < 0)
                        return r;
                v->sig.len = (size_t) len;
                return 0;
        }
        size_t n = strlen(name);
        const char *link = archive_entry_hardlink(e) ?: archive_entry_hardlink_utf8(e);
        bool hardlink = link != NULL;
        rec->type = hardlink ? 0 : type_of(archive_entry_filetype(e));
        /* zip writes a directory's name with a '/' after it */
        if (rec->type == CN_NODE_DIR && n > 1 && name[n - 1] == '/')
                n--;
        if ((r = set_buf(&rec->path, name, n)) < 0 ||
            (r = set_buf(&rec->link, hardlink ? link : "", hardlink ? strlen(link) : 0)) < 0)
                return r;
        const char *target = rec->type == CN_NODE_SYMLINK ? archive_entry_symlink(e) : NULL;
        if (rec->type == CN_NODE_SYMLINK && !target)
                target = archive_entry_symlink_utf8(e);
        if ((r = set_buf(&rec->target, target ? target : "", target ? strlen(target) : 0)) < 0)
                return r;
        if (v->have_manifest) {
                problem(v, rec->path.data ? (const char *) rec->path.data : name,
                        "after the manifest: no part of the export (added to the archive later)");
                return archive_read_data_skip(v->a) < ARCHIVE_WARN ? -EBADMSG : 0;
        }
        if ((r = read_data(v, -1, UINT64_MAX, &rec->size)) < 0 || (r = cn_sha256_final(v->sha, rec->sha256)) < 0)
                return r;
        v->res->entries++;
        v->res->bytes += rec->size;
        if (v->prev.len && cn_export_path_cmp((const char *) v->prev.data, v->prev.len, (const char *) rec->path.data,
                                              rec->path.len) >= 0)
                problem(v, (const char *) rec->path.data,
                        "out of place: the archive's entries are not in the order an export writes them");
        if ((r = set_buf(&v->prev, rec->path.data, rec->path.len)) < 0)
                return r;
        return rec_write(v, rec);
}

static int read_archive(Verify *v, int fd) {
        struct archive_entry *e;
        ArchRec rec = {};
        int r = 0;

        cn_buf_init(&rec.path, SIZE_MAX);
        cn_buf_init(&rec.link, SIZE_MAX);
        cn_buf_init(&rec.target, SIZE_MAX);
        if (!(v->a = archive_read_new()))
                return -ENOMEM;
        archive_read_support_format_tar(v->a);
        archive_read_support_format_zip(v->a);
        archive_read_support_filter_all(v->a);
        if (archive_read_open_fd(v->a, fd, 65536) != ARCHIVE_OK) {
                if (archive_errno(v->a) == ENOMEM)
                        r = -ENOMEM;
                else
                        problem(v, NULL, archive_text(v));
                goto out;
        }
        for (;;) {
                int k = archive_read_next_header(v->a, &e);
                if (k == ARCHIVE_EOF)
                        break;
                if (k < ARCHIVE_WARN && archive_errno(v->a) == ENOMEM) {
                        r = -ENOMEM; /* out of memory is no verdict on the archive */
                        break;
                }
                if (k < ARCHIVE_WARN) {
                        snprintf(v->text, sizeof v->text, "the archive is damaged or cut short after %s: %s",
                                 v->prev.len ? (const char *) v->prev.data : "its start",
                                 archive_error_string(v->a) ?: "unreadable");
                        problem(v, NULL, v->text);
                        break;
                }
                r = read_entry(v, e, &rec);
                if (r == -EBADMSG && archive_errno(v->a) == ENOMEM)
                        r = -ENOMEM;
                if (r == -EBADMSG) {
                        snprintf(v->text, sizeof v->text, "its data cannot be read: %s",
                                 archive_error_string(v->a) ?: "damaged");
                        problem(v, archive_entry_pathname(e), v->text);
                        r = 0;
                        break;
                }
                if (r < 0)
                        break;
        }
out:
        cn_buf_done(&rec.path);
        cn_buf_done(&rec.link);
        cn_buf_done(&rec.target);
        return r;
}

static int check_signature(Verify *v) {
        _cleanup_(cn_verify_stream_freep) CnVerifyStream *vs = NULL;
        _cleanup_json_ json_t *doc = NULL;
        uint8_t spk[CN_SIGN_PUBLIC_BYTES], value[CN_SIGN_BYTES];
        json_error_t err;
        const char *why;
        int r;

        cn_json_begin();
        if (!(doc = json_loadb((const char *) v->sig.data, v->sig.len, JSON_REJECT_DUPLICATES, &err))) {
                if (cn_json_end(-EBADMSG) == -ENOMEM)
                        return -ENOMEM;
                problem(v, CN_EXPORT_SIGNATURE, "not JSON");
                return 0;
        }
        if (cn_signature_from_json(doc, spk, value, &why) < 0) {
                problem(v, CN_EXPORT_SIGNATURE, why);
                return 0;
        }
        if (!cn_memeq(spk, v->pk, CN_SIGN_PUBLIC_BYTES)) {
                problem(v, CN_EXPORT_SIGNATURE, "signed by another key than the one given");
                return 0;
        }
        if ((r = cn_verify_stream_new(value, v->pk, &vs)) == -EBADMSG) {
                problem(v, CN_EXPORT_SIGNATURE, "not a signature that can verify (malformed)");
                return 0;
        }
        if (r < 0)
                return r;
        cn_verify_stream_update(vs, CN_EXPORT_SIGN_DOMAIN, strlen(CN_EXPORT_SIGN_DOMAIN));
        for (uint64_t off = 0; off < v->man_len;) {
                size_t k = (size_t) CN_MIN(v->man_len - off, (uint64_t) IO_BYTES);
                if ((r = cn_pread_all(v->man_fd, v->io, k, off)) < 0)
                        return r;
                cn_verify_stream_update(vs, v->io, k);
                off += k;
        }
        if (cn_verify_stream_final(vs) < 0)
                problem(v, CN_EXPORT_MANIFEST,
                        "the signature in manifest.sig does not match it: the manifest was "
                        "changed after it was signed, or never signed by this key");
        return 0;
}

/* manifest.json a JSON value at a time: a window over the file. */
typedef struct JStream {
        int fd;
        uint64_t size, off; /* the file, and the offset of buf[0] in it */
        uint8_t *buf;
        size_t len, pos, cap;
} JStream;

/* At least want bytes from pos in the window, unless the file ends first. */
static int js_fill(JStream *j, size_t want) {
        if (j->len - j->pos >= want || j->off + j->len >= j->size)
                return 0;
        if (j->pos > 0)
                memmove(j->buf, j->buf + j->pos, j->len - j->pos);
        j->off += j->pos;
        j->len -= j->pos;
        j->pos = 0;
        if (want + IO_BYTES > j->cap) {
                size_t cap = want + IO_BYTES;
                uint8_t *b = realloc(j->buf, cap);
                if (!b)
                        return -ENOMEM;
                j->buf = b;
                j->cap = cap;
        }
        size_t k = (size_t) CN_MIN((uint64_t) (j->cap - j->len), j->size - j->off - j->len);
        int r = cn_pread_all(j->fd, j->buf + j->len, k, j->off + j->len);
        if (r < 0)
                return r;
        j->len += k;
        return 0;
}

/* The next byte that is not white space (not taken), or -1 at the end. */
static int js_peek(JStream *j) {
        for (;;) {
                if (j->pos == j->len && js_fill(j, 1) < 0)
                        return -2;
                if (j->pos == j->len)
                        return -1;
                uint8_t c = j->buf[j->pos];
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
                        return c;
                j->pos++;
        }
}

static int js_value(JStream *j, json_t **ret, const char **why) {
        size_t want = 4096;
        for (;;) {
                json_error_t err;
                int r = js_fill(j, want);
                if (r < 0)
                        return r;
                json_t *val = json_loadb((const char *) j->buf + j->pos, j->len - j->pos,
                                         JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &err);
                if (val) {
                        j->pos += (size_t) err.position;
                        *ret = val;
                        return 0;
                }
                if (json_error_code(&err) == json_error_out_of_memory || cn_json_end(-EBADMSG) == -ENOMEM)
                        return -ENOMEM;
                bool more = j->off + j->len < j->size;
                if (json_error_code(&err) != json_error_premature_end_of_input || !more) {
                        *why = "manifest.json is not JSON";
                        return -EBADMSG;
                }
                if (j->len - j->pos >= CN_EXPORT_MAX_VALUE_BYTES) {
                        *why = "manifest.json holds a value larger than a reader takes (64 MiB)";
                        return -EBADMSG;
                }
                want = CN_MIN((j->len - j->pos) * 2, (size_t) CN_EXPORT_MAX_VALUE_BYTES);
        }
}

/* A member "key" of o as bytes: key_hex when present (not UTF-8), else the
 * string. NULL for null or absent; false when of another type. */
static bool get_bytes_member(const json_t *o, const char *key, CnBuf *b, bool *present) {
        char hkey[64];
        snprintf(hkey, sizeof hkey, "%s_hex", key);
        const json_t *s = json_object_get(o, key), *h = json_object_get(o, hkey);
        *present = false;
        if (!s || json_is_null(s))
                return !h;
        if (!json_is_string(s))
                return false;
        *present = true;
        if (!h)
                return set_buf(b, json_string_value(s), json_string_length(s)) >= 0;
        const char *hex = json_string_value(h);
        size_t n = hex ? strlen(hex) : 1;
        cn_buf_reset(b);
        if (n % 2 != 0 || cn_buf_reserve(b, n / 2 + 1) < 0 || cn_hex_decode(hex, b->data, n / 2) < 0)
                return false;
        b->len = n / 2;
        b->data[b->len] = 0;
        return true;
}

static int unlisted(Verify *v) {
        problem(v, (const char *) v->cur.path.data,
                "in the archive but not in the manifest: added, or renamed, after the export was made");
        return rec_next(v);
}

/* One record of "files" against the archive's records. */
static int check_record(Verify *v, const json_t *m, CnBuf *ap, CnBuf *link, CnBuf *target) {
        bool in_archive, has_link, has_target;
        int r;

        v->res->records++;
        const char *type = json_string_value(json_object_get(m, "type"));
        const json_t *size = json_object_get(m, "size"), *sha = json_object_get(m, "sha256");
        int t = 0;
        for (size_t i = 1; type && i < CN_ELEMENTSOF(type_names); i++)
                if (strcmp(type, type_names[i]) == 0)
                        t = (int) i;
        if (!json_is_object(m) || !get_bytes_member(m, "archive_path", ap, &in_archive) ||
            !get_bytes_member(m, "link", link, &has_link) || !get_bytes_member(m, "target", target, &has_target) ||
            t == 0 || !json_is_integer(size) || json_integer_value(size) < 0 ||
            !(json_is_null(sha) || (json_is_string(sha) && json_string_length(sha) == CN_ID_HEX))) {
                problem(v, in_archive ? (const char *) ap->data : NULL,
                        "a record of \"files\" that is not what the format says");
                return 0;
        }
        if (!in_archive)
                return 0;
        const char *path = (const char *) ap->data;
        if (v->mprev_set && cn_export_path_cmp((const char *) v->mprev.data, v->mprev.len, path, ap->len) >= 0)
                problem(v, path, "the manifest lists it out of order");
        v->mprev_set = true;
        if ((r = set_buf(&v->mprev, ap->data, ap->len)) < 0)
                return r;
        while (v->cur_valid && cn_export_path_cmp((const char *) v->cur.path.data, v->cur.path.len, path, ap->len) < 0)
                if ((r = unlisted(v)) < 0)
                        return r;
        if (!v->cur_valid || cn_export_path_cmp((const char *) v->cur.path.data, v->cur.path.len, path, ap->len) > 0) {
                problem(v, path, "listed in the manifest but not in the archive: removed after the export was made");
                return 0;
        }
        char hex[CN_ID_HEX + 1];
        cn_hex_encode(v->cur.sha256, CN_ID_BYTES, hex);
        if (has_link) {
                if (v->cur.type != 0 || v->cur.link.len != link->len || memcmp(v->cur.link.data, link->data, link->len))
                        problem(v, path, "the manifest has it a hard link to another entry than the archive does");
        } else if (v->cur.type == 0)
                problem(v, path, "a hard link in the archive, not in the manifest");
        else if ((int) v->cur.type != t) {
                snprintf(v->text, sizeof v->text, "a %s in the archive, a %s in the manifest", type_names[v->cur.type],
                         type);
                problem(v, path, v->text);
        } else if (t == CN_NODE_FILE && (uint64_t) json_integer_value(size) != v->cur.size) {
                snprintf(v->text, sizeof v->text, "%" PRIu64 " bytes in the archive, %" PRIu64 " in the manifest",
                         v->cur.size, (uint64_t) json_integer_value(size));
                problem(v, path, v->text);
        } else if (t == CN_NODE_FILE && (!json_is_string(sha) || strcmp(json_string_value(sha), hex) != 0))
                problem(v, path,
                        "its content is not what the manifest says (SHA-256 differs): changed after the "
                        "export was made");
        else if (t == CN_NODE_SYMLINK && (!has_target || v->cur.target.len != target->len ||
                                          memcmp(v->cur.target.data, target->data, target->len) != 0))
                problem(v, path, "a symlink to another target than the manifest says");
        return rec_next(v);
}

/* A member of the manifest other than "files" and "events". */
static void check_member(Verify *v, const char *key, const json_t *val) {
        if (strcmp(key, "format") == 0) {
                const char *f = json_string_value(val);
                v->format_seen = true;
                if (!f || strcmp(f, CN_EXPORT_FORMAT) != 0)
                        problem(v, CN_EXPORT_MANIFEST,
                                f && strncmp(f, "cairn.export-manifest.", 22) == 0
                                        ? "a format version this cairn does not know (not cairn.export-manifest.v1)"
                                        : "not a cairn export manifest (\"format\" is not cairn.export-manifest.v1)");
        } else if (strcmp(key, "processor") == 0) {
                const char *k = json_string_value(json_object_get(val, "public_key"));
                uint8_t pk[CN_SIGN_PUBLIC_BYTES];
                v->processor_seen = true;
                if (!k || strlen(k) != CN_ID_HEX || cn_hex_decode(k, pk, sizeof pk) < 0 ||
                    !cn_memeq(pk, v->pk, sizeof pk))
                        problem(v, CN_EXPORT_MANIFEST, "it names another processor key than the one given");
        } else if (strcmp(key, "empty") == 0) {
                v->empty_seen = json_is_boolean(val);
                v->empty = json_is_true(val);
                if (!v->empty_seen)
                        problem(v, CN_EXPORT_MANIFEST, "\"empty\" is not true or false");
        }
}

typedef struct Parse {
        JStream j;
        CnBuf ap, link, target;
        json_t *seen;
} Parse;

/* The elements of an array member, each to check (NULL: only parsed). */
static int parse_array(Verify *v, Parse *p, bool files, const char **why) {
        int c, r;
        if (js_peek(&p->j) != '[') {
                *why = "\"files\" or \"events\" of manifest.json is not an array";
                return -EBADMSG;
        }
        p->j.pos++;
        if ((c = js_peek(&p->j)) == ']') {
                p->j.pos++;
                return 0;
        }
        for (;;) {
                json_t *val;
                if ((r = js_value(&p->j, &val, why)) < 0)
                        return r;
                r = files ? check_record(v, val, &p->ap, &p->link, &p->target) : 0;
                if (!files && !json_is_object(val))
                        problem(v, CN_EXPORT_MANIFEST, "an event that is not a JSON object");
                json_decref(val);
                if (r < 0)
                        return r;
                if ((c = js_peek(&p->j)) == ',') {
                        p->j.pos++;
                        continue;
                }
                if (c == ']') {
                        p->j.pos++;
                        return 0;
                }
                *why = "manifest.json is not JSON";
                return -EBADMSG;
        }
}

static int parse_manifest(Verify *v, Parse *p, const char **why) {
        int c, r;
        if (js_peek(&p->j) != '{') {
                *why = "manifest.json is not a JSON object";
                return -EBADMSG;
        }
        p->j.pos++;
        if ((c = js_peek(&p->j)) == '}')
                p->j.pos++;
        while (c != '}') {
                _cleanup_json_ json_t *k = NULL;
                if ((r = js_value(&p->j, &k, why)) < 0)
                        return r;
                const char *key = json_string_value(k);
                if (!key || js_peek(&p->j) != ':') {
                        *why = "manifest.json is not JSON";
                        return -EBADMSG;
                }
                p->j.pos++;
                if (json_object_get(p->seen, key)) {
                        *why = "manifest.json has a member twice";
                        return -EBADMSG;
                }
                if (json_object_set_new(p->seen, key, json_true()) < 0)
                        return -ENOMEM;
                if (strcmp(key, "files") == 0 || strcmp(key, "events") == 0) {
                        bool files = strcmp(key, "files") == 0;
                        if ((r = parse_array(v, p, files, why)) < 0)
                                return r;
                        v->files_seen = v->files_seen || files;
                } else {
                        json_t *val;
                        if ((r = js_value(&p->j, &val, why)) < 0)
                                return r;
                        check_member(v, key, val);
                        json_decref(val);
                }
                if ((c = js_peek(&p->j)) != ',' && c != '}') {
                        *why = "manifest.json is not JSON";
                        return -EBADMSG;
                }
                p->j.pos++;
        }
        if (js_peek(&p->j) != -1) {
                *why = "manifest.json has more after its JSON object";
                return -EBADMSG;
        }
        return 0;
}

static int check_manifest(Verify *v) {
        Parse p = {.j = {.fd = v->man_fd, .size = v->man_len}};
        const char *why = NULL;
        int r;

        cn_buf_init(&p.ap, SIZE_MAX);
        cn_buf_init(&p.link, SIZE_MAX);
        cn_buf_init(&p.target, SIZE_MAX);
        cn_json_begin();
        if (!(p.seen = json_object()))
                return -ENOMEM;
        r = parse_manifest(v, &p, &why);
        if (r == -EBADMSG) {
                snprintf(v->text, sizeof v->text, "%s (near byte %" PRIu64 "); the files were not all checked", why,
                         p.j.off + p.j.pos);
                problem(v, CN_EXPORT_MANIFEST, v->text);
                r = 0;
        } else if (r >= 0) {
                if (!v->format_seen || !v->processor_seen || !v->files_seen || !v->empty_seen)
                        problem(v, CN_EXPORT_MANIFEST,
                                "a member the format requires is missing (format, processor, "
                                "empty or files)");
                else if (v->empty != (v->res->records == 0))
                        problem(v, CN_EXPORT_MANIFEST, "\"empty\" says otherwise than its records");
                while (r >= 0 && v->cur_valid)
                        r = unlisted(v);
        }
        v->res->empty = v->empty;
        json_decref(p.seen);
        free(p.j.buf);
        cn_buf_done(&p.ap);
        cn_buf_done(&p.link);
        cn_buf_done(&p.target);
        return r;
}

int cn_export_verify(int fd, const uint8_t pk[CN_SIGN_PUBLIC_BYTES], int tmp_dirfd, CnExportProblemFn fn,
                     void *userdata, CnExportVerifyResult *ret) {
        Verify v = {.fn = fn, .userdata = userdata, .res = ret, .pk = pk, .tmp_dirfd = tmp_dirfd, .man_fd = -1};
        int r, rec_fd = -1;

        *ret = (CnExportVerifyResult){};
        cn_buf_init(&v.sig, CN_EXPORT_MAX_SIGNATURE_BYTES + 1);
        cn_buf_init(&v.prev, SIZE_MAX);
        cn_buf_init(&v.mprev, SIZE_MAX);
        cn_buf_init(&v.cur.path, SIZE_MAX);
        cn_buf_init(&v.cur.link, SIZE_MAX);
        cn_buf_init(&v.cur.target, SIZE_MAX);
        if ((r = cn_sha256_new(&v.sha)) < 0 || !(v.io = malloc(IO_BYTES)) || (rec_fd = tmp_open(tmp_dirfd)) < 0 ||
            !(v.rec = fdopen(rec_fd, "w+"))) {
                r = r < 0 ? r : !v.io ? -ENOMEM : rec_fd < 0 ? rec_fd : -errno;
                if (rec_fd >= 0)
                        close(rec_fd);
                goto out;
        }
        Locales loc;
        locales_init(&loc);
        locale_t back = locale_use(&loc, true);
        r = read_archive(&v, fd);
        if (back)
                uselocale(back);
        locales_done(&loc);
        if (r < 0)
                goto out;
        if (!v.have_manifest || !v.have_sig) {
                problem(&v, NULL,
                        !v.have_manifest ? "no manifest.json: not an export of cairn, or cut short"
                                         : "no manifest.sig: the manifest is not signed, or the archive "
                                           "is cut short");
                if (!v.have_manifest)
                        goto out;
        }
        if (v.have_sig && (r = check_signature(&v)) < 0)
                goto out;
        if (fflush(v.rec) != 0 || fseeko(v.rec, 0, SEEK_SET) != 0) {
                r = -EIO;
                goto out;
        }
        if ((r = rec_next(&v)) < 0 || (r = check_manifest(&v)) < 0)
                goto out;
out:
        if (v.a)
                archive_read_free(v.a);
        if (v.rec)
                fclose(v.rec);
        if (v.man_fd >= 0)
                close(v.man_fd);
        cn_sha256_free(v.sha);
        free(v.io);
        cn_buf_done(&v.sig);
        cn_buf_done(&v.prev);
        cn_buf_done(&v.mprev);
        cn_buf_done(&v.cur.path);
        cn_buf_done(&v.cur.link);
        cn_buf_done(&v.cur.target);
        if (r < 0)
                return r;
        return ret->problems ? -EBADMSG : 0;
}
