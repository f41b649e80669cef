/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A repository: its backend, its unwrapped secrets and its controllers.
 *
 * cn_repo_open() unwraps the master key with a passphrase (one of the key
 * files) and then everything it protects: the processor identity and every
 * controller's domain root. All secrets stay in cn_secret_new() memory and
 * are wiped by cn_repo_unref(). The repository borrows the backend; the
 * caller closes it after the last unref. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "buf.h"
#include "chunker.h"
#include "crypto.h"
#include "envelope.h"
#include "format.h"
#include "keystore.h"

typedef struct CnRepo CnRepo;

typedef struct CnController {
        uint8_t id[CN_UUID_BYTES];
        char id_hex[CN_UUID_HEX + 1];
        char *name;
        int64_t created;
        CnChunkerParams chunker;
        int format;             /* 1 or 2: the version of its record (docs/FORMAT.md "Controller body") */
        uint32_t epoch;         /* the current key epoch: its record's */
        /* All cn_secret_new() memory, CN_KEY_BYTES each. */
        uint8_t *root;          /* domain root: everything below derives from it */
        uint8_t *id_key;        /* HMAC key of chunk and snapshot ids */
        uint8_t *chunker_key;
        uint8_t *meta_key;      /* holds, sessions; v1: pack headers, index files, snapshots... */
        uint8_t *epoch_key;     /* of the current epoch (v1: from the record; v2: from the key store) */
        uint8_t *ledger_key;    /* seals ledgers of the current epoch (v1: epoch_key) */
        uint8_t *epoch_meta_key; /* v2: snapshots, damage records, plans, requests (v1: meta_key) */
        CnKeyStore *ks;         /* v2: its key store object, every epoch key it holds */
        CnIdHasher *id_hasher;  /* HMAC states of id_key, for every thread */
} CnController;

typedef struct CnKdfParams {
        uint64_t opslimit;
        uint64_t memlimit;
} CnKdfParams;

/* Argon2id cost for new key files: 3 passes over 32 MiB (about 0.12 s here),
 * well above OWASP's minimums (19 MiB x 2, 12 MiB x 3) and light enough for
 * every command of a backup appliance to pay it, memory included. */
extern const CnKdfParams cn_kdf_default_params;

typedef struct CnRepoInitOptions {
        const char *processor_name;     /* default "cairn" */
        const char *controller_name;    /* default "default" */
        const char *key_label;          /* e.g. "root@host"; may be NULL */
        CnKdfParams kdf;                /* zero: cn_kdf_default_params */
        CnChunkerParams chunker;        /* zero: cn_chunker_default_params */
        const char *key_store;          /* key store location; NULL: cn_keystore_default_location() */
} CnRepoInitOptions;

/* Create a repository in an empty location: one holding no object at all
 * (cn_repo_probe()). -EEXIST a config is there; -ENOTEMPTY other objects
 * are there (a repository that lost its config, or anything else);
 * -EBUSY another init created a repository here meanwhile (this one then
 * removes what it wrote); -ERANGE o->kdf outside the caps of format.h. */
int cn_repo_init(CnBackend *b, const char *pw, size_t pw_len, const CnRepoInitOptions *o, CnRepo **ret);

/* Create a replica of src in an empty location (as cn_repo_init(), same
 * errors): a repository of its own (its own repo_uuid, master key and key
 * file for pw) that shares src's processor (uuid, name, signing key pair)
 * and holds every controller of src as it is (cn_repo_controller_import()),
 * so sealed blobs and metadata objects move between the two byte for byte
 * (docs/FORMAT.md "Replicas"). Only o->key_label and o->kdf are used. */
int cn_repo_init_replica(CnBackend *b, const char *pw, size_t pw_len, const CnRepo *src, const CnRepoInitOptions *o,
                         CnRepo **ret);

/* What a repository open skipped, reported through CnRepoOpenOptions.on_problem
 * (and kept for cn_repo_problems()): a key file it cannot use, a controller
 * record that does not open. Every field is borrowed for the call only. */
typedef enum CnRepoProblemKind {
        CN_REPO_KEY_UNREADABLE,         /* could not be read (error), or Argon2 could not run (-ENOMEM) */
        CN_REPO_KEY_OVERSIZED,          /* size > CN_MAX_KEYFILE_BYTES */
        CN_REPO_KEY_MALFORMED,          /* magic, length or layout wrong; error -EINVAL: the name is not keys/<id> */
        CN_REPO_KEY_UNKNOWN_VERSION,    /* version (or kdf) this reader does not know */
        CN_REPO_KEY_COST,               /* opslimit or memlimit outside CN_KDF_*: never derived */
        CN_REPO_KEY_OTHER_REPOSITORY,   /* opens with the passphrase but not this repository's config */
        CN_REPO_KEY_HINT_UNMATCHED,     /* object is the hint, size how many key files it names (not 1); not kept */
        CN_REPO_CONTROLLER_UNREADABLE,  /* could not be read (error) */
        CN_REPO_CONTROLLER_FOREIGN,     /* does not open under this repository's master key (error) */
        CN_REPO_CONTROLLER_NO_KEY,      /* version 2: the key store holds no key for it (erased, or
                                         * not this repository's key store) */
} CnRepoProblemKind;

typedef struct CnRepoProblem {
        CnRepoProblemKind kind;
        const char *object;             /* "keys/<id>", "controllers/<id>"; the hint for HINT_UNMATCHED */
        int error;                      /* negative errno: UNREADABLE; -EBADMSG or -EPROTONOSUPPORT: FOREIGN */
        uint64_t size;                  /* OVERSIZED */
        uint32_t version, kdf;          /* UNKNOWN_VERSION */
        uint64_t opslimit, memlimit;    /* COST */
        const char *url;                /* CONTROLLER_NO_KEY: the key store location read (or NULL) */
} CnRepoProblem;

typedef void (*CnRepoProblemFn)(const CnRepoProblem *p, void *userdata);

typedef struct CnRepoOpenOptions {
        /* A key file id (or a unique prefix of one) to try first, as restic's
         * --key-hint; NULL: none. */
        const char *key_hint;
        CnRepoProblemFn on_problem;     /* may be NULL */
        void *userdata;
        const char *key_store;          /* key store location; NULL: cn_keystore_default_location() */
} CnRepoOpenOptions;

/* Open with a passphrase. Key files that cannot be used (unreadable,
 * oversized, malformed, unknown version, Argon2 cost outside the caps) are
 * reported and skipped before any key derivation; the rest are tried
 * cheapest first (opslimit x memlimit, then by name), o->key_hint's first.
 * Controller records that do not open are reported and skipped.
 * -ENOENT nothing here at all; -EUCLEAN no config, but other objects (a
 * damaged repository: cn_repo_probe() says what is there);
 * -EPROTONOSUPPORT unknown config version; -EKEYREJECTED no key file opens
 * with this passphrase; -EBADMSG a damaged config, or no controller opens;
 * -ENOKEY no controller opens and some lack a key in the key store.
 * o may be NULL. */
int cn_repo_open_with(CnBackend *b, const char *pw, size_t pw_len, const CnRepoOpenOptions *o, CnRepo **ret);
/* cn_repo_open_with() without options. */
int cn_repo_open(CnBackend *b, const char *pw, size_t pw_len, CnRepo **ret);
/* What the open of r skipped (the kinds it keeps: all but HINT_UNMATCHED),
 * for check. Borrowed from r. */
const CnRepoProblem *cn_repo_problems(const CnRepo *r, size_t *ret_n);

/* What a location holds: config, and the first object found under each of
 * cn_repo_prefixes ("keys/", "controllers/", "data/", "ledger/", "index/",
 * "snapshots/"), and the first object of any name. Names are malloc'd
 * (cn_repo_location_done() frees them); NULL where there is none. Each
 * listing stops at its first object. */
#define CN_REPO_N_PREFIXES 6
extern const char *const cn_repo_prefixes[CN_REPO_N_PREFIXES];
typedef struct CnRepoLocation {
        bool config;
        char *first[CN_REPO_N_PREFIXES];
        char *any;                      /* NULL: the location holds no object at all */
} CnRepoLocation;
int cn_repo_probe(CnBackend *b, CnRepoLocation *ret);
void cn_repo_location_done(CnRepoLocation *l);

CnRepo *cn_repo_unref(CnRepo *r);
static inline void cn_repo_unrefp(CnRepo **r) {
        cn_repo_unref(*r);
}

CnBackend *cn_repo_backend(CnRepo *r);
/* The key store location this repository reads (NULL: none could be
 * named). */
const char *cn_repo_key_store(const CnRepo *r);
const uint8_t *cn_repo_id(const CnRepo *r);
const uint8_t *cn_repo_processor_id(const CnRepo *r);
const char *cn_repo_processor_name(const CnRepo *r);
const uint8_t *cn_repo_processor_public_key(const CnRepo *r);
/* The processor's Ed25519 secret key (CN_SIGN_SECRET_BYTES of secret
 * memory, borrowed from r), for signing certificates. */
const uint8_t *cn_repo_processor_secret_key(const CnRepo *r);
/* The key that seals config, KDF(master, 1, "cnmaster"), into ret (the
 * caller's secret memory): certificates/ are sealed under it too. */
int cn_repo_config_key(const CnRepo *r, uint8_t ret[CN_KEY_BYTES]);
/* The key that seals the audit log, KDF(master, 4, "cnmaster"), likewise. */
int cn_repo_audit_key(const CnRepo *r, uint8_t ret[CN_KEY_BYTES]);

/* Controllers in order of id (as loaded; one added in this session comes
 * last). None is the "default": callers that act for one must be told which
 * when there are several. */
size_t cn_repo_n_controllers(const CnRepo *r);
CnController *cn_repo_controller(CnRepo *r, size_t i);
/* By name, or by id hex (a unique prefix of at least 4 digits); NULL if none. */
CnController *cn_repo_find_controller(CnRepo *r, const char *name_or_id);

/* A new data controller with its own random domain root: its chunks, ids
 * and chunk boundaries share nothing with any other controller's.
 * -EEXIST if the name is taken. params NULL: the defaults. */
int cn_repo_controller_add(CnRepo *r, const char *name, const CnChunkerParams *params, CnController **ret);

/* Add controller c of another repository to r as it is: the same id, name,
 * created, domain root, chunker parameters, epoch and epoch key, sealed
 * under r's master key (a replica's copy of its source's controller).
 * -EEXIST r has a controller of that id. */
int cn_repo_controller_import(CnRepo *r, const CnController *c, CnController **ret);
/* Whether a and b are the same processor: uuid and signing key pair
 * (compared in constant time). */
bool cn_repo_same_processor(const CnRepo *a, const CnRepo *b);
/* r's copy of controller c of another repository (a replica's source): 0
 * and *ret when r holds c with the same domain root, chunker parameters,
 * epoch and epoch key (compared in constant time); -ENOENT r has no
 * controller of c's id; -EXDEV r has one of that id with other keys;
 * -EKEYEXPIRED the same controller at another key epoch. */
int cn_repo_replica_controller(CnRepo *r, const CnController *c, CnController **ret);

/* ---- a controller's objects (docs/FORMAT.md "Envelope") ---- */

/* The version c writes objects of magic at, and whether its readers
 * accept version v (version 2 controllers only their own versions). */
uint32_t cn_controller_object_version(const CnController *c, const char magic[CN_MAGIC_BYTES]);
bool cn_controller_object_version_ok(const CnController *c, const char magic[CN_MAGIC_BYTES], uint32_t version);
/* Seal body as c's object of magic: the version, epoch and key the
 * envelope table gives for c's format (metadata key at epoch 0; ledgers and,
 * in version 2, snapshots, damage records, plans and erasure requests under
 * the keys of epoch, c->epoch for cn_controller_seal()). -ENOKEY the key
 * store holds no key of epoch. Not for index files of version 2 (their
 * pack's key). */
int cn_controller_seal(const CnRepo *r, const CnController *c, const char magic[CN_MAGIC_BYTES], const void *body,
                       size_t n, CnBuf *out);
int cn_controller_seal_at(const CnRepo *r, const CnController *c, const char magic[CN_MAGIC_BYTES], uint32_t epoch,
                          const void *body, size_t n, CnBuf *out);
/* Open c's object of magic into out: -EPROTONOSUPPORT a version c does
 * not accept, -ENOKEY sealed at an epoch whose key is not held (an erased
 * epoch), -EBADMSG anything else wrong (another controller, processor,
 * kind; authentication). */
int cn_controller_open(const CnRepo *r, const CnController *c, const char magic[CN_MAGIC_BYTES], const uint8_t *p,
                       size_t n, CnEnvelopeHeader *ret_header, CnBuf *out);

/* ---- key epochs (docs/FORMAT.md "Erasure"), version 2 controllers ---- */

/* What became of one key store location: 0 or a negative errno. */
typedef void (*CnKeyStoreStatusFn)(const char *url, int result, void *userdata);
/* The epoch the key store holds a key of above c's current one (an
 * erasure's epoch change under way), or 0. */
uint32_t cn_controller_next_epoch(const CnController *c);
/* Step 6: add the key of the next epoch (unless the key store holds one
 * already: a resumed erasure): key NULL, a new random one for c->epoch + 1;
 * else key for epoch (above c's: a replica following its source's epoch
 * change). Then put the key store at every location. Returns how many
 * locations did not take it (each told to fn), or < 0. */
int cn_repo_epoch_add(CnRepo *r, CnController *c, uint32_t epoch, const uint8_t *key, CnKeyStoreStatusFn fn,
                      void *userdata);
/* Step 8: put controllers/<ctrl> sealed under the next epoch's record key;
 * c moves to that epoch (its keys with it). -ENOKEY no next key held. */
int cn_repo_epoch_switch(CnRepo *r, CnController *c);
/* Step 11: keep only the current epoch's key, at every location (as
 * cn_repo_epoch_add() returns). */
int cn_repo_epoch_drop(CnRepo *r, CnController *c, CnKeyStoreStatusFn fn, void *userdata);
/* Step 12: remove controllers/<ctrl> and then its key store object at
 * every location (as cn_repo_epoch_add() returns); c is freed and
 * leaves r. */
int cn_repo_controller_destroy(CnRepo *r, CnController *c, CnKeyStoreStatusFn fn, void *userdata);

/* Key store locations (docs/FORMAT.md "Key store"): add url to every
 * version 2 controller's key store object and put it at every location
 * (the new one included); remove url from them (the copy there is removed
 * first: -ENOTEMPTY for a controller's last location, other errors when
 * that copy cannot be removed) and put the rest. Both return how many
 * puts failed (each told to fn), or < 0. */
int cn_repo_key_store_add(CnRepo *r, const char *url, CnKeyStoreStatusFn fn, void *userdata);
int cn_repo_key_store_remove(CnRepo *r, const char *url, CnKeyStoreStatusFn fn, void *userdata);

/* Key files. id_hex names keys/<id_hex>. */
typedef struct CnKeyInfo {
        char id_hex[CN_UUID_HEX + 1];
        char *label;
        int64_t created;
        bool current;                   /* the key this session was opened with */
} CnKeyInfo;

/* -ERANGE for kdf outside the caps (CN_KDF_* in format.h); NULL: the defaults. */
int cn_repo_key_add(CnRepo *r, const char *pw, size_t pw_len, const char *label, const CnKdfParams *kdf,
                    char ret_id_hex[CN_UUID_HEX + 1]);
/* Caller frees with cn_key_info_free_array(). */
int cn_repo_key_list(CnRepo *r, CnKeyInfo **ret, size_t *ret_n);
void cn_key_info_free_array(CnKeyInfo *k, size_t n);
/* -EBUSY for the key in use (use passwd to replace it), -ENOENT unknown id.
 * id_hex is the name under keys/: so a key file with any name can go. */
int cn_repo_key_remove(CnRepo *r, const char *id_hex);
/* Replace the current key file with one for a new passphrase. */
int cn_repo_key_passwd(CnRepo *r, const char *pw, size_t pw_len, const CnKdfParams *kdf);

/* ---- decoders of the plaintext parts (pure: no I/O, no keys needed) ----
 * Used by the readers above, and fuzzed on their own (tests/fuzz/). */

/* The plaintext part of a key file (docs/FORMAT.md "Key files"): every check
 * a reader makes before any Argon2 work. label points into p. On failure,
 * *ret_problem says why (kind and numbers; object unset) and < 0 returns:
 * -E2BIG oversized, -EBADMSG malformed, -EPROTONOSUPPORT unknown version or
 * kdf, -ERANGE a cost outside CN_KDF_*. */
typedef struct CnKeyfileHeader {
        uint64_t opslimit, memlimit;
        uint8_t salt[CN_SALT_BYTES];
        int64_t created;
        const uint8_t *label;
        size_t label_len;
        size_t ad_len;                  /* bytes before the nonce */
} CnKeyfileHeader;
int cn_keyfile_parse(const uint8_t *p, size_t n, CnKeyfileHeader *ret, CnRepoProblem *ret_problem);

/* The opened body of config: repo_id[16] processor_name:bytes32
 * processor_pk[32] processor_sk[64] created:i64. *ret_name is malloc'd;
 * ret_sk should be secret memory. -EBADMSG if malformed; nothing is
 * written then. */
int cn_config_body_decode(const uint8_t *p, size_t n, uint8_t ret_repo_id[CN_UUID_BYTES], char **ret_name,
                          uint8_t ret_pk[CN_SIGN_PUBLIC_BYTES], uint8_t ret_sk[CN_SIGN_SECRET_BYTES]);
/* The opened body of controllers/<id> of version (1 or 2) into c: name
 * (malloc'd), created, chunker, format, the domain root into c->root, and
 * for version 1 the epoch and epoch key into c->epoch_key (the caller
 * allocated both: CN_KEY_BYTES of secret memory each). -EBADMSG if
 * malformed or an unknown algorithm; nothing is written then. */
int cn_controller_body_decode(const uint8_t *p, size_t n, uint32_t version, CnController *c);
