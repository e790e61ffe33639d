/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzzes the control socket's request parser (dp_ops_req_parse) on arbitrary bytes (not
 * NUL-terminated), and the JSON string writer on the error message it returns: a success
 * names one of the four commands, a failure leaves a terminated message, and the reply writer
 * never overruns its buffer. Aborts on any inconsistency.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/dp_ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a private copy: the parser must not read past size (ASan checks the heap copy) */
	char *buf = malloc(size ? size : 1);
	CHECK(buf);
	memcpy(buf, data, size);
	struct dp_ops_req r;
	char err[96];
	memset(err, 'x', sizeof(err));
	int rc = dp_ops_req_parse(buf, size, &r, err, sizeof(err));
	if (rc == 0) {
		CHECK(r.cmd >= DP_OPS_RELOAD && r.cmd <= DP_OPS_VERSION);
		CHECK(dp_ops_cmd_name(r.cmd)[0] != '\0');
		CHECK(size <= DP_OPS_REQ_MAX);
	} else {
		CHECK(rc == -EINVAL || rc == -E2BIG);
		CHECK(rc != -E2BIG || size > DP_OPS_REQ_MAX);
		CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
		char out[64];
		long n = dp_ops_json_str(out, sizeof(out), err);
		CHECK(memchr(out, '\0', sizeof(out)) != NULL);
		CHECK(n == -ENOSPC || (n >= 2 && (size_t)n == strlen(out) && out[0] == '"' &&
					out[n - 1] == '"'));
	}
	free(buf);
	return 0;
}
