/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "session.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "envelope.h"
#include "format.h"
#include "hex.h"
#include "macro.h"

#define MAX_SESSION_BYTES (1u << 20)
#define MAX_SESSION_PLANS 4096u

struct CnSession {
        CnRepo *repo;
        CnController *c;
        CnSessionInfo info;
        int64_t last_refresh;           /* CLOCK_MONOTONIC seconds */
};

static int64_t mono_sec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec;
}

static void info_done(CnSessionInfo *s) {
        free(s->name);
        free(s->host);
        free(s->plans);
        *s = (CnSessionInfo) {};
}

void cn_sessions_free(CnSessionInfo *v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                info_done(&v[i]);
        free(v);
}

static int plan_id_cmp(const void *a, const void *b) {
        return memcmp(a, b, CN_ID_BYTES);
}

int cn_session_encode(const CnSessionInfo *s, CnBuf *b) {
        int r;
        if ((r = cn_buf_put_u8(b, (uint8_t) s->kind)) < 0 || (r = cn_buf_put_i64(b, s->started)) < 0 ||
            (r = cn_buf_put_i64(b, s->refreshed)) < 0 ||
            (r = cn_buf_put_bytes32(b, s->host, strlen(s->host))) < 0 || (r = cn_buf_put_u32(b, s->pid)) < 0 ||
            (r = cn_buf_put_u32(b, (uint32_t) s->n_plans)) < 0)
                return r;
        for (size_t i = 0; i < s->n_plans; i++)
                if ((r = cn_buf_append(b, s->plans[i], CN_ID_BYTES)) < 0)
                        return r;
        return 0;
}

int cn_session_decode(const uint8_t *p, size_t n, CnSessionInfo *ret) {
        CnSessionInfo s = {};
        CnReader rd;
        uint8_t kind;
        uint32_t count;

        cn_reader_init(&rd, p, n);
        if (cn_reader_u8(&rd, &kind) < 0 || (kind != CN_SESSION_WRITER && kind != CN_SESSION_PRUNE && kind != CN_SESSION_ERASE) ||
            cn_reader_i64(&rd, &s.started) < 0 || cn_reader_i64(&rd, &s.refreshed) < 0 ||
            cn_reader_str(&rd, CN_MAX_LABEL_BYTES, &s.host) < 0)
                goto bad;
        s.kind = kind;
        if (cn_reader_u32(&rd, &s.pid) < 0 || cn_reader_u32(&rd, &count) < 0 || count > MAX_SESSION_PLANS ||
            (uint64_t) count * CN_ID_BYTES != rd.left)
                goto bad;
        if (count) {
                s.plans = malloc(count * sizeof *s.plans);
                if (!s.plans) {
                        info_done(&s);
                        return -ENOMEM;
                }
        }
        for (uint32_t i = 0; i < count; i++) {
                cn_reader_get(&rd, s.plans[i], CN_ID_BYTES);
                if (i && memcmp(s.plans[i - 1], s.plans[i], CN_ID_BYTES) >= 0)
                        goto bad;
        }
        s.n_plans = count;
        *ret = s;
        return 0;
bad:
        info_done(&s);
        return -EBADMSG;
}

static int session_put(CnSession *s) {
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(MAX_SESSION_BYTES);
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(MAX_SESSION_BYTES);
        CnEnvelopeHeader h = {};
        int r;

        s->info.refreshed = time(NULL);
        memcpy(h.processor, cn_repo_processor_id(s->repo), CN_UUID_BYTES);
        memcpy(h.controller, s->c->id, CN_UUID_BYTES);
        if ((r = cn_session_encode(&s->info, &body)) < 0 ||
            (r = cn_envelope_seal(&obj, CN_MAGIC_SESSION, &h, s->c->meta_key, body.data, body.len)) < 0)
                return r;
        r = cn_backend_put(cn_repo_backend(s->repo), s->info.name, obj.data, obj.len, 0);
        if (r < 0)
                return r;
        s->last_refresh = mono_sec();
        return 0;
}

int cn_session_begin(CnRepo *repo, CnController *c, CnSessionKind kind, CnSession **ret) {
        uint8_t id[CN_ID_BYTES];
        char hex[CN_ID_HEX + 1], host[256] = "";
        int r;

        CnSession *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->repo = repo;
        s->c = c;
        cn_random(id, sizeof id);
        cn_hex_encode(id, sizeof id, hex);
        gethostname(host, sizeof host - 1);
        s->info.kind = kind;
        s->info.started = time(NULL);
        s->info.pid = (uint32_t) getpid();
        if (asprintf(&s->info.name, "writers/%s/%s", c->id_hex, hex) < 0) {
                s->info.name = NULL;
                r = -ENOMEM;
        } else if (!(s->info.host = strdup(host)))
                r = -ENOMEM;
        else
                r = session_put(s);
        if (r < 0) {
                info_done(&s->info);
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

int cn_session_set_plans(CnSession *s, const uint8_t (*plans)[CN_ID_BYTES], size_t n) {
        size_t k = 0;
        if (n > MAX_SESSION_PLANS)
                return -E2BIG;
        uint8_t(*v)[CN_ID_BYTES] = n ? malloc(n * sizeof *v) : NULL;
        if (n && !v)
                return -ENOMEM;
        if (n)
                memcpy(v, plans, n * sizeof *v);
        if (n > 1)
                qsort(v, n, sizeof *v, plan_id_cmp);
        for (size_t i = 0; i < n; i++)
                if (k == 0 || memcmp(v[k - 1], v[i], CN_ID_BYTES) != 0)
                        memmove(v[k++], v[i], CN_ID_BYTES);
        free(s->info.plans);
        s->info.plans = v;
        s->info.n_plans = k;
        return session_put(s);
}

int cn_session_refresh(CnSession *s, bool force) {
        if (!force && mono_sec() - s->last_refresh < CN_SESSION_REFRESH_SEC)
                return 0;
        return session_put(s);
}

int cn_session_check(CnSession *s) {
        uint64_t size;
        int r = cn_backend_stat(cn_repo_backend(s->repo), s->info.name, &size);
        if (r == -ENOENT)
                return -ESTALE;
        if (r < 0)
                return r;
        return session_put(s);
}

CnSession *cn_session_end(CnSession *s) {
        if (!s)
                return NULL;
        cn_backend_remove(cn_repo_backend(s->repo), s->info.name);
        info_done(&s->info);
        free(s);
        return NULL;
}

const char *cn_session_name(const CnSession *s) {
        return s->info.name;
}

bool cn_session_saw_plan(const CnSessionInfo *s, const uint8_t id[CN_ID_BYTES]) {
        return s->n_plans && bsearch(id, s->plans, s->n_plans, CN_ID_BYTES, plan_id_cmp) != NULL;
}

typedef struct ListCtx {
        CnRepo *repo;
        CnController *c;
        int64_t now;
        CnStoreDamagedFn damaged;
        void *userdata;
        CnSessionInfo *v;
        size_t n;
        CnBuf obj, body;
} ListCtx;

/* A prune's session put on this host by a process that is gone: a prune
 * killed there (restic judges its locks so). By age alone, a killed
 * prune's session would stop every other prune for CN_SESSION_STALE_SEC. */
static bool prune_died_here(const CnSessionInfo *s) {
        char host[256] = "";
        if ((s->kind != CN_SESSION_PRUNE && s->kind != CN_SESSION_ERASE) || s->pid == 0 ||
            gethostname(host, sizeof host - 1) < 0 ||
            strcmp(host, s->host) != 0)
                return false;
        /* Our own pid counts as running: another thread of this process
         * may prune (callers skip their own session by name). */
        return s->pid != (uint32_t) getpid() && kill((pid_t) s->pid, 0) < 0 && errno == ESRCH;
}

static int open_one(ListCtx *x, const char *name, CnSessionInfo *ret) {
        CnEnvelopeHeader h;
        int r = cn_backend_get(cn_repo_backend(x->repo), name, 0, CN_GET_ALL, &x->obj);
        if (r < 0)
                return r;
        r = cn_envelope_open(x->obj.data, x->obj.len, CN_MAGIC_SESSION, x->c->meta_key, &h, &x->body);
        if (r < 0)
                return r;
        if (memcmp(h.controller, x->c->id, CN_UUID_BYTES) != 0 || h.epoch != 0)
                return -EBADMSG;
        r = cn_session_decode(x->body.data, x->body.len, ret);
        if (r < 0)
                return r;
        if (!(ret->name = strdup(name))) {
                info_done(ret);
                return -ENOMEM;
        }
        ret->stale = ret->refreshed < x->now - CN_SESSION_STALE_SEC || prune_died_here(ret);
        return 0;
}

static int list_one(const char *name, _unused_ uint64_t size, void *u) {
        ListCtx *x = u;
        CnSessionInfo s;
        int r = open_one(x, name, &s);
        if (r == -ENOENT)
                return 0;       /* ended meanwhile */
        if (r < 0) {
                if (cn_store_error_is_environment(r) || !x->damaged)
                        return r;
                x->damaged(name, r, x->userdata);
                return 0;
        }
        CnSessionInfo *v = realloc(x->v, (x->n + 1) * sizeof *v);
        if (!v) {
                info_done(&s);
                return -ENOMEM;
        }
        x->v = v;
        v[x->n++] = s;
        return 0;
}

int cn_sessions_list(CnRepo *repo, CnController *c, int64_t now, CnStoreDamagedFn damaged, void *userdata,
                     CnSessionInfo **ret, size_t *ret_n) {
        ListCtx x = { .repo = repo, .c = c, .now = now, .damaged = damaged, .userdata = userdata };
        char prefix[16 + CN_UUID_HEX];
        cn_buf_init(&x.obj, MAX_SESSION_BYTES);
        cn_buf_init(&x.body, MAX_SESSION_BYTES);
        snprintf(prefix, sizeof prefix, "writers/%s/", c->id_hex);
        int r = cn_backend_list(cn_repo_backend(repo), prefix, list_one, &x);
        cn_buf_done(&x.obj);
        cn_buf_done(&x.body);
        if (r < 0) {
                cn_sessions_free(x.v, x.n);
                return r;
        }
        *ret = x.v;
        *ret_n = x.n;
        return 0;
}

int cn_plan_encode(int64_t created, CnDamageSet *d, CnBuf *out) {
        int r = cn_buf_put_i64(out, created);
        if (r < 0)
                return r;
        return cn_damage_encode(d, out);
}

int cn_plan_decode(const uint8_t *p, size_t n, int64_t *ret_created, CnDamageSet *d) {
        CnReader rd;
        cn_reader_init(&rd, p, n);
        if (cn_reader_i64(&rd, ret_created) < 0)
                return -EBADMSG;
        return cn_damage_decode(rd.p, rd.left, d);
}
