#!/usr/bin/env python3
"""llmserver: a scripted, strict, replaying LLM provider for tests.

It speaks two wire formats on 127.0.0.1 (port 0, or --port N) and prints
the port on the first line of stdout:

  POST /v1/chat/completions   OpenAI-compatible Chat Completions
  POST /v1/messages           Anthropic Messages

Each request is checked as strictly as the real APIs check it and then
answered with the next turn of a scripted conversation (a fixture file,
t/fixtures/llm/README.md).  A request that is wrong gets a 400 (401 for
the key, 404 for the path or an unexpected model) in the provider's own
error JSON, is recorded with the reasons, and does not use up the turn.
Stdin takes one JSON command per line, stdout answers each with one JSON
line echoing the command's "id" (as t/faultserver.py does).  EOF on
stdin, or {"cmd": "quit"}, ends the server.

Commands:
  {"cmd": "load", "file": PATH}           load a conversation (and reset)
  {"cmd": "load", "conversation": {...}}  the same, inline
        -> {"ok": true, "turns": N} or {"ok": false, "error": "..."}
  {"cmd": "requests"} -> {"requests": [REQ...], "violations": [V...],
                          "turn": next turn, "turns": N, "done": bool,
                          "closed": [conn...]}
  {"cmd": "wait", "requests": N, "closed": N, "closed_conn": C,
   "done": true, "timeout_ms": T}
                      -> {"ok": true|false, "requests": n, "turn": t,
                          "closed": [...]} once every given condition
                         holds (closed: connections the client closed;
                         done: every turn used and answered), or at
                         the timeout
  {"cmd": "reset"}    replay the loaded conversation from its first turn:
                      forget requests, violations, answers and caches

Conversation (JSON object):
  provider   "openai" | "anthropic"
  api_key    the key every request must carry (Bearer / x-api-key)
  model      optional: the only model accepted (else 404 as upstream)
  turns      [TURN...], answered in order
Every object may have a "comment"; any other key the format does not have
is refused at load, so that a misspelt check cannot pass by checking
nothing.

TURN:
  name       optional label
  new_run    true: this turn's request begins another conversation (the
             client's next run, as a workflow's second agent step): the
             history so far is forgotten before it is checked
  expect     optional checks on the request (a failed one is a 400 whose
             message starts "llmserver: expectation"):
               stream      true | false
               model       the model named
               tools       [name...], the tools offered, in order
               tool_choice the exact tool_choice value
               body        a subset of the body: every key given must be
                           equal (objects compared key by key, recursively)
               headers     {name: value}
               system_contains  text the system prompt must contain
               contains    [text...]: in the messages new since the last
                           answered turn (their JSON serialisation)
               tool_results {id: {"contains": text, "is_error": bool}}:
                           results in the new messages; every id given
                           must be there
  response   what the model says:
               text        "..." or ["fragment", ...] (streamed as given)
               tool_calls  [{"id", "name", "arguments": {...},
                             "fragments": ["{\\"a\\"", ...],
                             "arguments_raw": "..." (OpenAI only: sent
                             verbatim, need not be JSON)}]
                           id defaults to call_T_I / toolu_T_I; fragments
                           (joined, they must be the arguments text)
                           default to three pieces; OpenAI interleaves
                           the fragments of several calls by index
               finish      finish_reason / stop_reason (default
                           tool_calls|stop, tool_use|end_turn)
               usage       OpenAI: prompt_tokens, completion_tokens,
                           cached_tokens; Anthropic: input_tokens,
                           output_tokens, cache_creation_input_tokens,
                           cache_read_input_tokens.  Missing counts are
                           estimated (bytes / 4); Anthropic cache counts
                           follow the request's cache_control blocks:
                           written the first time a prefix is seen,
                           read on later turns.
               id          the completion/message id
  fault      instead of (or, mid-stream, on top of) the response:
               {"kind": "status", "status": 429|500|503|529...,
                "retry_after": "2", "message": "...", "type": "...",
                "headers": {...}}     an error answer in provider shape
               {"kind": "stall", "ms": N, "after_events": K}
                                      headers (and K events) sent, then
                                      no byte for N ms, then a close
               {"kind": "hang"}       never answer; note the client's close
               {"kind": "error_event", "after_events": K,
                "error": {"type": "...", "message": "..."}}
                                      streaming: K events, then the error
                                      event, then the end of the stream
               {"kind": "cut", "after_events": K}
                                      K events (non-streaming: half the
                                      body), then the connection closes
             A fault turn is answered once; the request after it (the
             client's retry) is checked against the same history and gets
             the next turn.  Faults add nothing to the history.
  delay_ms        wait before answering
  event_delay_ms  wait between streamed events

History: every request must carry, as a prefix of its messages, the
messages of the last answered request followed by the assistant message
this server answered (compared exactly as JSON, cache_control markers
aside; the assistant message by text and by tool call ids, names and
arguments compared as JSON values).  No assistant message may appear that
this server did not produce.  A request after the last turn is a 400 and
a violation.  One conversation is loaded at a time.

REQ: {"n", "conn", "method", "path", "headers" (API keys redacted),
      "auth": "ok"|"missing"|"wrong", "body" (parsed, or the text when it
      is not JSON), "t_ms", "done_ms", "turn" (null when rejected),
      "turn_wanted" (the turn a refused request was checked against),
      "status", "outcome" ("response", "fault:KIND" or "rejected"),
      "violations": [...], "client_closed" (the client went away before
      the answer was all sent)}
V:   {"n": request, "turn": t, "message": "..."}
"""

import json
import re
import select
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, __file__.rsplit("/", 1)[0] if "/" in __file__ else ".")
import faultserver as fs  # noqa: E402  (its HTTP reading, one copy)

START = time.monotonic()
NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
REASONS = dict(fs.REASONS)
REASONS.update({402: "Payment Required", 405: "Method Not Allowed",
                415: "Unsupported Media Type", 529: "Overloaded"})
PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}
CREATED = 1765000000


class FixtureError(Exception):
    pass


class Reject(Exception):
    """A request the real API would refuse: status, message, param."""

    def __init__(self, status, message, param=None, kind=None, code=None):
        Exception.__init__(self, message)
        self.status = status
        self.message = message
        self.param = param
        self.kind = kind
        self.code = code


def now_ms():
    return (time.monotonic() - START) * 1000.0


def dumps(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


# ---- the conversation file ----

def split3(s):
    """A text in three fragments (fewer when it is short)."""
    if len(s) < 3:
        return [s]
    a, b = len(s) // 3, 2 * len(s) // 3
    return [s[:a], s[a:b], s[b:]]


KEYS = {
    "conversation": ("provider", "api_key", "model", "turns"),
    "turn": ("name", "new_run", "expect", "response", "fault", "delay_ms",
             "event_delay_ms"),
    "expect": ("stream", "model", "tools", "tool_choice", "body", "headers",
               "system_contains", "contains", "tool_results"),
    "tool_results": ("contains", "is_error"),
    "response": ("text", "tool_calls", "finish", "usage", "id"),
    "tool_call": ("id", "name", "arguments", "arguments_raw", "fragments"),
    "fault": ("kind", "status", "retry_after", "message", "type", "headers",
              "ms", "after_events", "error"),
    "openai usage": ("prompt_tokens", "completion_tokens", "cached_tokens"),
    "anthropic usage": ("input_tokens", "output_tokens",
                        "cache_creation_input_tokens",
                        "cache_read_input_tokens"),
}


def known(obj, what, where):
    """Refuse a key the format does not have ("comment" aside): a check
    misspelt would otherwise check nothing."""
    if not isinstance(obj, dict):
        raise FixtureError(where + " is not an object")
    for k in obj:
        if k not in KEYS[what] and k != "comment":
            raise FixtureError("%s: unknown key %r (a %s has %s)" % (
                where, k, what, ", ".join(KEYS[what])))


def check_ms(obj, key, where):
    v = obj.get(key, 0)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise FixtureError("%s.%s: a count of milliseconds or events"
                           % (where, key))


def load_conversation(conv):
    """Validate a conversation and fill its defaults; FixtureError."""
    known(conv, "conversation", "the conversation")
    prov = conv.get("provider")
    if prov not in PATHS:
        raise FixtureError('provider must be "openai" or "anthropic"')
    if not isinstance(conv.get("api_key"), str) or not conv["api_key"]:
        raise FixtureError("api_key must be a non-empty string")
    turns = conv.get("turns")
    if not isinstance(turns, list) or not turns:
        raise FixtureError("turns must be a non-empty array")
    ids = set()
    for t, turn in enumerate(turns):
        where = "turns[%d]" % t
        known(turn, "turn", where)
        if not isinstance(turn.get("new_run", False), bool):
            raise FixtureError(where + ".new_run must be true or false")
        check_ms(turn, "delay_ms", where)
        check_ms(turn, "event_delay_ms", where)
        exp = turn.get("expect")
        if exp is not None:
            known(exp, "expect", where + ".expect")
            for cid, want in (exp.get("tool_results") or {}).items():
                known(want, "tool_results",
                      "%s.expect.tool_results.%s" % (where, cid))
        fault = turn.get("fault")
        if fault is not None:
            check_fault(fault, where)
        resp = turn.get("response")
        if resp is None:
            if fault is None or fault["kind"] in ("error_event", "cut") \
                    or (fault["kind"] == "stall" and
                        fault.get("after_events")):
                raise FixtureError(where + " needs a response")
            continue
        known(resp, "response", where + ".response")
        if "usage" in resp:
            known(resp["usage"], prov + " usage", where + ".response.usage")
        text = resp.get("text")
        if isinstance(text, str):
            resp["text"] = split3(text) if text else []
        elif text is None:
            resp["text"] = []
        elif not (isinstance(text, list) and
                  all(isinstance(x, str) for x in text)):
            raise FixtureError(where + ".response.text: a string or "
                               "an array of strings")
        calls = resp.get("tool_calls") or []
        if not isinstance(calls, list):
            raise FixtureError(where + ".response.tool_calls: an array")
        for i, c in enumerate(calls):
            cw = "%s.response.tool_calls[%d]" % (where, i)
            known(c, "tool_call", cw)
            if not isinstance(c.get("name"), str):
                raise FixtureError(cw + ": a tool call needs a name")
            c.setdefault("id", ("call_%d_%d" if prov == "openai"
                                else "toolu_%d_%d") % (t, i))
            if "arguments_raw" in c:
                if prov != "openai" or not isinstance(c["arguments_raw"],
                                                      str):
                    raise FixtureError(cw + ".arguments_raw: a string, "
                                       "OpenAI only")
                c["args_text"] = c["arguments_raw"]
            else:
                args = c.get("arguments", {})
                if not isinstance(args, dict):
                    raise FixtureError(cw + ".arguments: an object")
                c["arguments"] = args
                c["args_text"] = dumps(args)
            frags = c.get("fragments")
            if frags is None:
                frags = split3(c["args_text"])
            if not isinstance(frags, list) or \
                    not all(isinstance(x, str) for x in frags):
                raise FixtureError(cw + ".fragments: an array of strings")
            joined = "".join(frags)
            if "arguments_raw" in c:
                ok = joined == c["arguments_raw"]
            else:
                try:
                    ok = json.loads(joined) == c["arguments"]
                except ValueError:
                    ok = False
            if not ok:
                raise FixtureError(cw + ".fragments must join to the "
                                   "arguments: " + c["args_text"])
            c["fragments"] = frags
            c["args_text"] = joined     # the text sent, spaces and all
            if c["id"] in ids:
                raise FixtureError(cw + ": id %s used twice" % c["id"])
            ids.add(c["id"])
        resp["tool_calls"] = calls
    return conv


def check_fault(f, where):
    kinds = ("status", "stall", "hang", "error_event", "cut")
    known(f, "fault", where + ".fault")
    check_ms(f, "after_events", where + ".fault")
    if f.get("kind") not in kinds:
        raise FixtureError(where + ".fault.kind: one of " + ", ".join(kinds))
    if f["kind"] == "status" and not (isinstance(f.get("status"), int) and
                                      400 <= f["status"] <= 599):
        raise FixtureError(where + ".fault.status: 400..599")
    if f["kind"] == "stall" and not isinstance(f.get("ms"), int):
        raise FixtureError(where + ".fault.ms: milliseconds")


# ---- state ----

class State:
    def __init__(self):
        self.cond = threading.Condition()
        self.conv = None
        self.reset()

    def reset(self):
        self.requests = []
        self.violations = []
        self.closed = []
        self.connections = getattr(self, "connections", 0)
        self.turn = 0
        self.prefix = []        # messages of the last answered request + ours
        self.produced = []      # (position in prefix, turn) of our messages
        self.cache = {}         # cached prefix key -> tokens


STATE = State()


def violation(req, message):
    req["violations"].append(message)
    STATE.violations.append({"n": req["n"], "turn": req.get("turn"),
                             "message": message})


# ---- strict checks shared by both providers ----

def strip_cache(v):
    if isinstance(v, dict):
        return {k: strip_cache(x) for k, x in v.items()
                if k != "cache_control"}
    if isinstance(v, list):
        return [strip_cache(x) for x in v]
    return v


def subset(want, got):
    if isinstance(want, dict):
        return isinstance(got, dict) and all(
            k in got and subset(v, got[k]) for k, v in want.items())
    return want == got and type(want) is type(got) or \
        (isinstance(want, (int, float)) and not isinstance(want, bool) and
         isinstance(got, (int, float)) and not isinstance(got, bool) and
         want == got)


def check_auth(prov, conv, headers):
    """(auth outcome, Reject or None)."""
    if prov == "openai":
        v = fs.header(headers, "Authorization")
        if v is None:
            return "missing", Reject(
                401, "You didn't provide an API key. You need to provide "
                "your API key in an Authorization header using Bearer "
                "auth (i.e. Authorization: Bearer YOUR_KEY).")
        if v != "Bearer " + conv["api_key"]:
            return "wrong", Reject(401, "Incorrect API key provided.",
                                   code="invalid_api_key")
        return "ok", None
    v = fs.header(headers, "x-api-key")
    if v is None:
        return "missing", Reject(401, "x-api-key header is required",
                                 kind="authentication_error")
    if v != conv["api_key"]:
        return "wrong", Reject(401, "invalid x-api-key",
                               kind="authentication_error")
    return "ok", None


def check_common(prov, conv, headers, raw):
    """The parsed body, or Reject."""
    ctype = (fs.header(headers, "Content-Type") or "").split(";")[0]
    if ctype.strip().lower() != "application/json":
        raise Reject(400, "content-type: the request body must be "
                     "application/json", "content-type")
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise Reject(400, "We could not parse the JSON body of your "
                     "request: %s" % e)
    if not isinstance(body, dict):
        raise Reject(400, "the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise Reject(400, "model: Field required", "model")
    if conv.get("model") and model != conv["model"]:
        if prov == "openai":
            raise Reject(404, "The model `%s` does not exist or you do not "
                         "have access to it." % model, "model",
                         code="model_not_found")
        raise Reject(404, "model: %s" % model, kind="not_found_error")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise Reject(400, "stream: must be a boolean", "stream")
    top = 2 if prov == "openai" else 1
    t = body.get("temperature")
    if t is not None and (not isinstance(t, (int, float)) or
                          isinstance(t, bool) or not 0 <= t <= top):
        raise Reject(400, "temperature: must be a number from 0 to %d"
                     % top, "temperature")
    for k in ("max_tokens", "max_completion_tokens"):
        v = body.get(k)
        if prov == "openai" and v is not None and (
                not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise Reject(400, "%s: must be a positive integer" % k, k)
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise Reject(400, "messages: must be a non-empty array", "messages")
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise Reject(400, "messages.%d: must be an object" % i,
                         "messages.[%d]" % i)
    return body


def check_tool_names(names, where):
    seen = set()
    for i, n in enumerate(names):
        if not isinstance(n, str) or not NAME_RE.match(n):
            raise Reject(400, "%s.%d.name: String should match pattern "
                         "'^[a-zA-Z0-9_-]{1,64}$'" % (where, i),
                         "%s[%d].name" % (where, i))
        if n in seen:
            raise Reject(400, "%s: Tool names must be unique (%s)"
                         % (where, n), where)
        seen.add(n)


# ---- OpenAI Chat Completions ----

def oa_text(content, where):
    if content is None:
        return None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for j, p in enumerate(content):
            if not isinstance(p, dict) or "type" not in p:
                raise Reject(400, "%s.content[%d]: a content part needs a "
                             "type" % (where, j), where)
            if p["type"] in ("text", "refusal"):
                if not isinstance(p.get(p["type"]), str):
                    raise Reject(400, "%s.content[%d].%s: a string"
                                 % (where, j, p["type"]), where)
                out.append(p[p["type"]])
            elif p["type"] not in ("image_url", "input_audio", "file"):
                raise Reject(400, "%s.content[%d].type: unknown %r"
                             % (where, j, p["type"]), where)
        return "".join(out)
    raise Reject(400, "%s.content: a string, an array or null" % where,
                 where)


def oa_check(body):
    tools = body.get("tools")
    names = []
    if tools is not None:
        if not isinstance(tools, list):
            raise Reject(400, "tools: must be an array", "tools")
        for i, t in enumerate(tools):
            w = "tools[%d]" % i
            if not isinstance(t, dict) or t.get("type") != "function":
                raise Reject(400, "Invalid value for '%s.type': expected "
                             "'function'." % w, w + ".type")
            fn = t.get("function")
            if not isinstance(fn, dict):
                raise Reject(400, "Missing required parameter: "
                             "'%s.function'." % w, w + ".function")
            names.append(fn.get("name"))
            params = fn.get("parameters")
            if params is not None and (not isinstance(params, dict) or
                                       params.get("type") != "object"):
                raise Reject(400, "Invalid schema for function '%s': schema "
                             "must be a JSON Schema of 'type: \"object\"', "
                             "got 'type: \"%s\"'." % (fn.get("name"),
                             params.get("type") if isinstance(params, dict)
                             else None), w + ".function.parameters")
        check_tool_names(names, "tools")
    tc = body.get("tool_choice")
    if tc is not None and tc not in ("auto", "none", "required"):
        if not (isinstance(tc, dict) and tc.get("type") == "function" and
                isinstance(tc.get("function"), dict) and
                tc["function"].get("name") in names):
            raise Reject(400, "Invalid value for 'tool_choice': it must "
                         "name a function among tools.", "tool_choice")
    if "stream_options" in body and body.get("stream") is not True:
        raise Reject(400, "The 'stream_options' parameter is only allowed "
                     "when 'stream' is enabled.", "stream_options")
    pending = None          # ids of the last assistant's unanswered calls
    pending_at = None
    for i, m in enumerate(body["messages"]):
        w = "messages.[%d]" % i
        role = m.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool"):
            raise Reject(400, "Invalid value: '%s'. Supported values are: "
                         "'system', 'assistant', 'user', 'tool', 'function'"
                         " and 'developer'." % role, w + ".role")
        if role == "tool":
            cid = m.get("tool_call_id")
            if pending is None:
                raise Reject(400, "Invalid parameter: messages with role "
                             "'tool' must be a response to a preceeding "
                             "message with 'tool_calls'.", w + ".role")
            if cid not in pending:
                raise Reject(400, "Invalid parameter: 'tool_call_id' of "
                             "'%s' not found in 'tool_calls' of previous "
                             "message." % cid, w + ".tool_call_id")
            oa_text(m.get("content"), w)
            pending.discard(cid)
            continue
        if pending:
            raise Reject(400, "An assistant message with 'tool_calls' must "
                         "be followed by tool messages responding to each "
                         "'tool_call_id'. The following tool_call_ids did "
                         "not have response messages: %s"
                         % ", ".join(sorted(pending)),
                         "messages.[%d].role" % pending_at)
        pending = None
        text = oa_text(m.get("content"), w)
        if role != "assistant":
            if text is None:
                raise Reject(400, "Missing required parameter: "
                             "'%s.content'." % w, w + ".content")
            continue
        calls = m.get("tool_calls")
        if calls is None and text is None:
            raise Reject(400, "Invalid value for '%s': an assistant message "
                         "needs content or tool_calls." % w, w)
        if calls is not None:
            if not isinstance(calls, list):
                raise Reject(400, "%s.tool_calls: an array" % w, w)
            ids = set()
            for j, c in enumerate(calls):
                cw = "%s.tool_calls.[%d]" % (w, j)
                fn = c.get("function") if isinstance(c, dict) else None
                if not isinstance(c.get("id") if isinstance(c, dict)
                                  else None, str) or \
                        c.get("type") != "function" or \
                        not isinstance(fn, dict) or \
                        not isinstance(fn.get("name"), str) or \
                        not isinstance(fn.get("arguments"), str):
                    raise Reject(400, "Invalid value for '%s': a tool call "
                                 "needs id, type 'function', function.name "
                                 "and function.arguments (a string)." % cw,
                                 cw)
                ids.add(c["id"])
            if ids:
                pending, pending_at = ids, i
    if pending:
        raise Reject(400, "An assistant message with 'tool_calls' must be "
                     "followed by tool messages responding to each "
                     "'tool_call_id'. The following tool_call_ids did not "
                     "have response messages: %s" % ", ".join(sorted(pending)),
                     "messages.[%d].role" % pending_at)
    return names


def oa_same(m, resp):
    """Why client message m is not what we answered, or None."""
    if m.get("role") != "assistant":
        return "role %r, not assistant" % m.get("role")
    text = oa_text(m.get("content"), "") or ""
    if text != "".join(resp["text"]):
        return "content %r, answered %r" % (text, "".join(resp["text"]))
    calls = m.get("tool_calls") or []
    ours = resp["tool_calls"]
    if len(calls) != len(ours):
        return "%d tool calls, answered %d" % (len(calls), len(ours))
    for c, o in zip(calls, ours):
        fn = c["function"]
        if c["id"] != o["id"] or fn["name"] != o["name"]:
            return "tool call %s %s, answered %s %s" % (
                c["id"], fn["name"], o["id"], o["name"])
        if "arguments_raw" in o:
            if fn["arguments"] != o["arguments_raw"]:
                return "arguments of %s differ" % o["id"]
            continue
        try:
            args = json.loads(fn["arguments"])
        except ValueError:
            return "arguments of %s are not JSON" % o["id"]
        if args != o["arguments"]:
            return "arguments of %s: %s, answered %s" % (
                o["id"], dumps(args), o["args_text"])
    return None


def oa_usage(req_body, resp):
    u = resp.get("usage") or {}
    p = u.get("prompt_tokens", max(1, len(dumps(req_body)) // 4))
    c = u.get("completion_tokens", out_estimate(resp))
    return {"prompt_tokens": p, "completion_tokens": c,
            "total_tokens": p + c,
            "prompt_tokens_details": {"cached_tokens":
                                      u.get("cached_tokens", 0)}}


def out_estimate(resp):
    n = len("".join(resp["text"])) + sum(
        len(c["args_text"]) + len(c["name"]) for c in resp["tool_calls"])
    return max(1, n // 4)


def oa_finish(resp):
    return resp.get("finish") or ("tool_calls" if resp["tool_calls"]
                                  else "stop")


def oa_json(rid, model, resp, usage):
    text = "".join(resp["text"])
    msg = {"role": "assistant", "content": text if text or not
           resp["tool_calls"] else None, "refusal": None}
    if resp["tool_calls"]:
        msg["tool_calls"] = [
            {"id": c["id"], "type": "function",
             "function": {"name": c["name"], "arguments": c["args_text"]}}
            for c in resp["tool_calls"]]
    return {"id": rid, "object": "chat.completion", "created": CREATED,
            "model": model, "choices": [{"index": 0, "message": msg,
                                         "logprobs": None,
                                         "finish_reason": oa_finish(resp)}],
            "usage": usage, "system_fingerprint": "fp_llmserver"}


def oa_events(rid, model, resp, usage, include_usage):
    """The SSE events (bytes) of a streamed completion."""
    out = []

    def chunk(delta, finish=None, choices=True):
        c = {"id": rid, "object": "chat.completion.chunk",
             "created": CREATED, "model": model,
             "choices": [{"index": 0, "delta": delta, "logprobs": None,
                          "finish_reason": finish}] if choices else []}
        if include_usage:
            c["usage"] = None
        return c

    calls = resp["tool_calls"]
    first = True
    if resp["text"]:
        out.append(chunk({"role": "assistant", "content": ""}))
        first = False
        for t in resp["text"]:
            out.append(chunk({"content": t}))

    def head(i):
        c = calls[i]
        return {"index": i, "id": c["id"], "type": "function",
                "function": {"name": c["name"], "arguments": ""}}
    # header of call i followed by its first fragment, for every call,
    # then the remaining fragments round-robin: interleaved by index
    for i, c in enumerate(calls):
        d = {"tool_calls": [head(i)]}
        if first:
            d = {"role": "assistant", "content": None,
                 "tool_calls": [head(i)]}
            first = False
        out.append(chunk(d))
        out.append(chunk({"tool_calls": [
            {"index": i, "function": {"arguments": c["fragments"][0]}}]}))
    k = 1
    while any(len(c["fragments"]) > k for c in calls):
        for i, c in enumerate(calls):
            if len(c["fragments"]) > k:
                out.append(chunk({"tool_calls": [
                    {"index": i,
                     "function": {"arguments": c["fragments"][k]}}]}))
        k += 1
    if first:
        out.append(chunk({"role": "assistant", "content": ""}))
    out.append(chunk({}, oa_finish(resp)))
    if include_usage:
        u = chunk(None, choices=False)
        u["usage"] = usage
        out.append(u)
    ev = [("data: %s\n\n" % dumps(c)).encode() for c in out]
    ev.append(b"data: [DONE]\n\n")
    return ev


def oa_error_event(err):
    return ("data: %s\n\n" % dumps({"error": {
        "message": err.get("message", "The server had an error while "
                           "processing your request."),
        "type": err.get("type", "server_error"), "param": None,
        "code": err.get("code")}})).encode()


def oa_error_body(status, message, param=None, kind=None, code=None):
    if kind is None:
        kind = {429: "requests"}.get(status, "server_error" if status >= 500
                                     else "invalid_request_error")
    if code is None and status == 429:
        code = "rate_limit_exceeded"
    return {"error": {"message": message, "type": kind, "param": param,
                      "code": code}}


# ---- Anthropic Messages ----

AN_BLOCKS = ("text", "image", "document", "tool_use", "tool_result",
             "thinking", "redacted_thinking", "search_result")


def an_blocks(content, where):
    if isinstance(content, str):
        if not content:
            raise Reject(400, "%s: text content blocks must be non-empty"
                         % where)
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise Reject(400, "%s.content: a string or an array of blocks"
                     % where)
    for j, b in enumerate(content):
        bw = "%s.content.%d" % (where, j)
        if not isinstance(b, dict) or b.get("type") not in AN_BLOCKS:
            raise Reject(400, "%s.type: Input tag '%s' found using 'type' "
                         "does not match any of the expected tags" %
                         (bw, b.get("type") if isinstance(b, dict) else b))
        if b["type"] == "text" and (not isinstance(b.get("text"), str) or
                                    not b["text"]):
            raise Reject(400, "%s: text content blocks must be non-empty"
                         % bw)
        if b["type"] == "tool_use" and not (
                isinstance(b.get("id"), str) and
                isinstance(b.get("name"), str) and
                isinstance(b.get("input"), dict)):
            raise Reject(400, "%s: tool_use needs id, name and an input "
                         "object" % bw)
        if b["type"] == "tool_result":
            if not isinstance(b.get("tool_use_id"), str):
                raise Reject(400, "%s.tool_use_id: Field required" % bw)
            c = b.get("content")
            if c is not None and not isinstance(c, (str, list)):
                raise Reject(400, "%s.content: a string or blocks" % bw)
            if "is_error" in b and not isinstance(b["is_error"], bool):
                raise Reject(400, "%s.is_error: a boolean" % bw)
    return content


def an_check(body, headers):
    if not fs.header(headers, "anthropic-version"):
        raise Reject(400, "anthropic-version: header is required")
    mt = body.get("max_tokens")
    if not isinstance(mt, int) or isinstance(mt, bool) or mt < 1:
        raise Reject(400, "max_tokens: Field required (a positive integer)")
    system = body.get("system")
    if system is not None and not isinstance(system, str):
        if not isinstance(system, list) or not all(
                isinstance(b, dict) and b.get("type") == "text" and
                isinstance(b.get("text"), str) for b in system):
            raise Reject(400, "system: a string or an array of text blocks")
    tools = body.get("tools")
    names = []
    if tools is not None:
        if not isinstance(tools, list):
            raise Reject(400, "tools: Input should be a valid list")
        for i, t in enumerate(tools):
            w = "tools.%d" % i
            if not isinstance(t, dict):
                raise Reject(400, w + ": Input should be an object")
            names.append(t.get("name"))
            if t.get("type") not in (None, "custom"):
                continue        # a server tool: its own fields
            s = t.get("input_schema")
            if not isinstance(s, dict):
                raise Reject(400, w + ".input_schema: Field required")
            if s.get("type") != "object":
                raise Reject(400, w + ".input_schema.type: Input should be "
                             "'object'")
        check_tool_names(names, "tools")
    tc = body.get("tool_choice")
    if tc is not None:
        if not isinstance(tc, dict) or \
                tc.get("type") not in ("auto", "any", "none", "tool") or \
                (tc["type"] == "tool" and tc.get("name") not in names):
            raise Reject(400, "tool_choice: auto, any, none, or tool naming "
                         "one of tools")
    prev = None     # tool_use ids of the assistant message before
    msgs = body["messages"]
    for i, m in enumerate(msgs):
        w = "messages.%d" % i
        role = m.get("role")
        if role not in ("user", "assistant"):
            raise Reject(400, "%s.role: Input should be 'user' or "
                         "'assistant'" % w)
        if i == 0 and role != "user":
            raise Reject(400, "messages: first message must use the "
                         "\"user\" role")
        if i > 0 and role == msgs[i - 1].get("role"):
            raise Reject(400, "messages: roles must alternate between "
                         "\"user\" and \"assistant\", but found multiple "
                         "\"%s\" roles in a row" % role)
        blocks = an_blocks(m.get("content"), w)
        results = [b for b in blocks if b["type"] == "tool_result"]
        if role == "assistant":
            if results:
                raise Reject(400, "%s: tool_result blocks belong in user "
                             "messages" % w)
            prev = [b["id"] for b in blocks if b["type"] == "tool_use"]
            if prev and i == len(msgs) - 1:
                raise Reject(400, "messages.%d: `tool_use` ids were found "
                             "without `tool_result` blocks immediately "
                             "after: %s. Each `tool_use` block must have a "
                             "corresponding `tool_result` block in the "
                             "next message." % (i, ", ".join(prev)))
            continue
        if any(b["type"] == "tool_use" for b in blocks):
            raise Reject(400, "%s: tool_use blocks belong in assistant "
                         "messages" % w)
        seen = []
        for j, b in enumerate(blocks):
            if b["type"] != "tool_result":
                continue
            if any(x["type"] != "tool_result" for x in blocks[:j]):
                raise Reject(400, "%s.content.%d: tool_result blocks must "
                             "come first in the user message" % (w, j))
            if b["tool_use_id"] not in (prev or []):
                raise Reject(400, "%s.content.%d: unexpected `tool_use_id` "
                             "found in `tool_result` blocks: %s. Each "
                             "`tool_result` block must have a corresponding "
                             "`tool_use` block in the previous message."
                             % (w, j, b["tool_use_id"]))
            if b["tool_use_id"] in seen:
                raise Reject(400, "%s.content.%d: tool_use_id %s answered "
                             "twice" % (w, j, b["tool_use_id"]))
            seen.append(b["tool_use_id"])
        missing = [x for x in (prev or []) if x not in seen]
        if missing:
            raise Reject(400, "messages.%d: `tool_use` ids were found "
                         "without `tool_result` blocks immediately after: "
                         "%s. Each `tool_use` block must have a "
                         "corresponding `tool_result` block in the next "
                         "message." % (i - 1, ", ".join(missing)))
        prev = None
    return names


def an_content(resp):
    out = []
    text = "".join(resp["text"])
    if text:
        out.append({"type": "text", "text": text})
    for c in resp["tool_calls"]:
        out.append({"type": "tool_use", "id": c["id"], "name": c["name"],
                    "input": c["arguments"]})
    return out


def an_same(m, resp):
    if m.get("role") != "assistant":
        return "role %r, not assistant" % m.get("role")
    got = strip_cache(an_blocks(m.get("content"), ""))
    want = an_content(resp)
    if got != want:
        return "content %s, answered %s" % (dumps(got), dumps(want))
    return None


def an_cache(body, remember):
    """(tokens written, tokens read) for the cache_control breakpoints of
    body; remember: note what this request wrote (not for a fault, whose
    retry must see the write again)."""
    items = []
    marks = []
    for t in body.get("tools") or []:
        items.append(strip_cache(t))
        if isinstance(t, dict) and "cache_control" in t:
            marks.append(len(items))
    system = body.get("system")
    for b in system if isinstance(system, list) else []:
        items.append(strip_cache(b))
        if "cache_control" in b:
            marks.append(len(items))
    if isinstance(system, str):
        items.append(system)
    for m in body["messages"]:
        for b in m["content"] if isinstance(m.get("content"), list) else [
                m.get("content")]:
            items.append(strip_cache(b))
            if isinstance(b, dict) and "cache_control" in b:
                marks.append(len(items))
    if not marks:
        return 0, 0
    read = 0
    keys = []
    for n in marks:
        key = dumps(items[:n])
        keys.append((key, max(1, len(key) // 4)))
        if key in STATE.cache:
            read = max(read, STATE.cache[key])
    last = keys[-1][1]
    for key, tokens in keys if remember else []:
        STATE.cache[key] = tokens
    return max(0, last - read), read


def an_usage(body, resp, remember):
    u = resp.get("usage") or {}
    write, read = an_cache(body, remember)
    inp = max(1, len(dumps(body)) // 4 - write - read)
    return {"input_tokens": u.get("input_tokens", inp),
            "cache_creation_input_tokens":
                u.get("cache_creation_input_tokens", write),
            "cache_read_input_tokens": u.get("cache_read_input_tokens", read),
            "output_tokens": u.get("output_tokens", out_estimate(resp))}


def an_stop(resp):
    return resp.get("finish") or ("tool_use" if resp["tool_calls"]
                                  else "end_turn")


def an_json(rid, model, resp, usage):
    return {"id": rid, "type": "message", "role": "assistant",
            "model": model, "content": an_content(resp),
            "stop_reason": an_stop(resp), "stop_sequence": None,
            "usage": usage}


def an_event(name, data):
    return ("event: %s\ndata: %s\n\n" % (name, dumps(data))).encode()


def an_events(rid, model, resp, usage):
    start = dict(usage)
    start["output_tokens"] = 1
    ev = [an_event("message_start", {"type": "message_start", "message": {
        "id": rid, "type": "message", "role": "assistant", "model": model,
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": start}})]
    idx = 0
    pinged = False

    def ping():
        ev.append(b'event: ping\ndata: {"type": "ping"}\n\n')
    if resp["text"]:
        ev.append(an_event("content_block_start", {
            "type": "content_block_start", "index": idx,
            "content_block": {"type": "text", "text": ""}}))
        ping()
        pinged = True
        for t in resp["text"]:
            ev.append(an_event("content_block_delta", {
                "type": "content_block_delta", "index": idx,
                "delta": {"type": "text_delta", "text": t}}))
        ev.append(an_event("content_block_stop", {
            "type": "content_block_stop", "index": idx}))
        idx += 1
    for c in resp["tool_calls"]:
        ev.append(an_event("content_block_start", {
            "type": "content_block_start", "index": idx,
            "content_block": {"type": "tool_use", "id": c["id"],
                              "name": c["name"], "input": {}}}))
        if not pinged:
            ping()
            pinged = True
        for f in c["fragments"]:
            ev.append(an_event("content_block_delta", {
                "type": "content_block_delta", "index": idx,
                "delta": {"type": "input_json_delta", "partial_json": f}}))
        ev.append(an_event("content_block_stop", {
            "type": "content_block_stop", "index": idx}))
        idx += 1
    if not pinged:
        ping()
    ev.append(an_event("message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": an_stop(resp), "stop_sequence": None},
        "usage": {"output_tokens": usage["output_tokens"]}}))
    ev.append(an_event("message_stop", {"type": "message_stop"}))
    return ev


AN_KINDS = {400: "invalid_request_error", 401: "authentication_error",
            403: "permission_error", 404: "not_found_error",
            413: "request_too_large", 429: "rate_limit_error",
            500: "api_error", 529: "overloaded_error"}


def an_error_body(status, message, kind=None, rid="req_llmserver"):
    if kind is None:
        kind = AN_KINDS.get(status, "api_error" if status >= 500
                            else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message},
            "request_id": rid}


def an_error_event(err):
    return an_event("error", {"type": "error", "error": {
        "type": err.get("type", "overloaded_error"),
        "message": err.get("message", "Overloaded")}})


# ---- a request: check, pick the turn, answer ----

def error_answer(prov, status, message, param=None, kind=None, code=None,
                 headers=None, rid="req_llmserver"):
    if prov == "openai":
        body = oa_error_body(status, message, param, kind, code)
    else:
        body = an_error_body(status, message, kind, rid)
    h = [("Content-Type", "application/json")] + list(headers or [])
    return {"status": status, "headers": h, "body": dumps(body).encode()}


def new_messages(body):
    return body["messages"][len(STATE.prefix):]


def check_history(prov, body, req):
    """Violations of the history: what the request carries against what
    this server answered."""
    msgs = body["messages"]
    ours = dict(STATE.produced)
    for i, want in enumerate(STATE.prefix):
        if i >= len(msgs):
            return ["history: %d messages, the conversation so far has %d"
                    % (len(msgs), len(STATE.prefix))]
        if i in ours:
            same = oa_same if prov == "openai" else an_same
            why = same(msgs[i], STATE.conv["turns"][ours[i]]["response"])
            if why:
                return ["history: messages[%d] is not the assistant message "
                        "answered to turn %d: %s" % (i, ours[i], why)]
        elif strip_cache(msgs[i]) != want:
            return ["history: messages[%d] differs from what the last "
                    "answered request sent" % i]
    for i in range(len(STATE.prefix), len(msgs)):
        if msgs[i].get("role") == "assistant":
            return ["history: messages[%d] is an assistant message this "
                    "server never answered" % i]
    return []


def check_expect(prov, exp, body, headers):
    """Failed expectations of a turn, as messages."""
    bad = []
    if not exp:
        return bad
    if "stream" in exp and bool(body.get("stream")) != exp["stream"]:
        bad.append("stream is %s, expected %s" % (
            bool(body.get("stream")), exp["stream"]))
    if "model" in exp and body.get("model") != exp["model"]:
        bad.append("model %r, expected %r" % (body.get("model"),
                                               exp["model"]))
    if "tools" in exp:
        tools = body.get("tools") or []
        names = [(t.get("function") or {}).get("name") if prov == "openai"
                 else t.get("name") for t in tools]
        if names != exp["tools"]:
            bad.append("tools %s, expected %s" % (names, exp["tools"]))
    if "tool_choice" in exp and body.get("tool_choice") != exp["tool_choice"]:
        bad.append("tool_choice %s, expected %s" % (
            dumps(body.get("tool_choice")), dumps(exp["tool_choice"])))
    if "body" in exp:
        for k, v in exp["body"].items():
            if not subset(v, body.get(k)):
                bad.append("body.%s is %s, expected %s" % (
                    k, dumps(body.get(k)), dumps(v)))
    for k, v in (exp.get("headers") or {}).items():
        if fs.header(headers, k) != v:
            bad.append("header %s is %r, expected %r" % (
                k, fs.header(headers, k), v))
    if "system_contains" in exp:
        if prov == "openai":
            sys_text = "".join(oa_text(m.get("content"), "") or "" for m in
                               body["messages"]
                               if m.get("role") in ("system", "developer"))
        else:
            s = body.get("system") or ""
            sys_text = s if isinstance(s, str) else "".join(
                b["text"] for b in s)
        if exp["system_contains"] not in sys_text:
            bad.append("the system prompt does not contain %r"
                       % exp["system_contains"])
    new = new_messages(body)
    text = dumps(new)
    for s in exp.get("contains") or []:
        if s not in text and dumps(s)[1:-1] not in text:
            bad.append("the new messages do not contain %r" % s)
    for cid, want in (exp.get("tool_results") or {}).items():
        got = find_result(prov, new, cid)
        if got is None:
            bad.append("no tool result for %s" % cid)
            continue
        content, is_error = got
        if "contains" in want and want["contains"] not in content:
            bad.append("the result for %s does not contain %r" % (
                cid, want["contains"]))
        if "is_error" in want and is_error != want["is_error"]:
            bad.append("the result for %s has is_error %s, expected %s" % (
                cid, is_error, want["is_error"]))
    return ["expectation: " + b for b in bad]


def find_result(prov, msgs, cid):
    """(content as text, is_error) of the result for call cid, or None."""
    for m in msgs:
        if prov == "openai":
            if m.get("role") == "tool" and m.get("tool_call_id") == cid:
                return oa_text(m.get("content"), "") or "", False
            continue
        c = m.get("content")
        for b in c if isinstance(c, list) else []:
            if b.get("type") == "tool_result" and b.get("tool_use_id") == cid:
                rc = b.get("content")
                if isinstance(rc, list):
                    rc = "".join(x.get("text", "") for x in rc
                                 if isinstance(x, dict))
                return rc or "", bool(b.get("is_error"))
    return None


def handle(req):
    """Check req and decide its answer: a dict {status, headers, body} or
    {"stream": events, ...} or {"fault": ...}.  Called with STATE.cond."""
    conv = STATE.conv
    prov = conv["provider"] if conv else "openai"
    n = req["n"]
    rid = ("chatcmpl-llm%d" if prov == "openai" else "msg_llm%d") % n
    if conv is None:
        violation(req, "no conversation loaded")
        return error_answer(prov, 500, "llmserver: no conversation loaded")
    if req["path"] != PATHS[prov]:
        violation(req, "%s %s: not the %s endpoint" % (
            req["method"], req["path"], prov))
        return error_answer(prov, 404, "Invalid URL (%s %s)" % (
            req["method"], req["path"]), kind="not_found_error"
            if prov == "anthropic" else "invalid_request_error")
    if req["method"] != "POST":
        violation(req, "method %s" % req["method"])
        return error_answer(prov, 405, "Method %s not allowed"
                            % req["method"])
    headers = [(k, v) for k, v in req["raw_headers"]]
    try:
        req["auth"], rej = check_auth(prov, conv, headers)
        if rej:
            raise rej
        body = check_common(prov, conv, headers, req["raw_body"])
        req["body"] = body
        if prov == "openai":
            oa_check(body)
        else:
            an_check(body, headers)
    except Reject as r:
        violation(req, r.message)
        return error_answer(prov, r.status, r.message, r.param, r.kind,
                            r.code)
    if STATE.turn >= len(conv["turns"]):
        msg = "llmserver: the conversation has %d turns; this request is " \
              "past its end" % len(conv["turns"])
        violation(req, msg)
        return error_answer(prov, 400, msg)
    t = STATE.turn
    turn = conv["turns"][t]
    if turn.get("new_run"):
        STATE.prefix = []
        STATE.produced = []
    bad = check_history(prov, body, req) + \
        check_expect(prov, turn.get("expect"), body, headers)
    if bad:
        req["turn_wanted"] = t
        for b in bad:
            violation(req, b)
        return error_answer(prov, 400, "llmserver: " + "; ".join(bad))
    STATE.turn += 1
    req["turn"] = t
    stream = body.get("stream") is True
    fault = turn.get("fault")
    resp = turn.get("response")
    plan = {"delay_ms": turn.get("delay_ms", 0),
            "event_delay_ms": turn.get("event_delay_ms", 0)}
    if fault and fault["kind"] == "status":
        st = fault["status"]
        h = [(k, str(v)) for k, v in (fault.get("headers") or {}).items()]
        if "retry_after" in fault:
            h.append(("retry-after", str(fault["retry_after"])))
        default = {429: "Rate limit reached; please retry.",
                   529: "Overloaded"}.get(
            st, "The server had an error while processing your request."
            if st >= 500 else "error")
        plan.update(error_answer(prov, st, fault.get("message", default),
                                 kind=fault.get("type"), headers=h))
        req["outcome"] = "fault:status"
        return plan
    if fault and fault["kind"] == "hang":
        plan["hang"] = True
        req["outcome"] = "fault:hang"
        return plan
    if fault and fault["kind"] == "error_event" and not stream:
        violation(req, "turn %d is a mid-stream error: it needs a streaming "
                  "request" % t)
        return error_answer(prov, 400, "llmserver: turn %d expects a "
                            "streaming request" % t)
    model = body["model"]
    if resp and resp.get("id"):
        rid = resp["id"]
    if prov == "openai":
        usage = oa_usage(body, resp) if resp else None
    else:
        usage = an_usage(body, resp, not fault) if resp else None
    if not fault:
        # answered: the history grows by this request and our message
        STATE.prefix = [strip_cache(m) for m in body["messages"]]
        STATE.produced.append((len(STATE.prefix), t))
        STATE.prefix.append(None)
    if stream:
        if prov == "openai":
            inc = (body.get("stream_options") or {}).get("include_usage")
            ev = oa_events(rid, model, resp, usage, inc is True) if resp \
                else []
        else:
            ev = an_events(rid, model, resp, usage) if resp else []
        plan["events"] = ev
        plan["status"] = 200
        plan["headers"] = [("Content-Type", "text/event-stream; "
                            "charset=utf-8"), ("Cache-Control", "no-cache")]
    else:
        doc = (oa_json if prov == "openai" else an_json)(
            rid, model, resp, usage) if resp else {}
        plan.update({"status": 200, "body": dumps(doc).encode(),
                     "headers": [("Content-Type", "application/json")]})
    plan["headers"].append(("x-request-id" if prov == "openai"
                            else "request-id", "req_llm%d" % n))
    if fault:
        plan["fault"] = fault
        if fault["kind"] == "error_event":
            plan["error_event"] = (oa_error_event if prov == "openai"
                                   else an_error_event)(
                fault.get("error") or {})
        req["outcome"] = "fault:" + fault["kind"]
    else:
        req["outcome"] = "response"
    return plan


# ---- the wire ----

def head_bytes(status, headers):
    lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status"))]
    lines += ["%s: %s" % (k, v) for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


def quiet(c, ms):
    """Send nothing for ms milliseconds, watching for the client to go
    away; False (its close noted) when it did."""
    deadline = time.monotonic() + ms / 1000.0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        r, _, _ = select.select([c.sock], [], [], left)
        if r:
            try:
                data = c.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                note_closed(c.cid)
                return False
            c.buf += data       # a pipelined request waits its turn


def send_plan(c, plan):
    """Send the planned answer; False when the connection is done."""
    sock = c.sock
    if plan.get("delay_ms") and not quiet(c, plan["delay_ms"]):
        sock.close()
        return False
    if plan.get("hang"):
        fs.hold(c)
        return False
    fault = plan.get("fault") or {}
    kind = fault.get("kind")
    if "events" not in plan:
        body = plan["body"]
        h = plan["headers"] + [("Content-Length", str(len(body)))]
        if kind == "stall":
            sock.sendall(head_bytes(plan["status"], h))
            quiet(c, fault["ms"])
            sock.close()
            return False
        if kind == "cut":
            sock.sendall(head_bytes(plan["status"], h) +
                         body[:len(body) // 2])
            sock.close()
            return False
        sock.sendall(head_bytes(plan["status"], h) + body)
        return True
    h = plan["headers"] + [("Transfer-Encoding", "chunked")]
    sock.sendall(head_bytes(plan["status"], h))
    events = plan["events"]
    upto = fault.get("after_events", 0) if kind else len(events)
    for i, e in enumerate(events[:upto]):
        if i and plan.get("event_delay_ms") and \
                not quiet(c, plan["event_delay_ms"]):
            sock.close()
            return False
        sock.sendall(chunk(e))
    if kind == "stall":
        quiet(c, fault["ms"])
        sock.close()
        return False
    if kind == "cut":
        sock.close()
        return False
    if kind == "error_event":
        sock.sendall(chunk(plan["error_event"]))
    sock.sendall(b"0\r\n\r\n")
    return True


def redact(headers):
    out = []
    for k, v in headers:
        if k.lower() in ("authorization", "x-api-key"):
            v = "[redacted]"
        out.append([k, v])
    return out


def serve(sock, cid):
    c = fs.Conn(sock, cid)
    try:
        while True:
            try:
                r = fs.read_request(c)
            except ValueError:
                sock.sendall(b"HTTP/1.1 413 Payload Too Large\r\n"
                             b"Content-Length: 0\r\nConnection: close\r\n\r\n")
                sock.close()
                return
            req = {"conn": cid, "method": r["method"], "path": r["path"],
                   "headers": redact(r["headers"]), "auth": None,
                   "body": r["body"], "t_ms": now_ms(), "turn": None,
                   "violations": [], "outcome": "rejected",
                   "raw_headers": r["headers"], "raw_body": r["body"]}
            with STATE.cond:
                req["n"] = len(STATE.requests) + 1
                STATE.requests.append(req)
                plan = handle(req)
                req["status"] = plan.get("status")
                del req["raw_headers"], req["raw_body"]
                STATE.cond.notify_all()
            try:
                more = send_plan(c, plan)
            finally:
                with STATE.cond:
                    req["done_ms"] = now_ms()
                    STATE.cond.notify_all()
            if not more or (fs.header_value(r, "Connection") or "").lower() \
                    == "close":
                sock.close()
                return
    except (fs.ClientGone, OSError):
        note_closed(cid)
        try:
            sock.close()
        except OSError:
            pass


def note_closed(cid):
    with STATE.cond:
        STATE.closed.append(cid)
        for r in STATE.requests:
            if r["conn"] == cid and "done_ms" not in r:
                r["client_closed"] = True
        STATE.cond.notify_all()


fs.note_closed = note_closed    # hold() reports through it


def acceptor(lsock):
    while True:
        try:
            sock, _ = lsock.accept()
        except OSError:
            return
        with STATE.cond:
            STATE.connections += 1
            cid = STATE.connections
        threading.Thread(target=serve, args=(sock, cid), daemon=True).start()


# ---- commands ----

def status_reply():
    turns = len(STATE.conv["turns"]) if STATE.conv else 0
    return {"requests": [dict(r) for r in STATE.requests],
            "violations": list(STATE.violations), "turn": STATE.turn,
            "turns": turns, "done": STATE.conv is not None and
            STATE.turn >= turns, "closed": list(STATE.closed)}


def wait_for(cmd):
    deadline = time.monotonic() + cmd.get("timeout_ms", 5000) / 1000.0
    nreq, nclosed = cmd.get("requests"), cmd.get("closed")
    conn, want_done = cmd.get("closed_conn"), cmd.get("done")

    def done():
        turns = len(STATE.conv["turns"]) if STATE.conv else 0
        answered = all("done_ms" in r or r.get("client_closed")
                       for r in STATE.requests)
        return ((nreq is None or len(STATE.requests) >= nreq) and
                (nclosed is None or len(STATE.closed) >= nclosed) and
                (conn is None or conn in STATE.closed) and
                (not want_done or (STATE.turn >= turns and answered)))
    with STATE.cond:
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            STATE.cond.wait(left)
        return {"ok": done(), "requests": len(STATE.requests),
                "turn": STATE.turn, "closed": list(STATE.closed)}


def command(cmd):
    op = cmd.get("cmd")
    if op == "load":
        try:
            if "file" in cmd:
                with open(cmd["file"], encoding="utf-8") as f:
                    conv = json.load(f)
            else:
                conv = cmd.get("conversation")
            conv = load_conversation(conv)
        except (OSError, ValueError) as e:
            return {"ok": False, "error": "%s: %s" % (cmd.get("file"), e)}
        except FixtureError as e:
            return {"ok": False, "error": "%s: %s" % (
                cmd.get("file", "conversation"), e)}
        with STATE.cond:
            STATE.conv = conv
            STATE.reset()
        return {"ok": True, "turns": len(conv["turns"])}
    if op == "requests":
        with STATE.cond:
            return status_reply()
    if op == "wait":
        return wait_for(cmd)
    if op == "reset":
        with STATE.cond:
            STATE.reset()
        return {"ok": True}
    return {"ok": False, "error": "unknown command %r" % (op,)}


def main():
    port = 0
    if len(sys.argv) == 3 and sys.argv[1] == "--port":
        port = int(sys.argv[2])
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(128)
    threading.Thread(target=acceptor, args=(lsock,), daemon=True).start()
    out = sys.stdout
    out.write("%d\n" % lsock.getsockname()[1])
    out.flush()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            cmd = json.loads(line)
        except ValueError as e:
            cmd, reply = {}, {"ok": False, "error": "bad JSON: %s" % e}
        else:
            if not isinstance(cmd, dict):
                cmd, reply = {}, {"ok": False, "error": "not an object"}
            elif cmd.get("cmd") == "quit":
                break
            else:
                reply = command(cmd)
        if "id" in cmd:
            reply["id"] = cmd["id"]
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
