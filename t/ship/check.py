#!/usr/bin/env python3
"""Checks of the shipping files, printed as TAP (one line per check).

No container engine runs where the suite runs, so the image is checked
through what can run: the scripts its RUN steps call, the tree they
install, the libraries the installed binaries load, the Debian archive,
Debian's docker-compose, and the ECS API model shipped with botocore.
"""
import copy
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ["AFU9_SRCDIR"]
BUILD = os.environ["AFU9_BUILDDIR"]
STRICT = os.environ.get("CI") == "true" or \
    os.environ.get("AFU9_REQUIRE_MOTO") == "1"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dockerfile  # noqa: E402
import fargate  # noqa: E402


class Skip(Exception):
    pass


def need(ok, what):
    """Skip the check when a tool is missing; fail it under CI."""
    if ok:
        return
    if STRICT:
        raise AssertionError(what + " (required under CI)")
    raise Skip(what)


def src(*p):
    return os.path.join(SRC, *p)


def read(*p):
    with open(src(*p), encoding="utf-8") as f:
        return f.read()


CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def run(argv, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, **kw)


def have_module(name):
    try:
        __import__(name)
        return True
    except ImportError:
        return False


# ---- what the tree reads: variables and configuration keys ----

def source_variables():
    """Every environment variable named by a string literal in the code,
    the AWS_ENDPOINT_URL_<ID> names from the service table, DATABASE_URL."""
    names = {"DATABASE_URL"}
    lit = re.compile(r'"((?:AFU9|AWS|GITHUB|DATABASE)_[A-Z0-9_]*[A-Z0-9])"')
    for d in ("orchestrator", "servers", "protocol"):
        for root, _, files in os.walk(src(d)):
            for fn in files:
                if fn.endswith(".c"):
                    with open(os.path.join(root, fn), encoding="utf-8") as f:
                        names.update(lit.findall(f.read()))
    table = read("servers", "aws", "awsconf.c")
    m = re.search(r"services\[AWS_SVC_COUNT\] = \{(.*?)\n\};", table, re.S)
    assert m, "servers/aws/awsconf.c: service table not found"
    for sid in re.findall(r'\{\s*"[a-z]+",\s*"[a-z]+",\s*"([A-Z_]+)"\s*\}',
                          m.group(1)):
        names.add("AWS_ENDPOINT_URL_" + sid)
    return names


def config_keys():
    """The keys the header comment of orchestrator/conf/conf.h documents."""
    head = read("orchestrator", "conf", "conf.h").split("*/", 1)[0]
    keys = set(re.findall(r'"([A-Za-z][A-Za-z0-9]*)":', head))
    keys.discard("NAME")
    return keys


def env_example():
    """{name: (active, has_comment)} of .env.example: active when not
    commented out; has_comment when the nearest line above that is not a
    variable is a comment (a group of variables shares one)."""
    out = {}
    prose = False
    for line in read(".env.example").splitlines():
        m = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]*)=", line)
        if m:
            out[m.group(2)] = (m.group(1) is None, prose)
        else:
            prose = line.startswith("#")
    return out


# ---- Dockerfile ----

def dockerfile_stages():
    return dockerfile.stages(read("Dockerfile"))


@check
def dockerfile_stages_are_debian12():
    st = dockerfile_stages()
    assert len(st) == 2, "want 2 stages, have %d" % len(st)
    base, name = st[0].base, st[0].name
    assert base == "debian:12" and name == "build", \
        "first stage: FROM %s AS %s, want debian:12 AS build" % (base, name)
    assert st[1].base == "debian:12-slim", \
        "runtime stage from %s, want debian:12-slim" % st[1].base
    copies = [i for i in st[1].instr if i.key == "COPY" and "--from" in i.flags]
    assert copies and all(c.flags["--from"] == "build" for c in copies), \
        "the runtime stage must copy from the build stage"


@check
def dockerfile_runtime_user_is_not_root():
    rt = dockerfile_stages()[-1]
    users = [i for i in rt.instr if i.key == "USER"]
    assert users, "no USER in the runtime stage"
    user = users[-1].args.split(":")[0]
    assert user not in ("root", "0"), "runs as root"
    assert user == "10001", "USER %s, want uid 10001" % user
    runs = [n for n, i in enumerate(rt.instr) if i.key == "RUN"]
    assert runs[-1] < rt.instr.index(users[-1]), "RUN after USER"
    useradd = " ".join(i.args for i in rt.instr if i.key == "RUN")
    assert re.search(r"useradd\b[^&]*--uid 10001", useradd), \
        "no useradd --uid 10001"


@check
def dockerfile_entrypoint_healthcheck_signal():
    rt = dockerfile_stages()[-1]
    last = {i.key: i for i in rt.instr}
    ep = last.get("ENTRYPOINT")
    assert ep and ep.exec_form() == ["afu9"], \
        "ENTRYPOINT must be the exec form [\"afu9\"] so afu9 is PID 1"
    assert last["CMD"].exec_form() == ["serve"], "CMD must be [\"serve\"]"
    hc = last.get("HEALTHCHECK")
    assert hc, "no HEALTHCHECK"
    m = re.match(r"^((?:--\S+\s+)*)CMD\s+(\[.*\])$", hc.args)
    assert m and json.loads(m.group(2)) == ["afu9", "health"], \
        "HEALTHCHECK is %r, want CMD [\"afu9\", \"health\"]" % hc.args
    assert last.get("STOPSIGNAL") is None or \
        last["STOPSIGNAL"].args == "SIGTERM", "STOPSIGNAL is not SIGTERM"
    assert "8080" in last["EXPOSE"].args.split(), "port 8080 not exposed"


@check
def dockerfile_runs_repo_scripts_that_exist():
    st = dockerfile_stages()
    seen = set()
    for s in st:
        copied = {}
        for i in s.instr:
            if i.key == "COPY" and "--from" not in i.flags:
                parts = i.args.split()
                for p in parts[:-1]:
                    assert os.path.exists(src(p.rstrip("/"))) or p == ".", \
                        "COPY %s: no such file in the tree" % p
                    copied[parts[-1]] = p
            if i.key != "RUN":
                continue
            for m in re.finditer(r"\bsh\s+(\S+\.sh)", i.args):
                path = m.group(1)
                repo = copied.get(path, path)
                assert repo.startswith("scripts/"), \
                    "RUN calls %s, not a repository script" % path
                assert os.access(src(repo), os.X_OK), \
                    "%s missing or not executable" % repo
                seen.add(os.path.basename(repo))
    for want in ("deps-debian.sh", "build.sh", "install.sh"):
        assert want in seen, "no RUN step calls scripts/" + want
    flags = " ".join(i.args for i in st[0].instr if i.key == "RUN")
    assert "deps-debian.sh --build" in flags, "build stage: not --build"
    flags = " ".join(i.args for i in st[1].instr if i.key == "RUN")
    assert "deps-debian.sh --runtime" in flags, "runtime: not --runtime"


def deps(*flags):
    r = run(["sh", src("scripts", "deps-debian.sh"), "--print"] + list(flags))
    assert r.returncode == 0, "deps-debian.sh --print %s: %s" % (
        " ".join(flags), r.stderr)
    return r.stdout.split()


@check
def deps_lists_split_build_runtime():
    full, build, runtime = deps(), deps("--build"), deps("--runtime")
    assert set(build) <= set(full), "--build lists packages the default lacks"
    assert not [p for p in runtime if p.endswith("-dev") or
                p in ("build-essential", "gcc", "make")], \
        "runtime list holds build packages: %s" % runtime
    for p in ("libjansson4", "libpq5", "libcurl4", "libsodium23", "libev4",
              "ca-certificates"):
        assert p in runtime, p + " not in the runtime list"
    r = run(["sh", src("scripts", "deps-debian.sh"), "--bogus"])
    assert r.returncode == 2, "unknown option accepted"


@check
def runtime_packages_exist_in_debian():
    # The build packages are installed by scripts/deps-debian.sh before
    # the suite runs; the runtime ones are only installed in the image.
    need(shutil.which("apt-cache"), "apt-cache not found")
    want = sorted(set(deps("--runtime")))
    r = run(["apt-cache", "show", "--no-all-versions", "libc6"] + want)
    found = set(re.findall(r"^Package: (\S+)$", r.stdout, re.M))
    need("libc6" in found, "no apt package lists (apt-get update)")
    missing = [p for p in want if p not in found]
    assert not missing, "not in the Debian archive: " + ", ".join(missing)


INSTALL = {}


def installed_tree():
    """Run scripts/install.sh into a temporary DESTDIR, once."""
    if "dir" not in INSTALL:
        d = tempfile.mkdtemp(prefix="afu9-ship-")
        INSTALL["dir"] = d
        r = run(["sh", src("scripts", "install.sh"), d],
                env=dict(os.environ, BUILDDIR=BUILD, PREFIX="/usr/local"))
        INSTALL["rc"], INSTALL["err"] = r.returncode, r.stderr
    assert INSTALL["rc"] == 0, "install.sh failed: " + INSTALL["err"]
    return INSTALL["dir"]


@check
def install_tree_is_what_the_image_copies():
    d = installed_tree()
    rt = dockerfile_stages()[-1]
    cp = [i for i in rt.instr if i.key == "COPY" and "--from" in i.flags][0]
    from_dir, to_dir = cp.args.split()
    assert from_dir.startswith("/out/"), "COPY --from=build %s" % from_dir
    root = os.path.join(d, from_dir[len("/out/"):])
    for b in ("afu9", "afu9-github", "afu9-deploy", "afu9-observability"):
        p = os.path.join(root, "bin", b)
        assert os.access(p, os.X_OK), "bin/%s not installed" % b
        assert os.path.exists(os.path.join(root, "share/man/man1", b + ".1")), \
            "man page %s.1 not installed" % b
    r = run([os.path.join(root, "bin", "afu9"), "version"])
    assert r.returncode == 0 and r.stdout.startswith("afu9 "), \
        "installed afu9 version: %r %r" % (r.stdout, r.stderr)
    mig = os.path.join(root, "share/afu9/migrations")
    want = sorted(f for f in os.listdir(src("migrations"))
                  if f.endswith(".sql"))
    assert want and sorted(os.listdir(mig)) == want, \
        "migrations installed: %s, want %s (dist_migrations_DATA in " \
        "Makefile.am)" % (sorted(os.listdir(mig)), want)
    for f in want:
        with open(os.path.join(mig, f), "rb") as a, \
                open(src("migrations", f), "rb") as b:
            assert a.read() == b.read(), f + " differs"
    assert to_dir.rstrip("/") == "/usr/local", "copied to %s" % to_dir


def library_packages(sonames):
    """{soname: set of Debian packages owning it}, by ldconfig's cache."""
    paths = {}
    for ln in run(["ldconfig", "-p"]).stdout.splitlines():
        m = re.match(r"^\s*(\S+) \((?:libc6,)?x86-64[^)]*\) => (\S+)$", ln)
        if m and m.group(1) in sonames:
            paths.setdefault(m.group(1), m.group(2))
    ask = []
    for p in paths.values():
        # merged /usr: dpkg may know either spelling
        alt = p[4:] if p.startswith("/usr/") else "/usr" + p
        ask += [p, alt]
    owners = {}
    for ln in run(["dpkg", "-S"] + ask).stdout.splitlines():
        pkgs, _, path = ln.partition(": ")
        for pk in pkgs.split(", "):
            owners.setdefault(path, set()).add(pk.split(":")[0])
    out = {}
    for so, p in paths.items():
        alt = p[4:] if p.startswith("/usr/") else "/usr" + p
        out[so] = owners.get(p, set()) | owners.get(alt, set())
    return out


@check
def installed_binaries_need_only_runtime_packages():
    need(shutil.which("objdump") and shutil.which("dpkg") and
         os.path.exists("/sbin/ldconfig") or shutil.which("ldconfig"),
         "objdump, dpkg or ldconfig not found")
    d = installed_tree()
    allowed = set(deps("--runtime")) | {"libc6"}
    needed = {}
    for b in ("afu9", "afu9-github", "afu9-deploy", "afu9-observability"):
        p = os.path.join(d, "usr/local/bin", b)
        sos = re.findall(r"NEEDED\s+(\S+)", run(["objdump", "-p", p]).stdout)
        assert sos, b + ": no NEEDED entries"
        for so in sos:
            if not re.match(r"lib(asan|ubsan)\.so", so):  # sanitizer build
                needed.setdefault(so, set()).add(b)
    owners = library_packages(set(needed))
    for so, bins in sorted(needed.items()):
        pkgs = owners.get(so, set())
        assert pkgs & allowed, "%s loads %s from %s, not in the runtime " \
            "list %s" % (",".join(sorted(bins)), so,
                         sorted(pkgs) or "no package", sorted(allowed))


@check
def dockerignore_keeps_sources_drops_secrets():
    rules = dockerfile.ignore_rules(read(".dockerignore"))
    for p in (".env", ".git/config", "t/node_modules/x/package.json",
              "_build/Makefile", "_build-asan/config.log", "configure",
              "Makefile.in", "orchestrator/main.o"):
        assert dockerfile.ignored(rules, p), p + " is sent to the build"
    keep = ["configure.ac", "Makefile.am", "build-aux/.keep", "m4/.keep"]
    for d in ("scripts", "migrations", "protocol", "servers", "orchestrator",
              "doc", "t", "bench"):
        for root, dirs, files in os.walk(src(d)):
            dirs[:] = [x for x in dirs if x != "node_modules"]
            keep += [os.path.relpath(os.path.join(root, f), SRC)
                     for f in files if re.search(r"\.(c|h|sh|sql|1|py)$", f)]
    for p in keep:
        assert not dockerfile.ignored(rules, p), p + " is left out"


# ---- compose.yaml and .env.example ----

def compose():
    need(have_module("yaml"), "PyYAML not installed")
    import yaml
    return yaml.safe_load(read("compose.yaml"))


def compose_config(text, tmp):
    """docker-compose config on text, with .env from .env.example."""
    with open(os.path.join(tmp, "compose.yaml"), "w") as f:
        f.write(text)
    shutil.copy(src(".env.example"), os.path.join(tmp, ".env"))
    shutil.copy(src("Dockerfile"), os.path.join(tmp, "Dockerfile"))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COMPOSE_", "DOCKER_", "POSTGRES_"))}
    return run(["docker-compose", "--project-directory", tmp, "-f",
                os.path.join(tmp, "compose.yaml"), "config"], cwd=tmp, env=env)


@check
def compose_validates_with_docker_compose():
    need(shutil.which("docker-compose"), "docker-compose not found")
    with tempfile.TemporaryDirectory() as tmp:
        r = compose_config(read("compose.yaml"), tmp)
        assert r.returncode == 0, "docker-compose config: " + r.stderr
        assert "service_completed_successfully" in r.stdout
        # The validator is live: a bad condition is refused.
        bad = read("compose.yaml").replace("service_completed_successfully",
                                           "service_finished")
        r = compose_config(bad, tmp)
        assert r.returncode != 0, "docker-compose accepted a bad condition"


@check
def compose_stack_shape():
    c = compose()
    s = c["services"]
    pg, mig, app = s["postgres"], s["migrate"], s["afu9"]
    assert re.match(r"^postgres:15(\.|-|$)", pg["image"]), pg["image"]
    assert pg.get("healthcheck", {}).get("test"), "postgres: no health check"
    vols = [v.split(":") for v in pg.get("volumes", [])]
    assert [v for v in vols if v[0] in c.get("volumes", {}) and
            v[1] == "/var/lib/postgresql/data"], "postgres: no named volume"
    assert not [v for v in vols if "docker-entrypoint-initdb.d" in v[1]], \
        "SQL mounted into the database image"
    for name, svc in (("migrate", mig), ("afu9", app)):
        assert svc.get("build") in (".", {"context": "."}), \
            name + ": not built from the Dockerfile"
        assert svc.get("env_file") in (".env", [".env"]), name + ": no .env"
        assert "DATABASE_URL" in svc.get("environment", {}), name
    assert mig["command"] == ["migrate", "up"], mig["command"]
    assert mig["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert mig.get("restart") == "no", "migrate must run once"
    assert app["command"] == ["serve"]
    assert app["depends_on"]["migrate"]["condition"] == \
        "service_completed_successfully"
    assert "8080:8080" in app["ports"], app["ports"]
    assert app["healthcheck"]["test"] == ["CMD", "afu9", "health"]
    grace = re.match(r"^(\d+)s$", str(app.get("stop_grace_period", "")))
    assert grace and int(grace.group(1)) >= 30, "stop_grace_period < 30s"


@check
def env_example_lists_every_variable():
    env = env_example()
    missing = sorted(source_variables() - set(env))
    assert not missing, ".env.example lacks " + ", ".join(missing)
    bare = sorted(n for n, (_, cmt) in env.items() if not cmt)
    assert not bare, "no comment above " + ", ".join(bare)
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", read("compose.yaml")))
    unset = sorted(n for n in used if not env.get(n, (False,))[0])
    assert not unset, "compose.yaml needs " + ", ".join(unset) + \
        " but .env.example does not set it"
    assert not re.search(r"^(GITHUB_TOKEN|AWS_SECRET_ACCESS_KEY)=\S",
                         read(".env.example"), re.M), "a secret value"


# ---- ecs-task.json and IAM ----

def task():
    return json.loads(read("ecs-task.json"))


def botocore_ok():
    need(have_module("botocore"), "botocore not installed")


@check
def ecs_task_matches_register_task_definition():
    botocore_ok()
    errs = fargate.validate_input(task())
    assert not errs, "RegisterTaskDefinition: " + errs
    t = task()
    t["cpu"] = 512
    t["containerDefinitions"][0]["portMappings"] = [{"containerPort": "x"}]
    assert fargate.validate_input(t), "validator accepted a broken input"


@check
def ecs_task_fargate_rules():
    problems = fargate.rules(task())
    assert not problems, "; ".join(problems)
    bad = copy.deepcopy(task())
    bad["memory"] = "8192"
    bad["containerDefinitions"][1]["dependsOn"][0]["condition"] = "HEALTHY"
    assert len(fargate.rules(bad)) >= 2, "rules accepted a broken task"


@check
def ecs_task_afu9_specifics():
    t = task()
    ess = [c for c in t["containerDefinitions"] if c.get("essential", True)]
    assert len(ess) == 1, "want one essential container"
    c = ess[0]
    assert c["command"] == ["serve"]
    assert c["healthCheck"]["command"] == ["CMD", "afu9", "health"]
    assert [p["containerPort"] for p in c["portMappings"]] == [8080]
    # shutdownGraceMs for calls, then up to 5 s for the children.
    grace = int(re.search(r"CONFIG_DEFAULT_GRACE_MS\s+(\d+)",
                          read("orchestrator", "conf", "conf.h")).group(1))
    assert c["stopTimeout"] * 1000 >= grace + 5000, "stopTimeout too short"
    sec = {s["name"]: s["valueFrom"] for s in c["secrets"]}
    assert set(sec) == {"GITHUB_TOKEN", "AFU9_GITHUB_WEBHOOK_SECRET",
                        "PGUSER", "PGPASSWORD"}, sorted(sec)
    for v in sec.values():
        assert v.startswith("arn:aws:secretsmanager:"), v
    env = {e["name"]: e["value"] for e in c["environment"]}
    # the URL names the database; the credentials come from its secret
    assert re.match(r"^postgresql://[a-z0-9.-]+:5432/afu9\?sslmode=require$",
                    env.get("DATABASE_URL", "")), env.get("DATABASE_URL")
    assert env.get("AWS_REGION") == \
        c["logConfiguration"]["options"]["awslogs-region"], "region"
    unknown = sorted(set(env) - source_variables())
    assert not unknown, "environment names nothing afu9 reads: %s" % unknown
    images = {x["image"] for x in t["containerDefinitions"]}
    assert len(images) == 1, "containers use different images"
    for x in t["containerDefinitions"]:
        if x.get("command") == ["migrate", "up"]:
            assert "DATABASE_URL" in {e["name"] for e in x["environment"]}
            assert {"PGUSER", "PGPASSWORD"} <= \
                {s["name"] for s in x["secrets"]}
    # The execution role can read what the task asks ECS to fetch.
    ex = json.loads(read("doc", "iam", "afu9-execution.json"))
    for x in t["containerDefinitions"]:
        for s in x.get("secrets", []):
            # the secret's own ARN: without a ":json-key:stage:version"
            # tail, with the random suffix a partial ARN leaves out (the
            # examples' suffix is AbCdEf: a name may end in a six-letter
            # word, as github-webhook-secret does)
            arn = ":".join(s["valueFrom"].split(":")[:7])
            if not arn.endswith("-AbCdEf"):
                arn += "-AbCdEf"
            assert fargate.allows(ex, "secretsmanager:GetSecretValue",
                                  arn), \
                "execution role cannot read " + s["valueFrom"]
        o = x["logConfiguration"]["options"]
        arn = "arn:aws:logs:%s:123456789012:log-group:%s:log-stream:%s/x" % (
            o["awslogs-region"], o["awslogs-group"], o["awslogs-stream-prefix"])
        for a in ("logs:CreateLogStream", "logs:PutLogEvents"):
            assert fargate.allows(ex, a, arn), "execution role lacks " + a


IAM_SERVICES = {"ecs": "ecs", "logs": "logs", "cloudwatch": "cloudwatch",
                "secretsmanager": "secretsmanager", "ecr": "ecr"}


@check
def iam_policies_valid():
    botocore_ok()
    files = sorted(f for f in os.listdir(src("doc", "iam"))
                   if f.endswith(".json"))
    assert {"afu9-deploy.json", "afu9-observability.json",
            "afu9-execution.json"} <= set(files), files
    for f in files:
        errs = fargate.policy_problems(json.loads(read("doc", "iam", f)),
                                       IAM_SERVICES)
        assert not errs, f + ": " + "; ".join(errs)
    bad = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecs:UpdateServices", "Resource": "*"}]}
    assert fargate.policy_problems(bad, IAM_SERVICES), "typo accepted"


@check
def iam_policies_cover_every_call():
    botocore_ok()
    for server, services in (("deploy", ["ecs"]),
                             ("observability", ["logs", "cloudwatch", "ecs"])):
        pol = json.loads(read("doc", "iam", "afu9-%s.json" % server))
        ops = fargate.operations_called(src("servers", server), services)
        assert ops, server + ": no AWS operation found in the source"
        for svc, op in ops:
            assert fargate.allows(pol, "%s:%s" % (svc, op), None), \
                "afu9-%s.json does not allow %s:%s" % (server, svc, op)


# ---- infra/afu9.yaml, the CloudFormation stack ----

def stack():
    need(have_module("yaml"), "PyYAML not installed")
    import yaml
    with open(src("infra", "afu9.yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


def of_type(t, kind):
    return {k: r for k, r in t["Resources"].items() if r["Type"] == kind}


def ref(v):
    """The logical id a {"Ref": X} or {"Fn::GetAtt": [X, ...]} names."""
    if isinstance(v, dict) and "Ref" in v:
        return v["Ref"]
    if isinstance(v, dict) and "Fn::GetAtt" in v:
        return v["Fn::GetAtt"][0]
    return None


def sub_text(v):
    """The text of a literal or a Fn::Sub (either form), else None."""
    if isinstance(v, str):
        return v
    if isinstance(v, dict) and "Fn::Sub" in v:
        s = v["Fn::Sub"]
        return s if isinstance(s, str) else s[0]
    return None


@check
def stack_generated_part_is_current():
    r = run([sys.executable, src("scripts", "gen-stack.py"), "--check"])
    assert r.returncode == 0, r.stderr


@check
def stack_cfn_lint_clean():
    lint = shutil.which("cfn-lint")
    if lint is None:
        raise Skip("cfn-lint not found: infra/afu9.yaml not linted")
    r = run([lint, "--include-checks", "I", "--", src("infra", "afu9.yaml")])
    assert r.returncode == 0, "cfn-lint:\n" + r.stdout + r.stderr


@check
def stack_network_reaches_only_what_it_must():
    t = stack()
    res = t["Resources"]
    rules = []  # (group, direction, rule)
    for k, r in of_type(t, "AWS::EC2::SecurityGroup").items():
        for d, key in (("in", "SecurityGroupIngress"),
                       ("out", "SecurityGroupEgress")):
            rules += [(k, d, x) for x in r["Properties"].get(key, [])]
        assert r["Properties"].get("SecurityGroupEgress") or any(
            ref(x["Properties"]["GroupId"]) == k for x in
            of_type(t, "AWS::EC2::SecurityGroupEgress").values()), \
            k + " has no egress rule: it would allow all"
    for kind, d in (("AWS::EC2::SecurityGroupIngress", "in"),
                    ("AWS::EC2::SecurityGroupEgress", "out")):
        for r in of_type(t, kind).values():
            rules.append((ref(r["Properties"]["GroupId"]), d,
                          r["Properties"]))
    lb = ref(of_type(t, "AWS::ElasticLoadBalancingV2::LoadBalancer")
             ["LoadBalancer"]["Properties"]["SecurityGroups"][0])
    db = ref(res["Database"]["Properties"]["VPCSecurityGroups"][0])
    svc = res["Service"]["Properties"]
    task = ref(svc["NetworkConfiguration"]["AwsvpcConfiguration"]
               ["SecurityGroups"][0])
    world = ("0.0.0.0/0", "::/0")
    for g, d, x in rules:
        open_ = x.get("CidrIp") in world or x.get("CidrIpv6") in world
        if d == "in" and open_:
            assert g == lb and x["IpProtocol"] == "tcp" and \
                (x["FromPort"], x["ToPort"]) in ((443, 443), (80, 80)), \
                "open to the world: %s %s" % (g, x)
    ins = {g: [x for h, d, x in rules if h == g and d == "in"]
           for g in (lb, task, db)}
    assert [(ref(x["SourceSecurityGroupId"]), x["FromPort"])
            for x in ins[task]] == [(lb, 8080)], ins[task]
    assert [(ref(x["SourceSecurityGroupId"]), x["FromPort"])
            for x in ins[db]] == [(task, 5432)], ins[db]
    # the tasks and the database live in the private subnets
    private = {ref(s) for s in res["DatabaseSubnets"]["Properties"]
               ["SubnetIds"]}
    for k in private:
        assert not res[k]["Properties"].get("MapPublicIpOnLaunch"), k
        table = [a["Properties"]["RouteTableId"] for a in
                 of_type(t, "AWS::EC2::SubnetRouteTableAssociation").values()
                 if ref(a["Properties"]["SubnetId"]) == k]
        routes = [r["Properties"] for r in of_type(t, "AWS::EC2::Route")
                  .values() if r["Properties"]["RouteTableId"] in table]
        assert routes and all("GatewayId" not in r for r in routes), \
            k + " routes to the internet gateway"
    assert {ref(s) for s in svc["NetworkConfiguration"]
            ["AwsvpcConfiguration"]["Subnets"]} == private
    assert svc["NetworkConfiguration"]["AwsvpcConfiguration"][
        "AssignPublicIp"] == "DISABLED"
    azs = {json.dumps(res[k]["Properties"]["AvailabilityZone"])
           for k in private}
    assert len(private) == 2 and len(azs) == 2, "two AZs"


@check
def stack_database_private_encrypted_managed():
    t = stack()
    p = t["Resources"]["Database"]["Properties"]
    assert p["Engine"] == "postgres" and \
        str(p["EngineVersion"]).split(".")[0] == "15", p["EngineVersion"]
    assert p["PubliclyAccessible"] is False
    assert p["StorageEncrypted"] is True
    assert p["ManageMasterUserPassword"] is True
    assert "MasterUserPassword" not in p, "a password in the template"
    params = t["Resources"]["DatabaseParameters"]["Properties"]
    assert params["Parameters"]["rds.force_ssl"] == "1"


@check
def stack_secrets_come_from_secrets_manager():
    t = stack()
    res = t["Resources"]
    secrets = set(of_type(t, "AWS::SecretsManager::Secret"))
    td = res["TaskDefinition"]["Properties"]
    for c in td["ContainerDefinitions"]:
        for s in c.get("Secrets", []):
            v = s["ValueFrom"]
            name = ref(v) or (sub_text(v) or "").split("}")[0][2:] \
                .split(".")[0]
            assert name in secrets or name == "Database", \
                "%s: %s is not a Secrets Manager secret" % (s["Name"], v)
        for e in c.get("Environment", []):
            assert not re.search(r"TOKEN|PASSWORD|SECRET|KEY", e["Name"]), \
                "a secret as plain environment: " + e["Name"]
            assert "Ref" not in e["Value"] or \
                e["Value"]["Ref"] not in secrets, e["Name"]
    for k, p in t["Parameters"].items():
        assert not re.search(r"Token|Password|Secret|Key$", k), \
            "a secret as a parameter: " + k
    # the execution role reads exactly the secrets the containers use
    ex = res["ExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    read = [x for x in ex["Statement"]
            if x["Action"] == "secretsmanager:GetSecretValue"]
    used = set()
    for c in td["ContainerDefinitions"]:
        for s in c.get("Secrets", []):
            v = s["ValueFrom"]
            used.add(json.dumps(v if ref(v) else {"Fn::GetAtt": [
                "Database", "MasterUserSecret.SecretArn"]}, sort_keys=True))
    assert len(read) == 1 and {json.dumps(r, sort_keys=True)
                               for r in read[0]["Resource"]} == used, read


@check
def stack_runs_two_tasks_behind_the_health_check():
    t = stack()
    res = t["Resources"]
    assert t["Parameters"]["DesiredCount"]["Default"] >= 2
    svc = res["Service"]["Properties"]
    assert svc["DesiredCount"] == {"Ref": "DesiredCount"}
    assert svc["LaunchType"] == "FARGATE"
    tg = res["TargetGroup"]["Properties"]
    assert tg["HealthCheckPath"] == "/health" and tg["Port"] == 8080 and \
        tg["TargetType"] == "ip"
    lbs = svc["LoadBalancers"]
    assert [(x["ContainerName"], x["ContainerPort"]) for x in lbs] == \
        [("afu9", 8080)]
    https = res["HttpsListener"]["Properties"]
    assert https["Protocol"] == "HTTPS" and https["Certificates"] == \
        [{"CertificateArn": {"Ref": "CertificateArn"}}]
    http = res["HttpListener"]["Properties"]["DefaultActions"][0]
    assert http["Type"] == "redirect" and \
        http["RedirectConfig"]["Protocol"] == "HTTPS"
    lg = res["LogGroup"]["Properties"]
    assert lg["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    # the task's CPU and memory default to ecs-task.json's
    assert t["Parameters"]["TaskCpu"]["Default"] == task()["cpu"]
    assert t["Parameters"]["TaskMemory"]["Default"] == task()["memory"]
    # several tasks are safe only because executions are leased: the
    # engine must be on in the task (AFU9_ENGINE unset or not "0")
    for c in res["TaskDefinition"]["Properties"]["ContainerDefinitions"]:
        env = {e["Name"]: e["Value"] for e in c.get("Environment", [])}
        assert env.get("AFU9_ENGINE", "1") != "0", c["Name"]
    grace = int(re.search(r"CONFIG_DEFAULT_GRACE_MS\s+(\d+)",
                          read("orchestrator", "conf", "conf.h")).group(1))
    dereg = {a["Key"]: a["Value"] for a in tg["TargetGroupAttributes"]}
    assert grace / 1000 < int(dereg["deregistration_delay.timeout_seconds"]) \
        < 30, "deregistration delay between the grace and stopTimeout"


@check
def stack_checks_refuse_a_bad_stack():
    """The checks above, on a template broken the ways they look for."""
    global stack
    import yaml
    good = stack()
    cases = []
    b = copy.deepcopy(good)
    b["Resources"]["DatabaseFromTasks"]["Properties"].pop(
        "SourceSecurityGroupId")
    b["Resources"]["DatabaseFromTasks"]["Properties"]["CidrIp"] = \
        "0.0.0.0/0"
    cases.append((stack_network_reaches_only_what_it_must, b))
    b = copy.deepcopy(good)
    b["Resources"]["Database"]["Properties"]["PubliclyAccessible"] = True
    cases.append((stack_database_private_encrypted_managed, b))
    b = copy.deepcopy(good)
    c = b["Resources"]["TaskDefinition"]["Properties"][
        "ContainerDefinitions"][1]
    c["Environment"].append({"Name": "GITHUB_TOKEN", "Value": "ghp_x"})
    cases.append((stack_secrets_come_from_secrets_manager, b))
    b = copy.deepcopy(good)
    b["Parameters"]["DesiredCount"]["Default"] = 1
    cases.append((stack_runs_two_tasks_behind_the_health_check, b))
    real = stack
    try:
        for fn, bad in cases:
            stack = lambda bad=bad: bad  # noqa: E731
            try:
                fn()
            except AssertionError:
                continue
            raise AssertionError(fn.__name__ + " accepted a broken stack")
    finally:
        stack = real
    yaml.safe_dump(good)  # still a plain YAML document


# ---- documentation ----

@check
def configuration_reference_is_complete():
    doc = read("doc", "configuration.md")
    missing = sorted(v for v in source_variables() | set(env_example())
                     if "`%s`" % v not in doc)
    assert not missing, "doc/configuration.md lacks " + ", ".join(missing)
    keys = sorted(k for k in config_keys() if "`%s`" % k not in doc and
                  "`%s." % k not in doc and "`http.%s`" % k not in doc)
    assert not keys, "doc/configuration.md lacks keys " + ", ".join(keys)
    for block in re.findall(r"```json\n(.*?)```", doc, re.S):
        json.loads(block)


@check
def mcp_host_snippets_are_valid():
    doc = read("doc", "mcp-hosts.md")
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", doc,
                                                re.S)]
    assert len(blocks) >= 4, "want Claude Desktop and VS Code snippets"
    binaries = {"afu9", "afu9-github", "afu9-deploy", "afu9-observability"}
    afu9 = os.path.join(BUILD, "orchestrator", "afu9")
    for b in blocks:
        servers = b.get("mcpServers") or b.get("servers")
        assert servers, "a snippet without servers"
        remote = [s for s in servers.values() if s.get("type") == "http"]
        for s in remote:
            # the remote section: afu9's /mcp with a bearer token
            assert s["url"].endswith("/mcp"), s["url"]
            assert s["headers"]["Authorization"].startswith("Bearer "), s
        if remote:
            continue
        for name, s in servers.items():
            assert s["command"] in binaries, s["command"]
            if "servers" in b:
                assert s["type"] == "stdio"
        if "mcpServers" in b:
            # Claude Desktop's file is also an afu9 configuration.
            with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
                json.dump(b, f)
                f.flush()
                r = run([afu9, "serve", "--check-config", "--config",
                         f.name])
                assert r.returncode == 0, "afu9 refuses the snippet: " + \
                    r.stderr
    for cmd in re.findall(r"^claude mcp add .*$", doc, re.M):
        argv = cmd.split(" -- ", 1)[1].split()
        assert argv[0] in binaries, cmd
        r = run([os.path.join(BUILD, "orchestrator", "afu9") if argv[0] ==
                 "afu9" else os.path.join(BUILD, "servers",
                                          argv[0][5:], argv[0]), "--help"])
        assert r.returncode == 0, cmd
        if "--read-only" in argv:
            assert "--read-only" in r.stdout, cmd


@check
def doc_links_resolve():
    pages = ["README.md"] + ["doc/" + f for f in os.listdir(src("doc"))
                             if f.endswith(".md")]
    for p in pages:
        for link in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", read(p)):
            if re.match(r"^[a-z]+:", link):
                continue
            path = os.path.normpath(os.path.join(os.path.dirname(src(p)),
                                                 link))
            assert os.path.exists(path), "%s links to missing %s" % (p, link)
    readme = read("README.md")
    for d in ("architecture", "deployment", "configuration", "mcp-hosts"):
        assert "doc/%s.md" % d in readme, "README does not link %s.md" % d


def main():
    print("1..%d" % len(CHECKS))
    failed = 0
    for n, fn in enumerate(CHECKS, 1):
        name = fn.__name__.replace("_", " ")
        try:
            fn()
            print("ok %d - %s" % (n, name))
        except Skip as e:
            print("ok %d - %s # SKIP %s" % (n, name, e))
        except Exception as e:  # a failed check, whatever raised
            failed += 1
            print("not ok %d - %s" % (n, name))
            for line in ("%s: %s" % (type(e).__name__, e)).splitlines():
                print("# " + line)
        sys.stdout.flush()
    if "dir" in INSTALL:
        shutil.rmtree(INSTALL["dir"], ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
