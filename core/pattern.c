/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "pattern.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

int cn_patterns_add(CnPatterns *p, const char *pattern) {
        size_t n = strlen(pattern);
        while (n > 1 && pattern[n - 1] == '/')
                n--;    /* "dir/" means dir */
        if (n == 0)
                return -EINVAL;
        char **v = realloc(p->v, (p->n + 1) * sizeof *v);
        if (!v)
                return -ENOMEM;
        p->v = v;
        v[p->n] = strndup(pattern, n);
        if (!v[p->n])
                return -ENOMEM;
        p->n++;
        return 0;
}

int cn_patterns_add_literal(CnPatterns *p, const char *path) {
        _cleanup_free_ char *e = malloc(2 * strlen(path) + 1);
        size_t n = 0;
        if (!e)
                return -ENOMEM;
        for (const char *s = path; *s; s++) {
                if (strchr("*?[]\\", *s))
                        e[n++] = '\\';
                e[n++] = *s;
        }
        e[n] = 0;
        return cn_patterns_add(p, e);
}

int cn_patterns_add_file(CnPatterns *p, const char *path, size_t *ret_line) {
        FILE *f = fopen(path, "re");
        char line[8192];
        size_t no = 0;
        int r = 0;

        if (!f)
                return -errno;
        while (fgets(line, sizeof line, f)) {
                size_t n = strlen(line);
                no++;
                if (n == sizeof line - 1 && line[n - 1] != '\n') {
                        *ret_line = no;
                        r = -EINVAL;
                        break;
                }
                while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                        line[--n] = 0;
                if (n == 0 || line[0] == '#')
                        continue;
                r = cn_patterns_add(p, line);
                if (r < 0) {
                        *ret_line = no;
                        break;
                }
        }
        fclose(f);
        return r;
}

void cn_patterns_done(CnPatterns *p) {
        for (size_t i = 0; i < p->n; i++)
                free(p->v[i]);
        free(p->v);
        *p = (CnPatterns) {};
}

/* Match pattern components against path components, "**" spanning any number. */
static bool match_components(const char *pat, const char *path) {
        if (*pat == 0)
                return *path == 0;
        const char *pe = strchr(pat, '/');
        size_t plen = pe ? (size_t) (pe - pat) : strlen(pat);
        const char *pnext = pe ? pe + 1 : pat + plen;

        if (plen == 2 && pat[0] == '*' && pat[1] == '*') {
                for (const char *q = path;; q++) {
                        if ((q == path || q[-1] == '/') && match_components(pnext, q))
                                return true;
                        if (*q == 0)
                                return false;
                }
        }
        if (*path == 0)
                return false;
        const char *se = strchr(path, '/');
        size_t slen = se ? (size_t) (se - path) : strlen(path);
        char pc[4096], sc[4096];
        if (plen >= sizeof pc || slen >= sizeof sc)
                return false;
        memcpy(pc, pat, plen);
        pc[plen] = 0;
        memcpy(sc, path, slen);
        sc[slen] = 0;
        if (fnmatch(pc, sc, 0) != 0)
                return false;
        if (!pe)
                return se == NULL;
        return match_components(pnext, se ? se + 1 : path + slen);
}

static bool match_one(const char *pat, const char *path) {
        if (pat[0] == '/')
                return match_components(pat + 1, path[0] == '/' ? path + 1 : path);
        /* Try every component boundary as the start. */
        for (const char *q = path; *q; q++)
                if ((q == path || q[-1] == '/') && *q != '/' && match_components(pat, q))
                        return true;
        return false;
}

bool cn_patterns_match(const CnPatterns *p, const char *path) {
        for (size_t i = 0; i < p->n; i++)
                if (match_one(p->v[i], path))
                        return true;
        return false;
}
