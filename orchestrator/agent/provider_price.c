/*
 * provider_price: what replies cost.  Prices are integers (micro-dollars
 * per million tokens) from the start, so a cost is exact integer
 * arithmetic: no float reaches a sum.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h"
#include "provider_int.h"

#define USD(d, c)	((uint64_t)(d) * 1000000 + (uint64_t)(c) * 10000)

/*
 * Per million tokens, as the providers list them (December 2026); a
 * config's table (prov_prices_parse()) is looked in first and can change
 * any of them.  OpenAI bills no cache write; its cached input is half price
 * or less.
 */
static struct prov_price builtin[] = {
	{ "claude-opus-4-1*",	USD(15, 0), USD(75, 0), USD(1, 50), USD(18, 75) },
	{ "claude-opus-4*",	USD(15, 0), USD(75, 0), USD(1, 50), USD(18, 75) },
	{ "claude-sonnet-4-5*",	USD(3, 0), USD(15, 0), USD(0, 30), USD(3, 75) },
	{ "claude-sonnet-4*",	USD(3, 0), USD(15, 0), USD(0, 30), USD(3, 75) },
	{ "claude-haiku-4-5*",	USD(1, 0), USD(5, 0), USD(0, 10), USD(1, 25) },
	{ "gpt-4o*",		USD(2, 50), USD(10, 0), USD(1, 25), 0 },
	{ "gpt-4o-mini*",	USD(0, 15), USD(0, 60), 75000, 0 },
	{ "gpt-4.1*",		USD(2, 0), USD(8, 0), USD(0, 50), 0 },
	{ "gpt-4.1-mini*",	USD(0, 40), USD(1, 60), USD(0, 10), 0 },
};

static const struct prov_prices builtin_table = {
	builtin, sizeof(builtin) / sizeof(builtin[0])
};

const struct prov_prices *
prov_prices_default(void)
{
	return &builtin_table;
}

void
prov_prices_free(struct prov_prices *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->v[i].model);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

/* Dollars per million (a JSON number) as micro-dollars; 0 or -1. */
static int
dollars(const json_t *v, uint64_t *out)
{
	double d, m;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) >
		    PROV_PRICE_MAX / 1000000)
			return -1;
		*out = (uint64_t)json_integer_value(v) * 1000000;
		return 0;
	}
	if (!json_is_real(v))
		return -1;
	d = json_real_value(v);
	if (!(d >= 0) || d > (double)(PROV_PRICE_MAX / 1000000))
		return -1;
	/* At most six decimals: the number must be that many micro-dollars
	   (the double nearest 0.3 is within far less than 1e-9 of it). */
	m = nearbyint(d * 1e6);
	if (fabs(m - d * 1e6) > 1e-3)
		return -1;
	*out = (uint64_t)m;
	return 0;
}

static int
entry(const char *model, const json_t *v, struct prov_price *p, char *err,
    size_t errlen)
{
	static const char *const keys[] = {
		"input", "output", "cache_read", "cache_write"
	};
	uint64_t *f[] = { &p->input, &p->output, &p->cache_read,
	    &p->cache_write };
	const char *key, *star;
	const json_t *x;
	size_t i, n = strlen(model);

	if (n == 0 || n > 128 || ((star = strchr(model, '*')) != NULL &&
	    star != model + n - 1) || strcmp(model, "*") == 0) {
		prov_seterr(err, errlen, "prices: model '%.128s': a name of 1 "
		    "to 128 bytes, '*' only last and not alone", model);
		return -1;
	}
	if (!json_is_object(v)) {
		prov_seterr(err, errlen, "prices: model '%s': not an object",
		    model);
		return -1;
	}
	json_object_foreach((json_t *)v, key, x) {
		for (i = 0; i < 4 && strcmp(key, keys[i]) != 0; i++)
			;
		if (i == 4) {
			prov_seterr(err, errlen, "prices: model '%s': unknown "
			    "key '%.64s' (input, output, cache_read, "
			    "cache_write)", model, key);
			return -1;
		}
	}
	for (i = 0; i < 4; i++) {
		if ((x = json_object_get(v, keys[i])) == NULL) {
			prov_seterr(err, errlen, "prices: model '%s': no %s",
			    model, keys[i]);
			return -1;
		}
		if (dollars(x, f[i]) == -1) {
			prov_seterr(err, errlen, "prices: model '%s': %s must "
			    "be dollars per million tokens, 0 to %llu, with "
			    "at most 6 decimals", model, keys[i],
			    (unsigned long long)(PROV_PRICE_MAX / 1000000));
			return -1;
		}
	}
	if ((p->model = strdup(model)) == NULL) {
		prov_seterr(err, errlen, "prices: out of memory");
		return -1;
	}
	return 0;
}

int
prov_prices_parse(struct prov_prices *t, const json_t *v, char *err,
    size_t errlen)
{
	const char *model;
	const json_t *x;
	size_t n;

	t->v = NULL;
	t->n = 0;
	if (!json_is_object(v)) {
		prov_seterr(err, errlen, "prices: not an object of models");
		return -1;
	}
	if ((n = json_object_size(v)) > PROV_PRICES_MAX) {
		prov_seterr(err, errlen, "prices: %zu models, more than %d", n,
		    PROV_PRICES_MAX);
		return -1;
	}
	if (n > 0 && (t->v = calloc(n, sizeof(*t->v))) == NULL) {
		prov_seterr(err, errlen, "prices: out of memory");
		return -1;
	}
	json_object_foreach((json_t *)v, model, x) {
		if (entry(model, x, &t->v[t->n], err, errlen) == -1) {
			prov_prices_free(t);
			return -1;
		}
		t->n++;
	}
	return 0;
}

static const struct prov_price *
find(const struct prov_prices *t, const char *model)
{
	const struct prov_price *best = NULL;
	size_t i, n, bestn = 0;

	for (i = 0; t != NULL && i < t->n; i++)
		if (strcmp(t->v[i].model, model) == 0)
			return &t->v[i];
	for (i = 0; t != NULL && i < t->n; i++) {
		n = strlen(t->v[i].model);
		if (t->v[i].model[n - 1] != '*' || n - 1 < bestn)
			continue;
		if (strncmp(t->v[i].model, model, n - 1) == 0) {
			best = &t->v[i];
			bestn = n - 1;
		}
	}
	return best;
}

const struct prov_price *
prov_price_find(const struct prov_prices *t, const char *model)
{
	const struct prov_price *p;

	if (model == NULL)
		return NULL;
	if ((p = find(t, model)) != NULL)
		return p;
	return find(&builtin_table, model);
}

uint64_t
prov_cost(const struct prov_price *p, const struct prov_usage *u)
{
	unsigned __int128 sum;

	/* Within the bounds each product is at most 1e8 * 1e10 = 1e18 and
	   four fit in 64 bits; 128 keeps sums of usages exact as well. */
	sum = (unsigned __int128)u->input * p->input +
	    (unsigned __int128)u->output * p->output +
	    (unsigned __int128)u->cache_read * p->cache_read +
	    (unsigned __int128)u->cache_write * p->cache_write;
	sum = (sum + 999999) / 1000000;
	return sum > UINT64_MAX ? UINT64_MAX : (uint64_t)sum;
}
