-- 004_api_tokens: the bearer tokens of the HTTP API, /mcp and the
-- console (orchestrator/api/auth.h, `afu9 token`).
--
-- A token is shown once, when it is created; only its BLAKE2b-256
-- digest is kept (a token has 256 random bits, so the digest needs no
-- salt or stretching).  A token is found by its digest's unique index.
-- A revoked row stays, so `afu9 token list` shows what existed; its name
-- may then be given to a new token.
CREATE TABLE api_tokens (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name		text NOT NULL
		CONSTRAINT api_tokens_name_check
		CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
	scope		text NOT NULL
		CONSTRAINT api_tokens_scope_check
		CHECK (scope IN ('read', 'run', 'admin')),
	token_hash	bytea NOT NULL
		CONSTRAINT api_tokens_token_hash_check
		CHECK (octet_length(token_hash) = 32),
	created		timestamptz NOT NULL DEFAULT now(),
	expires		timestamptz,
	last_used	timestamptz,
	revoked		timestamptz,
	CONSTRAINT api_tokens_expires_check CHECK (expires > created)
);
CREATE UNIQUE INDEX api_tokens_hash_idx ON api_tokens (token_hash);
-- One live token per name: `afu9 token revoke NAME` means that one.
CREATE UNIQUE INDEX api_tokens_name_idx ON api_tokens (name)
	WHERE revoked IS NULL;
