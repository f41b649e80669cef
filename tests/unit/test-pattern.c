/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Exclude/include patterns (core/pattern.c): the documented meaning of every
 * construct, agreement with the matcher cairn had before (fnmatch(3) per
 * component, kept here as the reference) on small random cases, and work
 * that stays linear in the path on deep paths (issue 8, item 14). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "pattern.h"

/* ---- the matcher before issue 8 (exponential in "**", fnmatch per component) ---- */

static bool old_components(const char *pat, const char *path) {
        if (*pat == 0)
                return *path == 0;
        const char *pe = strchr(pat, '/');
        size_t plen = pe ? (size_t) (pe - pat) : strlen(pat);
        const char *pnext = pe ? pe + 1 : pat + plen;

        if (plen == 2 && pat[0] == '*' && pat[1] == '*') {
                for (const char *q = path;; q++) {
                        if ((q == path || q[-1] == '/') && old_components(pnext, q))
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
        return old_components(pnext, se ? se + 1 : path + slen);
}

/* pattern as cn_patterns_add() keeps it (trailing '/' removed). */
static bool old_match(const char *pattern, const char *path) {
        char pat[256];
        size_t n = strlen(pattern);
        while (n > 1 && pattern[n - 1] == '/')
                n--;
        cr_assert_lt(n, sizeof pat);
        memcpy(pat, pattern, n);
        pat[n] = 0;
        if (pat[0] == '/')
                return old_components(pat + 1, path[0] == '/' ? path + 1 : path);
        for (const char *q = path; *q; q++)
                if ((q == path || q[-1] == '/') && *q != '/' && old_components(pat, q))
                        return true;
        return false;
}

static bool new_match(const char *pattern, const char *path) {
        CnPatterns p = {};
        cr_assert_eq(cn_patterns_add(&p, pattern), 0, "add '%s'", pattern);
        bool m = cn_patterns_match(&p, path);
        cn_patterns_done(&p);
        return m;
}

/* ---- the documented meaning, case by case ---- */

typedef struct Case {
        const char *pattern, *path;
        bool match;
        bool as_before; /* false: the old matcher got this wrong (a trailing "**" took no component) */
} Case;

static const Case cases[] = {
        /* no '/': the last component */
        {"*.tmp", "/home/a/x.tmp", true, true},
        {"*.tmp", "/home/a/x.tmpl", false, true},
        {"*.tmp", "/x.tmp/y", false, true},
        {"x", "/a/x", true, true},
        {"x", "/x/a", false, true},
        {"*", "/a/b", true, true},
        {"*", "/", false, true},
        /* '*' and '?' never match '/'; they match a leading '.' */
        {"a*b", "/a/x/b", false, true},
        {"/a*", "/abc", true, true},
        {"/a*", "/ab/c", false, true},
        {"*", "/a/.hidden", true, true},
        {"?x", "/.x", true, true},
        {"?", "/ab", false, true},
        {"a*b*c", "/aXbYbZc", true, true},
        {"a*b*c", "/aXbYbZ", false, true},
        /* bracket expressions, byte-wise as fnmatch in the C locale */
        {"[ab]", "/a", true, true},
        {"[ab]", "/c", false, true},
        {"[!ab]", "/c", true, true},
        {"[!ab]", "/a", false, true},
        {"[^ab]", "/c", true, true},
        {"[a-c]", "/b", true, true},
        {"[a-c]", "/d", false, true},
        {"[z-a]", "/b", false, true},
        {"[]]", "/]", true, true},
        {"[!]]", "/a", true, true},
        {"[a-]", "/-", true, true},
        {"[\\]]", "/]", true, true},
        {"[[:digit:]]x", "/7x", true, true},
        {"[[:digit:]]x", "/ax", false, true},
        {"[[:alpha:]]", "/\xe9", false, true},
        {"[\xe0-\xff]", "/\xe9", true, true},
        {"[[:foo:]]", "/f", false, true},
        {"[[.a.]]", "/a", true, true},
        {"[[=a=]]", "/a", true, true},
        {"[ab", "/[ab", true, true}, /* unclosed: '[' is literal */
        {"[ab", "/a", false, true},
        {"a[/]b", "/a[/]b", true, true}, /* '/' splits first: "a[" and "]b" */
        {"a[/]b", "/a/b", false, true},
        /* backslash escapes */
        {"\\*", "/*", true, true},
        {"\\*", "/a", false, true},
        {"\\[a]", "/[a]", true, true},
        {"a\\", "/a\\", false, true}, /* a trailing '\' matches nothing */
        /* a leading '/' anchors at the root */
        {"/var/cache", "/var/cache", true, true},
        {"/var/cache", "/srv/var/cache", false, true},
        {"/var", "/var/cache", false, true},
        {"/", "/", true, true},
        {"/", "/a", false, true},
        /* otherwise a trailing run of whole components */
        {"build/out", "/src/build/out", true, true},
        {"build/out", "/build/out", true, true},
        {"build/out", "/src/xbuild/out", false, true},
        {"build/out", "/build/out/x", false, true},
        {"b*/o?t", "/src/build/out", true, true},
        /* "**": any number of components */
        {"/srv/**/secret", "/srv/secret", true, true},
        {"/srv/**/secret", "/srv/a/b/secret", true, true},
        {"/srv/**/secret", "/srv/a/b/secrets", false, true},
        {"**/d/**/x", "/d/x", true, true},
        {"**/d/**/x", "/a/d/b/c/x", true, true},
        {"**/d/**/x", "/a/x/d", false, true},
        {"a/**/b/**/c", "/a/b/c", true, true},
        {"a/**/b/**/c", "/a/c/b/c", true, true},
        {"/**/a/**", "/a", true, true},
        {"a**b", "/axxb", true, true}, /* inside a component, "**" is '*' */
        {"a**b", "/ax/xb", false, true},
        {"**/x/**", "/a/x", true, true},
        /* a trailing "**" takes components too (it took none before) */
        {"/x/**", "/x", true, true},
        {"/x/**", "/x/y", true, false},
        {"**/x/**", "/a/x/y/z", true, false},
        {"**", "/a", true, false},
        {"/**", "/a/b", true, false},
        {"/**", "/", true, true},
        {"**", "/", false, true},
        /* a trailing '/' is ignored */
        {"build/", "/a/build", true, true},
        {"/var/cache/", "/var/cache", true, true},
        {"build//", "/build", true, true},
        /* an empty component matches no component */
        {"a//b", "/a/b", false, true},
};

/* One test over the table: Criterion's parameters cannot carry string pointers. */
Test(pattern, documented_meaning) {
        for (size_t i = 0; i < CN_ELEMENTSOF(cases); i++) {
                const Case *c = &cases[i];
                cr_expect_eq(new_match(c->pattern, c->path), c->match, "pattern '%s' on '%s': want %d", c->pattern,
                             c->path, c->match);
                if (c->as_before)
                        cr_expect_eq(old_match(c->pattern, c->path), c->match, "old matcher: '%s' on '%s'", c->pattern,
                                     c->path);
        }
}

Test(pattern, empty_pattern_is_refused) {
        CnPatterns p = {};
        cr_assert_eq(cn_patterns_add(&p, ""), -EINVAL);
        cr_assert_eq(p.n, 0);
        cn_patterns_done(&p);
}

Test(pattern, a_set_matches_when_any_pattern_does) {
        CnPatterns p = {};
        cr_assert_eq(cn_patterns_add(&p, "*.tmp"), 0);
        cr_assert_eq(cn_patterns_add(&p, "/var/cache"), 0);
        cr_assert_eq(cn_patterns_add(&p, "build/out"), 0);
        cr_assert(cn_patterns_match(&p, "/home/a/x.tmp"));
        cr_assert(cn_patterns_match(&p, "/var/cache"));
        cr_assert(cn_patterns_match(&p, "/src/build/out"));
        cr_assert_not(cn_patterns_match(&p, "/srv/var/cache"));
        cn_patterns_done(&p);
}

Test(pattern, literal_matches_only_itself) {
        CnPatterns p = {};
        cr_assert_eq(cn_patterns_add_literal(&p, "/srv/repo[1]/*?\\x"), 0);
        cr_assert(cn_patterns_match(&p, "/srv/repo[1]/*?\\x"));
        cr_assert_not(cn_patterns_match(&p, "/srv/repo1/ab\\x"));
        cr_assert_not(cn_patterns_match(&p, "/srv/repo[1]/ab\\x"));
        cn_patterns_done(&p);
}

/* ---- agreement with the old matcher on random small cases ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static unsigned rnd(unsigned n) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return (unsigned) (rng_state % n);
}

/* What the documented "**" gives for a pattern that ends in "**" (after
 * removing trailing '/'): Q/"**" matches a path iff Q matches the path or one
 * of its ancestors, as the old matcher reads Q. */
static bool reference(const char *pattern, const char *path) {
        char q[256];
        size_t n = strlen(pattern);
        while (n > 1 && pattern[n - 1] == '/')
                n--;
        memcpy(q, pattern, n);
        q[n] = 0;
        bool trailing = n >= 2 && q[n - 1] == '*' && q[n - 2] == '*' && (n == 2 || q[n - 3] == '/');
        if (!trailing || strstr(q, "//"))
                return old_match(pattern, path);
        while (n >= 2 && q[n - 1] == '*' && q[n - 2] == '*' && (n == 2 || q[n - 3] == '/')) {
                n -= 2;
                if (n > 1 && q[n - 1] == '/')
                        n--;
                q[n] = 0;
        }
        if (n == 0 || strcmp(q, "/") == 0)
                return pattern[0] == '/' || strcmp(path, "/") != 0;
        bool m = old_match(q, "/");
        char prefix[256];
        for (size_t k = 1; k <= strlen(path); k++)
                if (k == strlen(path) || path[k] == '/') {
                        memcpy(prefix, path, k);
                        prefix[k] = 0;
                        m |= old_match(q, prefix);
                }
        return m;
}

Test(pattern, agrees_with_the_old_matcher_on_random_small_cases) {
        static const char *const pieces[] = {
                "a", "b", "x",  "*",         "?",         "[",       "]",     "!",     "^",  "-",  "\\", ":",  "=",
                ".", "/", "**", "[:alpha:]", "[:digit:]", "[:foo:]", "[.a.]", "[=a=]", "[.", "[=", "[:", ":]", "\xe9",
        };
        static const char bytes[] = "ab[]-!.*?\\:=x^0A\xe9";
        unsigned differences = 0;

        for (unsigned it = 0; it < 200000; it++) {
                char pat[128] = "", path[64];
                size_t n = 0;
                if (rnd(3) == 0)
                        strcat(pat, "/");
                for (unsigned i = 0, len = rnd(12); i < len; i++)
                        strcat(pat, pieces[rnd(CN_ELEMENTSOF(pieces))]);
                for (unsigned d = 0, depth = rnd(5); d < depth; d++) {
                        path[n++] = '/';
                        for (unsigned k = 0, len = 1 + rnd(4); k < len; k++)
                                path[n++] = bytes[rnd(sizeof bytes - 1)];
                }
                if (n == 0)
                        path[n++] = '/';
                path[n] = 0;
                if (!*pat)
                        continue;
                bool want = reference(pat, path), got = new_match(pat, path);
                if (want != got && differences++ < 10)
                        cr_log_error("pattern '%s' on '%s': %d, the old matcher %d", pat, path, got, want);
        }
        cr_assert_eq(differences, 0);
}

/* ---- linear work ---- */

static char *deep_path(unsigned depth, const char *last) {
        char *p = malloc(2 * depth + strlen(last) + 2);
        size_t n = 0;
        for (unsigned i = 0; i < depth; i++) {
                p[n++] = '/';
                p[n++] = 'd';
        }
        p[n++] = '/';
        strcpy(p + n, last);
        return p;
}

static uint64_t steps_for(const char *pattern, const char *path, bool *ret_match) {
        CnPatterns p = {};
        uint64_t steps = 0;
        cr_assert_eq(cn_patterns_add(&p, pattern), 0);
        *ret_match = cn_patterns_match_counted(&p, path, &steps);
        cn_patterns_done(&p);
        return steps;
}

/* The patterns and worse, on "/d/d/.../d/LAST" 2000 and 4000 deep:
 * the steps stay within a small multiple of the path's length, and doubling
 * the depth doubles them (the old matcher took minutes here). */
Test(pattern, work_is_linear_in_the_path_length) {
        static const struct {
                const char *pattern, *last;
                bool match;
        } v[] = {
                {"**/d/**/x", "d", false},
                {"**/d/**/x", "x", true},
                {"**/x/**", "d", false},
                {"**/x/**", "x", true},
                {"/**/d/**/d/**/d/**/x", "d", false},
                {"d/**/d/**/d/**/y", "x", false},
                {"**/*/**/*/**/x", "d", false},
                {"*d*d*d*d*x", "d", false},
                {"**/[!d]/**", "d", false},
                {"/**/**/**/**", "d", true},
        };
        for (size_t i = 0; i < CN_ELEMENTSOF(v); i++) {
                char *p2 = deep_path(2000, v[i].last), *p4 = deep_path(4000, v[i].last);
                bool m2, m4;
                uint64_t s2 = steps_for(v[i].pattern, p2, &m2), s4 = steps_for(v[i].pattern, p4, &m4);
                cr_expect_eq(m2, v[i].match, "'%s' at depth 2000", v[i].pattern);
                cr_expect_eq(m4, v[i].match, "'%s' at depth 4000", v[i].pattern);
                cr_expect_leq(s2, 4 * (strlen(v[i].pattern) + 1) * strlen(p2), "'%s': %lu steps on %zu bytes",
                              v[i].pattern, (unsigned long) s2, strlen(p2));
                cr_expect_leq(s4, 2 * s2 + 100, "'%s': %lu steps at depth 2000, %lu at 4000", v[i].pattern,
                              (unsigned long) s2, (unsigned long) s4);
                free(p2);
                free(p4);
        }
}

/* Many stars in one long component: still (pattern x component) at most. */
Test(pattern, stars_in_a_component_do_not_backtrack) {
        char name[300], pat[64] = "*";
        memset(name, 'a', 255);
        name[0] = '/';
        name[255] = 0;
        for (int i = 0; i < 12; i++)
                strcat(pat, "a*");
        strcat(pat, "b");
        bool m;
        uint64_t s = steps_for(pat, name, &m);
        cr_assert_not(m);
        cr_assert_leq(s, 2 * (strlen(pat) + 1) * strlen(name), "%lu steps", (unsigned long) s);
}

/* Brackets that never close, thousands of them in one component: each
 * compiles in work linear in what follows it (this took seconds a pattern
 * when every bracket was read once per byte), and they read as fnmatch
 * reads them: a literal '['. */
Test(pattern, unclosed_brackets_compile_and_stay_literal) {
        static const char *const units[] = {"[", "[a", "[!", "[[:", "[a-", "[\\"};
        for (size_t u = 0; u < CN_ELEMENTSOF(units); u++) {
                char pat[4096], path[4098] = "/";
                size_t n = 0, k = strlen(units[u]);
                while (n + k < sizeof pat) {
                        memcpy(pat + n, units[u], k);
                        n += k;
                }
                pat[n] = 0;
                strcpy(path + 1, pat);
                bool m;
                uint64_t s = steps_for(pat, path, &m);
                /* as fnmatch: a range without its end, or a '\\' at the end, matches nothing */
                bool want = strcmp(units[u], "[\\") != 0 && strcmp(units[u], "[a-") != 0;
                cr_expect_eq(m, want, "'%s' x %zu on itself", units[u], n / k);
                cr_expect_leq(s, 4 * strlen(path), "'%s' x %zu: %lu steps", units[u], n / k, (unsigned long) s);
        }
}
