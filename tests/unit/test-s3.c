/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The pure parts of the S3 backend (storage/s3-proto.h): the canonical
 * query string libcurl signs, the credentials file reader, bucket names,
 * and the XML documents S3 and Cloud Storage send, from fixture texts. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "s3-proto.h"

static void assert_query(const CnS3Param *p, size_t n, const char *want) {
        char *q = NULL;
        cr_assert_eq(cn_s3_query_build(p, n, &q), 0);
        cr_assert_str_eq(q, want);
        free(q);
}

Test(s3_query, parameters_are_sorted_and_encoded) {
        const CnS3Param p[] = {
                {"prefix", "a b/c~d"},
                {"list-type", "2"},
                {"continuation-token", "1x+y/z=="},
        };
        assert_query(p, CN_ELEMENTSOF(p), "continuation-token=1x%2By%2Fz%3D%3D&list-type=2&prefix=a%20b%2Fc~d");
}

Test(s3_query, valueless_parameters_get_an_equals_sign) {
        assert_query((const CnS3Param[]){{"uploads", NULL}}, 1, "uploads=");
        assert_query((const CnS3Param[]){{"uploadId", "abc"}, {"partNumber", "10"}}, 2, "partNumber=10&uploadId=abc");
        assert_query(NULL, 0, "");
}

Test(s3_query, byte_order_not_locale_order) {
        /* upper case sorts before lower case; equal names sort by value */
        const CnS3Param p[] = {{"b", "2"}, {"B", "1"}, {"b", "1"}};
        assert_query(p, CN_ELEMENTSOF(p), "B=1&b=1&b=2");
}

Test(s3_query, utf8_and_reserved_bytes_are_percent_encoded_upper_case) {
        assert_query((const CnS3Param[]){{"prefix", "caf\xc3\xa9&x=*"}}, 1, "prefix=caf%C3%A9%26x%3D%2A");
}

Test(s3_sha256, known_answers) {
        char hex[CN_S3_SHA256_HEX_BYTES];
        cn_s3_sha256_hex("", 0, hex);
        cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        cn_s3_sha256_hex("abc", 3, hex);
        cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* ---- credentials ----------------------------------------------------------- */

static const char creds_file[] = "# written by aws configure\n"
                                 "[default]\n"
                                 "aws_access_key_id = AKIDEFAULT\n"
                                 "aws_secret_access_key=secret/with+chars=\r\n"
                                 "\n"
                                 "; another profile\n"
                                 "[ backup ]\n"
                                 "  aws_access_key_id =  AKIBACKUP  \n"
                                 "aws_secret_access_key = s2\n"
                                 "aws_session_token = tok\n"
                                 "region = eu-west-1\n"
                                 "[nosecret]\n"
                                 "aws_access_key_id = AKINOSECRET\n";

static int parse(const char *text, const char *profile, CnS3Creds *c) {
        return cn_s3_credentials_parse(text, strlen(text), profile, c);
}

Test(s3_credentials, default_profile) {
        CnS3Creds c = {};
        cr_assert_eq(parse(creds_file, "default", &c), 0);
        cr_assert_str_eq(c.key_id, "AKIDEFAULT");
        cr_assert_str_eq(c.secret, "secret/with+chars=");
        cr_assert_null(c.token);
        cn_s3_creds_done(&c);
        cr_assert_null(c.key_id);
}

Test(s3_credentials, named_profile_with_token_and_blanks) {
        CnS3Creds c = {};
        cr_assert_eq(parse(creds_file, "backup", &c), 0);
        cr_assert_str_eq(c.key_id, "AKIBACKUP");
        cr_assert_str_eq(c.secret, "s2");
        cr_assert_str_eq(c.token, "tok");
        cn_s3_creds_done(&c);
}

Test(s3_credentials, missing_profile_or_key) {
        CnS3Creds c = {};
        cr_assert_eq(parse(creds_file, "nothere", &c), -ENOENT);
        cr_assert_eq(parse(creds_file, "nosecret", &c), -ENOKEY);
        cr_assert_eq(parse("", "default", &c), -ENOENT);
        cr_assert_null(c.key_id);
}

Test(s3_credentials, malformed_or_oversized_files_fail_cleanly) {
        CnS3Creds c = {};
        cr_assert_eq(parse("[default\naws_access_key_id = x\n", "default", &c), -EPROTO);
        cr_assert_eq(parse("[default]\njust words\n", "default", &c), -EPROTO);

        size_t n = 5000;
        char *long_line = malloc(n + 32);
        cr_assert_not_null(long_line);
        strcpy(long_line, "[default]\naws_access_key_id = ");
        memset(long_line + strlen(long_line), 'k', n - strlen(long_line));
        long_line[n] = 0;
        cr_assert_eq(parse(long_line, "default", &c), -EPROTO);
        free(long_line);

        cr_assert_eq(cn_s3_credentials_parse("[default]", CN_S3_CREDENTIALS_FILE_MAX + 1, "default", &c), -EPROTO);
        /* an embedded NUL is no text file */
        cr_assert_eq(cn_s3_credentials_parse("[default]\n\0x = y\n", 16, "default", &c), -EPROTO);
        cr_assert_null(c.key_id);
}

/* ---- bucket names -------------------------------------------------------------- */

Test(s3_bucket, names_and_virtual_host_eligibility) {
        cr_assert(cn_s3_bucket_valid("my-bucket"));
        cr_assert(cn_s3_bucket_valid("My.Old_Bucket"));
        cr_assert(!cn_s3_bucket_valid("ab"));
        cr_assert(!cn_s3_bucket_valid("a/b"));
        cr_assert(!cn_s3_bucket_valid("bad bucket"));
        cr_assert(!cn_s3_bucket_valid("host:80"));

        cr_assert(cn_s3_bucket_dns_ok("my-bucket-1"));
        cr_assert(!cn_s3_bucket_dns_ok("my.bucket")); /* breaks *.s3 TLS wildcards */
        cr_assert(!cn_s3_bucket_dns_ok("MyBucket"));
        cr_assert(!cn_s3_bucket_dns_ok("-bucket"));
        cr_assert(!cn_s3_bucket_dns_ok("bucket-"));
        cr_assert(!cn_s3_bucket_dns_ok("a_b_c"));
        char longname[65];
        memset(longname, 'a', 64);
        longname[64] = 0;
        cr_assert(!cn_s3_bucket_dns_ok(longname));
        cr_assert(cn_s3_bucket_valid(longname));
}

/* ---- listings -------------------------------------------------------------------- */

static int list(const char *xml, CnS3ListPage *p) {
        return cn_s3_list_parse(xml, strlen(xml), p);
}

Test(s3_list, v2_page_with_continuation) {
        static const char xml[] =
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                "<Name>bucket</Name><Prefix>repo/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
                "<IsTruncated>true</IsTruncated>"
                "<Contents><Key>repo/config</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>"
                "<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>"
                "<StorageClass>STANDARD</StorageClass></Contents>"
                "<Contents><Key>repo/data/a&amp;b</Key><Size>0</Size></Contents>"
                "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
                "</ListBucketResult>";
        CnS3ListPage p = {};

        cr_assert_eq(list(xml, &p), 0);
        cr_assert(p.v2);
        cr_assert(p.truncated);
        cr_assert_eq(p.n, 2);
        cr_assert_str_eq(p.entries[0].key, "repo/config");
        cr_assert_eq(p.entries[0].size, 434234);
        cr_assert_str_eq(p.entries[1].key, "repo/data/a&b");
        cr_assert_eq(p.entries[1].size, 0);
        cr_assert_str_eq(p.next, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
        cn_s3_list_page_done(&p);
        cr_assert_null(p.entries);
}

Test(s3_list, v1_page_continues_at_next_marker_or_last_key) {
        static const char with_marker[] = "<ListBucketResult><Name>b</Name><Prefix></Prefix><Marker></Marker>"
                                          "<NextMarker>k2</NextMarker><IsTruncated>true</IsTruncated>"
                                          "<Contents><Key>k1</Key><Size>1</Size></Contents>"
                                          "<Contents><Key>k2</Key><Size>2</Size></Contents>"
                                          "</ListBucketResult>";
        static const char without[] = "<ListBucketResult><Name>b</Name><Marker></Marker>"
                                      "<IsTruncated>true</IsTruncated>"
                                      "<Contents><Key>k1</Key><Size>1</Size></Contents>"
                                      "<Contents><Key>k3</Key><Size>3</Size></Contents>"
                                      "</ListBucketResult>";
        CnS3ListPage p = {};

        cr_assert_eq(list(with_marker, &p), 0);
        cr_assert(!p.v2);
        cr_assert_str_eq(p.next, "k2");
        cn_s3_list_page_done(&p);
        cr_assert_eq(list(without, &p), 0);
        cr_assert(!p.v2);
        cr_assert_str_eq(p.next, "k3");
        cr_assert_eq(p.entries[1].size, 3);
        cn_s3_list_page_done(&p);
}

Test(s3_list, empty_last_page) {
        CnS3ListPage p = {};
        cr_assert_eq(list("<ListBucketResult><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
                          "</ListBucketResult>",
                          &p),
                     0);
        cr_assert_eq(p.n, 0);
        cr_assert(!p.truncated);
        cr_assert(p.v2);
        cr_assert_null(p.next);
        cn_s3_list_page_done(&p);
}

Test(s3_list, malformed_documents_are_eproto) {
        static const char *const bad[] = {
                "",
                "not xml at all",
                "<ListBucketResult><IsTruncated>false</IsTruncated>", /* unclosed */
                "<Error><Code>InternalError</Code></Error>",          /* other root */
                /* no IsTruncated */
                "<ListBucketResult><Contents><Key>k</Key><Size>1</Size></Contents></ListBucketResult>",
                "<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
                "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>-1</Size>"
                "</Contents></ListBucketResult>",
                "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>99999999999999999999"
                "</Size></Contents></ListBucketResult>",
                "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Size>1</Size></Contents>"
                "</ListBucketResult>", /* no Key */
                "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key></Key><Size>1</Size></Contents>"
                "</ListBucketResult>", /* empty Key */
                "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a<b/>c</Key><Size>1</Size>"
                "</Contents></ListBucketResult>", /* markup in a Key */
                "<ListBucketResult><KeyCount>1</KeyCount><IsTruncated>true</IsTruncated>"
                "<Contents><Key>k</Key><Size>1</Size></Contents></ListBucketResult>",   /* v2 truncated, no token */
                "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>", /* v1 truncated, nothing */
                /* entities from a DTD are refused outright */
                "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>"
                "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>&b;</Key><Size>1</Size>"
                "</Contents></ListBucketResult>",
                "<?xml version=\"1.0\"?><!DOCTYPE l SYSTEM \"http://127.0.0.1:1/x.dtd\">"
                "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>",
        };
        for (size_t i = 0; i < CN_ELEMENTSOF(bad); i++) {
                CnS3ListPage p = {};
                cr_assert_eq(list(bad[i], &p), -EPROTO, "case %zu", i);
                cr_assert_null(p.entries);
                cr_assert_eq(p.n, 0);
        }
}

Test(s3_list, entry_count_is_capped) {
        size_t n = CN_S3_LIST_MAX_ENTRIES + 1;
        static const char entry[] = "<Contents><Key>k</Key><Size>1</Size></Contents>";
        size_t len = 128 + n * strlen(entry);
        char *xml = malloc(len);
        cr_assert_not_null(xml);
        strcpy(xml, "<ListBucketResult><IsTruncated>false</IsTruncated>");
        for (size_t i = 0; i < n; i++)
                strcat(xml, entry);
        strcat(xml, "</ListBucketResult>");
        CnS3ListPage p = {};
        cr_assert_eq(list(xml, &p), -EPROTO);
        free(xml);
        cr_assert_eq(cn_s3_list_parse("<ListBucketResult/>", CN_S3_XML_MAX + 1, &p), -EPROTO);
}

/* ---- errors, multipart ------------------------------------------------------------ */

Test(s3_error, code_and_message) {
        static const char xml[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                  "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist"
                                  "</Message><BucketName>nope</BucketName><RequestId>4442587FB7D0A2F9</RequestId>"
                                  "</Error>";
        char code[32], msg[16];

        cr_assert_eq(cn_s3_error_parse(xml, strlen(xml), code, sizeof code, msg, sizeof msg), 0);
        cr_assert_str_eq(code, "NoSuchBucket");
        cr_assert_str_eq(msg, "The specified b"); /* truncated to fit */
}

Test(s3_error, message_is_optional_and_control_characters_are_blanked) {
        char code[32], msg[64];
        static const char a[] = "<Error><Code>SlowDown</Code></Error>";
        static const char b[] = "<Error><Code>X</Code><Message>line1\nline2\tx&#13;</Message></Error>";

        cr_assert_eq(cn_s3_error_parse(a, strlen(a), code, sizeof code, msg, sizeof msg), 0);
        cr_assert_str_eq(code, "SlowDown");
        cr_assert_str_eq(msg, "");
        cr_assert_eq(cn_s3_error_parse(b, strlen(b), code, sizeof code, msg, sizeof msg), 0);
        cr_assert_str_eq(msg, "line1 line2 x ");
        /* XML 1.0 has no escape characters at all */
        static const char c[] = "<Error><Code>X</Code><Message>\x1b[31m</Message></Error>";
        cr_assert_eq(cn_s3_error_parse(c, strlen(c), code, sizeof code, msg, sizeof msg), -EPROTO);
}

Test(s3_error, non_error_documents_are_eproto) {
        static const char *const bad[] = {
                "",
                "<html><body>503 Service Unavailable</body></html>",
                "<Error><Message>no code</Message></Error>",
                "<Error><Code></Code></Error>",
                "<Error><Code>A</Code>",
        };
        char code[32] = "unchanged", msg[32];
        for (size_t i = 0; i < CN_ELEMENTSOF(bad); i++)
                cr_assert_eq(cn_s3_error_parse(bad[i], strlen(bad[i]), code, sizeof code, msg, sizeof msg), -EPROTO,
                             "case %zu", i);
        cr_assert_str_eq(code, "unchanged");
}

Test(s3_multipart, upload_id_from_initiate_result) {
        static const char xml[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                                  "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                                  "<Bucket>b</Bucket><Key>k</Key>"
                                  "<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>"
                                  "</InitiateMultipartUploadResult>";
        char *id = NULL;

        cr_assert_eq(cn_s3_initiate_parse(xml, strlen(xml), &id), 0);
        cr_assert_str_eq(id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
        free(id);
        static const char empty[] =
                "<InitiateMultipartUploadResult><UploadId></UploadId></InitiateMultipartUploadResult>";
        cr_assert_eq(cn_s3_initiate_parse(empty, strlen(empty), &id), -EPROTO);
        static const char none[] = "<InitiateMultipartUploadResult><Key>k</Key></InitiateMultipartUploadResult>";
        cr_assert_eq(cn_s3_initiate_parse(none, strlen(none), &id), -EPROTO);
}

Test(s3_multipart, complete_body_lists_parts_in_order_with_escaped_etags) {
        char *etags[] = {"\"a54357aff0632cce46d942af68356b38\"", "\"0c78aef83f66abc1fa1e8477f296d394-2\"", "x<&>"};
        CnBuf b = CN_BUF_INIT(4096);

        cr_assert_eq(cn_s3_complete_body(etags, 3, &b), 0);
        cr_assert_eq(cn_buf_append(&b, "", 1), 0);
        cr_assert_str_eq(
                (char *) b.data,
                "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                "<Part><PartNumber>1</PartNumber><ETag>&quot;a54357aff0632cce46d942af68356b38&quot;</ETag></Part>"
                "<Part><PartNumber>2</PartNumber><ETag>&quot;0c78aef83f66abc1fa1e8477f296d394-2&quot;</ETag>"
                "</Part>"
                "<Part><PartNumber>3</PartNumber><ETag>x&lt;&amp;&gt;</ETag></Part>"
                "</CompleteMultipartUpload>");
        cn_buf_done(&b);
}

/* ---- addressing ------------------------------------------------------------------- */

static void assert_base_url(const char *endpoint, const char *bucket, bool virtual_host, const char *want) {
        char *u = NULL;
        cr_assert_eq(cn_s3_base_url(endpoint, "s3.eu-west-1.amazonaws.com", bucket, virtual_host, &u), 0, "%s",
                     endpoint ? endpoint : "(aws)");
        cr_assert_str_eq(u, want);
        free(u);
}

Test(s3_addressing, virtual_host_on_aws_for_dns_names_path_style_elsewhere) {
        bool v = false;

        cr_assert_eq(cn_s3_virtual_host(NULL, false, "my-bucket", &v), 0);
        cr_assert(v);
        cr_assert_eq(cn_s3_virtual_host(NULL, false, "my.bucket", &v), 0);
        cr_assert(!v);
        cr_assert_eq(cn_s3_virtual_host(NULL, true, "my-bucket", &v), 0);
        cr_assert(!v);
        cr_assert_eq(cn_s3_virtual_host("path", false, "my-bucket", &v), 0);
        cr_assert(!v);
        cr_assert_eq(cn_s3_virtual_host("virtual", true, "my-bucket", &v), 0);
        cr_assert(v);
        cr_assert_eq(cn_s3_virtual_host("virtual", false, "My_Bucket", &v), -EDOM);
        cr_assert_eq(cn_s3_virtual_host("dns", false, "my-bucket", &v), -EINVAL);
}

Test(s3_addressing, base_urls) {
        assert_base_url(NULL, "my-bucket", true, "https://my-bucket.s3.eu-west-1.amazonaws.com");
        assert_base_url(NULL, "my.bucket", false, "https://s3.eu-west-1.amazonaws.com/my.bucket");
        assert_base_url("http://127.0.0.1:9000", "b1b", false, "http://127.0.0.1:9000/b1b");
        assert_base_url("http://s3.localhost:9000/", "b1b", true, "http://b1b.s3.localhost:9000");
        assert_base_url("https://[::1]:8443", "b1b", false, "https://[::1]:8443/b1b");
}

Test(s3_addressing, malformed_endpoints_are_einval) {
        static const char *const bad[] = {
                "ftp://host",       "host:9000",    "http://",    "https:///",      "http://h/path",
                "http://user@host", "http://h?x=1", "http://h h", "http://h/#frag", "",
        };
        char *u = NULL;
        for (size_t i = 0; i < CN_ELEMENTSOF(bad); i++)
                cr_assert_eq(cn_s3_base_url(bad[i], "x", "bucket", false, &u), -EINVAL, "\"%s\"", bad[i]);
        cr_assert_null(u);
}
