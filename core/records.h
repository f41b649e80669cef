/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The record of processing a processor keeps for each controller (GDPR
 * article 30(2); docs/cli/records.md): generated from the repository as it
 * is, never stored. One JSON document per run:
 *
 *   {"format": "cairn.records.v1", "generated_at", "repository",
 *    "processor": {name, id, public_key},
 *    "controllers": [ {controller, categories, snapshots, locations,
 *                      authorised, sub_processors, location_gate,
 *                      location_history, holds, safeguards,
 *                      erasure_certificates, erasure_requests_pending,
 *                      audit_log} ]}
 *
 * docs/cli/records.md lists every member. Names and texts that are not
 * UTF-8 appear with each invalid byte as U+FFFD. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "repo.h"
#include "store.h"

#define CN_RECORDS_FORMAT "cairn.records.v1"

/* The records of controller c of r (NULL: of every controller, in order
 * of id) at time now, into *ret (a new reference). Objects that do not
 * open (snapshots, holds, locations, certificates) are passed to damaged
 * (may be NULL) and left out; the document says how many. Errors of the
 * machine or the connection fail it. */
int cn_records_build(CnRepo *r, CnController *c, int64_t now, CnStoreDamagedFn damaged, void *userdata, json_t **ret);

/* s as a JSON string: valid UTF-8 as it is, each byte that is not as
 * U+FFFD (NULL: no memory). */
json_t *cn_json_text(const char *s);
