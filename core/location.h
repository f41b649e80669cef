/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Locations and the location gate (docs/FORMAT.md "Locations").
 *
 * A location is where a repository's objects physically live (a provider
 * and a region); a grant is a location a controller authorised its data to
 * live at. Both are written once and never changed, and both end only by
 * an object of their own that names them (a removal, a revocation), so the
 * history stays, with dates:
 *
 *   location body = name:bytes32 provider:bytes32 region:bytes32 note:bytes32
 *                   creator:bytes32 created:i64
 *   end body      = target[32] creator:bytes32 created:i64
 *
 *   locations/<id>       a location of this repository (CAIRNLOC) or the
 *                        removal of one (CAIRNLRM), under the config key
 *   grants/<ctrl>/<id>   a location ctrl authorised (CAIRNGRT) or the
 *                        revocation of a grant (CAIRNGRV), under ctrl's
 *                        metadata key
 *
 * <id> is the SHA-256 of the stored object. The gate: an operation that
 * places controller c's data in a repository D goes only when D never
 * recorded a location and c never authorised one (unconfigured), or when D
 * records at least one location in force and each matches (name, provider
 * and region) a grant of c in force. A removal or a revocation never widens
 * what passes. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "repo.h"
#include "store.h"

#define CN_LOCATION_NAME_MAX 64u   /* 1 to 64 bytes of [A-Za-z0-9._-] */
#define CN_LOCATION_TEXT_MAX 256u  /* provider, region: 1 to 256 bytes of UTF-8, no control character */
#define CN_LOCATION_NOTE_MAX 4096u /* note: 0 to 4096 bytes of UTF-8, no control character */
#define CN_LOCATION_OBJECT_NAME_MAX (16 + CN_UUID_HEX + CN_ID_HEX)

/* A removal of a location, or a revocation of a grant. */
typedef struct CnLocationEnd {
        uint8_t target[CN_ID_BYTES]; /* the id of the location or grant it ends */
        char *creator;               /* user@host, 0 to 1024 bytes */
        int64_t created;             /* seconds since 1970 (UTC) */
} CnLocationEnd;

/* A location of a repository, or a grant of a controller (the same body). */
typedef struct CnLocation {
        uint8_t id[CN_ID_BYTES]; /* SHA-256 of the stored object: set when stored or loaded */
        char id_hex[CN_ID_HEX + 1];
        char *name;
        char *provider;
        char *region;
        char *note; /* "" when none */
        char *creator;
        int64_t created;
        /* Set by the loaders: the removal or revocation that ends it (the
         * oldest of them if several, pointing into the set's ends), NULL
         * while it is in force. */
        const CnLocationEnd *end;
} CnLocation;

typedef struct CnLocations {
        CnLocation *v; /* by created, then id */
        size_t n;
        CnLocationEnd *ends; /* by created */
        size_t n_ends;
        size_t n_damaged;                          /* objects that did not open, skipped */
        char damaged[CN_LOCATION_OBJECT_NAME_MAX]; /* the first of them ("" if none) */
} CnLocations;

void cn_location_done(CnLocation *l);
void cn_location_end_done(CnLocationEnd *e);
void cn_locations_done(CnLocations *s);

static inline bool cn_location_in_force(const CnLocation *l) {
        return !l->end;
}

/* Field rules (FORMAT.md "Locations"): a name is 1 to 64 bytes of
 * [A-Za-z0-9._-]; provider and region 1 to 256 bytes, note 0 to 4096, of
 * valid UTF-8 without control characters (U+0000 to U+001F, U+007F). */
bool cn_location_name_valid(const char *s);
bool cn_location_text_valid(const char *s, size_t min, size_t max);
/* Same name, provider and region (byte for byte): a grant matches a location. */
bool cn_location_same(const CnLocation *a, const CnLocation *b);

/* Bodies. Encoders refuse (-EINVAL) what decoders refuse (-EBADMSG): a
 * field outside its rule, a creator over 1024 bytes or holding a NUL. */
int cn_location_encode(const CnLocation *l, CnBuf *out);
int cn_location_decode(const uint8_t *p, size_t n, CnLocation *ret);
int cn_location_end_encode(const CnLocationEnd *e, CnBuf *out);
int cn_location_end_decode(const uint8_t *p, size_t n, CnLocationEnd *ret);

/* The repository's locations (every one, with the removals that ended
 * some), or c's grants (with the revocations). An object that does not
 * open (damaged, truncated, not named by its SHA-256, of another
 * controller, processor or epoch) is passed to damaged (may be NULL),
 * skipped and counted in ret->n_damaged, its name kept in ret->damaged:
 * it may be a location or a revocation, so the gate refuses then. Errors of
 * the machine or the connection fail the load. Export and records read
 * them this way. */
int cn_locations_load(CnRepo *r, CnStoreDamagedFn damaged, void *userdata, CnLocations *ret);
int cn_grants_load(CnRepo *r, const CnController *c, CnStoreDamagedFn damaged, void *userdata, CnLocations *ret);

/* The entries in force of s named name: returns how many, and the first
 * (oldest) into *ret when there is one (ret may be NULL). */
size_t cn_locations_find(const CnLocations *s, const char *name, CnLocation **ret);
/* Whether a grant in force of grants matches l. */
bool cn_locations_match(const CnLocations *grants, const CnLocation *l);

/* Store l as a location of r, or as a grant of controller c; sets l->id
 * and l->id_hex. -EINVAL a field outside its rule. The caller checks for
 * a location of that name in force first (cn_locations_find). */
int cn_location_add(CnRepo *r, CnLocation *l);
int cn_grant_add(CnRepo *r, const CnController *c, CnLocation *g);
/* Store the end of l (a location of r: its removal; with c, a grant of c:
 * its revocation), by creator at created. -EALREADY l is ended already.
 * l stays in its set (the caller reloads to see the end in it). */
int cn_location_remove(CnRepo *r, CnLocation *l, const char *creator, int64_t created);
int cn_grant_revoke(CnRepo *r, const CnController *c, CnLocation *g, const char *creator, int64_t created);

/* The stored bytes of grants/<ctrl>/<id> object name of controller c (a
 * grant or a revocation) into ret (replaced), checked as cn_grants_load()
 * checks it: copy puts it as it is in a replica. -ENOENT gone; -EBADMSG
 * an object the loader would skip. */
int cn_grant_read_object(CnRepo *r, CnController *c, const char *name, CnBuf *ret);

/* ---- the gate ---- */

typedef enum CnLocationRefusalKind {
        CN_LOCATION_UNAUTHORISED = 1, /* the destination lives at a location c did not authorise */
        CN_LOCATION_NONE_RECORDED,    /* the destination records no location in force, and the gate is
                                       * configured (a location or a grant was ever recorded) */
        CN_LOCATION_DAMAGED,          /* an object of the destination's locations or of c's grants does
                                       * not open: it may be a location or a revocation */
} CnLocationRefusalKind;

typedef struct CnLocationRefusal {
        CnLocationRefusalKind kind;
        const CnController *controller;      /* borrowed: whose grants */
        char name[CN_LOCATION_NAME_MAX + 1]; /* UNAUTHORISED: the destination's location */
        char provider[CN_LOCATION_TEXT_MAX + 1];
        char region[CN_LOCATION_TEXT_MAX + 1];
        size_t n_grants;                          /* how many grants c has in force */
        char object[CN_LOCATION_OBJECT_NAME_MAX]; /* DAMAGED: the object */
} CnLocationRefusal;

/* Whether c (whose grants are grants) may place data in a repository whose
 * locations are locations: 0 yes (*ret_configured says whether the gate is
 * configured: a location or a grant was ever recorded, ended or not);
 * -EPERM no, and *ret says why (ret->controller is left to the caller).
 * No I/O. ret_configured may be NULL. */
int cn_location_gate_check(const CnLocations *grants, const CnLocations *locations, CnLocationRefusal *ret,
                           bool *ret_configured);
/* The same with c's grants loaded from grants_repo (the repository whose
 * controller record c is: the source of a copy or replica). ret->controller
 * is c. Errors of the load. */
int cn_location_gate_with(CnRepo *grants_repo, const CnController *c, const CnLocations *locations,
                          CnLocationRefusal *ret);
/* The same with the locations of dest loaded: a backup into dest
 * (grants_repo == dest), a copy into the replica dest. */
int cn_location_gate(CnRepo *grants_repo, const CnController *c, CnRepo *dest, CnLocationRefusal *ret);
