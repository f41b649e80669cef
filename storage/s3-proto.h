/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The pure parts of the S3 protocol (also spoken by Cloud Storage's XML
 * API): no I/O, no libcurl, so each is a unit test away from its spec.
 *
 *   - SigV4's canonical query string, which libcurl 7.88 signs as written;
 *   - the bounded INI reader for ~/.aws/credentials;
 *   - bucket names and addressing;
 *   - the XML documents: ListBucketResult (v1 and v2), Error,
 *     InitiateMultipartUploadResult, and the CompleteMultipartUpload body.
 *
 * Every parser is bounded: inputs over CN_S3_XML_MAX bytes, with a DOCTYPE,
 * or not of the expected shape fail with -EPROTO and touch no output. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define CN_S3_XML_MAX (8u << 20)    /* a 1000-key listing is ~300 KiB */
#define CN_S3_KEY_MAX 1024          /* S3's own limit on key length */
#define CN_S3_LIST_MAX_ENTRIES 1000 /* S3's page size cap */
#define CN_S3_CREDENTIALS_FILE_MAX (1u << 20)
#define CN_S3_SHA256_HEX_BYTES 65 /* 64 hex digits and a NUL */

/* One query parameter; value NULL is a valueless one ("uploads"). */
typedef struct CnS3Param {
        const char *name;
        const char *value;
} CnS3Param;

/* The canonical query string: parameters sorted by encoded name (then
 * value), names and values percent-encoded as SigV4 wants (RFC 3986,
 * upper-case hex, '/' encoded too: cn_remote_encode()), valueless ones
 * written "name=", joined by '&'. *ret is malloc'd, "" for n == 0. */
int cn_s3_query_build(const CnS3Param *params, size_t n, char **ret);

/* Hex SHA-256 of p[0..n) into out. */
void cn_s3_sha256_hex(const void *p, size_t n, char out[CN_S3_SHA256_HEX_BYTES]);

/* Credentials: key id, secret and optional session token, each malloc'd;
 * cn_s3_creds_done() wipes and frees them. */
typedef struct CnS3Creds {
        char *key_id;
        char *secret;
        char *token; /* NULL: none */
} CnS3Creds;
void cn_s3_creds_done(CnS3Creds *c);

/* Read profile's aws_access_key_id, aws_secret_access_key and
 * aws_session_token from the text of an AWS shared credentials file
 * ("[name]" sections, "key = value" lines, '#'/';' comments).
 * -ENOENT: no such profile; -ENOKEY: the profile lacks the key id or the
 * secret; -EPROTO: over CN_S3_CREDENTIALS_FILE_MAX or a line over 4 KiB. */
int cn_s3_credentials_parse(const char *text, size_t n, const char *profile, CnS3Creds *ret);

/* Bucket names the way S3 accepts them in a path (3..255 of
 * [A-Za-z0-9._-]), and whether one can be a DNS label for virtual-host
 * addressing (3..63 of [a-z0-9-], starting and ending alphanumeric; no
 * dots, which break TLS wildcard certificates). */
bool cn_s3_bucket_valid(const char *bucket);
bool cn_s3_bucket_dns_ok(const char *bucket);

/* Whether requests name the bucket in the host (virtual-host style) or in
 * the path. setting is CAIRN_S3_ADDRESSING: NULL picks virtual-host style
 * for AWS's own endpoint (custom_endpoint false) and buckets that are DNS
 * labels, path style otherwise; "path" or "virtual" force one. -EINVAL for
 * another setting, -EDOM for "virtual" with a bucket no host name can hold. */
int cn_s3_virtual_host(const char *setting, bool custom_endpoint, const char *bucket, bool *ret);

/* The URL of bucket up to the key (no trailing '/'):
 * "SCHEME://bucket.HOST" or "SCHEME://HOST/bucket". endpoint is
 * "http(s)://host[:port]" (one trailing '/' allowed, nothing else after the
 * host), or NULL for https://default_host. -EINVAL: a malformed endpoint. */
int cn_s3_base_url(const char *endpoint, const char *default_host, const char *bucket, bool virtual_host, char **ret);

/* One page of a listing. Keys are the full object keys (prefix
 * included), malloc'd; cn_s3_list_page_done() frees them. */
typedef struct CnS3ListEntry {
        char *key;
        uint64_t size;
} CnS3ListEntry;

typedef struct CnS3ListPage {
        CnS3ListEntry *entries;
        size_t n;
        bool truncated;
        bool v2;    /* the answer had KeyCount or a continuation token */
        char *next; /* v2: NextContinuationToken; v1: NextMarker or last key */
} CnS3ListPage;
void cn_s3_list_page_done(CnS3ListPage *p);

/* Parse a ListBucketResult (v1 or v2). -EPROTO if malformed, over the
 * limits, or truncated without a way to continue. */
int cn_s3_list_parse(const void *xml, size_t n, CnS3ListPage *ret);

/* Error documents: "<Error><Code>NoSuchBucket</Code><Message>..." into
 * code and message (truncated to fit, NUL-terminated). -EPROTO if xml is
 * not an Error document. */
int cn_s3_error_parse(const void *xml, size_t n, char *code, size_t code_size, char *message, size_t message_size);

/* The UploadId of an InitiateMultipartUploadResult, malloc'd. */
int cn_s3_initiate_parse(const void *xml, size_t n, char **ret_upload_id);

/* The CompleteMultipartUpload body for parts 1..n with these ETags,
 * appended to out. */
int cn_s3_complete_body(char *const *etags, size_t n, CnBuf *out);
