/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The SFTP backend: objects are files below a directory on an SSH server,
 * reached through libcurl's sftp (libssh2), one SSH connection per pooled
 * easy handle of remote.h.
 *
 * URL: sftp://[user@]host[:port]/absolute/path, or /~/path for a path below
 * the login's home directory (libcurl expands it, in transfers and quote
 * commands alike). A user name defaults to the local one; a password in the
 * URL is refused (secrets never sit in URLs): login is by key only.
 *
 * Environment, read once at open:
 *   CAIRN_SFTP_KEY              private key file (ed25519 or ECDSA; RSA keys
 *                               fail against OpenSSH >= 8.8 with libssh2 1.10)
 *   CAIRN_SFTP_KEY_PASSPHRASE   its passphrase, if it has one
 *   CAIRN_SFTP_HOST_KEY_SHA256  the server's host key fingerprint as
 *                               `ssh-keygen -l` prints it ("SHA256:" optional);
 *                               when unset, the host key must be in
 *   CAIRN_SFTP_KNOWN_HOSTS      a known_hosts file (default ~/.ssh/known_hosts).
 * Unknown or mismatching host keys are refused (never added to the file),
 * with -EACCES and no retry.
 *
 * put uploads to ".tmp-<random>" in the target's directory (missing
 * directories made on the way, 0700; files 0600), then renames it onto the
 * name in a post-quote of the same request. SFTP v3 rename never replaces
 * (OpenSSH implements it with link(2)), so a CN_PUT_EXCLUSIVE put is atomic
 * and exactly one of racing writers wins; the others get -EEXIST and remove
 * their temporary. A replacing put removes the old object first and then
 * renames: no reader ever sees a partial object, but the replace is not
 * atomic (a writer that dies between the two steps leaves the name absent).
 * The repository replaces only small mutable objects. A writer that dies
 * leaves its temporary behind; list never reports ".tmp-*" entries, and
 * removes those it meets that are older than TMP_MAX_AGE_SEC.
 *
 * Durability is the server's: libcurl's sftp has no fsync (OpenSSH's
 * fsync@openssh.com extension is not used), so a put or remove that
 * returned may still be lost if the server itself crashes soon after.
 *
 * get is a ranged download (CURLOPT_RANGE); stat is a body-less request that
 * reads the size libcurl reports; remove is the quote command "rm"; list
 * reads directory listings (OpenSSH's `ls -l` style long names) with a
 * bounded parser and walks subdirectories that can hold the prefix.
 * A directory at an object's name stats as an object of the directory's
 * size: the repository layout never asks for such a name. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "macro.h"
#include "remote.h"
#include "sftp-proto.h"

extern const CnBackendOps cn_backend_sftp_ops;

#define TMP_PREFIX ".tmp-"
/* One directory listing, as libcurl hands it over. */
#define LISTING_MAX (64u * 1024 * 1024)
#define LISTING_ENTRIES_MAX (4u * 1024 * 1024)
/* A private key file we look at (for its type, never its secret part). */
#define KEY_FILE_MAX (64u * 1024)
/* Temporaries of interrupted writers older than this (by the listing's
 * clock, which is the server's local time) are removed when a listing meets
 * them; at most TMP_REAP_MAX per directory listing. */
#define TMP_MAX_AGE_SEC (3 * 24 * 3600)
#define TMP_REAP_MAX 256u
/* Renames a replacing put tries when another replacing writer races it. */
#define REPLACE_TRIES 3

typedef enum KeyType {
        KEY_UNKNOWN,
        KEY_ED25519,
        KEY_ECDSA,
        KEY_RSA,
        KEY_OTHER,
} KeyType;

typedef struct CnBackendSftp {
        CnBackend base;
        CnRemote *remote;
        char *url_base;   /* "sftp://user@host:port/enc/root", no trailing '/' */
        char *root;       /* decoded root path, no trailing '/' ("" for "/") */
        char *host_shown; /* "host:port" for messages */
        char *user;       /* for messages */
        char *key_file;
        char *passphrase;  /* NULL if none; wiped on close */
        char *host_sha256; /* base64 without "SHA256:", or NULL */
        char *known_hosts; /* when host_sha256 is NULL */
        KeyType key_type;
        bool key_encrypted;
} CnBackendSftp;

static CnBackendSftp *sftp(CnBackend *b) {
        return (CnBackendSftp *) b;
}

static void free_wiped(char *s) {
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
}

/* ---- host key check --------------------------------------------------------- */

/* What the last known_hosts check on this thread found (for the message). */
static _Thread_local int last_khmatch = -1;

static int known_host_cb(CURL *easy, const struct curl_khkey *knownkey, const struct curl_khkey *foundkey,
                         enum curl_khmatch match, void *userdata) {
        last_khmatch = (int) match;
        /* Only an exact match passes: unknown keys are refused, never added. */
        return match == CURLKHMATCH_OK ? CURLKHSTAT_FINE : CURLKHSTAT_REJECT;
}

/* ---- per-request options ------------------------------------------------------ */

static int instance_setup(CURL *h, void *userdata) {
        CnBackendSftp *s = userdata;
        CURLcode c = CURLE_OK;

#define SET(opt, val) CN_CURL_SETOPT(c, h, opt, val)
        SET(CURLOPT_SSH_AUTH_TYPES, (long) CURLSSH_AUTH_PUBLICKEY);
        SET(CURLOPT_SSH_PRIVATE_KEYFILE, s->key_file);
        if (s->passphrase)
                SET(CURLOPT_KEYPASSWD, s->passphrase);
        if (s->host_sha256)
                SET(CURLOPT_SSH_HOST_PUBLIC_KEY_SHA256, s->host_sha256);
        else {
                SET(CURLOPT_SSH_KNOWNHOSTS, s->known_hosts);
                SET(CURLOPT_SSH_KEYFUNCTION, known_host_cb);
                SET(CURLOPT_SSH_KEYDATA, s);
        }
        SET(CURLOPT_NEW_FILE_PERMS, 0600L);
        SET(CURLOPT_NEW_DIRECTORY_PERMS, 0700L);
#undef SET
        if (c != CURLE_OK) {
                cn_backend_set_error("sftp: libcurl refused an SSH option: %s", curl_easy_strerror(c));
                return -EIO;
        }
        last_khmatch = -1;
        return 0;
}

typedef struct Extra {
        struct curl_slist *quote;     /* before the transfer */
        struct curl_slist *postquote; /* after it */
        bool create_dirs;
} Extra;

static int extra_setup(CURL *h, void *userdata) {
        Extra *x = userdata;
        CURLcode c = CURLE_OK;

        if (x->quote)
                c = curl_easy_setopt(h, CURLOPT_QUOTE, x->quote);
        if (c == CURLE_OK && x->postquote)
                c = curl_easy_setopt(h, CURLOPT_POSTQUOTE, x->postquote);
        if (c == CURLE_OK && x->create_dirs)
                c = curl_easy_setopt(h, CURLOPT_FTP_CREATE_MISSING_DIRS, (long) CURLFTP_CREATE_DIR);
        if (c != CURLE_OK) {
                cn_backend_set_error("sftp: libcurl refused an option: %s", curl_easy_strerror(c));
                return -EIO;
        }
        return 0;
}

static void extra_done(Extra *x) {
        curl_slist_free_all(x->quote);
        curl_slist_free_all(x->postquote);
        *x = (Extra){};
}

/* What remote.c does not know about SSH: which failures can never succeed
 * on a retry, and which are the connection going away. */
static int classify(const CnRemoteOutcome *o, void *userdata) {
        switch (o->curl_code) {
        case CURLE_PEER_FAILED_VERIFICATION: /* host key refused */
        case CURLE_LOGIN_DENIED:
        case CURLE_QUOTE_ERROR:
        case CURLE_REMOTE_FILE_NOT_FOUND:
        case CURLE_REMOTE_ACCESS_DENIED:
        case CURLE_REMOTE_DISK_FULL:
        case CURLE_BAD_DOWNLOAD_RESUME:
        case CURLE_RANGE_ERROR:
        case CURLE_WRITE_ERROR:
        case CURLE_FILESIZE_EXCEEDED:
                return CN_REMOTE_CLASS_FINAL;
        case CURLE_SSH:
                /* libssh2 session failures: a banner that never came, a
                 * socket that closed under the session. */
                return CN_REMOTE_CLASS_RETRY;
        default:
                return CN_REMOTE_CLASS_DEFAULT;
        }
}

/* Replace remote.c's generic message for the SSH failures that need
 * different advice; returns the errno to report. The caller's message names
 * the repository URL, so these name only the host (and stay within the
 * 256 bytes cn_backend_set_error() keeps). */
static int explain(CnBackendSftp *s, const CnRemoteRequest *req, int r) {
        if (req->curl_code == CURLE_PEER_FAILED_VERIFICATION) {
                if (s->host_sha256)
                        cn_backend_set_error("the SSH host key of %s does not match CAIRN_SFTP_HOST_KEY_SHA256: "
                                             "connection refused (compare `ssh-keygen -l` of the server's key)",
                                             s->host_shown);
                else if (last_khmatch == CURLKHMATCH_MISMATCH)
                        cn_backend_set_error("the SSH host key of %s does not match the one in %s: connection "
                                             "refused (if the server's key really changed, update that file)",
                                             s->host_shown, s->known_hosts);
                else
                        cn_backend_set_error("the SSH host key of %s is not in %s: unknown hosts are refused (add "
                                             "it after checking it, or set CAIRN_SFTP_HOST_KEY_SHA256)",
                                             s->host_shown, s->known_hosts);
                return -EACCES;
        }
        if (req->curl_code == CURLE_LOGIN_DENIED) {
                if (s->key_type == KEY_RSA)
                        cn_backend_set_error("SSH login as %s to %s refused with RSA key %s: libssh2 1.10 cannot "
                                             "sign with RSA for OpenSSH >= 8.8; use an ed25519 or ECDSA key",
                                             s->user, s->host_shown, s->key_file);
                else if (s->key_encrypted && !s->passphrase)
                        cn_backend_set_error("SSH login as %s to %s refused: key %s is encrypted; set "
                                             "CAIRN_SFTP_KEY_PASSPHRASE",
                                             s->user, s->host_shown, s->key_file);
                else
                        cn_backend_set_error("SSH login as %s to %s refused with key %s (is its public key in the "
                                             "server's authorized_keys?%s)",
                                             s->user, s->host_shown, s->key_file,
                                             s->key_encrypted ? " is CAIRN_SFTP_KEY_PASSPHRASE right?" : "");
                return -EACCES;
        }
        return r;
}

/* ---- paths and commands -------------------------------------------------------- */

/* base + "/" + rel (rel holds only name characters, which need no encoding;
 * rel may be "" or end in '/'). */
static int url_of(CnBackendSftp *s, const char *rel, char **ret) {
        if (asprintf(ret, "%s/%s", s->url_base, rel) < 0)
                return -ENOMEM;
        return 0;
}

/* A quote command: `cmd root/a [root/b]`, '*'-prefixed if its failure is
 * to be ignored. libcurl reads an unquoted path up to whitespace and
 * expands a leading "/~/" to the home directory only there, so paths are
 * quoted only when the root holds a blank (such a root cannot start with
 * "/~/", see parse_location()). The root holds no '"' or '\\' and names are
 * plain, so quoting needs no escapes. */
static int add_cmd(struct curl_slist **l, bool may_fail, const char *cmd, const char *root, const char *a,
                   const char *b) {
        _cleanup_free_ char *line = NULL;
        const char *q = strchr(root, ' ') ? "\"" : "";
        int k;

        if (b)
                k = asprintf(&line, "%s%s %s%s/%s%s %s%s/%s%s", may_fail ? "*" : "", cmd, q, root, a, q, q, root, b, q);
        else
                k = asprintf(&line, "%s%s %s%s/%s%s", may_fail ? "*" : "", cmd, q, root, a, q);
        if (k < 0)
                return -ENOMEM;
        struct curl_slist *n = curl_slist_append(*l, line);
        if (!n)
                return -ENOMEM;
        *l = n;
        return 0;
}

/* A request that only runs quote commands (a body-less request on the root
 * directory, which libcurl does not even open). */
static int run_quote(CnBackendSftp *s, Extra *x, const char *what, unsigned flags, CnRemoteRequest *req) {
        _cleanup_free_ char *url = NULL;
        int r;

        r = url_of(s, "", &url);
        if (r < 0)
                return r;
        *req = (CnRemoteRequest){
                .url = url,
                .flags = CN_REMOTE_NOBODY | flags,
                .setup = extra_setup,
                .setup_userdata = x,
                .what = what,
        };
        r = cn_remote_request(s->remote, req);
        if (r < 0)
                r = explain(s, req, r);
        req->url = NULL; /* freed here */
        return r < 0 ? r : 0;
}

static int tmp_name(const char *name, char **ret) {
        uint8_t rnd[8];
        const char *slash = strrchr(name, '/');
        int dlen = slash ? (int) (slash - name) + 1 : 0;

        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
                return -EIO;
        if (asprintf(ret, "%.*s" TMP_PREFIX "%02x%02x%02x%02x%02x%02x%02x%02x", dlen, name, rnd[0], rnd[1], rnd[2],
                     rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]) < 0)
                return -ENOMEM;
        return 0;
}

/* ---- operations -------------------------------------------------------------------- */

static int sftp_stat(CnBackend *b, const char *name, uint64_t *ret_size) {
        CnBackendSftp *s = sftp(b);
        _cleanup_free_ char *url = NULL;
        int r;

        r = url_of(s, name, &url);
        if (r < 0)
                return r;
        CnRemoteRequest req = {
                .url = url,
                .flags = CN_REMOTE_NOBODY,
                .what = "stat",
        };
        r = cn_remote_request(s->remote, &req);
        if (r < 0)
                return explain(s, &req, r);
        if (req.content_length >= 0) {
                *ret_size = (uint64_t) req.content_length;
                return 0;
        }
        /* libcurl reports no size for an empty file (and for a server that
         * sends none): a download capped at 0 bytes tells them apart. */
        _cleanup_(cn_buf_donep) CnBuf none = CN_BUF_INIT(0);
        req = (CnRemoteRequest){.url = url, .response = &none, .what = "stat"};
        r = cn_remote_request(s->remote, &req);
        if (r == -E2BIG)
                return cn_remote_fail(&req, -EPROTO, "the server reports no file size");
        if (r < 0)
                return explain(s, &req, r);
        *ret_size = 0;
        return 0;
}

static int sftp_get(CnBackend *b, const char *name, uint64_t offset, uint64_t length, CnBuf *out) {
        CnBackendSftp *s = sftp(b);
        _cleanup_free_ char *url = NULL;
        int r;

        cn_buf_reset(out);
        if (length == 0 || offset > (uint64_t) INT64_MAX ||
            (length != CN_GET_ALL && length - 1 > (uint64_t) INT64_MAX - offset)) {
                /* Nothing to transfer, or no file can be that large: the size decides. */
                uint64_t size;
                r = sftp_stat(b, name, &size);
                if (r < 0)
                        return r;
                if (offset > size || (length != CN_GET_ALL && length > size - offset))
                        return -ENODATA;
                return length == 0 ? 0 : -EIO;
        }
        r = url_of(s, name, &url);
        if (r < 0)
                return r;
        CnRemoteRequest req = {
                .url = url,
                .range = true,
                .range_offset = offset,
                .range_length = length,
                .response = out,
                .what = "get",
        };
        r = cn_remote_request(s->remote, &req);
        if (r < 0) {
                cn_buf_reset(out);
                return explain(s, &req, r);
        }
        /* libcurl clamps a range that runs past the end of the file */
        if (length != CN_GET_ALL && out->len != length) {
                cn_buf_reset(out);
                return -ENODATA;
        }
        return 0;
}

static int remove_tmp(CnBackendSftp *s, const char *tmp) {
        Extra x = {};
        CnRemoteRequest req;
        int r;

        r = add_cmd(&x.quote, true, "rm", s->root, tmp, NULL);
        if (r >= 0)
                /* best effort: a server that went away keeps it (list hides it) */
                r = run_quote(s, &x, "remove temporary", CN_REMOTE_NO_RETRY, &req);
        extra_done(&x);
        return r;
}

static int sftp_put(CnBackend *b, const char *name, const void *p, size_t n, unsigned flags) {
        CnBackendSftp *s = sftp(b);
        bool excl = flags & CN_PUT_EXCLUSIVE;
        _cleanup_free_ char *tmp = NULL, *url = NULL;
        Extra x = {.create_dirs = true};
        int r;

        r = tmp_name(name, &tmp);
        if (r < 0)
                return r;
        r = url_of(s, tmp, &url);
        if (r < 0)
                return r;
        if (!excl)
                r = add_cmd(&x.postquote, true, "rm", s->root, name, NULL);
        if (r >= 0)
                r = add_cmd(&x.postquote, false, "rename", s->root, tmp, name);
        if (r < 0) {
                extra_done(&x);
                return r;
        }

        CnRemoteRequest req = {
                .url = url,
                .body = p,
                .body_len = n,
                .flags = CN_REMOTE_UPLOAD,
                .setup = extra_setup,
                .setup_userdata = &x,
                .what = "put",
        };
        r = cn_remote_request(s->remote, &req);
        extra_done(&x);
        if (r >= 0)
                return 0;
        if (req.curl_code != CURLE_QUOTE_ERROR) {
                r = explain(s, &req, r);
                /* The upload itself failed: a temporary may be there unless
                 * the server cannot be reached at all. */
                if (req.curl_code != CURLE_COULDNT_CONNECT && req.curl_code != CURLE_PEER_FAILED_VERIFICATION &&
                    req.curl_code != CURLE_LOGIN_DENIED && req.curl_code != CURLE_SSH)
                        (void) remove_tmp(s, tmp);
                return r;
        }

        /* The rename failed: the temporary is complete. */
        if (excl) {
                char saved[256];
                uint64_t size;
                snprintf(saved, sizeof saved, "%s", cn_backend_last_error());
                int st = sftp_stat(b, name, &size);
                (void) remove_tmp(s, tmp);
                if (st >= 0) {
                        cn_backend_set_error("%s", "");
                        return -EEXIST;
                }
                cn_backend_set_error("%s", saved);
                return -EIO;
        }
        /* Another replacing writer renamed onto the name between our rm and
         * rename: take its place again. */
        for (unsigned i = 1; i < REPLACE_TRIES && r < 0; i++) {
                CnRemoteRequest q;
                Extra y = {};
                r = add_cmd(&y.quote, true, "rm", s->root, name, NULL);
                if (r >= 0)
                        r = add_cmd(&y.quote, false, "rename", s->root, tmp, name);
                if (r >= 0)
                        r = run_quote(s, &y, "put (rename)", 0, &q);
                extra_done(&y);
        }
        if (r < 0)
                (void) remove_tmp(s, tmp);
        return r < 0 ? r : 0;
}

static int sftp_remove(CnBackend *b, const char *name) {
        CnBackendSftp *s = sftp(b);
        CnRemoteRequest req = {};
        Extra x = {};
        int r;

        r = add_cmd(&x.quote, false, "rm", s->root, name, NULL);
        if (r >= 0)
                r = run_quote(s, &x, "remove", 0, &req);
        extra_done(&x);
        if (r >= 0 || req.curl_code != CURLE_QUOTE_ERROR)
                return r;
        /* rm failed: absent, or something worse (permissions) */
        char saved[256];
        uint64_t size;
        snprintf(saved, sizeof saved, "%s", cn_backend_last_error());
        int st = sftp_stat(b, name, &size);
        if (st == -ENOENT) {
                cn_backend_set_error("%s", "");
                return -ENOENT;
        }
        cn_backend_set_error("%s", saved);
        return r;
}

/* ---- listing ------------------------------------------------------------------------- */

typedef struct ListCtx {
        CnBackendSftp *s;
        const char *prefix;
        size_t prefix_len;
        CnBackendListFn fn;
        void *userdata;
        time_t now;
} ListCtx;

/* Whether names below directory dir (ending in '/') can start with the prefix. */
static bool dir_may_match(const ListCtx *c, const char *dir, size_t len) {
        return strncmp(dir, c->prefix, CN_MIN(len, c->prefix_len)) == 0;
}

static bool plain_segment(const char *e, size_t n) {
        if (n == 0 || (n == 1 && e[0] == '.') || (n == 2 && e[0] == '.' && e[1] == '.'))
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = e[i];
                if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                      ch == '_' || ch == '-'))
                        return false;
        }
        return true;
}

/* Remove the temporaries interrupted writers left (best effort, one request). */
static void reap(CnBackendSftp *s, const CnNames *stale) {
        Extra x = {};
        CnRemoteRequest req;
        int r = 0;
        char saved[256];

        if (stale->n == 0)
                return;
        for (size_t i = 0; i < stale->n && r >= 0; i++)
                r = add_cmd(&x.quote, true, "rm", s->root, stale->v[i], NULL);
        /* a failure here is not the listing's: keep its message clean */
        snprintf(saved, sizeof saved, "%s", cn_backend_last_error());
        if (r >= 0)
                (void) run_quote(s, &x, "remove stale temporaries", CN_REMOTE_NO_RETRY, &req);
        cn_backend_set_error("%s", saved);
        extra_done(&x);
}

/* List directory dir ("" or "a/b/"), report its files that match, then
 * walk its subdirectories that can; remove stale temporaries met on the way. */
static int walk(ListCtx *c, const char *dir) {
        CnBackendSftp *s = c->s;
        _cleanup_(cn_buf_donep) CnBuf listing = CN_BUF_INIT(LISTING_MAX);
        _cleanup_free_ char *url = NULL;
        CnNames subdirs = {}, stale = {};
        size_t dlen = strlen(dir);
        int r;

        r = url_of(s, dir, &url);
        if (r < 0)
                return r;
        CnRemoteRequest req = {.url = url, .response = &listing, .what = "list"};
        r = cn_remote_request(s->remote, &req);
        if (r == -ENOENT)
                return 0; /* no such directory: nothing below it */
        if (r == -E2BIG)
                return cn_remote_fail(&req, -E2BIG, "directory listing too large");
        if (r < 0)
                return explain(s, &req, r);

        const char *p = (const char *) listing.data, *end = p + listing.len;
        size_t entries = 0;
        char name[CN_BACKEND_NAME_MAX + 2];
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *le = nl ? nl : end;
                size_t n = (size_t) (le - p);
                if (n > 0 && p[n - 1] == '\r')
                        n--;
                CnSftpListEntry e;
                if (++entries > LISTING_ENTRIES_MAX) {
                        r = cn_remote_fail(&req, -E2BIG, "directory holds too many entries");
                        goto out;
                }
                if (n > 0) {
                        r = cn_sftp_list_line_parse(p, n, c->now, &e);
                        if (r < 0) {
                                r = cn_remote_fail(&req, -EPROTO, "malformed line in the directory listing");
                                goto out;
                        }
                        bool tmp =
                                e.name_len >= strlen(TMP_PREFIX) && memcmp(e.name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0;
                        if (tmp && e.type == '-' && plain_segment(e.name, e.name_len) && e.mtime >= 0 &&
                            c->now - e.mtime > TMP_MAX_AGE_SEC && dlen + e.name_len <= CN_BACKEND_NAME_MAX &&
                            stale.n < TMP_REAP_MAX) {
                                memcpy(name, dir, dlen);
                                memcpy(name + dlen, e.name, e.name_len);
                                name[dlen + e.name_len] = 0;
                                if ((r = cn_names_add(&stale, name)) < 0)
                                        goto out;
                        } else if (!tmp && (e.type == '-' || e.type == 'd') && plain_segment(e.name, e.name_len) &&
                                   dlen + e.name_len + (e.type == 'd') <= CN_BACKEND_NAME_MAX) {
                                memcpy(name, dir, dlen);
                                memcpy(name + dlen, e.name, e.name_len);
                                name[dlen + e.name_len] = 0;
                                if (e.type == 'd') {
                                        name[dlen + e.name_len] = '/';
                                        name[dlen + e.name_len + 1] = 0;
                                        if (dir_may_match(c, name, dlen + e.name_len + 1) &&
                                            (r = cn_names_add(&subdirs, name)) < 0)
                                                goto out;
                                } else if (dlen + e.name_len >= c->prefix_len &&
                                           strncmp(name, c->prefix, c->prefix_len) == 0 &&
                                           cn_backend_name_valid(name)) {
                                        r = c->fn(name, e.size, c->userdata);
                                        if (r < 0)
                                                goto out;
                                }
                        }
                }
                p = nl ? nl + 1 : end;
        }
        cn_buf_done(&listing);
        reap(s, &stale);
        r = 0;
        for (size_t i = 0; i < subdirs.n && r >= 0; i++)
                r = walk(c, subdirs.v[i]);
out:
        cn_names_done(&subdirs);
        cn_names_done(&stale);
        return r;
}

static int sftp_list(CnBackend *b, const char *prefix, CnBackendListFn fn, void *userdata) {
        ListCtx c = {
                .s = sftp(b),
                .prefix = prefix,
                .prefix_len = strlen(prefix),
                .fn = fn,
                .userdata = userdata,
                .now = time(NULL),
        };
        const char *slash = strrchr(prefix, '/');
        size_t dlen = slash ? (size_t) (slash - prefix) + 1 : 0;
        _cleanup_free_ char *dir = strndup(prefix, dlen);

        if (!dir)
                return -ENOMEM;
        /* Start at the deepest directory the prefix names in full. */
        return walk(&c, dir);
}

/* ---- open and close ---------------------------------------------------------------------- */

static void sftp_close(CnBackend *b) {
        CnBackendSftp *s = sftp(b);

        if (!s)
                return;
        cn_remote_free(s->remote);
        free(s->url_base);
        free(s->root);
        free(s->host_shown);
        free(s->user);
        free(s->key_file);
        free_wiped(s->passphrase);
        free(s->host_sha256);
        free(s->known_hosts);
        free(s);
}

static void sftp_freep(CnBackendSftp **s) {
        if (*s)
                sftp_close(&(*s)->base);
}

static uint32_t be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* SSH wire string at *pos in buf[0..n): bounded. */
static int ssh_string(const uint8_t *buf, size_t n, size_t *pos, const uint8_t **ret, size_t *ret_len) {
        if (n - *pos < 4)
                return -EBADMSG;
        uint32_t len = be32(buf + *pos);
        if (len > n - *pos - 4)
                return -EBADMSG;
        *ret = buf + *pos + 4;
        *ret_len = len;
        *pos += 4 + len;
        return 0;
}

static int b64val(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* The public header of an OpenSSH private key file (PROTOCOL.key): magic,
 * cipher, kdf, kdf options, key count, first public key (its type first).
 * Decodes only as much base64 as that takes. */
static void sniff_openssh_key(const char *b64, size_t n, KeyType *ret_type, bool *ret_encrypted) {
        uint8_t buf[2048];
        size_t k = 0;
        unsigned acc = 0, bits = 0;

        for (size_t i = 0; i < n && k < sizeof buf; i++) {
                int v = b64val(b64[i]);
                if (b64[i] == '=' || b64[i] == '-')
                        break;
                if (v < 0)
                        continue; /* line breaks */
                acc = (acc << 6) | (unsigned) v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        buf[k++] = (uint8_t) (acc >> bits);
                }
        }
        static const char magic[] = "openssh-key-v1";
        size_t pos = sizeof magic;
        const uint8_t *cipher, *kdf, *opts, *pub, *type;
        size_t cipher_len, kdf_len, opts_len, pub_len, type_len;
        if (k < pos || memcmp(buf, magic, sizeof magic) != 0 || ssh_string(buf, k, &pos, &cipher, &cipher_len) < 0 ||
            ssh_string(buf, k, &pos, &kdf, &kdf_len) < 0 || ssh_string(buf, k, &pos, &opts, &opts_len) < 0 ||
            k - pos < 4)
                goto out;
        pos += 4; /* number of keys */
        *ret_encrypted = !(cipher_len == 4 && memcmp(cipher, "none", 4) == 0);
        if (ssh_string(buf, k, &pos, &pub, &pub_len) < 0)
                goto out;
        size_t ppos = 0;
        if (ssh_string(pub, pub_len, &ppos, &type, &type_len) < 0)
                goto out;
        if (type_len == 11 && memcmp(type, "ssh-ed25519", 11) == 0)
                *ret_type = KEY_ED25519;
        else if (type_len > 11 && memcmp(type, "ecdsa-sha2-", 11) == 0)
                *ret_type = KEY_ECDSA;
        else if (type_len == 7 && memcmp(type, "ssh-rsa", 7) == 0)
                *ret_type = KEY_RSA;
        else
                *ret_type = KEY_OTHER;
out:
        explicit_bzero(buf, sizeof buf);
}

/* Read the key file's header for messages: its type, and whether it is
 * encrypted. -errno if it cannot be read; unknown formats are left to
 * libssh2. The buffer held private key material: it is wiped. */
static int sniff_key(CnBackendSftp *s) {
        _cleanup_close_ int fd = open(s->key_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        char buf[KEY_FILE_MAX + 1];
        size_t n = 0;
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        while (n < KEY_FILE_MAX) {
                ssize_t k = read(fd, buf + n, KEY_FILE_MAX - n);
                if (k < 0) {
                        int e = errno;
                        explicit_bzero(buf, n);
                        return -e;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        buf[n] = 0;

        static const char openssh[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
        const char *begin = strstr(buf, openssh);
        if (begin)
                sniff_openssh_key(begin + strlen(openssh), n - (size_t) (begin + strlen(openssh) - buf), &s->key_type,
                                  &s->key_encrypted);
        else if (strstr(buf, "-----BEGIN RSA PRIVATE KEY-----"))
                s->key_type = KEY_RSA;
        else if (strstr(buf, "-----BEGIN EC PRIVATE KEY-----"))
                s->key_type = KEY_ECDSA;
        if (strstr(buf, "Proc-Type: 4,ENCRYPTED") || strstr(buf, "-----BEGIN ENCRYPTED PRIVATE KEY-----"))
                s->key_encrypted = true;
        explicit_bzero(buf, n);
        return 0;
}

static int parse_fingerprint(const char *v, char **ret) {
        if (strncmp(v, "SHA256:", 7) == 0)
                v += 7;
        size_t n = strlen(v);
        while (n > 0 && v[n - 1] == '=')
                n--;
        /* 32 bytes are 43 base64 characters without padding */
        if (n != 43)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (b64val(v[i]) < 0)
                        return -EINVAL;
        *ret = strndup(v, n);
        return *ret ? 0 : -ENOMEM;
}

static bool root_char_ok(unsigned char c) {
        return c >= 0x20 && c != 0x7f && c != '"' && c != '\\';
}

/* location: "//[user@]host[:port]/path" */
static int parse_location(CnBackendSftp *s, const char *location) {
        _cleanup_free_ char *user_enc = NULL, *path = NULL, *path_enc = NULL;
        int r;

        if (strncmp(location, "//", 2) != 0)
                goto bad;
        const char *auth = location + 2;
        const char *slash = strchr(auth, '/');
        if (!slash)
                goto bad;
        if (strpbrk(location, "?#")) {
                cn_backend_set_error("sftp: a repository URL takes no query or fragment");
                return -EINVAL;
        }
        size_t alen = (size_t) (slash - auth);
        const char *at = memrchr(auth, '@', alen);
        const char *hp = at ? at + 1 : auth;
        size_t hplen = (size_t) (slash - hp);

        if (at) {
                if (memchr(auth, ':', (size_t) (at - auth))) {
                        cn_backend_set_error("sftp: passwords in URLs are not supported (secrets stay out of "
                                             "URLs): log in with a key from CAIRN_SFTP_KEY");
                        return -EINVAL;
                }
                if (at == auth)
                        goto bad;
                r = cn_remote_decode_dup(auth, (size_t) (at - auth), &s->user);
                if (r < 0)
                        goto bad;
                user_enc = strndup(auth, (size_t) (at - auth));
        } else {
                struct passwd *pw = getpwuid(geteuid());
                const char *u = pw && pw->pw_name ? pw->pw_name : getenv("USER");
                if (!u || !*u) {
                        cn_backend_set_error("sftp: no user name in the URL and none known locally: use "
                                             "sftp://user@host/path");
                        return -EINVAL;
                }
                s->user = strdup(u);
                if (s->user && cn_remote_encode_dup(u, false, &user_enc) < 0)
                        return -ENOMEM;
        }
        if (!s->user || !user_enc)
                return -ENOMEM;

        /* host: a name, or [IPv6]; then an optional :port */
        if (hplen == 0)
                goto bad;
        const char *hend = hp + hplen, *colon = NULL;
        if (hp[0] == '[') {
                const char *close = memchr(hp, ']', hplen);
                if (!close)
                        goto bad;
                if (close + 1 < hend) {
                        if (close[1] != ':')
                                goto bad;
                        colon = close + 1;
                }
        } else
                colon = memchr(hp, ':', hplen);
        if (colon) {
                size_t plen = (size_t) (hend - colon - 1);
                unsigned long port = 0;
                if (plen == 0 || plen > 5)
                        goto bad;
                for (size_t i = 0; i < plen; i++) {
                        if (colon[1 + i] < '0' || colon[1 + i] > '9')
                                goto bad;
                        port = port * 10 + (unsigned long) (colon[1 + i] - '0');
                }
                if (port == 0 || port > 65535)
                        goto bad;
        }
        for (const char *q = hp; q < hend; q++)
                if (!(isalnum((unsigned char) *q) || strchr(".-_[]:%", *q)))
                        goto bad;
        s->host_shown = strndup(hp, hplen);
        if (!s->host_shown)
                return -ENOMEM;

        /* path: decoded, without trailing slashes, printable, no quotes */
        r = cn_remote_decode_dup(slash, strlen(slash), &path);
        if (r < 0)
                goto bad;
        size_t plen = strlen(path);
        while (plen > 0 && path[plen - 1] == '/')
                path[--plen] = 0;
        for (size_t i = 0; i < plen; i++)
                if (!root_char_ok((unsigned char) path[i])) {
                        cn_backend_set_error("sftp: the repository path may not hold control characters, '\"' "
                                             "or '\\'");
                        return -EINVAL;
                }
        if (strncmp(path, "/~/", 3) == 0 && strchr(path, ' ')) {
                /* libcurl expands "/~/" only in unquoted paths, which end at a blank */
                cn_backend_set_error("sftp: a path below the home directory (/~/) may not hold blanks: use the "
                                     "absolute path");
                return -EINVAL;
        }
        if (strcmp(path, "/~") == 0) {
                cn_backend_set_error("sftp: name a directory below the home directory: sftp://host/~/path");
                return -EINVAL;
        }
        r = cn_remote_encode_dup(path, true, &path_enc);
        if (r < 0)
                return r;
        if (asprintf(&s->url_base, "sftp://%s@%.*s%s", user_enc, (int) hplen, hp, path_enc) < 0) {
                s->url_base = NULL;
                return -ENOMEM;
        }
        s->root = TAKE_PTR(path);
        return 0;

bad:
        cn_backend_set_error("sftp: malformed URL: use sftp://[user@]host[:port]/absolute/path or "
                             "sftp://[user@]host[:port]/~/path");
        return -EINVAL;
}

static int read_env(CnBackendSftp *s) {
        const char *key = getenv("CAIRN_SFTP_KEY");
        int r;

        if (!key || !*key) {
                cn_backend_set_error("sftp: set CAIRN_SFTP_KEY to the private key file to log in with "
                                     "(ed25519 or ECDSA)");
                return -EINVAL;
        }
        if (!(s->key_file = strdup(key)))
                return -ENOMEM;
        r = sniff_key(s);
        if (r < 0) {
                cn_backend_set_error("sftp: cannot read the key file %s (CAIRN_SFTP_KEY): %s", s->key_file,
                                     strerror(-r));
                return r == -EACCES || r == -EPERM ? -EACCES : -EINVAL;
        }
        const char *pass = getenv("CAIRN_SFTP_KEY_PASSPHRASE");
        if (pass && *pass && !(s->passphrase = strdup(pass)))
                return -ENOMEM;

        const char *fp = getenv("CAIRN_SFTP_HOST_KEY_SHA256");
        if (fp && *fp) {
                r = parse_fingerprint(fp, &s->host_sha256);
                if (r == -EINVAL)
                        cn_backend_set_error("sftp: CAIRN_SFTP_HOST_KEY_SHA256 is not a SHA-256 fingerprint "
                                             "as `ssh-keygen -l` prints it (SHA256: and 43 base64 characters)");
                return r;
        }
        const char *kh = getenv("CAIRN_SFTP_KNOWN_HOSTS");
        if (kh && *kh)
                s->known_hosts = strdup(kh);
        else {
                const char *home = getenv("HOME");
                struct passwd *pw = NULL;
                if (!home || !*home) {
                        pw = getpwuid(geteuid());
                        home = pw ? pw->pw_dir : NULL;
                }
                if (!home) {
                        cn_backend_set_error("sftp: no home directory for ~/.ssh/known_hosts: set "
                                             "CAIRN_SFTP_KNOWN_HOSTS or CAIRN_SFTP_HOST_KEY_SHA256");
                        return -EINVAL;
                }
                if (asprintf(&s->known_hosts, "%s/.ssh/known_hosts", home) < 0)
                        s->known_hosts = NULL;
        }
        if (!s->known_hosts)
                return -ENOMEM;
        if (access(s->known_hosts, R_OK) < 0) {
                cn_backend_set_error("sftp: cannot read the known_hosts file %s (%s): without it the server's "
                                     "host key cannot be checked; set CAIRN_SFTP_KNOWN_HOSTS or "
                                     "CAIRN_SFTP_HOST_KEY_SHA256",
                                     s->known_hosts, strerror(errno));
                return -EACCES;
        }
        return 0;
}

/* mkdir every directory of the root path (failures ignored: most exist). */
static int make_root(CnBackendSftp *s) {
        Extra x = {};
        CnRemoteRequest req;
        int r = 0;
        _cleanup_free_ char *prefix = strdup(s->root);

        if (!prefix)
                return -ENOMEM;
        if (prefix[0] == 0)
                return 0; /* the server's "/" */
        /* "/~/a/b": the home directory is there already */
        size_t start = strncmp(prefix, "/~/", 3) == 0 ? 3 : 1;
        for (size_t i = start; r >= 0; i++) {
                if (prefix[i] != '/' && prefix[i] != 0)
                        continue;
                char c = prefix[i];
                prefix[i] = 0;
                _cleanup_free_ char *line = NULL;
                const char *q = strchr(prefix, ' ') ? "\"" : "";
                if (asprintf(&line, "*mkdir %s%s%s", q, prefix, q) < 0)
                        r = -ENOMEM;
                else {
                        struct curl_slist *n = curl_slist_append(x.quote, line);
                        if (!n)
                                r = -ENOMEM;
                        else
                                x.quote = n;
                }
                prefix[i] = c;
                if (c == 0)
                        break;
        }
        if (r >= 0 && x.quote)
                r = run_quote(s, &x, "create repository directory", 0, &req);
        extra_done(&x);
        return r;
}

/* The root must be a directory we can list. */
static int check_root(CnBackendSftp *s) {
        _cleanup_(cn_buf_donep) CnBuf some = CN_BUF_INIT(64 * 1024);
        _cleanup_free_ char *url = NULL;
        int r;

        r = url_of(s, "", &url);
        if (r < 0)
                return r;
        CnRemoteRequest req = {.url = url, .response = &some, .what = "open repository"};
        r = cn_remote_request(s->remote, &req);
        if (r == -E2BIG)
                return 0; /* a big directory: it exists */
        if (r < 0)
                return explain(s, &req, r);
        return 0;
}

static int sftp_open(const char *location, bool create, CnBackend **ret) {
        _cleanup_(sftp_freep) CnBackendSftp *s = calloc(1, sizeof *s);
        int r;

        if (!s)
                return -ENOMEM;
        s->base.ops = &cn_backend_sftp_ops;
        r = parse_location(s, location);
        if (r < 0)
                return r;
        r = read_env(s);
        if (r < 0)
                return r;

        CnRemoteConfig cfg = {
                .protocols = "sftp",
                .setup = instance_setup,
                .classify = classify,
                .userdata = s,
        };
        r = cn_remote_new(&cfg, &s->remote);
        if (r < 0)
                return r;
        if (create) {
                r = make_root(s);
                if (r < 0)
                        return r;
        }
        r = check_root(s);
        if (r < 0)
                return r;
        *ret = &TAKE_PTR(s)->base;
        return 0;
}

const CnBackendOps cn_backend_sftp_ops = {
        .scheme = "sftp",
        .caps = CN_BACKEND_CAP_EXCLUSIVE_PUT | CN_BACKEND_CAP_RANGED_GET | CN_BACKEND_CAP_ATOMIC_PUT,
        .open = sftp_open,
        .close = sftp_close,
        .put = sftp_put,
        .get = sftp_get,
        .stat = sftp_stat,
        .list = sftp_list,
        .remove = sftp_remove,
};
