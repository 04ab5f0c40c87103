"""Where the measured code came from: the git commit and branch, and framework versions.

Read-only and cheap: :func:`git_info` reads the checkout's files (``.git/HEAD``, loose
refs, ``packed-refs``; a worktree's or submodule's ``.git`` file) and never runs ``git``
or touches the network. :func:`framework_versions` only looks at modules the process has
already imported; it never imports one.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

__all__ = ["FRAMEWORKS", "framework_versions", "git_info"]

# module name -> distribution name (for a module without __version__)
FRAMEWORKS: Mapping[str, str] = {
    "torch": "torch",
    "lightning": "lightning",
    "pytorch_lightning": "pytorch-lightning",
    "transformers": "transformers",
    "keras": "keras",
    "numpy": "numpy",
    "sklearn": "scikit-learn",
}

_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_MAX_SYMREF_DEPTH = 5


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _find_git_dir(start: Path) -> Path | None:
    """The git directory of the checkout holding ``start`` (walking up), or None."""
    for folder in (start, *start.parents):
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():  # a linked worktree or a submodule: "gitdir: <path>"
            text = _read(dot_git)
            if text is None or not text.startswith("gitdir:"):
                return None
            target = Path(text[len("gitdir:") :].strip())
            if not target.is_absolute():
                target = folder / target
            return target if target.is_dir() else None
    return None


def _common_dir(git_dir: Path) -> Path:
    """Where shared refs live: the main repository's git dir for a linked worktree."""
    text = _read(git_dir / "commondir")
    if not text:
        return git_dir
    common = Path(text)
    return common if common.is_absolute() else (git_dir / common)


def _packed_ref(common: Path, ref: str) -> str | None:
    text = _read(common / "packed-refs")
    if text is None:
        return None
    for line in text.splitlines():
        if not line or line[0] in "#^":
            continue
        sha, _, name = line.partition(" ")
        if name.strip() == ref and _SHA.match(sha):
            return sha
    return None


def _resolve(git_dir: Path, common: Path, ref: str) -> str | None:
    """The commit a ref names, following symbolic refs; None when it names none yet."""
    for _ in range(_MAX_SYMREF_DEPTH):
        text = None
        for base in (git_dir, common):
            text = _read(base / ref)
            if text is not None:
                break
        if text is None:
            return _packed_ref(common, ref)
        if text.startswith("ref:"):
            ref = text[len("ref:") :].strip()
            continue
        return text if _SHA.match(text) else None
    return None


def git_info(start: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The git commit and branch of the checkout around ``start`` (default: the cwd).

    Returns ``{"git_commit": ..., "git_branch": ...}`` with only the keys found: no
    branch for a detached HEAD, no commit on a branch without commits yet, and an empty
    dict outside a checkout or when its files cannot be read. Never raises.
    """
    try:
        here = Path(start) if start is not None else Path.cwd()
        git_dir = _find_git_dir(here.resolve())
        if git_dir is None:
            return {}
        head = _read(git_dir / "HEAD")
        if not head:
            return {}
        common = _common_dir(git_dir)
        info: dict[str, str] = {}
        if head.startswith("ref:"):
            ref = head[len("ref:") :].strip()
            branch = ref.removeprefix("refs/heads/")
            if branch != ref and branch != ".invalid":  # reftable repos write ".invalid"
                info["git_branch"] = branch
            commit = _resolve(git_dir, common, ref)
        else:
            commit = head if _SHA.match(head) else None
        if commit is not None:
            info = {"git_commit": commit, **info}
        return info
    except (OSError, ValueError, RuntimeError):  # a vanished cwd, a symlink loop
        return {}


def framework_versions(modules: Mapping[str, object] | None = None) -> dict[str, str]:
    """Versions of the ML frameworks already imported (``torch``, ``numpy``, ...).

    Looks only at ``sys.modules`` (or ``modules``): a framework the process has not
    imported is left out, and none is imported here.
    """
    loaded = sys.modules if modules is None else modules
    versions: dict[str, str] = {}
    for name, dist in FRAMEWORKS.items():
        module = loaded.get(name)
        if module is None:
            continue
        version = getattr(module, "__version__", None)
        if not isinstance(version, str) or not version:
            try:
                version = metadata.version(dist)
            except (metadata.PackageNotFoundError, ValueError):
                continue
        versions[name] = str(version)
    return versions
