/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "webdav-proto.h"

#include <curl/curl.h>
#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlreader.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "macro.h"
#include "remote.h"

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void) {
        xmlInitParser();
}

static bool is_dav(const xmlNode *n, const char *name) {
        return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href && strcmp((const char *) n->ns->href, "DAV:") == 0 &&
               strcmp((const char *) n->name, name) == 0;
}

static const xmlNode *dav_child(const xmlNode *n, const char *name) {
        for (const xmlNode *c = n->children; c; c = c->next)
                if (is_dav(c, name))
                        return c;
        return NULL;
}

/* Text of an element, trimmed, malloc'd ("" if empty). */
static char *node_text(const xmlNode *n) {
        xmlChar *t = xmlNodeGetContent(n);
        if (!t)
                return strdup("");
        const char *s = (const char *) t;
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
                s++;
        size_t len = strlen(s);
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n'))
                len--;
        char *r = strndup(s, len);
        xmlFree(t);
        return r;
}

static bool parse_u64(const char *s, uint64_t *ret) {
        uint64_t v = 0;
        if (!*s)
                return false;
        for (; *s; s++) {
                if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t) (*s - '0')) / 10)
                        return false;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        *ret = v;
        return true;
}

/* The path of a href (absolute path or full URL, percent-encoded), decoded. */
static int href_path(const char *href, char **ret) {
        const char *p = href;
        const char *s = strstr(href, "://");

        if (s && s < href + strcspn(href, "/")) {
                p = strchr(s + 3, '/');
                if (!p)
                        p = "/";
        }
        return cn_remote_decode_dup(p, strlen(p), ret);
}

static int parse_response(const xmlNode *resp, CnWebdavEntryFn fn, void *userdata) {
        const xmlNode *href = dav_child(resp, "href");
        CnWebdavEntry e = {.mtime = -1};
        _cleanup_free_ char *path = NULL;
        int r;

        if (!href) {
                cn_backend_set_error("list: PROPFIND response without href");
                return -EPROTO;
        }
        _cleanup_free_ char *h = node_text(href);
        if (!h)
                return -ENOMEM;
        r = href_path(h, &path);
        if (r < 0) {
                cn_backend_set_error("list: malformed href in PROPFIND answer");
                return r == -ENOMEM ? r : -EPROTO;
        }
        e.path = path;
        for (const xmlNode *ps = resp->children; ps; ps = ps->next) {
                if (!is_dav(ps, "propstat"))
                        continue;
                const xmlNode *st = dav_child(ps, "status"), *prop = dav_child(ps, "prop");
                _cleanup_free_ char *sts = st ? node_text(st) : NULL;
                if (!sts || !prop || !strstr(sts, " 200"))
                        continue;
                const xmlNode *rt = dav_child(prop, "resourcetype");
                if (rt && dav_child(rt, "collection"))
                        e.collection = true;
                const xmlNode *cl = dav_child(prop, "getcontentlength");
                if (cl) {
                        _cleanup_free_ char *t = node_text(cl);
                        if (!t || !parse_u64(t, &e.size)) {
                                cn_backend_set_error("list: malformed getcontentlength in PROPFIND answer");
                                return t ? -EPROTO : -ENOMEM;
                        }
                        e.has_size = true;
                }
                const xmlNode *lm = dav_child(prop, "getlastmodified");
                if (lm) {
                        _cleanup_free_ char *t = node_text(lm);
                        if (t) {
                                time_t m = curl_getdate(t, NULL);
                                if (m >= 0)
                                        e.mtime = m;
                        }
                }
        }
        return fn(&e, userdata);
}

int cn_webdav_propfind_parse(const void *xml, size_t n, const char *what, CnWebdavEntryFn fn, void *userdata) {
        int r;

        if (n > CN_WEBDAV_PROPFIND_MAX)
                return -EPROTO;
        pthread_once(&xml_once, xml_init);
        /* Streamed: only one <response> subtree is in memory at a time. */
        xmlTextReader *xr = xmlReaderForMemory(xml, (int) n, "propfind.xml", NULL,
                                               XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!xr)
                return -ENOMEM;
        bool seen_root = false;
        int k = xmlTextReaderRead(xr);
        r = 0;
        while (k == 1 && r >= 0) {
                if (xmlTextReaderNodeType(xr) != XML_READER_TYPE_ELEMENT) {
                        k = xmlTextReaderRead(xr);
                        continue;
                }
                const xmlChar *ns = xmlTextReaderConstNamespaceUri(xr), *ln = xmlTextReaderConstLocalName(xr);
                bool dav = ns && strcmp((const char *) ns, "DAV:") == 0;
                if (!seen_root) {
                        if (!dav || !ln || strcmp((const char *) ln, "multistatus") != 0) {
                                cn_backend_set_error("list \"%.80s\": PROPFIND answer is not a DAV:multistatus", what);
                                r = -EPROTO;
                                break;
                        }
                        seen_root = true;
                        k = xmlTextReaderRead(xr);
                        continue;
                }
                if (dav && ln && strcmp((const char *) ln, "response") == 0 && xmlTextReaderDepth(xr) == 1) {
                        const xmlNode *node = xmlTextReaderExpand(xr);
                        if (!node) {
                                k = -1;
                                break;
                        }
                        r = parse_response(node, fn, userdata);
                        if (r < 0)
                                break;
                        k = xmlTextReaderNext(xr);
                        continue;
                }
                k = xmlTextReaderRead(xr);
        }
        xmlFreeTextReader(xr);
        if (r >= 0 && (k < 0 || !seen_root)) {
                cn_backend_set_error("list \"%.80s\": malformed XML in PROPFIND answer", what);
                r = -EPROTO;
        }
        return r;
}
