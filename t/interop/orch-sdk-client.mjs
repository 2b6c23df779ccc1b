// The official MCP TypeScript SDK client (Client + StdioClientTransport)
// against `afu9 serve --stdio`, whose children are t/conformance-server
// ("conf": Content-Length, "nd": NDJSON).  TAP on stdout.
//
//   node orch-sdk-client.mjs -- CMD [ARG...]
//
// The gateway also listens on HTTP (port 0); its log line on stderr gives
// the port, and /metrics shows what the router counted.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LoggingMessageNotificationSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { ok, equal, done, bail } from './tap.mjs';

const slow = process.env.AFU9_UNDER_VALGRIND === '1';
const REQ_MS = slow ? 30000 : 10000;
const RO = { timeout: REQ_MS };

const at = process.argv.indexOf('--');
const [command, ...args] = at < 0 ? [] : process.argv.slice(at + 1);
if (command === undefined)
	bail('usage: orch-sdk-client.mjs -- CMD [ARG...]');

const transport = new StdioClientTransport({ command, args, env: process.env, stderr: 'pipe' });
const sent = [];
const origSend = transport.send.bind(transport);
transport.send = (m, o) => { sent.push(m); return origSend(m, o); };
let stderrText = '';
let portResolve;
const portP = new Promise((r) => { portResolve = r; });
transport.stderr?.on('data', (d) => {
	stderrText += d.toString();
	const m = /"http: listening on [^"]* \(port (\d+)\)"/.exec(stderrText);
	if (m)
		portResolve(Number(m[1]));
});
const client = new Client({ name: 'afu9-orch-sdk', version: '1.0.0' });
const logs = [];
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { logs.push(n.params); });

const watchdog = setTimeout(() => {
	try { transport._process?.kill('SIGKILL'); } catch { /* gone */ }
	bail('orch-sdk-client did not finish within 55 s');
}, 55000);

function textOf(r) {
	return r?.content?.[0]?.type === 'text' ? r.content[0].text : undefined;
}

async function step(name, fn) {
	try {
		await fn();
	} catch (e) {
		ok(false, name, e instanceof McpError ? `McpError ${e.code}: ${e.message}` : (e?.stack ?? String(e)));
	}
}

async function metrics() {
	const port = await Promise.race([portP, new Promise((r) => setTimeout(() => r(0), 2000))]);
	if (!port)
		return '';
	const res = await fetch(`http://127.0.0.1:${port}/metrics`);
	return res.text();
}

await step('initialize', async () => {
	await client.connect(transport, RO);
	const info = client.getServerVersion();
	ok(info?.name === 'afu9' && typeof info?.version === 'string', 'initialize: serverInfo names afu9', info);
	ok(typeof client.getServerCapabilities()?.tools === 'object', 'capabilities offer tools');
});

await step('tools/list', async () => {
	const tools = [];
	let cursor;
	do {
		const r = await client.listTools(cursor === undefined ? {} : { cursor }, RO);
		tools.push(...r.tools);
		cursor = r.nextCursor;
	} while (cursor !== undefined && tools.length < 1000);
	const names = tools.map((t) => t.name);
	ok(names.length === 32 && names.includes('conf.echo') && names.includes('nd.echo') &&
	    names.every((n) => /^(conf|nd)\./.test(n)), 'tools/list: 16 tools of each child, as server.tool', names);
	const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
	equal({ props: byName['conf.echo']?.inputSchema?.properties, title: byName['conf.echo']?.title },
	    { props: { text: { type: 'string' } }, title: 'Echo' }, 'conf.echo: schema and title as the child gave them');
	equal(byName['nd.add']?.outputSchema?.properties?.sum, { type: 'integer' }, 'nd.add: outputSchema forwarded');
	const ann = byName['conf.echo']?.annotations ?? {};
	ok(ann.readOnlyHint === true && ann.idempotentHint === true, 'conf.echo: annotations forwarded', ann);
});

await step('calls', async () => {
	const text = 'héllo ✓ 𝄞';
	const e = await client.callTool({ name: 'conf.echo', arguments: { text } }, undefined, RO);
	ok(textOf(e) === text && e.isError !== true, 'conf.echo: text through the gateway', e);
	const a = await client.callTool({ name: 'nd.add', arguments: { a: 2, b: 40 } }, undefined, RO);
	equal(a.structuredContent, { sum: 42 }, 'nd.add: structuredContent through an NDJSON child');
	const bad = await client.callTool({ name: 'conf.add', arguments: { a: 'x', b: 1 } }, undefined, RO);
	ok(bad.isError === true && /Invalid arguments/.test(textOf(bad) ?? ''),
	    'conf.add: the child\'s argument check comes back as isError', bad);
	const f = await client.callTool({ name: 'conf.fail', arguments: {} }, undefined, RO);
	ok(f.isError === true && textOf(f) === 'fail: this tool always fails', 'conf.fail: isError with its text', f);
	let err;
	try {
		await client.callTool({ name: 'conf.no_such_tool', arguments: {} }, undefined, RO);
	} catch (x) {
		err = x;
	}
	ok(err instanceof McpError && err.code === -32602, 'unknown tool: JSON-RPC -32602', String(err));
	await client.callTool({ name: 'conf.test_tool_with_logging', arguments: {} }, undefined, RO);
	ok(logs.some((l) => typeof l.logger === 'string' && l.logger.startsWith('conf')),
	    'a child\'s log notifications reach the client, logger names the server', logs);
});

await step('progress', async () => {
	const seen = [];
	const r = await client.callTool({ name: 'conf.sleep', arguments: { ms: 200 } }, undefined,
	    { ...RO, onprogress: (p) => seen.push(p) });
	equal(textOf(r), 'slept 200 ms', 'conf.sleep: result');
	ok(seen.length >= 3 && seen.every((p) => p.total === 4) && seen[0].progress === 1,
	    'conf.sleep: progress of 4 steps reaches the client', seen);
});

await step('cancel', async () => {
	const ac = new AbortController();
	const call = client.callTool({ name: 'conf.sleep', arguments: { ms: 3000 } }, undefined,
	    { ...RO, signal: ac.signal });
	call.catch(() => {});
	await client.ping(RO);
	ac.abort();
	let err;
	try {
		await call;
	} catch (e) {
		err = e;
	}
	ok(err !== undefined, 'cancel: the aborted call rejects', String(err));
	ok(sent.some((m) => m.method === 'notifications/cancelled'), 'cancel: the client sent notifications/cancelled');
	await client.ping(RO);
	const later = await client.callTool({ name: 'conf.echo', arguments: { text: 'after' } }, undefined, RO);
	equal(textOf(later), 'after', 'cancel: the gateway keeps serving');
	const m = await metrics();
	ok(/afu9_tool_calls_total\{server="conf",tool="sleep",outcome="cancelled"\} 1/.test(m),
	    'cancel: the router forwarded it (counted as cancelled)', m.split('\n').filter((l) => l.startsWith('afu9_tool_calls_total')));
});

await step('close', async () => {
	const proc = transport._process;
	const exited = new Promise((r) => proc?.once('exit', (code, sig) => r({ code, sig })));
	await client.close();
	const st = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), REQ_MS))]);
	equal(st, { code: 0, sig: null }, 'close: afu9 exits 0 after stdin EOF, children stopped');
	const errs = stderrText.split('\n').filter((l) => /"level":"error","component":"afu9"/.test(l));
	ok(errs.length === 0, 'no error of afu9 itself in the log', errs);
});

clearTimeout(watchdog);
done();
