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
    got = b""
    err = None
    try:
        while True:
            b = r.read1(65536)
            if not b:
                break
            got += b
    except (http.client.IncompleteRead, OSError) as e:
        err = e
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


def main():
    srv = Server()
    print("# started in %.0f ms" % srv.start_ms)
    try:
        for f in (openai_plain, openai_stream, anthropic_plain,
                  anthropic_stream):
            f(srv)
    finally:
        rc = srv.stop()
    ok(rc == 0, "the server exits 0 at EOF on stdin")
    print("1..%d" % N)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
