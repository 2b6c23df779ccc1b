/*
 * ui/uiauth: the console's sessions (see ui/uiauth.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ui/uiauth.h"

int
uiauth_init(struct uiauth *a, double ttl)
{
	memset(a, 0, sizeof(*a));
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(a->key, sizeof(a->key));
	a->ttl = ttl > 0 ? ttl : UIAUTH_TTL_S;
	return 0;
}

void
uiauth_clear(struct uiauth *a)
{
	sodium_memzero(a, sizeof(*a));
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
uiauth_open(struct uiauth *a, double now, const struct uiauth_who *who,
    char *sid)
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
	if (who != NULL)
		slot->who = *who;
	else
		memset(&slot->who, 0, sizeof(slot->who));
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

const struct uiauth_sess *
uiauth_check(const struct uiauth *a, const char *sid, double now)
{
	return find(a, sid, now);
}

void
uiauth_close(struct uiauth *a, const char *sid)
{
	struct uiauth_sess *s = find(a, sid, 0);

	if (s != NULL)
		memset(s, 0, sizeof(*s));
}
