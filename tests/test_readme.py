"""The README is true of the code: its console transcript comes out of a real console, its
configuration table matches .env.example and every variable the code reads, and every command it
shows is one the grammar and the command line accept.

Nothing here is a copy of the README: each test extracts what it checks from README.md, so
editing the README (or the code) without the other fails here.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import grammar
from bot.cli import APP_COMMANDS
from bot.gateway.clickatell_http.sandbox import build_parser
from bot.gateway_cli import GATEWAY_COMMANDS, split_json_flag

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
ENV_EXAMPLE = ROOT / ".env.example"
TRANSCRIPT_MARKER = "<!-- console-transcript"
CONSOLE_TIMEOUT = 120.0  # seconds; a passing run takes about ten

# --- reading the README ---------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A fenced code block: its info string, its lines, and the README line it starts on."""

    info: str
    lines: tuple[str, ...]
    start: int


def readme() -> str:
    return README.read_text(encoding="utf-8")


def code_blocks(text: str) -> list[Block]:
    blocks, lines = [], text.splitlines()
    index = 0
    while index < len(lines):
        fence = re.match(r"^\s*```(\S*)\s*$", lines[index])
        if not fence:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and not re.match(r"^\s*```\s*$", lines[end]):
            end += 1
        blocks.append(Block(fence.group(1), tuple(lines[index + 1 : end]), index + 1))
        index = end + 1
    return blocks


def prose(text: str) -> str:
    """The README without its code blocks (for inline code spans)."""
    return re.sub(r"^\s*```.*?^\s*```\s*$", "", text, flags=re.MULTILINE | re.DOTALL)


def inline_code(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", prose(text))


def section(text: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


# --- 1. the console transcript ----------------------------------------------------------------

PROMPT = "you> "
# The only normalization: the sandbox's message IDs are random.
MESSAGE_ID = re.compile(r"\b[0-9a-f]{32}\b")
# Lines whose presence depends on timing: a card's in-transit status (a delivery report may
# arrive before the card's first update, and card updates are coalesced) and the "on its way"
# reaction of a reply. The README may show them; the check does not require them.
TIMING_DEPENDENT = (
    re.compile(r"📤 .* — (Accepted by the gateway|Delivered to gateway) · "),
    re.compile(r":outbox_tray:$"),
)


def transcript_block(text: str) -> Block:
    marker = text.find(TRANSCRIPT_MARKER)
    assert marker >= 0, f"README has no {TRANSCRIPT_MARKER} marker before its console example"
    marker_line = text[:marker].count("\n") + 1
    following = [b for b in code_blocks(text) if b.start > marker_line]
    assert following, "no code block after the console-transcript marker"
    return following[0]


def normalize(line: str) -> str:
    return MESSAGE_ID.sub("<ID>", line.rstrip())


def events(lines: list[str]) -> list[tuple[str, ...]]:
    """Output lines grouped into events: a line at the left margin and the indented lines under
    it (a message and its body, a card update and what changed). Echoed input is left out."""
    grouped: list[list[str]] = []
    for raw in lines:
        line = normalize(raw)
        if not line or line.startswith(PROMPT):
            continue
        if line[0].isspace() and grouped:
            grouped[-1].append(line)
        else:
            grouped.append([line])
    return [tuple(event) for event in grouped]


def timing_dependent(line: str) -> bool:
    return any(pattern.search(line) for pattern in TIMING_DEPENDENT)


def required(event: tuple[str, ...]) -> tuple[str, ...] | None:
    """The event without its timing-dependent lines; None when nothing required is left."""
    head, *body = event
    if timing_dependent(head):
        return None
    kept = [line for line in body if not timing_dependent(line)]
    if body and not kept:
        return None
    return (head, *kept)


def occurs(expected: tuple[str, ...], actual: tuple[str, ...]) -> bool:
    """Same head line, and the expected body lines among the actual ones, in order."""
    if expected[0] != actual[0]:
        return False
    body = iter(actual[1:])
    return all(any(line == seen for seen in body) for line in expected[1:])


def missing_in_order(expected: list[tuple[str, ...]], actual: list[tuple[str, ...]]) -> list:
    """The expected events that do not occur in `actual` in the expected order."""
    missing, position = [], 0
    for event in expected:
        found = next((i for i in range(position, len(actual)) if occurs(event, actual[i])), None)
        if found is None:
            missing.append(event)
        else:
            position = found + 1
    return missing


def console_env(tmp_path: Path) -> dict[str, str]:
    """No Slack or Clickatell settings from the developer's environment; every non-loopback
    request would hit a closed proxy; this checkout's package."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "CLICKATELL_", "SMS_", "PYTHON"))
        and key.lower() not in ("http_proxy", "https_proxy", "no_proxy")
    }
    dead = "http://127.0.0.1:9"
    env.update(
        {
            "SMS_BOT_DB": str(tmp_path / "bot.sqlite3"),
            "SMS_CONSOLE_DB": str(tmp_path / "console.sqlite3"),
            "HTTP_PROXY": dead,
            "HTTPS_PROXY": dead,
            "NO_PROXY": "127.0.0.1,localhost",
            "PYTHONPATH": str(ROOT),
            "PYTHONIOENCODING": "utf-8",
        }
    )
    return env


def run_console(input_lines: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    work = tmp_path / "cwd"  # no .env of the developer's
    work.mkdir()
    return subprocess.run(
        [sys.executable, "-m", "bot", "console"],
        input="".join(f"{line}\n" for line in input_lines),
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=work,
        env=console_env(tmp_path),
        timeout=CONSOLE_TIMEOUT,
    )


def printf_lines(command: str) -> list[str]:
    """The lines a README `printf '…' | sms-bot console` command feeds the console."""
    match = re.match(r"^\$ printf '([^']*)' \| sms-bot console$", command)
    assert match, f"the transcript's command is not printf '…' | sms-bot console: {command!r}"
    return match.group(1).split("\\n")[:-1] if match.group(1).endswith("\\n") else []


def test_the_transcript_helpers_catch_a_changed_line() -> None:
    """The comparison fails on a changed, a missing or a reordered line (guards the guard)."""
    real = events(["#1 sms-bot:", "   a", "   b", "#2 sms-bot:", "   c"])
    assert not missing_in_order(events(["#1 sms-bot:", "   b", "#2 sms-bot:"]), real)
    assert missing_in_order(events(["#1 sms-bot:", "   x"]), real)
    assert missing_in_order(events(["#2 sms-bot:", "#1 sms-bot:"]), real)
    assert missing_in_order(events(["#3 sms-bot:"]), real)
    in_transit = ("#1 updated:", "   📤 +27 82 555 0103 — Delivered to gateway · <ID>")
    assert required(in_transit) is None
    assert required(("#1 updated:", "   ✅ +27 82 555 0103 — Received by recipient")) is not None


@pytest.mark.slow
def test_the_console_transcript_is_what_the_console_prints(tmp_path: Path) -> None:
    block = transcript_block(readme())
    lines = list(block.lines)
    assert lines and lines[0].startswith("$ "), "the example starts with the command that ran it"
    inputs = [line[len(PROMPT) :] for line in lines if line.startswith(PROMPT)]
    assert inputs, "the transcript has no input lines"
    assert printf_lines(lines[0]) == inputs, "the printf command and the you> lines differ"

    done = run_console(inputs, tmp_path)
    real = done.stdout.splitlines()
    shown = "\n".join(real) + "\n--- stderr ---\n" + done.stderr
    assert done.returncode == 0, shown
    assert "Traceback" not in done.stderr, shown

    echoed = [line[len(PROMPT) :] for line in real if line.startswith(PROMPT)]
    assert echoed == inputs, shown
    expected = [e for e in map(required, events(lines[1:])) if e is not None]
    assert len(expected) >= 8, "the transcript shows too little to check"
    missing = missing_in_order(expected, events(real))
    assert not missing, f"README lines not printed (in this order): {missing}\n{shown}"


def test_the_console_points_to_a_readme_section_that_exists() -> None:
    first = transcript_block(readme()).lines[1]
    hint = re.search(r'see "([^"]+)" in README\.md', first)
    assert hint, first
    assert re.search(rf"^## {re.escape(hint.group(1))}\s*$", readme(), re.M)


# --- 2. configuration ------------------------------------------------------------------------

# Read by the code but conventions of the terminal, not sms-bot settings: the README mentions
# them beside the table instead of in it (and .env.example leaves them out).
TERMINAL_CONVENTIONS = frozenset({"TERM", "NO_COLOR"})
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def table_defaults(text: str) -> dict[str, str]:
    """Each variable of the Configuration table with its last cell (the default)."""
    rows = [line for line in section(text, "Configuration").splitlines() if line.startswith("|")]
    assert len(rows) > 2, "the Configuration section has no table"
    defaults: dict[str, str] = {}
    for row in rows[2:]:  # after the header and the |---| line
        cells = row.split("|")
        found = re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[1])
        assert found, f"a configuration row names no variable: {row!r}"
        defaults.update(dict.fromkeys(found, cells[-2].strip()))
    return defaults


def table_variables(text: str) -> set[str]:
    return set(table_defaults(text))


def env_example_lines() -> dict[str, bool]:
    """Every variable .env.example lists: True when it is set, False when commented out
    (`# NAME=value`: listed, but a copy passed to systemd or a container leaves it alone)."""
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    return {
        name: not comment for comment, name in re.findall(r"^(#\s?)?([A-Z][A-Z0-9_]*)=", text, re.M)
    }


def env_example_variables() -> set[str]:
    return set(env_example_lines())


def _mentions_env(node: ast.AST) -> bool:
    """`env` (a mapping of variables handed around) or `os.environ`; a bare `environ` is a WSGI
    request's, whose keys are not environment variables."""
    return bool(re.search(r"\benv\b|\bos\.environ\b", ast.unparse(node)))


def _env_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if _ENV_NAME.match(node.value) else None
    return None


def variables_read(tree: ast.AST) -> set[str]:
    """Names the code reads from the environment: `env.get("X")`, `os.environ["X"]`,
    `"X" in env`, and helpers handed the environment (`_text(env, "X")`)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        candidates: list[ast.AST] = []
        if isinstance(node, ast.Call):
            func = node.func
            reads = isinstance(func, ast.Attribute) and func.attr in ("get", "getenv", "pop")
            if reads and (_mentions_env(func.value) or ast.unparse(func.value) == "os"):
                candidates = node.args[:1]
            if any(_mentions_env(arg) for arg in node.args if isinstance(arg, ast.Name)):
                candidates = list(node.args)
        elif isinstance(node, ast.Subscript) and _mentions_env(node.value):
            candidates = [node.slice]
        elif isinstance(node, ast.Compare) and any(_mentions_env(c) for c in node.comparators):
            candidates = [node.left]
        names.update(name for c in candidates if (name := _env_name(c)))
    return names


def code_variables() -> set[str]:
    names: set[str] = set()
    for path in sorted((ROOT / "bot").rglob("*.py")):
        names |= variables_read(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return names


def test_the_env_reader_finds_every_kind_of_read() -> None:
    source = """
import os
def f(env):
    a = _text(env, "ALPHA")
    b = os.environ.get("BRAVO")
    c = (os.environ if env is None else env).get("CHARLIE", "")
    d = "DELTA" in env
    e = os.environ["ECHO"]
    f = other.get("NOT_ENV")
    g = environ.get("REQUEST_METHOD")  # a WSGI environ
"""
    assert variables_read(ast.parse(source)) == {"ALPHA", "BRAVO", "CHARLIE", "DELTA", "ECHO"}


def test_the_configuration_table_and_env_example_list_the_same_variables() -> None:
    in_table, in_example = table_variables(readme()), env_example_variables()
    assert in_table - in_example == set(), "in the README table but not in .env.example"
    assert in_example - in_table == set(), "in .env.example but not in the README table"


def test_env_example_sets_only_the_required_variables() -> None:
    # Anything else set there (HOST=127.0.0.1, SMS_BOT_DB=./…, even an empty value) would
    # override the values the systemd unit and the container recipe give.
    defaults = table_defaults(readme())
    required = {name for name, default in defaults.items() if default.startswith("required")}
    lines = env_example_lines()
    assert {name for name, is_set in lines.items() if is_set} == required


def test_every_variable_the_code_reads_is_documented() -> None:
    read = code_variables()
    # The reader must see the settings it is meant to guard (else it checks nothing).
    assert {"SLACK_BOT_TOKEN", "PORT", "SMS_LOW_BALANCE", "SMS_CONSOLE_DB"} <= read, read
    settings = read - TERMINAL_CONVENTIONS
    assert settings - table_variables(readme()) == set(), "read by bot/, not in the README table"
    text = prose(readme())
    for name in read & TERMINAL_CONVENTIONS:
        assert f"`{name}`" in text, f"{name} is read by bot/ but not mentioned in the README"


# --- 3. commands and scripts -------------------------------------------------------------------

# The placeholders of the usage lines (grammar.USAGE, the §4 synopsis, the sandbox's options):
# a command containing one is a pattern, whose command words are checked, not its arguments.
PLACEHOLDER = re.compile(
    r"\b(TO|TEXT|ID|NUMBER|VOUCHER|NAME|SENDER|WHEN|CLIENT_ID|CLIMSGID|N|SECONDS|URL|U|P|F|"
    r"CREDITS|FILE|HOST|COMMAND|MEMBER)\b|[\[\]|…]"
)
SLASH_WORDS = {word for word, _, _ in grammar.USAGE}
CLI_WORDS = {*APP_COMMANDS, "sandbox", *GATEWAY_COMMANDS}


def command_lines(text: str) -> Iterator[str]:
    """Every command the README shows: lines of code blocks (without a `$ ` prompt, a `you> `
    echo or leading VAR=value assignments, each part of a pipeline) and inline code spans."""
    candidates = []
    for block in code_blocks(text):
        prompted = any(line.startswith("$ ") for line in block.lines)
        for line in block.lines:
            # A block with `$ ` prompts shows output too: only its commands and console input.
            if not prompted or line.startswith(("$ ", PROMPT)):
                candidates.append(line)
    candidates += inline_code(text)
    for raw in candidates:
        line = raw.strip()
        for prefix in ("$ ", PROMPT):
            line = line.removeprefix(prefix)
        line = re.split(r"\s{2,}", line)[0]  # a usage line's description
        for part in line.split(" | "):
            part = re.sub(r"^(?:[A-Z][A-Z0-9_]*=\S*\s+)+", "", part.strip())
            part = part.removeprefix(".venv/bin/")
            if re.match(r"^(/sms|sms-bot|scripts/run)(\s|$)", part):
                yield part


def is_pattern(words: str) -> bool:
    return bool(PLACEHOLDER.search(words))


def slash_problem(command: str) -> str | None:
    rest = command[len("/sms") :].strip()
    if is_pattern(rest) or rest.lower() in SLASH_WORDS:
        words = rest.replace("[", " ").replace("]", " ").split()
        if words and words[0] not in SLASH_WORDS | {w.split()[0] for w in SLASH_WORDS}:
            return f"unknown /sms command {words[0]!r}"
        return None
    try:
        grammar.parse_text(rest)
    except grammar.UsageError as error:
        return str(error)
    return None


def cli_problem(words: list[str]) -> str | None:
    """Why `sms-bot WORDS` would be a usage error (None when the command line accepts it)."""
    if not words or words[0] in ("--help", "-h", "help", "--version"):
        return None
    word, rest = words[0], words[1:]
    if word in APP_COMMANDS:
        return f"{word} takes no arguments" if rest else None
    if word == "sandbox":
        if "--help" in rest or "-h" in rest:
            return None
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # argparse prints its usage
                build_parser("sms-bot sandbox").parse_args(rest)
        except SystemExit:
            return f"sandbox refuses {rest}"
        return None
    if word not in GATEWAY_COMMANDS:
        return f"unknown sms-bot command {word!r}"
    if "--help" in rest or "-h" in rest:
        return None
    kept, _ = split_json_flag(words)
    try:
        grammar.parse_argv(kept)
    except grammar.UsageError as error:
        return str(error)
    return None


def cli_pattern_problem(command: str) -> str | None:
    """A usage pattern such as `sms-bot status ID | cancel ID | …`: its command words exist."""
    words = command.replace("[", " ").replace("]", " ").split()
    word = words[1] if len(words) > 1 else "serve"
    known = CLI_WORDS | {"--help", "--version", "help"}
    return None if word in known or word.startswith("--") else f"unknown command {word!r}"


def cli_words(command: str) -> list[str]:
    words = shlex.split(command)
    return words[1:]  # after sms-bot or scripts/run


def problems(text: str) -> list[str]:
    found = []
    for command in command_lines(text):
        if command.startswith("/sms"):
            problem = slash_problem(command)
        elif is_pattern(command):
            problem = cli_pattern_problem(command)
        else:
            problem = cli_problem(cli_words(command))
        if problem:
            found.append(f"{command!r}: {problem}")
    return found


def test_every_command_in_the_readme_is_accepted() -> None:
    text = readme()
    commands = list(command_lines(text))
    slash = {c.split()[1] for c in commands if c.startswith("/sms ") and len(c.split()) > 1}
    cli = {c.split()[1] for c in commands if c.startswith("sms-bot ") and len(c.split()) > 1}
    # Every slash command and every sms-bot command appears with an example.
    assert {w.split()[0] for w in SLASH_WORDS} <= slash, slash
    assert set(CLI_WORDS) <= cli, cli
    assert problems(text) == []


def test_a_broken_command_in_the_readme_is_caught() -> None:
    broken = (
        "```sh\n$ sms-bot balance --jsn\nsms-bot: output is not a command\n"
        "$ PORT=1 sms-bot frobnicate\n$ sms-bot sandbox --port many\n```\n"
        "`/sms send 27821234567` and `/sms redeem 12` and `/sms frob NUMBER`\n"
        "```text\n/sms status not-an-id!\n```\n"
    )
    found = problems(broken)
    assert len(found) == 7, found
    assert not any("output is not a command" in problem for problem in found)


def test_the_scripts_and_files_named_exist() -> None:
    text = readme()
    for name in sorted(set(re.findall(r"(?<![\w/.-])(scripts/[\w.-]+|\.ci/run)", text))):
        assert (ROOT / name).is_file(), f"{name} is named in the README but does not exist"
    first = code_blocks(text)[0]
    run = [line.split()[0] for line in first.lines if line.strip()]
    assert run == ["scripts/run", "scripts/test"], "the README must open with the two commands"
    executed = {c.split()[0] for c in command_lines(text) if c.startswith("scripts/")}
    for name in {*run, *executed, ".ci/run"}:
        assert os.access(ROOT / name, os.X_OK), f"{name} is run by the README but not executable"
    for target in re.findall(r"\]\(([^)#:]+)\)", text):  # relative links
        assert (ROOT / target).exists(), f"the README links to {target}, which does not exist"
