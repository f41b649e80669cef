/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Repository format v1: every constant docs/FORMAT.md names, in one place.
 * docs/FORMAT.md is normative; this header must agree with it. */
#pragma once

#include <stdint.h>

#include "crypto.h"

#define CN_FORMAT_VERSION 1

/* Each object carries its own version (FORMAT.md "Conventions"); writers
 * write these, readers accept 1 up to these. Objects not listed here are
 * at CN_FORMAT_VERSION. */
#define CN_SNAPSHOT_VERSION 2           /* 2: named by the SHA-256 of the stored object */
#define CN_DAMAGE_VERSION 1
#define CN_CERTIFICATE_VERSION 1         /* certificates/<id>: stays 1 whatever the format version */

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
#define CN_MAGIC_CERTIFICATE "CAIRNCRT"
#define CN_MAGIC_PACK "CAIRNPAK"
#define CN_MAGIC_PACK_HEADER "CAIRNPKH"
#define CN_MAGIC_PACK_TRAILER "CNPKEND1"
#define CN_MAGIC_TREE "CAIRNTRE"
#define CN_MAGIC_TREE_LIST "CAIRNTRL"
#define CN_CHUNK_AD_DOMAIN "cairn.chunk.v1\0\0"        /* 16 bytes */

/* KDF contexts (exactly 8 bytes) and subkey ids. */
#define CN_KDF_CTX_MASTER "cnmaster"
#define CN_SUBKEY_CONFIG 1              /* seals config and certificates */
#define CN_SUBKEY_CONTROLLER_WRAP 2     /* seals controllers/<id> */
#define CN_KDF_CTX_DOMAIN "cndomain"
#define CN_SUBKEY_CHUNK_ID 1            /* HMAC key of chunk ids */
#define CN_SUBKEY_CHUNKER 2             /* gear table seed */
#define CN_SUBKEY_METADATA 3            /* seals pack headers, index, snapshots, damage records, holds, sessions, plans */
#define CN_SUBKEY_PSEUDONYM 4           /* audit-log pseudonyms (reserved) */
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
};

/* Per-object versions (docs/FORMAT.md "Trees"): writers write these,
 * readers of trees accept 1 and 2. */
#define CN_TREE_VERSION 2
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
