// A minimal TAP producer for the interop scripts: one line per check,
// diagnostics as '#' lines, the plan at the end.

let count = 0;
let failures = 0;

function diagLines(diag) {
	if (diag === undefined)
		return;
	const text = typeof diag === 'string' ? diag : JSON.stringify(diag);
	for (const line of text.split('\n'))
		console.log(`#   ${line.slice(0, 400)}`);
}

/* Record one check; returns `cond` as a boolean. */
export function ok(cond, name, diag) {
	count++;
	if (cond) {
		console.log(`ok ${count} - ${name}`);
		return true;
	}
	failures++;
	console.log(`not ok ${count} - ${name}`);
	diagLines(diag);
	return false;
}

/* Deep equality on JSON values (key order ignored). */
export function jsonEqual(a, b) {
	if (a === b)
		return true;
	if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null)
		return false;
	if (Array.isArray(a) !== Array.isArray(b))
		return false;
	const ka = Object.keys(a), kb = Object.keys(b);
	if (ka.length !== kb.length)
		return false;
	return ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
}

export function equal(got, want, name) {
	return ok(jsonEqual(got, want), name, { want, got });
}

export function note(msg) {
	diagLines(msg);
}

/* Print the plan; returns the exit status (0 if every check passed). */
export function done() {
	console.log(`1..${count}`);
	return failures > 0 || count === 0 ? 1 : 0;
}

export function bail(msg) {
	console.log(`Bail out! ${String(msg).split('\n')[0]}`);
	process.exit(1);
}
