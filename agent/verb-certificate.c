/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "certificate.h"
#include "cli.h"
#include "fileio.h"
#include "hex.h"
#include "macro.h"

static void help(void) {
        fputs("Usage: cairn [-r REPO] certificate list [--json]\n"
              "       cairn [-r REPO] certificate show ID [-o FILE]\n"
              "       cairn certificate verify FILE --processor-key PUB [--json]\n"
              "\n"
              "An erasure certificate records what one erasure did, signed with the processor's\n"
              "Ed25519 key. list and show read the certificates stored in the repository; show\n"
              "prints (or writes to FILE) the certificate file itself, byte for byte. verify\n"
              "checks a certificate file offline, with no repository and no password: PUB is\n"
              "the processor's public key as 'cairn processor show' prints it (64 hex digits),\n"
              "or a file holding it. FILE - reads standard input.\n"
              "\n"
              "Exit codes of verify: 0 valid, 1 not valid (the reason is printed), 2 usage.\n",
              stdout);
}

static const char *controller_text(Cli *cli, const CnCertificate *c, char buf[CN_UUID_HEX + 1]) {
        cn_hex_encode(c->controller, CN_UUID_BYTES, buf);
        if (cli->rp) {
                CnController *ctl = cn_repo_find_controller(cli->rp, buf);
                if (ctl && strcmp(ctl->id_hex, buf) == 0)
                        return ctl->name;
        }
        return buf;
}

static json_t *summary_json(const CnCertificate *c) {
        char ctl[CN_UUID_HEX + 1], t[3][CN_RFC3339_BYTES];
        cn_hex_encode(c->controller, CN_UUID_BYTES, ctl);
        cn_certificate_time(c->requested_at, t[0]);
        cn_certificate_time(c->completed_at, t[1]);
        cn_certificate_time(c->cryptographically_complete_at, t[2]);
        return json_pack("{s:s, s:s%, s:{s:s}, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "id", c->id_hex, "short_id",
                         c->id_hex, (size_t) 8, "controller", "id", ctl, "scope", cn_certificate_scope_name(c->scope),
                         "status", cn_certificate_status_name(c->status), "reference", c->reference, "reason",
                         c->reason, "requested_at", t[0], "completed_at", t[1], "cryptographically_complete_at",
                         c->cryptographically_complete ? json_string(t[2]) : json_null());
}

static int list(Cli *cli) {
        _cleanup_(cn_certificates_done) CnCertificates l = {};
        size_t damaged = 0;
        int r = cli_open(cli, true);
        if (r != 0)
                return r;
        r = cn_certificates_load(cli->rp, cli_damaged, cli, &l, &damaged);
        if (r < 0)
                return cli_repo_error(cli, "cannot list certificates", r);
        if (damaged)
                cli_warn("%zu certificate object%s could not be read and %s not listed", damaged,
                         damaged == 1 ? "" : "s", damaged == 1 ? "is" : "are");
        if (cli->json) {
                json_t *a = json_array();
                for (size_t i = 0; a && i < l.n; i++)
                        if (json_array_append_new(a, summary_json(&l.v[i])) < 0) {
                                json_decref(a);
                                a = NULL;
                        }
                return cli_json_print(a);
        }
        printf("%-8s  %-19s  %-10s  %-8s  %-16s  %s\n", "ID", "Completed", "Scope", "Status", "Controller",
               "Reference");
        for (size_t i = 0; i < l.n; i++) {
                const CnCertificate *c = &l.v[i];
                char t[64], ctl[CN_UUID_HEX + 1];
                printf("%.8s  %-19s  %-10s  %-8s  %-16s  %s\n", c->id_hex, cli_time(c->completed_at, t),
                       cn_certificate_scope_name(c->scope), cn_certificate_status_name(c->status),
                       CLI_ESC(controller_text(cli, c, ctl)), CLI_ESC(c->reference));
        }
        printf("%zu certificate%s\n", l.n, l.n == 1 ? "" : "s");
        return CLI_EXIT_OK;
}

static int show(Cli *cli, const char *spec, const char *out) {
        _cleanup_(cn_buf_donep) CnBuf file = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        char id[CN_ID_HEX + 1];
        int r = cli_open(cli, true);
        if (r != 0)
                return r;
        r = cn_certificate_find(cli->rp, spec, id);
        if (r < 0 && r != -EINVAL)
                return cli_repo_error(cli, "cannot list certificates", r);
        if (r != 1) {
                if (r == -EINVAL)
                        cli_error("%s is not a certificate id: give the first hex digits of one ('cairn "
                                  "certificate list' lists them)",
                                  CLI_ESC(spec));
                else if (r == 0)
                        cli_error("no certificate %s; 'cairn certificate list' lists them", CLI_ESC(spec));
                else
                        cli_error("ambiguous: %d certificates start with %s; give more digits of the id ('cairn "
                                  "certificate list --json' shows them whole)",
                                  r, CLI_ESC(spec));
                return CLI_EXIT_ERROR;
        }
        r = cn_certificate_get(cli->rp, id, &file, NULL);
        if (r == -EBADMSG || r == -E2BIG || r == -EPROTONOSUPPORT) {
                cli_error("certificate %s in the repository is %s; put certificates/%s back from a copy of the "
                          "repository, or use the certificate file the erasure wrote",
                          id, cli_damage_reason(r), id);
                return CLI_EXIT_ERROR;
        }
        if (r < 0)
                return cli_repo_error(cli, "cannot read the certificate", r);
        if (!out || strcmp(out, "-") == 0) {
                if (fwrite(file.data, 1, file.len, stdout) != file.len) {
                        cli_error("writing the certificate to standard output failed");
                        return CLI_EXIT_ERROR;
                }
                return CLI_EXIT_OK;
        }
        r = cn_write_file_atomic_at(AT_FDCWD, out, file.data, file.len, 0644, 0);
        if (r < 0) {
                cli_error("cannot write the certificate to %s: %s; check the path and its directory's permissions",
                          CLI_ESC(out), strerror(-r));
                return CLI_EXIT_ERROR;
        }
        cli_info(cli, "wrote certificate %s to %s\n", id, CLI_ESC(out));
        return CLI_EXIT_OK;
}

/* PUB: 64 hex digits, or a file whose content (blanks around it aside) is. */
static int processor_key(const char *arg, uint8_t pk[CN_SIGN_PUBLIC_BYTES]) {
        _cleanup_(cn_buf_donep) CnBuf b = CN_BUF_INIT(4096);
        char hex[2 * CN_SIGN_PUBLIC_BYTES + 1];

        if (cn_hex_decode(arg, pk, CN_SIGN_PUBLIC_BYTES) == 0)
                return 0;
        int r = cn_read_file_at(AT_FDCWD, arg, &b);
        if (r < 0)
                return cli_usage_error("certificate",
                                       "--processor-key takes the processor's public key, 64 hex digits as 'cairn "
                                       "processor show' prints it, or a file holding it; %s is neither (%s)",
                                       CLI_ESC(arg), r == -E2BIG ? "a file over 4 KiB" : strerror(-r));
        size_t start = 0, end = b.len;
        while (start < end && strchr(" \t\r\n", b.data[start]))
                start++;
        while (end > start && strchr(" \t\r\n", b.data[end - 1]))
                end--;
        if (end - start != sizeof hex - 1)
                return cli_usage_error("certificate",
                                       "%s does not hold a public key: 64 hex digits, as 'cairn "
                                       "processor show' prints it",
                                       CLI_ESC(arg));
        memcpy(hex, b.data + start, end - start);
        hex[end - start] = 0;
        if (cn_hex_decode(hex, pk, CN_SIGN_PUBLIC_BYTES) < 0)
                return cli_usage_error("certificate",
                                       "%s does not hold a public key: 64 hex digits, as 'cairn "
                                       "processor show' prints it",
                                       CLI_ESC(arg));
        return 0;
}

static int verify(Cli *cli, const char *path, const char *key) {
        _cleanup_(cn_buf_donep) CnBuf file = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES + 1);
        _cleanup_(cn_certificate_done) CnCertificate c = {};
        uint8_t pk[CN_SIGN_PUBLIC_BYTES], signer[CN_SIGN_PUBLIC_BYTES];
        char pk_hex[2 * CN_SIGN_PUBLIC_BYTES + 1], ctl[CN_UUID_HEX + 1], proc[CN_UUID_HEX + 1], t[CN_RFC3339_BYTES];
        const char *why = NULL;
        int r;

        if (!key)
                return cli_usage_error("certificate", "certificate verify needs --processor-key PUB: the public key "
                                                      "of the processor that signed it ('cairn processor show')");
        r = processor_key(key, pk);
        if (r != 0)
                return r;
        r = strcmp(path, "-") == 0 ? cn_read_fd_all(STDIN_FILENO, &file) : cn_read_file_at(AT_FDCWD, path, &file);
        if (r >= 0)
                r = cn_certificate_verify(file.data, file.len, pk, &c, &why);
        if (r == -E2BIG) {
                cli_error("%s is not valid: %s; is it the right file?", CLI_ESC(path),
                          why ?: "larger than a certificate may be (16 MiB)");
                return CLI_EXIT_ERROR;
        }
        if (r < 0 && !why) {
                cli_error("cannot read the certificate %s: %s; check the path", CLI_ESC(path), strerror(-r));
                return CLI_EXIT_ERROR;
        }
        if (r == -ENOMEM) {
                cli_error("cannot verify %s: out of memory", CLI_ESC(path));
                return CLI_EXIT_ERROR;
        }
        if (r < 0) {
                if (cli->json)
                        (void) cli_json_print(json_pack("{s:b, s:s}", "valid", 0, "error", why));
                if (r == -EKEYREJECTED && cn_certificate_decode(file.data, file.len, NULL, signer, NULL, NULL) == 0) {
                        cn_hex_encode(signer, CN_SIGN_PUBLIC_BYTES, pk_hex);
                        cli_error("%s is not valid for this processor: %s (it says it was signed by %s); check "
                                  "--processor-key: 'cairn processor show' on the processor's repository prints "
                                  "its key",
                                  CLI_ESC(path), why, pk_hex);
                } else if (r == -EPROTONOSUPPORT)
                        cli_error("%s is not valid: %s: a certificate of a format this cairn (%s) does not know; "
                                  "upgrade cairn",
                                  CLI_ESC(path), why, CAIRN_VERSION);
                else
                        cli_error("%s is not valid: %s; it is damaged, was changed after it was signed, or is not a "
                                  "cairn erasure certificate",
                                  CLI_ESC(path), why);
                return CLI_EXIT_ERROR;
        }
        cn_hex_encode(c.controller, CN_UUID_BYTES, ctl);
        cn_hex_encode(c.processor_id, CN_UUID_BYTES, proc);
        cn_certificate_time(c.completed_at, t);
        if (cli->json) {
                json_t *j = summary_json(&c);
                if (j && (json_object_set_new(j, "valid", json_true()) < 0 ||
                          json_object_set_new(j, "processor",
                                              json_pack("{s:s, s:s}", "id", proc, "name", c.processor_name)) < 0)) {
                        json_decref(j);
                        j = NULL;
                }
                return cli_json_print(j);
        }
        printf("valid: certificate %s: %s erasure for controller %s, %s, completed %s, signed by processor %s "
               "(%s)\n",
               c.id_hex, cn_certificate_scope_name(c.scope), ctl, cn_certificate_status_name(c.status), t, proc,
               CLI_ESC(c.processor_name));
        return CLI_EXIT_OK;
}

int verb_certificate(Cli *cli, int argc, char **argv) {
        enum { OPT_PROCESSOR_KEY = _OPT_GLOBAL_MAX };
        static const struct option opts[] = {
                CLI_GLOBAL_LONG,
                {"processor-key", required_argument, NULL, OPT_PROCESSOR_KEY},
                {"output", required_argument, NULL, 'o'},
                {},
        };
        const char *key = NULL, *out = NULL;
        int c;

        while ((c = cli_next_option(cli, argc, argv, CLI_GLOBAL_SHORT "o:", opts)) >= 0) {
                if (c == 'h') {
                        help();
                        return CLI_EXIT_OK;
                }
                if (c == OPT_PROCESSOR_KEY)
                        key = optarg;
                else if (c == 'o')
                        out = optarg;
                else
                        return cli_usage_error("certificate", "unknown option");
        }
        if (optind >= argc)
                return cli_usage_error("certificate", "give a subcommand: list, show ID or verify FILE");
        const char *sub = argv[optind];
        bool is_list = strcmp(sub, "list") == 0, is_show = strcmp(sub, "show") == 0,
             is_verify = strcmp(sub, "verify") == 0;
        if (!is_list && !is_show && !is_verify)
                return cli_usage_error("certificate", "unknown subcommand '%s'", CLI_ESC(sub));
        if (argc - optind != (is_list ? 1 : 2))
                return cli_usage_error("certificate", is_list   ? "too many arguments"
                                                      : is_show ? "certificate show takes one certificate ID"
                                                                : "certificate verify takes one FILE");
        if (key && !is_verify)
                return cli_usage_error("certificate", "--processor-key is for certificate verify");
        if (out && !is_show)
                return cli_usage_error("certificate", "-o is for certificate show");
        if (is_verify)
                return verify(cli, argv[optind + 1], key);
        if (is_show)
                return show(cli, argv[optind + 1], out);
        return list(cli);
}
