/*
 * sigv4: AWS Signature Version 4, header form ("Authorization:" header).
 *
 * The caller describes the request exactly as it will go on the wire
 * (method, raw path, raw query, the headers to sign, the body or its
 * hash); aws_sigv4_sign() builds the canonical request and the string to
 * sign, derives the signing key and returns the headers the caller must
 * add to the request.  Pure computation: no I/O, no clock (the caller
 * passes the time), no logging, nothing kept between calls (the signing
 * key is derived afresh each time: four HMACs, cheaper than a cache that
 * would keep key material alive).
 *
 * Canonicalisation (AWS "Create a canonical request"):
 *  - path: with normalisation (the default), empty and "." segments are
 *    dropped and ".." removes the segment before it; a trailing '/' is kept
 *    when the result is not "/".  Then every byte but A-Za-z0-9-._~ and '/'
 *    becomes %XX (uppercase hex).  The path is taken as sent, so an escape
 *    already in it is encoded again ("%20" -> "%2520"): the double
 *    encoding every service but S3 expects.  S3 wants neither step
 *    (AWS_SIGV4_S3: the path is used verbatim).
 *  - query: split on '&', each "key=value" split at the first '=' (a
 *    parameter without '=' gets an empty value, "key="); key and value are
 *    percent-decoded, then encoded as above with '/' encoded too, and the
 *    pairs sorted by encoded key, then encoded value.  '+' is not a space
 *    here: send spaces as %20.
 *  - headers: every header the caller passes is signed.  Names lowercased;
 *    values trimmed, with each run of spaces, tabs and line folds ("\n" or
 *    "\r\n" followed by a space or tab) turned into one space; several
 *    headers with one name are joined with ',' in the order given; sorted
 *    by name.  A line break not followed by a space or tab is refused (it
 *    would start a new header on the wire).  A Host header is required.
 *  - payload: lowercase hex SHA-256 of the body, or the caller's
 *    precomputed payload_hash (e.g. AWS_SIGV4_UNSIGNED_PAYLOAD).
 *
 * Secrets: the secret key is only ever held in caller memory and in stack
 * buffers that are wiped (sodium_memzero) before return; it never appears
 * in an output or an error message.  The session token is not a signing
 * secret but is never put in an error message either.
 */
#ifndef AFU9_AWS_SIGV4_H
#define AFU9_AWS_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

/* Input bounds; crossing any of them is an error, never a truncation. */
#define AWS_SIGV4_MAX_METHOD		32u
#define AWS_SIGV4_MAX_PATH		8192u
#define AWS_SIGV4_MAX_QUERY		65536u
#define AWS_SIGV4_MAX_QUERY_PARAMS	1024u
#define AWS_SIGV4_MAX_HEADERS		64u
#define AWS_SIGV4_MAX_HEADER_NAME	256u
#define AWS_SIGV4_MAX_HEADER_VALUE	16384u
#define AWS_SIGV4_MAX_KEY_ID		128u
#define AWS_SIGV4_MAX_SECRET		256u
#define AWS_SIGV4_MAX_TOKEN		16384u
#define AWS_SIGV4_MAX_SCOPE_PART	64u	/* region, service */
/* Bound on the canonical request as built (covers every bound above). */
#define AWS_SIGV4_MAX_CANONICAL		(1024u * 1024)

#define AWS_SIGV4_UNSIGNED_PAYLOAD	"UNSIGNED-PAYLOAD"

/* aws_sigv4_req.flags; 0 is right for every service but S3. */
#define AWS_SIGV4_NO_NORMALIZE	0x01u	/* keep "." "..", "//" in the path */
#define AWS_SIGV4_NO_ENCODE_PATH 0x02u	/* path already canonical: verbatim */
#define AWS_SIGV4_S3		(AWS_SIGV4_NO_NORMALIZE | AWS_SIGV4_NO_ENCODE_PATH)
#define AWS_SIGV4_CONTENT_SHA256 0x04u	/* add and sign x-amz-content-sha256 */
#define AWS_SIGV4_OMIT_TOKEN	0x08u	/* add X-Amz-Security-Token unsigned
					   (services that want it left out
					   of the signature, e.g. IoT) */

/* aws_sigv4_encode() flags. */
#define AWS_SIGV4_KEEP_SLASH	0x01u	/* '/' stays as is (paths) */

struct aws_sigv4_header {
	const char	*name;
	const char	*value;
};

/* Everything borrowed; nothing is kept after aws_sigv4_sign() returns. */
struct aws_sigv4_req {
	const char	*method;	/* "GET", "POST" ... */
	const char	*path;		/* raw, as sent; "" means "/" */
	const char	*query;		/* raw, without '?'; NULL or "" = none */
	const struct aws_sigv4_header *headers;	/* all signed; Host required */
	size_t		 nheaders;
	const void	*body;		/* may be NULL when body_len is 0 */
	size_t		 body_len;
	/* NULL: hash the body.  Else used as the payload hash instead: 64
	   lowercase hex digits, or a literal of A-Z 0-9 '-' such as
	   AWS_SIGV4_UNSIGNED_PAYLOAD. */
	const char	*payload_hash;
	unsigned	 flags;		/* AWS_SIGV4_* */
};

/* Borrowed.  session_token NULL or "" means long-term credentials. */
struct aws_sigv4_creds {
	const char	*access_key_id;
	const char	*secret_access_key;
	const char	*session_token;
};

#define AWS_SIGV4_MAX_ADD	4	/* headers aws_sigv4_sign() may add */

/*
 * The result.  Every pointer is owned by the struct and freed by
 * aws_sigv4_out_free(); all strings are NUL-terminated.
 */
struct aws_sigv4_out {
	char	*canonical_request;
	char	*string_to_sign;
	char	*authorization;		/* the Authorization header's value */
	char	 signature[65];		/* lowercase hex */
	char	 amz_date[17];		/* "YYYYMMDDTHHMMSSZ" */
	/*
	 * "Name: value" lines to add to the request, NULL-terminated (the
	 * shape httpc_request() takes), in this order: X-Amz-Date,
	 * X-Amz-Security-Token (with a session token), x-amz-content-sha256
	 * (with AWS_SIGV4_CONTENT_SHA256), Authorization.
	 */
	char	*headers[AWS_SIGV4_MAX_ADD + 1];
};

/*
 * Sign `req` for `region`/`service` at time `when` (seconds since the
 * epoch, UTC).  On success returns 0 and fills *out (free with
 * aws_sigv4_out_free()).  On failure returns -1, leaves *out empty (freeing
 * it is still safe) and writes a message to err (at most errlen bytes,
 * NUL-terminated; errlen may be 0): a bound crossed, a malformed input,
 * a header the signer sets itself already present (Authorization,
 * X-Amz-Date, and X-Amz-Security-Token / x-amz-content-sha256 when it
 * would add them), or out of memory.
 */
int	aws_sigv4_sign(const struct aws_sigv4_req *req,
	    const struct aws_sigv4_creds *creds, const char *region,
	    const char *service, time_t when, struct aws_sigv4_out *out,
	    char *err, size_t errlen);

/* Free what *out holds and zero it; safe on a zeroed or freed struct. */
void	aws_sigv4_out_free(struct aws_sigv4_out *out);

/*
 * Append the SigV4 URI encoding of s[0..len) to b: A-Za-z0-9-._~ kept,
 * '/' kept with AWS_SIGV4_KEEP_SLASH, every other byte %XX in uppercase
 * hex.  0, or -1 (errno ENOBUFS past b's bound, ENOMEM) with b holding a
 * partial result.  Also the encoding to use when building query strings
 * and form bodies for AWS.
 */
int	aws_sigv4_encode(struct buf *b, const void *s, size_t len,
	    unsigned flags);

/* The value of hex digit c (either case), or -1. */
int	aws_hexval(int c);

#endif
