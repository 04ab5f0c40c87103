from __future__ import annotations

import subprocess
import sys
import time

from wattwise.process import ProcessTree

BURN = "import time\nt=time.process_time()\nwhile time.process_time()-t<{s}: pass\n"


def test_counts_forked_children_once() -> None:
    # parent burns 0.3 s, then a child burns 0.6 s and is reaped by the parent
    code = (
        "import subprocess, sys, time\n"
        + BURN.format(s=0.3)
        + f"subprocess.run([sys.executable, '-c', {BURN.format(s=0.6)!r}])\ntime.sleep(0.3)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    tree = ProcessTree(proc.pid, from_start=True)
    seen_pids: set[int] = set()
    last = tree.sample()
    while proc.poll() is None:
        last = tree.sample()
        seen_pids |= last.pids
        time.sleep(0.05)
    assert len(seen_pids) >= 2  # the child was seen while it ran
    # 0.9 s of burning plus interpreter start-up; never double-counted (< 2 × 0.9)
    assert 0.85 < last.cpu_s < 1.6


def test_retarget_keeps_total_and_counts_new_tree_from_start() -> None:
    tree = ProcessTree()
    tree.sample()
    proc = subprocess.Popen([sys.executable, "-c", BURN.format(s=0.3) + "time.sleep(1)"])
    time.sleep(0.05)
    tree.retarget(proc.pid)
    s = tree.sample()
    while s.cpu_s < 0.3 and proc.poll() is None:
        time.sleep(0.05)
        s = tree.sample()
    assert proc.pid in s.pids
    proc.wait()
    assert s.cpu_s >= 0.3


def test_vanished_root_does_not_raise() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    sample = ProcessTree(proc.pid).sample()
    assert sample.pids == frozenset() and sample.cpu_s == 0.0


# -- process.py: a child and its shell vanishing in the same interval ----------------------
def test_a_command_run_through_a_shell_is_counted_once() -> None:
    # root -> sh -> python burning 0.6 s; sh exits right after its command and the root
    # reaps it, so both vanish between two samples
    inner = f"{sys.executable} -c '{BURN.format(s=0.6)}'; exit 0"
    code = f"import subprocess, time\nsubprocess.run(['sh', '-c', {inner!r}])\ntime.sleep(0.4)\n"
    proc = subprocess.Popen([sys.executable, "-c", code])
    tree = ProcessTree(proc.pid, from_start=True)
    seen: set[int] = set()
    last = tree.sample()
    while proc.poll() is None:
        last = tree.sample()
        seen |= last.pids
        time.sleep(0.05)
    assert len(seen) >= 3  # root, sh and the command were all seen
    assert 0.55 < last.cpu_s < 1.05  # 0.6 s + start-up, not 1.2 s


def test_an_orphaned_grandchild_keeps_the_time_it_was_seen_using() -> None:
    # sh starts a burner in the background and exits: the burner, reparented away from
    # the tree while still running, keeps the 0.4 s it burnt while it was in the tree
    burner = f"{sys.executable} -c '{BURN.format(s=0.4)}import time; time.sleep(2.5)'"
    code = (
        "import subprocess, time\n"
        f"subprocess.run(['sh', '-c', {burner + ' & sleep 1.5; exit 0'!r}])\n"
        "time.sleep(0.3)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    tree = ProcessTree(proc.pid, from_start=True)
    seen: set[int] = set()
    last = tree.sample()
    while proc.poll() is None:
        last = tree.sample()
        seen |= last.pids
        time.sleep(0.05)
    assert len(seen) >= 3
    assert last.cpu_s > 0.3  # dropped, it would be the root's start-up alone (~0.05 s)
