// Test fixture: expose a stdio MCP server over Streamable HTTP.
//
//   node bridge.mjs [--status FILE] [--idle-ms N] [--grace-ms N] [--prespawn N]
//        -- CMD [ARG...]
//
// Listens on 127.0.0.1 with an ephemeral port and prints one line,
// "http://127.0.0.1:PORT/mcp", on stdout once it accepts connections.
// Every "initialize" POST without a session starts a new session: one
// StreamableHTTPServerTransport (SDK) on the HTTP side and one child process
// CMD ARG... speaking newline-delimited JSON-RPC on its stdin/stdout.
// Messages are forwarded unchanged both ways.  Responses are routed by the
// transport to the HTTP stream of their request; server notifications and
// requests go to the stream of the request they belong to (progress by
// progressToken, anything else to the newest request still in flight),
// or to the session's GET stream when none is in flight.
// --prespawn N keeps N children started ahead of the next sessions, so slow
// starts (servers under valgrind) overlap each other and the sessions before.
//
// A session ends on HTTP DELETE, when its child exits, after --idle-ms
// without an open HTTP exchange or a request in flight (clients that just
// drop the connection), or at bridge shutdown (SIGTERM/SIGINT).  Ending a
// session closes the child's stdin, which a well-behaved server answers by
// exiting 0; after --grace-ms it is killed.  At shutdown one JSON line per
// child (spare ones included) is written to --status FILE:
//   {"child":N,"pid":P,"code":C,"signal":S,"stdoutErrors":E,"killed":K}
// stdoutErrors counts stdout lines that were not JSON-RPC messages.
// Child stderr is copied to the bridge's stderr, each line prefixed "[sN]".
//
// Requests whose Host or Origin is not a loopback name are refused with
// 403 (DNS rebinding protection, as the MCP transport spec requires).

import http from 'node:http';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

const MAX_BODY = 32 * 1024 * 1024;	/* one HTTP request body */
const MAX_LINE = 64 * 1024 * 1024;	/* one line from a child */

function usage(msg) {
	process.stderr.write(`bridge: ${msg}\n` +
	    'usage: bridge.mjs [--status FILE] [--idle-ms N] [--grace-ms N] [--prespawn N] -- CMD [ARG...]\n');
	process.exit(2);
}

function parseArgs(argv) {
	const opts = { status: null, idleMs: 5000, graceMs: 10000, prespawn: 0, cmd: [] };
	let i = 0;
	for (; i < argv.length && argv[i] !== '--'; i++) {
		const a = argv[i], v = argv[i + 1];
		if (v === undefined)
			usage(`${a} needs a value`);
		if (a === '--status')
			opts.status = v;
		else if (a === '--idle-ms')
			opts.idleMs = Number(v);
		else if (a === '--grace-ms')
			opts.graceMs = Number(v);
		else if (a === '--prespawn')
			opts.prespawn = Number(v);
		else
			usage(`unknown option ${a}`);
		i++;
	}
	opts.cmd = argv.slice(i + 1);
	if (i >= argv.length || opts.cmd.length === 0)
		usage('no server command');
	if (!(opts.idleMs > 0) || !(opts.graceMs > 0))
		usage('bad timeout');
	if (!Number.isInteger(opts.prespawn) || opts.prespawn < 0 || opts.prespawn > 8)
		usage('bad --prespawn count (0 to 8)');
	return opts;
}

const opts = parseArgs(process.argv.slice(2));
const sessions = new Map();	/* session id -> Session */
const finished = [];		/* status records of exited children */
const allChildren = new Set();	/* every child started, for shutdown */
let nchildren = 0;
const spares = [];		/* started children no session uses yet */
let stopping = false;

function log(msg) {
	process.stderr.write(`bridge: ${msg}\n`);
}

/* True if `host` (a Host header value or URL host) names loopback. */
function loopbackHost(host) {
	let name;
	try {
		name = new URL(`http://${host}`).hostname.toLowerCase();
	} catch {
		return false;
	}
	return name === 'localhost' || name === '127.0.0.1' || name === '[::1]';
}

function loopbackOrigin(origin) {
	let u;
	try {
		u = new URL(origin);
	} catch {
		return false;
	}
	return u.protocol === 'http:' && loopbackHost(u.host);
}

function replyError(res, status, code, message) {
	if (res.headersSent)
		return;
	res.writeHead(status, { 'Content-Type': 'application/json' });
	res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

/* Body of `req` as text; rejects with .status set when too large. */
function readBody(req) {
	return new Promise((resolve, reject) => {
		const chunks = [];
		let len = 0;
		req.on('data', (c) => {
			len += c.length;
			if (len > MAX_BODY) {
				const e = new Error('request body too large');
				e.status = 413;
				req.removeAllListeners('data');
				req.resume();	/* drain the rest, then answer */
				reject(e);
				return;
			}
			chunks.push(c);
		});
		req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
		req.on('error', reject);
	});
}

function isRequest(m) {
	return m && typeof m === 'object' && typeof m.method === 'string' && 'id' in m;
}

function isResponse(m) {
	return m && typeof m === 'object' && m.method === undefined &&
	    ('result' in m || 'error' in m);
}

/*
 * One server process.  Lines from its stdout go to onLine once a session
 * has attached (a spare child started ahead of time holds them until
 * then).  Its exit is recorded for the status file.
 */
class Child {
	constructor() {
		const [cmd, ...args] = opts.cmd;
		this.n = ++nchildren;
		this.onLine = null;
		this.onExit = null;
		this.early = [];
		this.hasExited = false;
		this.ending = false;
		this.record = { child: this.n, pid: null, code: null, signal: null,
		    stdoutErrors: 0, killed: false };
		allChildren.add(this);
		const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
		this.proc = proc;
		this.record.pid = proc.pid ?? null;
		this.exited = new Promise((resolve) => {
			const done = (code, signal) => {
				if (this.hasExited)
					return;
				this.hasExited = true;
				this.record.code = code;
				this.record.signal = signal;
				finished.push(this.record);
				if (!this.ending)
					log(`s${this.n}: server exited (code ${code}, signal ${signal})`);
				resolve();
				this.onExit?.();
			};
			proc.on('exit', done);
			proc.on('error', (e) => {
				log(`s${this.n}: ${cmd}: ${e.message}`);
				if (proc.pid === undefined)
					done(127, null);	/* never started */
			});
		});
		proc.stdin.on('error', () => {});	/* EPIPE: seen as exit */
		lines(proc.stdout, (line) => {
			if (this.onLine !== null)
				this.onLine(line);
			else
				this.early.push(line);
		}, () => {
			log(`s${this.n}: line over ${MAX_LINE} bytes on server stdout, dropped`);
			this.record.stdoutErrors++;
		});
		lines(proc.stderr, (line) => process.stderr.write(`[s${this.n}] ${line}\n`),
		    () => {});
	}

	attach(onLine, onExit) {
		this.onLine = onLine;
		this.onExit = onExit;
		for (const line of this.early.splice(0))
			onLine(line);
		if (this.hasExited)
			onExit();
	}

	write(m) {
		if (!this.ending && !this.hasExited)
			this.proc.stdin.write(JSON.stringify(m) + '\n');
	}

	/* Idempotent: EOF on stdin, SIGKILL if still running after grace-ms. */
	end(why) {
		if (this.ending)
			return;
		this.ending = true;
		this.proc.stdin.end();
		if (this.hasExited)
			return;
		const t = setTimeout(() => {
			log(`s${this.n}: server still running ${opts.graceMs} ms after ${why}, killing`);
			this.record.killed = true;
			this.proc.kill('SIGKILL');
		}, opts.graceMs);
		this.exited.then(() => clearTimeout(t));
	}
}

/* Call fn for each complete line of `stream`; tooLong() when one overflows. */
function lines(stream, fn, tooLong) {
	let buf = '';
	stream.setEncoding('utf8');
	stream.on('data', (chunk) => {
		buf += chunk;
		let nl;
		while ((nl = buf.indexOf('\n')) >= 0) {
			const line = buf.slice(0, nl).replace(/\r$/, '');
			buf = buf.slice(nl + 1);
			fn(line);
		}
		if (buf.length > MAX_LINE) {
			tooLong();
			buf = '';
		}
	});
	stream.on('end', () => {
		if (buf.length > 0)
			fn(buf);
	});
}

/*
 * A started server for a new session, oldest spare first; tops the spares
 * back up to --prespawn.
 */
function takeChild() {
	let c;
	while ((c = spares.shift()) !== undefined && c.hasExited)
		;
	if (c === undefined)
		c = new Child();
	while (!stopping && spares.length < opts.prespawn)
		spares.push(new Child());
	return c;
}

/*
 * One MCP session: an HTTP transport and the child serving it.  `pending`
 * maps ids of client requests the child has not answered yet to their
 * progress token, in arrival order (Map keeps insertion order).
 */
class Session {
	constructor() {
		this.child = takeChild();
		this.n = this.child.n;
		this.id = null;
		this.pending = new Map();
		this.active = 0;		/* open HTTP exchanges */
		this.idleSince = Date.now();
		this.ended = false;
		this.sendChain = Promise.resolve();
		this.transport = new StreamableHTTPServerTransport({
			sessionIdGenerator: () => randomUUID(),
			onsessioninitialized: (sid) => {
				this.id = sid;
				sessions.set(sid, this);
			},
		});
		this.transport.onmessage = (m) => this.toChild(m);
		this.transport.onclose = () => this.end('transport closed');
		this.transport.onerror = (e) => log(`s${this.n}: ${e.message}`);
		this.child.attach((line) => this.fromChild(line), () => this.end('server exited'));
	}

	toChild(m) {
		if (this.ended)
			return;
		if (isRequest(m))
			this.pending.set(m.id, m.params?._meta?.progressToken);
		else if (m.method === 'notifications/cancelled')
			this.pending.delete(m.params?.requestId);
		this.child.write(m);
	}

	/* The in-flight client request a server message belongs to. */
	relatedRequest(m) {
		const token = m.params?.progressToken;
		if (m.method === 'notifications/progress' && token !== undefined) {
			for (const [id, t] of this.pending)
				if (t === token)
					return id;
		}
		let last;
		for (const id of this.pending.keys())
			last = id;
		return last;
	}

	fromChild(line) {
		if (line.trim() === '')
			return;
		let m;
		try {
			m = JSON.parse(line);
		} catch {
			m = undefined;
		}
		if (m === null || typeof m !== 'object' || Array.isArray(m) || m.jsonrpc !== '2.0') {
			this.child.record.stdoutErrors++;
			log(`s${this.n}: not a JSON-RPC message on server stdout: ${line.slice(0, 200)}`);
			return;
		}
		let opt;
		if (isResponse(m)) {
			this.pending.delete(m.id);
		} else {
			const rel = this.relatedRequest(m);
			if (rel !== undefined)
				opt = { relatedRequestId: rel };
		}
		/* Keep the child's order on the wire: sends are asynchronous. */
		this.sendChain = this.sendChain.then(() => this.transport.send(m, opt))
		    .catch((e) => log(`s${this.n}: cannot deliver ${line.slice(0, 120)}: ${e.message}`));
	}

	/* Idempotent. */
	end(why) {
		if (this.ended)
			return;
		this.ended = true;
		if (this.id !== null)
			sessions.delete(this.id);
		this.child.end(why);
		this.transport.close().catch(() => {});
	}

	async handle(req, res, body) {
		this.active++;
		res.on('close', () => {
			this.active--;
			this.idleSince = Date.now();
		});
		await this.transport.handleRequest(req, res, body);
		/* An initialize the transport refused (406, 415...) made no session. */
		if (this.id === null)
			this.end('initialize refused');
	}
}

function isInitialize(body) {
	const msgs = Array.isArray(body) ? body : [body];
	return msgs.some((m) => m && m.method === 'initialize' && 'id' in m);
}

async function onRequest(req, res) {
	const url = new URL(req.url, 'http://127.0.0.1');
	if (url.pathname !== '/mcp')
		return replyError(res, 404, -32000, 'Not found');
	if (!loopbackHost(req.headers.host ?? ''))
		return replyError(res, 403, -32000, `Invalid Host header: ${req.headers.host}`);
	if (req.headers.origin !== undefined && !loopbackOrigin(req.headers.origin))
		return replyError(res, 403, -32000, `Invalid Origin header: ${req.headers.origin}`);
	if (stopping)
		return replyError(res, 503, -32000, 'Shutting down');

	let body;
	if (req.method === 'POST') {
		let text;
		try {
			text = await readBody(req);
		} catch (e) {
			return replyError(res, e.status ?? 400, -32000, e.message);
		}
		try {
			body = JSON.parse(text);
		} catch {
			return replyError(res, 400, -32700, 'Parse error: Invalid JSON');
		}
	}
	const sid = req.headers['mcp-session-id'];
	if (sid !== undefined) {
		const s = sessions.get(sid);
		if (s === undefined)
			return replyError(res, 404, -32001, 'Session not found');
		return s.handle(req, res, body);
	}
	if (req.method === 'POST' && isInitialize(body))
		return new Session().handle(req, res, body);
	return replyError(res, 400, -32000, 'Bad Request: no valid session ID');
}

const server = http.createServer((req, res) => {
	onRequest(req, res).catch((e) => {
		log(`request failed: ${e.stack ?? e}`);
		replyError(res, 500, -32603, 'Internal error');
	});
});

/* Sessions whose client went away without DELETE. */
const sweeper = setInterval(() => {
	const now = Date.now();
	for (const s of [...sessions.values()])
		if (s.active === 0 && s.pending.size === 0 && now - s.idleSince > opts.idleMs)
			s.end('idle');
}, 500);

async function shutdown(sig) {
	if (stopping)
		return;
	stopping = true;
	clearInterval(sweeper);
	server.close();
	server.closeAllConnections();
	for (const s of [...sessions.values()])
		s.end(sig);
	const all = [...allChildren];
	for (const c of all)
		c.end(sig);
	await Promise.all(all.map((c) => c.exited));
	if (opts.status !== null) {
		finished.sort((a, b) => a.child - b.child);
		writeFileSync(opts.status, finished.map((r) => JSON.stringify(r) + '\n').join(''));
	}
	process.exit(0);
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

server.listen(0, '127.0.0.1', () => {
	const { port } = server.address();
	process.stdout.write(`http://127.0.0.1:${port}/mcp\n`);
});
