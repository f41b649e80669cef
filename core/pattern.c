/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A pattern is a list of components. A component is "**" or a small
 * automaton compiled from its text: one node per position in the text that
 * matching can reach, '*' a node that loops on any byte, every other node a
 * few edges, each a set of bytes (a literal, '?', a bracket expression) and
 * the node it leads to. A component is matched against one path component
 * by running its automaton over the bytes with the set of live nodes as a
 * bitmap: O(nodes) per byte, nothing retried.
 *
 * Components against path components use the classic greedy algorithm: a
 * non-"**" component takes exactly one path component; advance while they
 * match, and on a mismatch let the last "**" absorb one more component and
 * retry from there. Leftmost placement of what follows the last "**" is
 * always safe, so nothing before it is ever retried. A path of S bytes
 * against a pattern of P bytes thus costs O(P x S) steps, however many '*'
 * and "**" the pattern holds. An unanchored pattern is matched as if it
 * began with "**" and needs at least one path component.
 *
 * Bracket expressions are read as glibc's fnmatch(3) (2.36, C locale, no
 * flags) reads them: that was cairn's matcher before, and no pattern may
 * change meaning, down to the reading of malformed brackets. Each bracket
 * is evaluated for all 256 bytes at once when the pattern is compiled;
 * where glibc's reading depends on the byte (an unclosed '[' that is
 * literal for some bytes), the node simply gets one edge per outcome.
 * Compiling costs O(length) per bracket (4 KiB of '[' compiles in 25 ms). */
#include "pattern.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

/* Longer components match nothing (as before: fnmatch was given at most
 * 4095 bytes); this bounds an automaton to 4096 nodes. */
#define COMPONENT_MAX 4095
#define NODES_MAX (COMPONENT_MAX + 1)
#define NODE_WORDS (NODES_MAX / 64)

typedef struct ByteSet {
        uint64_t w[4];
} ByteSet;

typedef struct Edge {
        ByteSet set;
        uint32_t next; /* node index within the component */
} Edge;

typedef enum NodeKind {
        NODE_EDGES, /* consume one byte along an edge whose set holds it */
        NODE_STAR,  /* consume any byte and stay, or go on to next without one */
        NODE_END,   /* the whole component matched */
} NodeKind;

typedef struct Node {
        NodeKind kind;
        uint32_t next; /* NODE_STAR */
        size_t first_edge, n_edges;
        size_t pos; /* where in the text (while compiling) */
} Node;

typedef struct Component {
        bool globstar;              /* "**" */
        size_t first_node, n_nodes; /* node 0 of the component is its start */
} Component;

struct CnPattern {
        bool anchored; /* started with '/' */
        bool never;    /* a component that matches nothing */
        Component *comps;
        size_t n_comps;
        Node *nodes;
        size_t n_nodes, cap_nodes;
        Edge *edges;
        size_t n_edges, cap_edges;
};

static void set_add(ByteSet *s, uint8_t c) {
        s->w[c >> 6] |= UINT64_C(1) << (c & 63);
}

static bool set_has(const ByteSet *s, uint8_t c) {
        return s->w[c >> 6] >> (c & 63) & 1;
}

/* ---- bracket expressions, as glibc reads them ---- */

/* The C locale's classes (ASCII only), by name; -1 for an unknown name. */
static int class_id(const char *name) {
        static const char *const names[] = {"alnum", "alpha", "blank", "cntrl", "digit", "graph",
                                            "lower", "print", "punct", "space", "upper", "xdigit"};
        for (size_t i = 0; i < CN_ELEMENTSOF(names); i++)
                if (strcmp(name, names[i]) == 0)
                        return (int) i;
        return -1;
}

static bool class_has(int id, unsigned c) {
        bool digit = c >= '0' && c <= '9', upper = c >= 'A' && c <= 'Z', lower = c >= 'a' && c <= 'z';
        bool graph = c > 32 && c < 127;
        switch (id) {
        case 0:
                return digit || upper || lower;
        case 1:
                return upper || lower;
        case 2:
                return c == ' ' || c == '\t';
        case 3:
                return c < 32 || c == 127;
        case 4:
                return digit;
        case 5:
                return graph;
        case 6:
                return lower;
        case 7:
                return graph || c == ' ';
        case 8:
                return graph && !digit && !upper && !lower;
        case 9:
                return c == ' ' || (c >= '\t' && c <= '\r');
        case 10:
                return upper;
        default:
                return digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        }
}

enum { BR_PENDING, BR_NOMATCH, BR_MATCH, BR_LITERAL };
#define CLASS_NAME_MAX 256 /* glibc's CHAR_CLASS_MAX_LENGTH */

/* What one bracket expression does with each byte: BR_MATCH (and where it
 * ends, just past its ']'), BR_NOMATCH, or BR_LITERAL (unterminated: the
 * '[' is then an ordinary character). */
typedef struct Bracket {
        uint8_t kind[256];
        size_t end[256];
        ByteSet pending; /* bytes not decided yet */
        bool not ;
} Bracket;

/* bracket_skip()'s answer for each start in one component's text (0: not
 * known yet): every bracket of the component shares them, so skipping costs
 * O(length) for the whole component, however many brackets and members. */
typedef struct SkipMemo {
        uint8_t *kind;
        size_t *end;
        size_t *stack;
} SkipMemo;

static unsigned byte_at(const uint8_t *t, size_t len, size_t k) {
        return k < len ? t[k] : 0;
}

/* The pending bytes of m get kind (and end). */
static void decide(Bracket *b, const ByteSet *m, int kind, size_t end) {
        for (unsigned w = 0; w < 4; w++) {
                uint64_t bits = b->pending.w[w] & m->w[w];
                b->pending.w[w] &= ~bits;
                for (; bits; bits &= bits - 1) {
                        unsigned c = w * 64 + (unsigned) __builtin_ctzll(bits);
                        b->kind[c] = (uint8_t) kind;
                        b->end[c] = end;
                }
        }
}

static void decide_all(Bracket *b, int kind, size_t end) {
        ByteSet all;
        memset(&all, 0xff, sizeof all);
        decide(b, &all, kind, end);
}

/* The collating symbol "[.c.]" whose '.' is at t[*p]: its one character,
 * and *p just past it; -1 if it is malformed or longer (the C locale
 * names no longer ones). */
static int collating_symbol(const uint8_t *t, size_t len, size_t *p) {
        size_t startp = *p, c1 = 0;
        for (;;) {
                unsigned c = byte_at(t, len, ++*p);
                if (c == '.' && byte_at(t, len, *p + 1) == ']') {
                        *p += 2;
                        break;
                }
                if (c == 0)
                        return -1;
                c1++;
        }
        return c1 == 1 ? (int) byte_at(t, len, startp + 1) : -1;
}

#define AT(k) byte_at(t, len, (k))

/* One element of the rest of a bracket expression after a member matched,
 * as glibc's skip loop reads it, from t[p]: 0 and *ret_next where the next
 * element starts, or the outcome: BR_MATCH with *ret_next past the ']',
 * BR_NOMATCH for a malformed rest, BR_LITERAL if no ']' ends it. */
static int skip_step(const uint8_t *t, size_t len, size_t p, size_t *ret_next) {
        unsigned c = AT(p);
        p++;
        if (c == ']') {
                *ret_next = p;
                return BR_MATCH;
        }
        if (c == 0)
                return BR_LITERAL;
        if (c == '\\') {
                if (AT(p) == 0)
                        return BR_NOMATCH;
                p++;
        } else if (c == '[' && AT(p) == ':') {
                size_t c1 = 0, startp = p;
                for (;;) {
                        c = AT(++p);
                        if (++c1 == CLASS_NAME_MAX)
                                return BR_NOMATCH;
                        if (AT(p) == ':' && AT(p + 1) == ']')
                                break;
                        if (c < 'a' || c >= 'z') {
                                p = startp - 2;
                                break;
                        }
                }
                p += 2;
        } else if (c == '[' && AT(p) == '=') {
                c = AT(++p);
                if (c == 0)
                        return BR_NOMATCH;
                c = AT(++p);
                if (c != '=' || AT(p + 1) != ']')
                        return BR_NOMATCH;
                p += 2;
        } else if (c == '[' && AT(p) == '.') {
                for (;;) {
                        c = AT(++p);
                        if (c == 0)
                                return BR_NOMATCH;
                        if (c == '.' && AT(p + 1) == ']')
                                break;
                }
                p += 2;
        }
        *ret_next = p;
        return 0;
}

/* The rest of a bracket expression after the member ending before t[p]
 * matched: skip_step() to the end, remembered for every start passed. */
static int bracket_skip(SkipMemo *m, const uint8_t *t, size_t len, size_t p, size_t *ret_end) {
        size_t n = 0, next = 0;
        int kind;

        for (;;) {
                if (p > len)
                        kind = BR_LITERAL; /* past the text: reads NUL */
                else if (m->kind[p]) {
                        kind = m->kind[p];
                        next = m->end[p];
                } else {
                        m->stack[n++] = p; /* each start once: n <= len + 1 */
                        kind = skip_step(t, len, p, &next);
                        if (kind == 0) {
                                p = next;
                                continue;
                        }
                }
                break;
        }
        while (n > 0) {
                size_t q = m->stack[--n];
                m->kind[q] = (uint8_t) kind;
                m->end[q] = next;
        }
        *ret_end = next;
        return kind;
}

/* The pending bytes of m match the member that ends before t[p]. */
static void member(Bracket *b, SkipMemo *memo, const uint8_t *t, size_t len, size_t p, const ByteSet *m) {
        size_t end = 0;
        if (!((b->pending.w[0] & m->w[0]) | (b->pending.w[1] & m->w[1]) | (b->pending.w[2] & m->w[2]) |
              (b->pending.w[3] & m->w[3])))
                return;
        int kind = bracket_skip(memo, t, len, p, &end);
        decide(b, m, kind == BR_MATCH && b->not ? BR_NOMATCH : kind, end);
}

static void member_range(Bracket *b, SkipMemo *memo, const uint8_t *t, size_t len, size_t p, unsigned lo, unsigned hi) {
        ByteSet m = {};
        for (unsigned c = lo; c <= hi && c < 256; c++)
                set_add(&m, (uint8_t) c);
        member(b, memo, t, len, p, &m);
}

/* Every byte against the bracket expression whose text starts at t[i]
 * (just after the '['); t holds len bytes and reads as NUL past them. A
 * line-by-line reading of glibc's posix/fnmatch_loop.c for the single-byte
 * C locale, in one pass for all bytes: glibc's scan depends on the byte
 * only where a member matches it, so the bytes still pending follow it
 * together and leave it where a member takes them. */
static void bracket_eval(SkipMemo *memo, const uint8_t *t, size_t len, size_t i, Bracket *b) {
        size_t p = i;
        unsigned c, cold;

        memset(&b->pending, 0xff, sizeof b->pending);
        b->pending.w[0] &= ~(UINT64_C(1) | UINT64_C(1) << '/'); /* no component holds NUL or '/' */
        b->not = AT(p) == '!' || AT(p) == '^';
        if (b->not )
                p++;
        c = AT(p);
        p++;
        for (;;) {
                bool is_range;
                if (c == '\\') {
                        if (AT(p) == 0)
                                goto nomatch;
                        c = AT(p);
                        p++;
                        goto normal;
                } else if (c == '[' && AT(p) == ':') {
                        char name[CLASS_NAME_MAX + 1];
                        size_t c1 = 0, startp = p;
                        for (;;) {
                                if (c1 == CLASS_NAME_MAX)
                                        goto nomatch;
                                c = AT(++p);
                                if (c == ':' && AT(p + 1) == ']') {
                                        p += 2;
                                        break;
                                }
                                if (c < 'a' || c >= 'z') {
                                        p = startp;
                                        c = '[';
                                        goto normal;
                                }
                                name[c1++] = (char) c;
                        }
                        name[c1] = 0;
                        int id = class_id(name);
                        if (id < 0)
                                goto nomatch;
                        ByteSet m = {};
                        for (unsigned k = 1; k < 256; k++)
                                if (class_has(id, k))
                                        set_add(&m, (uint8_t) k);
                        member(b, memo, t, len, p, &m);
                        c = AT(p);
                        p++;
                } else if (c == '[' && AT(p) == '=') {
                        size_t startp = p;
                        c = AT(++p);
                        if (c == 0) {
                                p = startp;
                                c = '[';
                                goto normal;
                        }
                        unsigned eq = c;
                        c = AT(++p);
                        if (c != '=' || AT(p + 1) != ']') {
                                p = startp;
                                c = '[';
                                goto normal;
                        }
                        p += 2;
                        member_range(b, memo, t, len, p, eq, eq);
                        c = AT(p);
                        p++;
                } else if (c == 0) {
                        decide_all(b, BR_LITERAL, 0);
                        return;
                } else {
                        if (c == '[' && AT(p) == '.') {
                                int sym = collating_symbol(t, len, &p);
                                if (sym < 0)
                                        goto nomatch;
                                is_range = AT(p) == '-' && AT(p + 1) != 0;
                                if (!is_range)
                                        member_range(b, memo, t, len, p, (unsigned) sym, (unsigned) sym);
                                cold = (unsigned) sym;
                                c = AT(p);
                                p++;
                        } else {
                        normal:
                                is_range = AT(p) == '-' && AT(p + 1) != 0 && AT(p + 1) != ']';
                                if (!is_range)
                                        member_range(b, memo, t, len, p, c, c);
                                cold = c;
                                c = AT(p);
                                p++;
                        }
                        if (c == '-' && AT(p) != ']') {
                                unsigned cend = AT(p);
                                p++;
                                if (cend == '[' && AT(p) == '.') {
                                        int sym = collating_symbol(t, len, &p);
                                        if (sym < 0)
                                                goto nomatch;
                                        cend = (unsigned) sym;
                                } else {
                                        if (cend == '\\') {
                                                cend = AT(p);
                                                p++;
                                        }
                                        if (cend == 0)
                                                goto nomatch;
                                }
                                member_range(b, memo, t, len, p, cold, cend);
                                c = AT(p);
                                p++;
                        }
                }
                if (c == ']')
                        break;
        }
        decide_all(b, b->not ? BR_MATCH : BR_NOMATCH, p);
        return;
nomatch:
        decide_all(b, BR_NOMATCH, 0);
}
#undef AT

/* ---- compiling ---- */

typedef struct Compiler {
        CnPattern *pt;
        const uint8_t *t; /* the component's text */
        size_t len;
        size_t base;      /* the component's first node */
        int32_t *node_of; /* text position -> node (relative), -1 if none yet */
        SkipMemo memo;
} Compiler;

/* The node for text position pos, made (and left to fill) if new. */
static int node_at(Compiler *k, size_t pos, uint32_t *ret) {
        CnPattern *pt = k->pt;
        if (k->node_of[pos] < 0) {
                int r = CN_GROW(pt->nodes, pt->cap_nodes, pt->n_nodes);
                if (r < 0)
                        return r;
                pt->nodes[pt->n_nodes] = (Node){.pos = pos};
                k->node_of[pos] = (int32_t) (pt->n_nodes++ - k->base);
        }
        *ret = (uint32_t) k->node_of[pos];
        return 0;
}

/* An edge of the node being filled (the last edge added) on byte set s to text position pos. */
static int add_edge(Compiler *k, size_t node, const ByteSet *s, size_t pos) {
        CnPattern *pt = k->pt;
        uint32_t next;
        int r = node_at(k, pos, &next);
        if (r < 0)
                return r;
        r = CN_GROW(pt->edges, pt->cap_edges, pt->n_edges);
        if (r < 0)
                return r;
        pt->edges[pt->n_edges++] = (Edge){.set = *s, .next = next};
        pt->nodes[node].n_edges++;
        return 0;
}

/* The edges of a bracket expression whose '[' is at t[pos]: for each place
 * it may end (one in any sane bracket), the bytes that end it there; and
 * '[' itself to pos + 1 where glibc reads the '[' as a literal. */
static int fill_bracket(Compiler *k, size_t node, size_t pos) {
        Bracket br;
        ByteSet sets[8] = {};
        size_t ends[8], n = 0;
        int r;

        bracket_eval(&k->memo, k->t, k->len, pos + 1, &br);
        if (br.kind['['] == BR_LITERAL) {
                ByteSet lit = {};
                set_add(&lit, '[');
                if ((r = add_edge(k, node, &lit, pos + 1)) < 0)
                        return r;
        }
        for (unsigned c = 1; c < 256; c++) {
                if (c == '/' || br.kind[c] != BR_MATCH)
                        continue;
                size_t g = 0;
                while (g < n && ends[g] != br.end[c])
                        g++;
                if (g == n) {
                        if (n == CN_ELEMENTSOF(ends))
                                continue; /* unreachable: a bracket ends in few ways */
                        ends[n++] = br.end[c];
                }
                set_add(&sets[g], (uint8_t) c);
        }
        for (size_t g = 0; g < n; g++)
                if ((r = add_edge(k, node, &sets[g], ends[g])) < 0)
                        return r;
        return 0;
}

/* Fill the node made for its text position. */
static int fill_node(Compiler *k, size_t node) {
        CnPattern *pt = k->pt;
        size_t pos = pt->nodes[node].pos;
        const uint8_t *t = k->t;
        ByteSet s = {};
        int r;

        pt->nodes[node].first_edge = pt->n_edges;
        if (pos == k->len) {
                pt->nodes[node].kind = NODE_END;
                return 0;
        }
        switch (t[pos]) {
        case '*': {
                size_t q = pos;
                uint32_t next;
                while (q < k->len && t[q] == '*')
                        q++;
                if ((r = node_at(k, q, &next)) < 0)
                        return r;
                pt->nodes[node].kind = NODE_STAR;
                pt->nodes[node].next = next;
                return 0;
        }
        case '?':
                memset(&s, 0xff, sizeof s);
                return add_edge(k, node, &s, pos + 1);
        case '\\':
                if (pos + 1 == k->len)
                        return 0; /* a trailing '\' matches nothing */
                set_add(&s, t[pos + 1]);
                return add_edge(k, node, &s, pos + 2);
        case '[':
                return fill_bracket(k, node, pos);
        default:
                set_add(&s, t[pos]);
                return add_edge(k, node, &s, pos + 1);
        }
}

static int compile_component(CnPattern *pt, const uint8_t *t, size_t len, Component *comp) {
        *comp = (Component){.first_node = pt->n_nodes};
        if (len == 2 && t[0] == '*' && t[1] == '*') {
                comp->globstar = true;
                return 0;
        }
        if (len > COMPONENT_MAX) {
                pt->never = true;
                return 0;
        }
        _cleanup_free_ int32_t *node_of = malloc((len + 1) * sizeof *node_of);
        _cleanup_free_ uint8_t *skip_kind = calloc(len + 1, 1);
        _cleanup_free_ size_t *skip_end = calloc(len + 1, sizeof *skip_end);
        _cleanup_free_ size_t *skip_stack = calloc(len + 1, sizeof *skip_stack);
        if (!node_of || !skip_kind || !skip_end || !skip_stack)
                return -ENOMEM;
        for (size_t i = 0; i <= len; i++)
                node_of[i] = -1;
        Compiler k = {
                .pt = pt,
                .t = t,
                .len = len,
                .base = pt->n_nodes,
                .node_of = node_of,
                .memo = {.kind = skip_kind, .end = skip_end, .stack = skip_stack},
        };
        uint32_t start;
        int r = node_at(&k, 0, &start);
        if (r < 0)
                return r;
        /* Nodes are made as edges reach them; fill them in that order. */
        for (size_t i = k.base; i < pt->n_nodes; i++)
                if ((r = fill_node(&k, i)) < 0)
                        return r;
        comp->n_nodes = pt->n_nodes - k.base;
        if (node_of[len] < 0)
                pt->never = true; /* the end cannot be reached */
        return 0;
}

static CnPattern *pattern_free(CnPattern *pt) {
        if (pt) {
                free(pt->comps);
                free(pt->nodes);
                free(pt->edges);
                free(pt);
        }
        return NULL;
}
CN_DEFINE_CLEANUP(CnPattern *, pattern_free);

static int pattern_compile(const char *text, size_t n, CnPattern **ret) {
        _cleanup_(pattern_freep) CnPattern *pt = calloc(1, sizeof *pt);
        const uint8_t *t = (const uint8_t *) text;
        size_t i = 0, n_comps = 1;
        int r;

        if (!pt)
                return -ENOMEM;
        if (t[0] == '/') {
                pt->anchored = true;
                i = 1;
        }
        if (i == n)
                n_comps = 0; /* "/": the root only */
        for (size_t k = i; k < n; k++)
                n_comps += t[k] == '/';
        pt->comps = calloc(n_comps ? n_comps : 1, sizeof *pt->comps);
        if (!pt->comps)
                return -ENOMEM;
        for (size_t k = 0; k < n_comps; k++) {
                const uint8_t *e = memchr(t + i, '/', n - i);
                size_t len = e ? (size_t) (e - (t + i)) : n - i;
                r = compile_component(pt, t + i, len, &pt->comps[k]);
                if (r < 0)
                        return r;
                i += len + 1;
        }
        pt->n_comps = n_comps;
        *ret = TAKE_PTR(pt);
        return 0;
}

int cn_patterns_add(CnPatterns *p, const char *pattern) {
        size_t n = strlen(pattern);
        CnPattern *pt;
        int r;

        while (n > 1 && pattern[n - 1] == '/')
                n--; /* "dir/" means dir */
        if (n == 0)
                return -EINVAL;
        CnPattern **v = reallocarray(p->v, p->n + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        p->v = v;
        r = pattern_compile(pattern, n, &pt);
        if (r < 0)
                return r;
        v[p->n++] = pt;
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
                pattern_free(p->v[i]);
        free(p->v);
        *p = (CnPatterns){};
}

/* ---- matching ---- */

/* Add node n and what it reaches without a byte (a star's next) to live. */
static void live_add(uint64_t *live, const Node *nodes, uint32_t n) {
        while (!(live[n >> 6] >> (n & 63) & 1)) {
                live[n >> 6] |= UINT64_C(1) << (n & 63);
                if (nodes[n].kind != NODE_STAR)
                        return;
                n = nodes[n].next;
        }
}

/* One component's automaton over the bytes s[0..len). */
static bool component_match(const CnPattern *pt, const Component *c, const uint8_t *s, size_t len, uint64_t *steps) {
        const Node *nodes = pt->nodes + c->first_node;
        size_t words = (c->n_nodes + 63) / 64;
        uint64_t a[NODE_WORDS], b[NODE_WORDS], *live = a, *next = b;

        memset(live, 0, words * sizeof *live);
        live_add(live, nodes, 0);
        for (size_t j = 0; j < len; j++) {
                bool any = false;
                memset(next, 0, words * sizeof *next);
                for (size_t w = 0; w < words; w++)
                        for (uint64_t bits = live[w]; bits; bits &= bits - 1) {
                                uint32_t n = (uint32_t) (w * 64 + (size_t) __builtin_ctzll(bits));
                                const Node *node = &nodes[n];
                                (*steps)++;
                                if (node->kind == NODE_STAR) {
                                        live_add(next, nodes, n);
                                        any = true;
                                        continue;
                                }
                                for (size_t e = 0; e < node->n_edges; e++) {
                                        const Edge *edge = &pt->edges[node->first_edge + e];
                                        if (set_has(&edge->set, s[j])) {
                                                live_add(next, nodes, edge->next);
                                                any = true;
                                        }
                                }
                        }
                if (!any)
                        return false;
                uint64_t *tmp = live;
                live = next;
                next = tmp;
        }
        for (size_t w = 0; w < words; w++)
                for (uint64_t bits = live[w]; bits; bits &= bits - 1)
                        if (nodes[w * 64 + (size_t) __builtin_ctzll(bits)].kind == NODE_END)
                                return true;
        return false;
}

/* The path component starting at s (within [.., end)) ends here. */
static const char *component_end(const char *s, const char *end) {
        const char *e = memchr(s, '/', (size_t) (end - s));
        return e ? e : end;
}

/* The start of the component after the one ending at e, or NULL. */
static const char *next_component(const char *e, const char *end) {
        return e < end ? e + 1 : NULL;
}

static bool pattern_match(const CnPattern *pt, const char *path, size_t len, uint64_t *steps) {
        const char *end = path + len;
        const char *s = len && path[0] == '/' ? path + 1 : path;
        const char *pos = s < end ? s : NULL; /* the next path component; NULL: none left */
        const char *star_pos = NULL;     /* where the last "**" resumes */
        size_t i = 0, star = 0;          /* next pattern component; the one after the last "**" */
        bool have_star = false;

        if (pt->never)
                return false;
        if (!pt->anchored) {
                if (!pos)
                        return false; /* the pattern needs a component of its own */
                have_star = true;     /* an implicit leading "**" */
                star_pos = pos;
        }
        while (pos) {
                const char *e = component_end(pos, end);
                (*steps)++;
                if (i < pt->n_comps && pt->comps[i].globstar) {
                        have_star = true;
                        star = ++i; /* "**" takes no component yet */
                        star_pos = pos;
                } else if (i < pt->n_comps &&
                           component_match(pt, &pt->comps[i], (const uint8_t *) pos, (size_t) (e - pos), steps)) {
                        i++;
                        pos = next_component(e, end);
                } else if (have_star) {
                        /* the last "**" takes one more component */
                        star_pos = next_component(component_end(star_pos, end), end);
                        i = star;
                        pos = star_pos;
                } else
                        return false;
        }
        while (i < pt->n_comps && pt->comps[i].globstar)
                i++;
        return i == pt->n_comps;
}

bool cn_patterns_match_counted(const CnPatterns *p, const char *path, uint64_t *steps) {
        size_t len = strlen(path);
        for (size_t i = 0; i < p->n; i++)
                if (pattern_match(p->v[i], path, len, steps))
                        return true;
        return false;
}

bool cn_patterns_match(const CnPatterns *p, const char *path) {
        uint64_t steps = 0;
        return cn_patterns_match_counted(p, path, &steps);
}

bool cn_patterns_match_len(const CnPatterns *p, const char *path, size_t len) {
        uint64_t steps = 0;
        for (size_t i = 0; i < p->n; i++)
                if (pattern_match(p->v[i], path, len, &steps))
                        return true;
        return false;
}
