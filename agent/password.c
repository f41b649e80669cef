/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Passwords never come from argv: from the environment, a file, or the terminal. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
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

/* How long a pipe given as password file may take to deliver its line. */
#define PIPE_WAIT_MS 10000

/* The first line of path, without its newline. A regular file, or a pipe or
 * FIFO (`--password-file <(pass show backup)`, /dev/stdin from a pipe): a
 * pipe is read up to its first newline, waiting at most PIPE_WAIT_MS for
 * each piece, so a FIFO nobody writes to is -ETIMEDOUT, never a hang.
 * Anything else (a directory, /dev/zero, a socket) is refused: -EINVAL with
 * *ret_kind set. A first line longer than MAX_PASSWORD is -ENAMETOOLONG. */
static int read_password_file(const char *path, char **ret, size_t *ret_len, const char **ret_kind) {
        struct stat st;
        /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        bool pipe = S_ISFIFO(st.st_mode);
        if (!S_ISREG(st.st_mode) && !pipe) {
                *ret_kind = file_kind(st.st_mode);
                return -EINVAL;
        }
        char *p = (char *) cn_secret_new(MAX_PASSWORD + 2);
        if (!p)
                return -ENOMEM;
        size_t n = 0;
        int r = 0;
        /* One byte past the cap: tells a longest line from a longer one. */
        while (n < MAX_PASSWORD + 1 && !memchr(p, '\n', n)) {
                if (pipe) {
                        /* Linux reports no POLLHUP on a FIFO that never had a
                         * writer: the timeout is what ends the wait then. */
                        struct pollfd pfd = { .fd = fd, .events = POLLIN };
                        int k = poll(&pfd, 1, PIPE_WAIT_MS);
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k < 0) {
                                r = -errno;
                                break;
                        }
                        if (k == 0) {
                                r = -ETIMEDOUT;
                                break;
                        }
                }
                ssize_t k = read(fd, p + n, MAX_PASSWORD + 1 - n);
                if (k < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (k < 0) {
                        r = -errno;
                        break;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        char *nl = memchr(p, '\n', n);
        if (nl)
                n = (size_t) (nl - p);
        else if (r == 0 && n > MAX_PASSWORD)
                r = -ENAMETOOLONG;
        if (r < 0) {
                cn_secret_free(p);
                return r;
        }
        if (n > 0 && p[n - 1] == '\r')
                n--;
        p[n] = 0;
        *ret = p;
        *ret_len = n;
        return 0;
}

/* The terminal a prompt has switched echo off on, for the signal handler:
 * a Ctrl-C (or kill) at the prompt gives the terminal back as it was. */
static const int prompt_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
static volatile int prompt_fd = -1;
static struct termios prompt_saved;

static void prompt_on_signal(int sig) {
        if (prompt_fd >= 0) {
                tcsetattr(prompt_fd, TCSANOW, &prompt_saved);
                (void) !write(prompt_fd, "\n", 1);
        }
        signal(sig, SIG_DFL);
        raise(sig);
}

static int prompt(const char *what, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
        struct sigaction sa = { .sa_handler = prompt_on_signal }, was[CN_ELEMENTSOF(prompt_signals)];
        struct termios old, quiet;
        if (fd < 0)
                return -ENOTTY;
        if (tcgetattr(fd, &old) < 0)
                return -ENOTTY;
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t) (ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        (void) !write(fd, what, strlen(what));
        prompt_saved = old;
        prompt_fd = fd;
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < CN_ELEMENTSOF(prompt_signals); i++)
                sigaction(prompt_signals[i], &sa, &was[i]);
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
        for (size_t i = 0; i < CN_ELEMENTSOF(prompt_signals); i++)
                sigaction(prompt_signals[i], &was[i], NULL);
        prompt_fd = -1;
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
                        cli_error("the %s file %s is %s; give a regular file or a pipe (or use %s)", what,
                                  CLI_ESC(file), kind, env);
                        return CLI_EXIT_USAGE;
                }
                if (r == -ENAMETOOLONG) {
                        cli_error("the first line of the %s file %s is longer than %d bytes; is it the right file?",
                                  what, CLI_ESC(file), MAX_PASSWORD);
                        return CLI_EXIT_USAGE;
                }
                if (r == -ETIMEDOUT) {
                        cli_error("nothing was written to the %s FIFO %s within %d s; start its writer first",
                                  what, CLI_ESC(file), PIPE_WAIT_MS / 1000);
                        return CLI_EXIT_USAGE;
                }
                if (r < 0) {
                        cli_error("cannot read the %s file %s: %s", what, CLI_ESC(file), strerror(-r));
                        return CLI_EXIT_ERROR;
                }
        } else if (val) {
                r = secret_from(val, strlen(val), ret, ret_len);
                if (r < 0) {
                        cli_error("cannot take the %s from %s: %s", what, env, strerror(-r));
                        return CLI_EXIT_ERROR;
                }
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
                if (r < 0) {
                        cli_error("cannot read the %s from the terminal: %s", what, strerror(-r));
                        return CLI_EXIT_ERROR;
                }
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
        if (cli->source)
                return get_secret(cli->password_file, "CAIRN_FROM_PASSWORD", false, "source repository password",
                                  "set CAIRN_FROM_PASSWORD, CAIRN_FROM_PASSWORD_FILE or --from-password-file", ret,
                                  ret_len);
        return get_secret(cli->password_file, "CAIRN_PASSWORD", confirm,
                          confirm ? "new repository password" : "repository password",
                          "set CAIRN_PASSWORD, CAIRN_PASSWORD_FILE or --password-file", ret, ret_len);
}

int cli_new_password(const char *file, char **ret, size_t *ret_len) {
        return get_secret(file, "CAIRN_NEW_PASSWORD", true, "new password",
                          "use --new-password-file or CAIRN_NEW_PASSWORD", ret, ret_len);
}
