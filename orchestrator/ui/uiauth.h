/*
 * ui/uiauth: the sessions a console login opens.  No I/O and no clock
 * of its own (times are passed in, monotonic seconds), so it is tested
 * as it is.  The token a login posts is checked by api/auth.h (any valid
 * token of any scope logs in; its failure budget holds back guessers);
 * the session remembers who logged in: the token's name and scope, and
 * for a token of the database its digest, which the console checks
 * again at every page (auth_digest()), so revoking the token ends its
 * sessions.
 *
 * A session id is 32 bytes from randombytes_buf(), as 64 lowercase hex
 * digits: the cookie's value.  The table keeps only the keyed hash of
 * each id (what a memory dump would show cannot be replayed as a
 * cookie) with its expiry, at most UIAUTH_SESSIONS_MAX at once (a new
 * login past that replaces the one closest to expiring).  Sessions live
 * in the process: another afu9 task behind the same load balancer does
 * not know them (its pages ask to log in again).
 */
#ifndef AFU9_UI_UIAUTH_H
#define AFU9_UI_UIAUTH_H

#include <stddef.h>
#include <sodium.h>

#define UIAUTH_SID_HEX		64	/* characters of a session id */
#define UIAUTH_SESSIONS_MAX	1024
#define UIAUTH_TTL_S		(12 * 3600.)	/* a session's life */
#define UIAUTH_NAME_MAX		63	/* bytes of a token's name */
#define UIAUTH_DIGEST_LEN	32	/* of a token (AUTH_DIGEST_LEN) */

/* Who logged in. */
struct uiauth_who {
	int		 scope;		/* enum auth_scope */
	char		 name[UIAUTH_NAME_MAX + 1];	/* the token's */
	int		 db;		/* a token of the database: digest
					   set, checked again per page */
	unsigned char	 digest[UIAUTH_DIGEST_LEN];
};

struct uiauth_sess {
	unsigned char	 h[crypto_generichash_BYTES];	/* of the id */
	double		 expires;			/* 0: free slot */
	struct uiauth_who who;
};

struct uiauth {
	unsigned char		 key[crypto_generichash_KEYBYTES];
	double			 ttl;
	struct uiauth_sess	 s[UIAUTH_SESSIONS_MAX];
};

/* Set up; ttl 0: the default.  0, or -1 (sodium_init() failed). */
int	uiauth_init(struct uiauth *, double ttl);
/* Forget everything (the key and digests wiped). */
void	uiauth_clear(struct uiauth *);
/* Open a session for who (copied) at now: its id into
   sid[UIAUTH_SID_HEX + 1]. */
void	uiauth_open(struct uiauth *, double now, const struct uiauth_who *who,
	    char *sid);
/* The session sid if it is open at now (borrowed until the table
   changes), else NULL.  Anything not of the form is none. */
const struct uiauth_sess *uiauth_check(const struct uiauth *,
	    const char *sid, double now);
/* End session sid (nothing when there is none). */
void	uiauth_close(struct uiauth *, const char *sid);

#endif /* AFU9_UI_UIAUTH_H */
