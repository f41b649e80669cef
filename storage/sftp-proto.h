/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The pure parts of the SFTP backend: no I/O, no libcurl, so that they are
 * tested and fuzzed without a server. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CN_SFTP_LISTING_LINE_MAX 8192u

/* One entry of a long listing. */
typedef struct CnSftpListEntry {
        char type;        /* '-' file, 'd' directory, else other */
        uint64_t size;
        int64_t mtime;    /* seconds, read as UTC; -1 if the fields do not parse or say before 1970 */
        const char *name; /* into the line, not terminated */
        size_t name_len;
} CnSftpListEntry;

/* One line of a long listing as OpenSSH's sftp-server writes it (ls -l):
 *   "-rw-r--r--    1 user     group        1234 Nov 29 16:38 name"
 *   "drwx------    2 user     group        4096 May 20  2024 name"
 * eight blank-separated fields, one blank, then the name to the end of the
 * line. A date without a year is the latest such date not more than two
 * days after now. -EPROTO if the line does not have that shape or is over
 * CN_SFTP_LISTING_LINE_MAX bytes. */
int cn_sftp_list_line_parse(const char *line, size_t n, time_t now, CnSftpListEntry *ret);
