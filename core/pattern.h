/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Exclude and include patterns (docs/cli/backup.md "Patterns").
 *
 * A pattern without '/' matches the last path component ("*.tmp").
 * A pattern starting with '/' matches the whole absolute path ("/var/cache").
 * Any other pattern matches a trailing run of whole components ("src/build").
 * '*' and '?' never match '/'; "**" as a whole component matches any number
 * of components. A directory that matches stands for everything below it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct CnPatterns {
        char **v;
        size_t n;
} CnPatterns;

int cn_patterns_add(CnPatterns *p, const char *pattern);
/* A pattern that matches exactly this absolute path, whatever characters it holds. */
int cn_patterns_add_literal(CnPatterns *p, const char *path);
/* One pattern a line; blank lines and lines starting with '#' are skipped.
 * -EINVAL with ret_line set for a line that is too long. */
int cn_patterns_add_file(CnPatterns *p, const char *path, size_t *ret_line);
void cn_patterns_done(CnPatterns *p);

/* path is absolute ("/etc/hosts"), len bytes (may hold any byte but NUL). */
bool cn_patterns_match(const CnPatterns *p, const char *path);
