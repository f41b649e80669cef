/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The pure part of the WebDAV backend: reading a PROPFIND answer. No I/O,
 * so that it is tested and fuzzed without a server. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bigger answers are refused before parsing (the backend caps its buffer
 * lower, at LIST_RESPONSE_MAX). */
#define CN_WEBDAV_PROPFIND_MAX (64u << 20)

/* One <D:response>, everything borrowed for the call. */
typedef struct CnWebdavEntry {
        const char *path;       /* the href's path (a full URL's path part), percent-decoded */
        bool collection;        /* a 200 propstat has <D:resourcetype><D:collection/> */
        bool has_size;          /* ... and a <D:getcontentlength> */
        uint64_t size;
        int64_t mtime;          /* <D:getlastmodified>, -1 if absent or unparsable */
} CnWebdavEntry;

typedef int (*CnWebdavEntryFn)(const CnWebdavEntry *e, void *userdata);

/* Read a DAV:multistatus answer, one <D:response> subtree in memory at a
 * time, calling fn with each; what (a collection's name) goes into error
 * messages (cn_backend_set_error()). -EPROTO for anything malformed: not a
 * multistatus, bad XML, a response without href, a href that does not
 * percent-decode, a getcontentlength that is not a number. The first
 * negative return of fn ends the parse and is returned. */
int cn_webdav_propfind_parse(const void *xml, size_t n, const char *what, CnWebdavEntryFn fn, void *userdata);
