/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The retention policy flags (--keep-last N ... --keep-tag T) that forget
 * takes and 'retention set' stores: one option table, one parser, one way
 * of saying a policy in words. */
#pragma once

#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "forget.h"

enum {
        OPT_POLICY_KEEP = _OPT_GLOBAL_MAX + 200, /* + CnForgetRule */
        OPT_POLICY_WITHIN = OPT_POLICY_KEEP + _CN_FORGET_RULE_MAX,
        OPT_POLICY_WITHIN_BUCKET, /* + CnForgetRule (not CN_FORGET_LAST) */
        OPT_POLICY_KEEP_TAG = OPT_POLICY_WITHIN_BUCKET + _CN_FORGET_RULE_MAX,
        _OPT_POLICY_MAX,
};

#define CLI_POLICY_LONG                                                                                                \
        {"keep-last", required_argument, NULL, OPT_POLICY_KEEP + CN_FORGET_LAST},                                      \
                {"keep-hourly", required_argument, NULL, OPT_POLICY_KEEP + CN_FORGET_HOURLY},                          \
                {"keep-daily", required_argument, NULL, OPT_POLICY_KEEP + CN_FORGET_DAILY},                            \
                {"keep-weekly", required_argument, NULL, OPT_POLICY_KEEP + CN_FORGET_WEEKLY},                          \
                {"keep-monthly", required_argument, NULL, OPT_POLICY_KEEP + CN_FORGET_MONTHLY},                        \
                {"keep-yearly", required_argument, NULL, OPT_POLICY_KEEP + CN_FORGET_YEARLY},                          \
                {"keep-within", required_argument, NULL, OPT_POLICY_WITHIN},                                           \
                {"keep-within-hourly", required_argument, NULL, OPT_POLICY_WITHIN_BUCKET + CN_FORGET_HOURLY},          \
                {"keep-within-daily", required_argument, NULL, OPT_POLICY_WITHIN_BUCKET + CN_FORGET_DAILY},            \
                {"keep-within-weekly", required_argument, NULL, OPT_POLICY_WITHIN_BUCKET + CN_FORGET_WEEKLY},          \
                {"keep-within-monthly", required_argument, NULL, OPT_POLICY_WITHIN_BUCKET + CN_FORGET_MONTHLY},        \
                {"keep-within-yearly", required_argument, NULL, OPT_POLICY_WITHIN_BUCKET + CN_FORGET_YEARLY}, {        \
                "keep-tag", required_argument, NULL, OPT_POLICY_KEEP_TAG                                               \
        }

#define CLI_POLICY_HELP                                                                                                \
        "      --keep-last N            the N newest (N or 'unlimited', for each --keep-*)\n"                          \
        "      --keep-hourly N          the newest of each of the last N hours with a snapshot\n"                      \
        "      --keep-daily N           ... days\n"                                                                    \
        "      --keep-weekly N          ... ISO weeks\n"                                                               \
        "      --keep-monthly N         ... months\n"                                                                  \
        "      --keep-yearly N          ... years\n"                                                                   \
        "      --keep-within DURATION   all newer than the newest snapshot minus DURATION (1y2m3d4h)\n"                \
        "      --keep-within-hourly DURATION, --keep-within-daily, -weekly, -monthly, -yearly\n"                       \
        "                               the newest of each hour, day, ... within DURATION\n"

/* Take option c (with arg) into p if it is a policy flag; tags holds the
 * --keep-tag lists (CN_FORGET_MAX_TAG_LISTS of them, p->keep_tags points
 * there). Returns -1 when c is no policy flag, 0 when taken, else the exit
 * code of a usage error (said, naming verb). */
int cli_policy_option(const char *verb, CnForgetPolicy *p, CnTagList *tags, int c, const char *arg);

/* The counted and duration rules of p as the flags that give them
 * ("--keep-daily 7 --keep-within 30d"; not the tags, which may be
 * anything), into buf, cut to size: for the audit log. */
const char *cli_policy_flags(const CnForgetPolicy *p, char *buf, size_t size);

/* "keep 7 daily, 4 weekly snapshots and all snapshots within 30d of the
 * newest" (restic's words), or "keep nothing" for an empty policy. */
void cli_policy_print(FILE *f, const CnForgetPolicy *p);
