/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIP parser and accessors: one pass over the start line and header section, slices into the
 * caller's buffer, no allocation. The header section is scanned eight bytes at a time for
 * control bytes (line ends, HT, and the forbidden ones) so that a realistic INVITE costs a few
 * hundred nanoseconds.
 */
#include "dataplane/sip/sip.h"

#include <errno.h>
#include <string.h>

#include "crypto/tn.h"

/* RFC 3261 token characters. */
static const uint8_t tchar[256] = {
	['a' ... 'z'] = 1, ['A' ... 'Z'] = 1, ['0' ... '9'] = 1,
	['-'] = 1, ['.'] = 1, ['!'] = 1, ['%'] = 1, ['*'] = 1, ['_'] = 1, ['+'] = 1, ['`'] = 1,
	['\''] = 1, ['~'] = 1,
};

static inline bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static inline unsigned char lc(char c)
{
	unsigned char u = (unsigned char)c;
	return (u >= 'A' && u <= 'Z') ? (unsigned char)(u + 32) : u;
}

static bool ci_eq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lc(a[i]) != lc(b[i]))
			return false;
	return true;
}

/* a (len n) equals the lowercase literal lit, case-insensitively */
#define CI_LIT(a, n, lit) ((n) == sizeof(lit) - 1 && ci_eq((a), (lit), sizeof(lit) - 1))

/*
 * The first byte below 0x20 in [p, end), or end. Eight bytes at a time: a byte b < 0x20 sets
 * the top bit of (b - 0x20) & ~b; borrows only disturb bytes above the first hit.
 */
static const char *scan_ctl(const char *p, const char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	while (end - p >= 8) {
		uint64_t x;
		memcpy(&x, p, 8);
		uint64_t t = (x - 0x2020202020202020ull) & ~x & 0x8080808080808080ull;
		if (t)
			return p + (__builtin_ctzll(t) >> 3);
		p += 8;
	}
#endif
	while (p < end && (unsigned char)*p >= 0x20)
		p++;
	return p;
}

/*
 * Finds the end of the line starting at p: *eol = first byte of the line end, returns the
 * start of the next line. HT is allowed in the line when allow_ht. Returns NULL on a bare CR,
 * another control byte, or no line end before end.
 */
static const char *line_end(const char *p, const char *end, bool allow_ht, const char **eol)
{
	for (;;) {
		p = scan_ctl(p, end);
		if (p == end)
			return NULL;
		if (*p == '\t' && allow_ht) {
			p++;
			continue;
		}
		*eol = p;
		if (*p == '\n')
			return p + 1;
		if (*p == '\r' && end - p >= 2 && p[1] == '\n')
			return p + 2;
		return NULL;
	}
}

/* ---- header names ----------------------------------------------------------------------- */

static const char *const hdr_names[SIP_HDR_COUNT] = {
	[SIP_HDR_OTHER] = "",
	[SIP_HDR_VIA] = "Via",
	[SIP_HDR_FROM] = "From",
	[SIP_HDR_TO] = "To",
	[SIP_HDR_CALL_ID] = "Call-ID",
	[SIP_HDR_CSEQ] = "CSeq",
	[SIP_HDR_MAX_FORWARDS] = "Max-Forwards",
	[SIP_HDR_CONTACT] = "Contact",
	[SIP_HDR_CONTENT_LENGTH] = "Content-Length",
	[SIP_HDR_CONTENT_TYPE] = "Content-Type",
	[SIP_HDR_CONTENT_ENCODING] = "Content-Encoding",
	[SIP_HDR_IDENTITY] = "Identity",
	[SIP_HDR_PAI] = "P-Asserted-Identity",
	[SIP_HDR_PPI] = "P-Preferred-Identity",
	[SIP_HDR_PRIVACY] = "Privacy",
	[SIP_HDR_DATE] = "Date",
	[SIP_HDR_REASON] = "Reason",
	[SIP_HDR_ROUTE] = "Route",
	[SIP_HDR_RECORD_ROUTE] = "Record-Route",
	[SIP_HDR_SUPPORTED] = "Supported",
	[SIP_HDR_REQUIRE] = "Require",
	[SIP_HDR_SUBJECT] = "Subject",
	[SIP_HDR_EVENT] = "Event",
	[SIP_HDR_REFER_TO] = "Refer-To",
	[SIP_HDR_REFERRED_BY] = "Referred-By",
	[SIP_HDR_SESSION_EXPIRES] = "Session-Expires",
	[SIP_HDR_ALLOW] = "Allow",
	[SIP_HDR_ALLOW_EVENTS] = "Allow-Events",
	[SIP_HDR_USER_AGENT] = "User-Agent",
	[SIP_HDR_SERVER] = "Server",
	[SIP_HDR_DIVERSION] = "Diversion",
	[SIP_HDR_HISTORY_INFO] = "History-Info",
};

static const uint8_t compact[26] = {
	['b' - 'a'] = SIP_HDR_REFERRED_BY,
	['c' - 'a'] = SIP_HDR_CONTENT_TYPE,
	['e' - 'a'] = SIP_HDR_CONTENT_ENCODING,
	['f' - 'a'] = SIP_HDR_FROM,
	['i' - 'a'] = SIP_HDR_CALL_ID,
	['k' - 'a'] = SIP_HDR_SUPPORTED,
	['l' - 'a'] = SIP_HDR_CONTENT_LENGTH,
	['m' - 'a'] = SIP_HDR_CONTACT,
	['o' - 'a'] = SIP_HDR_EVENT,
	['r' - 'a'] = SIP_HDR_REFER_TO,
	['s' - 'a'] = SIP_HDR_SUBJECT,
	['t' - 'a'] = SIP_HDR_TO,
	['u' - 'a'] = SIP_HDR_ALLOW_EVENTS,
	['v' - 'a'] = SIP_HDR_VIA,
	['x' - 'a'] = SIP_HDR_SESSION_EXPIRES,
	['y' - 'a'] = SIP_HDR_IDENTITY,
};

/* Full names bucketed by length: ids whose canonical name has that many bytes. */
static const uint8_t by_len[21][6] = {
	[2] = {SIP_HDR_TO},
	[3] = {SIP_HDR_VIA},
	[4] = {SIP_HDR_FROM, SIP_HDR_CSEQ, SIP_HDR_DATE},
	[5] = {SIP_HDR_ROUTE, SIP_HDR_EVENT, SIP_HDR_ALLOW},
	[6] = {SIP_HDR_REASON, SIP_HDR_SERVER},
	[7] = {SIP_HDR_CALL_ID, SIP_HDR_CONTACT, SIP_HDR_SUBJECT, SIP_HDR_REQUIRE,
	       SIP_HDR_PRIVACY},
	[8] = {SIP_HDR_IDENTITY, SIP_HDR_REFER_TO},
	[9] = {SIP_HDR_SUPPORTED, SIP_HDR_DIVERSION},
	[10] = {SIP_HDR_USER_AGENT},
	[11] = {SIP_HDR_REFERRED_BY},
	[12] = {SIP_HDR_MAX_FORWARDS, SIP_HDR_CONTENT_TYPE, SIP_HDR_RECORD_ROUTE,
		SIP_HDR_ALLOW_EVENTS, SIP_HDR_HISTORY_INFO},
	[14] = {SIP_HDR_CONTENT_LENGTH},
	[15] = {SIP_HDR_SESSION_EXPIRES},
	[16] = {SIP_HDR_CONTENT_ENCODING},
	[19] = {SIP_HDR_PAI},
	[20] = {SIP_HDR_PPI},
};

/* Lowercase canonical names, for the fast comparison below. */
static const char *const hdr_lower[SIP_HDR_COUNT] = {
	[SIP_HDR_OTHER] = "",
	[SIP_HDR_VIA] = "via",
	[SIP_HDR_FROM] = "from",
	[SIP_HDR_TO] = "to",
	[SIP_HDR_CALL_ID] = "call-id",
	[SIP_HDR_CSEQ] = "cseq",
	[SIP_HDR_MAX_FORWARDS] = "max-forwards",
	[SIP_HDR_CONTACT] = "contact",
	[SIP_HDR_CONTENT_LENGTH] = "content-length",
	[SIP_HDR_CONTENT_TYPE] = "content-type",
	[SIP_HDR_CONTENT_ENCODING] = "content-encoding",
	[SIP_HDR_IDENTITY] = "identity",
	[SIP_HDR_PAI] = "p-asserted-identity",
	[SIP_HDR_PPI] = "p-preferred-identity",
	[SIP_HDR_PRIVACY] = "privacy",
	[SIP_HDR_DATE] = "date",
	[SIP_HDR_REASON] = "reason",
	[SIP_HDR_ROUTE] = "route",
	[SIP_HDR_RECORD_ROUTE] = "record-route",
	[SIP_HDR_SUPPORTED] = "supported",
	[SIP_HDR_REQUIRE] = "require",
	[SIP_HDR_SUBJECT] = "subject",
	[SIP_HDR_EVENT] = "event",
	[SIP_HDR_REFER_TO] = "refer-to",
	[SIP_HDR_REFERRED_BY] = "referred-by",
	[SIP_HDR_SESSION_EXPIRES] = "session-expires",
	[SIP_HDR_ALLOW] = "allow",
	[SIP_HDR_ALLOW_EVENTS] = "allow-events",
	[SIP_HDR_USER_AGENT] = "user-agent",
	[SIP_HDR_SERVER] = "server",
	[SIP_HDR_DIVERSION] = "diversion",
	[SIP_HDR_HISTORY_INFO] = "history-info",
};

/*
 * s (a token) equals lower case-insensitively. OR-ing 0x20 lowercases letters; on token
 * characters it makes nothing else equal to a letter or '-' (the only bytes of known names),
 * so the comparison is exact for tokens. Eight bytes at a time.
 */
static bool tok_eq_lower(const char *s, const char *lower, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t a, b;
		memcpy(&a, s + i, 8);
		memcpy(&b, lower + i, 8);
		if ((a | 0x2020202020202020ull) != b)
			return false;
	}
	for (; i < n; i++)
		if ((unsigned char)(s[i] | 0x20) != (unsigned char)lower[i])
			return false;
	return true;
}

/* sip_hdr_lookup for a name known to be a token */
static enum sip_hdr_id tok_lookup(const char *name, size_t len)
{
	unsigned char c0 = (unsigned char)(name[0] | 0x20);

	if (len == 1)
		return (c0 >= 'a' && c0 <= 'z') ? (enum sip_hdr_id)compact[c0 - 'a'] : SIP_HDR_OTHER;
	if (len >= sizeof(by_len) / sizeof(by_len[0]))
		return SIP_HDR_OTHER;
	for (unsigned i = 0; i < sizeof(by_len[0]) && by_len[len][i]; i++) {
		unsigned id = by_len[len][i];
		if ((unsigned char)hdr_lower[id][0] == c0 && tok_eq_lower(name, hdr_lower[id], len))
			return (enum sip_hdr_id)id;
	}
	return SIP_HDR_OTHER;
}

enum sip_hdr_id sip_hdr_lookup(const char *name, size_t len)
{
	if (!name || len == 0)
		return SIP_HDR_OTHER;
	for (size_t i = 0; i < len; i++)
		if (!tchar[(unsigned char)name[i]])
			return SIP_HDR_OTHER;
	return tok_lookup(name, len);
}

const char *sip_hdr_name(enum sip_hdr_id id)
{
	if ((unsigned)id >= SIP_HDR_COUNT)
		return "";
	return hdr_names[id];
}

/* ---- start line ---------------------------------------------------------------------- */

static enum sip_method method_id(const char *p, size_t n)
{
	static const struct {
		const char *s;
		enum sip_method id;
	} tab[] = {
		{"INVITE", SIP_METHOD_INVITE},       {"ACK", SIP_METHOD_ACK},
		{"BYE", SIP_METHOD_BYE},             {"CANCEL", SIP_METHOD_CANCEL},
		{"OPTIONS", SIP_METHOD_OPTIONS},     {"REGISTER", SIP_METHOD_REGISTER},
		{"PRACK", SIP_METHOD_PRACK},         {"UPDATE", SIP_METHOD_UPDATE},
		{"INFO", SIP_METHOD_INFO},           {"SUBSCRIBE", SIP_METHOD_SUBSCRIBE},
		{"NOTIFY", SIP_METHOD_NOTIFY},       {"REFER", SIP_METHOD_REFER},
		{"MESSAGE", SIP_METHOD_MESSAGE},     {"PUBLISH", SIP_METHOD_PUBLISH},
	};
	/* methods are case-sensitive (RFC 3261 §7.1) */
	for (unsigned i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strlen(tab[i].s) == n && memcmp(tab[i].s, p, n) == 0)
			return tab[i].id;
	return SIP_METHOD_OTHER;
}

static bool is_version(const char *p, size_t n)
{
	return n == 7 && ci_eq(p, "SIP/2.0", 7);
}

static int parse_start_line(struct sip_msg *m, const char *s, const char *eol)
{
	size_t n = (size_t)(eol - s);

	if (n > SIP_LINE_MAX || n == 0)
		return -EINVAL;
	if (n >= 8 && is_version(s, 7) && s[7] == ' ') {
		/* SIP/2.0 SP 3DIGIT [SP reason] */
		const char *p = s + 8;
		if (eol - p < 3)
			return -EINVAL;
		unsigned code = 0;
		for (int i = 0; i < 3; i++) {
			if (p[i] < '0' || p[i] > '9')
				return -EINVAL;
			code = code * 10 + (unsigned)(p[i] - '0');
		}
		if (code < 100 || code > 699)
			return -EINVAL;
		p += 3;
		if (p < eol) {
			if (*p != ' ')
				return -EINVAL;
			p++;
		}
		m->is_request = false;
		m->method_id = SIP_METHOD_NONE;
		m->status = code;
		m->reason = (struct sip_str){p, (size_t)(eol - p)};
		return 0;
	}
	/* METHOD SP Request-URI SP SIP/2.0 */
	const char *p = s;
	while (p < eol && tchar[(unsigned char)*p])
		p++;
	if (p == s || p == eol || *p != ' ')
		return -EINVAL;
	m->method = (struct sip_str){s, (size_t)(p - s)};
	const char *u = ++p;
	p = memchr(u, ' ', (size_t)(eol - u));
	if (!p || p == u)
		return -EINVAL;
	m->ruri = (struct sip_str){u, (size_t)(p - u)};
	if (!is_version(p + 1, (size_t)(eol - p - 1)))
		return -EINVAL;
	m->is_request = true;
	m->method_id = method_id(m->method.p, m->method.len);
	return 0;
}

/* ---- parse ----------------------------------------------------------------------------- */

static int parse_content_length(struct sip_msg *m, struct sip_str v)
{
	long cl = 0;

	if (v.len == 0)
		return -EINVAL;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -EINVAL;
		cl = cl * 10 + (v.p[i] - '0');
		if (cl > SIP_MSG_MAX)
			return -EINVAL; /* cannot match a body of this message */
	}
	if (m->content_length >= 0 && m->content_length != cl)
		return -EINVAL;
	m->content_length = cl;
	return 0;
}

int sip_parse(struct sip_msg *m, const char *buf, size_t len)
{
	const char *end = buf + len, *p, *eol;
	int rc;

	if (!buf || len == 0 || len > SIP_MSG_MAX)
		return -EINVAL;
	m->buf = buf;
	m->len = len;
	m->n_hdrs = 0;
	m->content_length = -1;
	m->method = m->ruri = m->reason = (struct sip_str){buf, 0};
	m->status = 0;
	memset(m->first, 0xff, sizeof(m->first));

	p = line_end(buf, end, false, &eol);
	if (!p)
		return -EINVAL;
	rc = parse_start_line(m, buf, eol);
	if (rc)
		return rc;

	for (;;) {
		const char *s = p, *q;

		if (s == end)
			return -EINVAL; /* no empty line */
		if (*s == '\r' || *s == '\n') {
			if (*s == '\r' && (end - s < 2 || s[1] != '\n'))
				return -EINVAL;
			m->hdr_end = (size_t)(s - buf);
			p = s + (*s == '\r' ? 2 : 1);
			break;
		}
		/* name: a token, optional SP/HT, ':' (a leading SP/HT = folding: rejected) */
		q = s;
		while (q < end && tchar[(unsigned char)*q])
			q++;
		if (q == s)
			return -EINVAL;
		struct sip_str name = {s, (size_t)(q - s)};
		while (q < end && is_ws(*q))
			q++;
		if (q == end || *q != ':')
			return -EINVAL;
		q++;
		while (q < end && is_ws(*q))
			q++;
		p = line_end(q, end, true, &eol);
		if (!p || eol - s > SIP_LINE_MAX)
			return -EINVAL;
		const char *ve = eol;
		while (ve > q && is_ws(ve[-1]))
			ve--;
		if (m->n_hdrs >= SIP_MAX_HDRS)
			return -EINVAL;
		struct sip_hdr *h = &m->hdrs[m->n_hdrs];
		h->name = name;
		h->value = (struct sip_str){q, (size_t)(ve - q)};
		h->id = tok_lookup(name.p, name.len);
		if (m->first[h->id] == 0xff)
			m->first[h->id] = (uint8_t)m->n_hdrs;
		m->n_hdrs++;
		if (h->id == SIP_HDR_CONTENT_LENGTH) {
			rc = parse_content_length(m, h->value);
			if (rc)
				return rc;
		}
	}

	size_t body_len = (size_t)(end - p);
	if (m->content_length >= 0 && (size_t)m->content_length != body_len)
		return -EINVAL;
	m->body = (struct sip_str){p, body_len};
	return 0;
}

/* ---- header access ----------------------------------------------------------------------- */

const struct sip_hdr *sip_hdr_first(const struct sip_msg *m, enum sip_hdr_id id)
{
	if ((unsigned)id >= SIP_HDR_COUNT || m->first[id] == 0xff || m->first[id] >= m->n_hdrs)
		return NULL;
	return &m->hdrs[m->first[id]];
}

const struct sip_hdr *sip_hdr_next(const struct sip_msg *m, const struct sip_hdr *h)
{
	if (!h || h < m->hdrs || h >= m->hdrs + m->n_hdrs)
		return NULL;
	for (const struct sip_hdr *n = h + 1; n < m->hdrs + m->n_hdrs; n++) {
		if (n->id != h->id)
			continue;
		if (h->id != SIP_HDR_OTHER ||
		    (n->name.len == h->name.len && ci_eq(n->name.p, h->name.p, h->name.len)))
			return n;
	}
	return NULL;
}

const struct sip_hdr *sip_hdr_find(const struct sip_msg *m, const char *name, size_t len)
{
	enum sip_hdr_id id = sip_hdr_lookup(name, len);

	if (id != SIP_HDR_OTHER)
		return sip_hdr_first(m, id);
	for (unsigned i = 0; i < m->n_hdrs; i++) {
		const struct sip_hdr *h = &m->hdrs[i];
		if (h->id == SIP_HDR_OTHER && h->name.len == len && ci_eq(h->name.p, name, len))
			return h;
	}
	return NULL;
}

unsigned sip_hdr_count(const struct sip_msg *m, enum sip_hdr_id id)
{
	unsigned n = 0;

	for (unsigned i = 0; i < m->n_hdrs; i++)
		n += m->hdrs[i].id == id;
	return n;
}

/* Skips a quoted string starting at p (on the '"'); returns the byte after the closing quote,
 * or NULL when unterminated. */
static const char *skip_quoted(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '"')
			return p + 1;
		if (*p == '\\' && ++p == end)
			return NULL;
	}
	return NULL;
}

static struct sip_str trim(const char *p, const char *e)
{
	while (p < e && is_ws(*p))
		p++;
	while (e > p && is_ws(e[-1]))
		e--;
	return (struct sip_str){p, (size_t)(e - p)};
}

int sip_list_next(struct sip_str *list, struct sip_str *elem)
{
	const char *p = list->p, *end = list->p + list->len;

	while (p < end && (is_ws(*p) || *p == ','))
		p++;
	if (p == end) {
		*list = (struct sip_str){end, 0};
		return 0;
	}
	const char *s = p;
	while (p < end && *p != ',') {
		if (*p == '"') {
			p = skip_quoted(p, end);
			if (!p)
				return -EINVAL;
		} else if (*p == '<') {
			const char *q = memchr(p, '>', (size_t)(end - p));
			if (!q)
				return -EINVAL;
			p = q + 1;
		} else {
			p++;
		}
	}
	*elem = trim(s, p);
	*list = (struct sip_str){p, (size_t)(end - p)};
	return 1;
}

/* ---- name-addr ------------------------------------------------------------------------- */

/* Header parameters after a URI: nothing, or ';' params without <, >, or a top-level ',' */
static int addr_params(const char *p, const char *end, struct sip_addr *a)
{
	while (p < end && is_ws(*p))
		p++;
	if (p == end)
		return 0;
	if (*p != ';')
		return -EINVAL;
	p++;
	const char *s = p;
	while (p < end) {
		if (*p == '"') {
			p = skip_quoted(p, end);
			if (!p)
				return -EINVAL;
			continue;
		}
		if (*p == '<' || *p == '>' || *p == ',' || (unsigned char)*p < 0x20)
			if (*p != '\t')
				return -EINVAL;
		p++;
	}
	a->params = trim(s, end);
	return 0;
}

int sip_addr_parse(const char *s, size_t len, struct sip_addr *a)
{
	const char *p = s, *end = s + len, *q;

	memset(a, 0, sizeof(*a));
	a->display.p = a->uri.p = a->params.p = s;
	while (p < end && is_ws(*p))
		p++;
	if (p == end)
		return -EINVAL;
	if (*p == '"') {
		q = skip_quoted(p, end);
		if (!q)
			return -EINVAL;
		a->display = (struct sip_str){p + 1, (size_t)(q - p - 2)};
		a->quoted = true;
		p = q;
		while (p < end && is_ws(*p))
			p++;
		if (p == end || *p != '<')
			return -EINVAL;
	} else if (*p != '<') {
		/* token display name before '<', or a bare addr-spec */
		q = p;
		while (q < end && *q != '<' && *q != ';' && *q != '"' && *q != ',' &&
		       ((unsigned char)*q >= 0x20 || *q == '\t'))
			q++;
		if (q < end && *q == '<') {
			a->display = trim(p, q);
			p = q;
		} else {
			q = p;
			while (q < end && *q != ';' && !is_ws(*q)) {
				if (*q == '<' || *q == '>' || *q == '"' || *q == ',' ||
				    (unsigned char)*q < 0x20)
					return -EINVAL;
				q++;
			}
			a->uri = (struct sip_str){p, (size_t)(q - p)};
			if (!memchr(p, ':', (size_t)(q - p)))
				return -EINVAL;
			return addr_params(q, end, a);
		}
	}
	/* p on '<' */
	q = memchr(p, '>', (size_t)(end - p));
	if (!q || q == p + 1)
		return -EINVAL;
	a->angle = true;
	a->uri = (struct sip_str){p + 1, (size_t)(q - p - 1)};
	for (const char *c = p + 1; c < q; c++)
		if ((unsigned char)*c <= 0x20 || *c == '<' || *c == '"')
			return -EINVAL;
	return addr_params(q + 1, end, a);
}

/* ---- URIs ------------------------------------------------------------------------------- */

int sip_uri_parse(const char *s, size_t len, struct sip_uri *u)
{
	const char *end = s + len, *p, *c;

	memset(u, 0, sizeof(*u));
	u->scheme_str = u->user = u->host = u->params = u->headers = (struct sip_str){s, 0};
	for (p = s; p < end; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f || *p == '<' ||
		    *p == '>' || *p == '"')
			return -EINVAL;
	c = memchr(s, ':', len);
	if (!c || c == s)
		return -EINVAL;
	if (!((*s | 0x20) >= 'a' && (*s | 0x20) <= 'z'))
		return -EINVAL;
	for (p = s; p < c; p++)
		if (!tchar[(unsigned char)*p])
			return -EINVAL;
	u->scheme_str = (struct sip_str){s, (size_t)(c - s)};
	p = c + 1;
	if (CI_LIT(s, u->scheme_str.len, "tel")) {
		u->scheme = SIP_SCHEME_TEL;
		const char *sc = memchr(p, ';', (size_t)(end - p));
		const char *ne = sc ? sc : end;
		if (ne == p)
			return -EINVAL;
		u->user = (struct sip_str){p, (size_t)(ne - p)};
		u->host = (struct sip_str){ne, 0};
		if (sc)
			u->params = (struct sip_str){sc + 1, (size_t)(end - sc - 1)};
		else
			u->params = (struct sip_str){end, 0};
		return 0;
	}
	if (CI_LIT(s, u->scheme_str.len, "sip"))
		u->scheme = SIP_SCHEME_SIP;
	else if (CI_LIT(s, u->scheme_str.len, "sips"))
		u->scheme = SIP_SCHEME_SIPS;
	else
		return 0;

	const char *qm = memchr(p, '?', (size_t)(end - p));
	const char *me = qm ? qm : end;
	const char *at = memchr(p, '@', (size_t)(me - p));
	if (qm)
		u->headers = (struct sip_str){qm + 1, (size_t)(end - qm - 1)};
	else
		u->headers = (struct sip_str){end, 0};
	if (at) {
		const char *pw = memchr(p, ':', (size_t)(at - p));
		const char *ue = pw ? pw : at;
		if (ue == p)
			return -EINVAL;
		u->user = (struct sip_str){p, (size_t)(ue - p)};
		p = at + 1;
	} else {
		u->user = (struct sip_str){p, 0};
	}
	const char *h = p;
	if (p < me && *p == '[') {
		const char *rb = memchr(p, ']', (size_t)(me - p));
		if (!rb)
			return -EINVAL;
		p = rb + 1;
	} else {
		while (p < me && *p != ':' && *p != ';')
			p++;
	}
	if (p == h)
		return -EINVAL;
	u->host = (struct sip_str){h, (size_t)(p - h)};
	if (p < me && *p == ':') {
		unsigned port = 0, nd = 0;
		for (p++; p < me && *p >= '0' && *p <= '9' && nd < 6; p++, nd++)
			port = port * 10 + (unsigned)(*p - '0');
		if (nd == 0 || port == 0 || port > 65535)
			return -EINVAL;
		u->port = (uint16_t)port;
	}
	if (p < me) {
		if (*p != ';')
			return -EINVAL;
		u->params = (struct sip_str){p + 1, (size_t)(me - p - 1)};
	} else {
		u->params = (struct sip_str){me, 0};
	}
	return 0;
}

int sip_param_get(struct sip_str params, const char *name, struct sip_str *val)
{
	const char *p = params.p, *end = params.p + params.len;
	size_t nlen = strlen(name);

	for (;;) {
		while (p < end && (is_ws(*p) || *p == ';'))
			p++;
		if (p == end)
			return -ENOENT;
		const char *ns = p;
		while (p < end && *p != ';' && *p != '=' && !is_ws(*p)) {
			if (*p == '"' || *p == '<' || *p == '>' || *p == ',' ||
			    (unsigned char)*p < 0x20)
				return -EINVAL;
			p++;
		}
		const char *ne = p;
		if (ne == ns)
			return -EINVAL;
		struct sip_str v = {ne, 0};
		while (p < end && is_ws(*p))
			p++;
		if (p < end && *p == '=') {
			p++;
			while (p < end && is_ws(*p))
				p++;
			const char *vs = p;
			if (p < end && *p == '"') {
				p = skip_quoted(p, end);
				if (!p)
					return -EINVAL;
			} else {
				while (p < end && *p != ';' && !is_ws(*p)) {
					if (*p == '"' || (unsigned char)*p < 0x20)
						return -EINVAL;
					p++;
				}
			}
			v = (struct sip_str){vs, (size_t)(p - vs)};
			while (p < end && is_ws(*p))
				p++;
		}
		if (p < end && *p != ';')
			return -EINVAL;
		if ((size_t)(ne - ns) == nlen && ci_eq(ns, name, nlen)) {
			*val = v;
			return 0;
		}
	}
}

/* ---- convenience ------------------------------------------------------------------------ */

static int addr_tn(struct sip_str v, char out[TN_MAX + 1])
{
	struct sip_addr a;

	if (sip_addr_parse(v.p, v.len, &a) != 0)
		return -EINVAL;
	return tn_from_uri(a.uri.p, a.uri.len, out);
}

int sip_calling_tn(const struct sip_msg *m, char out[TN_MAX + 1])
{
	const struct sip_hdr *h;
	int rc;

	for (h = sip_hdr_first(m, SIP_HDR_PAI); h; h = sip_hdr_next(m, h)) {
		struct sip_str l = h->value, e;
		while (sip_list_next(&l, &e) == 1) {
			rc = addr_tn(e, out);
			if (rc > 0)
				return rc;
		}
	}
	h = sip_hdr_first(m, SIP_HDR_FROM);
	if (h) {
		rc = addr_tn(h->value, out);
		if (rc > 0)
			return rc;
	}
	return -ENOENT;
}

int sip_called_tn(const struct sip_msg *m, char out[TN_MAX + 1])
{
	const struct sip_hdr *h = sip_hdr_first(m, SIP_HDR_TO);
	int rc;

	if (h) {
		rc = addr_tn(h->value, out);
		if (rc > 0)
			return rc;
	}
	if (m->is_request) {
		rc = tn_from_uri(m->ruri.p, m->ruri.len, out);
		if (rc > 0)
			return rc;
	}
	return -ENOENT;
}

int sip_cseq(const struct sip_msg *m, uint32_t *num, struct sip_str *method)
{
	const struct sip_hdr *h = sip_hdr_first(m, SIP_HDR_CSEQ);
	const char *p, *end;
	uint64_t n = 0;

	if (!h)
		return -ENOENT;
	p = h->value.p;
	end = p + h->value.len;
	const char *ds = p;
	while (p < end && *p >= '0' && *p <= '9' && p - ds < 11)
		n = n * 10 + (uint64_t)(*p++ - '0');
	if (p == ds || p - ds > 10 || n > 0x7fffffffu)
		return -EINVAL;
	if (p == end || !is_ws(*p))
		return -EINVAL;
	while (p < end && is_ws(*p))
		p++;
	const char *ms = p;
	while (p < end && tchar[(unsigned char)*p])
		p++;
	if (p == ms || p != end)
		return -EINVAL;
	*num = (uint32_t)n;
	*method = (struct sip_str){ms, (size_t)(p - ms)};
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
static int64_t days_since_epoch(int64_t y, unsigned mon, unsigned d)
{
	/* count from March so that the leap day ends the year */
	if (mon <= 2)
		y--;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = (mon + 9) % 12;               /* March = 0 */
	int64_t doy = (153 * mp + 2) / 5 + d - 1;  /* day of the March-based year */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;        /* 719468 days from 0000-03-01 to 1970-01-01 */
}

static int digits(const char *p, unsigned n, unsigned *out)
{
	unsigned v = 0;

	for (unsigned i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	*out = v;
	return 0;
}

int sip_date_parse(const char *s, size_t len, int64_t *epoch)
{
	static const char wk[] = "MonTueWedThuFriSatSun";
	static const char mo[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	static const uint8_t mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	struct sip_str t = trim(s, s + len);
	const char *p = t.p, *end = t.p + t.len;
	unsigned day, mon, year, hh, mm, ss, i;

	/* "Sat, 13 Nov 2010 23:29:00 GMT": 29 bytes, or 28 with a one-digit day */
	if (t.len != 29 && t.len != 28)
		return -EINVAL;
	for (i = 0; i < 7; i++)
		if (memcmp(p, wk + 3 * i, 3) == 0)
			break;
	if (i == 7 || p[3] != ',' || p[4] != ' ')
		return -EINVAL;
	p += 5;
	unsigned dl = t.len == 29 ? 2 : 1;
	if (digits(p, dl, &day) || p[dl] != ' ')
		return -EINVAL;
	p += dl + 1;
	for (mon = 0; mon < 12; mon++)
		if (memcmp(p, mo + 3 * mon, 3) == 0)
			break;
	if (mon == 12 || p[3] != ' ')
		return -EINVAL;
	p += 4;
	if (digits(p, 4, &year) || p[4] != ' ')
		return -EINVAL;
	p += 5;
	if (digits(p, 2, &hh) || p[2] != ':' || digits(p + 3, 2, &mm) || p[5] != ':' ||
	    digits(p + 6, 2, &ss) || p[8] != ' ')
		return -EINVAL;
	p += 9;
	if (end - p != 3 || memcmp(p, "GMT", 3) != 0)
		return -EINVAL;
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	if (year < 1970 || day < 1 || day > mdays[mon] || (mon == 1 && day == 29 && !leap) ||
	    hh > 23 || mm > 59 || ss > 60)
		return -EINVAL;
	*epoch = days_since_epoch(year, mon + 1, day) * 86400 + hh * 3600 + mm * 60 + ss;
	return 0;
}

int sip_msg_date(const struct sip_msg *m, int64_t *epoch)
{
	const struct sip_hdr *h = sip_hdr_first(m, SIP_HDR_DATE);

	if (!h)
		return -ENOENT;
	return sip_date_parse(h->value.p, h->value.len, epoch);
}
