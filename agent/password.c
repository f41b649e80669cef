/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Passwords never come from argv: from the environment, a file, or the terminal. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "crypto.h"
#include "macro.h"

#define MAX_PASSWORD 4096

static int secret_from(const char *s, size_t n, char **ret, size_t *ret_len) {
        char *p = (char *) cn_secret_new(n + 1);
        if (!p)
                return -ENOMEM;
        memcpy(p, s, n);
        p[n] = 0;
        *ret = p;
        *ret_len = n;
        return 0;
}

/* What a non-regular file is, for the message that refuses it. */
static const char *file_kind(mode_t m) {
        return S_ISFIFO(m) ? "a FIFO" : S_ISDIR(m) ? "a directory" : S_ISCHR(m) ? "a character device" :
               S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

/* The first line of path, without its newline. Only a regular file: a FIFO
 * with no writer would block for ever, /dev/zero never ends. -EFTYPE-like
 * refusals come back as -EINVAL with *ret_kind set; a first line longer
 * than MAX_PASSWORD is -ENAMETOOLONG. */
static int read_password_file(const char *path, char **ret, size_t *ret_len, const char **ret_kind) {
        struct stat st;
        /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode)) {
                *ret_kind = file_kind(st.st_mode);
                return -EINVAL;
        }
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
                return -errno;
        char *p = (char *) cn_secret_new(MAX_PASSWORD + 2);
        if (!p)
                return -ENOMEM;
        size_t n = 0;
        /* One byte past the cap: tells a longest line from a longer one. */
        while (n < MAX_PASSWORD + 1) {
                ssize_t k = read(fd, p + n, MAX_PASSWORD + 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        int e = -errno;
                        cn_secret_free(p);
                        return e;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        char *nl = memchr(p, '\n', n);
        if (nl)
                n = (size_t) (nl - p);
        if (n > MAX_PASSWORD) {
                cn_secret_free(p);
                return -ENAMETOOLONG;
        }
        if (n > 0 && p[n - 1] == '\r')
                n--;
        p[n] = 0;
        *ret = p;
        *ret_len = n;
        return 0;
}

static int prompt(const char *what, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
        struct termios old, quiet;
        if (fd < 0)
                return -ENOTTY;
        if (tcgetattr(fd, &old) < 0)
                return -ENOTTY;
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t) (ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        (void) !write(fd, what, strlen(what));
        tcsetattr(fd, TCSAFLUSH, &quiet);
        char *p = (char *) cn_secret_new(MAX_PASSWORD + 1);
        size_t n = 0;
        int r = 0;
        if (!p)
                r = -ENOMEM;
        while (r == 0 && n < MAX_PASSWORD) {
                char c;
                ssize_t k = read(fd, &c, 1);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0 || c == '\n')
                        break;
                p[n++] = c;
        }
        tcsetattr(fd, TCSAFLUSH, &old);
        (void) !write(fd, "\n", 1);
        if (r < 0)
                return r;
        p[n] = 0;
        *ret = p;
        *ret_len = n;
        return 0;
}

static int prompt_twice(const char *what, char **ret, size_t *ret_len) {
        char *a, *b;
        size_t an, bn;
        int r = prompt(what, &a, &an);
        if (r < 0)
                return r;
        r = prompt("enter it again: ", &b, &bn);
        if (r < 0) {
                cn_secret_free(a);
                return r;
        }
        bool same = an == bn && cn_memeq(a, b, an);
        cn_secret_free(b);
        if (!same) {
                cn_secret_free(a);
                return -EINVAL;
        }
        *ret = a;
        *ret_len = an;
        return 0;
}

/* A secret from file, else the environment variable env, else the terminal
 * (asked twice when confirm). what names it in messages ("password",
 * "new password"); hint says where else it can come from. */
static int get_secret(const char *file, const char *env, bool confirm, const char *what, const char *hint,
                      char **ret, size_t *ret_len) {
        const char *val = getenv(env);
        char question[64];
        int r;

        if (file) {
                const char *kind = NULL;
                r = read_password_file(file, ret, ret_len, &kind);
                if (kind) {
                        cli_error("the %s file %s is %s, not a regular file; give a file (or use %s)", what, file,
                                  kind, env);
                        return CLI_EXIT_USAGE;
                }
                if (r == -ENAMETOOLONG) {
                        cli_error("the first line of the %s file %s is longer than %d bytes; is it the right file?",
                                  what, file, MAX_PASSWORD);
                        return CLI_EXIT_USAGE;
                }
                if (r < 0) {
                        cli_error("cannot read the %s file %s: %s", what, file, strerror(-r));
                        return CLI_EXIT_ERROR;
                }
        } else if (val) {
                if (secret_from(val, strlen(val), ret, ret_len) < 0)
                        return CLI_EXIT_ERROR;
        } else {
                snprintf(question, sizeof question, "%s: ", what);
                r = confirm ? prompt_twice(question, ret, ret_len) : prompt(question, ret, ret_len);
                if (r == -ENOTTY) {
                        cli_error("no %s: %s (no terminal to ask on)", what, hint);
                        return CLI_EXIT_USAGE;
                }
                if (r == -EINVAL) {
                        cli_error("the two entries differ; nothing was changed");
                        return CLI_EXIT_USAGE;
                }
                if (r < 0)
                        return CLI_EXIT_ERROR;
        }
        if (*ret_len == 0) {
                cn_secret_free(*ret);
                *ret = NULL;
                cli_error("the %s is empty; an empty password protects nothing", what);
                return CLI_EXIT_USAGE;
        }
        return 0;
}

int cli_password(Cli *cli, bool confirm, char **ret, size_t *ret_len) {
        return get_secret(cli->password_file, "CAIRN_PASSWORD", confirm,
                          confirm ? "new repository password" : "repository password",
                          "set CAIRN_PASSWORD, CAIRN_PASSWORD_FILE or --password-file", ret, ret_len);
}

int cli_new_password(const char *file, char **ret, size_t *ret_len) {
        return get_secret(file, "CAIRN_NEW_PASSWORD", true, "new password",
                          "use --new-password-file or CAIRN_NEW_PASSWORD", ret, ret_len);
}
