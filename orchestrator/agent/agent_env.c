/*
 * agent_env: a run's provider and prices from the environment
 * (conf/conf_env.h reads the variables; this says what they mean).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "conf/conf_env.h"
#include "agent.h"

#define OPENAI_URL_DEFAULT	"https://api.openai.com/v1"
#define ANTHROPIC_URL_DEFAULT	"https://api.anthropic.com"

int
agent_provider_env(const struct config_env *e, const char *name,
    const char *model, struct agent_provider *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (name == NULL)
		name = e->agent.provider;
	if (name == NULL)
		name = e->agent.anthropic_key ? "anthropic" :
		    e->agent.openai_key || e->agent.openai_url ? "openai" :
		    NULL;
	if (name == NULL) {
		snprintf(err, errlen, "no model provider: set "
		    "ANTHROPIC_API_KEY or OPENAI_API_KEY (or OPENAI_BASE_URL "
		    "for a local server), or AFU9_AGENT_PROVIDER");
		return -1;
	}
	if ((out->model = model ? model : e->agent.model) == NULL) {
		snprintf(err, errlen, "no model: name one (AFU9_AGENT_MODEL)");
		return -1;
	}
	if (strcmp(name, "anthropic") == 0) {
		if (e->agent.anthropic_key == NULL) {
			snprintf(err, errlen, "provider anthropic: "
			    "ANTHROPIC_API_KEY is not set");
			return -1;
		}
		out->kind = PROV_ANTHROPIC;
		out->api_key = e->agent.anthropic_key;
		out->base_url = e->agent.anthropic_url ?
		    e->agent.anthropic_url : ANTHROPIC_URL_DEFAULT;
		return 0;
	}
	if (strcmp(name, "openai") == 0) {
		out->kind = PROV_OPENAI;
		out->api_key = e->agent.openai_key;
		out->base_url = e->agent.openai_url ? e->agent.openai_url :
		    OPENAI_URL_DEFAULT;
		if (out->api_key == NULL && e->agent.openai_url == NULL) {
			snprintf(err, errlen, "provider openai: "
			    "OPENAI_API_KEY is not set (without one, "
			    "OPENAI_BASE_URL must name a local server)");
			return -1;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown provider '%.32s': openai or anthropic",
	    name);
	return -1;
}

int
agent_prices_env(const struct config_env *e, struct prov_prices *t,
    char *err, size_t errlen)
{
	json_error_t je;
	char why[256];
	json_t *v;
	int rc;

	memset(t, 0, sizeof(*t));
	if (e->agent.prices == NULL)
		return 0;
	if ((v = json_loads(e->agent.prices, JSON_REJECT_DUPLICATES,
	    &je)) == NULL) {
		snprintf(err, errlen, "AFU9_AGENT_PRICES: not JSON (column "
		    "%d: %s)", je.column, je.text);
		return -1;
	}
	rc = prov_prices_parse(t, v, why, sizeof(why));
	json_decref(v);
	if (rc == -1)
		snprintf(err, errlen, "AFU9_AGENT_PRICES: %s", why);
	return rc;
}
