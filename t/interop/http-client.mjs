// The official MCP TypeScript SDK's StreamableHTTPClientTransport against
// afu9's own /mcp on two tasks (A and B) sharing one database, with
// t/conformance-server ("conf") behind them.  TAP on stdout.
//
//   node http-client.mjs URL_A URL_B      (AFU9_MCP_TOKEN: a token of scope run)
//
// What a host sees: initialize, tools/list, calls with progress, the GET
// stream the SDK opens; a second client on B with the first's session id
// resumes the first's call stream (Last-Event-ID) and serves the session
// on; a call running on A is cancelled by a notifications/cancelled that a
// load balancer sent to B; terminateSession ends the session everywhere.
// /metrics must be open (AFU9_METRICS=open).

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, McpError, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { ok, equal, done, bail, note } from './tap.mjs';

const slow = process.env.AFU9_UNDER_VALGRIND === '1';
const REQ_MS = slow ? 30000 : 10000;
const WAIT_MS = slow ? 60000 : 20000;
const RO = { timeout: REQ_MS };

const [urlA, urlB] = process.argv.slice(2);
const token = process.env.AFU9_MCP_TOKEN;
if (!urlA || !urlB || !token)
	bail('usage: AFU9_MCP_TOKEN=... http-client.mjs URL_A URL_B');

const watchdog = setTimeout(() => bail(`http-client did not finish within ${slow ? 150 : 50} s`),
    slow ? 150000 : 50000);

const auth = { headers: { Authorization: `Bearer ${token}` } };
const errors = [];	// transport errors, for the diagnostics

function transport(url, opts = {}) {
	return new StreamableHTTPClientTransport(new URL(url), { requestInit: auth, ...opts });
}

function client(name) {
	const c = new Client({ name, version: '1.0.0' });
	c.onerror = (e) => errors.push(`${name}: ${e?.message ?? e}`);
	return c;
}

function textOf(r) {
	return r?.content?.[0]?.type === 'text' ? r.content[0].text : undefined;
}

async function step(name, fn) {
	try {
		await fn();
	} catch (e) {
		ok(false, name, e instanceof McpError ? `McpError ${e.code}: ${e.message}` : (e?.stack ?? String(e)));
		note(errors.slice(-5));
	}
}

/* The metric lines of /metrics of the task at url that start with name. */
async function metric(url, name) {
	const res = await fetch(new URL('/metrics', url));
	return (await res.text()).split('\n').filter((l) => l.startsWith(name));
}

/* Poll until pred(lines of metric name) holds; the last lines. */
async function waitMetric(url, name, pred) {
	const end = Date.now() + WAIT_MS;
	let lines = [];
	while (Date.now() < end) {
		lines = await metric(url, name);
		if (pred(lines))
			return { ok: true, lines };
		await new Promise((r) => setTimeout(r, 50));
	}
	return { ok: false, lines };
}

function sleepCancelled(lines) {
	return lines.some((l) => /^afu9_tool_calls_total\{server="conf",tool="sleep",outcome="cancelled"\} 1$/.test(l));
}

let sid, version;
const t1 = transport(urlA);
const c1 = client('afu9-http-1');

await step('no token', async () => {
	const t = new StreamableHTTPClientTransport(new URL(urlA));
	let err;
	try {
		await client('afu9-http-0').connect(t, RO);
	} catch (e) {
		err = e;
	}
	ok(err instanceof StreamableHTTPError && err.code === 401, 'no token: initialize refused with 401', String(err));
});

await step('initialize', async () => {
	await c1.connect(t1, RO);
	const info = c1.getServerVersion();
	ok(info?.name === 'afu9' && typeof info?.version === 'string', 'initialize on A: serverInfo names afu9', info);
	ok(typeof c1.getServerCapabilities()?.tools === 'object', 'capabilities offer tools');
	sid = t1.sessionId;
	version = t1.protocolVersion;
	ok(typeof sid === 'string' && /^[A-Za-z0-9_-]{43}$/.test(sid), 'Mcp-Session-Id: 43 characters of base64url', sid);
	ok(SUPPORTED_PROTOCOL_VERSIONS.includes(version), 'a revision both speak was negotiated', version);
});

await step('tools/list', async () => {
	const tools = [];
	let cursor;
	do {
		const r = await c1.listTools(cursor === undefined ? {} : { cursor }, RO);
		tools.push(...r.tools);
		cursor = r.nextCursor;
	} while (cursor !== undefined && tools.length < 1000);
	const names = tools.map((t) => t.name);
	ok(names.length === 16 && names.includes('conf.echo') && names.includes('conf.sleep') &&
	    names.every((n) => n.startsWith('conf.')), 'tools/list: the child\'s 16 tools, as server.tool', names);
	const echo = tools.find((t) => t.name === 'conf.echo');
	equal(echo?.inputSchema?.properties, { text: { type: 'string' } }, 'conf.echo: its schema');
});

await step('calls', async () => {
	const text = 'héllo ✓ 𝄞';
	const e = await c1.callTool({ name: 'conf.echo', arguments: { text } }, undefined, RO);
	ok(textOf(e) === text && e.isError !== true, 'conf.echo: the text back, over an SSE response', e);
	const f = await c1.callTool({ name: 'conf.fail', arguments: {} }, undefined, RO);
	ok(f.isError === true && textOf(f) === 'fail: this tool always fails', 'conf.fail: isError with its text', f);
	let err;
	try {
		await c1.callTool({ name: 'conf.no_such_tool', arguments: {} }, undefined, RO);
	} catch (x) {
		err = x;
	}
	ok(err instanceof McpError && err.code === -32602, 'unknown tool: JSON-RPC -32602', String(err));
});

await step('progress', async () => {
	const seen = [];
	const r = await c1.callTool({ name: 'conf.sleep', arguments: { ms: 200 } }, undefined,
	    { ...RO, onprogress: (p) => seen.push(p) });
	equal(textOf(r), 'slept 200 ms', 'conf.sleep: its result');
	equal(seen.map((p) => [p.progress, p.total]), [[1, 4], [2, 4], [3, 4], [4, 4]],
	    'conf.sleep: its 4 progress notifications, in order');
});

await step('GET stream', async () => {
	// the SDK opens it after notifications/initialized; no call runs now
	const m = await waitMetric(urlA, 'afu9_mcp_streams ', (l) => l.length === 1 && l[0] === 'afu9_mcp_streams 1');
	ok(m.ok, 'the SDK\'s GET stream is open on A', m.lines);
});

let t2;
const c2 = client('afu9-http-2');

await step('resume on B', async () => {
	// The call runs on A; the first client goes away after the first
	// progress notification.  A second one, on B, with the first's
	// session id, resumes the stream from the last event it had.
	let last, firstDone;
	const first = new Promise((r) => { firstDone = r; });
	const call = c1.callTool({ name: 'conf.sleep', arguments: { ms: 1600 } }, undefined, {
		...RO,
		onresumptiontoken: (t) => { last = t; },
		onprogress: (p) => { if (p.progress === 1) firstDone(last); },
	});
	call.catch(() => {});
	const token1 = await Promise.race([first, call.then(() => undefined)]);
	await c1.close();
	ok(typeof token1 === 'string' && /^\d+-\d+$/.test(token1) && !token1.endsWith('-0'),
	    'client 1: a resumption token (the event id of its first progress notification)', token1);

	t2 = transport(urlB, { sessionId: sid });
	t2.setProtocolVersion(version);
	await c2.connect(t2, RO);
	ok(t2.sessionId === sid, 'client 2 on B: connected with client 1\'s session id, no initialize');
	const seen = [];
	const orig = t2.onmessage;
	t2.onmessage = (m, extra) => { seen.push(m); orig?.(m, extra); };
	const r = await c2.request({ method: 'tools/call', params: { name: 'conf.sleep', arguments: { ms: 1600 } } },
	    CallToolResultSchema, { ...RO, resumptionToken: token1 });
	equal(textOf(r), 'slept 1600 ms', 'client 2: the call\'s result, from B');
	equal(seen.filter((m) => m.method === 'notifications/progress').map((m) => m.params.progress), [2, 3, 4],
	    'client 2: the progress notifications after the token, each once, in order');
	equal(seen.filter((m) => 'result' in m || 'error' in m).length, 1, 'client 2: one response');
	t2.onmessage = orig;
});

await step('B serves the session', async () => {
	const l = await c2.listTools({}, RO);
	ok(l.tools.length === 16, 'client 2: tools/list on B', l.tools.length);
	const e = await c2.callTool({ name: 'conf.echo', arguments: { text: 'on B' } }, undefined, RO);
	equal(textOf(e), 'on B', 'client 2: conf.echo on B');
});

await step('cancel across tasks', async () => {
	// A load balancer without stickiness: the call goes to A, its
	// cancellation to B.
	const routed = [];
	const lbFetch = (url, init) => {
		const body = typeof init?.body === 'string' ? init.body : '';
		const to = /"method":"notifications\/cancelled"/.test(body) ? urlB : urlA;
		const u = new URL(url);
		const target = new URL(u.pathname, to);
		const p = fetch(target, init);
		if (to === urlB)
			p.then((res) => routed.push(res.status), () => routed.push('failed'));
		return p;
	};
	const t3 = transport(urlA, { sessionId: sid, fetch: lbFetch });
	t3.setProtocolVersion(version);
	const c3 = client('afu9-http-3');
	await c3.connect(t3, RO);
	const ac = new AbortController();
	let primed;
	const running = new Promise((r) => { primed = r; });
	const call = c3.callTool({ name: 'conf.sleep', arguments: { ms: 50000 } }, undefined,
	    { ...RO, timeout: 60000, signal: ac.signal, onresumptiontoken: (t) => primed(t) });
	call.catch(() => {});
	const tok = await running;	// the priming event: the call runs on A
	ok(/^\d+-0$/.test(tok), 'the call on A: primed', tok);
	ac.abort('the user gave up');
	let err;
	try {
		await call;
	} catch (e) {
		err = e;
	}
	ok(err !== undefined, 'the aborted call rejects at once', String(err));
	const m = await waitMetric(urlA, 'afu9_tool_calls_total{server="conf",tool="sleep"', sleepCancelled);
	ok(m.ok, 'A cancelled the call (the router counted it cancelled), long before its 50 s', m.lines);
	equal(routed, [202], 'the cancellation went to B, which accepted it');
	await c3.close();
	const after = await c2.callTool({ name: 'conf.echo', arguments: { text: 'after' } }, undefined, RO);
	equal(textOf(after), 'after', 'the session serves on');
});

await step('terminateSession', async () => {
	await t2.terminateSession();
	ok(t2.sessionId === undefined, 'DELETE accepted: the SDK forgot the session');
	const t4 = transport(urlA, { sessionId: sid });
	const c4 = client('afu9-http-4');
	await c4.connect(t4, RO);
	let err;
	try {
		await c4.listTools({}, RO);
	} catch (e) {
		err = e;
	}
	ok(err instanceof StreamableHTTPError && err.code === 404, 'the ended session on A: 404', String(err));
	await c4.close();
	await c2.close();
});

clearTimeout(watchdog);
process.exit(done());
