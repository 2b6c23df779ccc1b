/*
 * pgquery: the queries of the Check tests that use t/pgtest.h's server
 * (implemented in t/pgtest.c).  Short names, as testutil's t_*: a test
 * uses them on most of its lines; a test with query helpers of its own
 * does not include this header.
 */
#ifndef AFU9_PGQUERY_H
#define AFU9_PGQUERY_H

/*
 * Queries for Check tests, one connection each (a test may stop the
 * server or fork between two, so none is kept).  Any failure aborts the
 * test with the statement and the server's message.
 *  q_res:  a command or a query; the result (the caller PQclear()s).
 *  q_do:   the same, the result dropped.
 *  q_str:  a query of exactly one row: its first value (malloc'd; ""
 *          for NULL).
 *  q_int:  the same as a number.
 *  q_wait: poll q_int(sql) every 20 ms until it gives want; fails after
 *          deadline_ms (times t_slow()).
 * The *f forms take a printf format first.
 */
struct pg_result;
struct pg_result	*q_res(const char *ci, const char *sql);
void		 q_do(const char *ci, const char *sql);
char		*q_str(const char *ci, const char *sql);
long long	 q_int(const char *ci, const char *sql);
void		 q_wait(const char *ci, const char *sql, long long want,
		    int deadline_ms);
void		 q_dof(const char *ci, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
char		*q_strf(const char *ci, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
long long	 q_intf(const char *ci, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

#endif
