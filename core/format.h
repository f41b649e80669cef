/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Repository format v2 (v1 still read): every constant docs/FORMAT.md names, in one place.
 * docs/FORMAT.md is normative; this header must agree with it. */
#pragma once

#include <stdint.h>

#include "crypto.h"

#define CN_FORMAT_VERSION 1

/* Each object carries its own version (FORMAT.md "Conventions", the
 * envelope table): the newest one of each kind, which version 2
 * controllers write; version 1 controllers write the older ones
 * (cn_controller_object_version()). Objects not listed are at 1. */
#define CN_CONTROLLER_VERSION 2         /* 2: sealed under the epoch's record key, from the key store */
#define CN_INDEX_VERSION 2              /* 2: sealed under the pack's own key */
#define CN_LEDGER_VERSION 2             /* 2: content-named, several packs, pack keys */
#define CN_SNAPSHOT_VERSION 3           /* 3: epoch metadata key, keyed id; 2: named by its SHA-256 */
#define CN_DAMAGE_VERSION 2             /* 2: epoch metadata key */
#define CN_PLAN_VERSION 2               /* 2: epoch metadata key */
#define CN_PACK_VERSION 2               /* 2: header under the pack's own key */
#define CN_CERTIFICATE_VERSION 1        /* certificates/<id> */

#define CN_MAGIC_BYTES 8
#define CN_MAGIC_KEYFILE "CAIRNKEY"
#define CN_MAGIC_CONFIG "CAIRNCFG"
#define CN_MAGIC_CONTROLLER "CAIRNCTL"
#define CN_MAGIC_INDEX "CAIRNIDX"
#define CN_MAGIC_LEDGER "CAIRNLDG"
#define CN_MAGIC_SNAPSHOT "CAIRNSNP"
#define CN_MAGIC_DAMAGE "CAIRNDMG"
#define CN_MAGIC_HOLD "CAIRNHLD"
#define CN_MAGIC_HOLD_RELEASE "CAIRNHRL"
#define CN_MAGIC_SESSION "CAIRNWRT"
#define CN_MAGIC_PLAN "CAIRNPLN"
#define CN_MAGIC_KEYSTORE "CAIRNKST"
#define CN_MAGIC_ERASURE "CAIRNERQ"
#define CN_MAGIC_CERTIFICATE "CAIRNCRT"
#define CN_MAGIC_AUDIT "CAIRNAUD"
#define CN_MAGIC_LOCATION "CAIRNLOC"            /* locations/<id>: where the repository lives */
#define CN_MAGIC_LOCATION_REMOVAL "CAIRNLRM"    /* locations/<id>: the removal of one */
#define CN_MAGIC_GRANT "CAIRNGRT"               /* grants/<ctrl>/<id>: a location ctrl authorised */
#define CN_MAGIC_GRANT_REVOKE "CAIRNGRV"        /* grants/<ctrl>/<id>: the revocation of a grant */
#define CN_MAGIC_RETENTION "CAIRNRET"
#define CN_MAGIC_REQUEST "CAIRNRQS"
#define CN_MAGIC_REQUEST_CLOSING "CAIRNRQC"
#define CN_MAGIC_PACK "CAIRNPAK"
#define CN_MAGIC_PACK_HEADER "CAIRNPKH"
#define CN_MAGIC_PACK_TRAILER "CNPKEND1"
#define CN_MAGIC_TREE "CAIRNTRE"
#define CN_MAGIC_TREE_LIST "CAIRNTRL"
#define CN_CHUNK_AD_DOMAIN "cairn.chunk.v1\0\0"        /* 16 bytes */
#define CN_SNAPSHOT_ID_DOMAIN "cairn.snapshot.v3"      /* 17 bytes, no NUL: v3 snapshot ids */

/* KDF contexts (exactly 8 bytes) and subkey ids. */
#define CN_KDF_CTX_MASTER "cnmaster"
#define CN_SUBKEY_CONFIG 1              /* seals config */
#define CN_SUBKEY_CONTROLLER_WRAP 2     /* seals controllers/<id> of version 1 */
#define CN_SUBKEY_KEYSTORE 3            /* seals key store objects */
#define CN_SUBKEY_AUDIT 4               /* seals audit/<ctrl>/<seq> */
#define CN_KDF_CTX_EPOCH "cnepoch_"
#define CN_SUBKEY_RECORD 1              /* seals controllers/<id> of version 2 */
#define CN_SUBKEY_LEDGER 2              /* seals ledgers of version 2 */
#define CN_SUBKEY_EPOCH_METADATA 3      /* seals snapshots v3, damage records and plans v2, erasure requests */
#define CN_KDF_CTX_DOMAIN "cndomain"
#define CN_SUBKEY_CHUNK_ID 1            /* HMAC key of chunk ids */
#define CN_SUBKEY_CHUNKER 2             /* gear table seed */
#define CN_SUBKEY_METADATA 3            /* seals holds, sessions; v1: pack headers, index, snapshots, damage, plans */
#define CN_SUBKEY_PSEUDONYM 4           /* audit-log and certificate pseudonyms */
#define CN_KDF_CTX_GEAR "cngeartb"      /* chunker key -> gear table, subkeys 0..31 */

/* Blob types in packs. */
enum {
        CN_BLOB_DATA = 1,
        CN_BLOB_TREE = 2,
};
/* Blob flags. */
enum {
        CN_BLOB_ZSTD = 1u << 0,
};
/* Snapshot flags. */
enum {
        CN_SNAPSHOT_PARTIAL = 1u << 0,  /* some entries could not be read */
        CN_SNAPSHOT_REWRITTEN = 1u << 1, /* an erasure removed entries */
};

/* Per-object versions (docs/FORMAT.md "Trees"): readers of trees accept 1
 * to 3; writers write a plain tree as 3 when one of its entries has a data
 * subject, else as 2 (so trees without subjects keep their ids). */
#define CN_TREE_VERSION 3
#define CN_TREE_VERSION_NO_SUBJECTS 2
#define CN_TREE_VERSION_MIN 1
#define CN_TREE_LIST_VERSION 1

/* Inode flags a v2 tree entry keeps (FS_IOC_GETFLAGS bits, docs/FORMAT.md
 * "Trees"): s u c S i a d A m j t D T C x P. Other bits are reserved. */
#define CN_FSFLAGS_KEEP 0x2283c4ffu
/* The two that need CAP_LINUX_IMMUTABLE to set (restored as root only). */
#define CN_FSFLAGS_PRIVILEGED 0x00000030u
#define CN_FSFLAG_NODUMP 0x00000040u

/* Hard caps every reader enforces (docs/FORMAT.md "Limits"). */
#define CN_MAX_CHUNK_BYTES (64u << 20)          /* raw data chunk */
#define CN_MAX_TREE_BYTES (256u << 20)          /* raw tree blob (plain tree or tree list) */
#define CN_MAX_TREE_ENTRIES (16u << 20)         /* entries of one plain tree */
#define CN_MAX_TREE_LEAVES (1u << 20)           /* ids in one tree list */
#define CN_MAX_DIR_ENTRIES (16u << 20)          /* entries of one directory, all leaves together */
#define CN_MAX_PACK_BYTES (1u << 30)
#define CN_MAX_PACK_ENTRIES (1u << 20)
#define CN_MAX_META_BYTES (256u << 20)          /* config, controller, index, ledger, snapshot, damage */
#define CN_MAX_KEYFILE_BYTES 4096
/* Argon2id cost a key file may ask for (FORMAT.md "Key files"): a reader skips
 * key files outside these before deriving anything, writers refuse them. */
#define CN_KDF_OPSLIMIT_MIN 1
#define CN_KDF_OPSLIMIT_MAX 16
#define CN_KDF_MEMLIMIT_MIN (8u << 10)
#define CN_KDF_MEMLIMIT_MAX (1ull << 30)
#define CN_MAX_NAME_BYTES 4096
#define CN_MAX_PATH_BYTES (16u * CN_MAX_NAME_BYTES) /* a path a snapshot records: backed up, or in error */
#define CN_MAX_TARGET_BYTES 65536
#define CN_MAX_XATTR_NAME_BYTES 255
#define CN_MAX_XATTR_VALUE_BYTES 65536
#define CN_MAX_XATTRS 65536
#define CN_MAX_LABEL_BYTES 1024
#define CN_MAX_KEYSTORE_BYTES (64u << 10)
#define CN_KEYSTORE_MAX_LOCATIONS 16
#define CN_KEYSTORE_MAX_KEYS 4
#define CN_MAX_LEDGER_PACKS 65536
#define CN_MAX_SUBJECTS 64                      /* data subjects of one tree entry (v3) */
#define CN_MAX_SUBJECT_BYTES 256                /* one data subject */

/* Where writers cut a large directory into leaves (docs/FORMAT.md "Large
 * directories"): after an entry once the leaf holds CN_TREE_LEAF_MIN bytes
 * and the entry's cut hash has its low CN_TREE_CUT_BITS bits zero; always at
 * CN_TREE_LEAF_MAX bytes or CN_TREE_LEAF_MAX_ENTRIES entries. */
#define CN_TREE_LEAF_MIN (1u << 20)
#define CN_TREE_LEAF_MAX (8u << 20)
#define CN_TREE_LEAF_MAX_ENTRIES (1u << 16)
#define CN_TREE_CUT_BITS 4
#define CN_TREE_CUT_DOMAIN "cairn.treecut.v1"  /* 16 bytes, before the name in the cut hash */

/* Pack target size for writers (readers accept up to CN_MAX_PACK_BYTES). */
#define CN_PACK_TARGET_BYTES (16u << 20)

/* Hex lengths of names. */
#define CN_UUID_HEX (2 * CN_UUID_BYTES)
#define CN_ID_HEX (2 * CN_ID_BYTES)
