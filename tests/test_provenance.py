"""provenance.py: the git commit and branch read from .git files, and framework versions."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from wattwise.provenance import framework_versions, git_info
from wattwise.record import RunRecord
from wattwise.testing.fake import SyntheticSensor
from wattwise.tracking import Tracker

SHA_A = "a" * 39 + "1"
SHA_B = "b" * 39 + "2"
SHA_C = "c" * 39 + "3"


def _repo(root: Path, head: str = "ref: refs/heads/main\n") -> Path:
    """A minimal .git directory: HEAD and an empty refs tree."""
    git = root / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text(head)
    return git


def test_branch_and_loose_ref_found_from_a_subdirectory(tmp_path: Path) -> None:
    git = _repo(tmp_path)
    (git / "refs" / "heads" / "main").write_text(SHA_A + "\n")
    sub = tmp_path / "src" / "pkg"
    sub.mkdir(parents=True)
    assert git_info(sub) == {"git_commit": SHA_A, "git_branch": "main"}


def test_packed_refs_with_comments_and_peeled_tags(tmp_path: Path) -> None:
    git = _repo(tmp_path, "ref: refs/heads/feature/x\n")
    (git / "packed-refs").write_text(
        "# pack-refs with: peeled fully-peeled sorted\n"
        f"{SHA_B} refs/heads/feature/x\n"
        f"{SHA_C} refs/tags/v1\n"
        f"^{SHA_A}\n"
    )
    assert git_info(tmp_path) == {"git_commit": SHA_B, "git_branch": "feature/x"}
    # a loose ref wins over the packed one (git writes loose refs after packing)
    (git / "refs" / "heads" / "feature").mkdir()
    (git / "refs" / "heads" / "feature" / "x").write_text(SHA_C)
    assert git_info(tmp_path)["git_commit"] == SHA_C


def test_detached_head_unborn_branch_and_symbolic_ref(tmp_path: Path) -> None:
    detached = tmp_path / "detached"
    _repo(detached, SHA_A + "\n")
    assert git_info(detached) == {"git_commit": SHA_A}
    unborn = tmp_path / "unborn"
    _repo(unborn, "ref: refs/heads/trunk\n")
    assert git_info(unborn) == {"git_branch": "trunk"}
    symbolic = tmp_path / "symbolic"
    git = _repo(symbolic)
    (git / "refs" / "heads" / "main").write_text("ref: refs/heads/real\n")
    (git / "refs" / "heads" / "real").write_text(SHA_B)
    assert git_info(symbolic) == {"git_commit": SHA_B, "git_branch": "main"}


def test_linked_worktree_reads_shared_refs_through_commondir(tmp_path: Path) -> None:
    main = tmp_path / "main"
    git = _repo(main)
    (git / "packed-refs").write_text(f"{SHA_C} refs/heads/wt-branch\n")
    wt_git = git / "worktrees" / "wt"
    wt_git.mkdir(parents=True)
    (wt_git / "HEAD").write_text("ref: refs/heads/wt-branch\n")
    (wt_git / "commondir").write_text("../..\n")
    wt = tmp_path / "wt"
    wt.mkdir()
    (wt / ".git").write_text(f"gitdir: {os.path.relpath(wt_git, wt)}\n")
    assert git_info(wt) == {"git_commit": SHA_C, "git_branch": "wt-branch"}


def test_broken_or_missing_checkouts_give_nothing(tmp_path: Path) -> None:
    bad_file = tmp_path / "badfile"
    bad_file.mkdir()
    (bad_file / ".git").write_text("not a gitdir line")
    assert git_info(bad_file) == {}
    dangling = tmp_path / "dangling"
    dangling.mkdir()
    (dangling / ".git").write_text("gitdir: /nonexistent/.git/worktrees/x")
    assert git_info(dangling) == {}
    garbage = tmp_path / "garbage"
    _repo(garbage, "zzz not a sha\n")
    assert git_info(garbage) == {}
    reftable = tmp_path / "reftable"
    _repo(reftable, "ref: refs/heads/.invalid\n")  # git's reftable placeholder
    assert git_info(reftable) == {}
    assert git_info(tmp_path / "does-not-exist") == {}


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")
def test_matches_real_git_including_packed_refs_and_worktrees(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }

    def git(*args: str, cwd: Path = tmp_path / "repo") -> str:
        out = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
        )
        return out.stdout.strip()

    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "dev")
    (repo / "f.txt").write_text("x")
    git("add", "f.txt")
    git("commit", "-q", "-m", "one")
    head = git("rev-parse", "HEAD")
    assert git_info(repo) == {"git_commit": head, "git_branch": "dev"}
    git("pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "dev").exists()
    assert git_info(repo) == {"git_commit": head, "git_branch": "dev"}
    git("worktree", "add", "-q", "-b", "side", str(tmp_path / "side"))
    (tmp_path / "side" / "g.txt").write_text("y")
    git("add", "g.txt", cwd=tmp_path / "side")
    git("commit", "-q", "-m", "two", cwd=tmp_path / "side")
    side = git("rev-parse", "HEAD", cwd=tmp_path / "side")
    assert side != head
    assert git_info(tmp_path / "side") == {"git_commit": side, "git_branch": "side"}
    git("checkout", "-q", "--detach", head)
    assert git_info(repo) == {"git_commit": head}


def test_framework_versions_only_of_imported_modules() -> None:
    fake = {
        "torch": SimpleNamespace(__version__="9.1.0+cpu"),
        "keras": SimpleNamespace(__version__="3.0.0"),
        "unrelated": SimpleNamespace(__version__="1"),
    }
    assert framework_versions(fake) == {"torch": "9.1.0+cpu", "keras": "3.0.0"}
    assert framework_versions({}) == {}


def test_framework_versions_never_imports_a_framework() -> None:
    code = (
        "import sys, wattwise.provenance as p, wattwise.tracking; "
        "v = p.framework_versions(); "
        "print(sorted(v), [m for m in p.FRAMEWORKS if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.strip() == "[] []"


def test_tracker_records_code_and_software_and_they_round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy

    git = _repo(tmp_path)
    (git / "refs" / "heads" / "main").write_text(SHA_A)
    monkeypatch.chdir(tmp_path)
    sensor = SyntheticSensor(lambda t: 100.0, lambda a, b: 100.0 * (b - a), kind="counter")
    with Tracker("prov", store=False, sensors=[sensor], zone="FRA", interval_s=0.1) as run:
        time.sleep(0.05)
    rec = run.result
    assert rec.code == {"git_commit": SHA_A, "git_branch": "main"}
    assert rec.software["numpy"] == numpy.__version__
    assert set(rec.software) <= {"torch", "lightning", "pytorch_lightning", "transformers"} | {
        "keras",
        "numpy",
        "sklearn",
    }
    back = RunRecord.from_dict(rec.to_dict())
    assert back.code == rec.code and back.software == rec.software
    old = rec.to_dict()
    del old["code"], old["software"]  # a record written before these fields existed
    assert RunRecord.from_dict(old).code == {} and RunRecord.from_dict(old).software == {}
