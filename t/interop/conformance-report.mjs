// Turn one run of the MCP conformance CLI into TAP, judged against the
// committed baseline of scenarios expected to fail.
//
//   node conformance-report.mjs --results DIR --log FILE --baseline FILE
//        [--status FILE]
//
// --log is the CLI's output: its SUMMARY lines ("✓ NAME: P passed, F
// failed") list every scenario run, including those that crashed before
// writing results.  --results is its --output-dir, holding
// server-NAME-TIMESTAMP/checks.json with each check's status and message.
// --baseline: one scenario per line, "NAME  # reason"; '#' lines and blank
// lines ignored.  --status: the bridge's per-process exit records.
//
// A scenario passes when none of its checks has status FAILURE.  Output:
//   ok      - passed, not baselined
//   not ok  - failed, not baselined (diagnostics list the failed checks)
//   not ok  # TODO - failed, baselined (expected failure)
//   ok      - passed although baselined: the name says to drop the entry
// Exit status 1 if any line is a plain "not ok", else 0.

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

function parseArgs(argv) {
	const o = {};
	for (let i = 0; i < argv.length; i += 2) {
		const k = argv[i].replace(/^--/, '');
		if (!['results', 'log', 'baseline', 'status'].includes(k) || argv[i + 1] === undefined) {
			console.log(`Bail out! conformance-report: bad argument ${argv[i]}`);
			process.exit(1);
		}
		o[k] = argv[i + 1];
	}
	for (const k of ['results', 'log', 'baseline'])
		if (o[k] === undefined) {
			console.log(`Bail out! conformance-report: --${k} missing`);
			process.exit(1);
		}
	return o;
}

function readText(path) {
	try {
		return readFileSync(path, 'utf8');
	} catch {
		return null;
	}
}

/* Map scenario name -> reason from the baseline file; throws on a bad line. */
function readBaseline(path) {
	const text = readText(path);
	if (text === null)
		throw new Error(`cannot read ${path}`);
	const map = new Map();
	text.split('\n').forEach((raw, i) => {
		const line = raw.trim();
		if (line === '' || line.startsWith('#'))
			return;
		const m = /^(\S+)\s+#\s*(\S.*)$/.exec(line);
		if (m === null)
			throw new Error(`${path}:${i + 1}: want "scenario  # reason", got "${line}"`);
		map.set(m[1], m[2]);
	});
	return map;
}

/* Scenario names in run order, from the CLI's SUMMARY block. */
function readSummary(log) {
	const at = log.lastIndexOf('=== SUMMARY ===');
	if (at < 0)
		return null;
	const names = [];
	for (const line of log.slice(at).split('\n')) {
		const m = /^[✓✗] (\S+): \d+ passed, \d+ failed$/.exec(line.trim());
		if (m !== null)
			names.push(m[1]);
	}
	return names;
}

/* Map scenario name -> array of checks, from the results directory. */
function readChecks(dir) {
	const map = new Map();
	let entries = [];
	try {
		entries = readdirSync(dir);
	} catch {
		return map;
	}
	for (const e of entries) {
		const m = /^server-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z$/.exec(e);
		if (m === null)
			continue;
		const text = readText(join(dir, e, 'checks.json'));
		try {
			if (text !== null)
				map.set(m[1], JSON.parse(text));
		} catch {
			/* unreadable: the scenario counts as failed */
		}
	}
	return map;
}

function oneLine(s) {
	return String(s).replace(/\s+/g, ' ').slice(0, 300);
}

/* Diagnostic lines for a failed scenario. */
function failures(checks, log, name) {
	if (checks === undefined) {
		const m = log.match(new RegExp(`Failed to run scenario ${name}:.*`));
		return [`no results written${m ? `: ${oneLine(m[0])}` : ''}`];
	}
	return checks.filter((c) => c.status === 'FAILURE')
	    .map((c) => `${c.name ?? c.id}: ${oneLine(c.errorMessage ?? c.description ?? 'failed')}`);
}

function statusLine(path) {
	const text = readText(path);
	if (text === null)
		return { ok: false, diag: ['no exit records from the bridge'] };
	const recs = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
	const bad = recs.filter((r) => r.code !== 0 || r.signal !== null || r.killed || r.stdoutErrors > 0);
	const diag = bad.map((r) => `server ${r.child} pid ${r.pid}: exit ${r.code}` +
	    `${r.signal ? ` signal ${r.signal}` : ''}${r.killed ? ' (killed after grace)' : ''}` +
	    `${r.stdoutErrors ? `, ${r.stdoutErrors} non-JSON-RPC stdout lines` : ''}`);
	if (recs.length === 0)
		diag.push('no server process was started');
	return { ok: bad.length === 0 && recs.length > 0, diag,
	    text: `${recs.length} server processes exited 0, only JSON-RPC on stdout` };
}

const args = parseArgs(process.argv.slice(2));
let baseline;
try {
	baseline = readBaseline(args.baseline);
} catch (e) {
	console.log(`Bail out! ${e.message}`);
	process.exit(1);
}
const log = readText(args.log) ?? '';
const names = readSummary(log);
if (names === null || names.length === 0) {
	console.log('Bail out! conformance CLI produced no summary');
	for (const l of log.split('\n').slice(-40))
		console.log(`# ${l}`);
	process.exit(1);
}
const checks = readChecks(args.results);
const total = names.length + (args.status !== undefined ? 1 : 0);
let failed = 0;
let n = 0;
console.log(`1..${total}`);
for (const name of names) {
	const cs = checks.get(name);
	const ok = cs !== undefined && !cs.some((c) => c.status === 'FAILURE');
	const reason = baseline.get(name);
	n++;
	if (ok && reason === undefined) {
		console.log(`ok ${n} - ${name}`);
	} else if (ok) {
		console.log(`ok ${n} - ${name} (now passes: remove it from t/conformance-baseline.txt)`);
	} else if (reason !== undefined) {
		console.log(`not ok ${n} - ${name} # TODO ${reason}`);
		for (const d of failures(cs, log, name))
			console.log(`#   ${d}`);
	} else {
		failed++;
		console.log(`not ok ${n} - ${name}`);
		for (const d of failures(cs, log, name))
			console.log(`#   ${d}`);
	}
}
for (const name of baseline.keys())
	if (!names.includes(name))
		console.log(`# baseline names ${name}, which the suite did not run`);
if (args.status !== undefined) {
	const s = statusLine(args.status);
	n++;
	console.log(`${s.ok ? 'ok' : 'not ok'} ${n} - ${s.text}`);
	for (const d of s.diag)
		console.log(`#   ${d}`);
	if (!s.ok)
		failed++;
}
process.exit(failed > 0 ? 1 : 0);
