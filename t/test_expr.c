/*
 * engine/expr: references, conditions, templates, refusals and bounds.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "engine/expr.h"
#include "testutil.h"

static json_t *ctx;

static void
setup(void)
{
	json_error_t je;

	ctx = json_loads("{\"inputs\":{\"repo\":\"acme/widgets\",\"n\":7,"
	    "\"draft\":false,\"labels\":[\"afu9\",\"bug\"],\"title\":\"\"},"
	    "\"steps\":{\"get-issue\":{\"status\":\"succeeded\",\"output\":"
	    "{\"a\":{\"b\":[10,{\"c\":\"deep\"}]},\"n\":7.0}}},"
	    "\"execution\":{\"id\":\"e-42\"},\"env\":{\"STAGE\":\"prod\"}}",
	    0, &je);
	ck_assert_msg(ctx != NULL, "%s", je.text);
}

static void
teardown(void)
{
	json_decref(ctx);
}

/* The compact JSON of text's value in ctx, or "ERR: message". */
static char *
value_of(const char *text)
{
	char err[EXPR_ERR_MAX], *s;
	struct expr *e;
	json_t *v;

	if ((e = expr_parse(text, err, sizeof(err))) == NULL ||
	    expr_eval(e, ctx, &v, err, sizeof(err)) == -1) {
		expr_free(e);
		s = malloc(strlen(err) + 6);
		strcpy(s, "ERR: ");
		strcat(s, err);
		return s;
	}
	expr_free(e);
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	return s;
}

#define VAL(text, want) do {						\
	char *got_ = value_of(text);					\
	ck_assert_msg(strcmp(got_, (want)) == 0, "%s: got %s, want %s",	\
	    (text), got_, (want));					\
	free(got_);							\
} while (0)

START_TEST(references)
{
	VAL("inputs.repo", "\"acme/widgets\"");
	VAL("${{ inputs.n }}", "7");
	VAL("  ${{inputs.labels}} ", "[\"afu9\",\"bug\"]");
	VAL("steps.get-issue.output.a.b[0]", "10");
	VAL("steps.get-issue.output.a.b[1].c", "\"deep\"");
	VAL("steps.get-issue.status", "\"succeeded\"");
	VAL("execution.id", "\"e-42\"");
	VAL("env.STAGE", "\"prod\"");
	/* Unresolved: an error naming the reference, never null or "". */
	VAL("inputs.nope", "ERR: unresolved reference inputs.nope: no 'nope'");
	VAL("steps.get-issue.output.a.b[5]", "ERR: unresolved reference "
	    "steps.get-issue.output.a.b[5]: no element [5]");
	VAL("inputs.repo.x", "ERR: unresolved reference inputs.repo.x: "
	    "no 'x'");
	VAL("env.HOME", "ERR: unresolved reference env.HOME: no 'HOME'");
}
END_TEST

START_TEST(conditions)
{
	VAL("inputs.n == 7", "true");
	VAL("inputs.n == steps.get-issue.output.n", "true");	/* 7 == 7.0 */
	VAL("inputs.n != 7", "false");
	VAL("inputs.n > 3 && inputs.n < 10", "true");
	VAL("inputs.n >= 7 && inputs.n <= 7", "true");
	VAL("!inputs.draft", "true");
	VAL("!(inputs.n == 7) || inputs.repo == 'acme/widgets'", "true");
	VAL("inputs.draft || inputs.title", "\"\"");	/* the deciding value */
	VAL("inputs.draft && inputs.nope", "false");	/* short circuit */
	VAL("contains(inputs.labels, 'afu9')", "true");
	VAL("contains(inputs.labels, 'x')", "false");
	VAL("contains(inputs.repo, \"widg\")", "true");
	VAL("startsWith(inputs.repo, 'acme/')", "true");
	VAL("startsWith('ac', 'acme')", "false");
	VAL("'b' > 'a'", "true");
	VAL("null == null", "true");
	VAL("-1.5 < 0", "true");
	VAL("'it\\'s' == \"it's\"", "true");
	VAL("inputs.repo > 3", "ERR: < > <= >= compare two numbers or two "
	    "strings");
	VAL("contains(7, 7)", "ERR: contains() takes a string and a string, "
	    "or an array and a value");
	VAL("startsWith(inputs.n, '7')", "ERR: startsWith() takes two strings");
}
END_TEST

START_TEST(refused)
{
	static const char *const bad[][2] = {
		{ "", "empty expression" },
		{ "${{ }}", "empty expression" },
		{ "${{ inputs.x", "'${{' without its '}}'" },
		{ "inputs.x ==", "unexpected end of the expression" },
		{ "(inputs.x", "')' expected" },
		{ "process.env", "unknown name 'process'" },
		{ "inputs.x y", "unexpected 'y' at offset 9" },
		{ "inputs[x]", "an index [N] expected" },
		{ "'open", "unterminated string" },
		{ "'\\q'", "unknown escape \\q in a string" },
		{ "contains(inputs.x)", "',' expected between the arguments" },
		{ "1e999", "not a number: 1e999" },
	};
	char err[EXPR_ERR_MAX], deep[EXPR_TEXT_MAX + 2];
	struct expr *e;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		e = expr_parse(bad[i][0], err, sizeof(err));
		ck_assert_msg(e == NULL, "accepted '%s'", bad[i][0]);
		ck_assert_msg(strstr(err, bad[i][1]) != NULL, "'%s': %s",
		    bad[i][0], err);
	}
	/* Bounds: nesting, text length, reference length. */
	memset(deep, '(', 100);
	strcpy(deep + 100, "true");
	memset(deep + 104, ')', 100);
	deep[204] = '\0';
	ck_assert_ptr_null(expr_parse(deep, err, sizeof(err)));
	ck_assert_msg(strstr(err, "nested deeper than 64"), "%s", err);
	memset(deep, '!', 200);
	strcpy(deep + 200, "true");
	ck_assert_ptr_null(expr_parse(deep, err, sizeof(err)));
	ck_assert_msg(strstr(err, "nested deeper than 64"), "%s", err);
	memset(deep, ' ', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	deep[0] = '1';
	deep[sizeof(deep) - 2] = '1';
	ck_assert_ptr_null(expr_parse(deep, err, sizeof(err)));
	ck_assert_msg(strstr(err, "longer than 4096"), "%s", err);
	strcpy(deep, "inputs");
	for (i = 0; i < 40; i++)
		strcat(deep, ".a");
	ck_assert_ptr_null(expr_parse(deep, err, sizeof(err)));
	ck_assert_msg(strstr(err, "longer than 32 segments"), "%s", err);
}
END_TEST

static int
collect(const char *root, const char *first, void *arg)
{
	char *acc = arg;

	strcat(acc, root);
	strcat(acc, first ? "." : "");
	strcat(acc, first ? first : "");
	strcat(acc, " ");
	return strcmp(root, "env") == 0 ? 9 : 0;
}

/* The references a definition check needs: root and first segment. */
START_TEST(refs_listed)
{
	char err[EXPR_ERR_MAX], acc[256] = "";
	struct expr *e;

	e = expr_parse("steps.build.status == 'ok' && contains(inputs.l, "
	    "execution.id) || env.X", err, sizeof(err));
	ck_assert_msg(e != NULL, "%s", err);
	ck_assert_int_eq(expr_refs(e, collect, acc), 9);
	ck_assert_str_eq(acc, "steps.build inputs.l execution.id env.X ");
	expr_free(e);
}
END_TEST

/* Exactly one reference keeps its type; inside text, its text. */
START_TEST(templates)
{
	char err[EXPR_ERR_MAX], *s;
	json_t *in, *out;
	int i;

	in = json_pack("{s:s, s:s, s:s, s:[s, i], s:{s:s}, s:s, s:s}",
	    "repo", "${{ inputs.repo }}", "n", "${{inputs.n}}",
	    "msg", "#${{ inputs.n }} in ${{ inputs.repo }}: ${{ "
	    "steps.get-issue.output.a }} (${{ inputs.draft }})",
	    "list", "${{ inputs.labels }}", 3, "deep", "x",
	    "ex${{ execution.id }}", "plain", "no template", "twice",
	    "${{ inputs.n }}${{ inputs.n }}");
	ck_assert_int_eq(expr_template(in, ctx, &out, err, sizeof(err)), 0);
	s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(s, "{\"deep\":{\"x\":\"exe-42\"},\"list\":"
	    "[[\"afu9\",\"bug\"],3],\"msg\":\"#7 in acme/widgets: "
	    "{\\\"b\\\":[10,{\\\"c\\\":\\\"deep\\\"}]} (false)\",\"n\":7,"
	    "\"plain\":\"no template\",\"repo\":\"acme/widgets\","
	    "\"twice\":\"77\"}");
	free(s);
	json_decref(out);
	/* A check without a context parses, resolves nothing. */
	ck_assert_int_eq(expr_template(in, NULL, &out, err, sizeof(err)), 0);
	ck_assert(json_equal(in, out));
	json_decref(out);
	json_decref(in);
	in = json_pack("{s:[s]}", "a", "x ${{ inputs.missing }} y");
	ck_assert_int_eq(expr_template(in, ctx, &out, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "unresolved reference inputs.missing: no "
	    "'missing'");
	json_decref(in);
	in = json_pack("{s:s}", "a", "${{ inputs.n == }}");
	ck_assert_int_eq(expr_template(in, NULL, &out, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "unexpected end"), "%s", err);
	json_decref(in);
	/* Arguments nested past the bound: refused, not recursed into. */
	in = json_string("${{ inputs.n }}");
	for (i = 0; i < EXPR_DEPTH_MAX + 2; i++)
		in = json_pack("[o]", in);
	ck_assert_int_eq(expr_template(in, ctx, &out, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "nested deeper than 64"), "%s", err);
	json_decref(in);
	in = json_string("${{ inputs.n");
	ck_assert_int_eq(expr_template(in, ctx, &out, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "without its '}}'"), "%s", err);
	json_decref(in);
}
END_TEST

/* expr_test(): falsy false, null, 0, "" */
START_TEST(truthiness)
{
	static const char *const falsy[] = { "false", "null", "0", "''",
	    "inputs.title", "inputs.draft", "0.0" };
	static const char *const truthy[] = { "true", "1", "'x'",
	    "inputs.labels", "steps.get-issue.output", "-1" };
	char err[EXPR_ERR_MAX];
	struct expr *e;
	size_t i;

	for (i = 0; i < sizeof(falsy) / sizeof(falsy[0]); i++) {
		ck_assert_ptr_nonnull(e = expr_parse(falsy[i], err,
		    sizeof(err)));
		ck_assert_msg(expr_test(e, ctx, err, sizeof(err)) == 0, "%s",
		    falsy[i]);
		expr_free(e);
	}
	for (i = 0; i < sizeof(truthy) / sizeof(truthy[0]); i++) {
		ck_assert_ptr_nonnull(e = expr_parse(truthy[i], err,
		    sizeof(err)));
		ck_assert_msg(expr_test(e, ctx, err, sizeof(err)) == 1, "%s",
		    truthy[i]);
		expr_free(e);
	}
	ck_assert_ptr_nonnull(e = expr_parse("inputs.none", err, sizeof(err)));
	ck_assert_int_eq(expr_test(e, ctx, err, sizeof(err)), -1);
	expr_free(e);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("expr");
	TCase *tc = tcase_create("expr");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, references);
	tcase_add_test(tc, conditions);
	tcase_add_test(tc, refused);
	tcase_add_test(tc, refs_listed);
	tcase_add_test(tc, templates);
	tcase_add_test(tc, truthiness);
	suite_add_tcase(s, tc);
	return t_run(s);
}
