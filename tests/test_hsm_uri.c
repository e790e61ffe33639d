/* SPDX-License-Identifier: BSD-3-Clause */
/* PKCS#11 URIs (RFC 7512), PIN sources and the lock-free ring: no HSM needed. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "hsm/p11.h"
#include "hsm/ring.h"

static int parse(const char *s, struct hsm_p11_uri *u, const char **why)
{
	return hsm_p11_uri_parse(s, strlen(s), u, why);
}

Test(hsm_uri, full_uri)
{
	struct hsm_p11_uri u;
	const char *why = NULL;
	int rc = parse("pkcs11:token=shaken%20signer;object=sp-key-1;id=%01%02%ff;type=private;"
		       "serial=1234abcd;model=SoftHSM%20v2;manufacturer=SoftHSM%20project;slot-id=7"
		       "?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin",
		       &u, &why);
	cr_assert_eq(rc, 0, "%s", why);
	cr_assert_str_eq(u.token, "shaken signer");
	cr_assert_str_eq(u.object, "sp-key-1");
	cr_assert_eq(u.id_len, 3);
	cr_assert_eq(u.id[0], 1);
	cr_assert_eq(u.id[1], 2);
	cr_assert_eq(u.id[2], 0xff);
	cr_assert_eq(u.type, HSM_P11_TYPE_PRIVATE);
	cr_assert_str_eq(u.serial, "1234abcd");
	cr_assert_str_eq(u.model, "SoftHSM v2");
	cr_assert_str_eq(u.manufacturer, "SoftHSM project");
	cr_assert_eq(u.slot_id, 7);
	cr_assert_str_eq(u.module_path, "/usr/lib/softhsm/libsofthsm2.so");
	cr_assert_str_eq(u.pin_source, "/run/pin");
	cr_assert_eq(u.present, HSM_P11_URI_TOKEN | HSM_P11_URI_OBJECT | HSM_P11_URI_ID |
					HSM_P11_URI_TYPE | HSM_P11_URI_SERIAL | HSM_P11_URI_MODEL |
					HSM_P11_URI_MANUFACTURER | HSM_P11_URI_SLOT_ID |
					HSM_P11_URI_MODULE_PATH | HSM_P11_URI_PIN_SOURCE);
}

Test(hsm_uri, minimal_and_empty)
{
	struct hsm_p11_uri u;
	cr_assert_eq(parse("pkcs11:", &u, NULL), 0);
	cr_assert_eq(u.present, 0);
	cr_assert_eq(parse("pkcs11:object=a", &u, NULL), 0);
	cr_assert_str_eq(u.object, "a");
	cr_assert_eq(parse("pkcs11:?pin-source=%2Fetc%2Fpin", &u, NULL), 0);
	cr_assert_str_eq(u.pin_source, "/etc/pin");
	cr_assert_eq(parse("pkcs11:id=;token=", &u, NULL), 0);
	cr_assert_eq(u.id_len, 0);
	cr_assert(u.present & HSM_P11_URI_ID);
	/* vendor attributes are skipped, in the path and in the query */
	cr_assert_eq(parse("pkcs11:x-vendor=1;object=k?x-q=2", &u, NULL), 0);
	cr_assert_str_eq(u.object, "k");
	/* pin-source file:/// form */
	cr_assert_eq(parse("pkcs11:?pin-source=file:///etc/p", &u, NULL), 0);
	cr_assert_str_eq(u.pin_source, "/etc/p");
	/* '?' may appear inside the query (RFC 3986 query characters) */
	cr_assert_eq(parse("pkcs11:object=a?module-path=/x?y", &u, NULL), 0);
	cr_assert_str_eq(u.module_path, "/x?y");
}

Test(hsm_uri, rejects)
{
	static const char *bad[] = {
		"",
		"pkcs11",
		"PKCS11:object=a",
		"http://x",
		"pkcs11:object=a?pin-value=1234",
		"pkcs11:pin-value=1234",
		"pkcs11:object=a;object=b",
		"pkcs11:foo=bar",
		"pkcs11:?token=a",                  /* path attribute in the query */
		"pkcs11:object=%zz",
		"pkcs11:object=%4",
		"pkcs11:object=a%00b",
		"pkcs11:type=weird",
		"pkcs11:slot-id=x1",
		"pkcs11:slot-id=",
		"pkcs11:slot-id=-1",
		"pkcs11:object",
		"pkcs11:=x",
		"pkcs11:?pin-source=relative/path",
		"pkcs11:?pin-source=http://x/pin",
		"pkcs11:token=0123456789012345678901234567890123",   /* 33 > 32 */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hsm_p11_uri u;
		const char *why = NULL;
		cr_assert_eq(parse(bad[i], &u, &why), -EINVAL, "accepted: %s", bad[i]);
		cr_assert_not_null(why, "%s", bad[i]);
	}
	char big[256];
	memset(big, 0, sizeof(big));
	strcpy(big, "pkcs11:id=");
	for (int i = 0; i < 65; i++)
		strcat(big, "%01");
	struct hsm_p11_uri u;
	cr_assert_eq(parse(big, &u, NULL), -EINVAL);
}

Test(hsm_uri, length_bounded)
{
	/* the parser reads only len bytes: a URI cut inside an escape is rejected */
	struct hsm_p11_uri u;
	const char *s = "pkcs11:object=ab%41";
	cr_assert_eq(hsm_p11_uri_parse(s, strlen(s) - 1, &u, NULL), -EINVAL);
	cr_assert_eq(hsm_p11_uri_parse(s, strlen(s) - 3, &u, NULL), 0);
	cr_assert_str_eq(u.object, "ab");
	cr_assert_eq(hsm_p11_uri_parse(s, strlen(s), &u, NULL), 0);
	cr_assert_str_eq(u.object, "abA");
}

Test(hsm_pin, file_and_env)
{
	char path[] = "/tmp/shaken-pin-XXXXXX", pin[32];
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "s3cret\r\nnext line\n", 18), 18);
	close(fd);
	struct hsm_p11_uri u = {.present = HSM_P11_URI_PIN_SOURCE};
	strcpy(u.pin_source, path);
	cr_assert_eq(hsm_p11_pin_get(&u, NULL, pin, sizeof(pin)), 6);
	cr_assert_str_eq(pin, "s3cret");
	cr_assert_eq(hsm_p11_pin_get(&u, NULL, pin, 4), -ENOSPC);
	unlink(path);
	cr_assert_eq(hsm_p11_pin_get(&u, NULL, pin, sizeof(pin)), -ENOENT);

	struct hsm_p11_uri none = {0};
	unsetenv("SHAKEN_TEST_PIN");
	cr_assert_eq(hsm_p11_pin_get(&none, "SHAKEN_TEST_PIN", pin, sizeof(pin)), -ENOENT);
	setenv("SHAKEN_TEST_PIN", "9876", 1);
	cr_assert_eq(hsm_p11_pin_get(&none, "SHAKEN_TEST_PIN", pin, sizeof(pin)), 4);
	cr_assert_str_eq(pin, "9876");
}

Test(hsm_ring, bounds_and_order)
{
	struct hsm_ring *r;
	cr_assert_eq(hsm_ring_create(0, 8, &r), -EINVAL);
	cr_assert_eq(hsm_ring_create(8, 0, &r), -EINVAL);
	cr_assert_eq(hsm_ring_create(5, sizeof(uint64_t), &r), 0);
	cr_assert_eq(hsm_ring_capacity(r), 8);
	uint64_t in[12], out[12];
	for (int i = 0; i < 12; i++)
		in[i] = 100 + i;
	cr_assert_eq(hsm_ring_enqueue_burst(r, in, 12), 8);
	cr_assert_eq(hsm_ring_count(r), 8);
	cr_assert_eq(hsm_ring_enqueue_burst(r, in, 1), 0);
	cr_assert_eq(hsm_ring_dequeue_burst(r, out, 3), 3);
	cr_assert_eq(out[0], 100);
	cr_assert_eq(out[2], 102);
	cr_assert_eq(hsm_ring_enqueue_burst(r, in + 8, 4), 3);   /* wraps */
	cr_assert_eq(hsm_ring_dequeue_burst(r, out, 12), 8);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(out[i], 103 + (uint64_t)i);
	cr_assert_eq(hsm_ring_dequeue_burst(r, out, 1), 0);
	hsm_ring_destroy(r);
}

#define RT_PRODUCERS 3
#define RT_CONSUMERS 3
#define RT_PER 50000

static struct hsm_ring *rt_ring;
static _Atomic unsigned rt_seen[RT_PRODUCERS * RT_PER];
static _Atomic unsigned rt_consumed;

static void *rt_produce(void *arg)
{
	uint32_t base = (uint32_t)(uintptr_t)arg * RT_PER;
	for (uint32_t i = 0; i < RT_PER;) {
		uint32_t v[4];
		unsigned k = RT_PER - i < 4 ? RT_PER - i : 4;
		for (unsigned j = 0; j < k; j++)
			v[j] = base + i + j;
		i += hsm_ring_enqueue_burst(rt_ring, v, k);
	}
	return NULL;
}

static void *rt_consume(void *arg)
{
	(void)arg;
	uint32_t last[RT_PRODUCERS];
	memset(last, 0xff, sizeof(last));
	while (atomic_load(&rt_consumed) < RT_PRODUCERS * RT_PER) {
		uint32_t v[8];
		unsigned n = hsm_ring_dequeue_burst(rt_ring, v, 8);
		for (unsigned j = 0; j < n; j++) {
			atomic_fetch_add(&rt_seen[v[j]], 1);
			/* per producer, a consumer sees increasing values (FIFO) */
			uint32_t p = v[j] / RT_PER;
			if (last[p] != 0xffffffffu && v[j] <= last[p])
				abort();
			last[p] = v[j];
		}
		atomic_fetch_add(&rt_consumed, n);
	}
	return NULL;
}

Test(hsm_ring, mpmc_every_element_once)
{
	pthread_t p[RT_PRODUCERS], c[RT_CONSUMERS];
	cr_assert_eq(hsm_ring_create(64, sizeof(uint32_t), &rt_ring), 0);
	for (uintptr_t i = 0; i < RT_CONSUMERS; i++)
		pthread_create(&c[i], NULL, rt_consume, NULL);
	for (uintptr_t i = 0; i < RT_PRODUCERS; i++)
		pthread_create(&p[i], NULL, rt_produce, (void *)i);
	for (int i = 0; i < RT_PRODUCERS; i++)
		pthread_join(p[i], NULL);
	for (int i = 0; i < RT_CONSUMERS; i++)
		pthread_join(c[i], NULL);
	for (unsigned i = 0; i < RT_PRODUCERS * RT_PER; i++)
		cr_assert_eq(atomic_load(&rt_seen[i]), 1, "element %u seen %u times", i,
			     atomic_load(&rt_seen[i]));
	cr_assert_eq(hsm_ring_count(rt_ring), 0);
	hsm_ring_destroy(rt_ring);
}
