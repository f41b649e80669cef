/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Exclude and include patterns (docs/cli/backup.md "Patterns").
 *
 * A pattern without '/' matches the last path component ("*.tmp").
 * A pattern starting with '/' matches the whole absolute path ("/var/cache").
 * Any other pattern matches a trailing run of whole components ("src/build").
 * '*', '?' and "[...]" never match '/'; "**" as a whole component matches any
 * number of components. A trailing '/' is ignored ("build/" is "build").
 * A directory that matches stands for everything below it (the caller's
 * rule). Within a component the syntax and meaning are fnmatch(3)'s without
 * flags in the C locale (bytes, '\' escapes, "[!...]" or "[^...]", ranges by
 * byte value, "[:class:]" of ASCII, an unclosed '[' is a literal '[').
 *
 * Patterns are compiled when added; matching one path costs at most a
 * constant times (pattern length) x (path length) steps, whatever the
 * pattern: no backtracking beyond the last '*' or "**". */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct CnPattern CnPattern;

typedef struct CnPatterns {
        CnPattern **v;
        size_t n;
} CnPatterns;

/* -EINVAL for an empty pattern, -ENOMEM. */
int cn_patterns_add(CnPatterns *p, const char *pattern);
/* A pattern that matches exactly this absolute path, whatever characters it holds. */
int cn_patterns_add_literal(CnPatterns *p, const char *path);
/* One pattern a line; blank lines and lines starting with '#' are skipped.
 * -EINVAL with ret_line set for a line that is too long. */
int cn_patterns_add_file(CnPatterns *p, const char *path, size_t *ret_line);
void cn_patterns_done(CnPatterns *p);

/* path is absolute ("/etc/hosts", "/" for the root), NUL-terminated. */
bool cn_patterns_match(const CnPatterns *p, const char *path);
/* The same, adding the matcher's elementary steps to *steps (for tests that
 * prove the cost is linear). */
bool cn_patterns_match_counted(const CnPatterns *p, const char *path, uint64_t *steps);
/* The same for the len bytes at path (a prefix of a longer path, say). */
bool cn_patterns_match_len(const CnPatterns *p, const char *path, size_t len);
