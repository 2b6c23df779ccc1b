-- bench/pk-order.sql: what the order of audit ids costs PostgreSQL.
--
-- psql -X -d "$DATABASE_URL" -f bench/pk-order.sql   (a migrated afu9
-- database, e.g. from scripts/localdb.sh; takes about a minute)
--
-- Two copies of mcp_tool_calls (its indexes, not its foreign keys) are
-- filled with a million rows each, one with random (version 4) ids, one
-- with time-ordered ids laid out as afu9 makes them (version 7: the time
-- in ms in the first 48 bits).  Then 100,000 more rows go into each,
-- twice, with \timing on; last, the cost of making the ids alone and the
-- size of both primary keys.  Compare "random" with "ordered" minus the
-- difference of the two "gen-only" lines.  Both tables are dropped.
\timing on
DROP TABLE IF EXISTS r1; DROP TABLE IF EXISTS o1;
CREATE TABLE r1 (LIKE mcp_tool_calls INCLUDING ALL);
CREATE TABLE o1 (LIKE mcp_tool_calls INCLUDING ALL);
CREATE OR REPLACE FUNCTION afu9_bench_v7(i bigint) RETURNS uuid LANGUAGE sql AS $$ SELECT (lpad(to_hex(1700000000000 + i), 12, '0') || '7' || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid $$;
\echo fill
INSERT INTO r1 (id, server, tool, caller, status, duration_ms, started_at) SELECT gen_random_uuid(), 'conf', 'echo', 'gateway', 'completed', 0, now() FROM generate_series(1,1000000) g;
INSERT INTO o1 (id, server, tool, caller, status, duration_ms, started_at) SELECT afu9_bench_v7(g), 'conf', 'echo', 'gateway', 'completed', 0, now() FROM generate_series(1,1000000) g;
CHECKPOINT;
\echo random
INSERT INTO r1 (id, server, tool, caller, status, duration_ms, started_at) SELECT gen_random_uuid(), 'conf', 'echo', 'gateway', 'completed', 0, now() FROM generate_series(1,100000) g;
\echo ordered
INSERT INTO o1 (id, server, tool, caller, status, duration_ms, started_at) SELECT afu9_bench_v7(g+2000000), 'conf', 'echo', 'gateway', 'completed', 0, now() FROM generate_series(1,100000) g;
CHECKPOINT;
\echo random
INSERT INTO r1 (id, server, tool, caller, status, duration_ms, started_at) SELECT gen_random_uuid(), 'conf', 'echo', 'gateway', 'completed', 0, now() FROM generate_series(1,100000) g;
\echo ordered
INSERT INTO o1 (id, server, tool, caller, status, duration_ms, started_at) SELECT afu9_bench_v7(g+3000000), 'conf', 'echo', 'gateway', 'completed', 0, now() FROM generate_series(1,100000) g;
\echo gen-only
SELECT count(afu9_bench_v7(g)) FROM generate_series(1,100000) g;
SELECT count(gen_random_uuid()) FROM generate_series(1,100000) g;
SELECT pg_size_pretty(pg_relation_size('r1_pkey')), pg_size_pretty(pg_relation_size('o1_pkey'));
DROP TABLE r1; DROP TABLE o1;
DROP FUNCTION afu9_bench_v7(bigint);
