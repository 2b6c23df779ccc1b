// The official MCP TypeScript SDK client launches afu9-observability over
// stdio, lists its tools and calls searchLogs on a log group t/test_obs
// seeded in moto_server (the SDK checks the result's structuredContent
// against the tool's outputSchema).  The server's environment (AWS_* to
// moto, OBS_TEST_GROUP) is this process's.
//
//   node sdk-call.mjs -- CMD [ARG...]
//
// Prints one line per finding; exits 0 when every check held.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const at = process.argv.indexOf('--');
const cmd = at < 0 ? [] : process.argv.slice(at + 1);
const slow = process.env.AFU9_UNDER_VALGRIND === '1';
const RO = { timeout: slow ? 60000 : 15000 };
let failed = 0;

function check(cond, what) {
	console.log(`${cond ? 'ok' : 'not ok'} ${what}`);
	if (!cond)
		failed++;
}

if (cmd.length === 0 || !process.env.OBS_TEST_GROUP) {
	console.log('usage: OBS_TEST_GROUP=GROUP sdk-call.mjs -- CMD [ARG...]');
	process.exit(2);
}
const transport = new StdioClientTransport({
	command: cmd[0], args: cmd.slice(1), env: { ...process.env },
	stderr: 'ignore',
});
const client = new Client({ name: 'afu9-obs-test', version: '0.0.0' });
try {
	await client.connect(transport, RO);
	check(client.getServerVersion()?.name === 'afu9-observability',
	    'serverInfo.name');
	const { tools } = await client.listTools({}, RO);
	check(tools.length === 4, `4 tools listed (got ${tools.length})`);
	check(tools.every((t) => t.annotations?.readOnlyHint === true),
	    'every tool is read-only');
	const r = await client.callTool({ name: 'searchLogs', arguments: {
		logGroupName: process.env.OBS_TEST_GROUP, startTime: '-1h' } },
	    undefined, RO);
	check(r.isError !== true, `searchLogs succeeded: ${JSON.stringify(r.content).slice(0, 300)}`);
	const sc = r.structuredContent ?? {};
	check(sc.count === 3, `searchLogs count=${sc.count}`);
	const bad = await client.callTool({ name: 'searchLogs', arguments: {
		logGroupName: process.env.OBS_TEST_GROUP, startTime: 'soon' } },
	    undefined, RO);
	check(bad.isError === true, 'a bad time is an isError result');
} catch (e) {
	check(false, `exception: ${e?.message ?? e}`);
} finally {
	await client.close().catch(() => {});
}
process.exit(failed ? 1 : 0);
