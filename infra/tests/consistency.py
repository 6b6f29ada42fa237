"""Consistency of infra/ with the code, derived from the repository (no list kept by hand).

Fails, naming what is missing, when:
  - a crate under functions/ has no entry in local.functions (infra/functions.tf), or an entry has no crate;
  - the portal table does not come from shared/store/tables.json, or an index / key attribute the code uses is
    not defined there;
  - an environment variable a function requires at start-up is not set for it (or one set is never read);
  - a route of docs/openapi.json has no integration (its x-portal-function has no HTTP entry), an operator
    route is not IAM-authorised, or an HTTP entry has no route;
  - a function's IAM statements lack an action (on the right resource) that its code can reach, or grant one it
    never calls;
  - an API route of docs/openapi.json matches no CloudFront API path pattern (web.tf; it would get the app's
    index.html), a pattern takes the app's paths, the SPA fallback is not the app behavior's viewer-request
    function (or custom_error_response is used), or the execute-api endpoint is left on;
  - a function can reach a partition-key constructor (or queries an index whose items live in a partition) that
    its `leading_keys` (the dynamodb:LeadingKeys condition of iam.tf) does not cover; see "partition keys" below;
  - the traveller details key (kms.tf) can be used by anyone but the roles whose functions.tf permissions name
    {details_key}: its policy hands crypto operations (or grants) to the account (IAM), its per-role statements
    are not derived from those permissions or lack the encryption-context condition, or a {details_key}
    statement mixes in other actions or resources; see details_key() below.
  - a queue is not wired the way the portal's queues are: a dead-letter queue without its depth alarm
    (local.dead_letter_queues, alarms.tf), a work queue missing from iam.tf's local.queue_arns (or a {queue:<key>}
    that is not in it), a Lambda consumer without ReportBatchItemFailures, without the poller's
    sqs:ReceiveMessage, or with a queue visibility timeout under 6 x its timeout, a work queue without a
    dead-letter queue, an SNS subscription to a queue without raw delivery or without a queue policy that admits
    only that topic (aws:SourceArn); see queues() below.

What "its code" means: starting from `main` in functions/<name>/src/main.rs, every fn reachable by name through
the crate's src/ (src/bin/ excluded: those are separate tools, not the Lambda) and the shared (and function
library) crates it depends on. Resolution is by name and deliberately over-approximate (a method call reaches every fn of that name), so
a missing permission or variable is never missed; `Type::name` calls resolve to that type's fn.

Environment rule (documented in docs/deploy.md):
  - `config::required("X")` and `std::env::var("X")` must be set (common_env, the entry's env, or its secrets);
  - `config::optional("X")` / `config::number("X", default, ..)` have defaults and may be left unset;
  - variables the Lambda runtime sets (AWS_REGION, AWS_LAMBDA_*, ...) are exempt;
  - CONDITIONAL lists a required variable that is only read in a mode the deployment turns off explicitly.
Run: python infra/tests/consistency.py [infra_dir]
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / ".venv" / "python-hcl2"))  # python-hcl2, kept apart from checkov's hcl2 fork
import hcl2  # noqa: E402

RUNTIME_ENV = re.compile(r"^(AWS_.*|_HANDLER|_X_AMZN_TRACE_ID|LAMBDA_TASK_ROOT|LAMBDA_RUNTIME_DIR|TZ)$")
TRACE = False  # --trace: show the call chain from main that reaches each finding
# variable -> (switch variable, value at which it is not read). portal_http::operator reads OPERATOR_KEY only
# when OPERATOR_AUTH = key, and OPERATOR_PRINCIPALS only in IAM mode (OPERATOR_AUTH = iam, or unset): each is
# required unless the entry sets the switch to the other mode, and reported as never read if it is set anyway.
CONDITIONAL = {
    "OPERATOR_KEY": ("OPERATOR_AUTH", "iam"),
    "OPERATOR_PRINCIPALS": ("OPERATOR_AUTH", "key"),
}

# SDK fluent call -> (IAM action, resource kind)
SDK_CALLS = {
    "query": ("dynamodb:Query", "table"),
    "get_item": ("dynamodb:GetItem", "table"),
    "put_item": ("dynamodb:PutItem", "table"),
    "update_item": ("dynamodb:UpdateItem", "table"),
    "delete_item": ("dynamodb:DeleteItem", "table"),
    "batch_get_item": ("dynamodb:BatchGetItem", "table"),
    "batch_write_item": ("dynamodb:BatchWriteItem", "table"),
    "transact_get_items": ("dynamodb:GetItem", "table"),
    "scan": ("dynamodb:Scan", "table"),
    "put_object": ("s3:PutObject", "s3object"),
    "get_object": ("s3:GetObject", "s3object"),
    "head_object": ("s3:GetObject", "s3object"),
    "delete_object": ("s3:DeleteObject", "s3object"),
    "copy_object": ("s3:PutObject", "s3object"),
    "list_objects_v2": ("s3:ListBucket", "s3bucket"),
    "send_email": ("ses:SendEmail", "ses"),
    "send_message": ("sqs:SendMessage", "queue"),
    "receive_message": ("sqs:ReceiveMessage", "queue"),
    "delete_message": ("sqs:DeleteMessage", "queue"),
    "get_secret_value": ("secretsmanager:GetSecretValue", "secret"),
    # shared/sealing (the traveller details key, {details_key})
    "generate_data_key": ("kms:GenerateDataKey", "kms"),
    "decrypt": ("kms:Decrypt", "kms"),
    "encrypt": ("kms:Encrypt", "kms"),
}
# TransactWriteItems has no IAM action of its own: each contained action needs its own.
TRANSACT_PARTS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


# ---------------------------------------------------------------- Rust source, read by name


# The infra tests run the whole check on dozens of copies that differ in one file: what is computed from a
# file's text alone is kept by that text (one parse per distinct text, not one per copy per crate).
@functools.lru_cache(maxsize=None)
def blank(src: str) -> str:
    """Comments and string/char literal contents replaced by spaces (same length, same offsets)."""
    out = list(src)
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out[i:j] = " " * (j - i)
            i = j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out[i:j] = [ch if ch == "\n" else " " for ch in src[i:j]]
            i = j
        elif c == "r" and re.match(r'r#*"', src[i:]) and not (i and (src[i - 1].isalnum() or src[i - 1] == "_")):
            hashes = re.match(r"r(#*)\"", src[i:]).group(1)
            end = src.find('"' + hashes, i + 2 + len(hashes))
            end = n if end < 0 else end + 1 + len(hashes)
            out[i + 2 + len(hashes) : end - 1 - len(hashes)] = " " * max(0, end - 1 - len(hashes) - (i + 2 + len(hashes)))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out[i + 1 : j] = [ch if ch == "\n" else " " for ch in src[i + 1 : j]]
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", src[i : i + 4] + src[i + 4 : i + 12]):
            m = re.match(r"'(\\[^']*|[^\\'])'", src[i:])
            if m:
                out[i + 1 : i + m.end() - 1] = " " * (m.end() - 2)
                i += m.end()
            else:
                i += 1
        else:
            i += 1
    return "".join(out)


def matching_brace(text: str, open_at: int) -> int:
    depth = 0
    for j in range(open_at, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(text) - 1


def matching_paren(text: str, open_at: int) -> int:
    depth = 0
    for j in range(open_at, len(text)):
        depth += {"(": 1, ")": -1}.get(text[j], 0)
        if depth == 0:
            return j
    return len(text)


def split_top(args: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in args:
        depth += {"(": 1, "<": 1, "[": 1, ")": -1, ">": -1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return out + [cur]


@dataclass
class Fn:
    name: str
    owner: str | None  # impl type
    path: Path
    body: str  # original text (strings kept)
    code: str  # blanked text
    params: int = 0  # parameters besides self
    param_names: tuple[str, ...] = ()  # `fn f(old: &X, new: &X)`: `old`, `new` are values in the body, not calls


def parse_fns(path: Path) -> list[Fn]:
    return [Fn(name, owner, path, body, code, params, names) for name, owner, body, code, params, names in _fns(path.read_text())]


@functools.lru_cache(maxsize=None)
def _fns(src: str) -> tuple[tuple[str, str | None, str, str, int, tuple[str, ...]], ...]:
    code = blank(src)
    # Drop #[cfg(test)] modules.
    for m in reversed(list(re.finditer(r"#\[cfg\(test\)\]\s*(pub\s+)?mod\s+\w+\s*\{", code))):
        end = matching_brace(code, m.end() - 1)
        code = code[: m.start()] + " " * (end + 1 - m.start()) + code[end + 1 :]
        src = src[: m.start()] + " " * (end + 1 - m.start()) + src[end + 1 :]
    impls = []
    for m in re.finditer(r"\bimpl\b(?:\s*<[^{]*?>)?\s+([^{;]+?)\s*\{", code):
        head = m.group(1)
        head = head.split(" for ")[-1] if " for " in head else head
        ty = re.match(r"[\w:]*?(\w+)\s*(<|$|\s)", head.strip() + " ")
        impls.append((m.end() - 1, matching_brace(code, m.end() - 1), ty.group(1) if ty else None))
    fns = []
    for m in re.finditer(r"\bfn\s+(\w+)", code):
        k = m.end()
        while k < len(code) and code[k] not in "{;":
            k += 1
        if k >= len(code) or code[k] == ";":
            continue
        end = matching_brace(code, k)
        owner = None
        for a, b, ty in impls:
            if a < m.start() < b:
                owner = ty
        sig = code[m.end() : k]
        po = sig.find("(")
        args = sig[po + 1 : matching_paren(sig, po)] if po >= 0 else ""
        params = len([a for a in split_top(args) if a.strip() and not re.match(r"^\s*(&\s*)?('\w+\s+)?(mut\s+)?self\b", a)])
        names = tuple(n.group(1) for a in split_top(args) if (n := re.match(r"^\s*(?:mut\s+)?([a-z_]\w*)\s*:", a)))
        fns.append((m.group(1), owner, src[k : end + 1], code[k : end + 1], params, names))
    return tuple(fns)


def crate_sources(crate: Path) -> list[Path]:
    return sorted(p for p in (crate / "src").rglob("*.rs") if "bin" not in p.relative_to(crate / "src").parts)


# A function crate's own Lambda entry points: not reachable by bare name from another function that links its
# library (the payment reconciler records through payment-webhooks' path; payment-webhooks sends the runner's
# decline email). A path that names one exactly still reaches it: `Type::from_env` for a type the calling crate
# does not define itself, or `module::handle` where `module` is the file it is in (sign-in-mailer's main calls
# `auth::mailer::Mailer::from_env` and `auth::mailer::handle`).
ENTRY_POINTS = {"main", "from_env", "handle", "run", "route"}


def shared_deps(repo: Path, crate: Path) -> list[Path]:
    """The shared crates a crate depends on, and the function crates whose library it links, transitively."""
    names = {}
    for d in [*(repo / "shared").iterdir(), *(p for p in (repo / "functions").iterdir() if p != crate)]:
        toml = d / "Cargo.toml"
        if toml.exists():
            m = re.search(r'^name\s*=\s*"([^"]+)"', toml.read_text(), re.M)
            if m:
                names[m.group(1)] = d
    deps, todo = [], [crate]
    while todo:
        c = todo.pop()
        for name, d in names.items():
            if d not in deps and re.search(rf"^{re.escape(name)}\s*[.=]", (c / "Cargo.toml").read_text(), re.M):
                deps.append(d)
                todo.append(d)
    return deps


def constants(repo: Path) -> dict[str, str]:
    out = {}
    for p in (repo / "shared").rglob("*.rs"):
        for m in re.finditer(r'\bconst\s+(\w+)\s*:\s*&(?:\'static\s+)?str\s*=\s*"([^"]*)"', p.read_text()):
            out[m.group(1)] = m.group(2)
    return out


@dataclass
class Usage:
    required_env: dict[str, str] = field(default_factory=dict)  # var -> where
    optional_env: dict[str, str] = field(default_factory=dict)
    actions: dict[tuple[str, str], str] = field(default_factory=dict)  # (action, resource) -> where
    unresolved: list[str] = field(default_factory=list)
    reached: list[Fn] = field(default_factory=list)  # every fn reachable from main
    parent: dict[int, Fn] = field(default_factory=dict)  # id(fn) -> a fn that reaches it (the chain from main)

    def chain(self, f: Fn) -> str:
        names = []
        while f is not None and len(names) < 30:
            names.append(f"{(f.owner + '::') if f.owner else ''}{f.name}")
            f = self.parent.get(id(f))
        return " <- ".join(names)


def code_usage(repo: Path, crate: Path) -> Usage:
    fns: list[Fn] = []
    for p in crate_sources(crate):
        fns += parse_fns(p)
    own_owners = {f.owner for f in fns if f.owner}
    linked_entries: list[Fn] = []  # entry points of linked function crates: reached only by an exact path
    linked_crates: dict[str, Path] = {}  # module name (traveller_details) -> a linked function crate's dir
    for d in shared_deps(repo, crate):
        linked = d.parent.name == "functions"
        if linked:
            cm = re.search(r'^name\s*=\s*"([^"]+)"', (d / "Cargo.toml").read_text(), re.M)
            if cm:
                linked_crates[cm.group(1).replace("-", "_")] = d
        for p in crate_sources(d):
            for f in parse_fns(p):
                (linked_entries if linked and f.name in ENTRY_POINTS else fns).append(f)
    by_name: dict[str, list[Fn]] = {}
    by_qual: dict[str, list[Fn]] = {}
    for f in fns:
        by_name.setdefault(f.name, []).append(f)
        if f.owner:
            by_qual.setdefault(f"{f.owner}::{f.name}", []).append(f)
    for f in linked_entries:
        if f.owner and f.owner not in own_owners:
            by_qual.setdefault(f"{f.owner}::{f.name}", []).append(f)
    owners = {f.owner for f in fns if f.owner} | {f.owner for f in linked_entries if f.owner and f.owner not in own_owners}
    # Our own module paths (`config::required`, `finance_exporter::handle`); other paths are external crates.
    modules = {"crate", "self", "super"}
    for c in [crate, *shared_deps(repo, crate)]:
        m = re.search(r'^name\s*=\s*"([^"]+)"', (c / "Cargo.toml").read_text(), re.M)
        if m:
            modules.add(m.group(1).replace("-", "_"))
        for p in crate_sources(c):
            modules.add(p.stem)
            modules |= set(p.relative_to(c / "src").parts[:-1])
    consts = constants(repo)

    mains = [f for f in fns if f.name == "main" and f.path == crate / "src" / "main.rs"]
    seen: set[int] = set()
    todo = list(mains)
    parent: dict[int, Fn] = {}

    def reach(src: Fn, targets: list[Fn]) -> None:
        for t in targets:
            parent.setdefault(id(t), src)
            todo.append(t)

    def call_path(f: Fn) -> str:
        names = []
        while f is not None and len(names) < 30:
            names.append(f"{(f.owner + '::') if f.owner else ''}{f.name}")
            f = parent.get(id(f))
        return " <- ".join(names)

    usage = Usage(parent=parent)
    while todo:
        f = todo.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        usage.reached.append(f)
        where = f"{f.path.relative_to(repo)}:{(f.owner + '::') if f.owner else ''}{f.name}"
        if TRACE:
            where += f" [{call_path(f)}]"
        code = f.code
        for m in re.finditer(r"\b((?:\w+::)+)(\w+)\b", code):
            q, name = m.group(1).split("::")[-2], m.group(2)
            if q == "Self" and f.owner:
                q = f.owner
            path = m.group(1).split("::")[:-1]
            if len(path) >= 2 and path[0] in linked_crates:
                # `traveller_details::State::from_env`: that crate's type, even when this crate has a type of
                # the same name (details-export's own State builds on traveller-details').
                home = linked_crates[path[0]]
                reach(f, [t for t in linked_entries if t.name == name and t.owner == q and home in t.path.parents])
            if q in owners:
                reach(f, by_qual.get(f"{q}::{name}", []))
            elif q in modules:
                reach(f, by_name.get(name, []))
                reach(f, [t for t in linked_entries if t.name == name and t.path.stem == q and q not in ("lib", "main")])
        bare = re.sub(r"\b(?:\w+::)+\w+\b", " ", code)
        # Names bound in the fn (`let new = NewLink {..}`, `for item in`, `|link|`): passed on, they are values.
        local = set(re.findall(r"\blet\s+(?:mut\s+)?([a-z_]\w*)\b", code)) | set(re.findall(r"\bfor\s+([a-z_]\w*)\s+in\b", code))
        local |= set(f.param_names)
        local |= {n for c in re.findall(r"\blet\s+\(([^)]*)\)", code) for n in re.findall(r"\b([a-z_]\w*)\b", c) if n != "mut"}
        local |= {n for c in re.findall(r"\|([^|]*)\|", code) for n in re.findall(r"\b([a-z_]\w*)\s*(?:[:,]|$)", c.strip())}
        # Values an AWS SDK call returned (`let out = ...send().await?;`): `out.items()` is the SDK's accessor.
        sdk_out = {m.group(1) for m in re.finditer(r"\blet\s+(?:mut\s+)?([a-z_]\w*)\s*=([^;]*)", code)
                   if re.search(r"\.\s*send\(\s*\)\s*\.\s*await", m.group(2))}
        # A call `name(`/`.name(`, or a fn passed by name (`.map_err(s3_err)`); not a field (`self.put`), not a
        # local value, not an accessor of an SDK output.
        for m in re.finditer(r"(\.\s*)?\b([a-z_]\w*)\b\s*(\(\s*\)|\(|(?=[,)]))", bare):
            if m.group(1) and not m.group(3).startswith("("):
                continue
            if not m.group(3) and m.group(2) in local:
                continue
            if m.group(1) and m.group(3).replace(" ", "") == "()":
                recv = re.search(r"\b([a-z_]\w*)\s*$", bare[: m.start()])
                if recv and recv.group(1) in sdk_out:
                    continue
            targets = by_name.get(m.group(2), [])
            if m.group(3).replace(" ", "") == "()":  # no argument: not a fn that needs one (e.g. the SDK's .send())
                targets = [t for t in targets if t.params == 0]
            reach(f, targets)
        # environment
        for m in re.finditer(r'\b(required|optional|number)\(\s*"([A-Z][A-Z0-9_]*)"', f.body):
            (usage.required_env if m.group(1) == "required" else usage.optional_env).setdefault(m.group(2), where)
        for m in re.finditer(r'env::var(?:_os)?\(\s*"([A-Z][A-Z0-9_]*)"\s*\)(\s*\.\s*(ok|unwrap_or)\w*)?', f.body):
            (usage.optional_env if m.group(2) else usage.required_env).setdefault(m.group(1), where)
        if "EnvFilter::try_from_default_env" in f.body or "EnvFilter::from_default_env" in f.body:
            usage.optional_env.setdefault("RUST_LOG", where)
        # AWS calls
        for m in re.finditer(r"\.\s*(\w+)\(\)", code):
            call = m.group(1)
            if call == "transact_write_items":
                continue
            if call not in SDK_CALLS:
                continue
            action, kind = SDK_CALLS[call]
            resource = kind
            if call == "query" or call == "scan":
                send = code.find(".send()", m.end())
                chain = f.body[m.end() : send if send > 0 else m.end() + 600]
                im = re.search(r"\.index_name\(\s*(?:[\w:]*::)?(\w+|\"[^\"]*\")\s*\)", chain)
                if im:
                    arg = im.group(1)
                    idx = arg.strip('"') if arg.startswith('"') else consts.get(arg)
                    if idx is None:
                        usage.unresolved.append(f"{where}: index name `{arg}` is not a constant of shared/")
                        continue
                    resource = f"index:{idx}"
            usage.actions.setdefault((action, resource), where)
        for part, action in TRANSACT_PARTS.items():
            if re.search(rf"\b{part}::builder\(\)", code):
                usage.actions.setdefault((action, "table"), where)
    return usage


# ---------------------------------------------------------------- partition keys (dynamodb:LeadingKeys)
#
# iam.tf puts `ForAllValues:StringLike dynamodb:LeadingKeys = leading_keys` on every DynamoDB statement of a
# function: a request whose partition key (for a GSI Query: the index's hash key value) matches none of the
# entry's patterns is AccessDenied. The table of what builds a partition key is read from the source:
#   - a fn named `*_pk` / `*_gsi<N>pk` (shared/store/src/keys.rs `booking_pk`, auth.rs `link_pk`, ...): the
#     pattern is its first `format!` string up to the first placeholder, then `*` (`{CONST}` expanded first);
#   - a const named `*_PK` / `*_GSI<N>PK` (`DUE_GSI2PK` = "DUE", `LEASE_PK`): its value, exactly; a `PREFIX_*`
#     one (`PREFIX_BOOKING_PK` = "B#") is a prefix: value then `*`;
#   - an inline site, `pk: format!("RUNLOCK#{reference}")` or `.key("pk", ..format!("X#..")..)` (also gsi<N>pk),
#     makes its enclosing fn a constructor of that pattern; `pk: SOME_CONST` makes the const one.
# A function reaches a fn constructor when the fn is reachable from its main, a const when a reachable fn names
# it. Every key-like literal ("UPPER#...") elsewhere must be a sort key (`*_sk` fn, `sk:` field, a const not
# named *_PK) or a parse (`strip_prefix`, `trim_start_matches`, `starts_with`): anything else is reported, so a
# new partition prefix cannot be built where this table does not see it.

PK_FN = re.compile(r"(?:^|_)(?:pk|gsi\d+pk)$")
SK_FN = re.compile(r"(?:^|_)(?:sk|gsi\d+sk)$")
PK_CONST = re.compile(r"(?:^|_)(?:PK|GSI\d+PK)$")
KEY_LITERAL = re.compile(r'"([A-Z][A-Z0-9_]*#|\{[A-Z][A-Z0-9_]*\})')
INLINE_PK = re.compile(
    r'(?:\b(?:pk|gsi\d+pk)\s*:\s*(?:Some\(\s*)?|\.key\(\s*"(?:pk|gsi\d+pk)"\s*,[^;]*?)format!\(\s*"([^"]*)"'
)
INLINE_PK_CONST = re.compile(
    r'(?:\b(?:pk|gsi\d+pk)\s*:\s*(?:Some\(\s*)?|\.key\(\s*"(?:pk|gsi\d+pk)"\s*,\s*(?:\w+::)*S\(\s*)(?:\w+::)*([A-Z][A-Z0-9_]*)\b'
)
PARSE_CALL = re.compile(r"(strip_prefix|trim_start_matches|starts_with|strip_suffix)\(\s*$")


@dataclass
class KeyCtor:
    name: str  # fn name or const name
    kind: str  # "fn" or "const"
    path: Path
    owner: str | None
    pattern: str  # StringLike pattern of the partition keys it builds
    gsi: str | None = None  # "gsi2pk" for an index's hash key value (DUE_GSI2PK): a leading key only of that index

    def label(self, repo: Path) -> str:
        q = f"{self.owner}::{self.name}" if self.owner else self.name
        return f"{q} ({self.path.relative_to(repo)})"


def key_sources(repo: Path) -> list[Path]:
    return [p for d in [*(repo / "shared").iterdir(), *(repo / "functions").iterdir()] if (d / "src").is_dir()
            for p in crate_sources(d)]


@functools.lru_cache(maxsize=None)
def strip_tests(src: str) -> str:
    code = blank(src)
    for m in reversed(list(re.finditer(r"#\[cfg\(test\)\]\s*(pub\s+)?mod\s+\w+\s*\{", code))):
        end = matching_brace(code, m.end() - 1)
        src = src[: m.start()] + " " * (end + 1 - m.start()) + src[end + 1 :]
    return src


def all_constants(repo: Path) -> dict[str, tuple[str, Path]]:
    out = {}
    for p in key_sources(repo):
        for m in re.finditer(r'\bconst\s+(\w+)\s*:\s*&(?:\'static\s+)?str\s*=\s*"([^"]*)"', strip_tests(p.read_text())):
            out[m.group(1)] = (m.group(2), p)
    return out


def key_pattern(fmt: str, consts: dict[str, tuple[str, Path]]) -> str:
    s = re.sub(r"\{([A-Z][A-Z0-9_]*)\}", lambda m: consts[m.group(1)][0] if m.group(1) in consts else m.group(0), fmt)
    i = s.find("{")
    return s if i < 0 else s[:i] + "*"


def sort_key_prefix_value(body: str, at: int) -> bool:
    """Is the literal at `at` the value of an expression attribute (`.expression_attribute_values(":p", ..
    format!("V#{id}#"))`) that the fn's key condition uses only as `begins_with(sk, :p)`? A sort-key prefix."""
    window = body[max(0, at - 160) : at]
    m = re.match(r'\.expression_attribute_values\(\s*":(\w+)"\s*,[^;]*?format!\(\s*$', window[window.rfind(".expression_attribute_values(") :])
    if not m:
        return False
    name = m.group(1)
    uses = re.findall(rf":{name}\b", body)
    prefix_uses = re.findall(rf"begins_with\(\s*(?:sk|gsi\d+sk)\s*,\s*:{name}\s*\)", body)
    # The definition itself is one use; every other use is a begins_with on a sort key.
    return bool(prefix_uses) and len(uses) == 1 + len(prefix_uses)


def key_constructors(repo: Path) -> tuple[list[KeyCtor], list[str]]:
    """Every partition-key constructor of the code, and the key-like literals that fit no rule."""
    consts = all_constants(repo)
    ctors: list[KeyCtor] = []
    problems: list[str] = []
    pk_consts = {n for n in consts if PK_CONST.search(n)}
    for p in key_sources(repo):
        for f in parse_fns(p):
            inline = [(m.start(1), m.group(1)) for m in INLINE_PK.finditer(f.body) if f.code[m.start()] != " "]
            pk_consts |= {m.group(1) for m in INLINE_PK_CONST.finditer(f.body)
                          if f.code[m.start()] != " " and m.group(1) in consts}
            if PK_FN.search(f.name):
                fm = re.search(r'format!\(\s*"([^"]*)"', f.body)
                if fm:
                    ctors.append(KeyCtor(f.name, "fn", p, f.owner, key_pattern(fm.group(1), consts)))
                else:
                    problems.append(f"{p.relative_to(repo)}: fn {f.name} is named like a partition-key constructor "
                                    f"but builds no format!(..) key; the LeadingKeys check cannot read its prefix")
                continue
            for _, fmt in inline:
                ctors.append(KeyCtor(f.name, "fn", p, f.owner, key_pattern(fmt, consts)))
            if SK_FN.search(f.name):
                continue
            inline_at = {at for at, _ in inline}
            for m in KEY_LITERAL.finditer(f.body):
                at = m.start() + 1
                if f.code[m.start()] != '"' or at in inline_at:
                    continue  # in a comment, or an inline partition key (above)
                lit = key_pattern(f.body[at : f.body.find('"', at)], consts)
                if not re.match(r"[A-Z][A-Z0-9_]*#", lit):
                    continue  # `{CONST}` that is not a key prefix
                before = f.code[max(0, m.start() - 80) : m.start()]
                if PARSE_CALL.search(before) or re.search(r"\b(?:sk|gsi\d+sk)\s*:\s*(?:Some\(\s*)?format!\(\s*$", before):
                    continue
                if sort_key_prefix_value(f.body, m.start()):
                    continue
                line = f.body.count("\n", 0, at) + 1
                problems.append(
                    f"{p.relative_to(repo)}: key-like literal \"{lit}\" in fn {f.name} (line {line} of the fn) is "
                    f"neither a partition-key constructor (fn *_pk, const *_PK, `pk: format!(..)`) nor a sort key "
                    f"(fn *_sk, `sk: format!(..)`): name it so the dynamodb:LeadingKeys check can see it"
                )
    for n in sorted(pk_consts):
        v, p = consts[n]
        ctors.append(KeyCtor(n, "const", p, None, v + "*" if n.startswith("PREFIX_") else v))
    for c in ctors:
        m = re.search(r"gsi(\d+)pk", c.name, re.I)
        c.gsi = f"gsi{m.group(1)}pk" if m else None
    return ctors, problems


def index_items(repo: Path, ctors: list[KeyCtor], tables: dict) -> dict[str, list[tuple[str, str, str | None]]]:
    """index -> (table partition pattern, where, index hash value) of the items that carry its hash key: a struct
    literal setting `pk: <constructor>` and `gsi<N>pk: ..` together. A Query of the index returns those items'
    keys, which the function may then read or write: their partition is a leading key too. The hash value is
    known when the literal sets it from a *_PK / *_GSI<N>PK constant or a string (`gsi3pk: UNEXPORTED_GSI3PK`):
    a function whose leading_keys do not cover it cannot query that partition of the index, so never gets
    those items (the finance exporter's UNEXPORTED and the traveller feed's TRAVELLER_EVENTS share one index)."""
    by_hash = {d["hash_key"]: idx for idx, d in tables["global_secondary_indexes"].items()}
    fn_ctors = {c.name: c.pattern for c in ctors if c.kind == "fn" and not c.gsi}
    const_ctors = {c.name: c.pattern for c in ctors if c.kind == "const" and not c.gsi}
    consts = all_constants(repo)
    out: dict[str, list[tuple[str, str, str | None]]] = {}
    for p in key_sources(repo):
        for f in parse_fns(p):
            for m in re.finditer(r"\bpk\s*:\s*([^,\n]+)", f.code):
                open_at, depth = None, 0
                for j in range(m.start(), -1, -1):
                    depth += {"}": 1, "{": -1}.get(f.code[j], 0)
                    if depth < 0:
                        open_at = j
                        break
                if open_at is None:
                    continue
                block = f.code[open_at : matching_brace(f.code, open_at) + 1]
                expr = f.body[m.start(1) : m.end(1)]
                pattern = None
                fm = re.search(r'format!\(\s*"([^"]*)"', expr)
                if fm:
                    pattern = key_pattern(fm.group(1), consts)
                else:
                    for name in re.findall(r"\b(\w+)\b", expr):
                        pattern = pattern or fn_ctors.get(name) or const_ctors.get(name)
                if not pattern:
                    continue
                for g in re.findall(r"\b(gsi\d+pk)\s*:", block):
                    if g in by_hash:
                        where = f"{p.relative_to(repo)}:{(f.owner + '::') if f.owner else ''}{f.name}"
                        out.setdefault(by_hash[g], []).append((pattern, where, hash_value(f, open_at, block, g, consts)))
    return out


def hash_value(f: Fn, open_at: int, block: str, g: str, consts: dict[str, tuple[str, Path]]) -> str | None:
    """The value a struct literal gives `g` (gsi<N>pk), when it is a key constant or a plain string."""
    m = re.search(rf"\b{g}\s*:", block)
    if not m:
        return None
    expr = f.body[open_at + m.end() : open_at + m.end() + 120].split(",")[0].split("\n")[0]
    lit = re.match(r'\s*(?:Some\(\s*)?"([^"{}]*)"', expr)
    if lit:
        return lit.group(1)
    c = re.match(r"\s*(?:Some\(\s*)?(?:\w+::)*([A-Z][A-Z0-9_]*)\b", expr)
    if c and PK_CONST.search(c.group(1)) and c.group(1) in consts:
        return consts[c.group(1)][0]
    return None


def reached_ctors(usage: Usage, ctors: list[KeyCtor]) -> list[KeyCtor]:
    fns = {(f.path, f.owner, f.name) for f in usage.reached}
    out = [c for c in ctors if c.kind == "fn" and (c.path, c.owner, c.name) in fns]
    for c in (c for c in ctors if c.kind == "const"):
        for f in usage.reached:
            if any(f.code[m.start()] != " " or (f.body[m.start() - 1 : m.start()] == "{" and f.body[m.end() : m.end() + 1] == "}")
                   for m in re.finditer(rf"\b{c.name}\b", f.body)):
                out.append(c)
                break
    return out


def covers(patterns: list[str], pattern: str) -> bool:
    """Does one of the StringLike `patterns` match every key `pattern` stands for (checked on two samples)?"""
    samples = [pattern.replace("*", s) for s in ("AE-10001", "x#y")] if "*" in pattern else [pattern]
    return any(all(fnmatch.fnmatchcase(s, lk) for s in samples) for lk in patterns)


# ---------------------------------------------------------------- HCL


def unq(s):
    return s[1:-1] if isinstance(s, str) and len(s) >= 2 and s[0] == '"' and s[-1] == '"' else s


def load_infra(infra: Path) -> dict:
    merged: dict[str, list] = {}
    for p in sorted(infra.glob("*.tf")):
        d = copy.deepcopy(_hcl(p.read_text()))
        for k, v in d.items():
            if isinstance(v, list):
                merged.setdefault(k, []).extend(v)
    return merged


@functools.lru_cache(maxsize=None)
def _hcl(text: str) -> dict:
    return hcl2.loads(text)


def resources(doc: dict, rtype: str) -> dict[str, dict]:
    out = {}
    for block in doc.get("resource", []):
        for t, named in block.items():
            if unq(t) == rtype:
                for name, body in named.items():
                    out[unq(name)] = body
    return out


def local_values(doc: dict) -> dict:
    out = {}
    for block in doc.get("locals", []):
        out.update({k: v for k, v in block.items() if not k.startswith("__")})
    return out


# ---------------------------------------------------------------- the checks


def allowed(statements: list[dict], action: str, kind: str) -> bool:
    for s in statements:
        if action not in [unq(a) for a in s.get("actions", [])]:
            continue
        for r in (unq(r) for r in s.get("resources", [])):
            if kind == "table" and r == "{table}":
                return True
            if kind.startswith("index:") and r in (f"{{table}}/index/{kind[6:]}", "{table}/index/*"):
                return True
            if kind == "s3object" and re.match(r"^\{\w+_bucket\}/.+", r):
                return True
            if kind == "s3bucket" and re.match(r"^\{\w+_bucket\}$", r):
                return True
            if kind == "ses" and r == "{ses_identities}":
                return True
            if kind in ("secret", "queue") and r.startswith("{" + kind + ":"):
                return True
            if kind == "kms" and r == "{details_key}":
                return True
    return False


def check(repo: Path = REPO, infra: Path | None = None) -> list[str]:
    infra = infra or repo / "infra"
    problems: list[str] = []
    doc = load_infra(infra)
    loc = local_values(doc)
    functions = {unq(k): v for k, v in (loc.get("functions") or {}).items()}
    common_env = set((loc.get("common_env") or {}).keys())

    # --- one Lambda per crate
    crates = sorted(p.name for p in (repo / "functions").iterdir() if (p / "Cargo.toml").exists())
    for c in crates:
        if c not in functions:
            problems.append(f"functions/{c} has no Lambda: add an entry \"{c}\" to local.functions in infra/functions.tf")
    for c in crates:
        toml = (repo / "functions" / c / "Cargo.toml").read_text()
        bins = re.findall(r'\[\[bin\]\]\s*name\s*=\s*"([^"]+)"\s*path\s*=\s*"src/main.rs"', toml)
        package = re.search(r'^name\s*=\s*"([^"]+)"', toml, re.M)
        if bins != [c] and not (not bins and package and package.group(1) == c):
            problems.append(
                f"functions/{c}: the Lambda binary (src/main.rs) must be named \"{c}\" so cargo lambda writes "
                f"target/lambda/{c}/bootstrap.zip, the artifact infra/lambda.tf deploys"
            )
    for f in functions:
        if f not in crates:
            problems.append(f"local.functions entry \"{f}\" has no crate functions/{f}")
    lam = resources(doc, "aws_lambda_function").get("function")
    if not lam or lam.get("for_each") != "${local.functions}":
        problems.append("aws_lambda_function.function must exist with for_each = local.functions")
    else:
        env_expr = str(lam.get("environment"))
        for part in ("local.common_env", "each.value.env", "each.value.secrets"):
            if part not in env_expr:
                problems.append(f"aws_lambda_function.function environment does not merge {part}")
    role = resources(doc, "aws_iam_role_policy").get("function")
    if not role or role.get("for_each") != "${local.functions}":
        problems.append("aws_iam_role_policy.function must exist with for_each = local.functions")

    # --- example.tfvars: every required variable, nothing undeclared
    variables = {}
    for block in doc.get("variable", []):
        for vname, body in block.items():
            variables[unq(vname)] = body
    example = infra / "example.tfvars"
    if example.exists():
        with example.open() as fh:
            given = {k for k in hcl2.load(fh) if not k.startswith("__")}
        for v in sorted(given - set(variables)):
            problems.append(f"infra/example.tfvars sets {v}, which infra/ does not declare")
        for v in sorted(set(variables) - given):
            if "default" not in variables[v]:
                problems.append(f"infra/example.tfvars lacks the required variable {v}")
    for vname, body in variables.items():
        if not unq(body.get("description") or ""):
            problems.append(f"variable {vname} has no description")

    # --- table from the shared definitions
    tables = json.loads((repo / "shared/store/tables.json").read_text())["tables"]["portal"]
    table = resources(doc, "aws_dynamodb_table").get("portal")
    defined_indexes: set[str] = set()
    if not table:
        problems.append("aws_dynamodb_table.portal is missing")
    else:
        for key in ("hash_key", "range_key"):
            v = table.get(key)
            if v != f"${{local.portal.{key}}}" and unq(v) != tables[key]:
                problems.append(f"aws_dynamodb_table.portal {key} is {v}, not tables.json's {tables[key]}")
        for dyn in table.get("dynamic", []):
            for name, body in dyn.items():
                if unq(name) == "global_secondary_index" and body.get("for_each") == "${local.portal.global_secondary_indexes}":
                    defined_indexes |= set(tables["global_secondary_indexes"])
        for gsi in table.get("global_secondary_index", []):
            defined_indexes.add(unq(gsi.get("name")))
        ttl = table.get("ttl", [{}])[0].get("attribute_name")
        if ttl not in ("${local.portal.ttl_attribute}", f'"{tables["ttl_attribute"]}"'):
            problems.append(f"aws_dynamodb_table.portal ttl attribute is {ttl}, not tables.json's {tables['ttl_attribute']}")
    if "${jsondecode(file(" not in str(loc.get("table_defs")) or "shared/store/tables.json" not in str(loc.get("table_defs")):
        problems.append("local.table_defs must be jsondecode(file(\".../shared/store/tables.json\"))")
    consts = constants(repo)
    tables_rs = (repo / "shared/store/src/tables.rs").read_text()
    for m in re.finditer(r"const\s+(INDEX_\w+)\s*:", tables_rs):
        idx = consts[m.group(1)]
        if idx not in tables["global_secondary_indexes"]:
            problems.append(f"index {idx} ({m.group(1)}) is used by the code but not defined in shared/store/tables.json")
        elif table and idx not in defined_indexes:
            problems.append(f"index {idx} ({m.group(1)}) is used by the code but aws_dynamodb_table.portal does not define it")
    attrs = set(tables["attributes"])
    store_src = "\n".join(p.read_text() for p in (repo / "shared/store/src").rglob("*.rs"))
    for a in sorted(set(re.findall(r"\b(gsi\d+(?:pk|sk))\b", store_src))):
        if a not in attrs:
            problems.append(f"key attribute {a} is used by shared/store but not declared in shared/store/tables.json")
    for idx, d in tables["global_secondary_indexes"].items():
        for k in ("hash_key", "range_key"):
            if d.get(k) and d[k] not in attrs:
                problems.append(f"index {idx} {k} {d[k]} is not a declared attribute in tables.json")

    # --- routes
    api = json.loads((repo / "docs/openapi.json").read_text())
    routed: set[str] = set()
    body = json.dumps(loc.get("api_body"))
    apis = resources(doc, "aws_apigatewayv2_api")
    if not apis or "local.api_body" not in json.dumps(apis):
        problems.append("aws_apigatewayv2_api must take body = jsonencode(local.api_body)")
    if "x-amazon-apigateway-integration" not in body or 'op[\\"x-portal-function\\"]' not in body:
        problems.append("local.api_body does not give every operation an x-amazon-apigateway-integration to its x-portal-function")
    if 'op[\\"x-portal-auth\\"] == \\"operator\\"' not in body or "awsSigv4" not in body:
        problems.append("local.api_body does not put IAM (awsSigv4) authorization on x-portal-auth = operator routes")
    if "payloadFormatVersion" not in body or '\\"2.0\\"' not in body:
        problems.append("local.api_body integrations must use payloadFormatVersion 2.0")
    for path, item in api["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or method not in ("get", "put", "post", "delete", "patch", "head", "options"):
                continue
            fn = op.get("x-portal-function")
            route = f"{method.upper()} {path}"
            if not fn:
                problems.append(f"route {route} has no x-portal-function in docs/openapi.json")
                continue
            routed.add(fn)
            if fn not in functions:
                problems.append(f"route {route} has no integration: function \"{fn}\" is not in local.functions")
            elif functions[fn].get("http") is not True:
                problems.append(f"route {route} has no integration: local.functions[\"{fn}\"].http is not true")
            if op.get("x-portal-auth") not in ("operator", "customer", "none", "webhook"):
                problems.append(f"route {route}: x-portal-auth must be operator, customer, webhook or none")
    for name, f in functions.items():
        if f.get("http") is True and name not in routed:
            problems.append(f"local.functions[\"{name}\"].http is true but no route of docs/openapi.json uses it")

    # --- one origin (web.tf): every API route reaches API Gateway through CloudFront, the app gets the rest
    problems += one_origin(doc, loc, api)

    # --- partition keys: every constructor a function reaches is in its leading_keys (iam.tf's condition)
    ctors, key_problems = key_constructors(repo)
    problems += key_problems
    idx_items = index_items(repo, ctors, tables)
    iam_doc = json.dumps([b for b in doc.get("data", []) if "aws_iam_policy_document" in json.dumps(b)])
    if not all(s in iam_doc for s in ("dynamodb:LeadingKeys", "ForAllValues:StringLike", "leading_keys")):
        problems.append(
            "data.aws_iam_policy_document.function does not put a ForAllValues:StringLike dynamodb:LeadingKeys "
            "condition (the entry's leading_keys) on the DynamoDB statements"
        )

    # --- the traveller details key: only the roles that call it, only with the sealing context
    problems += details_key(doc, functions)

    # --- queues: dead-letter alarms, {queue:<key>}, Lambda consumers, SNS subscriptions
    problems += queues(doc, loc, functions)

    # --- per function: environment and IAM
    for name in crates:
        if name not in functions:
            continue
        f = functions[name]
        usage = code_usage(repo, repo / "functions" / name)
        problems += [f"{name}: {u}" for u in usage.unresolved]
        env = {k: unq(v) for k, v in (f.get("env") or {}).items()}
        set_vars = common_env | set(env) | set((f.get("secrets") or {}).keys())
        for var, where in sorted(usage.required_env.items()):
            if var in set_vars or RUNTIME_ENV.match(var):
                continue
            cond = CONDITIONAL.get(var)
            if cond and env.get(cond[0]) == cond[1]:
                continue
            problems.append(
                f"{name}: environment variable {var} is required at start-up ({where}) but not set "
                f"in local.functions[\"{name}\"] (env, secrets) or local.common_env"
            )
        read = set(usage.required_env) | set(usage.optional_env)
        for var in sorted(set_vars - read):
            if var in common_env:
                continue
            problems.append(f"{name}: environment variable {var} is set but the function's code never reads it")
        for var in sorted(set_vars & read):
            cond = CONDITIONAL.get(var)
            if cond and env.get(cond[0]) == cond[1]:
                problems.append(
                    f"{name}: environment variable {var} is set but never read with {cond[0]} = {cond[1]} "
                    f"(remove it from local.functions[\"{name}\"].env, or change {cond[0]})"
                )
        statements = list(f.get("permissions") or [])
        secrets = f.get("secrets") or {}
        if secrets:
            # iam.tf's ReadOwnSecrets: GetSecretValue on exactly the entry's secrets, read at cold start.
            if ("secretsmanager:GetSecretValue", "secret") not in usage.actions:
                problems.append(
                    f"{name}: has secrets {sorted(secrets)} but its code never reads them at cold start "
                    f"(call portal_http::config::install_secrets(portal_secrets::load_from_env().await?) in main.rs)"
                )
            statements.append({"actions": ["secretsmanager:GetSecretValue"],
                               "resources": [f"{{secret:{unq(k)}}}" for k in secrets.values()]})
        for s in statements:
            for a in s.get("actions", []):
                if "*" in unq(a):
                    problems.append(f"{name}: wildcard action {unq(a)} in its IAM statements")
        for (action, kind), where in sorted(usage.actions.items()):
            if not allowed(statements, action, kind):
                res = {"table": "{table}", "s3object": "{<x>_bucket}/<prefix>", "s3bucket": "{<x>_bucket}",
                       "ses": "{ses_identities}", "secret": "{secret:<key>}", "queue": "{queue:<key>}",
                       "kms": "{details_key}"}.get(
                    kind, "{table}/index/" + kind[6:] if kind.startswith("index:") else kind)
                problems.append(
                    f"{name}: IAM lacks {action} on {res} (called in {where}); add it to "
                    f"local.functions[\"{name}\"].permissions"
                )
        # dynamodb:LeadingKeys
        leading = [unq(k) for k in (f.get("leading_keys") or [])]
        table_statements = [s for s in statements if any(unq(a).startswith("dynamodb:") for a in s.get("actions", []))]
        if table_statements and "leading_keys" not in f:
            problems.append(f"{name}: has DynamoDB permissions but no leading_keys in local.functions[\"{name}\"]")
        if leading and not table_statements:
            problems.append(f"{name}: has leading_keys but no DynamoDB permission (remove them)")
        for s in table_statements:
            if not all(unq(a).startswith("dynamodb:") for a in s.get("actions", [])):
                problems.append(f"{name}: a statement mixes dynamodb:* with other actions; the LeadingKeys "
                                f"condition would apply to them too (split it)")
        for k in leading:
            if k.strip("*?") == "" or k == "*":
                problems.append(f"{name}: leading_keys entry \"{k}\" matches every partition (least privilege)")
        if table_statements:
            queried = {resource_kind(unq(r))[6:] for s in table_statements for r in s.get("resources", [])
                       if resource_kind(unq(r)).startswith("index:")}
            hashes = {tables["global_secondary_indexes"][i]["hash_key"] for i in queried if i in tables["global_secondary_indexes"]}
            for idx in sorted(queried):
                for pattern, where, hash_val in idx_items.get(idx, []):
                    if hash_val is not None and not covers(leading, hash_val):
                        continue  # the function cannot query the index partition these items are in
                    if not covers(leading, pattern):
                        problems.append(
                            f"{name}: queries index {idx}, whose items have partition keys \"{pattern}\" "
                            f"({where}), but local.functions[\"{name}\"].leading_keys does not cover it (the "
                            f"function reads or writes what the query returns)"
                        )
            for c in reached_ctors(usage, ctors):
                if c.gsi and c.gsi not in hashes:
                    continue  # an index's hash value written into an item: the item's pk is the leading key
                if not covers(leading, c.pattern):
                    problems.append(
                        f"{name}: can reach {c.label(repo)}, which builds partition keys \"{c.pattern}\", but "
                        f"local.functions[\"{name}\"].leading_keys does not cover it (dynamodb:LeadingKeys "
                        f"would deny the request)"
                    )
        for s in statements:
            for a in (unq(a) for a in s.get("actions", [])):
                for r in (unq(r) for r in s.get("resources", [])):
                    kind = resource_kind(r)
                    if (a, kind) not in usage.actions and kind != "secret":
                        problems.append(
                            f"{name}: IAM grants {a} on {r} but the function's code never makes that call "
                            f"(least privilege: remove it from local.functions[\"{name}\"].permissions)"
                        )
    return problems


# KMS actions that use a key (or hand out its use): none may be granted by the details key's policy other than
# through the per-function statements.
KMS_USE = re.compile(
    r"^kms:(\*|.*\*.*|Decrypt|Encrypt|ReEncrypt\w*|GenerateDataKey\w*|GenerateMac|VerifyMac|Sign|Verify|"
    r"DeriveSharedSecret|CreateGrant|RetireGrant|Create\*)$"
)


def details_key(doc: dict, functions: dict) -> list[str]:
    """kms.tf: aws_kms_key.details takes data.aws_iam_policy_document.details_key, whose static statements
    (the account's administration) grant no use of the key, and whose only other statements are one per
    {details_key} function (for_each local.details_key_statements), principal that function's role, with the
    encryption-context condition (local.details_key_conditions). iam.tf puts the same condition on the role's
    statement. A {details_key} statement of functions.tf has kms:* actions and that one resource only."""
    problems: list[str] = []
    key = resources(doc, "aws_kms_key").get("details")
    if not key:
        return ["aws_kms_key.details (the traveller details key, kms.tf) is missing"]
    if unq(key.get("policy")) != "${data.aws_iam_policy_document.details_key.json}":
        problems.append("aws_kms_key.details must take policy = data.aws_iam_policy_document.details_key.json")
    if key.get("enable_key_rotation") is not True:
        problems.append("aws_kms_key.details must set enable_key_rotation = true")
    policy = None
    for block in doc.get("data", []):
        for t, named in block.items():
            if unq(t) == "aws_iam_policy_document" and "details_key" in {unq(n) for n in named}:
                policy = {unq(n): b for n, b in named.items()}["details_key"]
    if policy is None:
        return problems + ["data.aws_iam_policy_document.details_key (the details key policy) is missing"]
    for st in policy.get("statement", []):
        sid = unq(st.get("sid") or "?")
        actions = st.get("actions", [])
        if not isinstance(actions, list):
            problems.append(f"details key policy statement {sid}: actions must be a literal list")
            continue
        for a in (unq(a) for a in actions):
            if KMS_USE.match(a):
                problems.append(
                    f"details key policy statement {sid} grants {a}: only the per-function statements may use the "
                    f"key (the account keeps administration only, so no IAM policy reaches the values)"
                )
    for dyn in policy.get("dynamic", []):
        for dname, body in dyn.items():
            if unq(dname) != "statement":
                continue
            content = (body.get("content") or [{}])[0]
            text = json.dumps(content)
            if "local.details_key_statements" not in str(body.get("for_each")):
                problems.append("details key policy: a dynamic statement not over local.details_key_statements "
                                "(the {details_key} permissions of functions.tf)")
            if "aws_iam_role.function[statement.key].arn" not in text:
                problems.append("details key policy: the per-function statement's principal must be "
                                "aws_iam_role.function[statement.key].arn")
            if "local.details_key_conditions" not in text:
                problems.append("details key policy: the per-function statement lacks the encryption-context "
                                "condition (local.details_key_conditions)")
    role_doc = {}
    for block in doc.get("data", []):
        for t, named in block.items():
            if unq(t) == "aws_iam_policy_document":
                role_doc.update({unq(n): b for n, b in named.items() if unq(n) == "function"})
    if ("details_key_conditions" not in json.dumps(local_values(doc).get("function_statements"))
            or "statement.value.key_conditions" not in json.dumps(role_doc.get("function"))):
        problems.append("iam.tf: statements on {details_key} must carry local.details_key_conditions (key_conditions)")
    for name, f in functions.items():
        for st in f.get("permissions") or []:
            res = [unq(r) for r in st.get("resources", [])]
            if "{details_key}" not in res:
                continue
            acts = [unq(a) for a in st.get("actions", [])]
            if res != ["{details_key}"] or not all(a.startswith("kms:") for a in acts):
                problems.append(f"{name}: a {{details_key}} statement must have only kms: actions and only that "
                                f"resource (the encryption-context condition applies to the whole statement)")
    return problems


def number(v, loc: dict):
    """A number as the HCL gives it: a literal, simple arithmetic (`${6 * 60}`) or a local holding one; None for
    anything else (a reference, a function call)."""
    v = unq(v)
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return v
    if not isinstance(v, str):
        return None
    m = re.fullmatch(r"\$\{(.*)\}", v.strip(), re.S)
    expr = (m.group(1) if m else v).strip()
    lm = re.fullmatch(r"local\.(\w+)", expr)
    if lm:
        return number(loc[lm.group(1)], loc) if lm.group(1) in loc else None
    if re.fullmatch(r"[0-9\s*+()-]+", expr):
        return eval(expr, {"__builtins__": {}})  # digits and + - * ( ) only
    return None


def walk(v):
    """Every dict inside a parsed HCL value."""
    if isinstance(v, dict):
        yield v
        for x in v.values():
            yield from walk(x)
    elif isinstance(v, list):
        for x in v:
            yield from walk(x)


def policy_documents(doc: dict) -> dict[str, dict]:
    out = {}
    for block in doc.get("data", []):
        for t, named in block.items():
            if unq(t) == "aws_iam_policy_document":
                out.update({unq(n): b for n, b in named.items()})
    return out


def queues(doc: dict, loc: dict, functions: dict) -> list[str]:
    """The portal's SQS queues, wired alike (documents.tf, sign-in.tf, notifications.tf, schedules.tf):
      - a dead-letter queue (a redrive target, a schedule's dead_letter_config, or named *_dlq) is in
        local.dead_letter_queues, the for_each of the depth alarm (alarms.tf);
      - every other queue is in local.queue_arns (iam.tf), and every {queue:<key>} of functions.tf is a key of it;
      - a queue a Lambda consumes (aws_lambda_event_source_mapping) has a redrive policy to a dead-letter queue
        with a maxReceiveCount, a visibility timeout of at least 6 x the function's timeout (AWS's advice: a slow
        batch is not redelivered while it runs), and the mapping reports batch item failures; the function's
        role gets the poller's sqs:ReceiveMessage on it;
      - an SNS subscription to a queue uses raw delivery (the consumer reads the published message, not SNS's
        envelope), and the queue has a policy letting sns.amazonaws.com send only from that topic (aws:SourceArn)."""
    problems: list[str] = []
    qs = resources(doc, "aws_sqs_queue")
    ref = re.compile(r"aws_sqs_queue\.(\w+)\.(arn|name|id|url)")
    dlqs = {n for n in qs if n.endswith("_dlq")}
    redrive_of: dict[str, str] = {}
    for n, q in qs.items():
        rp = str(q.get("redrive_policy") or "")
        m = re.search(r"deadLetterTargetArn\s*=\s*aws_sqs_queue\.(\w+)\.arn", rp)
        if m:
            dlqs.add(m.group(1))
            redrive_of[n] = m.group(1)
            if not re.search(r"maxReceiveCount\s*=\s*[0-9]+", rp):
                problems.append(f"aws_sqs_queue.{n}: its redrive_policy needs a maxReceiveCount")
    for d in walk(doc.get("resource", [])):
        for dlc in d.get("dead_letter_config", []) if isinstance(d.get("dead_letter_config"), list) else []:
            m = ref.search(str(dlc.get("arn")))
            if m:
                dlqs.add(m.group(1))

    alarmed = {m.group(1) for v in (loc.get("dead_letter_queues") or {}).values() for m in [ref.search(str(v.get("queue")))] if m}
    depth = resources(doc, "aws_cloudwatch_metric_alarm").get("dlq_depth")
    if not depth or depth.get("for_each") != "${local.dead_letter_queues}":
        problems.append("aws_cloudwatch_metric_alarm.dlq_depth must exist with for_each = local.dead_letter_queues (alarms.tf)")
    for n in sorted(dlqs):
        if n not in alarmed:
            problems.append(
                f"dead-letter queue aws_sqs_queue.{n} has no depth alarm: add it to local.dead_letter_queues "
                f"(infra/alarms.tf)"
            )

    queue_arns = {unq(k): str(v) for k, v in (loc.get("queue_arns") or {}).items()}
    listed = {m.group(1) for v in queue_arns.values() for m in [ref.search(v)] if m}
    for n in sorted(set(qs) - dlqs):
        if n not in listed:
            problems.append(
                f"queue aws_sqs_queue.{n} is not in iam.tf local.queue_arns (functions name queues as {{queue:<key>}})"
            )
    for name, f in functions.items():
        for st in f.get("permissions") or []:
            for r in (unq(r) for r in st.get("resources", [])):
                m = re.fullmatch(r"\{queue:(\w+)\}", r)
                if m and m.group(1) not in queue_arns:
                    problems.append(f"{name}: {r} is not a key of iam.tf local.queue_arns")

    docs = policy_documents(doc)
    for mname, mapping in resources(doc, "aws_lambda_event_source_mapping").items():
        qm = ref.search(str(mapping.get("event_source_arn")))
        fm = re.search(r'aws_lambda_function\.function\["([^"]+)"\]', str(mapping.get("function_name")))
        if not qm or qm.group(1) not in qs:
            continue  # not an SQS mapping
        qname, q = qm.group(1), qs[qm.group(1)]
        where = f"aws_lambda_event_source_mapping.{mname}"
        if "ReportBatchItemFailures" not in [unq(t) for t in mapping.get("function_response_types") or []]:
            problems.append(
                f"{where}: function_response_types must be [\"ReportBatchItemFailures\"] (otherwise one failed "
                f"message retries the whole batch)"
            )
        if qname not in redrive_of:
            problems.append(f"aws_sqs_queue.{qname} (consumed by {where}) has no redrive_policy to a dead-letter queue")
        if not fm or fm.group(1) not in functions:
            problems.append(f"{where}: function_name must be aws_lambda_function.function[\"<entry>\"].arn")
            continue
        fn = fm.group(1)
        timeout = number(functions[fn].get("timeout"), loc)
        vis = number(q.get("visibility_timeout_seconds", 30), loc)
        if timeout is None or vis is None:
            problems.append(f"aws_sqs_queue.{qname}: cannot read its visibility timeout or {fn}'s timeout as a number")
        elif vis < 6 * timeout:
            problems.append(
                f"aws_sqs_queue.{qname}: visibility_timeout_seconds {vis} is under 6 x {fn}'s timeout of {timeout} s "
                f"({6 * timeout}): a batch still running would be delivered again"
            )
        if not any(
            "sqs:ReceiveMessage" in [unq(a) for a in st.get("actions", [])]
            and any(f"aws_sqs_queue.{qname}.arn" in str(r) for r in st.get("resources", []))
            for d in docs.values() for st in d.get("statement", [])
        ):
            problems.append(f"{fn}: no policy document grants the poller sqs:ReceiveMessage on aws_sqs_queue.{qname}")

    queue_policies = {m.group(1): str(p.get("policy")) for p in resources(doc, "aws_sqs_queue_policy").values()
                      for m in [ref.search(str(p.get("queue_url")))] if m}
    for sname, sub in resources(doc, "aws_sns_topic_subscription").items():
        if unq(sub.get("protocol")) != "sqs":
            continue
        where = f"aws_sns_topic_subscription.{sname}"
        qm = ref.search(str(sub.get("endpoint")))
        topic = re.search(r"aws_sns_topic\.(\w+)\.arn", str(sub.get("topic_arn")))
        if sub.get("raw_message_delivery") is not True:
            problems.append(
                f"{where}: raw_message_delivery must be true (the queue body is then the published message "
                f"itself, not SNS's JSON envelope around it)"
            )
        if not qm or not topic:
            problems.append(f"{where}: endpoint must be an aws_sqs_queue's arn and topic_arn an aws_sns_topic's arn")
            continue
        pm = re.search(r"data\.aws_iam_policy_document\.(\w+)\.json", queue_policies.get(qm.group(1), ""))
        statements = docs.get(pm.group(1), {}).get("statement", []) if pm else []
        if not any(
            "sqs:SendMessage" in [unq(a) for a in st.get("actions", [])]
            and any("sns.amazonaws.com" in str(pr.get("identifiers")) for pr in st.get("principals", []))
            and any(unq(c.get("variable")) == "aws:SourceArn" and f"aws_sns_topic.{topic.group(1)}.arn" in str(c.get("values"))
                    for c in st.get("condition", []))
            for st in statements
        ):
            problems.append(
                f"{where}: aws_sqs_queue.{qm.group(1)} needs an aws_sqs_queue_policy letting sns.amazonaws.com "
                f"sqs:SendMessage with an aws:SourceArn condition on aws_sns_topic.{topic.group(1)}.arn"
            )
    return problems


# Paths the static app owns (files and client-side routes): no API behavior may take them.
APP_PATHS = ["/", "/index.html", "/config.json", "/assets/app-0123abcd.js", "/sign-in", "/trips/AE-10001"]


def one_origin(doc: dict, loc: dict, api: dict) -> list[str]:
    """CloudFront (web.tf) in front of the API: each route of docs/openapi.json matches an API path pattern
    (else the route falls to the app behavior and gets index.html), no pattern takes the app's paths, the SPA
    fallback is a viewer-request function on the app behavior (not custom_error_response, which would rewrite
    the API's problem+json errors too), and the execute-api endpoint (a way around CloudFront) is off."""
    problems: list[str] = []

    def value(v):
        v = unq(v)
        m = re.fullmatch(r"\$\{local\.(\w+)\}", v) if isinstance(v, str) else None
        return unq(loc.get(m.group(1))) if m else v

    dists = resources(doc, "aws_cloudfront_distribution")
    if len(dists) != 1:
        return [f"one aws_cloudfront_distribution must serve the app and the API (found {len(dists)})"]
    (name, dist), = dists.items()
    where = f"aws_cloudfront_distribution.{name}"
    api_origins = {value(o.get("origin_id")) for o in dist.get("origin", [])
                   if "aws_apigatewayv2_domain_name." in str(o.get("domain_name"))}
    if not api_origins:
        problems.append(f"{where} has no origin on the API's custom domain (aws_apigatewayv2_domain_name)")
    patterns: list[str] = []
    for b in dist.get("ordered_cache_behavior", []):
        if value(b.get("target_origin_id")) in api_origins:
            patterns.append(value(b.get("path_pattern")))
    for dyn in dist.get("dynamic", []):
        for dname, body in dyn.items():
            if unq(dname) != "ordered_cache_behavior":
                continue
            content = (body.get("content") or [{}])[0]
            if value(content.get("target_origin_id")) not in api_origins:
                continue
            m = re.fullmatch(r"\$\{local\.(\w+)\}", str(body.get("for_each")))
            if not m or not isinstance(loc.get(m.group(1)), list):
                problems.append(f"{where}: the API behaviors' for_each must be a local list of path patterns")
                continue
            patterns += [unq(p) for p in loc[m.group(1)]]
    for path, item in api["paths"].items():
        sample = re.sub(r"\{[^}/]+\}", "x", path)
        if not any(fnmatch.fnmatchcase(sample, p) for p in patterns):
            methods = " ".join(m.upper() for m in item if m in ("get", "put", "post", "delete", "patch"))
            problems.append(
                f"route {methods} {path} is not covered by a CloudFront API path pattern ({sorted(patterns)}, "
                f"local.api_path_patterns in infra/web.tf): it would be served the app's index.html"
            )
    for p in patterns:
        taken = [a for a in APP_PATHS if fnmatch.fnmatchcase(a, p)]
        if taken:
            problems.append(f"CloudFront API path pattern {p} takes the app's paths {taken}")
    default = (dist.get("default_cache_behavior") or [{}])[0]
    if value(default.get("target_origin_id")) in api_origins:
        problems.append(f"{where}: the default behavior must be the app, not the API")
    if not any(unq(f.get("event_type")) == "viewer-request" for f in default.get("function_association", [])):
        problems.append(f"{where}: the default (app) behavior needs the viewer-request SPA function (extension-less paths -> /index.html)")
    if dist.get("custom_error_response") or any("custom_error_response" in json.dumps(list(d)) for d in dist.get("dynamic", [])):
        problems.append(
            f"{where} has custom_error_response: it applies to every behavior and would turn the API's problem+json "
            f"errors into index.html (the SPA fallback is the viewer-request function)"
        )
    for aname, a in resources(doc, "aws_apigatewayv2_api").items():
        if a.get("disable_execute_api_endpoint") is not True:
            problems.append(
                f"aws_apigatewayv2_api.{aname} must set disable_execute_api_endpoint = true (the execute-api "
                f"endpoint bypasses CloudFront and its WAF)"
            )
    return problems


def resource_kind(r: str) -> str:
    if r == "{table}":
        return "table"
    if r.startswith("{table}/index/"):
        return "index:" + r[len("{table}/index/") :]
    if re.match(r"^\{\w+_bucket\}/.+", r):
        return "s3object"
    if re.match(r"^\{\w+_bucket\}$", r):
        return "s3bucket"
    if r == "{ses_identities}":
        return "ses"
    if r == "{details_key}":
        return "kms"
    m = re.match(r"^\{(secret|queue):", r)
    return m.group(1) if m else r


def main(argv: list[str]) -> int:
    global TRACE
    TRACE = "--trace" in argv
    argv = [a for a in argv if a != "--trace"]
    infra = Path(argv[1]).resolve() if len(argv) > 1 else REPO / "infra"
    problems = check(REPO, infra)
    for p in problems:
        print(f"infra consistency: {p}", file=sys.stderr)
    if problems:
        print(f"infra consistency: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("infra consistency: ok (functions, tables, environment, routes, IAM, leading keys, one origin, queues)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
