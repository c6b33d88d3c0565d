"""Move modules as MOVES.md lists them and rewrite every import and dotted name that points at them.

Run it on a tree still at the old layout (a branch made before the moves), from its root:

    python tools/apply_moves.py [--moves MOVES.md] [--dry-run] [--commit-moves]

It reads each `old.dotted.path -> new.dotted.path` line of MOVES.md (a package line moves the
whole folder, files added since included) and each `old.module:name -> new.module:name` line (a
name imported from its old module, at the old layout, is imported from its new one under the
name the file used; a `module.name` attribute use is left to a person), works out every Python file's new text from where
it stands now (a relative import is resolved against the file's present place and written again
relative to its new one; `from pkg import module as x` keeps the name `x`; a dotted string such
as `"isf_ledger.reports.statements.render_pdf"` in a monkeypatch is rewritten too), then
`git mv`s the files and writes the new text. With --commit-moves the moves are committed before
the text changes, so git's rename detection carries other branches' edits across.
"""
from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from pathlib import Path

ROOTS = ("isf_ledger", "tests", "bench", "migrations", "tools")
PACKAGE = "isf_ledger"


def read_moves(path: Path) -> list[tuple[str, str]]:
    moves = []
    for line in path.read_text().splitlines():
        m = re.match(r"^\s*([\w.]+)\s*->\s*([\w.]+)\s*$", line)
        if m:
            moves.append((m[1], m[2]))
    return sorted(moves, key=lambda p: -len(p[0]))  # the longest (most exact) first


def read_name_moves(path: Path) -> dict[tuple[str, str], tuple[str, str]]:
    """`old.module:name -> new.module:name` lines: a name that moved to another module."""
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^\s*([\w.]+):(\w+)\s*->\s*([\w.]+):(\w+)\s*$", line)
        if m:
            out[(m[1], m[2])] = (m[3], m[4])
    return out


NAME_MOVES: dict[tuple[str, str], tuple[str, str]] = {}


def mapped(name: str, moves) -> str:
    for old, new in moves:
        if name == old or name.startswith(old + "."):
            return new + name[len(old):]
    return name


def module_of(path: Path) -> tuple[str, bool]:
    """The dotted name of the module a file holds, and whether it is a package's __init__."""
    parts = list(path.with_suffix("").parts)
    is_pkg = parts[-1] == "__init__"
    if is_pkg:
        parts = parts[:-1]
    return ".".join(parts), is_pkg


def path_of(module: str, is_pkg: bool) -> Path:
    p = Path(*module.split("."))
    return p / "__init__.py" if is_pkg else p.with_suffix(".py")


def resolve(level: int, module: str | None, here: str, is_pkg: bool) -> str:
    if level == 0:
        return module or ""
    base = here.split(".") if is_pkg else here.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def relative(target: str, here: str, is_pkg: bool) -> tuple[int, str]:
    """(level, module) for `from <level dots><module> import ...` written in `here`."""
    base = here.split(".") if is_pkg else here.split(".")[:-1]
    t = target.split(".")
    common = 0
    while common < min(len(base), len(t)) and base[common] == t[common]:
        common += 1
    if common == 0:
        return 0, target
    return len(base) - common + 1, ".".join(t[common:])


def is_module(name: str, modules: set[str]) -> bool:
    return name in modules


def rewrite(text: str, here_old: str, here_new: str, is_pkg: bool, moves, modules: set[str]) -> str:
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    edits = []  # (start_line, end_line, new_text)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            src = resolve(node.level, node.module, here_old, is_pkg)
            if not (src == PACKAGE or src.startswith(PACKAGE + ".")):
                if node.level == 0:
                    continue
            groups: dict[tuple[str, bool], list[str]] = {}  # (from-module, names-are-modules) -> names
            order = []
            for alias in node.names:
                full = f"{src}.{alias.name}"
                if alias.name != "*" and is_module(full, modules) and mapped(full, moves) != full:
                    new = mapped(full, moves)
                    parent, leaf = new.rsplit(".", 1)
                    bound = alias.asname or alias.name
                    text_alias = leaf if bound == leaf else f"{leaf} as {bound}"
                    key = (parent, True)
                elif (src, alias.name) in NAME_MOVES:
                    new_mod, new_name = NAME_MOVES[(src, alias.name)]
                    new_mod = mapped(new_mod, moves)
                    bound = alias.asname or alias.name
                    key = (new_mod, False)
                    text_alias = new_name if bound == new_name else f"{new_name} as {bound}"
                else:
                    key = (mapped(src, moves), False)
                    text_alias = alias.name if not alias.asname else f"{alias.name} as {alias.asname}"
                if key not in groups:
                    groups[key] = []
                    order.append(key)
                groups[key].append(text_alias)
            new_stmts = []
            for parent, _ in order:
                if node.level:
                    level, mod = relative(parent, here_new, is_pkg)
                    head = "." * level + mod if level else mod
                else:
                    head = parent
                new_stmts.append(f"from {head} import {', '.join(groups[(parent, _)])}")
            unchanged_targets = (len(order) == 1 and order[0][0] == src and not order[0][1]
                                 and here_old == here_new)
            if unchanged_targets:
                continue
            indent = re.match(r"\s*", lines[node.lineno - 1])[0]
            # keep a trailing comment on the statement's last line
            tail = lines[node.end_lineno - 1][node.end_col_offset:]
            if True:
                joined = ("\n" + indent).join(s for s in new_stmts)
                if _too_long(joined, indent):
                    joined = ("\n" + indent).join(_wrap(s, indent) for s in new_stmts)
                first = lines[node.lineno - 1][:node.col_offset]
                edits.append((node.lineno, node.end_lineno, first + joined + tail))
        elif isinstance(node, ast.Import):
            changed = False
            parts = []
            for alias in node.names:
                new = mapped(alias.name, moves)
                changed |= new != alias.name
                parts.append(new if not alias.asname else f"{new} as {alias.asname}")
            if changed:
                first = lines[node.lineno - 1][:node.col_offset]
                tail = lines[node.end_lineno - 1][node.end_col_offset:]
                edits.append((node.lineno, node.end_lineno, first + "import " + ", ".join(parts) + tail))
    edited = set()
    for start, end, new in sorted(edits, reverse=True):
        lines[start - 1:end] = [new]
        edited.update(range(start, end + 1))
    out = "".join(lines)
    # Dotted names in strings and attribute chains (monkeypatch targets, `python -m` lines...).
    def sub(m):
        return mapped(m[0], moves)
    out = re.sub(r"(?<![\w.])isf_ledger(?:\.\w+)+", sub, out)
    return out


def _too_long(s: str, indent: str) -> bool:
    return any(len(line) > 120 for line in s.splitlines())


def _wrap(stmt: str, indent: str) -> str:
    if len(stmt) <= 120 - len(indent):
        return stmt
    head, names = stmt.split(" import ", 1)
    pieces, line = [], f"{head} import ("
    for name in names.split(", "):
        if len(indent) + len(line) + len(name) + 2 > 118:
            pieces.append(line.rstrip())
            line = indent + "    "
        line += name + ", "
    pieces.append(line.rstrip(", ") + ")")
    return "\n".join(pieces)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--moves", default="MOVES.md")
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--commit-moves", action="store_true")
    args = ap.parse_args()
    moves = read_moves(Path(args.moves))
    NAME_MOVES.update(read_name_moves(Path(args.moves)))
    files = [p for root in ROOTS if Path(root).exists() for p in Path(root).rglob("*.py")]
    files += [p for p in Path(".").glob("*.py")]
    modules = {module_of(p)[0] for p in Path(PACKAGE).rglob("*.py")}
    plan = []  # (old path, new path, new text)
    for p in files:
        here, is_pkg = module_of(p)
        new_here = mapped(here, moves) if here.startswith(PACKAGE) else here
        text = p.read_text()
        new_text = rewrite(text, here, new_here, is_pkg, moves, modules)
        new_path = path_of(new_here, is_pkg) if new_here != here else p
        plan.append((p, new_path, new_text))
    moved = [(o, n) for o, n, _ in plan if o != n]
    for o, n in moved:
        print(f"mv {o} {n}")
    if args.dry_run:
        for o, n, t in plan:
            if t != o.read_text():
                print(f"rewrite {n}")
        return 0
    for o, n in moved:
        n.parent.mkdir(parents=True, exist_ok=True)
        if not (n.parent / "__init__.py").exists() and n.name != "__init__.py":
            if not any(nn == n.parent / "__init__.py" for _, nn in moved):
                raise SystemExit(f"{n.parent} has no __init__.py: add the package before moving into it")
        subprocess.run(["git", "mv", str(o), str(n)], check=True)
    if args.commit_moves and moved:
        subprocess.run(["git", "commit", "-q", "-m",
                        "Move modules as MOVES.md lists them (moves only: the imports follow in the next commit)"],
                       check=True)
    for o, n, t in plan:
        if n.read_text() != t:
            n.write_text(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
