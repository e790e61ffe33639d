/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shaken-hsm: key lifecycle on a PKCS#11 token (generate an EC P-256 key pair that never
 * leaves the token, list, export the public key, destroy) and a CSR signed on the token
 * through OpenSSL's pkcs11-provider. See docs/tools.md and docs/hsm.md.
 *
 * Every command takes --uri, a PKCS#11 URI (RFC 7512): the token by token=/serial=/...,
 * the key by object= and/or id=, the module by module-path= (default SH_MODULE), the PIN by
 * pin-source=file:PATH else $SHAKEND_HSM_PIN. A PIN is never taken from argv.
 *
 * Exit status: 0 success, 1 failure (token, key, HSM), 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "hsm/csr.h"
#include "hsm/p11.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define SH_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define SH_KEYS_MAX 256
#define SH_OUT_MAX 8192

static const char *prog = "shaken-hsm";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s COMMAND --uri URI [options]\n"
		"  keygen --uri URI          generate an EC P-256 key pair on the token; the\n"
		"                            URI's object= is the label, id= the id (default: 8\n"
		"                            random bytes); prints the key's URI\n"
		"  list --uri URI            list the token's EC private keys, one URI a line\n"
		"  pubkey --uri URI [--pem] [--out FILE]\n"
		"                            the key's SubjectPublicKeyInfo (DER, or PEM)\n"
		"  destroy --uri URI         destroy the key pair (object= and/or id= required)\n"
		"  csr --uri URI --subject /O=.../CN=... [--spc SPC] [--der] [--out FILE]\n"
		"      [--direct]            a CSR signed on the token (pkcs11-provider), with a\n"
		"                            TNAuthList holding SPC when given; --direct: without\n"
		"                            the provider (TBS hashed here, C_Sign on the token)\n"
		"  URI: pkcs11:token=T;object=L;id=%%01?module-path=M&pin-source=file:P\n"
		"  module default: " SH_MODULE "; PIN: pin-source= else $SHAKEND_HSM_PIN\n",
		prog);
}

static void errmsg(const char *what, const char *uri, long rc)
{
	const char *why;

	switch (rc) {
	case -EINVAL:
		why = "bad URI or argument";
		break;
	case -ELIBACC:
		why = "cannot load the PKCS#11 module (or the pkcs11-provider)";
		break;
	case -ENODEV:
		why = "no such token";
		break;
	case -EACCES:
		why = "PIN refused";
		break;
	case -ENOENT:
		why = "not found (key, or PIN source: pin-source= or $SHAKEND_HSM_PIN)";
		break;
	case -EEXIST:
		why = "already exists (or several keys match)";
		break;
	default:
		why = strerror((int)-rc);
	}
	fprintf(stderr, "%s: %s %s: %s\n", prog, what, uri, why);
}

static int write_out(const char *path, const void *buf, size_t n)
{
	FILE *f = path ? fopen(path, "wb") : stdout;
	bool ok;

	if (f == NULL) {
		fprintf(stderr, "%s: cannot write %s: %s\n", prog, path, strerror(errno));
		return EXIT_FAIL;
	}
	ok = fwrite(buf, 1, n, f) == n;
	if (f != stdout)
		ok = (fclose(f) == 0) && ok;
	else
		ok = (fflush(f) == 0) && ok;
	if (!ok) {
		fprintf(stderr, "%s: write failed\n", prog);
		return EXIT_FAIL;
	}
	return 0;
}

static void print_hex_pct(const uint8_t *id, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%%%02x", id[i]);
}

/* A label printed in a URI: percent-encode what is not unreserved. */
static void print_pct(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~')
			putchar(c);
		else
			printf("%%%02x", c);
	}
}

static void print_key_uri(const struct hsm_p11_uri *tok, const struct hsm_p11_key *k)
{
	printf("pkcs11:");
	if (tok->present & HSM_P11_URI_TOKEN) {
		printf("token=");
		print_pct(tok->token);
		putchar(';');
	}
	printf("object=");
	print_pct(k->label);
	printf(";id=");
	print_hex_pct(k->id, k->id_len);
	printf(";type=private%s\n", k->has_public ? "" : "  (no public key object)");
}

struct args {
	const char *uri, *out, *subject, *spc;
	bool pem, der, direct;
};

static int parse(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{"uri", required_argument, NULL, 'u'},
		{"out", required_argument, NULL, 'o'},
		{"pem", no_argument, NULL, 'p'},
		{"der", no_argument, NULL, 'd'},
		{"subject", required_argument, NULL, 's'},
		{"spc", required_argument, NULL, 'c'},
		{"direct", no_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{0, 0, 0, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			a->uri = optarg;
			break;
		case 'o':
			a->out = optarg;
			break;
		case 'p':
			a->pem = true;
			break;
		case 'd':
			a->der = true;
			break;
		case 's':
			a->subject = optarg;
			break;
		case 'c':
			a->spc = optarg;
			break;
		case 'D':
			a->direct = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		return -1;
	}
	if (a->uri == NULL) {
		fprintf(stderr, "%s: --uri is required\n", prog);
		return -1;
	}
	return 0;
}

static int open_tok(const struct args *a, struct hsm_p11_tok **t)
{
	int rc = hsm_p11_open(a->uri, SH_MODULE, NULL, t);

	if (rc < 0) {
		errmsg("cannot open the token of", a->uri, rc);
		return -1;
	}
	return 0;
}

static int cmd_keygen(const struct args *a)
{
	struct hsm_p11_uri u;
	struct hsm_p11_tok *t;
	struct hsm_p11_key k = { .has_public = true };
	const char *why;
	int rc;

	if (hsm_p11_uri_parse(a->uri, strlen(a->uri), &u, &why) < 0) {
		fprintf(stderr, "%s: --uri: %s\n", prog, why);
		return EXIT_USAGE;
	}
	if (!(u.present & HSM_P11_URI_OBJECT) || u.object[0] == '\0') {
		fprintf(stderr, "%s: keygen: the URI needs object=LABEL\n", prog);
		return EXIT_USAGE;
	}
	snprintf(k.label, sizeof(k.label), "%s", u.object);
	if (u.present & HSM_P11_URI_ID) {
		memcpy(k.id, u.id, u.id_len);
		k.id_len = u.id_len;
	} else {
		k.id_len = 8;
		if (RAND_bytes(k.id, (int)k.id_len) != 1) {
			fprintf(stderr, "%s: no random bytes\n", prog);
			return EXIT_FAIL;
		}
	}
	if (open_tok(a, &t) < 0)
		return EXIT_FAIL;
	rc = hsm_p11_keygen(t, k.label, k.id, k.id_len);
	hsm_p11_close(t);
	if (rc < 0) {
		errmsg("keygen", a->uri, rc);
		return EXIT_FAIL;
	}
	print_key_uri(&u, &k);
	return 0;
}

static int cmd_list(const struct args *a)
{
	static struct hsm_p11_key keys[SH_KEYS_MAX];
	struct hsm_p11_uri u;
	struct hsm_p11_tok *t;
	const char *why;
	long n;

	if (hsm_p11_uri_parse(a->uri, strlen(a->uri), &u, &why) < 0) {
		fprintf(stderr, "%s: --uri: %s\n", prog, why);
		return EXIT_USAGE;
	}
	if (open_tok(a, &t) < 0)
		return EXIT_FAIL;
	n = hsm_p11_key_list(t, keys, SH_KEYS_MAX);
	hsm_p11_close(t);
	if (n < 0) {
		errmsg("list", a->uri, n);
		return EXIT_FAIL;
	}
	for (long i = 0; i < n && i < SH_KEYS_MAX; i++)
		print_key_uri(&u, &keys[i]);
	if (n > SH_KEYS_MAX)
		fprintf(stderr, "%s: %ld keys, only the first %d listed\n", prog, n, SH_KEYS_MAX);
	return 0;
}

static int cmd_pubkey(const struct args *a)
{
	uint8_t buf[SH_OUT_MAX];
	struct hsm_p11_tok *t;
	long n;

	if (open_tok(a, &t) < 0)
		return EXIT_FAIL;
	n = hsm_p11_key_spki(t, a->uri, a->pem, buf, sizeof(buf));
	hsm_p11_close(t);
	if (n < 0) {
		errmsg("public key of", a->uri, n);
		return n == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
	}
	return write_out(a->out, buf, (size_t)n);
}

static int cmd_destroy(const struct args *a)
{
	struct hsm_p11_tok *t;
	long n;

	if (open_tok(a, &t) < 0)
		return EXIT_FAIL;
	n = hsm_p11_key_destroy(t, a->uri);
	hsm_p11_close(t);
	if (n < 0) {
		errmsg("destroy", a->uri, n);
		return n == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
	}
	if (n == 0) {
		fprintf(stderr, "%s: destroy %s: no such key\n", prog, a->uri);
		return EXIT_FAIL;
	}
	printf("destroyed %ld object%s\n", n, n == 1 ? "" : "s");
	return 0;
}

static int cmd_csr(const struct args *a)
{
	const struct hsm_csr_cfg cfg = { .default_module = SH_MODULE, .direct = a->direct };
	uint8_t ta[64], buf[SH_OUT_MAX];
	long tl = 0, n;

	if (a->subject == NULL) {
		fprintf(stderr, "%s: csr needs --subject /O=.../CN=...\n", prog);
		return EXIT_USAGE;
	}
	if (a->spc) {
		tl = hsm_csr_tnauth_spc(a->spc, ta, sizeof(ta));
		if (tl < 0) {
			fprintf(stderr, "%s: bad --spc '%s'\n", prog, a->spc);
			return EXIT_USAGE;
		}
	}
	n = hsm_csr_create(a->uri, &cfg, a->subject, a->spc ? ta : NULL, (size_t)tl, !a->der,
			   buf, sizeof(buf));
	if (n < 0) {
		errmsg("CSR for", a->uri, n);
		return n == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
	}
	return write_out(a->out, buf, (size_t)n);
}

static const struct {
	const char *name;
	int (*fn)(const struct args *a);
} cmds[] = {
	{"keygen", cmd_keygen},
	{"list", cmd_list},
	{"pubkey", cmd_pubkey},
	{"destroy", cmd_destroy},
	{"csr", cmd_csr},
};

int main(int argc, char **argv)
{
	struct args a = { 0 };

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		if (parse(argc - 1, argv + 1, &a) < 0)
			return EXIT_USAGE;
		return cmds[i].fn(&a);
	}
	fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
