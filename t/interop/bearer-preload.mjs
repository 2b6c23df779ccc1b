// Test fixture, loaded with `node --import`: every HTTP request the
// process makes (global fetch, and undici's request, which the
// conformance suite also uses) carries "Authorization: Bearer
// $AFU9_BEARER", as a client configured with a token would send it.  So
// the official conformance suite, which has no option for credentials,
// runs directly against afu9's /mcp, whose every request needs one.
// Both share undici's global dispatcher; ours adds the header.

import { Agent, setGlobalDispatcher } from 'undici';

const token = process.env.AFU9_BEARER;
if (!token)
	throw new Error('bearer-preload: AFU9_BEARER is not set');

function withAuth(headers) {
	const v = `Bearer ${token}`;
	if (headers == null)
		return { authorization: v };
	if (Array.isArray(headers)) {
		for (let i = 0; i + 1 < headers.length; i += 2)
			if (String(headers[i]).toLowerCase() === 'authorization')
				return headers;
		return [...headers, 'authorization', v];
	}
	if (Object.getPrototypeOf(headers) !== Object.prototype &&
	    typeof headers.entries === 'function')
		headers = Object.fromEntries(headers.entries());	/* Headers */
	if (Object.keys(headers).some((k) => k.toLowerCase() === 'authorization'))
		return headers;
	return { ...headers, authorization: v };
}

class BearerAgent extends Agent {
	dispatch(opts, handler) {
		return super.dispatch({ ...opts, headers: withAuth(opts.headers) }, handler);
	}
}

setGlobalDispatcher(new BearerAgent());
