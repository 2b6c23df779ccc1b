#!/usr/bin/env python3
"""botocheck: sign a recorded request with botocore's SigV4 signer.

A test sends afu9's requests to t/faultserver.py, which records each one
exactly as it arrived (method, target, headers, body).  This script
rebuilds such a request as a botocore.awsrequest.AWSRequest and signs it
with botocore.auth.SigV4Auth at the time the request itself names in its
X-Amz-Date, so the test can compare botocore's Authorization header with
the one afu9 sent, byte for byte.

The first line on stdout is one of
  READY botocore VERSION
  ABSENT reason          botocore cannot be imported
then one JSON object per line on stdin gets one JSON line back on stdout,
echoing the command's "id".  EOF on stdin ends the script.

Command:
  {"id": ID, "request": REQ, "access_key": AKID, "secret_key": SECRET,
   "token": TOKEN or null, "region": REGION, "service": SIGNING_NAME,
   "scheme": "http" (default)}
REQ is a faultserver record: {"method", "target", "headers": [[n, v]...],
"body"}.  The headers rebuilt are exactly those the request's
Authorization names in SignedHeaders, with the values it carried (several
of one name in the order sent), except X-Amz-Date and
X-Amz-Security-Token, which botocore adds itself from the clock and the
credentials: the test then checks it added the same ones.

Reply:
  {"id", "ok": true, "authorization", "amz_date", "security_token" (or
   null), "signed_headers" (a list), "canonical_request", "string_to_sign"}
  {"id", "ok": false, "error": text}   a request that cannot be rebuilt
"""

import datetime
import json
import sys
import types

try:
    import botocore
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except Exception as e:  # ImportError, or a broken installation
    sys.stdout.write("ABSENT botocore cannot be imported: %s\n" % (e,))
    sys.stdout.flush()
    sys.exit(0)

AMZ_DATE = "%Y%m%dT%H%M%SZ"


class BadRequest(Exception):
    pass


def signed_names(auth):
    """The SignedHeaders list of an Authorization header value."""
    if auth is None or not auth.startswith("AWS4-HMAC-SHA256 "):
        raise BadRequest("no AWS4-HMAC-SHA256 Authorization header")
    for part in auth[len("AWS4-HMAC-SHA256 "):].split(","):
        key, _, value = part.strip().partition("=")
        if key == "SignedHeaders":
            return value.split(";")
    raise BadRequest("Authorization has no SignedHeaders")


def values(headers, name):
    return [v for k, v in headers if k.lower() == name]


def one(headers, name):
    v = values(headers, name)
    if len(v) != 1:
        raise BadRequest("%s sent %d times" % (name, len(v)))
    return v[0]


class FixedClock:
    """Make botocore's signer see `when` as the current time.

    botocore 1.31 and later read the clock through
    botocore.auth.get_current_datetime(); older ones call
    datetime.datetime.utcnow() through the datetime module botocore.auth
    imported.  Either is replaced for the duration of a with block.
    """

    def __init__(self, when):
        self.when = when
        self.saved = None

    def __enter__(self):
        auth = botocore.auth
        when = self.when
        if hasattr(auth, "get_current_datetime"):
            self.saved = ("get_current_datetime", auth.get_current_datetime)
            auth.get_current_datetime = lambda remove_tzinfo=True: when
        else:
            class Fixed(datetime.datetime):
                @classmethod
                def utcnow(cls):
                    return when
            shim = types.SimpleNamespace(**vars(datetime))
            shim.datetime = Fixed
            self.saved = ("datetime", auth.datetime)
            auth.datetime = shim
        return self

    def __exit__(self, *exc):
        setattr(botocore.auth, self.saved[0], self.saved[1])
        return False


class Recording(botocore.auth.SigV4Auth):
    """SigV4Auth keeping the canonical request and string to sign that
    add_auth() built (recomputing them after it would take in the
    Authorization header it added)."""

    canonical = None
    sts = None

    def canonical_request(self, request):
        self.canonical = super().canonical_request(request)
        return self.canonical

    def string_to_sign(self, request, canonical_request):
        self.sts = super().string_to_sign(request, canonical_request)
        return self.sts


def sign(cmd):
    req = cmd["request"]
    headers = [(k, v) for k, v in req["headers"]]
    names = signed_names(one(headers, "authorization"))
    host = one(headers, "host")
    date = one(headers, "x-amz-date")
    try:
        when = datetime.datetime.strptime(date, AMZ_DATE)
    except ValueError:
        raise BadRequest("X-Amz-Date %r is not YYYYMMDDTHHMMSSZ" % date)
    url = "%s://%s%s" % (cmd.get("scheme", "http"), host, req["target"])
    rebuilt = AWSRequest(method=req["method"], url=url,
                         data=req["body"].encode("utf-8"))
    for name in names:
        if name in ("x-amz-date", "x-amz-security-token"):
            continue
        got = values(headers, name)
        if not got:
            raise BadRequest("signed header %s was not sent" % name)
        for v in got:
            rebuilt.headers[name] = v  # appends: several stay several
    creds = Credentials(cmd["access_key"], cmd["secret_key"],
                        cmd.get("token"))
    signer = Recording(creds, cmd["service"], cmd["region"])
    with FixedClock(when):
        signer.add_auth(rebuilt)
    auth = rebuilt.headers["Authorization"]
    token = rebuilt.headers.get("X-Amz-Security-Token")
    return {"ok": True, "authorization": auth,
            "amz_date": rebuilt.headers["X-Amz-Date"],
            "security_token": token,
            "signed_headers": signed_names(auth),
            "canonical_request": signer.canonical,
            "string_to_sign": signer.sts}


def main():
    out = sys.stdout
    out.write("READY botocore %s\n" % botocore.__version__)
    out.flush()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        cmd = None
        try:
            cmd = json.loads(line)
            reply = sign(cmd)
        except BadRequest as e:
            reply = {"ok": False, "error": str(e)}
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            reply = {"ok": False, "error": "bad command: %r" % (e,)}
        if isinstance(cmd, dict) and "id" in cmd:
            reply["id"] = cmd["id"]
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
