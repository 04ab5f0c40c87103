"""The sampler: one background thread per tracker that polls the sensors.

Each tick reads every sensor, folds the readings into per-domain accumulators (counter
deltas or trapezoid power), splits each interval's energy between the tracked process
tree and the rest of the machine, weights it by the carbon intensity of the moment, and
appends mean power per component to a bounded series. It never raises into user code: a
sensor that fails is logged once, replaced by the estimation model for its components,
and the failure is kept in :attr:`Sampler.events` for the record.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import psutil

from wattwise.host import HostCpu
from wattwise.integrate import ZERO, DomainAccumulator, EnergyTriple
from wattwise.process import ProcessSample, ProcessTree
from wattwise.sensors._base import Domain, Sensor
from wattwise.series import DownsamplingSeries
from wattwise.units import Component

__all__ = ["COMPONENTS", "Sampler", "SamplerEvent", "Snapshot"]

logger = logging.getLogger("wattwise")

COMPONENTS: tuple[Component, ...] = ("cpu", "ram", "gpu", "other")


@dataclass(frozen=True)
class Snapshot:
    """Cumulative figures since the sampler started, at one instant.

    Attributes:
        t_s: monotonic time of the snapshot.
        wall_s: wall-clock time (seconds since the epoch).
        machine: energy per domain key for the whole machine (J, with range).
        process: energy per domain key attributed to the tracked process tree.
        ei_machine: Σ interval energy (J) × intensity (gCO2e/kWh) for the machine.
        ei_process: the same for the attributed energy.
        process_cpu_s: CPU-seconds used by the tracked tree.
    """

    t_s: float
    wall_s: float
    machine: dict[str, EnergyTriple]
    process: dict[str, EnergyTriple]
    ei_machine: float = 0.0
    ei_process: float = 0.0
    process_cpu_s: float = 0.0

    def minus(self, earlier: Snapshot) -> Snapshot:
        """Figures of the window between ``earlier`` and this snapshot."""
        return Snapshot(
            self.t_s,
            self.wall_s,
            {k: v - earlier.machine.get(k, ZERO) for k, v in self.machine.items()},
            {k: v - earlier.process.get(k, ZERO) for k, v in self.process.items()},
            self.ei_machine - earlier.ei_machine,
            self.ei_process - earlier.ei_process,
            self.process_cpu_s - earlier.process_cpu_s,
        )


@dataclass(frozen=True)
class SamplerEvent:
    """Something the record must say, e.g. a sensor that failed and what replaced it."""

    wall_s: float
    kind: str
    message: str


FallbackFactory = Callable[[Sensor, Sequence[Domain]], Sensor | None]


@dataclass
class _Shares:
    cpu_machine: float = 1.0
    cpu_scope: float = 1.0
    ram_machine: float = 1.0
    ram_scope: float = 1.0
    gpu: dict[str, float] = field(default_factory=dict)


class Sampler:
    """Polls sensors every ``interval_s`` on a daemon thread; thread-safe reads.

    ``intensity`` maps a wall-clock time to gCO2e/kWh (called at most once per tick).
    ``on_tick`` runs on the sampler thread after each tick (e.g. to checkpoint the run);
    its exceptions are logged once and ignored.
    """

    def __init__(
        self,
        sensors: Sequence[Sensor],
        *,
        interval_s: float = 1.0,
        process_tree: ProcessTree | None = None,
        host: HostCpu | None = None,
        intensity: Callable[[float], float] = lambda _t: 0.0,
        start_intensity_g_per_kwh: float = 0.0,
        fallback: FallbackFactory | None = None,
        on_tick: Callable[[Snapshot], None] | None = None,
        series_capacity: int = 2048,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.interval_s = interval_s
        self._sensors = list(sensors)
        self._tree = process_tree
        self._host = host
        self._intensity = intensity
        self._fallback = fallback
        self._on_tick = on_tick
        self._clock = clock
        self._wall = wall_clock
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._acc: dict[str, DomainAccumulator] = {}
        self._proc_acc: dict[str, EnergyTriple] = {}
        self._sensor_of: dict[str, Sensor] = {}
        for s in self._sensors:
            self._add_domains(s)
        self.events: list[SamplerEvent] = []
        self._warned_tick = False
        self.series = DownsamplingSeries(
            [f"{c}_w" for c in COMPONENTS] + ["process_w"], series_capacity
        )
        self._ei_machine = 0.0
        self._ei_process = 0.0
        self._last_intensity = start_intensity_g_per_kwh  # until a lookup answers
        self._proc: ProcessSample | None = None
        self._busy_machine = 0.0
        self._busy_scope = 0.0
        self._last_t = 0.0
        self._last_wall = 0.0
        self._last: Snapshot | None = None
        self.ticks = 0

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Snapshot:
        """Take the first reading and start the thread. Returns the starting snapshot."""
        with self.lock:
            if self.running:
                assert self._last is not None
                return self._last
            self._stop.clear()
            self._prime()
            snap = self.sample_now()
            self._thread = threading.Thread(target=self._run, name="wattwise-sampler", daemon=True)
            self._thread.start()
            return snap

    def stop(self) -> Snapshot:
        """Stop the thread, take a last reading and return it. Idempotent: once stopped,
        it returns that last reading without reading again."""
        if self._stop.is_set() and self._thread is None and self._last is not None:
            return self._last
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(5.0, 3 * self.interval_s))
        self._thread = None
        return self.sample_now()

    def close(self, keep: Sequence[Sensor] = ()) -> None:
        """Stop and close every sensor but those in ``keep`` (the caller's to close)."""
        self.stop()
        for s in self._sensors:
            if any(s is k for k in keep):
                continue
            try:
                s.close()
            except Exception:  # closing must not raise into user code
                logger.debug("closing sensor %s failed", s.name, exc_info=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample_now()

    # -- domains ------------------------------------------------------------------------
    def _add_domains(self, sensor: Sensor) -> None:
        for d in sensor.domains():
            if d.key not in self._acc:
                self._acc[d.key] = DomainAccumulator(d)
                self._proc_acc[d.key] = ZERO
            self._sensor_of[d.key] = sensor

    @property
    def domains(self) -> list[Domain]:
        """Every domain seen in this run, including ones whose sensor failed."""
        with self.lock:  # a degrading sensor adds domains on the sampler thread
            return [a.domain for a in self._acc.values()]

    def power_w(self) -> dict[str, float]:
        """Latest power per domain still being read (W)."""
        with self.lock:
            active = {d.key for s in self._sensors for d in s.domains()}
            return {
                k: a.power_w for k, a in self._acc.items() if a.power_w is not None and k in active
            }

    # -- sampling -----------------------------------------------------------------------
    def _prime(self) -> None:
        self._last_t = self._clock()
        self._last_wall = self._wall()
        if self._tree is not None:
            self._proc = self._tree.sample()
        if self._host is not None:
            self._busy_machine = self._host.machine_busy_s()
            self._busy_scope = self._host.scope_busy_s()[0]

    def _shares(self) -> _Shares:
        shares = _Shares()
        if self._tree is None:
            return shares
        proc = self._tree.sample()
        d_proc = proc.cpu_s - (self._proc.cpu_s if self._proc else 0.0)
        self._proc = proc
        if self._host is not None:
            busy_m = self._host.machine_busy_s()
            busy_s = self._host.scope_busy_s()[0]
            dm, ds = busy_m - self._busy_machine, busy_s - self._busy_scope
            self._busy_machine, self._busy_scope = busy_m, busy_s
            shares.cpu_machine = _clamp(d_proc / dm) if dm > 0 else 0.0
            shares.cpu_scope = _clamp(d_proc / ds) if ds > 0 else 0.0
        vm = psutil.virtual_memory()
        used = max(vm.total - vm.available, 1)
        limit = self._host.limits.memory_bytes if self._host is not None else None
        shares.ram_machine = _clamp(proc.rss_bytes / used)
        shares.ram_scope = _clamp(proc.rss_bytes / (min(vm.total, limit) if limit else vm.total))
        for sensor in self._sensors:
            try:
                shares.gpu.update(sensor.process_share(proc.pids))
            except Exception:
                logger.debug("process_share failed for %s", sensor.name, exc_info=True)
        return shares

    def _share_for(self, domain: Domain, shares: _Shares) -> float:
        estimated = domain.method == "estimated"
        if domain.component == "ram":
            return shares.ram_scope if estimated else shares.ram_machine
        if domain.component == "gpu":
            return shares.gpu.get(domain.key, 1.0)
        return shares.cpu_scope if estimated else shares.cpu_machine

    def sample_now(self) -> Snapshot:
        """Read every sensor now (thread-safe) and return the cumulative snapshot."""
        with self.lock:
            try:
                return self._tick()
            except Exception as exc:  # never raise into user code
                if not self._warned_tick:
                    self._warned_tick = True
                    logger.warning("wattwise sampler tick failed: %s", exc, exc_info=True)
                    self.events.append(
                        SamplerEvent(
                            self._wall(),
                            "sampler-error",
                            f"sampler tick failed: {type(exc).__name__}: {exc}",
                        )
                    )
                return self._last or self._empty_snapshot()

    def _empty_snapshot(self) -> Snapshot:
        return Snapshot(self._clock(), self._wall(), {}, {})

    def _tick(self) -> Snapshot:
        t = self._clock()
        wall = self._wall()
        # read the sensors first, right at ``t``; the shares (process sampling) after
        batches = []
        for sensor in list(self._sensors):
            try:
                batches.append(sensor.read())
            except Exception as exc:
                self._degrade(sensor, exc)
        shares = self._shares()
        per_component = dict.fromkeys(COMPONENTS, 0.0)
        interval_j = 0.0
        interval_proc_j = 0.0
        for readings in batches:
            for r in readings:
                acc = self._acc.get(r.domain)
                if acc is None:
                    continue
                delta = acc.add(t, r)
                share = self._share_for(acc.domain, shares)
                self._proc_acc[r.domain] = self._proc_acc[r.domain] + delta.scale(share)
                per_component[acc.domain.component] += delta.value_j
                interval_j += delta.value_j
                interval_proc_j += delta.value_j * share
        dt = t - self._last_t
        if self._last is not None and dt > 0:
            intensity = self._intensity_at(wall)
            self._ei_machine += interval_j * intensity
            self._ei_process += interval_proc_j * intensity
            self.series.append(
                self._last_wall,
                wall,
                [per_component[c] / dt for c in COMPONENTS] + [interval_proc_j / dt],
            )
        self._last_t = t
        self._last_wall = wall
        self.ticks += 1
        snap = Snapshot(
            t,
            wall,
            {k: a.total for k, a in self._acc.items()},
            dict(self._proc_acc),
            self._ei_machine,
            self._ei_process,
            self._proc.cpu_s if self._proc is not None else 0.0,
        )
        self._last = snap
        if self._on_tick is not None:
            try:
                self._on_tick(snap)
            except Exception as exc:
                if not any(e.kind == "checkpoint-error" for e in self.events):
                    msg = f"checkpoint failed: {type(exc).__name__}: {exc}"
                    logger.warning("wattwise: %s", msg)
                    self.events.append(SamplerEvent(wall, "checkpoint-error", msg))
        return snap

    def _intensity_at(self, wall: float) -> float:
        """The intensity now; the last good one if the lookup fails, so a failing provider
        costs no energy (the tick's figures are kept) and only dates its emissions."""
        try:
            self._last_intensity = self._intensity(wall)
        except Exception as exc:
            if not any(e.kind == "intensity-error" for e in self.events):
                msg = (
                    f"carbon intensity lookup failed ({type(exc).__name__}: {exc}); "
                    f"{self._last_intensity:g} gCO2e/kWh used until it answers again"
                )
                logger.warning("wattwise: %s", msg)
                self.events.append(SamplerEvent(wall, "intensity-error", msg))
        return self._last_intensity

    def _degrade(self, sensor: Sensor, exc: Exception) -> None:
        """Replace a failing sensor by the fallback for its domains; keep what it counted."""
        self._sensors.remove(sensor)
        failed = list(sensor.domains())
        try:
            replacement = self._fallback(sensor, failed) if self._fallback else None
        except Exception:
            logger.debug("no fallback for %s", sensor.name, exc_info=True)
            replacement = None
        if sensor not in getattr(replacement, "adopted", ()):
            try:
                sensor.close()
            except Exception:
                logger.debug("closing failed sensor %s", sensor.name, exc_info=True)
        what = "no replacement"
        if replacement is not None:
            self._sensors.append(replacement)
            self._add_domains(replacement)
            # the first reading of a new counter is its baseline
            for r in replacement.read():
                acc = self._acc.get(r.domain)
                if acc is not None:
                    acc.add(self._clock(), r)
            what = "estimated from now on by " + ", ".join(d.key for d in replacement.domains())
        msg = f"sensor {sensor.name} failed ({exc}); {what}; energy counted so far is kept"
        logger.warning("wattwise: %s", msg)
        self.events.append(SamplerEvent(self._wall(), "sensor-degraded", msg))


def _clamp(x: float) -> float:
    return min(max(x, 0.0), 1.0)
