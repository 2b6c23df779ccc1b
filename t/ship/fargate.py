"""ECS task definition and IAM policy checks: the RegisterTaskDefinition
input shape from botocore's ECS model, the Fargate rules that model does
not encode, IAM action names against botocore's service models, and a
small IAM evaluator (Allow statements, '*' and '?' wildcards; conditions
are not evaluated) to ask whether a policy grants an action."""
import os
import re

# Fargate task sizes: cpu units -> allowed memory in MiB.
FARGATE_SIZES = {
    256: [512, 1024, 2048],
    512: list(range(1024, 4096 + 1, 1024)),
    1024: list(range(2048, 8192 + 1, 1024)),
    2048: list(range(4096, 16384 + 1, 1024)),
    4096: list(range(8192, 30720 + 1, 1024)),
    8192: list(range(16384, 61440 + 1, 4096)),
    16384: list(range(32768, 122880 + 1, 8192)),
}
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
FARGATE_LOG_DRIVERS = ("awslogs", "splunk", "awsfirelens")
AWSLOGS_REQUIRED = ("awslogs-group", "awslogs-region", "awslogs-stream-prefix")
NOT_ON_FARGATE = ("links", "privileged", "hostname", "extraHosts",
                  "dockerSecurityOptions", "volumesFrom")

_models = {}


def model(service):
    if service not in _models:
        import botocore.session
        _models[service] = \
            botocore.session.get_session().get_service_model(service)
    return _models[service]


def validate_input(params):
    """The ParamValidator report for RegisterTaskDefinition, "" if valid."""
    from botocore.validate import ParamValidator
    shape = model("ecs").operation_model("RegisterTaskDefinition").input_shape
    report = ParamValidator().validate(params, shape)
    return report.generate_report() if report.has_errors() else ""


def _int(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _task_rules(t):
    p = []
    if t.get("networkMode") != "awsvpc":
        p.append("networkMode must be awsvpc on Fargate")
    if "FARGATE" not in t.get("requiresCompatibilities", []):
        p.append("requiresCompatibilities lacks FARGATE")
    cpu, mem = _int(t.get("cpu")), _int(t.get("memory"))
    if cpu not in FARGATE_SIZES or mem not in FARGATE_SIZES[cpu]:
        p.append("cpu %r / memory %r is not a Fargate size" %
                 (t.get("cpu"), t.get("memory")))
    for k in ("executionRoleArn", "taskRoleArn"):
        if not ROLE_ARN.match(t.get(k, "")):
            p.append("%s is not an IAM role ARN" % k)
    return p


def _container_rules(c, byname, t):
    p, n = [], c.get("name")
    for k in NOT_ON_FARGATE:
        if k in c:
            p.append("%s: %s is not supported on Fargate" % (n, k))
    for pm in c.get("portMappings", []):
        if "hostPort" in pm and pm["hostPort"] != pm.get("containerPort"):
            p.append("%s: hostPort must equal containerPort in awsvpc" % n)
    lc = c.get("logConfiguration")
    if lc:
        if lc.get("logDriver") not in FARGATE_LOG_DRIVERS:
            p.append("%s: log driver %s not on Fargate" % (n,
                     lc.get("logDriver")))
        if lc.get("logDriver") == "awslogs":
            for o in AWSLOGS_REQUIRED:
                if not lc.get("options", {}).get(o):
                    p.append("%s: awslogs needs %s" % (n, o))
            if not t.get("executionRoleArn"):
                p.append("%s: awslogs needs an execution role" % n)
    hc = c.get("healthCheck")
    if hc:
        cmd = hc.get("command", [])
        if not cmd or cmd[0] not in ("CMD", "CMD-SHELL") or len(cmd) < 2:
            p.append("%s: healthCheck command must start CMD/CMD-SHELL" % n)
        for k, lo, hi in (("interval", 5, 300), ("timeout", 2, 60),
                          ("retries", 1, 10), ("startPeriod", 0, 300)):
            if k in hc and not lo <= hc[k] <= hi:
                p.append("%s: healthCheck %s outside %d..%d" % (n, k, lo, hi))
    if "stopTimeout" in c and not 0 <= c["stopTimeout"] <= 120:
        p.append("%s: stopTimeout outside 0..120 on Fargate" % n)
    for d in c.get("dependsOn", []):
        tgt, cond = byname.get(d.get("containerName")), d.get("condition")
        if tgt is None or tgt is c:
            p.append("%s: dependsOn %s: no such other container" %
                     (n, d.get("containerName")))
            continue
        if cond == "HEALTHY" and "healthCheck" not in tgt:
            p.append("%s: HEALTHY dependency on %s, which has no "
                     "healthCheck" % (n, tgt["name"]))
        if cond in ("SUCCESS", "COMPLETE") and tgt.get("essential", True):
            p.append("%s: %s dependency on essential %s" % (n, cond,
                                                            tgt["name"]))
    sec = [s["name"] for s in c.get("secrets", [])]
    env = [e["name"] for e in c.get("environment", [])]
    for name in set(sec) & set(env):
        p.append("%s: %s is both a secret and in environment" % (n, name))
    if len(set(sec)) != len(sec) or len(set(env)) != len(env):
        p.append("%s: a variable is set twice" % n)
    if sec and not t.get("executionRoleArn"):
        p.append("%s: secrets need an execution role" % n)
    return p


def rules(t):
    """Fargate rules the API model does not check: a list of problems."""
    p = _task_rules(t)
    cs = t.get("containerDefinitions", [])
    byname = {c.get("name"): c for c in cs}
    if len(byname) != len(cs):
        p.append("container names are not unique")
    if not [c for c in cs if c.get("essential", True)]:
        p.append("no essential container")
    for c in cs:
        p += _container_rules(c, byname, t)
    total = sum(c.get("memory", 0) for c in cs)
    if _int(t.get("memory")) and total > _int(t["memory"]):
        p.append("containers reserve more memory than the task has")
    return p


def _as_list(v):
    return v if isinstance(v, list) else [v]


def _wild(pattern, s):
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                 for c in pattern)
    return re.match("^" + rx + "$", s, re.S) is not None


def policy_problems(pol, services):
    """Problems of one IAM policy document; services maps an IAM prefix
    to a botocore service name."""
    p = []
    if pol.get("Version") != "2012-10-17":
        p.append("Version must be 2012-10-17")
    sts = pol.get("Statement")
    if not isinstance(sts, list) or not sts:
        return p + ["no Statement list"]
    sids = [s.get("Sid") for s in sts if "Sid" in s]
    if len(set(sids)) != len(sids):
        p.append("duplicate Sid")
    for s in sts:
        if s.get("Effect") not in ("Allow", "Deny"):
            p.append("Effect must be Allow or Deny")
        acts = _as_list(s.get("Action", []))
        if not acts:
            p.append("statement without Action")
        for a in acts:
            m = re.match(r"^([a-z0-9-]+):([A-Za-z0-9]+)$", a)
            if not m:
                p.append("%r is not service:Action (no wildcards)" % a)
                continue
            svc = services.get(m.group(1))
            if svc is None:
                p.append("%s: service %s not expected" % (a, m.group(1)))
            elif m.group(2) not in model(svc).operation_names:
                p.append("%s: no such %s operation" % (a, svc))
        res = _as_list(s.get("Resource", []))
        if not res:
            p.append("statement without Resource")
        for r in res:
            if r != "*" and not re.match(
                    r"^arn:aws:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:\S+$", r):
                p.append("%r is not an ARN" % r)
    return p


def allows(pol, action, resource):
    """Does an Allow statement grant action (on resource, unless None)?"""
    for s in pol["Statement"]:
        if s.get("Effect") != "Allow":
            continue
        if not any(_wild(a.lower(), action.lower())
                   for a in _as_list(s["Action"])):
            continue
        if resource is None or any(_wild(r, resource)
                                   for r in _as_list(s["Resource"])):
            return True
    return False


def operations_called(directory, services):
    """(service, operation) for every string literal in the .c files of
    directory that names an operation of one of services."""
    lits = set()
    for fn in os.listdir(directory):
        if fn.endswith(".c"):
            with open(os.path.join(directory, fn), encoding="utf-8") as f:
                lits.update(re.findall(r'"([A-Z][A-Za-z]+)"', f.read()))
    return sorted((svc, op) for svc in services for op in lits
                  if op in model(svc).operation_names)
