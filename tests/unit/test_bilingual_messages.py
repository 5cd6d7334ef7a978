"""Every message a client can read exists in Chinese and English.

Two checks keep it so: every catalogue of messages (a `catalogue({...})` anywhere in services/
or gateway/) holds a Chinese and an English template for each key; and no place that makes a
problem (a domain error, `problem()` or any other `…problem` helper such as the gateway's
`send_problem`, a spreadsheet cell's error, a request validator's ValueError) is handed a plain
string literal or f-string: it takes a `Text`, which comes from a catalogue. A new English-only
message fails here.
"""

from __future__ import annotations

import ast
import importlib
import re
import string
from pathlib import Path

import pytest

from services.common import labels as common_labels
from services.common.i18n import Text

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*ROOT.glob("services/**/*.py"), *ROOT.glob("gateway/**/*.py")])
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")  # Chinese, or its punctuation

# Modules whose ValueErrors never reach a client: settings and the plan catalogue are read at
# start (a wrong file stops the service), the envelope is the services' own NATS messages, the
# overview reads the services' answers, and the supervisor and nats-server starter run servers.
VALUE_ERRORS_NOT_FOR_CLIENTS = {
    "services/common/settings.py",
    "services/common/envelope.py",
    "services/common/natsserver.py",
    "services/supervisor.py",
    "services/events/targets.py",
    "services/enterprises/catalogue.py",
    "gateway/overview.py",
}
# Calls whose message arguments reach a client, and which of their arguments are messages.
MESSAGE_FUNCTIONS = {"problem": (1, 2), "send_problem": (3,)}
SHEET_METHODS = {"error": (2,), "row_error": (1,)}


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _trees() -> dict[str, ast.Module]:
    return {_relative(p): ast.parse(p.read_text(encoding="utf-8")) for p in SOURCES}


def _domain_errors(trees: dict[str, ast.Module]) -> set[str]:
    """The names of DomainError and every class that derives from it (by name, transitively)."""
    bases: dict[str, set[str]] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                }
    found = {"DomainError"}
    while True:
        more = {name for name, parents in bases.items() if parents & found} - found
        if not more:
            return found
        found |= more


def _is_raw(node: ast.AST) -> bool:
    """A message written as plain text: a string literal, an f-string, or text added to one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _is_raw(node.left) or _is_raw(node.right)
    return False


def _name(func: ast.AST) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _raw_messages(path: str, tree: ast.Module, errors: set[str]) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        args: list[ast.AST] = []
        if name in errors and name != "SheetTooLarge" and name != "_Limit":
            args = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "detail")]
        elif name in ("SheetTooLarge", "_Limit"):
            args = []  # its first argument is a key of SHEET_LIMITS, checked below
        elif name in MESSAGE_FUNCTIONS:
            args = [node.args[i] for i in MESSAGE_FUNCTIONS[name] if i < len(node.args)]
            args += [k.value for k in node.keywords if k.arg in ("title", "detail")]
        elif name and name.endswith("problem"):  # any other helper that answers a problem
            args = [*node.args, *(k.value for k in node.keywords if k.arg in ("title", "detail"))]
        elif name in SHEET_METHODS and isinstance(node.func, ast.Attribute):
            args = [node.args[i] for i in SHEET_METHODS[name] if i < len(node.args)]
        elif name == "ValueError" and path not in VALUE_ERRORS_NOT_FOR_CLIENTS:
            args = node.args[:1]
        for keyword in node.keywords:
            if keyword.arg == "errors" and name in errors | set(MESSAGE_FUNCTIONS):
                for d in ast.walk(keyword.value):
                    if isinstance(d, ast.Dict):
                        args += [
                            v
                            for k, v in zip(d.keys, d.values, strict=True)
                            if isinstance(k, ast.Constant) and k.value == "msg"
                        ]
        found += [
            f"{path}:{node.lineno}: {name}({ast.unparse(a)[:60]})" for a in args if _is_raw(a)
        ]
    return found


def _catalogues(trees: dict[str, ast.Module]) -> list[tuple[str, str]]:
    """(module, name) of every `NAME = catalogue({...})` in services/ and gateway/."""
    out = []
    for path, tree in trees.items():
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and _name(node.value.func) == "catalogue"
            ):
                module = path.removesuffix(".py").replace("/", ".")
                out += [(module, t.id) for t in node.targets if isinstance(t, ast.Name)]
    return out


TREES = _trees()


def test_no_place_that_answers_a_client_is_given_an_english_only_string() -> None:
    errors = _domain_errors(TREES)
    assert {"Invalid", "SheetTooLarge", "OverlappingDesignation", "ReplayBusy"} <= errors
    raw = [line for path, tree in TREES.items() for line in _raw_messages(path, tree, errors)]
    assert raw == [], "messages without a Chinese wording (use a catalogue):\n" + "\n".join(raw)


def test_the_scan_finds_a_raw_message_when_there_is_one() -> None:
    tree = ast.parse(
        "raise Invalid(f'the period {p} is before 2000', loc=['period'])\n"
        "raise Conflict(MESSAGES('x'), errors=[{'loc': [], 'msg': 'taken'}])\n"
        "sheet.error(row, 'name', 'is required')\n"
        "raise ValueError('use YYYY-MM')\n"
        "raise NotFound(MESSAGES('not_found', id=1))\n"
        "await _problem(scope, send, 409, 'Request in progress', MESSAGES('x'))\n"
    )
    found = _raw_messages("services/x/models.py", tree, _domain_errors(TREES))
    assert [line.split(": ", 1)[1].split("(")[0] for line in found] == [
        "Invalid",
        "Conflict",
        "error",
        "ValueError",
        "_problem",
    ]


def test_every_sheet_limit_named_at_a_raise_site_has_both_wordings() -> None:
    used = {
        node.args[0].value
        for tree in TREES.values()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and _name(node.func) in ("SheetTooLarge", "_Limit")
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }
    assert used and used <= set(common_labels.SHEET_LIMITS)
    for zh, en in common_labels.SHEET_LIMITS.values():
        assert CJK.search(zh) and en and not CJK.search(en)


CATALOGUES = _catalogues(TREES)


def test_the_catalogues_are_found() -> None:
    modules = {module for module, _ in CATALOGUES}
    assert {
        "services.common.labels",
        "services.projects.labels",
        "services.enterprises.labels",
        "services.events.labels",
        "gateway.labels",
        "gateway.accounts.labels",
    } <= modules


@pytest.mark.parametrize(("module", "name"), CATALOGUES)
def test_every_key_of_a_catalogue_has_a_chinese_and_an_english_template(
    module: str, name: str
) -> None:
    templates = getattr(importlib.import_module(module), name).templates
    assert templates
    for key, pair in templates.items():
        assert isinstance(pair, tuple) and len(pair) == 2, key
        zh, en = pair
        assert CJK.search(zh), f"{module}.{name}[{key!r}] has no Chinese wording: {zh!r}"
        assert en.strip() and en != zh, f"{module}.{name}[{key!r}] has no English wording"
        for template in (zh, en):
            fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
            # `key` is the catalogue's own parameter: a template cannot be given a value for it
            assert "key" not in {f.split("!")[0].split(".")[0] for f in fields}, key


def test_every_problem_title_has_both_wordings() -> None:
    for status, title in common_labels.TITLES.items():
        assert isinstance(title, Text) and CJK.search(title.zh) and title.en, status
    assert {401, 403, 404, 413, 422, 429, 502, 503, 504} <= set(common_labels.TITLES)
