"""A Dockerfile reader for the checks: instructions per stage, with line
continuations, comments and flags (--from=, --interval=) handled; and the
.dockerignore rules with Docker's matching (Go filepath.Match plus '**',
last matching rule wins, '!' re-includes, a directory takes its contents)."""
import json
import re


class Instruction:
    def __init__(self, key, rest):
        self.key = key.upper()
        self.flags = {}
        # Leading --name=value flags of FROM/COPY/ADD/RUN (not HEALTHCHECK,
        # whose flags stay in args before CMD).
        if self.key in ("FROM", "COPY", "ADD", "RUN"):
            while True:
                m = re.match(r"^--([a-z-]+)(?:=(\S*))?\s+", rest)
                if not m:
                    break
                self.flags["--" + m.group(1)] = m.group(2)
                rest = rest[m.end():]
        self.args = rest.strip()

    def exec_form(self):
        """The JSON array of an exec-form instruction, or None."""
        if not self.args.startswith("["):
            return None
        try:
            v = json.loads(self.args)
        except ValueError:
            return None
        return v if all(isinstance(x, str) for x in v) else None

    def __repr__(self):
        return "%s %s" % (self.key, self.args)


class Stage:
    def __init__(self, base, name):
        self.base, self.name, self.instr = base, name, []


def instructions(text):
    out, cur = [], ""
    for line in text.splitlines():
        s = line.strip()
        if not cur and (not s or s.startswith("#")):
            continue
        if cur and s.startswith("#"):
            continue            # a comment inside a continued instruction
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        cur += s
        key, _, rest = cur.partition(" ")
        out.append(Instruction(key, rest))
        cur = ""
    if cur:
        raise ValueError("Dockerfile ends inside a continued line")
    return out


def stages(text):
    st = []
    for i in instructions(text):
        if i.key == "FROM":
            m = re.match(r"^(\S+)(?:\s+AS\s+(\S+))?$", i.args, re.I)
            if not m:
                raise ValueError("bad FROM: " + i.args)
            st.append(Stage(m.group(1), m.group(2)))
        elif i.key == "ARG" and not st:
            continue
        elif not st:
            raise ValueError("%s before FROM" % i.key)
        else:
            st[-1].instr.append(i)
    return st


def _regex(pattern):
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        out += {"*": "[^/]*", "?": "[^/]"}.get(c, re.escape(c))
        i += 1
    return re.compile("^" + out + "$")


def ignore_rules(text):
    rules = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        neg = s.startswith("!")
        s = s[1:].strip() if neg else s
        s = re.sub(r"/+$", "", s.lstrip("/"))
        rules.append((neg, _regex(s)))
    return rules


def ignored(rules, path):
    """Is path (relative to the context) left out of the build context?"""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    out = False
    for neg, rx in rules:
        if any(rx.match(p) for p in prefixes):
            out = not neg
    return out
