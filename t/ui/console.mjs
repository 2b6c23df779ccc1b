// The console in headless Chromium (t/test_ui_browser.sh runs this): every page
// against a real afu9 serve with a seeded database, its DOM checked, the
// hostile issue title shown as text and never as markup, the live update
// of a running execution followed without reload, a screenshot of each
// page.  Any console error, page error, dialog or CSP violation fails
// the run.  TAP on stdout.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const build = process.env.AFU9_BUILDDIR;
const shots = process.env.AFU9_UI_SCREENSHOTS;
const TOKEN = 'uitok-Pw4Rt8Nq2Zk6Yd3M';
const HOSTILE = '<img src=x onerror=alert(1)>';
const EXEC1 = '00000000-0000-4000-8000-000000000001';
const RUN1 = '00000000-0000-4000-9000-000000000001';
// AFU9_TEST_WRAPPER (make check-valgrind: valgrind) prefixes afu9.
const wrapper = (process.env.AFU9_TEST_WRAPPER || '').split(/\s+/).filter(Boolean);
const slow = Number(process.env.AFU9_SLOW || (process.env.AFU9_UNDER_VALGRIND ? 10 : 1));
const T = (ms) => ms * slow;

let n = 0, failed = 0;
function ok(cond, what, extra) {
	n++;
	if (cond)
		console.log(`ok ${n} - ${what}`);
	else {
		failed++;
		console.log(`not ok ${n} - ${what}`);
		if (extra !== undefined)
			console.log(`# ${String(extra).replace(/\n/g, '\n# ')}`);
	}
}
function bail(msg) {
	console.log(`Bail out! ${msg}`);
	cleanup();
	process.exit(1);
}

const tmp = mkdtempSync(join(tmpdir(), 'afu9-ui-'));
const kids = [];
let afu9log = '';
function cleanup() {
	for (const k of kids.reverse())
		try { k.kill('SIGTERM'); } catch { /* gone */ }
	rmSync(tmp, { recursive: true, force: true });
}
process.on('exit', () => { for (const k of kids) try { k.kill('SIGKILL'); } catch { /* gone */ } });

// Resolve with the first line of a child's stream that matches re.
function waitLine(stream, re, ms, what) {
	return new Promise((resolve, reject) => {
		const rl = createInterface({ input: stream });
		const t = setTimeout(() => reject(new Error(`${what}: no line matching ${re} in ${ms} ms`)), ms);
		rl.on('line', (l) => {
			const m = l.match(re);
			if (m) {
				clearTimeout(t);
				resolve(m);
			}
		});
		rl.on('close', () => reject(new Error(`${what}: ended before ${re}`)));
	});
}

// ---- the database ----
const pg = spawn(join(build, 't/pgrun'), ['ui'], { stdio: ['pipe', 'pipe', 'inherit'] });
kids.push(pg);
let ci;
try {
	ci = (await waitLine(pg.stdout, /^(host=.*)$/, T(60000), 'pgrun'))[1];
} catch (e) {
	bail(e.message);
}

function sql(text) {
	return execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-At', '-d', ci],
	    { input: text, encoding: 'utf8' });
}

// ---- afu9 serve ----
const config = join(tmp, 'ui.json');
writeFileSync(config, JSON.stringify({
	mcpServers: { conf: { command: join(build, 't/conformance-server') } },
	afu9: { http: { listen: '127.0.0.1:0' }, shutdownGraceMs: 3000 },
}));
const env = { ...process.env, DATABASE_URL: ci, AFU9_API_TOKEN: TOKEN };
delete env.AFU9_MIGRATIONS_DIR;
delete env.AFU9_MIGRATE;
const argv = [...wrapper, join(build, 'orchestrator/afu9'), 'serve', '--config', config];
const afu9 = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
kids.push(afu9);
afu9.stderr.on('data', (d) => { afu9log += d; });
let port;
try {
	port = Number((await waitLine(afu9.stderr, /\(port (\d+)\)/, T(30000), 'afu9 serve'))[1]);
} catch (e) {
	bail(`${e.message}\n${afu9log}`);
}
const base = `http://127.0.0.1:${port}`;

// Wait until the migrations ran (serve migrates before it listens) and
// the server is ready.
for (let i = 0; ; i++) {
	const r = await fetch(`${base}/ready`).catch(() => null);
	if (r && r.status === 200)
		break;
	if (i > T(300))
		bail(`afu9 not ready: ${afu9log}`);
	await new Promise((s) => setTimeout(s, 100));
}

// ---- seed ----
const hostile = HOSTILE.replace(/'/g, "''");
sql(`
SELECT afu9_workflow_apply('t_hostile', NULL, 'seeded history',
    '{"name":"t_hostile","steps":[{"id":"fetch","type":"tool","tool":"conf.echo","arguments":{"text":"\${{ inputs.issue.title }}"}}]}'::jsonb);
SELECT afu9_workflow_apply('t_nap', NULL, 'a sleep, then an add',
    '{"name":"t_nap","steps":[{"id":"nap","type":"tool","tool":"conf.sleep","arguments":{"ms":6000}},{"id":"after","type":"tool","tool":"conf.add","arguments":{"a":1,"b":2}}]}'::jsonb);
INSERT INTO repositories (owner, name) VALUES ('octo', 'widgets');
INSERT INTO workflow_executions (id, workflow_id, repository_id, status,
    input, output, error, triggered_by, created_at, started_at, finished_at)
SELECT CASE WHEN g = 1 THEN '${EXEC1}'::uuid ELSE gen_random_uuid() END, w.id,
    CASE WHEN g % 2 = 1 THEN r.id END,
    CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'succeeded' END,
    jsonb_build_object('issue', jsonb_build_object('number', g, 'title', '${hostile}')),
    CASE WHEN g % 10 <> 0 THEN jsonb_build_object('comment', '${hostile}') END,
    CASE WHEN g % 10 = 0 THEN 'step fetch failed: <script>alert(2)</script>' END,
    'seed', now() - g * interval '1 minute', now() - g * interval '1 minute',
    now() - g * interval '1 minute' + interval '1.5 seconds'
FROM generate_series(1, 60) g, workflows w, repositories r
WHERE w.name = 't_hostile';
INSERT INTO workflow_steps (execution_id, step_index, step_name, attempt,
    kind, status, tool, input, output, error, error_kind, started_at,
    finished_at)
SELECT x.id, 0, 'fetch', 1, 'tool', CASE x.status WHEN 'failed' THEN 'failed' ELSE 'succeeded' END,
    'conf.echo', jsonb_build_object('text', '${hostile}'),
    CASE WHEN x.status <> 'failed' THEN jsonb_build_object('content',
        jsonb_build_array(jsonb_build_object('type', 'text', 'text',
        '${hostile} ' || repeat('a long tool output ', 30)))) END,
    CASE WHEN x.status = 'failed' THEN '<b>tool said no</b>' END,
    CASE WHEN x.status = 'failed' THEN 'tool' END,
    x.started_at, x.started_at + interval '1.2 seconds'
FROM workflow_executions x;
INSERT INTO agent_runs (id, execution_id, step_id, provider, model, status,
    input_tokens, output_tokens, cost_usd, started_at, finished_at)
SELECT '${RUN1}', s.execution_id, s.id, 'anthropic', 'claude-model-${hostile}',
    'succeeded', 1200, 340, 1.25, now(), now() + interval '3 seconds'
FROM workflow_steps s WHERE s.execution_id = '${EXEC1}';
INSERT INTO agent_messages (run_id, seq, role, content, input_tokens,
    output_tokens, cache_read_tokens, cache_write_tokens) VALUES
  ('${RUN1}', 0, 'user', jsonb_build_object('text', 'Fix ${hostile}'),
    NULL, NULL, NULL, NULL),
  ('${RUN1}', 1, 'assistant', jsonb_build_object('text', 'Reading it.',
    'tool_calls', jsonb_build_array(jsonb_build_object('id', 'c1', 'tool',
    'conf.echo', 'arguments', jsonb_build_object('text', '${hostile}')))),
    1200, 340, 0, 0);
INSERT INTO mcp_tool_calls (server, tool, caller, arguments, status,
    result_summary, duration_ms, execution_id, step_id, agent_run_id, started_at)
SELECT 'conf', CASE WHEN k = 1 THEN 'echo' ELSE 'add' END,
    CASE WHEN k = 1 THEN 'workflow' ELSE 'agent' END, '{}', 'completed',
    '${hostile}', 12, s.execution_id, s.id,
    CASE WHEN s.execution_id = '${EXEC1}' AND k = 2 THEN '${RUN1}'::uuid END,
    s.started_at + k * interval '10 ms'
FROM workflow_steps s, generate_series(1, 2) k;
`);

// ---- the browser ----
const problems = [];
const browser = await chromium.launch({
	executablePath: process.env.AFU9_CHROMIUM,
	args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
await context.addInitScript(() => {
	document.addEventListener('securitypolicyviolation', (e) => {
		console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
	});
});
const page = await context.newPage();
page.setDefaultTimeout(T(30000));
page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); d.dismiss(); });
mkdirSync(shots, { recursive: true });
async function shot(name) {
	await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}
// Nothing built from the hostile title: no <img> or <script> but ours.
async function noInjection(where) {
	const bad = await page.evaluate(() => ({
		img: document.querySelectorAll('img').length,
		scripts: [...document.querySelectorAll('script')].map((s) => s.getAttribute('src')),
		onerror: document.querySelectorAll('[onerror]').length,
		b: document.querySelectorAll('main b').length,
	}));
	ok(bad.img === 0 && bad.onerror === 0 && bad.b === 0 &&
	    bad.scripts.every((s) => s === '/ui/static/console.js'),
	    `${where}: no element made from the hostile values`, JSON.stringify(bad));
}
async function text(sel) {
	return (await page.locator(sel).first().textContent()) ?? '';
}

try {
	// login
	let r = await page.goto(`${base}/ui/executions`);
	ok(page.url() === `${base}/ui/login`, 'a page without a session redirects to the login', page.url());
	const csp = r.headers()['content-security-policy'] || '';
	ok(csp.includes("script-src 'self'") && !csp.includes('unsafe-inline'), 'the CSP has no unsafe-inline', csp);
	await shot('login');
	await page.fill('#token', 'not-the-token');
	[r] = await Promise.all([page.waitForResponse((x) => x.url().endsWith('/ui/login') && x.request().method() === 'POST'),
	    page.click('button[type=submit]')]);
	ok(r.status() === 401, 'a wrong token: 401', r.status());
	ok((await text('.error')).includes('not a valid token'), 'a wrong token: the form says so');
	problems.length = 0;	// the 401 itself is logged by Chromium
	await page.fill('#token', TOKEN);
	await Promise.all([page.waitForURL(`${base}/ui/`), page.click('button[type=submit]')]);
	ok(page.url() === `${base}/ui/`, 'the right token: the overview');
	const cookies = await context.cookies();
	const sc = cookies.find((c) => c.name === 'afu9_session');
	ok(sc && sc.httpOnly && sc.sameSite === 'Strict' && sc.path === '/ui/' &&
	    /^[0-9a-f]{64}$/.test(sc.value) && sc.value !== TOKEN, 'the session cookie', JSON.stringify(sc));

	// overview
	for (let i = 0; i < T(100); i++) {
		if ((await page.locator('table.servers .st-ready').count()) > 0)
			break;
		await page.waitForTimeout(100);
		await page.reload();
	}
	ok(await page.locator('table.servers tbody tr').count() === 1 &&
	    (await text('table.servers tbody tr')).includes('conf'), 'overview: the server');
	ok((await page.locator('table.servers .st-ready').count()) === 1, 'overview: the server is ready');
	ok((await text('table.servers tbody tr td:nth-child(4)')).trim() !== '0', 'overview: its tool count');
	const succ = await text('#by-status a[href="/ui/executions?status=succeeded"]');
	const fail = await text('#by-status a[href="/ui/executions?status=failed"]');
	ok(Number(succ) >= 54 && Number(fail) === 6, 'overview: executions by status over 24 h', `${succ} ${fail}`);
	ok((await text('#spend')) === '$1.250000', 'overview: agent spend today', await text('#spend'));
	await shot('overview');

	// servers
	await page.goto(`${base}/ui/servers`);
	ok(await page.locator('#s-conf table.tools code', { hasText: /^sleep$/ }).count() === 1, 'servers: the tools');
	await page.locator('#s-conf tr', { hasText: 'Adds two integers' }).locator('details summary').first().click().catch(() => {});
	ok((await page.locator('#s-conf table.tools').textContent()).includes('"type":"object"'), 'servers: input schemas');
	await shot('servers');

	// executions
	await page.goto(`${base}/ui/executions`);
	const rows = page.locator('#executions tbody tr');
	ok(await rows.count() === 50, 'executions: a page of 50', await rows.count());
	ok((await text('#executions tbody tr td.title')).trim() === HOSTILE, 'executions: the hostile title as text');
	await noInjection('executions');
	await shot('executions');
	await Promise.all([page.waitForURL(/after=/), page.click('a[rel=next]')]);
	const rest = await rows.count();
	ok(rest >= 10 && rest <= 12 && (await page.locator('a[rel=next]').count()) === 0,
	    'executions: the next page by keyset, the last', rest);
	await page.goto(`${base}/ui/executions`);
	await page.selectOption('select[name=status]', 'failed');
	await page.fill('input[name=repository]', 'octo/widgets');
	await Promise.all([page.waitForURL(/status=failed/), page.click('form.filters button')]);
	ok(await page.locator('#executions tbody tr a.id').count() === 0 &&
	    (await text('#executions tbody')).includes('No executions match'),
	    'executions: status and repository filters (the failed ones have none)');
	await page.goto(`${base}/ui/executions?status=failed&workflow=t_hostile`);
	ok(await rows.count() === 6, 'executions: status and workflow filters', await rows.count());
	ok((await text('#executions tbody tr')).includes('<script>alert(2)</script>'), 'executions: the error as text');
	await page.goto(`${base}/ui/executions?repository=octo/widgets`);
	ok(await rows.count() === 30, 'executions: repository filter', await rows.count());

	// one execution
	await page.goto(`${base}/ui/executions/${EXEC1}`);
	ok(await page.locator('#steps tbody tr').count() === 1, 'execution: its step');
	ok((await text('dl.facts')).includes(HOSTILE), 'execution: the input, with the hostile title as text');
	const det = page.locator('#steps td details').first();
	ok(await det.count() === 1, 'execution: a long output trimmed under <details>');
	await det.locator('summary').click();
	ok((await det.locator('pre').textContent()).includes('a long tool output'), 'execution: the whole output when opened');
	ok(await page.locator(`a[href="/ui/runs/${RUN1}"]`).count() >= 1, 'execution: its agent run');
	ok(await page.locator('table.calls tbody tr').count() === 2, 'execution: its tool calls');
	ok((await page.locator('#steps').getAttribute('data-live')) === null, 'execution: a finished one is not live');
	await noInjection('execution');
	await shot('execution');

	// one agent run
	await page.click(`a[href="/ui/runs/${RUN1}"]`);
	await page.waitForURL(`${base}/ui/runs/${RUN1}`);
	ok((await text('#tokens')).includes('1200 in, 340 out'), 'agent run: tokens');
	ok((await text('#cost')) === '$1.250000', 'agent run: cost');
	ok((await text('dl.facts')).includes(`claude-model-${HOSTILE}`), 'agent run: the model name as text');
	ok((await text('table.transcript')).includes(`Fix ${HOSTILE}`), 'agent run: the transcript, as text');
	ok((await text('table.transcript')).includes('conf.echo'), 'agent run: a tool call in the transcript');
	await noInjection('agent run');
	await shot('run');

	// audit log
	await page.goto(`${base}/ui/audit`);
	ok(await page.locator('#audit tbody tr').count() === 50, 'audit: a page of 50');
	await noInjection('audit');
	await shot('audit');
	await Promise.all([page.waitForURL(/after=/), page.click('a[rel=next]')]);
	ok(await page.locator('#audit tbody tr').count() === 50, 'audit: the next page by keyset');
	await page.goto(`${base}/ui/audit?caller=agent&execution=${EXEC1}`);
	ok(await page.locator('#audit tbody tr').count() === 1, 'audit: caller and execution filters');
	await page.goto(`${base}/ui/audit?server=conf&tool=echo&status=completed`);
	const ec = await page.locator('#audit tbody tr').count();
	ok(ec === 50 && (await page.locator('a[rel=next]').count()) === 1, 'audit: server, tool and status filters', ec);

	// webhooks
	await page.goto(`${base}/ui/webhooks`);
	ok((await text('#no-webhooks')).includes('No webhook deliveries are recorded yet'), 'webhooks: says none are recorded');
	await shot('webhooks');

	// live: a running execution's page follows its steps
	const cr = await fetch(`${base}/v1/workflows/t_nap/executions`, {
		method: 'POST',
		headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
		body: '{"input":{}}',
	});
	const live = (await cr.json()).id;
	ok(cr.status === 201 && live, 'live: an execution started through the API', cr.status);
	await page.goto(`${base}/ui/executions/${live}`);
	ok((await page.locator('#steps').getAttribute('data-live')) === live, 'live: the page of a running execution is live');
	await page.evaluate(() => { window.afu9NotReloaded = true; });
	await page.locator('#steps tr[data-step="after"][data-status="succeeded"]').waitFor({ timeout: T(60000) });
	ok(true, 'live: the steps finishing appear without reload');
	await page.locator('#steps:not([data-live]) .st-succeeded').first().waitFor({ timeout: T(30000) });
	ok(await page.evaluate(() => window.afu9NotReloaded === true), 'live: the page was not reloaded');
	ok(await page.locator('#steps tr[data-step="nap"][data-status="succeeded"]').count() === 1, 'live: the sleep step succeeded');
	await shot('live');

	// logout
	await Promise.all([page.waitForURL(`${base}/ui/login`), page.click('form.logout button')]);
	await page.goto(`${base}/ui/`);
	ok(page.url() === `${base}/ui/login`, 'logout: the session is gone');
} catch (e) {
	ok(false, `the run: ${e.message}`, e.stack);
}
ok(problems.length === 0, 'no console error, page error, dialog or CSP violation', problems.join('\n'));
await browser.close();
afu9.kill('SIGTERM');
const code = await new Promise((s) => afu9.on('exit', (c, sig) => s(sig ?? c)));
ok(code === 0, 'afu9 serve stopped cleanly (exit 0)', `${code}\n${afu9log.slice(-4000)}`);
ok(!afu9log.includes(TOKEN), 'the token is in no log line');
pg.stdin.end();
await new Promise((s) => pg.on('exit', s));
rmSync(tmp, { recursive: true, force: true });
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
