#!/usr/bin/env python3
"""moto: run moto_server on 127.0.0.1 at an ephemeral port for a test.

Prints exactly one line on stdout:
  PORT n            the server is listening on 127.0.0.1:n
  ABSENT reason     moto_server is not installed ($MOTO_SERVER, else PATH)
  FAILED reason     it is installed but did not come up (15 s)
then stays until EOF on stdin (the test closing the pipe, or dying), and
stops the server: SIGTERM to its process group, SIGKILL after 3 s.

moto_server -p 0 binds an ephemeral port and names it on stderr
("Running on http://127.0.0.1:PORT"); the server's output is read and
dropped after that, so its request log can never fill a pipe.

moto loads a service's backend on its first request, several seconds for
ECS.  Right after the PORT line one request per service afu9 uses goes out
from a background thread, so that work overlaps the test's other cases.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request

READY = re.compile(rb"Running on http://127\.0\.0\.1:(\d+)")
START_S = 15.0


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


WARM = (
    ("ecs", "AmazonEC2ContainerServiceV20141113.ListClusters", "1.1"),
    ("logs", "Logs_20140328.DescribeLogGroups", "1.1"),
    ("monitoring", "GraniteServiceVersion20100801.ListMetrics", "1.0"),
    ("secretsmanager", "secretsmanager.ListSecrets", "1.1"),
)


def warm(port):
    """One unsigned call per service (moto does not check signatures)."""
    for name, target, version in WARM:
        req = urllib.request.Request(
            "http://127.0.0.1:%d/" % port, data=b"{}", method="POST",
            headers={
                "X-Amz-Target": target,
                "Content-Type": "application/x-amz-json-" + version,
                "Authorization": "AWS4-HMAC-SHA256 Credential=warm/"
                                 "20240101/us-east-1/%s/aws4_request, "
                                 "SignedHeaders=host, Signature=0" % name,
            })
        try:
            urllib.request.urlopen(req, timeout=30).read()
        except Exception:  # a failure here shows in the tests themselves
            pass


def die_with_parent():
    """In the child: SIGTERM when this wrapper dies, however it dies."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def stop(proc):
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(3)
    except (OSError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()


def main():
    exe = os.environ.get("MOTO_SERVER") or shutil.which("moto_server")
    if not exe:
        say("ABSENT moto_server not found in PATH")
        return 0
    try:
        proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", "0"],
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT,
                                start_new_session=True,
                                preexec_fn=die_with_parent)
    except OSError as e:
        say("ABSENT %s: %s" % (exe, e.strerror))
        return 0
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(1))
    found = {}
    seen = []

    def reader():
        for line in proc.stdout:
            if "port" not in found:
                seen.append(line)
                m = READY.search(line)
                if m:
                    found["port"] = int(m.group(1))
                    ready.set()
        ready.set()

    ready = threading.Event()
    threading.Thread(target=reader, daemon=True).start()
    ready.wait(START_S)
    if "port" not in found:
        code = proc.poll()
        stop(proc)
        tail = b" | ".join(x.strip() for x in seen[-3:]).decode(
            "utf-8", "replace")
        if code == 127:  # the pyenv shim of an uninstalled command
            say("ABSENT %s: command not found (%s)" % (exe, tail))
        else:
            say("FAILED %s did not start (exit %s): %s" % (exe, code, tail))
        return 0
    say("PORT %d" % found["port"])
    threading.Thread(target=warm, args=(found["port"],), daemon=True).start()
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        stop(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
