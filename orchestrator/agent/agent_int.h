/*
 * agent_int: what agent.c, agent_text.c and agent_conv.c share.  Not an
 * interface for anything else.
 */
#ifndef AFU9_AGENT_INT_H
#define AFU9_AGENT_INT_H

#include <stddef.h>

#include <jansson.h>

#include "buf.h"
#include "provider.h"

#define AGENT_RESULT_MIN	1024	/* smallest max_result_bytes */

/* agent_text.c */
int	agent_result_text(const json_t *result, struct buf *b);
int	agent_trim(const char *s, size_t len, size_t max, char **out);

/*
 * agent_conv.c: message i of the conversation as transcript content (see
 * agent.h), role in *role: a new reference, NULL on ENOMEM.  Not
 * redacted yet.
 */
json_t	*agent_msg_content(const struct prov_conv *, size_t i,
	    const char **role);
/*
 * Rebuild the messages of transcript tr (an array of {"role",
 * "content"}) into c, which holds its system and tools already.  A call
 * left without its result gets the error result AGENT_INTERRUPTED.  0,
 * or -1 with err naming the entry.
 */
#define AGENT_INTERRUPTED	"interrupted: the run was restarted before " \
				"this call's result was kept; call it again " \
				"if you still need it"
int	agent_conv_resume(struct prov_conv *c, const json_t *tr,
	    char *err, size_t errlen);

#endif /* AFU9_AGENT_INT_H */
