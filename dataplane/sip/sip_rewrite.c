/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIP rewriting: header insertion, URI parameter setting (verstat), and responses built from a
 * parsed request. Output goes into a caller buffer; every function is a list of copies bounded
 * by cap, so an undersized buffer yields -ENOSPC, never an overflow.
 */
#include "dataplane/sip/sip.h"

#include <errno.h>
#include <string.h>

/* An output buffer that remembers overflow instead of writing past cap. */
struct wbuf {
	char *p;
	size_t cap;
	size_t len;
	bool full;
};

static void put(struct wbuf *w, const char *s, size_t n)
{
	if (w->full || n > w->cap - w->len) {
		w->full = true;
		return;
	}
	if (n)
		memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void puts_(struct wbuf *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_str(struct wbuf *w, struct sip_str s)
{
	put(w, s.p, s.len);
}

static long wdone(const struct wbuf *w)
{
	if (w->full)
		return -ENOSPC;
	if (w->len > SIP_MSG_MAX)
		return -EINVAL;
	return (long)w->len;
}

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-.!%*_+`'~", c));
}

static bool no_crlf_nul(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return false;
	return true;
}

/* A header line we may emit: "token [SP/HT] : value", no CR/LF/NUL, at most SIP_LINE_MAX. */
static bool valid_line(struct sip_str l)
{
	size_t i = 0;

	if (!l.p || l.len == 0 || l.len > SIP_LINE_MAX || !no_crlf_nul(l.p, l.len))
		return false;
	while (i < l.len && is_tchar(l.p[i]))
		i++;
	if (i == 0)
		return false;
	while (i < l.len && (l.p[i] == ' ' || l.p[i] == '\t'))
		i++;
	return i < l.len && l.p[i] == ':';
}

long sip_add_hdrs(const struct sip_msg *m, const struct sip_str *lines, unsigned n, char *out,
		  size_t cap)
{
	struct wbuf w = {out, cap, 0, false};

	if (n > SIP_MAX_HDRS || m->n_hdrs + n > SIP_MAX_HDRS || (n && !lines))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (!valid_line(lines[i]))
			return -EINVAL;
	put(&w, m->buf, m->hdr_end);
	for (unsigned i = 0; i < n; i++) {
		put_str(&w, lines[i]);
		put(&w, "\r\n", 2);
	}
	put(&w, m->buf + m->hdr_end, m->len - m->hdr_end);
	return wdone(&w);
}

long sip_add_hdr(const struct sip_msg *m, const char *line, char *out, size_t cap)
{
	if (!line)
		return -EINVAL;
	struct sip_str l = {line, strlen(line)};
	return sip_add_hdrs(m, &l, 1, out, cap);
}

/* ---- URI parameter -------------------------------------------------------------------- */

/* unreserved / param-unreserved / escaped (RFC 3261 §25.1 paramchar) */
static bool is_paramchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-_.!~*'()[]/:&+$%", c));
}

/* One splice: delete del bytes at off, then write up to four pieces. */
struct edit {
	size_t off;
	size_t del;
	struct sip_str piece[4];
};

#define MAX_EDITS 6

/* Adds the edits setting the parameter on the URI of header value v. */
static int uri_edits(const struct sip_msg *m, struct sip_str v, const char *name,
		     const char *value, struct edit *e, unsigned *ne, size_t *grow)
{
	struct sip_addr a;
	struct sip_uri u;
	struct sip_str pv;
	size_t nlen = strlen(name), vlen = value ? strlen(value) : 0;
	size_t before = *ne;
	int rc;

	if (sip_addr_parse(v.p, v.len, &a) != 0 || sip_uri_parse(a.uri.p, a.uri.len, &u) != 0)
		return -EINVAL;
	if (u.scheme == SIP_SCHEME_OTHER)
		return -EINVAL;
	size_t uri_off = (size_t)(a.uri.p - m->buf);
	size_t uri_end = uri_off + a.uri.len;

	if (!a.angle)
		e[(*ne)++] = (struct edit){uri_off, 0, {{"<", 1}}};

	rc = sip_param_get(u.params, name, &pv);
	if (rc == 0) {
		bool has_eq = pv.p > u.params.p && pv.p[-1] == '=';
		size_t off = (size_t)(pv.p - m->buf);
		if (has_eq && value)
			e[(*ne)++] = (struct edit){off, pv.len, {{value, vlen}}};
		else if (has_eq) /* drop "=old" */
			e[(*ne)++] = (struct edit){off - 1, pv.len + 1, {{NULL, 0}}};
		else if (value)
			e[(*ne)++] = (struct edit){off, 0, {{"=", 1}, {value, vlen}}};
	} else if (rc == -ENOENT) {
		size_t off = uri_end;
		if (u.scheme != SIP_SCHEME_TEL) {
			const char *q = memchr(a.uri.p, '?', a.uri.len);
			if (q)
				off = (size_t)(q - m->buf);
		}
		if (value)
			e[(*ne)++] = (struct edit){off, 0, {{";", 1}, {name, nlen}, {"=", 1},
							    {value, vlen}}};
		else
			e[(*ne)++] = (struct edit){off, 0, {{";", 1}, {name, nlen}}};
	} else {
		return -EINVAL;
	}

	if (!a.angle)
		e[(*ne)++] = (struct edit){uri_end, 0, {{">", 1}}};

	for (unsigned i = (unsigned)before; i < *ne; i++) {
		for (unsigned k = 0; k < 4; k++)
			*grow += e[i].piece[k].len;
	}
	return 0;
}

long sip_set_uri_param(const struct sip_msg *m, unsigned targets, const char *name,
		       const char *value, char *out, size_t cap)
{
	struct edit e[MAX_EDITS];
	unsigned ne = 0;
	struct wbuf w = {out, cap, 0, false};
	const struct sip_hdr *hs[2] = {NULL, NULL};
	int rc;

	if (!name || !*name || (targets & ~(unsigned)(SIP_TARGET_PAI | SIP_TARGET_FROM)))
		return -EINVAL;
	for (const char *c = name; *c; c++)
		if (!is_tchar(*c))
			return -EINVAL;
	if (value)
		for (const char *c = value; *c; c++)
			if (!is_paramchar(*c))
				return -EINVAL;
	if (strlen(name) > SIP_LINE_MAX || (value && strlen(value) > SIP_LINE_MAX))
		return -EINVAL;
	if (targets & SIP_TARGET_PAI)
		hs[0] = sip_hdr_first(m, SIP_HDR_PAI);
	if (targets & SIP_TARGET_FROM)
		hs[1] = sip_hdr_first(m, SIP_HDR_FROM);
	if (!hs[0] && !hs[1])
		return -ENOENT;

	for (unsigned i = 0; i < 2; i++) {
		const struct sip_hdr *h = hs[i];
		struct sip_str v;
		size_t grow = 0;
		if (!h)
			continue;
		v = h->value;
		if (i == 0) { /* PAI is a list: its first element */
			struct sip_str l = h->value;
			if (sip_list_next(&l, &v) != 1)
				return -EINVAL;
		}
		rc = uri_edits(m, v, name, value, e, &ne, &grow);
		if (rc)
			return rc;
		if ((size_t)(h->value.p + h->value.len - h->name.p) + grow > SIP_LINE_MAX)
			return -EINVAL;
	}
	/* stable insertion sort by offset: edits at one offset keep their order */
	for (unsigned i = 1; i < ne; i++) {
		struct edit t = e[i];
		unsigned j = i;
		while (j > 0 && e[j - 1].off > t.off) {
			e[j] = e[j - 1];
			j--;
		}
		e[j] = t;
	}
	size_t cur = 0;
	for (unsigned i = 0; i < ne; i++) {
		if (e[i].off < cur)
			return -EINVAL; /* overlapping edits: cannot happen on distinct headers */
		put(&w, m->buf + cur, e[i].off - cur);
		for (unsigned k = 0; k < 4; k++)
			put_str(&w, e[i].piece[k]);
		cur = e[i].off + e[i].del;
	}
	put(&w, m->buf + cur, m->len - cur);
	return wdone(&w);
}

/* ---- responses ------------------------------------------------------------------------ */

static const char *default_reason(unsigned code)
{
	switch (code) {
	case 100: return "Trying";
	case 180: return "Ringing";
	case 183: return "Session Progress";
	case 200: return "OK";
	case 202: return "Accepted";
	case 301: return "Moved Permanently";
	case 302: return "Moved Temporarily";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 420: return "Bad Extension";
	case 428: return "Use Identity Header";
	case 436: return "Bad Identity Info";
	case 437: return "Unsupported Credential";
	case 438: return "Invalid Identity Header";
	case 480: return "Temporarily Unavailable";
	case 481: return "Call/Transaction Does Not Exist";
	case 482: return "Loop Detected";
	case 483: return "Too Many Hops";
	case 486: return "Busy Here";
	case 487: return "Request Terminated";
	case 488: return "Not Acceptable Here";
	case 500: return "Server Internal Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 504: return "Server Time-out";
	case 603: return "Decline";
	case 608: return "Rejected";
	default: return "Unknown";
	}
}

long sip_build_response(const struct sip_msg *req, unsigned code, const char *reason,
			const struct sip_resp_opts *opts, char *out, size_t cap)
{
	static const struct sip_resp_opts none;
	struct wbuf w = {out, cap, 0, false};
	const struct sip_hdr *via, *from, *to, *callid, *cseq, *h;
	struct sip_addr ta;
	struct sip_str tag;
	bool add_tag = false;
	char code_s[4];

	if (!opts)
		opts = &none;
	if (!req->is_request || code < 100 || code > 699)
		return -EINVAL;
	if (!reason)
		reason = default_reason(code);
	if (!no_crlf_nul(reason, strlen(reason)))
		return -EINVAL;
	via = sip_hdr_first(req, SIP_HDR_VIA);
	from = sip_hdr_first(req, SIP_HDR_FROM);
	to = sip_hdr_first(req, SIP_HDR_TO);
	callid = sip_hdr_first(req, SIP_HDR_CALL_ID);
	cseq = sip_hdr_first(req, SIP_HDR_CSEQ);
	if (!via || !from || !to || !callid || !cseq)
		return -EINVAL;
	if (opts->to_tag) {
		if (!*opts->to_tag)
			return -EINVAL;
		for (const char *c = opts->to_tag; *c; c++)
			if (!is_tchar(*c))
				return -EINVAL;
		if (sip_addr_parse(to->value.p, to->value.len, &ta) != 0)
			return -EINVAL;
		int rc = sip_param_get(ta.params, "tag", &tag);
		if (rc == -ENOENT)
			add_tag = true;
		else if (rc != 0)
			return -EINVAL;
	}
	if (opts->contact_extra.len &&
	    (!opts->contact_extra.p || !no_crlf_nul(opts->contact_extra.p, opts->contact_extra.len)))
		return -EINVAL;
	if (opts->n_hdrs && !opts->hdrs)
		return -EINVAL;
	for (unsigned i = 0; i < opts->n_hdrs; i++)
		if (!valid_line(opts->hdrs[i]))
			return -EINVAL;

	code_s[0] = (char)('0' + code / 100);
	code_s[1] = (char)('0' + code / 10 % 10);
	code_s[2] = (char)('0' + code % 10);
	code_s[3] = '\0';
	puts_(&w, "SIP/2.0 ");
	puts_(&w, code_s);
	puts_(&w, " ");
	puts_(&w, reason);
	puts_(&w, "\r\n");
	for (h = via; h; h = sip_hdr_next(req, h)) {
		puts_(&w, "Via: ");
		put_str(&w, h->value);
		puts_(&w, "\r\n");
	}
	puts_(&w, "From: ");
	put_str(&w, from->value);
	puts_(&w, "\r\nTo: ");
	put_str(&w, to->value);
	if (add_tag) {
		puts_(&w, ";tag=");
		puts_(&w, opts->to_tag);
	}
	puts_(&w, "\r\nCall-ID: ");
	put_str(&w, callid->value);
	puts_(&w, "\r\nCSeq: ");
	put_str(&w, cseq->value);
	puts_(&w, "\r\n");
	if (opts->contact_ruri) {
		puts_(&w, "Contact: <");
		put_str(&w, req->ruri);
		if (opts->contact_extra.len)
			put_str(&w, opts->contact_extra);
		puts_(&w, ">\r\n");
	}
	for (unsigned i = 0; i < opts->n_hdrs; i++) {
		put_str(&w, opts->hdrs[i]);
		puts_(&w, "\r\n");
	}
	puts_(&w, "Content-Length: 0\r\n\r\n");
	return wdone(&w);
}
