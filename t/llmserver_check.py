#!/usr/bin/env python3
"""Checks of t/llmserver.py, printed as TAP: both wire formats replayed
from t/fixtures/llm (streamed and not, several tool calls in one turn),
the streams compared with the recorded corpus in t/fixtures/sse, every
fault kind, and every strictness check refusing a bad request in the
provider's own error shape.  Driven with http.client over loopback.
"""
import copy
import http.client
import json
import os
import socket
import subprocess
import sys
import time

SRC = os.environ.get("AFU9_SRCDIR") or \
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(SRC, "t", "fixtures", "llm")
CORPUS = os.path.join(SRC, "t", "fixtures", "sse")
OA_KEY = "sk-test-openai-0001"
AN_KEY = "sk-ant-test-0001"

N = 0
FAILED = 0


def ok(cond, what, why=""):
    global N, FAILED
    N += 1
    if cond:
        print("ok %d - %s" % (N, what))
    else:
        FAILED += 1
        print("not ok %d - %s" % (N, what))
        if why:
            for line in str(why).splitlines()[:20]:
                print("#   " + line)
    sys.stdout.flush()
    return cond


class Server:
    def __init__(self):
        t0 = time.monotonic()
        self.p = subprocess.Popen(
            [sys.executable, os.path.join(SRC, "t", "llmserver.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = int(self.p.stdout.readline())
        self.start_ms = (time.monotonic() - t0) * 1000.0
        self.n = 0

    def cmd(self, **kw):
        self.n += 1
        kw["id"] = self.n
        self.p.stdin.write(json.dumps(kw) + "\n")
        self.p.stdin.flush()
        reply = json.loads(self.p.stdout.readline())
        assert reply.get("id") == self.n, reply
        return reply

    def load(self, name_or_conv):
        if isinstance(name_or_conv, str):
            r = self.cmd(cmd="load", file=os.path.join(FIX, name_or_conv))
        else:
            r = self.cmd(cmd="load", conversation=name_or_conv)
        assert r.get("ok"), r
        return r

    def requests(self):
        return self.cmd(cmd="requests")

    def stop(self):
        self.p.stdin.close()
        return self.p.wait(10)


class Resp:
    def __init__(self, status, headers, body, error=None):
        self.status, self.headers, self.body = status, headers, body
        self.error = error      # the exception that ended the read

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name.lower())


def post(port, path, body, headers, timeout=20):
    """POST body (a value sent as JSON, or bytes) and read the whole
    answer; a read that fails keeps what came and the exception."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    c.request("POST", path, data, headers)
    r = c.getresponse()
    h = {k.lower(): v for k, v in r.getheaders()}
    err = None
    try:
        got = r.read()
    except http.client.IncompleteRead as e:
        got, err = e.partial, e
    c.close()
    return Resp(r.status, h, got, err)


def oa_headers(key=OA_KEY):
    h = {"Content-Type": "application/json"}
    if key is not None:
        h["Authorization"] = "Bearer " + key
    return h


def an_headers(key=AN_KEY, version="2023-06-01"):
    h = {"Content-Type": "application/json"}
    if key is not None:
        h["x-api-key"] = key
    if version is not None:
        h["anthropic-version"] = version
    return h


def oa(srv, body, **kw):
    return post(srv.port, "/v1/chat/completions", body, oa_headers(**kw))


def an(srv, body, **kw):
    return post(srv.port, "/v1/messages", body, an_headers(**kw))


def sse(raw):
    """[(event name or None, data text)] of an SSE body."""
    out = []
    for block in raw.decode().replace("\r\n", "\n").split("\n\n"):
        ev, data = None, []
        for line in block.split("\n"):
            if line.startswith(":") or not line:
                continue
            k, _, v = line.partition(":")
            v = v[1:] if v.startswith(" ") else v
            if k == "event":
                ev = v
            elif k == "data":
                data.append(v)
        if data:
            out.append((ev, "\n".join(data)))
    return out


def shape(v):
    """The structure of a JSON value: keys and types, not values."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [shape(x) for x in v]
    return type(v).__name__


# ---- the requests of the two conversations ----

OA_TOOLS = [
    {"type": "function", "function": {
        "name": "github__getIssue", "description": "Read an issue",
        "parameters": {"type": "object", "properties": {
            "owner": {"type": "string"}, "repo": {"type": "string"},
            "number": {"type": "integer"}}}}},
    {"type": "function", "function": {
        "name": "github__getFileContents", "description": "Read a file",
        "parameters": {"type": "object", "properties": {
            "path": {"type": "string"}}}}}]
ISSUE = "Issue 7: Crash on start"
README = "# hello\nA greeting."


def oa_turn0(stream=False, usage=True):
    b = {"model": "gpt-4o-2024-08-06", "tools": copy.deepcopy(OA_TOOLS),
         "messages": [{"role": "system", "content": "You triage issues."},
                      {"role": "user", "content": "Summarise issue 7."}]}
    if stream:
        b["stream"] = True
        if usage:
            b["stream_options"] = {"include_usage": True}
    return b


def oa_assistant_turn0():
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_Qa1", "type": "function", "function": {
            "name": "github__getIssue",
            "arguments": '{"owner":"octo","repo":"hello","number":7}'}},
        {"id": "call_Qb2", "type": "function", "function": {
            "name": "github__getFileContents",
            "arguments": '{"repo": "hello", "owner": "octo", '
                         '"path": "README.md"}'}}]}


def oa_turn1(stream=False, usage=True):
    b = oa_turn0(stream, usage)
    b["messages"] += [oa_assistant_turn0(),
                      {"role": "tool", "tool_call_id": "call_Qa1",
                       "content": ISSUE},
                      {"role": "tool", "tool_call_id": "call_Qb2",
                       "content": README}]
    return b


AN_TOOLS = [
    {"name": "github__getIssue", "description": "Read an issue",
     "input_schema": {"type": "object", "properties": {
         "number": {"type": "integer"}}}},
    {"name": "github__getFileContents", "description": "Read a file",
     "input_schema": {"type": "object", "properties": {
         "path": {"type": "string"}}},
     "cache_control": {"type": "ephemeral"}}]


def an_turn0(stream=False):
    b = {"model": "claude-sonnet-4-5", "max_tokens": 1024,
         "tools": copy.deepcopy(AN_TOOLS),
         "system": [{"type": "text", "text": "You triage issues.",
                     "cache_control": {"type": "ephemeral"}}],
         "messages": [{"role": "user", "content": "Summarise issue 7."}]}
    if stream:
        b["stream"] = True
    return b


def an_assistant_turn0():
    return {"role": "assistant", "content": [
        {"type": "text", "text": "I'll read the issue and the README first."},
        {"type": "tool_use", "id": "toolu_01X", "name": "github__getIssue",
         "input": {"owner": "octo", "repo": "hello", "number": 7}},
        {"type": "tool_use", "id": "toolu_01Y",
         "name": "github__getFileContents",
         "input": {"owner": "octo", "repo": "hello", "path": "README.md"}}]}


def an_turn1(stream=False):
    b = an_turn0(stream)
    b["messages"] += [an_assistant_turn0(), {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_01X",
         "content": ISSUE},
        {"type": "tool_result", "tool_use_id": "toolu_01Y",
         "content": [{"type": "text", "text": README}],
         "cache_control": {"type": "ephemeral"}}]}]
    return b


def clean(srv, what):
    r = srv.requests()
    ok(not r["violations"] and r["done"],
       what + ": every request accepted, the script done",
       json.dumps(r["violations"]))


# ---- the conversations ----

def openai_plain(srv):
    srv.load("openai-parallel-tools.json")
    r = oa(srv, oa_turn0())
    d = r.json() if r.status == 200 else {}
    msg = (d.get("choices") or [{}])[0].get("message", {})
    calls = msg.get("tool_calls") or []
    ok(r.status == 200 and d.get("object") == "chat.completion" and
       [c["id"] for c in calls] == ["call_Qa1", "call_Qb2"] and
       json.loads(calls[1]["function"]["arguments"])["path"] == "README.md"
       and d["choices"][0]["finish_reason"] == "tool_calls" and
       msg["content"] is None,
       "openai: two tool calls in one turn, not streamed", r.body)
    ok(d.get("usage") == {"prompt_tokens": 1204, "completion_tokens": 61,
                          "total_tokens": 1265,
                          "prompt_tokens_details": {"cached_tokens": 1024}},
       "openai: usage from the fixture, total added", d.get("usage"))
    r = oa(srv, oa_turn1())
    d = r.json() if r.status == 200 else {}
    ok(r.status == 200 and d["choices"][0]["message"]["content"] ==
       "Issue 7 reports a crash on start; the README says nothing about it."
       and d["choices"][0]["finish_reason"] == "stop",
       "openai: the tool results answered (arguments compared as JSON "
       "values)", r.body)
    clean(srv, "openai, not streamed")
    req = srv.requests()["requests"][0]
    auth = [v for k, v in req["headers"] if k.lower() == "authorization"]
    ok(auth == ["[redacted]"] and req["auth"] == "ok" and
       OA_KEY not in json.dumps(srv.requests()),
       "openai: the key is checked and never recorded", req["headers"])


def corpus_data(name):
    with open(os.path.join(CORPUS, name), "rb") as f:
        return sse(f.read())


def openai_stream(srv):
    srv.load("openai-parallel-tools.json")
    r = oa(srv, oa_turn0(stream=True))
    ev = sse(r.body)
    want = corpus_data("openai-parallel-tools.sse")
    ok(r.status == 200 and
       r.header("content-type").startswith("text/event-stream") and
       r.header("transfer-encoding") == "chunked",
       "openai stream: event-stream, chunked", r.headers)
    ok([json.loads(d) if d != "[DONE]" else d for _, d in ev] ==
       [json.loads(d) if d != "[DONE]" else d for _, d in want],
       "openai stream: the corpus' parallel tool calls, chunk for chunk "
       "(fragments interleaved by index, usage chunk, [DONE])",
       "\n".join(d for _, d in ev))
    ok(ev[-1][1] == "[DONE]" and json.loads(ev[-2][1])["choices"] == [],
       "openai stream: usage chunk with choices [] before [DONE]")
    r = oa(srv, oa_turn1(stream=True, usage=False))
    ev = sse(r.body)
    chunks = [json.loads(d) for _, d in ev[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or ""
                   for c in chunks)
    ok(r.status == 200 and all("usage" not in c for c in chunks) and
       text.startswith("Issue 7 reports") and len(chunks) == 5 and
       chunks[-1]["choices"][0]["finish_reason"] == "stop",
       "openai stream: text in its fragments; no include_usage, no usage",
       r.body)
    clean(srv, "openai, streamed")


def anthropic_plain(srv):
    srv.load("anthropic-tool-use.json")
    r = an(srv, an_turn0())
    d = r.json() if r.status == 200 else {}
    ok(r.status == 200 and d.get("type") == "message" and
       [b["type"] for b in d["content"]] == ["text", "tool_use", "tool_use"]
       and d["content"][2]["input"] == {"owner": "octo", "repo": "hello",
                                        "path": "README.md"} and
       d["stop_reason"] == "tool_use" and r.header("request-id"),
       "anthropic: text and two tool_use blocks, not streamed", r.body)
    u = d.get("usage", {})
    ok(u.get("input_tokens") == 2113 and u.get("output_tokens") == 89 and
       u.get("cache_creation_input_tokens", 0) > 0 and
       u.get("cache_read_input_tokens") == 0,
       "anthropic: the first turn writes the cache_control prefix", u)
    r = an(srv, an_turn1())
    d = r.json() if r.status == 200 else {}
    u2 = d.get("usage", {})
    ok(r.status == 200 and d["stop_reason"] == "end_turn" and
       d["content"][0]["text"].startswith("Issue 7 reports"),
       "anthropic: the tool results answered", r.body)
    ok(u2.get("cache_read_input_tokens") ==
       u.get("cache_creation_input_tokens") and
       u2.get("cache_creation_input_tokens", 0) > 0,
       "anthropic: the next turn reads that prefix and writes the new "
       "breakpoint", u2)
    clean(srv, "anthropic, not streamed")


def anthropic_stream(srv):
    srv.load("anthropic-tool-use.json")
    r = an(srv, an_turn0(stream=True))
    ev = sse(r.body)
    want = corpus_data("anthropic-tool-use.sse")
    ok(r.status == 200 and [e for e, _ in ev] == [e for e, _ in want],
       "anthropic stream: the corpus' event sequence (ping after the first "
       "block start)", [e for e, _ in ev])
    ok([shape(json.loads(d)) for _, d in ev] ==
       [shape(json.loads(d)) for _, d in want],
       "anthropic stream: every event shaped as the corpus'",
       "\n".join(d for _, d in ev))
    frags = [json.loads(d)["delta"]["partial_json"] for e, d in ev
             if e == "content_block_delta" and '"input_json_delta"' in d]
    ok(frags == [json.loads(d)["delta"]["partial_json"] for e, d in want
                 if e == "content_block_delta" and '"input_json_delta"' in d],
       "anthropic stream: input_json_delta fragments as scripted", frags)
    start = json.loads(ev[0][1])["message"]["usage"]
    ok(start["cache_creation_input_tokens"] > 0 and
       json.loads(ev[-2][1])["usage"] == {"output_tokens": 89},
       "anthropic stream: usage in message_start and message_delta",
       start)
    r = an(srv, an_turn1(stream=True))
    ev = sse(r.body)
    text = "".join(json.loads(d)["delta"]["text"] for e, d in ev
                   if e == "content_block_delta")
    ok(r.status == 200 and text.startswith("Issue 7 reports") and
       json.loads(ev[-2][1])["delta"]["stop_reason"] == "end_turn" and
       ev[-1][0] == "message_stop",
       "anthropic stream: the text answer, end_turn, message_stop", r.body)
    clean(srv, "anthropic, streamed")


# ---- faults ----

def oa_simple(stream=False):
    b = {"model": "gpt-4o-mini",
         "messages": [{"role": "user", "content": "Say something."}]}
    if stream:
        b["stream"] = True
    return b


def raw_post(port, path, body, headers, timeout):
    """Send a request on a raw socket; (socket, time sent)."""
    data = json.dumps(body).encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    h = "".join("%s: %s\r\n" % kv for kv in headers.items())
    s.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: "
               "%d\r\n%s\r\n" % (path, len(data), h)).encode() + data)
    return s


def read_until_quiet(s):
    """What the socket gives until EOF ("eof") or a read timeout
    ("timeout")."""
    got = b""
    while True:
        try:
            b = s.recv(65536)
        except socket.timeout:
            return got, "timeout"
        if not b:
            return got, "eof"
        got += b


def outcome(srv, n):
    return srv.requests()["requests"][n - 1].get("outcome")


def openai_faults(srv):
    srv.load("openai-faults.json")
    r = oa(srv, oa_simple())
    e = r.json().get("error", {})
    ok(r.status == 429 and r.header("retry-after") == "1" and
       e.get("code") == "rate_limit_exceeded" and "message" in e and
       "param" in e, "openai 429: retry-after and the error shape", r.body)
    r = oa(srv, oa_simple())
    ok(r.status == 500 and r.json()["error"]["type"] == "server_error",
       "openai 500: server_error", r.body)
    t0 = time.monotonic()
    r = oa(srv, oa_simple())
    took = time.monotonic() - t0
    ok(r.status == 200 and r.body == b"" and
       isinstance(r.error, http.client.IncompleteRead) and took >= 0.2,
       "stall: headers (a Content-Length), nothing for 200 ms, then a "
       "close (%.0f ms)" % (took * 1000), repr(r.error))
    s = raw_post(srv.port, "/v1/chat/completions", oa_simple(True),
                 oa_headers(), 2)
    got, end = read_until_quiet(s)
    srv.cmd(cmd="wait", requests=4, timeout_ms=10000)
    req = srv.requests()["requests"][3]
    s.close()
    w = srv.cmd(cmd="wait", closed_conn=req["conn"], timeout_ms=10000)
    req = srv.requests()["requests"][3]
    ok(end == "timeout" and got.count(b"data: ") == 2 and
       b"[DONE]" not in got and w["ok"] and req.get("client_closed"),
       "stall mid-stream: two events, then silence past the client's "
       "2 s timeout; the client's close ends it and is recorded", got)
    r = oa(srv, oa_simple(True))
    ev = sse(r.body)
    ok(r.status == 200 and len(ev) == 3 and
       isinstance(r.error, http.client.IncompleteRead) and
       all(d != "[DONE]" for _, d in ev),
       "cut mid-stream: three events, then the connection closes inside "
       "the chunked body", r.body)
    r = oa(srv, oa_simple())
    ok(r.status == 200 and isinstance(r.error, http.client.IncompleteRead)
       and 0 < len(r.body) < int(r.header("content-length")),
       "cut: half the announced JSON body, then a close", r.body)
    s = raw_post(srv.port, "/v1/chat/completions", oa_simple(),
                 oa_headers(), 1)
    got, end = read_until_quiet(s)
    srv.cmd(cmd="wait", requests=7, timeout_ms=10000)
    req = srv.requests()["requests"][6]
    s.close()
    w = srv.cmd(cmd="wait", closed_conn=req["conn"], timeout_ms=10000)
    req = srv.requests()["requests"][6]
    ok(end == "timeout" and got == b"" and w["ok"] and
       req.get("client_closed") and req["outcome"] == "fault:hang",
       "hang: no answer at all; the client's close recorded", req)
    r = oa(srv, oa_simple(True))
    ev = sse(r.body)
    ok(r.status == 200 and len(ev) == 3 and r.error is None and
       json.loads(ev[-1][1]) == {"error": {
           "message": "The model had an error", "type": "server_error",
           "param": None, "code": None}},
       "openai error event mid-stream: two chunks, then data: {error}",
       r.body)
    r = oa(srv, oa_simple())
    ok(r.status == 200 and
       r.json()["choices"][0]["message"]["content"] == "Answered at last.",
       "after every fault the same request gets the next turn", r.body)
    clean(srv, "openai faults")
    outs = [q["outcome"] for q in srv.requests()["requests"]]
    ok(outs == ["fault:status", "fault:status", "fault:stall",
                "fault:stall", "fault:cut", "fault:cut", "fault:hang",
                "fault:error_event", "response"],
       "each request's outcome recorded", outs)


def an_simple(stream=False):
    b = {"model": "claude-haiku-4-5", "max_tokens": 256,
         "tools": copy.deepcopy(AN_TOOLS),
         "messages": [{"role": "user", "content": "Read issue 7."}]}
    if stream:
        b["stream"] = True
    return b


def anthropic_faults(srv):
    srv.load("anthropic-faults.json")
    r = an(srv, an_simple(True))
    ok(r.status == 529 and r.json()["type"] == "error" and
       r.json()["error"]["type"] == "overloaded_error" and
       "request_id" in r.json(),
       "anthropic 529: overloaded_error in the error envelope", r.body)
    r = an(srv, an_simple(True))
    ok(r.status == 429 and r.header("retry-after") == "7" and
       r.json()["error"] == {"type": "rate_limit_error", "message":
                             "Number of request tokens has exceeded your "
                             "per-minute rate limit"},
       "anthropic 429: retry-after, rate_limit_error, the fixture's "
       "message", r.body)
    r = an(srv, an_simple(True))
    ev = sse(r.body)
    want = corpus_data("anthropic-error-midstream.sse")
    want = [x for x in want if x[0] != "content_block_annotation"]
    ok([e for e, _ in ev] == ["message_start", "content_block_start",
                              "ping", "content_block_delta", "error"] and
       json.loads(ev[-1][1]) == json.loads(want[-1][1]) and
       shape(json.loads(ev[0][1])) == shape(json.loads(want[0][1])),
       "anthropic error event mid-stream, as the corpus has it",
       [e for e, _ in ev])
    r = an(srv, an_simple(True))
    ev = sse(r.body)
    ok(len(ev) == 3 and isinstance(r.error, http.client.IncompleteRead) and
       ev[-1][0] == "ping",
       "anthropic cut mid-stream after three events", r.body)
    r = an(srv, an_simple(True))
    ev = sse(r.body)
    start = json.loads(ev[0][1])["message"]["usage"]
    ok(r.status == 200 and ev[-1][0] == "message_stop" and
       start["cache_creation_input_tokens"] > 0 and
       start["cache_read_input_tokens"] == 0,
       "the retry is answered; faults wrote no cache: the answer does",
       start)
    clean(srv, "anthropic faults")


# ---- strictness: every check refuses its bad request ----

def refused(srv, send, body, status, needle, what, kw=None, turn=0,
            openai=None):
    before = srv.requests()
    r = send(srv, body, **(kw or {}))
    after = srv.requests()
    try:
        d = r.json()
    except ValueError:
        d = {}
    if send is oa or openai:
        e = d.get("error") or {}
        shaped = set(e) == {"message", "type", "param", "code"}
    else:
        e = d.get("error") or {}
        shaped = d.get("type") == "error" and set(e) == {"type", "message"}
    msg = e.get("message", "")
    v = after["violations"][len(before["violations"]):]
    ok(r.status == status and shaped and needle in msg and v and
       after["turn"] == turn,
       "%s: %d, %r, a violation, the turn kept" % (what, status, needle),
       "%d %s %s" % (r.status, r.body, v))


def at_turn1(srv, fixture, send, body0):
    srv.load(fixture)
    r = send(srv, body0)
    assert r.status == 200, r.body


def openai_strict(srv):
    srv.load("openai-parallel-tools.json")
    b = oa_turn0()
    refused(srv, oa, b, 401, "Incorrect API key", "openai wrong key",
            {"key": "sk-wrong"})
    refused(srv, oa, b, 401, "didn't provide an API key",
            "openai missing key", {"key": None})
    refused(srv, lambda s, body: post(s.port, "/v1/chat/completions", body,
                                      {"Authorization": "Bearer " + OA_KEY}),
            b, 400, "application/json", "openai without content-type",
            openai=True)
    refused(srv, oa, b"{\"model\": \"gpt-4o\",", 400, "parse the JSON",
            "openai malformed JSON")
    x = oa_turn0()
    del x["model"]
    refused(srv, oa, x, 400, "model", "openai without a model")
    x = oa_turn0()
    x["model"] = "gpt-3"
    refused(srv, oa, x, 404, "does not exist", "openai model not scripted")
    x = oa_turn0()
    x["tools"][1]["function"]["name"] = "get file"
    refused(srv, oa, x, 400, "should match pattern", "openai bad tool name")
    x = oa_turn0()
    x["tools"][1]["function"]["name"] = "x" * 65
    refused(srv, oa, x, 400, "should match pattern",
            "openai tool name of 65 characters")
    x = oa_turn0()
    x["tools"][1]["function"]["name"] = "github__getIssue"
    refused(srv, oa, x, 400, "unique", "openai duplicate tool names")
    x = oa_turn0()
    x["tools"][0]["type"] = "retrieval"
    refused(srv, oa, x, 400, "expected 'function'",
            "openai tool of another type")
    x = oa_turn0()
    x["tools"][0]["function"]["parameters"] = {"type": "array"}
    refused(srv, oa, x, 400, "type: \\\"object\\\"".replace("\\", ""),
            "openai parameters not an object schema")
    x = oa_turn0()
    x["temperature"] = 2.5
    refused(srv, oa, x, 400, "temperature", "openai temperature past 2")
    x = oa_turn0()
    x["max_completion_tokens"] = 0
    refused(srv, oa, x, 400, "max_completion_tokens",
            "openai max_completion_tokens 0")
    x = oa_turn0()
    x["stream_options"] = {"include_usage": True}
    refused(srv, oa, x, 400, "only allowed when 'stream'",
            "openai stream_options without stream")
    x = oa_turn0()
    x["messages"].insert(1, {"role": "tool", "tool_call_id": "call_Qa1",
                             "content": "early"})
    refused(srv, oa, x, 400, "must be a response to a preceeding",
            "openai tool message out of order")
    at_turn1(srv, "openai-parallel-tools.json", oa, oa_turn0())
    x = oa_turn1()
    x["messages"][-1]["tool_call_id"] = "call_nope"
    refused(srv, oa, x, 400, "'call_nope' not found",
            "openai tool result for an unknown id", turn=1)
    x = oa_turn1()
    x["messages"][-1] = {"role": "user", "content": "go on"}
    refused(srv, oa, x, 400, "did not have response messages: call_Qb2",
            "openai missing tool result", turn=1)
    x = oa_turn1()
    del x["messages"][-2:]
    refused(srv, oa, x, 400, "call_Qa1, call_Qb2",
            "openai no tool result at all", turn=1)
    x = oa_turn1()
    x["messages"][2]["tool_calls"][0]["function"]["arguments"] = \
        '{"owner":"octo","repo":"hello","number":8}'
    refused(srv, oa, x, 400, "arguments of call_Qa1",
            "openai history: arguments not as answered", turn=1)
    x = oa_turn1()
    x["messages"][2]["tool_calls"].reverse()
    refused(srv, oa, x, 400, "tool call call_Qb2",
            "openai history: tool calls reordered", turn=1)
    x = oa_turn1()
    x["messages"][1]["content"] = "Summarise issue 8."
    refused(srv, oa, x, 400, "messages[1] differs",
            "openai history: an earlier user message changed", turn=1)
    x = oa_turn1()
    x["messages"].insert(1, {"role": "assistant", "content": "Sure."})
    refused(srv, oa, x, 400, "history",
            "openai history: an assistant message never answered", turn=1)
    x = oa_turn1()
    x["messages"][-1]["content"] = "# nothing"
    refused(srv, oa, x, 400, "expectation: the result for call_Qb2",
            "openai expectation: the tool result's text", turn=1)
    r = oa(srv, oa_turn1())
    ok(r.status == 200, "openai: the right request still gets the turn")
    refused(srv, oa, oa_turn1(), 400, "past its end",
            "openai request after the script", turn=2)


def anthropic_strict(srv):
    srv.load("anthropic-tool-use.json")
    b = an_turn0()
    refused(srv, an, b, 401, "invalid x-api-key", "anthropic wrong key",
            {"key": "sk-ant-wrong"})
    refused(srv, an, b, 401, "x-api-key header is required",
            "anthropic missing key", {"key": None})
    refused(srv, an, b, 400, "anthropic-version",
            "anthropic missing anthropic-version", {"version": None})
    h = an_headers()
    del h["Content-Type"]
    refused(srv, lambda s, body: post(s.port, "/v1/messages", body, h),
            b, 400, "application/json", "anthropic without content-type")
    x = an_turn0()
    x["temperature"] = 1.5
    refused(srv, an, x, 400, "temperature", "anthropic temperature past 1")
    x = an_turn0()
    del x["max_tokens"]
    refused(srv, an, x, 400, "max_tokens", "anthropic without max_tokens")
    x = an_turn0()
    x["messages"].insert(0, {"role": "assistant", "content": "Hi."})
    refused(srv, an, x, 400, "first message must use the \"user\" role",
            "anthropic first message not user")
    x = an_turn0()
    x["messages"].append({"role": "user", "content": "again"})
    refused(srv, an, x, 400, "must alternate",
            "anthropic two user messages in a row")
    x = an_turn0()
    x["tools"][0]["name"] = "github.getIssue"
    refused(srv, an, x, 400, "should match pattern",
            "anthropic bad tool name")
    x = an_turn0()
    x["tools"][1]["name"] = "github__getIssue"
    refused(srv, an, x, 400, "unique", "anthropic duplicate tool names")
    x = an_turn0()
    x["tools"][0]["input_schema"] = {"type": "string"}
    refused(srv, an, x, 400, "input_schema.type",
            "anthropic input_schema not of type object")
    x = an_turn0()
    del x["tools"][0]["input_schema"]
    refused(srv, an, x, 400, "input_schema: Field required",
            "anthropic tool without input_schema")
    x = an_turn0()
    x["messages"][0]["content"] = [{"type": "txt", "text": "hi"}]
    refused(srv, an, x, 400, "does not match any of the expected tags",
            "anthropic unknown block type")
    at_turn1(srv, "anthropic-tool-use.json", an, an_turn0())
    x = an_turn1()
    x["messages"][2]["content"][1]["tool_use_id"] = "toolu_nope"
    refused(srv, an, x, 400, "unexpected `tool_use_id`",
            "anthropic tool result for an unknown id", turn=1)
    x = an_turn1()
    del x["messages"][2]["content"][1]
    refused(srv, an, x, 400, "without `tool_result` blocks immediately "
            "after: toolu_01Y", "anthropic missing tool result", turn=1)
    x = an_turn1()
    x["messages"][2]["content"].insert(0, {"type": "text", "text": "here"})
    refused(srv, an, x, 400, "must come first",
            "anthropic text before the tool results", turn=1)
    x = an_turn1()
    x["messages"][2] = {"role": "user", "content": "never mind"}
    refused(srv, an, x, 400, "toolu_01X, toolu_01Y",
            "anthropic tool results replaced by text", turn=1)
    x = an_turn1()
    x["messages"][1]["content"][0]["text"] = "I'll read the README."
    refused(srv, an, x, 400, "not the assistant message answered to turn 0",
            "anthropic history: the assistant text changed", turn=1)
    x = an_turn1()
    x["messages"][1]["content"][1]["input"]["number"] = 8
    refused(srv, an, x, 400, "not the assistant message answered",
            "anthropic history: tool_use input changed", turn=1)
    x = an_turn1()
    x["messages"][1]["content"][1]["cache_control"] = {"type": "ephemeral"}
    r = an(srv, x)
    ok(r.status == 200, "anthropic: cache_control markers moved in the "
       "history are no difference", r.body)
    refused(srv, an, an_turn1(), 400, "past its end",
            "anthropic request after the script", turn=2)


def features(srv):
    srv.load({"provider": "openai", "api_key": OA_KEY, "turns": [
        {"response": {"tool_calls": [{"id": "call_bad", "name": "lookup",
                                      "arguments_raw": "{\"q\": \"x\""}]}},
        {"expect": {"tool_results": {"call_bad": {"contains": "invalid"}}},
         "response": {"text": "Partial answer", "finish": "length",
                      "usage": {"prompt_tokens": 50,
                                "completion_tokens": 4096}}}]})
    tools = [{"type": "function", "function": {
        "name": "lookup", "parameters": {"type": "object"}}}]
    b = {"model": "m", "tools": tools,
         "messages": [{"role": "user", "content": "look x up"}]}
    r = oa(srv, b)
    call = r.json()["choices"][0]["message"]["tool_calls"][0]
    ok(call["function"]["arguments"] == "{\"q\": \"x\"",
       "arguments_raw: invalid JSON arguments sent verbatim", r.body)
    b["messages"] += [{"role": "assistant", "content": None,
                       "tool_calls": [call]},
                      {"role": "tool", "tool_call_id": "call_bad",
                       "content": "invalid arguments: not JSON"}]
    r = oa(srv, b)
    d = r.json()
    ok(d["choices"][0]["finish_reason"] == "length" and
       d["usage"]["completion_tokens"] == 4096,
       "finish length: budget exhaustion as scripted", r.body)
    clean(srv, "invalid arguments then length")
    bad = srv.cmd(cmd="load", conversation={
        "provider": "openai", "api_key": "k", "turns": [
            {"response": {"tool_calls": [{"name": "a", "arguments": {"x": 1},
                                          "fragments": ["{\"x\":"]}]}}]})
    ok(not bad["ok"] and "fragments must join" in bad["error"],
       "load: fragments that do not make the arguments are refused", bad)
    bad = srv.cmd(cmd="load", conversation={
        "provider": "anthropic", "api_key": "k", "turns": [
            {"expect": {"tool_result": {"toolu_1": {"is_error": True}}},
             "response": {"text": "x"}}]})
    ok(not bad["ok"] and "turns[0].expect: unknown key 'tool_result'" in
       bad["error"], "load: a misspelt check is refused, not ignored", bad)
    bad = srv.cmd(cmd="load", file="/nonexistent/llm.json")
    ok(not bad["ok"] and "/nonexistent/llm.json" in bad["error"],
       "load: a missing file named in the error", bad)
    srv.load("anthropic-tool-use.json")
    an(srv, an_turn0(True))
    w = srv.cmd(cmd="wait", requests=1, timeout_ms=10000)
    w1 = srv.cmd(cmd="wait", done=True, timeout_ms=100)
    an(srv, an_turn1(True))
    w2 = srv.cmd(cmd="wait", done=True, timeout_ms=10000)
    ok(w["ok"] and not w1["ok"] and w2["ok"],
       "wait: requests counted; done once every turn is used", [w, w1, w2])
    srv.load({"provider": "anthropic", "api_key": AN_KEY, "turns": [
        {"response": {"text": "first run"}},
        {"new_run": True, "response": {"text": "second run"}}]})
    an(srv, an_simple())
    r = an(srv, an_simple())
    ok(r.status == 200 and srv.requests()["violations"] == [],
       "new_run: a turn may begin another conversation", r.body)
    srv.load({"provider": "anthropic", "api_key": AN_KEY, "turns": [
        {"response": {"text": "first run"}},
        {"response": {"text": "not a new run"}}]})
    an(srv, an_simple())
    r = an(srv, an_simple())
    ok(r.status == 400 and "history" in r.body.decode(),
       "without new_run, a request that drops the history is refused",
       r.body)
    bad = srv.cmd(cmd="load", conversation={
        "provider": "anthropic", "api_key": "k", "turns": [
            {"new_run": 1, "response": {"text": "x"}}]})
    ok(not bad["ok"] and "new_run must be true or false" in bad["error"],
       "load: new_run is a boolean", bad)
    srv.load("anthropic-tool-use.json")
    an(srv, an_turn0())
    srv.cmd(cmd="reset")
    r = an(srv, an_turn0())
    ok(r.status == 200 and srv.requests()["turn"] == 1 and
       r.json()["usage"]["cache_read_input_tokens"] == 0,
       "reset: the conversation replays from its first turn, caches "
       "forgotten", r.body)
    for i, turn in enumerate([
            {"event_delay_ms": 60000,
             "response": {"text": ["one ", "two ", "three"]}},
            {"delay_ms": 60000, "response": {"text": "late"}}]):
        srv.load({"provider": "anthropic", "api_key": AN_KEY,
                  "turns": [turn]})
        s = raw_post(srv.port, "/v1/messages", an_simple(i == 0),
                     an_headers(), 20)
        got = b""
        while i == 0 and b"message_start" not in got:
            got += s.recv(65536)
        srv.cmd(cmd="wait", requests=1, timeout_ms=10000)
        conn = srv.requests()["requests"][0]["conn"]
        s.close()
        w = srv.cmd(cmd="wait", closed_conn=conn, timeout_ms=10000)
        req = srv.requests()["requests"][0]
        ok(w["ok"] and req.get("client_closed"),
           "cancelled %s: the client's close noticed at once and "
           "recorded" % ("between events", "before the answer")[i], req)

def oa_reassembled(ev):
    """The message a streamed completion makes, as the non-streamed
    answer would carry it, and its finish_reason."""
    text, calls, finish = None, {}, None
    for _, d in ev:
        if d == "[DONE]":
            break
        for ch in json.loads(d)["choices"]:
            delta = ch["delta"]
            if delta.get("content") is not None:
                text = (text or "") + delta["content"]
            for tc in delta.get("tool_calls") or []:
                c = calls.setdefault(tc["index"], {
                    "id": None, "type": "function",
                    "function": {"name": None, "arguments": ""}})
                if "id" in tc:
                    c["id"] = tc["id"]
                    c["function"]["name"] = tc["function"]["name"]
                c["function"]["arguments"] += tc["function"]["arguments"]
            finish = ch["finish_reason"] or finish
    msg = {"role": "assistant", "content": text or (None if calls else ""),
           "refusal": None}
    if calls:
        msg["tool_calls"] = [calls[i] for i in sorted(calls)]
    return msg, finish


def an_reassembled(ev):
    blocks, stop, usage = [], None, None
    for e, d in ev:
        d = json.loads(d)
        if e == "message_start":
            usage = d["message"]["usage"]
        elif e == "content_block_start":
            b = dict(d["content_block"])
            b["_json"] = ""
            blocks.append(b)
        elif e == "content_block_delta":
            b = blocks[d["index"]]
            if d["delta"]["type"] == "text_delta":
                b["text"] += d["delta"]["text"]
            else:
                b["_json"] += d["delta"]["partial_json"]
        elif e == "message_delta":
            stop = d["delta"]["stop_reason"]
            usage = dict(usage, **d["usage"])
    for b in blocks:
        j = b.pop("_json")
        if b["type"] == "tool_use":
            b["input"] = json.loads(j) if j else {}
    return blocks, stop, usage


def stream_equals_json(srv):
    calls = [{"name": "github__getIssue", "arguments": {
                 "owner": "octo", "repo": "hello", "number": 7,
                 "labels": ["bug", "crash"]}},
             {"name": "github__getFileContents", "arguments": {
                 "path": "src/m\u00e4in.c", "ref": "main"}},
             {"name": "github__getIssue", "arguments": {}}]
    conv = {"provider": "openai", "api_key": OA_KEY, "turns": [
        {"response": {"text": "Reading three things.",
                      "tool_calls": copy.deepcopy(calls),
                      "usage": {"prompt_tokens": 300,
                                "completion_tokens": 70}}}]}
    srv.load(conv)
    plain = oa(srv, oa_simple()).json()
    srv.cmd(cmd="reset")
    b = oa_simple(True)
    b["stream_options"] = {"include_usage": True}
    ev = sse(oa(srv, b).body)
    msg, finish = oa_reassembled(ev)
    ok(msg == plain["choices"][0]["message"] and
       finish == plain["choices"][0]["finish_reason"] == "tool_calls" and
       json.loads(ev[-2][1])["usage"] == plain["usage"],
       "openai: text and three tool calls streamed reassemble to the "
       "non-streamed answer", json.dumps([msg, plain]))
    conv = {"provider": "anthropic", "api_key": AN_KEY, "turns": [
        {"response": {"text": "Reading three things.",
                      "tool_calls": copy.deepcopy(calls),
                      "finish": "max_tokens",
                      "usage": {"input_tokens": 300,
                                "output_tokens": 70}}}]}
    srv.load(conv)
    plain = an(srv, an_simple()).json()
    srv.cmd(cmd="reset")
    blocks, stop, usage = an_reassembled(sse(an(srv, an_simple(True)).body))
    ok(blocks == plain["content"] and stop == plain["stop_reason"] ==
       "max_tokens" and usage == plain["usage"],
       "anthropic: text and three tool_use blocks streamed reassemble to "
       "the non-streamed answer", json.dumps([blocks, plain]))


def with_curl(srv):
    """curl, as libcurl clients may send: Expect: 100-continue (which
    libcurl adds on large bodies), the stream read as it comes (-N)."""
    import shutil
    import tempfile
    if not shutil.which("curl"):
        print("ok %d # SKIP curl not found" % (N + 1))
        globals()["N"] += 1
        return
    srv.load("anthropic-tool-use.json")
    b = an_turn0(True)
    b["metadata"] = {"user_id": "u" * 2000}
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(b, f)
        f.flush()
        p = subprocess.run(
            ["curl", "-sS", "-N", "--max-time", "30", "-D", "-",
             "-H", "Content-Type: application/json",
             "-H", "x-api-key: " + AN_KEY,
             "-H", "anthropic-version: 2023-06-01",
             "-H", "Expect: 100-continue", "--data-binary", "@" + f.name,
             "http://127.0.0.1:%d/v1/messages" % srv.port],
            capture_output=True, timeout=60)
    out = p.stdout.decode()
    head, _, body = out.rpartition("HTTP/1.1 200")
    ok(p.returncode == 0 and "HTTP/1.1 100 Continue" in out and
       [e for e, _ in sse(body.split("\r\n\r\n", 1)[1].encode())][-1]
       == "message_stop",
       "curl: 100-continue for a large body, the stream to message_stop",
       out + p.stderr.decode())


def main():
    srv = Server()
    print("# started in %.0f ms" % srv.start_ms)
    try:
        for f in (openai_plain, openai_stream, anthropic_plain,
                  anthropic_stream, openai_faults, anthropic_faults,
                  openai_strict, anthropic_strict, features,
                  stream_equals_json, with_curl):
            f(srv)
    finally:
        rc = srv.stop()
    ok(rc == 0, "the server exits 0 at EOF on stdin")
    print("1..%d" % N)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
