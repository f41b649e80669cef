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
#include "chunker.h"
#include "crypto.h"
#include "format.h"

typedef struct CnRepo CnRepo;

typedef struct CnController {
        uint8_t id[CN_UUID_BYTES];
        char id_hex[CN_UUID_HEX + 1];
        char *name;
        int64_t created;
        CnChunkerParams chunker;
        uint32_t epoch;
        /* All cn_secret_new() memory, CN_KEY_BYTES each. */
        uint8_t *root;          /* domain root: everything below derives from it */
        uint8_t *id_key;        /* HMAC key of chunk ids */
        uint8_t *chunker_key;
        uint8_t *meta_key;      /* pack headers, index files, snapshots */
        uint8_t *epoch_key;     /* the key ledger of the current epoch */
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
} CnRepoInitOptions;

/* Create a repository in an empty location. -EEXIST if a config is there. */
int cn_repo_init(CnBackend *b, const char *pw, size_t pw_len, const CnRepoInitOptions *o, CnRepo **ret);
/* -ENOENT no repository here (no config), -EPROTONOSUPPORT unknown format
 * version, -EKEYREJECTED no key file opens with this passphrase,
 * -EBADMSG a damaged config or controller record. */
int cn_repo_open(CnBackend *b, const char *pw, size_t pw_len, CnRepo **ret);
CnRepo *cn_repo_unref(CnRepo *r);
static inline void cn_repo_unrefp(CnRepo **r) {
        cn_repo_unref(*r);
}

CnBackend *cn_repo_backend(CnRepo *r);
const uint8_t *cn_repo_id(const CnRepo *r);
const uint8_t *cn_repo_processor_id(const CnRepo *r);
const char *cn_repo_processor_name(const CnRepo *r);
const uint8_t *cn_repo_processor_public_key(const CnRepo *r);

size_t cn_repo_n_controllers(const CnRepo *r);
CnController *cn_repo_controller(CnRepo *r, size_t i);
/* By name, or by id hex (a unique prefix of at least 4 digits); NULL if none. */
CnController *cn_repo_find_controller(CnRepo *r, const char *name_or_id);

/* A new data controller with its own random domain root: its chunks, ids
 * and chunk boundaries share nothing with any other controller's.
 * -EEXIST if the name is taken. params NULL: the defaults. */
int cn_repo_controller_add(CnRepo *r, const char *name, const CnChunkerParams *params, CnController **ret);

/* Key files. id_hex names keys/<id_hex>. */
typedef struct CnKeyInfo {
        char id_hex[CN_UUID_HEX + 1];
        char *label;
        int64_t created;
        bool current;                   /* the key this session was opened with */
} CnKeyInfo;

int cn_repo_key_add(CnRepo *r, const char *pw, size_t pw_len, const char *label, const CnKdfParams *kdf,
                    char ret_id_hex[CN_UUID_HEX + 1]);
/* Caller frees with cn_key_info_free_array(). */
int cn_repo_key_list(CnRepo *r, CnKeyInfo **ret, size_t *ret_n);
void cn_key_info_free_array(CnKeyInfo *k, size_t n);
/* -EBUSY for the key in use (use passwd to replace it), -ENOENT unknown id. */
int cn_repo_key_remove(CnRepo *r, const char *id_hex);
/* Replace the current key file with one for a new passphrase. */
int cn_repo_key_passwd(CnRepo *r, const char *pw, size_t pw_len, const CnKdfParams *kdf);
