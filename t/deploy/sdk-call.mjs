// The official MCP TypeScript SDK client launches afu9-deploy over stdio
// (without --allow-write), lists its tools and calls getServiceStatus and
// waitForDeployment against a seeded moto_server (the SDK checks each
// result's structuredContent against the tool's outputSchema), and sees
// updateService refused.  For t/test_deploy: the server's environment
// (AWS_ENDPOINT_URL, credentials) is this process's; the cluster is
// AFU9_DEPLOY_TEST_CLUSTER, holding a stable service "idle" and a
// service "web" that never finishes rolling out.
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
const cluster = process.env.AFU9_DEPLOY_TEST_CLUSTER;
let failed = 0;

function check(cond, what) {
	console.log(`${cond ? 'ok' : 'not ok'} ${what}`);
	if (!cond)
		failed++;
}

if (cmd.length === 0 || !cluster) {
	console.log('usage: AFU9_DEPLOY_TEST_CLUSTER=NAME sdk-call.mjs -- CMD [ARG...]');
	process.exit(2);
}
const transport = new StdioClientTransport({
	command: cmd[0], args: cmd.slice(1), env: { ...process.env },
	stderr: 'ignore',
});
const client = new Client({ name: 'afu9-deploy-test', version: '0.0.0' });
try {
	await client.connect(transport, RO);
	check(client.getServerVersion()?.name === 'afu9-deploy', 'serverInfo.name');
	const { tools } = await client.listTools({}, RO);
	check(tools.length === 5, `5 tools listed (got ${tools.length})`);
	const w = tools.find((t) => t.name === 'updateService');
	check(w?.annotations?.destructiveHint === true, 'updateService is destructive');
	const s = await client.callTool({ name: 'getServiceStatus',
		arguments: { cluster, service: 'idle' } }, undefined, RO);
	check(s.isError !== true, `getServiceStatus succeeded: ${JSON.stringify(s.content)}`);
	check(s.structuredContent?.verdict === 'stable', `verdict=${s.structuredContent?.verdict}`);
	const r = await client.callTool({ name: 'waitForDeployment',
		arguments: { cluster, service: 'idle', timeoutSeconds: 30 } }, undefined, RO);
	check(r.structuredContent?.outcome === 'completed', `outcome=${r.structuredContent?.outcome}`);
	// "web" rolls out for ever on moto: polls until the timeout.  (The SDK
	// runs progress handlers a tick after reading, so a notification that
	// arrives with the final answer may be dropped; earlier ones count.)
	let progress = 0;
	const t = await client.callTool({ name: 'waitForDeployment',
		arguments: { cluster, service: 'web', timeoutSeconds: 1 } }, undefined,
		{ ...RO, onprogress: () => { progress++; } });
	check(t.structuredContent?.outcome === 'timeout', `timeout outcome=${t.structuredContent?.outcome}`);
	check(progress >= 1, `progress notifications: ${progress}`);
	const u = await client.callTool({ name: 'updateService',
		arguments: { cluster, service: 'idle', desiredCount: 1 } }, undefined, RO);
	check(u.isError === true && /writes are disabled/.test(u.content?.[0]?.text ?? ''),
		'updateService refused without --allow-write');
} catch (e) {
	check(false, `exception: ${e?.message ?? e}`);
} finally {
	await client.close().catch(() => {});
}
process.exit(failed ? 1 : 0);
