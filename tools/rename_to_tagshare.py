"""Move every reference to the packages node, protocol and cli under `tagshare.` (issue 12).

    python tools/rename_to_tagshare.py [ROOT] [--check] [--no-ruff]

The repository keeps its folders node/, protocol/ and cli/; pip installs them as
tagshare.node, tagshare.protocol and tagshare.cli. This script rewrites a whole tree
to match, and may be run again at any time: on a tree already rewritten it changes
nothing. What it rewrites:

- Python import statements: `from node.x import y`, `from protocol import z`,
  `import node.x as y`, `import cli` (-> `from tagshare import cli`);
- inside Python string literals: import statements (`-c` snippets such as
  "from cli.main import main; main()"), `python -m cli.main`, a "-m" argument followed
  by "cli.main", entry points "cli.main:main", and a string that is exactly a dotted
  path to a module of the tree (or a name in one) given to setattr, delattr, patch,
  import_module, PackageLoader, find_spec or resolve_name ("node.sync.WAKE_INTERVAL");
- other text files (Markdown, Makefile, shell, TOML, YAML, systemd units): import
  statements, `-m cli.main`, entry points "cli.main:main";
- pyproject.toml: the packages are listed under [tool.setuptools] with a package-dir
  mapping (regenerated from the folders that hold an __init__.py, so a subpackage added
  later is listed too), package-data keys, mypy overrides, and isort's first party.

Words such as "node" in prose, variables named `node` and file names like "node.db"
are left alone: a dotted name in a string is rewritten only in the places above.
Afterwards it lists what a human should look at: imports it could not rewrite
safely, strings and prose that still name a module the old way, lines now over the
length limit. With ruff installed (next to this Python or on PATH) it re-sorts the
imports of the files it changed.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import shutil
import subprocess
import sys
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "tagshare"
OLD = ("node", "protocol", "cli")
OLD_RE = "|".join(OLD)
LINE_LIMIT = 100
SKIP_DIRS = {".git", ".venv", "venv", "build", "dist", "__pycache__", ".mypy_cache",
             ".ruff_cache", ".pytest_cache", ".hypothesis", ".schemathesis", "node_modules"}
TEXT_NAMES = {"Makefile", "run"}
TEXT_SUFFIXES = {".md", ".rst", ".txt", ".sh", ".toml", ".cfg", ".ini", ".yaml", ".yml",
                 ".service", ".html"}
# Calls whose first argument, a string, names a module or a name in one.
TARGET_CALLS = {"setattr", "delattr", "patch", "import_module", "PackageLoader", "find_spec",
                "resolve_name", "getattr_static"}

DOTTED = rf"(?:{OLD_RE})(?:\.\w+)*"
# `from X import`: X may already carry the prefix (then it is left alone).
FROM_IMPORT = re.compile(rf"(?<![\w.])(from\s+)({DOTTED})(\s+import\b)")
# `import X as Y`, and a bare `import X` ending its statement.
IMPORT_AS = re.compile(rf"(?<![\w.])(?<!\bfrom\s{PREFIX}\s)(import\s+)({DOTTED})(\s+as\s+\w+)")
IMPORT_BARE = re.compile(rf"(?<![\w.])(?<!\bfrom\s{PREFIX}\s)import\s+({OLD_RE})(?=\s*(?:;|$))",
                         re.MULTILINE)
DASH_M = re.compile(rf"(?<![\w-])(-m\s+)({DOTTED})\b(?![\w-])")
ENTRY_POINT = re.compile(rf"""(["'])({DOTTED}):(\w+)\1""")
WHOLE_DOTTED = re.compile(rf"({OLD_RE})((?:\.\w+)+)(:\w+)?")
SKIP_MARK = "rename_to_tagshare: " + "leave this file as it is"  # split: not in this file
PRAGMA = re.compile(r"\s*#\s*(?:type:|noqa|pyright:|pylint:).*$")
REPO_ON_PATH = re.compile(r"sys\.path\.insert\(0, str\((ROOT|REPO)\)\)|PYTHONPATH")
MENTION = re.compile(rf"(?<![\w./-])({OLD_RE})((?:\.[A-Za-z_]\w*)+)")


@dataclass
class Report:
    changed: dict[Path, list[str]] = field(default_factory=dict)
    leftovers: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)

    def change(self, path: Path, line: int, old: str, new: str) -> None:
        self.changed.setdefault(path, []).append(f"{line}: {old.strip()!s} -> {new.strip()!s}")


class Tree:
    """The folders node/, protocol/, cli/ of ROOT: which dotted names are modules."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def is_module(self, parts: list[str]) -> bool:
        base = self.root.joinpath(*parts)
        return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()

    def names_module(self, dotted: str) -> bool:
        """True when `dotted` is a module of the tree, or a name inside one."""
        parts = dotted.split(".")
        if parts[0] not in OLD or len(parts) < 2:
            return False
        if self.is_module(parts):
            return True
        return self.is_module(parts[:-1]) and (len(parts) > 2 or parts[-1][0].isupper()
                                                or parts[-1].isupper())

    def packages(self) -> list[str]:
        found = []
        for top in OLD:
            for init in sorted((self.root / top).rglob("__init__.py")):
                if SKIP_DIRS.isdisjoint(init.parts):
                    rel = init.parent.relative_to(self.root)
                    found.append(".".join((PREFIX, *rel.parts)))
        return sorted(found)


def prefixed(dotted: str) -> str:
    return f"{PREFIX}.{dotted}"


def rewrite_text(text: str) -> str:
    """Import statements, `-m MODULE` and entry points in any text (prose stays as it is)."""
    text = FROM_IMPORT.sub(lambda m: m[1] + prefixed(m[2]) + m[3], text)
    text = IMPORT_AS.sub(lambda m: m[1] + prefixed(m[2]) + m[3], text)
    text = IMPORT_BARE.sub(lambda m: f"from {PREFIX} import {m[1]}", text)
    text = DASH_M.sub(lambda m: m[1] + prefixed(m[2]), text)
    return ENTRY_POINT.sub(lambda m: f"{m[1]}{prefixed(m[2])}:{m[3]}{m[1]}", text)


# --- Python -----------------------------------------------------------------------------

@dataclass
class Edit:
    start: tuple[int, int]
    end: tuple[int, int]
    text: str


def significant(tokens: list[tokenize.TokenInfo]) -> list[tokenize.TokenInfo]:
    skip = {tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT}
    return [t for t in tokens if t.type not in skip]


def logical_lines(tokens: list[tokenize.TokenInfo]) -> Iterator[list[tokenize.TokenInfo]]:
    """Statements: tokens between NEWLINEs and semicolons."""
    current: list[tokenize.TokenInfo] = []
    for tok in significant(tokens):
        if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER) or tok.string == ";":
            if current:
                yield current
            current = []
        else:
            current.append(tok)
    if current:
        yield current


def import_edits(statement: list[tokenize.TokenInfo], where: str,
                 report: Report) -> list[Edit]:
    first = statement[0]
    if first.type != tokenize.NAME or first.string not in ("from", "import"):
        return []
    if first.string == "from":
        module = statement[1]
        if module.type == tokenize.NAME and module.string in OLD:
            return [Edit(module.start, module.start, PREFIX + ".")]
        return []
    return import_list_edits(statement, where, report)


def import_list_edits(statement: list[tokenize.TokenInfo], where: str,
                      report: Report) -> list[Edit]:
    """`import a.b as c, d`: each dotted name with its alias, if any."""
    edits: list[Edit] = []
    items: list[list[tokenize.TokenInfo]] = [[]]
    for tok in statement[1:]:
        if tok.string == ",":
            items.append([])
        else:
            items[-1].append(tok)
    for item in items:
        if not item or item[0].string not in OLD:
            continue
        names = [t.string for t in item]
        if "as" in names:
            edits.append(Edit(item[0].start, item[0].start, PREFIX + "."))
        elif len(item) == 1 and len(items) == 1:
            edits.append(Edit(statement[0].start, item[0].end,
                              f"from {PREFIX} import {item[0].string}"))
        else:
            dotted = "".join(names)
            report.leftovers.append(f"{where}:{item[0].start[0]}: `import {dotted}` binds the "
                                    f"name {item[0].string!r}: rewrite it by hand")
    return edits


def string_edits(tokens: list[tokenize.TokenInfo], tree: Tree) -> list[Edit]:
    edits = []
    code = significant(tokens)
    for index, tok in enumerate(code):
        if tok.type != tokenize.STRING and tok.type != getattr(tokenize, "FSTRING_MIDDLE", -1):
            continue
        new = rewrite_text(tok.string)
        if new == tok.string and tok.type == tokenize.STRING:
            new = whole_string_target(code, index, tree) or new
        if new != tok.string:
            edits.append(Edit(tok.start, tok.end, new))
    return edits


def whole_string_target(code: list[tokenize.TokenInfo], index: int, tree: Tree) -> str | None:
    """A string that is exactly a module path, where the code uses it as one."""
    tok = code[index]
    match = re.fullmatch(r"([rbuRBU]*)(['\"])(.*)\2", tok.string, re.DOTALL)
    if not match or "b" in match[1].lower():
        return None
    body = WHOLE_DOTTED.fullmatch(match[3])
    if not body:
        return None
    dotted = body[1] + body[2]
    before = [t.string for t in code[max(0, index - 4):index]]
    after_dash_m = before[-2:] in (['"-m"', ","], ["'-m'", ","])
    in_target_call = len(before) >= 2 and before[-1] == "(" and before[-2] in TARGET_CALLS
    if not (after_dash_m or in_target_call) or not tree.names_module(dotted):
        return None
    return f"{match[1]}{match[2]}{prefixed(match[3])}{match[2]}"


def apply_edits(source: str, edits: list[Edit]) -> str:
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def offset(position: tuple[int, int]) -> int:
        return offsets[position[0] - 1] + position[1]

    for edit in sorted(edits, key=lambda e: offset(e.start), reverse=True):
        source = source[:offset(edit.start)] + edit.text + source[offset(edit.end):]
    return source


def rewrite_python(path: Path, source: str, tree: Tree, report: Report) -> str:
    where = str(path)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError) as exc:
        report.leftovers.append(f"{where}: not tokenizable ({exc}); left as it is")
        return source
    edits = []
    for statement in logical_lines(tokens):
        edits += import_edits(statement, where, report)
    edits += string_edits(tokens, tree)
    return apply_edits(source, edits)


# --- pyproject.toml -----------------------------------------------------------------------

SETUPTOOLS_BLOCK = re.compile(r"^\[tool\.setuptools\]\n(?:(?!\[).*\n|\n)*", re.MULTILINE)
FIND_BLOCK = re.compile(r"^\[tool\.setuptools\.packages\.find\]\n(?:(?!\[).*\n|\n)*",
                        re.MULTILINE)
QUOTED_DOTTED = re.compile(rf"""(["'])({OLD_RE})((?:\.[\w*]+)+)\1""")


def setuptools_block(tree: Tree) -> str:
    packages = "".join(f'    "{name}",\n' for name in tree.packages())
    mapping = ", ".join(f'"{PREFIX}.{top}" = "{top}"' for top in OLD)
    return ("[tool.setuptools]\n"
            f"# The folders {', '.join(t + '/' for t in OLD)} install as {PREFIX}.{OLD[0]}, "
            f"{PREFIX}.{OLD[1]}, {PREFIX}.{OLD[2]}:\n"
            f"# `{PREFIX}` is the only top-level name (a namespace package: no __init__.py).\n"
            "# tools/rename_to_tagshare.py regenerates this list; a test checks it.\n"
            f"packages = [\n{packages}]\n"
            f"package-dir = {{ {mapping} }}\n\n")


def rewrite_pyproject(source: str, tree: Tree) -> str:
    if not (tree.root / OLD[0]).is_dir():
        return rewrite_text(source)
    text = FIND_BLOCK.sub("", source)
    block = setuptools_block(tree)
    if SETUPTOOLS_BLOCK.search(text):
        text = SETUPTOOLS_BLOCK.sub(lambda _: block, text, count=1)
    else:
        anchor = re.search(r"^\[tool\.setuptools\.package-data\]", text, re.MULTILINE)
        at = anchor.start() if anchor else len(text)
        text = text[:at] + block + text[at:]
    text = rewrite_text(text)
    text = QUOTED_DOTTED.sub(
        lambda m: f"{m[1]}{PREFIX}.{m[2]}{m[3]}{m[1]}"
        if tree.names_module(m[2] + m[3].removesuffix(".*").replace("*", "")) else m[0], text)
    return first_party(text)


def first_party(text: str) -> str:
    """isort must keep `tagshare` imports as first party, where node/ and cli/ were."""
    if re.search(rf'known-first-party\s*=\s*\[[^\]]*"{PREFIX}"', text):
        return text
    section = re.search(r"^\[tool\.ruff\.lint\.isort\]\n", text, re.MULTILINE)
    if section:
        return (text[:section.end()] + f'known-first-party = ["{PREFIX}"]\n'
                + text[section.end():])
    lint = re.search(r"^\[tool\.ruff\.lint\]\n(?:(?!\[).*\n)*", text, re.MULTILINE)
    if not lint:
        return text
    body = lint[0].rstrip("\n") + "\n"
    return (text[:lint.start()] + body + "\n[tool.ruff.lint.isort]\n"
            f'known-first-party = ["{PREFIX}"]\n\n' + text[lint.end():].lstrip("\n"))


# --- the leftovers ------------------------------------------------------------------------

def python_leftovers(path: Path, source: str, tree: Tree, report: Report) -> None:
    try:
        module = ast.parse(source)
    except SyntaxError:
        return
    for item in ast.walk(module):
        names = []
        if isinstance(item, ast.Import):
            names = [alias.name for alias in item.names]
        elif isinstance(item, ast.ImportFrom) and item.level == 0 and item.module:
            names = [item.module]
        for name in names:
            if name.split(".")[0] in OLD:
                report.leftovers.append(f"{path}:{item.lineno}: old import `{name}`")
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    for tok in tokens:
        text = tok.string
        if tok.type == tokenize.STRING and re.match(r"[a-zA-Z]*[fF]", text):
            text = re.sub(r"\{[^{}]*\}", "", text)  # code inside an f-string is code
        for match in MENTION.finditer(text):
            dotted = match[1] + match[2]
            if tok.type == tokenize.NAME or not tree.names_module(dotted):
                continue
            line = f"{path}:{tok.start[0]}: {dotted!r} in a "
            if tok.type == tokenize.COMMENT or tok.string.startswith(('"""', "'''")):
                report.mentions.append(line + "comment or docstring")
            elif tok.type == tokenize.STRING:
                report.leftovers.append(line + "string: is it a module path?")
    for number, line in enumerate(source.splitlines(), 1):
        if PREFIX in line and len(PRAGMA.sub("", line)) > LINE_LIMIT:
            report.leftovers.append(f"{path}:{number}: {len(line)} characters (limit "
                                    f"{LINE_LIMIT}): wrap it")
        if REPO_ON_PATH.search(line):
            report.mentions.append(f"{path}:{number}: {line.strip()} (no longer needed for "
                                   f"{PREFIX}.*, which comes from the install)")


def text_leftovers(path: Path, text: str, tree: Tree, report: Report) -> None:
    for number, line in enumerate(text.splitlines(), 1):
        for match in MENTION.finditer(line):
            dotted = match[1] + match[2]
            if tree.names_module(dotted):
                report.mentions.append(f"{path}:{number}: {dotted!r} in text")


# --- the walk -----------------------------------------------------------------------------

def files(root: Path, skip: set[str]) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not SKIP_DIRS.isdisjoint(rel.parts) or any(p.endswith(".egg-info") for p in rel.parts):
            continue
        wanted = path.suffix == ".py" or path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES
        if wanted and path.is_file() and not path.is_symlink() and path.name not in skip:
            yield path


def rewrite_file(path: Path, root: Path, tree: Tree, report: Report) -> str | None:
    """The file's new text, or None when it stays as it is."""
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None
    if SKIP_MARK in source:
        return None
    rel = path.relative_to(root)
    if path.suffix == ".py":
        new = rewrite_python(rel, source, tree, report)
    elif rel == Path("pyproject.toml"):
        new = rewrite_pyproject(source, tree)
    else:
        new = rewrite_text(source)
    if new == source:
        return None
    old_lines, new_lines = source.splitlines(), new.splitlines()
    if len(old_lines) == len(new_lines):
        for number, (old, line) in enumerate(zip(old_lines, new_lines, strict=True), 1):
            if old != line:
                report.change(rel, number, old, line)
    else:
        report.change(rel, 0, f"{len(old_lines)} lines", f"{len(new_lines)} lines")
    return new


def sort_imports(root: Path, changed: list[Path]) -> None:
    ruff = Path(sys.executable).with_name("ruff")
    command = str(ruff) if ruff.exists() else shutil.which("ruff")
    python = [str(p) for p in changed if p.suffix == ".py"]
    if command and python:
        subprocess.run([command, "check", "--quiet", "--select", "I", "--fix", *python],
                       cwd=root, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", default=".", type=Path)
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if something would change")
    parser.add_argument("--no-ruff", action="store_true", help="do not re-sort imports")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if not all((root / top / "__init__.py").is_file() for top in OLD):
        parser.error(f"{root} has no {', '.join(t + '/' for t in OLD)} packages")
    tree, report = Tree(root), Report()
    changed = []
    for path in files(root, {Path(__file__).name}):
        new = rewrite_file(path, root, tree, report)
        if new is not None:
            changed.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    if changed and not args.check and not args.no_ruff:
        sort_imports(root, changed)
    for path in files(root, {Path(__file__).name}):
        text = path.read_text(encoding="utf-8", errors="replace")
        if SKIP_MARK in text:
            continue
        checker = python_leftovers if path.suffix == ".py" else text_leftovers
        checker(path.relative_to(root), text, tree, report)
    print_report(report, args.check)
    return 1 if args.check and changed else 0


def print_report(report: Report, check: bool) -> None:
    verb = "would change" if check else "changed"
    for path, lines in report.changed.items():
        print(f"{verb} {path}:")
        for line in lines:
            print(f"    {line}")
    print(f"{len(report.changed)} files {verb}.")
    if report.leftovers:
        print(f"\nTo check by hand ({len(report.leftovers)}):")
        for line in report.leftovers:
            print(f"  {line}")
    if report.mentions:
        print(f"\nOld module names left in prose, comments and paths ({len(report.mentions)}; "
              "fine when they name a file of the repository):")
        for line in report.mentions:
            print(f"  {line}")


if __name__ == "__main__":
    sys.exit(main())
