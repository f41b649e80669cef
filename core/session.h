/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Writer sessions and deletion plans: how prune deletes without a lock
 * that writers take (docs/FORMAT.md "Deleting without a lock").
 *
 *   session body = kind:u8 started:i64 refreshed:i64 host:bytes32 pid:u32
 *                  plan_count:u32 plan_id[32]*          (ids increasing)
 *   plan body    = created:i64 count:u32 { pack_id[32] blob_id[32] }*
 *
 * A writer (backup, copy, prune) puts writers/<ctrl>/<random id> before it
 * reads anything, rewrites it with the ids of the plans it then loaded,
 * refreshes it while it runs and removes it when its snapshot is stored.
 * A plan (prune/<ctrl>/<sha256 of the object>) names the copies of chunks
 * no snapshot needed when it was made; every writer that loaded it treats
 * them as absent. Prune deletes a planned copy only once no live writer
 * can have missed the plan, and only if no snapshot needs it by then. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "damage.h"
#include "repo.h"
#include "store.h"

typedef enum CnSessionKind {
        CN_SESSION_WRITER = 1,  /* backup, copy: may reuse stored chunks */
        CN_SESSION_PRUNE = 2,   /* prune: one at a time per controller */
        CN_SESSION_ERASE = 3,   /* erasure: runs alone (docs/FORMAT.md "Erasure") */
} CnSessionKind;

/* A writer refreshes its session at least this often while it works. */
#define CN_SESSION_REFRESH_SEC (5 * 60)
/* A session not refreshed for this long is a dead writer's (killed, or its
 * machine gone): prune ignores and removes it. Clocks of hosts sharing a
 * repository must agree to well within this. */
#define CN_SESSION_STALE_SEC (2 * 3600)

typedef struct CnSession CnSession;

/* Put a new session of controller c (no plans seen yet). */
int cn_session_begin(CnRepo *repo, CnController *c, CnSessionKind kind, CnSession **ret);
/* Record the plans this writer loaded (ids, any order) and refresh. */
int cn_session_set_plans(CnSession *s, const uint8_t (*plans)[CN_ID_BYTES], size_t n);
/* Refresh when CN_SESSION_REFRESH_SEC passed since the last one (or always,
 * with force). */
int cn_session_refresh(CnSession *s, bool force);
/* Before a writer stores its snapshot: -ESTALE when its session was removed
 * (a prune took it for a dead writer's, and may have deleted chunks it
 * reuses); else refreshes it. */
int cn_session_check(CnSession *s);
/* Remove the session (best effort) and free it. NULL-tolerant. */
CnSession *cn_session_end(CnSession *s);
static inline void cn_session_endp(CnSession **s) {
        cn_session_end(*s);
}
const char *cn_session_name(const CnSession *s);

/* A session as listed. */
typedef struct CnSessionInfo {
        char *name;             /* writers/<ctrl>/<id> */
        CnSessionKind kind;
        int64_t started, refreshed;
        char *host;
        uint32_t pid;
        uint8_t (*plans)[CN_ID_BYTES];
        size_t n_plans;
        bool stale;             /* refreshed more than CN_SESSION_STALE_SEC before now, or a
                                 * prune's whose process on this host is gone */
} CnSessionInfo;

void cn_sessions_free(CnSessionInfo *v, size_t n);
/* Every session of c, judged stale against now (seconds since 1970). A
 * session object that does not open is passed to damaged and skipped. */
int cn_sessions_list(CnRepo *repo, CnController *c, int64_t now, CnStoreDamagedFn damaged, void *userdata,
                     CnSessionInfo **ret, size_t *ret_n);
/* Whether the session lists plan id. */
bool cn_session_saw_plan(const CnSessionInfo *s, const uint8_t id[CN_ID_BYTES]);

int cn_session_encode(const CnSessionInfo *s, CnBuf *out);
int cn_session_decode(const uint8_t *p, size_t n, CnSessionInfo *ret);

/* Plans: encode the body of a plan of locations (sorted first; at least
 * one), decode one (adding its locations to d). */
int cn_plan_encode(int64_t created, CnDamageSet *d, CnBuf *out);
int cn_plan_decode(const uint8_t *p, size_t n, int64_t *ret_created, CnDamageSet *d);
