"""A dependency-free headless Chromium driver for testing the HTML reports.

Chromium is driven over the DevTools protocol through ``--remote-debugging-pipe``: the
child reads commands from fd 3 and writes messages to fd 4, each a JSON object followed by
a NUL byte. Only the standard library and a Chromium binary are needed.

Usage::

    with Browser() as browser:
        page = browser.open(tmp_path / "report.html", width=390, height=844, mobile=True)
        assert page.errors == []
        assert page.evaluate("document.title") == "..."
        page.screenshot(tmp_path / "shot.png")
        page.close()

Every wait has a timeout and raises :class:`ChromiumError`, with the end of Chromium's
stderr, instead of hanging.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import itertools
import json
import math
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["Browser", "ChromiumError", "Page", "find_chromium"]

JSON = dict[str, Any]

#: Default seconds to wait for one DevTools command's answer.
COMMAND_TIMEOUT_S = 30.0
#: Seconds Chromium gets to exit after ``Browser.close`` before it is killed.
CLOSE_TIMEOUT_S = 5.0
#: How much of Chromium's stderr an error message quotes.
STDERR_TAIL_BYTES = 2048

_CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
)


class ChromiumError(RuntimeError):
    """Chromium failed to start, crashed, answered with an error, or did not answer in time."""


def find_chromium() -> str | None:
    """The Chromium binary to drive, or None when there is none.

    ``WATTWISE_CHROMIUM`` (a path or a name on PATH) wins when set; otherwise Debian's real
    binary ``/usr/lib/chromium/chromium`` (its ``/usr/bin/chromium`` wrapper script prints a
    shell error), then ``chromium``, ``chromium-browser`` and ``google-chrome`` on PATH.
    """
    chosen = os.environ.get("WATTWISE_CHROMIUM")
    if chosen:
        return shutil.which(chosen)
    debian = "/usr/lib/chromium/chromium"
    if os.path.isfile(debian) and os.access(debian, os.X_OK):
        return debian
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class _Call:
    """One command waiting for its answer."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: JSON | None = None
        self.error: str | None = None


class Browser:
    """One headless Chromium process driven over ``--remote-debugging-pipe``.

    Use as a context manager, or call :meth:`close` (idempotent) when done.
    """

    def __init__(self, executable: str | None = None, *, timeout_s: float = 30.0) -> None:
        """Launch Chromium and wait until it answers, at most ``timeout_s`` seconds."""
        binary = executable or find_chromium()
        if binary is None:
            raise ChromiumError("no Chromium binary found (set WATTWISE_CHROMIUM)")
        self.executable = binary
        self._ids = itertools.count(1)
        self._pending: dict[int, _Call] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._sessions: dict[str, Page] = {}
        self._dead: str | None = None
        self._closed = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._to_chromium: int | None = None
        self._from_chromium: int | None = None
        self._workdir = Path(tempfile.mkdtemp(prefix="wattwise-chromium-"))
        self._stderr_path = self._workdir / "stderr.log"
        try:
            self._launch()
            self.version = self.send("Browser.getVersion", timeout_s=timeout_s)
        except BaseException:
            self.close()
            raise

    def _launch(self) -> None:
        # Commands go parent -> child fd 3; messages come child fd 4 -> parent.
        cmd_read, cmd_write = os.pipe()
        msg_read, msg_write = os.pipe()
        # Move the child's ends above the fds the child numbers, so the dup2 calls below
        # cannot clobber one with the other.
        child_in = fcntl.fcntl(cmd_read, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(msg_write, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(cmd_read)
        os.close(msg_write)
        self._to_chromium = cmd_write
        self._from_chromium = msg_read

        def map_pipes() -> None:  # runs in the child between fork and exec
            os.dup2(child_in, 3)  # dup2 makes 3 and 4 inheritable; the originals are CLOEXEC
            os.dup2(child_out, 4)

        # Popen's own error pipe must not land on fd 3 or 4 in the child, where the dup2
        # calls would overwrite it: keep those numbers taken while it starts.
        placeholders: list[int] = []
        while True:
            fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            if fd > 4:
                os.close(fd)
                break
            placeholders.append(fd)
        args = [
            self.executable,
            *_CHROMIUM_FLAGS,
            f"--user-data-dir={self._workdir / 'profile'}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        try:
            with open(self._stderr_path, "wb") as stderr:
                self._proc = subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=stderr,
                    stderr=stderr,
                    preexec_fn=map_pipes,
                    close_fds=False,
                    start_new_session=True,
                )
        except OSError as exc:
            raise ChromiumError(f"cannot start {self.executable}: {exc}") from exc
        finally:
            for fd in (child_in, child_out, *placeholders):
                os.close(fd)
        self._reader = threading.Thread(
            target=self._read_loop, name="chromium-devtools-reader", daemon=True
        )
        self._reader.start()

    # -- the pipe ---------------------------------------------------------------------------

    def _read_loop(self) -> None:
        assert self._from_chromium is not None
        buffer = b""
        reason = "Chromium closed its DevTools pipe"
        try:
            while True:
                chunk = os.read(self._from_chromium, 1 << 16)
                if not chunk:
                    break
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for raw in messages:
                    if raw:
                        self._dispatch(json.loads(raw))
        except Exception as exc:  # a broken message must not leave waiters hanging
            reason = f"DevTools reader failed: {exc!r}"
        finally:
            with self._lock:
                self._dead = reason
                pending = list(self._pending.values())
                self._pending.clear()
                pages = list(self._sessions.values())
            for call in pending:
                call.error = reason
                call.done.set()
            for page in pages:
                page._wake()

    def _dispatch(self, message: JSON) -> None:
        if "id" in message:
            with self._lock:
                call = self._pending.pop(message["id"], None)
            if call is None:  # an answer nobody waits for (e.g. a dialog dismissal)
                return
            if "error" in message:
                error = message["error"]
                call.error = f"{error.get('message', error)} ({error.get('data', '')})"
            else:
                call.result = message.get("result", {})
            call.done.set()
            return
        session = message.get("sessionId")
        page = self._sessions.get(session) if session else None
        if page is not None:
            page._on_event(message.get("method", ""), message.get("params", {}))

    def _write(self, message: JSON) -> None:
        data = json.dumps(message).encode() + b"\0"
        with self._write_lock:
            if self._to_chromium is None:
                raise ChromiumError("the browser is closed")
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(self._to_chromium, view) :]
            except OSError as exc:
                raise ChromiumError(f"cannot write to Chromium: {exc}{self._tail()}") from exc

    def send(
        self,
        method: str,
        params: JSON | None = None,
        *,
        session_id: str | None = None,
        timeout_s: float = COMMAND_TIMEOUT_S,
    ) -> JSON:
        """Send one DevTools command and return its result; ChromiumError on error/timeout."""
        call = _Call()
        with self._lock:
            if self._dead is not None:
                raise ChromiumError(f"{method}: {self._dead}{self._tail()}")
            ident = next(self._ids)
            self._pending[ident] = call
        message: JSON = {"id": ident, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        try:
            self._write(message)
        except ChromiumError:
            with self._lock:
                self._pending.pop(ident, None)
            raise
        if not call.done.wait(timeout_s):
            with self._lock:
                self._pending.pop(ident, None)
            raise ChromiumError(f"{method}: no answer in {timeout_s:g} s{self._tail()}")
        if call.error is not None:
            raise ChromiumError(f"{method}: {call.error}{self._tail()}")
        assert call.result is not None
        return call.result

    def send_nowait(self, method: str, params: JSON, *, session_id: str | None = None) -> None:
        """Send a command without waiting for its answer (safe from the reader thread)."""
        message: JSON = {"id": next(self._ids), "method": method, "params": params}
        if session_id is not None:
            message["sessionId"] = session_id
        with contextlib.suppress(ChromiumError):
            self._write(message)

    def stderr_tail(self) -> str:
        """The last :data:`STDERR_TAIL_BYTES` of Chromium's stderr ('' once closed)."""
        try:
            with open(self._stderr_path, "rb") as stream:
                stream.seek(0, os.SEEK_END)
                stream.seek(max(0, stream.tell() - STDERR_TAIL_BYTES))
                return stream.read().decode(errors="replace")
        except OSError:
            return ""

    def _tail(self) -> str:
        proc = self._proc
        status = proc.poll() if proc is not None else None
        exited = f" (chromium exited with status {status})" if status is not None else ""
        tail = self.stderr_tail().strip()
        return exited + (f"\n--- chromium stderr (tail) ---\n{tail}" if tail else "")

    # -- pages ------------------------------------------------------------------------------

    def open(
        self,
        path_or_url: str | os.PathLike[str],
        *,
        width: int = 1280,
        height: int = 800,
        mobile: bool = False,
        scale: float = 1.0,
        timeout_s: float = 30.0,
    ) -> Page:
        """Open a file path or URL in a new tab with the given viewport; wait for its load.

        ``mobile=True`` emulates a phone: pages then need a ``<meta name="viewport">`` tag
        for ``window.innerWidth`` to equal ``width``.
        """
        deadline = time.monotonic() + timeout_s
        url = _to_url(path_or_url)
        target_id = self.send(
            "Target.createTarget", {"url": "about:blank"}, timeout_s=_left(deadline)
        )["targetId"]
        session_id = self.send(
            "Target.attachToTarget",
            {"targetId": target_id, "flatten": True},
            timeout_s=_left(deadline),
        )["sessionId"]
        page = Page(self, target_id, session_id)
        with self._lock:
            self._sessions[session_id] = page
        try:
            page._setup_and_load(
                url, width=width, height=height, mobile=mobile, scale=scale, deadline=deadline
            )
        except BaseException:
            page.close()
            raise
        return page

    def _forget(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    # -- shutdown ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close Chromium (politely, then by force), join the reader, remove the profile."""
        if self._closed:
            return
        self._closed = True
        proc = self._proc
        if proc is not None and proc.poll() is None and self._dead is None:
            with contextlib.suppress(ChromiumError):
                self.send_nowait("Browser.close", {})
        if proc is not None:
            try:
                proc.wait(CLOSE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(CLOSE_TIMEOUT_S)
            # Chromium's helpers (zygote, renderers) share its new session's process group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        with self._write_lock:
            if self._to_chromium is not None:
                os.close(self._to_chromium)
                self._to_chromium = None
        if self._reader is not None:
            self._reader.join(CLOSE_TIMEOUT_S)
            if self._reader.is_alive():  # pragma: no cover - a helper still holds fd 4
                raise ChromiumError("the DevTools reader thread did not stop")
        if self._from_chromium is not None:
            os.close(self._from_chromium)
            self._from_chromium = None
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Page:
    """One tab, attached over a flat DevTools session, with what it reported so far.

    ``console`` holds ``(type, text)`` pairs from the console API; ``errors`` holds uncaught
    exceptions, error-level log entries (failed loads, CSP violations) and console
    errors/assertions; ``requests`` the URLs of every request; ``dialogs`` the messages of
    JavaScript dialogs, which are dismissed as they open.
    """

    def __init__(self, browser: Browser, target_id: str, session_id: str) -> None:
        """Wrap an attached target; use :meth:`Browser.open` rather than this."""
        self.browser = browser
        self.target_id = target_id
        self.session_id = session_id
        self.console: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self._lifecycle: list[tuple[str, str, str]] = []  # (frameId, loaderId, name)
        self._crashed = False
        self._changed = threading.Condition()
        self._closed = False

    # -- events (reader thread) ---------------------------------------------------------------

    def _on_event(self, method: str, params: JSON) -> None:
        if method == "Runtime.consoleAPICalled":
            kind = str(params.get("type", "log"))
            text = " ".join(_remote_text(arg) for arg in params.get("args", []))
            self.console.append((kind, text))
            if kind in ("error", "assert"):
                self.errors.append(f"console.{kind}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exception = details.get("exception") or {}
            text = exception.get("description") or "exception"
            self.errors.append(f"{details.get('text', 'Uncaught')}: {text}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            if entry.get("level") == "error":
                where = f" ({entry['url']})" if entry.get("url") else ""
                self.errors.append(f"{entry.get('source', 'log')}: {entry.get('text', '')}{where}")
        elif method == "Network.requestWillBeSent":
            self.requests.append(str(params.get("request", {}).get("url", "")))
        elif method == "Page.javascriptDialogOpening":
            self.dialogs.append(str(params.get("message", "")))
            self.browser.send_nowait(
                "Page.handleJavaScriptDialog", {"accept": False}, session_id=self.session_id
            )
        elif method == "Page.lifecycleEvent":
            with self._changed:
                self._lifecycle.append(
                    (params.get("frameId", ""), params.get("loaderId", ""), params.get("name", ""))
                )
                self._changed.notify_all()
        elif method in ("Inspector.targetCrashed", "Inspector.detached"):
            self._crashed = True
            self._wake()

    def _wake(self) -> None:
        with self._changed:
            self._changed.notify_all()

    # -- commands -----------------------------------------------------------------------------

    def send(self, method: str, params: JSON | None = None, *, timeout_s: float = 30.0) -> JSON:
        """Send one DevTools command to this tab's session."""
        return self.browser.send(method, params, session_id=self.session_id, timeout_s=timeout_s)

    def _setup_and_load(
        self, url: str, *, width: int, height: int, mobile: bool, scale: float, deadline: float
    ) -> None:
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.send(f"{domain}.enable", timeout_s=_left(deadline))
        self.send("Page.setLifecycleEventsEnabled", {"enabled": True}, timeout_s=_left(deadline))
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile},
            timeout_s=_left(deadline),
        )
        nav = self.send("Page.navigate", {"url": url}, timeout_s=_left(deadline))
        if nav.get("errorText"):
            raise ChromiumError(f"cannot load {url}: {nav['errorText']}")
        frame_id, loader_id = nav["frameId"], nav.get("loaderId", "")
        self._wait(
            lambda: any(
                event[0] == frame_id and event[2] == "load" and event[1] in (loader_id, "")
                for event in self._lifecycle
            ),
            deadline,
            f"the load event of {url}",
        )
        # A round trip through the renderer: every event it sent before now has arrived.
        self.evaluate("0", timeout_s=_left(deadline))

    def _wait(self, ready: Callable[[], bool], deadline: float, what: str) -> None:
        with self._changed:
            while not ready():
                if self._crashed:
                    raise ChromiumError(f"the tab crashed waiting for {what}{self.browser._tail()}")
                if self.browser._dead is not None:
                    raise ChromiumError(
                        f"waiting for {what}: {self.browser._dead}{self.browser._tail()}"
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ChromiumError(f"timed out waiting for {what}{self.browser._tail()}")
                self._changed.wait(min(left, 0.5))

    def evaluate(self, expression: str, *, timeout_s: float = 30.0) -> Any:
        """Evaluate JavaScript in the page (promises awaited) and return its JSON value.

        Raises AssertionError with the exception text when the expression throws.
        """
        answer = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            timeout_s=timeout_s,
        )
        details = answer.get("exceptionDetails")
        if details is not None:
            exception = details.get("exception") or {}
            text = exception.get("description") or details.get("text", "exception")
            raise AssertionError(f"{expression!r} threw: {text}")
        return answer.get("result", {}).get("value")

    def wait_until(self, expression: str, *, timeout_s: float = 5.0) -> Any:
        """Poll ``expression`` until it is truthy and return its value; ChromiumError on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.evaluate(expression, timeout_s=max(_left(deadline), 1.0))
            if value:
                return value
            if time.monotonic() >= deadline:
                raise ChromiumError(f"{expression!r} still falsy after {timeout_s:g} s")
            time.sleep(0.05)

    def screenshot(self, path: str | os.PathLike[str], *, full_page: bool = True) -> bytes:
        """Write a PNG of the viewport, or of the whole page, to ``path``; return its bytes."""
        params: JSON = {"format": "png"}
        if full_page:
            metrics = self.send("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            params["captureBeyondViewport"] = True
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": math.ceil(size["width"]),
                "height": math.ceil(size["height"]),
                "scale": 1,
            }
        data = base64.b64decode(self.send("Page.captureScreenshot", params)["data"])
        Path(path).write_bytes(data)
        return data

    def close(self) -> None:
        """Close the tab (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.browser._forget(self.session_id)
        if self.browser._dead is None and not self.browser._closed:
            with contextlib.suppress(ChromiumError):
                self.browser.send("Target.closeTarget", {"targetId": self.target_id}, timeout_s=5)

    def __enter__(self) -> Page:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _to_url(path_or_url: str | os.PathLike[str]) -> str:
    text = os.fspath(path_or_url)
    if "://" in text or text.startswith(("about:", "data:")):
        return text
    return Path(text).resolve().as_uri()


def _left(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.001)


def _remote_text(arg: JSON) -> str:
    if "value" in arg:
        value = arg["value"]
        return value if isinstance(value, str) else json.dumps(value)
    return str(arg.get("description") or arg.get("unserializableValue") or arg.get("type", ""))


if __name__ == "__main__":  # `python tests/report/chromium.py` prints the binary it would drive
    print(find_chromium() or "")
