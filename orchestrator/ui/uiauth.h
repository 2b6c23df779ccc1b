/*
 * ui/uiauth: the console's login: the token check, the sessions a login
 * opens, and the rate limit on failed logins.  No I/O and no clock of
 * its own (times are passed in, monotonic seconds), so it is tested as
 * it is.
 *
 * The login token is AFU9_API_TOKEN.  A candidate and the configured
 * token are both hashed with the process's random key
 * (crypto_generichash) and the digests compared with sodium_memcmp(), as
 * the API does: neither the result nor its time tells anything about
 * the token.
 *
 * A session id is 32 bytes from randombytes_buf(), as 64 lowercase hex
 * digits: the cookie's value.  The table keeps only the keyed hash of
 * each id (what a memory dump would show cannot be replayed as a
 * cookie) with its expiry, at most UIAUTH_SESSIONS_MAX at once (a new
 * login past that replaces the one closest to expiring).  Sessions live
 * in the process: another afu9 task behind the same load balancer does
 * not know them (its pages ask to log in again).
 *
 * Failed logins: each peer (an address as text) has a budget of
 * UIAUTH_FAIL_BURST failures, refilled at one per UIAUTH_FAIL_REFILL_S
 * seconds; a peer that spent it is refused (429) until one comes back,
 * right token or not, so guessing costs time.  The peer UIAUTH_ALL
 * stands for every client together, with a budget of UIAUTH_ALL_BURST
 * refilled at one per UIAUTH_ALL_REFILL_S (a guesser who varies his
 * address is held up too, yet cannot lock the operators out for long
 * with a few failures).  At most UIAUTH_PEERS_MAX
 * peers are tracked (the entry of the peer least recently failing goes).
 */
#ifndef AFU9_UI_UIAUTH_H
#define AFU9_UI_UIAUTH_H

#include <stddef.h>
#include <sodium.h>

#define UIAUTH_SID_HEX		64	/* characters of a session id */
#define UIAUTH_SESSIONS_MAX	1024
#define UIAUTH_TTL_S		(12 * 3600.)	/* a session's life */
#define UIAUTH_PEERS_MAX	1024
#define UIAUTH_FAIL_BURST	5
#define UIAUTH_FAIL_REFILL_S	12.
#define UIAUTH_ALL		"*"	/* every client together */
#define UIAUTH_ALL_BURST	60
#define UIAUTH_ALL_REFILL_S	1.
#define UIAUTH_PEER_MAX		64	/* bytes of a peer's name */

struct uiauth_sess {
	unsigned char	 h[crypto_generichash_BYTES];	/* of the id */
	double		 expires;			/* 0: free slot */
};

struct uiauth_peer {
	char		 name[UIAUTH_PEER_MAX];		/* "": free */
	double		 tokens;
	double		 at;		/* when tokens was computed */
};

struct uiauth {
	unsigned char		 key[crypto_generichash_KEYBYTES];
	unsigned char		 token[crypto_generichash_BYTES];
	double			 ttl;
	struct uiauth_sess	 s[UIAUTH_SESSIONS_MAX];
	struct uiauth_peer	 p[UIAUTH_PEERS_MAX];
};

/* Set up for token (not kept: only its keyed hash); ttl 0: the default.
   0, or -1 (sodium_init() failed, an empty token). */
int	uiauth_init(struct uiauth *, const char *token, double ttl);
/* Forget everything (the key and digests wiped). */
void	uiauth_clear(struct uiauth *);
/* Is s[0..n) the token?  Constant time in the token's bytes. */
int	uiauth_token_ok(const struct uiauth *, const char *s, size_t n);
/* Open a session at now: its id into sid[UIAUTH_SID_HEX + 1]. */
void	uiauth_open(struct uiauth *, double now, char *sid);
/* Is sid a session open at now?  Anything not of the form is not. */
int	uiauth_check(const struct uiauth *, const char *sid, double now);
/* End session sid (nothing when there is none). */
void	uiauth_close(struct uiauth *, const char *sid);
/* May peer try a login at now?  0: yes; else the seconds to wait. */
double	uiauth_peer_wait(struct uiauth *, const char *peer, double now);
/* A failed login by peer at now. */
void	uiauth_peer_failed(struct uiauth *, const char *peer, double now);

#endif /* AFU9_UI_UIAUTH_H */
