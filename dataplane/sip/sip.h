/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Zero-copy SIP (RFC 3261) message parser, rewriter and response builder.
 *
 * Pure C over one contiguous buffer: no DPDK types, no allocation, bounded loops, so that
 * tools, tests, fuzzers and dataplane lcores share it. The parsed form (struct sip_msg) holds
 * slices (struct sip_str) pointing into the caller's buffer, which must stay alive and
 * unchanged while the slices are used. Every input byte is treated as hostile: malformed input
 * yields -EINVAL, never an out-of-bounds read.
 *
 * Framing choices (datagram semantics, as for UDP at the NNI):
 *  - lines end with CRLF; a bare LF is accepted too; a bare CR, a NUL or any other control
 *    byte but HT inside the start line or the header section is rejected;
 *  - obsolete line folding (a header line starting with SP or HT) is rejected (-EINVAL);
 *  - a header section must end with an empty line (CRLFCRLF);
 *  - when Content-Length is present, the body (the bytes after the empty line) must be
 *    exactly that long, else -EINVAL: one datagram is one message, and trailing or missing
 *    bytes are never silently dropped or invented. Several Content-Length headers must agree.
 *    Without Content-Length the body is the rest of the buffer.
 */
#ifndef SHAKEND_DATAPLANE_SIP_SIP_H
#define SHAKEND_DATAPLANE_SIP_SIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/tn.h"

#define SIP_MAX_HDRS 64     /* header fields per message; more -> -EINVAL */
#define SIP_LINE_MAX 8192   /* bytes in the start line or in one header line (without CRLF) */
#define SIP_MSG_MAX 65535   /* bytes in a whole message (a UDP datagram) */

/* A slice of a buffer owned by someone else (HAProxy "ist"). Not NUL-terminated. */
struct sip_str {
	const char *p;
	size_t len;
};

/* Known header fields; compact forms (RFC 3261 §7.3.3 and later RFCs) map to the same id. */
enum sip_hdr_id {
	SIP_HDR_OTHER = 0,          /* any other name: see sip_hdr.name */
	SIP_HDR_VIA,                /* v */
	SIP_HDR_FROM,               /* f */
	SIP_HDR_TO,                 /* t */
	SIP_HDR_CALL_ID,            /* i */
	SIP_HDR_CSEQ,
	SIP_HDR_MAX_FORWARDS,
	SIP_HDR_CONTACT,            /* m */
	SIP_HDR_CONTENT_LENGTH,     /* l */
	SIP_HDR_CONTENT_TYPE,       /* c */
	SIP_HDR_CONTENT_ENCODING,   /* e */
	SIP_HDR_IDENTITY,           /* y (RFC 8224) */
	SIP_HDR_PAI,                /* P-Asserted-Identity (RFC 3325) */
	SIP_HDR_PPI,                /* P-Preferred-Identity (RFC 3325) */
	SIP_HDR_PRIVACY,
	SIP_HDR_DATE,
	SIP_HDR_REASON,
	SIP_HDR_ROUTE,
	SIP_HDR_RECORD_ROUTE,
	SIP_HDR_SUPPORTED,          /* k */
	SIP_HDR_REQUIRE,
	SIP_HDR_SUBJECT,            /* s */
	SIP_HDR_EVENT,              /* o */
	SIP_HDR_REFER_TO,           /* r */
	SIP_HDR_REFERRED_BY,        /* b */
	SIP_HDR_SESSION_EXPIRES,    /* x */
	SIP_HDR_ALLOW,
	SIP_HDR_ALLOW_EVENTS,       /* u */
	SIP_HDR_USER_AGENT,
	SIP_HDR_SERVER,
	SIP_HDR_DIVERSION,
	SIP_HDR_HISTORY_INFO,
	SIP_HDR_COUNT               /* number of ids, not an id */
};

/* Request methods; SIP_METHOD_OTHER for an extension method (see sip_msg.method). */
enum sip_method {
	SIP_METHOD_NONE = 0,        /* a response */
	SIP_METHOD_OTHER,
	SIP_METHOD_INVITE,
	SIP_METHOD_ACK,
	SIP_METHOD_BYE,
	SIP_METHOD_CANCEL,
	SIP_METHOD_OPTIONS,
	SIP_METHOD_REGISTER,
	SIP_METHOD_PRACK,
	SIP_METHOD_UPDATE,
	SIP_METHOD_INFO,
	SIP_METHOD_SUBSCRIBE,
	SIP_METHOD_NOTIFY,
	SIP_METHOD_REFER,
	SIP_METHOD_MESSAGE,
	SIP_METHOD_PUBLISH,
};

/* One header field line. */
struct sip_hdr {
	struct sip_str name;        /* as written (e.g. "v" or "VIA"), no colon */
	struct sip_str value;       /* leading and trailing SP/HT trimmed, no line end; may be empty */
	enum sip_hdr_id id;
};

/* A parsed message: slices into the buffer given to sip_parse. */
struct sip_msg {
	const char *buf;            /* the message, len bytes */
	size_t len;
	bool is_request;
	/* request line */
	enum sip_method method_id;
	struct sip_str method;      /* e.g. "INVITE" */
	struct sip_str ruri;        /* Request-URI */
	/* status line */
	unsigned status;            /* 100..699 */
	struct sip_str reason;      /* reason phrase, may be empty */
	/* headers, in order */
	unsigned n_hdrs;
	uint8_t first[SIP_HDR_COUNT];  /* index of the first header of an id, 0xff when absent */
	struct sip_hdr hdrs[SIP_MAX_HDRS];
	size_t hdr_end;             /* offset of the empty line ending the header section */
	long content_length;        /* value of Content-Length, -1 when absent */
	struct sip_str body;        /* after the empty line; len 0 when none */
};

/*
 * Parses a SIP request or response of len bytes (framing rules at the top of this file).
 * The start line must be "METHOD SP Request-URI SP SIP/2.0" or "SIP/2.0 SP 3DIGIT SP reason"
 * (method a token, URI without whitespace, code 100..699). Header names are tokens (no
 * whitespace but SP/HT before the colon), classified case-insensitively; at most SIP_MAX_HDRS
 * headers, each line at most SIP_LINE_MAX bytes; Content-Length is digits only (leading zeros
 * allowed), at most SIP_MSG_MAX.
 * Returns 0 with m filled, or -EINVAL on malformed input or len > SIP_MSG_MAX. On error m's
 * contents are unspecified.
 */
__attribute__((warn_unused_result))
int sip_parse(struct sip_msg *m, const char *buf, size_t len);

/* ---- headers ------------------------------------------------------------------------- */

/*
 * The id of a header name (full or compact form, any case); SIP_HDR_OTHER when unknown.
 */
enum sip_hdr_id sip_hdr_lookup(const char *name, size_t len);

/* The canonical (full) name of an id, e.g. "Call-ID"; "" for SIP_HDR_OTHER or out of range. */
const char *sip_hdr_name(enum sip_hdr_id id);

/*
 * The first header of id, or NULL when there is none. id SIP_HDR_OTHER gives the first
 * unknown header (use sip_hdr_find for a name).
 */
const struct sip_hdr *sip_hdr_first(const struct sip_msg *m, enum sip_hdr_id id);

/*
 * The header after h of the same id (for SIP_HDR_OTHER: of the same name, case-insensitive),
 * or NULL. h must point into m->hdrs.
 */
const struct sip_hdr *sip_hdr_next(const struct sip_msg *m, const struct sip_hdr *h);

/*
 * The first header whose name matches name case-insensitively; a known name also matches its
 * compact form and vice versa ("Call-ID" finds "i"). NULL when absent.
 */
const struct sip_hdr *sip_hdr_find(const struct sip_msg *m, const char *name, size_t len);

/* Number of headers of id (SIP_HDR_OTHER counts all unknown ones). */
unsigned sip_hdr_count(const struct sip_msg *m, enum sip_hdr_id id);

/*
 * Comma-separated list iteration (Via, Contact, PAI, Identity values...). Takes the next
 * element off the front of *list: commas inside a quoted string (with backslash escapes) or
 * inside <...> do not separate. Elements are trimmed of SP/HT; empty elements are skipped.
 * Returns 1 with *elem set and *list advanced past it, 0 when the list holds no more element,
 * or -EINVAL on an unterminated quoted string or <.
 *   struct sip_str l = h->value, e; while ((rc = sip_list_next(&l, &e)) == 1) ...
 */
__attribute__((warn_unused_result))
int sip_list_next(struct sip_str *list, struct sip_str *elem);

/* ---- name-addr, URIs, parameters ----------------------------------------------------- */

/* A name-addr or addr-spec with its header parameters (From, To, Contact, PAI elements). */
struct sip_addr {
	struct sip_str display;     /* display name: quotes removed, escapes left as written;
				       len 0 when absent */
	bool quoted;                /* display name was a quoted string */
	bool angle;                 /* the URI was inside <> (a name-addr) */
	struct sip_str uri;         /* the URI, without <> */
	struct sip_str params;      /* header parameters after the URI (e.g. "tag=ab;x"),
				       without the leading ';'; len 0 when none */
};

/*
 * Parses one element: [display-name] "<" URI ">" *(";" param), or addr-spec *(";" param)
 * (whose URI then ends at the first ';', per RFC 3261 §20.10). The display name is a quoted
 * string (backslash escapes) or a sequence of tokens and whitespace. Leading and trailing
 * SP/HT are allowed. Returns 0, or -EINVAL (unterminated quote or <, empty URI, whitespace in
 * a bare URI, junk after '>' that is not ';' parameters, a comma at top level).
 */
__attribute__((warn_unused_result))
int sip_addr_parse(const char *s, size_t len, struct sip_addr *a);

enum sip_scheme {
	SIP_SCHEME_OTHER = 0,
	SIP_SCHEME_SIP,
	SIP_SCHEME_SIPS,
	SIP_SCHEME_TEL,
};

/* A SIP, SIPS or tel URI split into slices. */
struct sip_uri {
	enum sip_scheme scheme;
	struct sip_str scheme_str;  /* as written, without ':' */
	struct sip_str user;        /* sip: user part (password excluded), len 0 when no '@';
				       tel: the number (global or local, separators kept) */
	struct sip_str host;        /* sip: host (IPv6 reference with its []); tel: len 0 */
	uint16_t port;              /* 0 when absent */
	struct sip_str params;      /* URI parameters without the leading ';' ("user=phone;x");
				       up to '?' or the end; len 0 when none */
	struct sip_str headers;     /* sip: after '?', len 0 when none */
};

/*
 * Parses a URI. sip/sips: "sip:" [user [":" password] "@"] host [":" port] *(";" param)
 * ["?" headers] with a non-empty host and a port 1..65535; tel: "tel:" number *(";" param).
 * Scheme names are case-insensitive. Another scheme gives SIP_SCHEME_OTHER with only
 * scheme_str set. Returns 0, or -EINVAL (no scheme, whitespace or control bytes, empty host or
 * number, bad port, unterminated IPv6 reference).
 */
__attribute__((warn_unused_result))
int sip_uri_parse(const char *s, size_t len, struct sip_uri *u);

/*
 * Looks a parameter up by name (case-insensitive) in a ';'-separated list such as
 * sip_uri.params, sip_addr.params or a Via/Identity value's parameter part ("a=b;c;d=\"x;y\"",
 * a leading ';' and SP/HT around elements allowed). Values may be quoted strings (returned
 * with their quotes).
 * Returns 0 with *val set (len 0, p just after the name, for a parameter without '='), or
 * -ENOENT when absent, or -EINVAL when the list is malformed before the parameter is found.
 */
__attribute__((warn_unused_result))
int sip_param_get(struct sip_str params, const char *name, struct sip_str *val);

/* ---- convenience ---------------------------------------------------------------------- */

/*
 * The calling TN (RFC 8224 §5: the originating identity): the TN of the first URI among the
 * P-Asserted-Identity headers (every element of each, in order) that carries one (tel, or
 * sip/sips with user=phone or a global number, see tn_from_uri), else the TN of From's URI.
 * Writes the canonical digits, NUL-terminated. Returns the number of digits, or -ENOENT when
 * no such URI carries a TN.
 */
__attribute__((warn_unused_result))
int sip_calling_tn(const struct sip_msg *m, char out[TN_MAX + 1]);

/*
 * The called TN: the TN of To's URI, else of the Request-URI (requests only).
 * Returns the number of digits, or -ENOENT when neither carries a TN.
 */
__attribute__((warn_unused_result))
int sip_called_tn(const struct sip_msg *m, char out[TN_MAX + 1]);

/*
 * The CSeq header: sequence number (0..2^31-1) and method slice.
 * Returns 0, -ENOENT when there is no CSeq, -EINVAL when it is malformed.
 */
__attribute__((warn_unused_result))
int sip_cseq(const struct sip_msg *m, uint32_t *num, struct sip_str *method);

/*
 * Parses an RFC 1123 date as SIP uses it (RFC 3261 §25.1 SIP-date, always GMT):
 * "Sat, 13 Nov 2010 23:29:00 GMT" (weekday name checked for spelling only, day 1 or 2 digits,
 * 4-digit year >= 1970, seconds 0..60). Returns 0 with *epoch in seconds since 1970-01-01T00:00Z,
 * or -EINVAL.
 */
__attribute__((warn_unused_result))
int sip_date_parse(const char *s, size_t len, int64_t *epoch);

/* The first Date header as epoch seconds: 0, -ENOENT when absent, -EINVAL when malformed. */
__attribute__((warn_unused_result))
int sip_msg_date(const struct sip_msg *m, int64_t *epoch);

/* ---- rewriting (sip_rewrite.c) --------------------------------------------------------- */

/*
 * Copies m into out with n header lines inserted after the last header, before the empty
 * line; nothing else changes (the body and Content-Length are untouched). Each line is a
 * whole header line without its line end ("Identity: eyJ...;info=<...>"); CRLF is appended.
 * out must not overlap m's buffer.
 * Returns the output length, -ENOSPC when cap is too small, -EINVAL when a line is empty,
 * holds CR, LF or NUL, has no ':' after a token name, or the message would exceed SIP_MSG_MAX
 * or SIP_MAX_HDRS headers.
 */
__attribute__((warn_unused_result))
long sip_add_hdrs(const struct sip_msg *m, const struct sip_str *lines, unsigned n, char *out,
		  size_t cap);

/* sip_add_hdrs for one NUL-terminated line. */
__attribute__((warn_unused_result))
long sip_add_hdr(const struct sip_msg *m, const char *line, char *out, size_t cap);

/* Targets of sip_set_uri_param. */
enum {
	SIP_TARGET_PAI = 1u << 0,   /* the first element of the first P-Asserted-Identity */
	SIP_TARGET_FROM = 1u << 1,  /* the From header */
};

/*
 * Copies m into out with URI parameter name set to value (value NULL: a parameter without
 * "=value") on the URI of each header in targets (SIP_TARGET_*) that is present: an existing
 * parameter of that name (case-insensitive) gets its value replaced, else ";name[=value]" is
 * appended to the URI parameters (before any "?headers"). Works for sip, sips and tel URIs,
 * with or without <>; a bare addr-spec is put inside <> so that the parameter stays a URI
 * parameter (header parameters such as tag stay after the '>').
 * E.g. name "verstat", value "TN-Validation-Passed".
 * Returns the output length, -ENOENT when no target header is present, -ENOSPC when cap is
 * too small, -EINVAL when name is not a token, value holds a character outside the URI
 * parameter alphabet (unreserved, "[]/:&+$%"), a target header is malformed, its URI is not
 * sip/sips/tel, or the result would exceed SIP_MSG_MAX.
 */
__attribute__((warn_unused_result))
long sip_set_uri_param(const struct sip_msg *m, unsigned targets, const char *name,
		       const char *value, char *out, size_t cap);

/* Options of a response built from a request. Zero-initialize, then fill what is needed. */
struct sip_resp_opts {
	const char *to_tag;         /* appended as ";tag=" to To when To has no tag; NULL: none */
	bool contact_ruri;          /* add "Contact: <Request-URI" contact_extra ">" (302) */
	struct sip_str contact_extra;  /* URI-level text appended inside the <> (e.g.
					  ";verstat=..." or "?Identity=..."), may be empty */
	const struct sip_str *hdrs; /* extra header lines without line end (Identity, Reason...) */
	unsigned n_hdrs;
};

/*
 * Builds a response to the request req: "SIP/2.0 code reason", then the Via headers copied
 * in order, From, To (with the To tag added when asked and absent), Call-ID, CSeq, optionally
 * Contact, then the extra header lines, then "Content-Length: 0" and the empty line. Header
 * names are written in full form whatever form the request used; values are copied as is.
 * reason NULL gives the standard phrase of code ("Moved Temporarily", "Use Identity Header",
 * ... "Unknown" for codes without one). opts may be NULL (no tag, no Contact, no extra line).
 * Returns the output length, -ENOSPC when cap is too small, -EINVAL when req is not a request,
 * lacks Via, From, To, Call-ID or CSeq, code is not 100..699, reason, to_tag, contact_extra or
 * an extra line holds CR, LF or NUL, to_tag is empty or not a token, or an extra line is empty.
 */
__attribute__((warn_unused_result))
long sip_build_response(const struct sip_msg *req, unsigned code, const char *reason,
			const struct sip_resp_opts *opts, char *out, size_t cap);

#endif
