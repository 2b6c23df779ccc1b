#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jschema.h"
#include "testutil.h"

/*
 * Each row: a schema, an instance, and the exact message expected from
 * jschema_validate (NULL: valid).  Schemas pass jschema_check first.
 */
struct vcase {
	const char	*schema;
	const char	*instance;
	const char	*err;
};

#define OBJ(props)	"{\"type\":\"object\",\"properties\":{" props "}}"

static const struct vcase vcases[] = {
	/* type */
	{ "{\"type\":\"object\"}", "{}", NULL },
	{ "{\"type\":\"object\"}", "[]", "arguments: must be an object (type)" },
	{ OBJ("\"s\":{\"type\":\"string\"}"), "{\"s\":\"x\"}", NULL },
	{ OBJ("\"s\":{\"type\":\"string\"}"), "{\"s\":1}",
	    "argument 's': must be a string (type)" },
	{ OBJ("\"n\":{\"type\":\"integer\"}"), "{\"n\":3}", NULL },
	{ OBJ("\"n\":{\"type\":\"integer\"}"), "{\"n\":3.0}", NULL },
	{ OBJ("\"n\":{\"type\":\"integer\"}"), "{\"n\":3.5}",
	    "argument 'n': must be an integer (type)" },
	{ OBJ("\"n\":{\"type\":\"integer\"}"), "{\"n\":\"3\"}",
	    "argument 'n': must be an integer (type)" },
	{ OBJ("\"n\":{\"type\":\"number\"}"), "{\"n\":3}", NULL },
	{ OBJ("\"n\":{\"type\":\"number\"}"), "{\"n\":-0.5e3}", NULL },
	{ OBJ("\"n\":{\"type\":\"number\"}"), "{\"n\":true}",
	    "argument 'n': must be a number (type)" },
	{ OBJ("\"b\":{\"type\":\"boolean\"}"), "{\"b\":false}", NULL },
	{ OBJ("\"b\":{\"type\":\"boolean\"}"), "{\"b\":0}",
	    "argument 'b': must be a boolean (type)" },
	{ OBJ("\"z\":{\"type\":\"null\"}"), "{\"z\":null}", NULL },
	{ OBJ("\"z\":{\"type\":\"null\"}"), "{\"z\":\"\"}",
	    "argument 'z': must be null (type)" },
	{ OBJ("\"a\":{\"type\":\"array\"}"), "{\"a\":{}}",
	    "argument 'a': must be an array (type)" },
	{ OBJ("\"u\":{\"type\":[\"string\",\"null\"]}"), "{\"u\":null}", NULL },
	{ OBJ("\"u\":{\"type\":[\"string\",\"null\"]}"), "{\"u\":1}",
	    "argument 'u': must be a string or null (type)" },
	{ OBJ("\"u\":{\"type\":[\"string\",\"integer\",\"null\"]}"),
	    "{\"u\":[]}",
	    "argument 'u': must be a string, an integer or null (type)" },

	/* required, properties, additionalProperties */
	{ "{\"type\":\"object\",\"required\":[\"owner\",\"repo\"]}",
	    "{\"owner\":\"a\",\"repo\":\"b\"}", NULL },
	{ "{\"type\":\"object\",\"required\":[\"owner\",\"repo\"]}",
	    "{\"repo\":\"b\"}", "missing required argument 'owner' (required)" },
	{ "{\"type\":\"object\",\"properties\":{\"owner\":{}},"
	    "\"additionalProperties\":false}", "{\"ownr\":1}",
	    "unexpected argument 'ownr' (additionalProperties)" },
	{ "{\"type\":\"object\",\"properties\":{\"owner\":{}},"
	    "\"additionalProperties\":false}", "{\"owner\":1}", NULL },
	{ "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}",
	    "{\"x\":\"1\",\"y\":2}", "argument 'y': must be a string (type)" },
	{ "{\"type\":\"object\",\"additionalProperties\":true}", "{\"x\":1}",
	    NULL },
	{ OBJ("\"x\":false"), "{\"x\":1}",
	    "argument 'x': is not allowed (false schema)" },
	{ OBJ("\"x\":true"), "{\"x\":1}", NULL },
	{ "false", "{}", "arguments: is not allowed (false schema)" },
	{ "true", "[1]", NULL },
	{ "{}", "\"anything\"", NULL },
	/* properties and required apply to objects only */
	{ "{\"required\":[\"a\"],\"properties\":{\"a\":{\"type\":\"string\"}}}",
	    "7", NULL },

	/* nested paths */
	{ OBJ("\"files\":{\"type\":\"array\",\"items\":"
	    "{\"type\":\"object\",\"required\":[\"path\"],"
	    "\"properties\":{\"path\":{\"type\":\"string\"}}}}"),
	    "{\"files\":[{\"path\":\"a\"},{\"path\":\"b\"},{}]}",
	    "missing required argument 'files[2].path' (required)" },
	{ OBJ("\"files\":{\"type\":\"array\",\"items\":"
	    "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"}}}}"),
	    "{\"files\":[{\"path\":\"a\"},{\"path\":5}]}",
	    "argument 'files[1].path': must be a string (type)" },
	{ OBJ("\"labels\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}"),
	    "{\"labels\":[\"a\",\"b\",3]}",
	    "argument 'labels[2]': must be a string (type)" },
	{ OBJ("\"m\":{\"type\":\"array\",\"items\":{\"type\":\"array\","
	    "\"items\":{\"type\":\"integer\"}}}"), "{\"m\":[[1],[2,\"x\"]]}",
	    "argument 'm[1][1]': must be an integer (type)" },
	{ OBJ("\"o\":{\"type\":\"object\",\"properties\":{\"p\":"
	    "{\"type\":\"object\",\"additionalProperties\":false}}}"),
	    "{\"o\":{\"p\":{\"q\":1}}}",
	    "unexpected argument 'o.p.q' (additionalProperties)" },

	/* enum and const (1 == 1.0) */
	{ OBJ("\"state\":{\"enum\":[\"open\",\"closed\"]}"),
	    "{\"state\":\"open\"}", NULL },
	{ OBJ("\"state\":{\"enum\":[\"open\",\"closed\"]}"),
	    "{\"state\":\"all\"}",
	    "argument 'state': must be one of \"open\", \"closed\" (enum)" },
	{ OBJ("\"n\":{\"enum\":[1,2]}"), "{\"n\":1.0}", NULL },
	{ OBJ("\"n\":{\"enum\":[1.0,null]}"), "{\"n\":1}", NULL },
	{ OBJ("\"n\":{\"enum\":[1,null]}"), "{\"n\":\"1\"}",
	    "argument 'n': must be one of 1, null (enum)" },
	{ OBJ("\"n\":{\"enum\":[{\"a\":[1,2]}]}"), "{\"n\":{\"a\":[1.0,2]}}",
	    NULL },
	{ OBJ("\"n\":{\"enum\":[{\"a\":[1,2]}]}"), "{\"n\":{\"a\":[1,2],\"b\":0}}",
	    "argument 'n': must be one of {\"a\":[1,2]} (enum)" },
	{ OBJ("\"v\":{\"const\":\"v1\"}"), "{\"v\":\"v1\"}", NULL },
	{ OBJ("\"v\":{\"const\":\"v1\"}"), "{\"v\":\"v2\"}",
	    "argument 'v': must be \"v1\" (const)" },
	{ OBJ("\"v\":{\"const\":2}"), "{\"v\":2.0}", NULL },
	{ OBJ("\"v\":{\"const\":false}"), "{\"v\":0}",
	    "argument 'v': must be false (const)" },

	/* numeric bounds */
	{ OBJ("\"number\":{\"type\":\"integer\",\"minimum\":1}"),
	    "{\"number\":1}", NULL },
	{ OBJ("\"number\":{\"type\":\"integer\",\"minimum\":1}"),
	    "{\"number\":0}", "argument 'number': must be >= 1 (minimum)" },
	{ OBJ("\"n\":{\"maximum\":100}"), "{\"n\":100.0}", NULL },
	{ OBJ("\"n\":{\"maximum\":100}"), "{\"n\":100.5}",
	    "argument 'n': must be <= 100 (maximum)" },
	{ OBJ("\"n\":{\"exclusiveMinimum\":0}"), "{\"n\":0.001}", NULL },
	{ OBJ("\"n\":{\"exclusiveMinimum\":0}"), "{\"n\":0}",
	    "argument 'n': must be > 0 (exclusiveMinimum)" },
	{ OBJ("\"n\":{\"exclusiveMaximum\":2.5}"), "{\"n\":2}", NULL },
	{ OBJ("\"n\":{\"exclusiveMaximum\":2.5}"), "{\"n\":2.5}",
	    "argument 'n': must be < 2.5 (exclusiveMaximum)" },
	{ OBJ("\"n\":{\"minimum\":0.1}"), "{\"n\":0}",
	    "argument 'n': must be >= 0.1 (minimum)" },
	/* exact integer comparison beyond 2^53 */
	{ OBJ("\"n\":{\"maximum\":9007199254740992}"),
	    "{\"n\":9007199254740993}",
	    "argument 'n': must be <= 9007199254740992 (maximum)" },
	{ OBJ("\"n\":{\"minimum\":5}"), "{\"n\":\"1\"}", NULL },

	/* string length in code points */
	{ OBJ("\"s\":{\"minLength\":3}"), "{\"s\":\"ab\"}",
	    "argument 's': must be at least 3 characters long (minLength)" },
	{ OBJ("\"s\":{\"minLength\":1}"), "{\"s\":\"\"}",
	    "argument 's': must be at least 1 character long (minLength)" },
	{ OBJ("\"s\":{\"maxLength\":3}"), "{\"s\":\"\\u00e9\\u00e9\\u00e9\"}",
	    NULL },
	{ OBJ("\"s\":{\"maxLength\":2}"), "{\"s\":\"\\ud83d\\ude00\\u00e9\"}",
	    NULL },
	{ OBJ("\"s\":{\"maxLength\":2}"), "{\"s\":\"abc\"}",
	    "argument 's': must be at most 2 characters long (maxLength)" },
	{ OBJ("\"s\":{\"minLength\":2.0}"), "{\"s\":\"ab\"}", NULL },
	{ OBJ("\"s\":{\"maxLength\":0}"), "{\"s\":5}", NULL },

	/* pattern: unanchored search, POSIX ERE */
	{ OBJ("\"s\":{\"pattern\":\"^[a-z0-9-]+$\"}"), "{\"s\":\"my-repo\"}",
	    NULL },
	{ OBJ("\"s\":{\"pattern\":\"^[a-z0-9-]+$\"}"), "{\"s\":\"My repo\"}",
	    "argument 's': must match pattern '^[a-z0-9-]+$' (pattern)" },
	{ OBJ("\"s\":{\"pattern\":\"b+\"}"), "{\"s\":\"abbbc\"}", NULL },
	{ OBJ("\"s\":{\"pattern\":\"b+\"}"), "{\"s\":\"ac\"}",
	    "argument 's': must match pattern 'b+' (pattern)" },
	{ OBJ("\"s\":{\"pattern\":\"^v[0-9]+\\\\.[0-9]+$\"}"),
	    "{\"s\":\"v1.2\"}", NULL },
	{ OBJ("\"s\":{\"pattern\":\"^v[0-9]+\\\\.[0-9]+$\"}"),
	    "{\"s\":\"v1x2\"}",
	    "argument 's': must match pattern '^v[0-9]+\\.[0-9]+$' (pattern)" },
	{ OBJ("\"s\":{\"pattern\":\"^[[:alpha:]]{2}$\"}"), "{\"s\":\"ab\"}",
	    NULL },
	{ OBJ("\"s\":{\"pattern\":\"^[]a]+$\"}"), "{\"s\":\"]a]\"}", NULL },

	/* arrays */
	{ OBJ("\"l\":{\"minItems\":1}"), "{\"l\":[]}",
	    "argument 'l': must have at least 1 item (minItems)" },
	{ OBJ("\"l\":{\"maxItems\":2}"), "{\"l\":[1,2,3]}",
	    "argument 'l': must have at most 2 items (maxItems)" },
	{ OBJ("\"l\":{\"minItems\":2,\"maxItems\":2}"), "{\"l\":[1,2]}", NULL },
	{ OBJ("\"l\":{\"items\":false}"), "{\"l\":[]}", NULL },
	{ OBJ("\"l\":{\"items\":false}"), "{\"l\":[0]}",
	    "argument 'l[0]': is not allowed (false schema)" },

	/* annotations are accepted and ignored */
	{ "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
	    "\"title\":\"t\",\"description\":\"d\",\"type\":\"object\","
	    "\"properties\":{\"a\":{\"type\":\"integer\",\"default\":\"zz\","
	    "\"examples\":[1,2]}}}", "{\"a\":1}", NULL },

	/* order: type before enum; required before members */
	{ "{\"type\":\"object\",\"required\":[\"a\"],"
	    "\"additionalProperties\":false}", "{\"b\":1}",
	    "missing required argument 'a' (required)" },
};

START_TEST(validate_table)
{
	const struct vcase *vc = &vcases[_i];
	json_t *schema, *inst;
	json_error_t je;
	char err[512];
	int rc;

	schema = json_loads(vc->schema, JSON_DECODE_ANY, &je);
	ck_assert_msg(schema != NULL, "row %d schema: %s", _i, je.text);
	inst = json_loads(vc->instance, JSON_DECODE_ANY, &je);
	ck_assert_msg(inst != NULL, "row %d instance: %s", _i, je.text);
	ck_assert_msg(jschema_check(schema, err, sizeof(err)) == 0,
	    "row %d check: %s", _i, err);
	strcpy(err, "untouched");
	rc = jschema_validate(schema, inst, err, sizeof(err));
	if (vc->err == NULL)
		ck_assert_msg(rc == 0, "row %d: unexpected error: %s", _i, err);
	else {
		ck_assert_msg(rc == -1, "row %d: accepted %s", _i, vc->instance);
		ck_assert_str_eq(err, vc->err);
	}
	json_decref(schema);
	json_decref(inst);
}
END_TEST

/* Rows: a schema jschema_check must refuse, and its exact message. */
struct ccase {
	const char	*schema;
	const char	*err;
};

static const struct ccase ccases[] = {
	{ "{\"typ\":\"object\"}", "schema (root): unknown keyword 'typ'" },
	{ "{\"type\":\"object\",\"properties\":{\"a\":{\"minimum\":1,"
	    "\"format\":\"email\"}}}",
	    "schema /properties/a: unknown keyword 'format'" },
	{ "{\"oneOf\":[]}", "schema (root): unknown keyword 'oneOf'" },
	{ "{\"$ref\":\"#/x\"}", "schema (root): unknown keyword '$ref'" },
	{ "[]", "schema (root): must be an object or a boolean" },
	{ "3", "schema (root): must be an object or a boolean" },
	{ "{\"type\":\"strin\"}", "schema /type: unknown type 'strin'" },
	{ "{\"type\":[]}",
	    "schema /type: must be a type name or a non-empty array of type names" },
	{ "{\"type\":[\"string\",3]}", "schema /type/1: must be one of object, "
	    "array, string, integer, number, boolean, null" },
	{ "{\"type\":[\"string\",\"string\"]}",
	    "schema /type: type 'string' listed twice" },
	{ "{\"properties\":[]}", "schema /properties: must be an object of "
	    "schemas" },
	{ "{\"properties\":{\"a/b~c\":3}}", "schema /properties/a~1b~0c: must "
	    "be a schema (an object or a boolean)" },
	{ "{\"properties\":{\"x\":{\"properties\":{\"y\":{\"type\":1}}}}}",
	    "schema /properties/x/properties/y/type: must be a type name or a "
	    "non-empty array of type names" },
	{ "{\"required\":\"a\"}",
	    "schema /required: must be an array of property names" },
	{ "{\"required\":[\"a\",1]}", "schema /required/1: must be a string" },
	{ "{\"required\":[\"a\",\"a\"]}", "schema /required: 'a' listed twice" },
	{ "{\"additionalProperties\":\"no\"}", "schema /additionalProperties: "
	    "must be a schema (an object or a boolean)" },
	{ "{\"additionalProperties\":{\"type\":\"x\"}}",
	    "schema /additionalProperties/type: unknown type 'x'" },
	{ "{\"enum\":[]}", "schema /enum: must be a non-empty array" },
	{ "{\"enum\":\"a\"}", "schema /enum: must be a non-empty array" },
	{ "{\"minimum\":\"1\"}", "schema /minimum: must be a number" },
	{ "{\"exclusiveMaximum\":true}",
	    "schema /exclusiveMaximum: must be a number" },
	{ "{\"minLength\":-1}",
	    "schema /minLength: must be a non-negative integer" },
	{ "{\"maxLength\":1.5}",
	    "schema /maxLength: must be a non-negative integer" },
	{ "{\"minItems\":\"2\"}",
	    "schema /minItems: must be a non-negative integer" },
	{ "{\"maxItems\":null}",
	    "schema /maxItems: must be a non-negative integer" },
	{ "{\"items\":[{}]}", "schema /items: the array form of items is not "
	    "supported; use one schema for every item" },
	{ "{\"items\":{\"items\":{\"bogus\":1}}}",
	    "schema /items/items: unknown keyword 'bogus'" },
	{ "{\"description\":5}", "schema /description: must be a string" },
	{ "{\"title\":[]}", "schema /title: must be a string" },
	{ "{\"$schema\":1}", "schema /$schema: must be a string" },
	{ "{\"examples\":1}", "schema /examples: must be an array" },
	{ "{\"pattern\":1}", "schema /pattern: must be a string" },
	{ "{\"pattern\":\"^\\\\d+$\"}", "schema /pattern: '^\\d+$' does not "
	    "compile: '\\d' is not POSIX ERE (use [0-9], [[:alnum:]_], "
	    "[[:space:]] ...)" },
	{ "{\"pattern\":\"\\\\w\"}", "schema /pattern: '\\w' does not compile: "
	    "'\\w' is not POSIX ERE (use [0-9], [[:alnum:]_], [[:space:]] ...)" },
	{ "{\"pattern\":\"[a-z\\\\-]\"}", "schema /pattern: '[a-z\\-]' does not "
	    "compile: a backslash inside [...] is a literal backslash in POSIX "
	    "ERE; put ']' first, '-' last, and other characters as they are" },
	{ "{\"pattern\":\"(?:ab)+\"}", "schema /pattern: '(?:ab)+' does not "
	    "compile: '(?' groups (non-capturing, lookaround) are not POSIX ERE" },
	{ "{\"pattern\":\"a+?\"}", "schema /pattern: 'a+?' does not compile: "
	    "lazy quantifier '+?' is not POSIX ERE" },
};

/* Messages from regcomp itself vary by libc: check the prefix only. */
static const char *const bad_regex[] = {
	"(", "[a-", "a{2,1}", "*a",
};

START_TEST(check_table)
{
	const struct ccase *cc = &ccases[_i];
	json_error_t je;
	json_t *schema, *inst;
	char err[512];

	schema = json_loads(cc->schema, JSON_DECODE_ANY, &je);
	ck_assert_msg(schema != NULL, "row %d: %s", _i, je.text);
	ck_assert_msg(jschema_check(schema, err, sizeof(err)) == -1,
	    "row %d accepted: %s", _i, cc->schema);
	ck_assert_str_eq(err, cc->err);
	/* validate refuses a malformed schema instead of half applying it */
	inst = json_loads("{\"a\":{\"x\":1},\"x\":{\"y\":1}}", 0, NULL);
	strcpy(err, "untouched");
	if (jschema_validate(schema, inst, err, sizeof(err)) == 0)
		ck_assert_str_eq(err, "");
	else
		ck_assert_msg(strncmp(err, "schema ", 7) == 0 ||
		    strncmp(err, "argument", 8) == 0, "row %d: %s", _i, err);
	json_decref(inst);
	json_decref(schema);
}
END_TEST

START_TEST(bad_regex_refused)
{
	char err[512], want[64];
	json_t *schema;

	schema = json_pack("{ss}", "pattern", bad_regex[_i]);
	ck_assert_int_eq(jschema_check(schema, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "schema /pattern: '%s' does not compile: ",
	    bad_regex[_i]);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	ck_assert_uint_gt(strlen(err), strlen(want));
	json_decref(schema);
}
END_TEST

/* Unknown keywords are refused at validation time too. */
START_TEST(validate_refuses_unknown_keyword)
{
	json_t *s = json_loads("{\"type\":\"object\",\"properties\":{\"a\":"
	    "{\"format\":\"uri\"}}}", 0, NULL);
	json_t *i = json_loads("{\"a\":\"x\"}", 0, NULL);
	json_t *i2 = json_loads("{\"b\":\"x\"}", 0, NULL);
	char err[256];

	ck_assert_int_eq(jschema_validate(s, i, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "schema /properties/a: unknown keyword 'format'");
	ck_assert_int_eq(jschema_validate(s, i2, err, sizeof(err)), 0);
	json_decref(s);
	json_decref(i);
	json_decref(i2);
}
END_TEST

static json_t *
nest_schema(int levels)
{
	json_t *s = json_object(), *cur = s, *n;
	int k;

	for (k = 0; k < levels; k++) {
		n = json_object();
		json_object_set_new(cur, "items", n);
		cur = n;
	}
	return s;
}

static json_t *
nest_array(int levels)
{
	json_t *a = json_array(), *cur = a, *n;
	int k;

	for (k = 0; k < levels; k++) {
		n = json_array();
		json_array_append_new(cur, n);
		cur = n;
	}
	return a;
}

START_TEST(depth_bounded)
{
	json_t *ok = nest_schema(60), *deep = nest_schema(100);
	json_t *ia = nest_array(100), *ib = nest_array(60);
	json_t *en, *ci;
	char err[512], want[256];

	ck_assert_int_eq(jschema_check(ok, err, sizeof(err)), 0);
	ck_assert_int_eq(jschema_validate(ok, ib, err, sizeof(err)), 0);
	ck_assert_int_eq(jschema_check(deep, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "nested deeper than 64 levels") != NULL, "%s",
	    err);
	ck_assert_int_eq(jschema_validate(deep, ia, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "nested deeper than 64 levels") != NULL, "%s",
	    err);
	ck_assert_msg(strncmp(err, "argument '", 10) == 0, "%s", err);
	/* enum compares deep values without following them forever */
	en = json_pack("{s[O]}", "enum", ia);
	ci = nest_array(100);
	ck_assert_int_eq(jschema_validate(en, ci, err, sizeof(err)), -1);
	/* the quoted value is cut at 200 bytes: 101 '[' and 99 ']' */
	memset(want, '[', 101);
	memset(want + 101, ']', 99);
	strcpy(want + 200, "... (enum)");
	ck_assert_str_eq(err + strlen("arguments: must be one of "), want);
	json_decref(en);
	json_decref(ci);
	json_decref(ok);
	json_decref(deep);
	json_decref(ia);
	json_decref(ib);
}
END_TEST

/* The pattern cache: many patterns (past the bound), reused, cleared. */
START_TEST(pattern_cache)
{
	char pat[64], inst[64], err[256];
	json_t *s, *i;
	int k, round;

	for (round = 0; round < 2; round++)
		for (k = 0; k < 200; k++) {
			snprintf(pat, sizeof(pat), "^p%d$", k);
			snprintf(inst, sizeof(inst), "p%d", k);
			s = json_pack("{ss}", "pattern", pat);
			i = json_string(inst);
			ck_assert_int_eq(jschema_validate(s, i, err,
			    sizeof(err)), 0);
			json_decref(i);
			i = json_string("p");
			ck_assert_int_eq(jschema_validate(s, i, err,
			    sizeof(err)), -1);
			json_decref(i);
			json_decref(s);
		}
	jschema_cache_clear();
	s = json_pack("{ss}", "pattern", "^x$");
	i = json_string("x");
	ck_assert_int_eq(jschema_validate(s, i, err, sizeof(err)), 0);
	json_decref(i);
	json_decref(s);
	jschema_cache_clear();
}
END_TEST

START_TEST(error_buffer_edges)
{
	json_t *s = json_loads("{\"type\":\"string\"}", 0, NULL);
	json_t *i = json_integer(1);
	char err[8];

	ck_assert_int_eq(jschema_validate(s, i, NULL, 0), -1);
	ck_assert_int_eq(jschema_validate(s, i, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "argumen");
	ck_assert_int_eq(jschema_validate(NULL, i, err, sizeof(err)), -1);
	ck_assert_int_eq(jschema_validate(s, NULL, err, sizeof(err)), -1);
	ck_assert_int_eq(jschema_check(NULL, err, sizeof(err)), -1);
	json_decref(s);
	json_decref(i);
}
END_TEST

/* A realistic tool schema, as the GitHub server declares it. */
START_TEST(tool_schema_example)
{
	static const char *schema_txt =
	    "{\"type\":\"object\",\"properties\":{"
	    "\"owner\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":39,"
	    "\"pattern\":\"^[A-Za-z0-9-]+$\"},"
	    "\"repo\":{\"type\":\"string\",\"minLength\":1},"
	    "\"number\":{\"type\":\"integer\",\"minimum\":1},"
	    "\"labels\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
	    "\"maxItems\":100},"
	    "\"state\":{\"type\":\"string\",\"enum\":[\"open\",\"closed\"]}},"
	    "\"required\":[\"owner\",\"repo\",\"number\"],"
	    "\"additionalProperties\":false}";
	static const struct { const char *in, *err; } rows[] = {
	    { "{\"owner\":\"o\",\"repo\":\"r\",\"number\":5,\"labels\":[\"bug\"],"
	      "\"state\":\"open\"}", NULL },
	    { "{\"owner\":\"o\",\"repo\":\"r\",\"number\":0}",
	      "argument 'number': must be >= 1 (minimum)" },
	    { "{\"owner\":\"o\",\"repo\":\"r\",\"number\":1,\"labels\":[\"a\","
	      "\"b\",null]}", "argument 'labels[2]': must be a string (type)" },
	    { "{\"repo\":\"r\",\"number\":1}",
	      "missing required argument 'owner' (required)" },
	    { "{\"owner\":\"o\",\"repo\":\"r\",\"number\":1,\"ownr\":2}",
	      "unexpected argument 'ownr' (additionalProperties)" },
	    { "{\"owner\":\"o/x\",\"repo\":\"r\",\"number\":1}",
	      "argument 'owner': must match pattern '^[A-Za-z0-9-]+$' (pattern)" },
	    { "[]", "arguments: must be an object (type)" },
	};
	json_t *s = json_loads(schema_txt, 0, NULL), *i;
	char err[256];
	size_t k;

	ck_assert_int_eq(jschema_check(s, err, sizeof(err)), 0);
	for (k = 0; k < sizeof(rows) / sizeof(*rows); k++) {
		i = json_loads(rows[k].in, JSON_DECODE_ANY, NULL);
		ck_assert_ptr_nonnull(i);
		if (rows[k].err == NULL)
			ck_assert_int_eq(jschema_validate(s, i, err,
			    sizeof(err)), 0);
		else {
			ck_assert_int_eq(jschema_validate(s, i, err,
			    sizeof(err)), -1);
			ck_assert_str_eq(err, rows[k].err);
		}
		json_decref(i);
	}
	json_decref(s);
}
END_TEST

#define NROWS(a)	((int)(sizeof(a) / sizeof(*(a))))

int
main(void)
{
	Suite *s = suite_create("jschema");
	TCase *tc = tcase_create("jschema");

	tcase_add_loop_test(tc, validate_table, 0, NROWS(vcases));
	tcase_add_loop_test(tc, check_table, 0, NROWS(ccases));
	tcase_add_loop_test(tc, bad_regex_refused, 0, NROWS(bad_regex));
	tcase_add_test(tc, validate_refuses_unknown_keyword);
	tcase_add_test(tc, depth_bounded);
	tcase_add_test(tc, pattern_cache);
	tcase_add_test(tc, error_buffer_edges);
	tcase_add_test(tc, tool_schema_example);
	suite_add_tcase(s, tc);
	return t_run(s);
}
