/*
 * ui/uiauth: token, sessions and the login rate limit (see ui/uiauth.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ui/uiauth.h"

int
uiauth_init(struct uiauth *a, const char *token, double ttl)
{
	memset(a, 0, sizeof(*a));
	if (token == NULL || *token == '\0' || sodium_init() < 0)
		return -1;
	randombytes_buf(a->key, sizeof(a->key));
	crypto_generichash(a->token, sizeof(a->token),
	    (const unsigned char *)token, strlen(token), a->key,
	    sizeof(a->key));
	a->ttl = ttl > 0 ? ttl : UIAUTH_TTL_S;
	return 0;
}

void
uiauth_clear(struct uiauth *a)
{
	sodium_memzero(a, sizeof(*a));
}

int
uiauth_token_ok(const struct uiauth *a, const char *s, size_t n)
{
	unsigned char h[crypto_generichash_BYTES];

	if (n == 0 || crypto_generichash(h, sizeof(h),
	    (const unsigned char *)s, n, a->key, sizeof(a->key)) != 0)
		return 0;
	return sodium_memcmp(h, a->token, sizeof(h)) == 0;
}

/* The keyed hash of a well-formed id into h; -1 when it is not one. */
static int
sid_hash(const struct uiauth *a, const char *sid, unsigned char *h)
{
	size_t i;

	for (i = 0; i < UIAUTH_SID_HEX; i++)
		if (!((sid[i] >= '0' && sid[i] <= '9') ||
		    (sid[i] >= 'a' && sid[i] <= 'f')))
			return -1;
	if (sid[UIAUTH_SID_HEX] != '\0')
		return -1;
	crypto_generichash(h, crypto_generichash_BYTES,
	    (const unsigned char *)sid, UIAUTH_SID_HEX, a->key,
	    sizeof(a->key));
	return 0;
}

void
uiauth_open(struct uiauth *a, double now, char *sid)
{
	unsigned char raw[UIAUTH_SID_HEX / 2];
	struct uiauth_sess *slot = &a->s[0];
	size_t i;

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(sid, UIAUTH_SID_HEX + 1, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	/* a free or expired slot, else the one closest to expiring */
	for (i = 0; i < UIAUTH_SESSIONS_MAX; i++) {
		if (a->s[i].expires <= now) {
			slot = &a->s[i];
			break;
		}
		if (a->s[i].expires < slot->expires)
			slot = &a->s[i];
	}
	sid_hash(a, sid, slot->h);
	slot->expires = now + a->ttl;
}

static struct uiauth_sess *
find(const struct uiauth *a, const char *sid, double now)
{
	unsigned char h[crypto_generichash_BYTES];
	size_t i;

	if (sid == NULL || sid_hash(a, sid, h) == -1)
		return NULL;
	for (i = 0; i < UIAUTH_SESSIONS_MAX; i++)
		if (a->s[i].expires > now &&
		    sodium_memcmp(a->s[i].h, h, sizeof(h)) == 0)
			return (struct uiauth_sess *)&a->s[i];
	return NULL;
}

int
uiauth_check(const struct uiauth *a, const char *sid, double now)
{
	return find(a, sid, now) != NULL;
}

void
uiauth_close(struct uiauth *a, const char *sid)
{
	struct uiauth_sess *s = find(a, sid, 0);

	if (s != NULL)
		memset(s, 0, sizeof(*s));
}

/* The entry of peer with its budget brought to now, or NULL. */
static struct uiauth_peer *
peer_get(struct uiauth *a, const char *peer, double now, int make)
{
	struct uiauth_peer *p, *old = &a->p[0];
	int all = strcmp(peer, UIAUTH_ALL) == 0;
	double burst = all ? UIAUTH_ALL_BURST : UIAUTH_FAIL_BURST;
	double refill = all ? UIAUTH_ALL_REFILL_S : UIAUTH_FAIL_REFILL_S;
	size_t i;

	for (i = 0; i < UIAUTH_PEERS_MAX; i++) {
		p = &a->p[i];
		if (p->name[0] != '\0' && strncmp(p->name, peer,
		    sizeof(p->name) - 1) == 0) {
			p->tokens += (now - p->at) / refill;
			if (p->tokens > burst)
				p->tokens = burst;
			p->at = now;
			return p;
		}
		if (p->name[0] == '\0' ? old->name[0] != '\0' :
		    old->name[0] != '\0' && p->at < old->at)
			old = p;
	}
	if (!make)
		return NULL;
	snprintf(old->name, sizeof(old->name), "%s", peer);
	old->tokens = burst;
	old->at = now;
	return old;
}

double
uiauth_peer_wait(struct uiauth *a, const char *peer, double now)
{
	struct uiauth_peer *p = peer_get(a, peer, now, 0);

	if (p == NULL || p->tokens >= 1)
		return 0;
	return (1 - p->tokens) * (strcmp(peer, UIAUTH_ALL) == 0 ?
	    UIAUTH_ALL_REFILL_S : UIAUTH_FAIL_REFILL_S);
}

void
uiauth_peer_failed(struct uiauth *a, const char *peer, double now)
{
	struct uiauth_peer *p = peer_get(a, peer, now, 1);

	p->tokens = p->tokens >= 1 ? p->tokens - 1 : 0;
}
