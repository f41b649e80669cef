/* SPDX-License-Identifier: GPL-3.0-or-later */
/* S3's wire formats, without I/O (see s3-proto.h).
 *
 * XML is read with libxml2 into a tree (documents are capped at
 * CN_S3_XML_MAX), never searched as a string. Network access and DTDs are
 * refused: S3 never sends a DOCTYPE, and without one no entity can expand.
 * Element names are compared by local name, so the S3 namespace (or its
 * absence, as some servers send) does not matter. */
#include "s3-proto.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "macro.h"
#include "remote.h"

#define CREDENTIALS_LINE_MAX 4096
#define QUERY_MAX (64u << 10)

typedef struct EncodedParam {
        char *name;
        char *value;
} EncodedParam;

static int param_cmp(const void *a, const void *b) {
        const EncodedParam *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        return c ? c : strcmp(x->value, y->value);
}

static char *encode_dup(const char *s) {
        char *d = NULL;
        return cn_remote_encode_dup(s, false, &d) < 0 ? NULL : d;
}

int cn_s3_query_build(const CnS3Param *params, size_t n, char **ret) {
        _cleanup_free_ EncodedParam *e = NULL;
        CnBuf q = CN_BUF_INIT(QUERY_MAX);
        size_t done = 0;
        int r = -ENOMEM;

        if (n > 64)
                return -E2BIG;
        if (n > 0 && !(e = calloc(n, sizeof *e)))
                return -ENOMEM;
        for (; done < n; done++) {
                e[done].name = encode_dup(params[done].name);
                e[done].value = encode_dup(params[done].value ? params[done].value : "");
                if (!e[done].name || !e[done].value) {
                        done++;
                        goto out;
                }
        }
        if (n > 1)
                qsort(e, n, sizeof *e, param_cmp);
        for (size_t i = 0; i < n; i++) {
                if ((i > 0 && (r = cn_buf_append(&q, "&", 1)) < 0) ||
                    (r = cn_buf_append(&q, e[i].name, strlen(e[i].name))) < 0 || (r = cn_buf_append(&q, "=", 1)) < 0 ||
                    (r = cn_buf_append(&q, e[i].value, strlen(e[i].value))) < 0)
                        goto out;
        }
        r = cn_buf_append(&q, "", 1);
        if (r < 0)
                goto out;
        *ret = (char *) TAKE_PTR(q.data);
        r = 0;
out:
        for (size_t i = 0; i < done; i++) {
                free(e[i].name);
                free(e[i].value);
        }
        cn_buf_done(&q);
        return r;
}

void cn_s3_sha256_hex(const void *p, size_t n, char out[CN_S3_SHA256_HEX_BYTES]) {
        uint8_t md[SHA256_DIGEST_LENGTH];
        SHA256(p, n, md);
        cn_hex_encode(md, sizeof md, out);
}

static void free_secret(char **s) {
        if (*s) {
                explicit_bzero(*s, strlen(*s));
                free(*s);
                *s = NULL;
        }
}

void cn_s3_creds_done(CnS3Creds *c) {
        free_secret(&c->key_id);
        free_secret(&c->secret);
        free_secret(&c->token);
}

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\r';
}

/* [s, e) with surrounding blanks removed. */
static void trim(const char **s, const char **e) {
        while (*s < *e && is_space(**s))
                (*s)++;
        while (*e > *s && is_space((*e)[-1]))
                (*e)--;
}

static bool span_eq(const char *s, const char *e, const char *word) {
        size_t n = strlen(word);
        return (size_t) (e - s) == n && memcmp(s, word, n) == 0;
}

static int span_dup(const char *s, const char *e, char **ret) {
        char *d = strndup(s, (size_t) (e - s));
        if (!d)
                return -ENOMEM;
        free_secret(ret);
        *ret = d;
        return 0;
}

int cn_s3_credentials_parse(const char *text, size_t n, const char *profile, CnS3Creds *ret) {
        _cleanup_(cn_s3_creds_done) CnS3Creds c = {};
        bool in_profile = false, seen = false;
        const char *end = text + n;
        int r;

        if (n > CN_S3_CREDENTIALS_FILE_MAX)
                return -EPROTO;
        for (const char *line = text; line < end;) {
                const char *nl = memchr(line, '\n', (size_t) (end - line));
                const char *le = nl ? nl : end;
                const char *next = nl ? nl + 1 : end;

                if (le - line > CREDENTIALS_LINE_MAX)
                        return -EPROTO;
                if (memchr(line, 0, (size_t) (le - line)))
                        return -EPROTO;
                trim(&line, &le);
                if (line == le || *line == '#' || *line == ';') {
                        line = next;
                        continue;
                }
                if (*line == '[') {
                        if (le[-1] != ']')
                                return -EPROTO;
                        const char *s = line + 1, *e = le - 1;
                        trim(&s, &e);
                        in_profile = span_eq(s, e, profile);
                        seen = seen || in_profile;
                        line = next;
                        continue;
                }
                const char *eq = memchr(line, '=', (size_t) (le - line));
                if (!eq)
                        return -EPROTO;
                if (in_profile) {
                        const char *ks = line, *ke = eq, *vs = eq + 1, *ve = le;
                        trim(&ks, &ke);
                        trim(&vs, &ve);
                        r = 0;
                        if (span_eq(ks, ke, "aws_access_key_id"))
                                r = span_dup(vs, ve, &c.key_id);
                        else if (span_eq(ks, ke, "aws_secret_access_key"))
                                r = span_dup(vs, ve, &c.secret);
                        else if (span_eq(ks, ke, "aws_session_token"))
                                r = span_dup(vs, ve, &c.token);
                        if (r < 0)
                                return r;
                }
                line = next;
        }
        if (!seen)
                return -ENOENT;
        if (!c.key_id || !c.secret || !*c.key_id || !*c.secret)
                return -ENOKEY;
        if (c.token && !*c.token)
                free_secret(&c.token);
        *ret = c;
        c = (CnS3Creds){};
        return 0;
}

bool cn_s3_bucket_valid(const char *bucket) {
        size_t n = strlen(bucket);
        if (n < 3 || n > 255)
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = bucket[i];
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                      ch == '-' || ch == '_'))
                        return false;
        }
        return true;
}

bool cn_s3_bucket_dns_ok(const char *bucket) {
        size_t n = strlen(bucket);
        if (n < 3 || n > 63)
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = bucket[i];
                bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
                if (!alnum && !(ch == '-' && i > 0 && i < n - 1))
                        return false;
        }
        return true;
}

int cn_s3_virtual_host(const char *setting, bool custom_endpoint, const char *bucket, bool *ret) {
        if (!setting) {
                *ret = !custom_endpoint && cn_s3_bucket_dns_ok(bucket);
                return 0;
        }
        if (strcmp(setting, "path") == 0) {
                *ret = false;
                return 0;
        }
        if (strcmp(setting, "virtual") != 0)
                return -EINVAL;
        if (!cn_s3_bucket_dns_ok(bucket))
                return -EDOM;
        *ret = true;
        return 0;
}

static bool host_char_ok(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
               c == ':' || c == '[' || c == ']';
}

int cn_s3_base_url(const char *endpoint, const char *default_host, const char *bucket, bool virtual_host, char **ret) {
        const char *scheme = "https", *host = default_host;
        size_t n;
        char *u = NULL;

        if (endpoint) {
                if (strncmp(endpoint, "https://", 8) == 0)
                        host = endpoint + 8;
                else if (strncmp(endpoint, "http://", 7) == 0) {
                        scheme = "http";
                        host = endpoint + 7;
                } else
                        return -EINVAL;
                n = strcspn(host, "/");
                if (host[n] == '/' && host[n + 1] != 0)
                        return -EINVAL;
        } else {
                if (!host)
                        return -EINVAL;
                n = strlen(host);
        }
        if (n == 0 || n > 255)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!host_char_ok(host[i]))
                        return -EINVAL;
        int k = virtual_host ? asprintf(&u, "%s://%s.%.*s", scheme, bucket, (int) n, host)
                             : asprintf(&u, "%s://%.*s/%s", scheme, (int) n, host, bucket);
        if (k < 0)
                return -ENOMEM;
        *ret = u;
        return 0;
}

/* ---- XML -------------------------------------------------------------- */

static void xml_freep(xmlDoc **d) {
        if (*d)
                xmlFreeDoc(*d);
}

/* libxml2 2.9 wants its global state set up once, before threads parse. */
static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void) {
        xmlInitParser();
}

/* Parse xml into a tree whose root element is named root. */
static int xml_load(const void *xml, size_t n, const char *root, xmlDoc **ret_doc, xmlNode **ret_root) {
        if (n == 0 || n > CN_S3_XML_MAX)
                return -EPROTO;
        pthread_once(&xml_once, xml_init);
        xmlDoc *d = xmlReadMemory(xml, (int) n, "s3.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
        if (!d)
                return -EPROTO;
        xmlNode *top = xmlDocGetRootElement(d);
        if (d->intSubset || d->extSubset || !top || !xmlStrEqual(top->name, BAD_CAST root)) {
                xmlFreeDoc(d);
                return -EPROTO;
        }
        *ret_doc = d;
        *ret_root = top;
        return 0;
}

static bool is_elem(const xmlNode *n, const char *name) {
        return n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST name);
}

static xmlNode *child(const xmlNode *parent, const char *name) {
        for (xmlNode *c = parent->children; c; c = c->next)
                if (is_elem(c, name))
                        return c;
        return NULL;
}

/* The text of an element that holds only text (no child elements), at
 * most max bytes; malloc'd into *ret. */
static int elem_text(const xmlNode *e, size_t max, char **ret) {
        CnBuf b = CN_BUF_INIT(max + 1);
        int r = 0;

        for (const xmlNode *c = e->children; c && r >= 0; c = c->next) {
                if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE)
                        r = c->content ? cn_buf_append(&b, c->content, strlen((const char *) c->content)) : 0;
                else if (c->type != XML_COMMENT_NODE)
                        r = -EPROTO;
        }
        if (r >= 0)
                r = cn_buf_append(&b, "", 1);
        if (r < 0) {
                cn_buf_done(&b);
                return -EPROTO;
        }
        *ret = (char *) b.data;
        return 0;
}

static int child_text(const xmlNode *parent, const char *name, size_t max, char **ret) {
        xmlNode *c = child(parent, name);
        if (!c)
                return -ENOENT;
        return elem_text(c, max, ret);
}

static int parse_u64(const char *s, uint64_t *ret) {
        uint64_t v = 0;
        if (!*s)
                return -EPROTO;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -EPROTO;
                if (v > (UINT64_MAX - (uint64_t) (*s - '0')) / 10)
                        return -EPROTO;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        *ret = v;
        return 0;
}

void cn_s3_list_page_done(CnS3ListPage *p) {
        for (size_t i = 0; i < p->n; i++)
                free(p->entries[i].key);
        free(p->entries);
        free(p->next);
        *p = (CnS3ListPage){};
}

static void list_page_donep(CnS3ListPage *p) {
        cn_s3_list_page_done(p);
}

int cn_s3_list_parse(const void *xml, size_t n, CnS3ListPage *ret) {
        _cleanup_(xml_freep) xmlDoc *doc = NULL;
        _cleanup_(list_page_donep) CnS3ListPage p = {};
        _cleanup_free_ char *trunc = NULL;
        xmlNode *root;
        size_t count = 0;
        int r;

        r = xml_load(xml, n, "ListBucketResult", &doc, &root);
        if (r < 0)
                return r;
        for (xmlNode *c = root->children; c; c = c->next)
                if (is_elem(c, "Contents"))
                        count++;
        if (count > CN_S3_LIST_MAX_ENTRIES)
                return -EPROTO;
        if (count > 0 && !(p.entries = calloc(count, sizeof *p.entries)))
                return -ENOMEM;
        for (xmlNode *c = root->children; c; c = c->next) {
                if (!is_elem(c, "Contents"))
                        continue;
                _cleanup_free_ char *size = NULL;
                CnS3ListEntry *e = &p.entries[p.n];
                if (child_text(c, "Key", CN_S3_KEY_MAX, &e->key) < 0)
                        return -EPROTO;
                p.n++;
                if (!*e->key || child_text(c, "Size", 20, &size) < 0 || parse_u64(size, &e->size) < 0)
                        return -EPROTO;
        }

        r = child_text(root, "IsTruncated", 8, &trunc);
        if (r < 0)
                return -EPROTO;
        if (strcmp(trunc, "true") == 0)
                p.truncated = true;
        else if (strcmp(trunc, "false") != 0)
                return -EPROTO;

        p.v2 = child(root, "KeyCount") || child(root, "ContinuationToken") || child(root, "NextContinuationToken") ||
               child(root, "StartAfter");
        if (p.truncated) {
                if (p.v2)
                        r = child_text(root, "NextContinuationToken", 4096, &p.next);
                else {
                        r = child_text(root, "NextMarker", CN_S3_KEY_MAX, &p.next);
                        if (r == -ENOENT && p.n > 0)
                                r = (p.next = strdup(p.entries[p.n - 1].key)) ? 0 : -ENOMEM;
                }
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || !*p.next)
                        return -EPROTO;
        }
        *ret = p;
        p = (CnS3ListPage){};
        return 0;
}

static void copy_trunc(char *dst, size_t size, const char *src) {
        if (size == 0)
                return;
        size_t k = CN_MIN(strlen(src), size - 1);
        memcpy(dst, src, k);
        dst[k] = 0;
        /* messages go to terminals: no control characters */
        for (size_t i = 0; i < k; i++)
                if ((unsigned char) dst[i] < 0x20 || dst[i] == 0x7f)
                        dst[i] = ' ';
}

int cn_s3_error_parse(const void *xml, size_t n, char *code, size_t code_size, char *message, size_t message_size) {
        _cleanup_(xml_freep) xmlDoc *doc = NULL;
        _cleanup_free_ char *c = NULL, *m = NULL;
        xmlNode *root;
        int r;

        r = xml_load(xml, n, "Error", &doc, &root);
        if (r < 0)
                return r;
        if (child_text(root, "Code", 256, &c) < 0 || !*c)
                return -EPROTO;
        r = child_text(root, "Message", 4096, &m);
        if (r == -EPROTO)
                return r;
        copy_trunc(code, code_size, c);
        copy_trunc(message, message_size, m ? m : "");
        return 0;
}

int cn_s3_initiate_parse(const void *xml, size_t n, char **ret_upload_id) {
        _cleanup_(xml_freep) xmlDoc *doc = NULL;
        xmlNode *root;
        char *id = NULL;
        int r;

        r = xml_load(xml, n, "InitiateMultipartUploadResult", &doc, &root);
        if (r < 0)
                return r;
        if (child_text(root, "UploadId", 1024, &id) < 0)
                return -EPROTO;
        if (!*id) {
                free(id);
                return -EPROTO;
        }
        *ret_upload_id = id;
        return 0;
}

/* Append s with XML's five special characters escaped. */
static int xml_escape(CnBuf *out, const char *s) {
        int r = 0;
        for (; *s && r >= 0; s++) {
                switch (*s) {
                case '&':
                        r = cn_buf_append(out, "&amp;", 5);
                        break;
                case '<':
                        r = cn_buf_append(out, "&lt;", 4);
                        break;
                case '>':
                        r = cn_buf_append(out, "&gt;", 4);
                        break;
                case '"':
                        r = cn_buf_append(out, "&quot;", 6);
                        break;
                case '\'':
                        r = cn_buf_append(out, "&apos;", 6);
                        break;
                default:
                        r = cn_buf_append(out, s, 1);
                }
        }
        return r;
}

int cn_s3_complete_body(char *const *etags, size_t n, CnBuf *out) {
        static const char head[] = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
        static const char tail[] = "</CompleteMultipartUpload>";
        char num[64];
        int r;

        r = cn_buf_append(out, head, strlen(head));
        for (size_t i = 0; i < n && r >= 0; i++) {
                int k = snprintf(num, sizeof num, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1);
                if ((r = cn_buf_append(out, num, (size_t) k)) < 0 || (r = xml_escape(out, etags[i])) < 0)
                        break;
                r = cn_buf_append(out, "</ETag></Part>", 14);
        }
        if (r >= 0)
                r = cn_buf_append(out, tail, strlen(tail));
        return r;
}
