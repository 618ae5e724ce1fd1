"""Which files `gorilla-lsp check DIR` reads, and which it reports as skipped instead.

A directory walk leaves out what is not the user's code (`.git`, virtual environments, `site-packages`,
`node_modules`, what `.gitignore` ignores) and never opens what is not a regular file: a FIFO would block the run, a
device could be endless, a dangling or self-referencing link cannot be read. Those, and binary, unreadable or huge
files, are reported as skipped, and the run goes on.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

import msgspec

MAX_BYTES = 200_000_000  # checked in pieces (index.chunked), so memory does not grow with it; past this, surely data
_PRUNE = frozenset({".git", ".hg", ".svn", ".bzr", "node_modules", "site-packages", "dist-packages", "__pycache__",
                    ".tox", ".nox", ".venv", "venv", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".eggs"})


class Skipped(msgspec.Struct, frozen=True):
    path: str
    reason: str


class NotFound(Exception):
    """A path given on the command line that does not exist."""


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _link_problem(path: Path) -> str | None:
    """Why a symbolic link cannot be read (dangling, a loop), or None."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return f"dangling symbolic link (to {os.readlink(path)})"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        return f"unreadable: {exc.strerror or exc}"
    return None


class _GitIgnore:
    """The patterns of one `.gitignore` (the common subset: globs, `**`, `!`, trailing `/`, anchoring)."""

    def __init__(self, base: Path, lines: list[str]) -> None:
        self.base = base
        self.rules: list[tuple[re.Pattern[str], bool, bool]] = []  # (pattern, negated, directories only)
        for line in lines:
            line = line.rstrip("\n").rstrip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            line = line[1:] if negated else line.replace("\\#", "#")
            dir_only = line.endswith("/")
            line = line.strip("/") if dir_only else line
            anchored = "/" in line.rstrip("/")
            line = line.lstrip("/")
            if not line:
                continue
            regex = self._regex(line)
            self.rules.append((re.compile(regex if anchored else f"(?:.*/)?{regex}"), negated, dir_only))

    @staticmethod
    def _regex(glob: str) -> str:
        out, i = [], 0
        while i < len(glob):
            if glob.startswith("**/", i):
                out.append("(?:.*/)?")
                i += 3
            elif glob.startswith("/**", i):
                out.append("(?:/.*)?")
                i += 3
            elif glob[i] == "*":
                out.append("[^/]*")
                i += 1
            elif glob[i] == "?":
                out.append("[^/]")
                i += 1
            elif glob[i] == "[":
                end = glob.find("]", i + 1)
                if end == -1:
                    out.append(re.escape("["))
                    i += 1
                else:
                    out.append("[" + glob[i + 1:end].replace("!", "^", 1) + "]")
                    i = end + 1
            else:
                out.append(re.escape(glob[i]))
                i += 1
        return "".join(out)

    def decide(self, path: Path, is_dir: bool) -> bool | None:
        """True: ignored; False: explicitly kept (`!`); None: no rule matches."""
        try:
            relative = path.relative_to(self.base).as_posix()
        except ValueError:
            return None
        answer: bool | None = None
        for pattern, negated, dir_only in self.rules:
            if dir_only and not is_dir:
                continue
            if pattern.fullmatch(relative):
                answer = not negated
        return answer


def _ignored(rules: list[_GitIgnore], path: Path, is_dir: bool) -> bool:
    answer = False
    for rule in rules:  # outer .gitignore files first: a nearer one overrides
        decided = rule.decide(path, is_dir)
        if decided is not None:
            answer = decided
    return answer


def _load_gitignore(folder: Path) -> _GitIgnore | None:
    try:
        return _GitIgnore(folder, (folder / ".gitignore").read_text(errors="replace").splitlines())
    except OSError:
        return None


def _is_environment(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").is_file() or (folder / "conda-meta").is_dir()


def collect(paths: list[str]) -> tuple[list[Path], list[Skipped]]:
    """The files to check and the ones skipped (with why), in a stable order. Raises NotFound for a missing path."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    for name in paths:
        path = Path(name)
        if path.is_symlink():
            problem = _link_problem(path)
            if problem is not None:
                skipped.append(Skipped(name, problem))
                continue
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            raise NotFound(name) from None
        except OSError as exc:
            skipped.append(Skipped(name, f"unreadable: {exc.strerror or exc}"))
            continue
        if stat.S_ISDIR(mode):
            _walk(path, files, skipped)
        elif stat.S_ISREG(mode):
            files.append(path)
        else:
            skipped.append(Skipped(name, _kind(mode)))
    return files, skipped


def _walk(top: Path, files: list[Path], skipped: list[Skipped]) -> None:
    stack: list[tuple[Path, list[_GitIgnore]]] = [(top, [])]
    while stack:
        folder, inherited = stack.pop()
        rules = list(inherited)
        own = _load_gitignore(folder)
        if own is not None:
            rules.append(own)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            skipped.append(Skipped(str(folder), f"unreadable folder: {exc.strerror or exc}"))
            continue
        subfolders = []
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                if entry.name in _PRUNE or _is_environment(path) or _ignored(rules, path, True):
                    continue
                subfolders.append(path)
                continue
            if not entry.name.endswith(".py") or _ignored(rules, path, False):
                continue
            if entry.is_symlink():
                problem = _link_problem(path)
                if problem is not None:
                    skipped.append(Skipped(str(path), problem))
                    continue
            try:
                mode = os.stat(path).st_mode
            except OSError as exc:
                skipped.append(Skipped(str(path), f"unreadable: {exc.strerror or exc}"))
                continue
            if stat.S_ISREG(mode):
                files.append(path)
            elif not stat.S_ISDIR(mode):
                skipped.append(Skipped(str(path), _kind(mode)))
        stack.extend((sub, rules) for sub in reversed(subfolders))


def read_source(path: Path) -> tuple[bytes | None, str | None]:
    """(bytes, None) for a readable text file, (None, why) for one to skip. Never blocks on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, "symbolic link loop"
        return None, f"unreadable: {exc.strerror or exc}"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, _kind(info.st_mode)
        if info.st_size > MAX_BYTES:
            return None, f"too large ({info.st_size // 1_000_000} MB; the limit is {MAX_BYTES // 1_000_000} MB)"
        with os.fdopen(fd, "rb", closefd=True) as handle:
            fd = -1
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        return None, f"unreadable: {exc.strerror or exc}"
    finally:
        if fd >= 0:
            os.close(fd)
    head = data[:8192]
    # A stray NUL in a text file must not hide its calls (they are checked around it); a file full of them is data.
    if head.count(b"\0") > max(1, len(head) // 100):
        return None, "binary file"
    return data, None
