"""The ``wattwise`` command line.

Exit codes: 0 success; 2 user error (one line on stderr, no traceback); ``wattwise run``
returns the wrapped command's own exit code (128 + N when a signal N killed it).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from types import FrameType
from typing import Any, TypeVar

import click

from wattwise.exceptions import WattwiseError

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])

_FORWARDED = ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGINT")


def _console(stderr: bool = True) -> Any:
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console.width = max(console.width, 160)  # pipes and logs: wide enough that ids never wrap
    return console


def _tracker_options(func: F) -> F:
    """Options shared by every command that measures (one place, so they cannot drift)."""
    options = [
        click.option("--zone", help="Electricity zone: ISO code, US-XX state, aws:region..."),
        click.option("--pue", type=float, help="Power usage effectiveness (1.0-3.0)."),
        click.option("--interval", "interval_s", type=float, help="Sampling interval, s."),
        click.option("--store", help="Run store: SQLAlchemy URL, SQLite path, or 'local'."),
        click.option("--price", "price_per_kwh", type=float, help="Electricity price per kWh."),
        click.option("--currency", help="Currency of --price."),
        click.option(
            "--intensity",
            "intensity_g_per_kwh",
            type=float,
            help="Fixed carbon intensity, gCO2e/kWh.",
        ),
        click.option(
            "--intensity-csv", type=click.Path(dir_okay=False), help="CSV of hourly intensities."
        ),
        click.option(
            "--live-intensity/--no-live-intensity",
            default=None,
            help="Query Electricity Maps / WattTime (keys from the environment).",
        ),
        click.option(
            "--headline",
            type=click.Choice(["machine", "process"]),
            help="Headline energy: whole machine or the command's share.",
        ),
        click.option(
            "--setting",
            type=click.Choice(["auto", "local", "datacenter", "cloud"]),
            help="Where this runs (sets the default PUE).",
        ),
        click.option(
            "--checkpoint",
            "checkpoint_s",
            type=float,
            help="Seconds between saves of the running record.",
        ),
        click.option(
            "--config", "config_path", type=click.Path(dir_okay=False), help="Config file (TOML)."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


class _Group(click.Group):
    """Turns WattwiseError into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WattwiseError as exc:
            click.echo(f"wattwise: error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wattwise")
def main() -> None:
    """Measure the energy and carbon footprint of code and commands."""


# -- run ----------------------------------------------------------------------------------
@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--name", "-n", help="Run name (default: the command's program name).")
@click.option("--tag", "-t", "tags", multiple=True, help="KEY=VALUE label, repeatable.")
@click.option("--quiet", "-q", is_flag=True, help="No summary at the end.")
@click.option("--json", "as_json", is_flag=True, help="Print the run record as JSON on stderr.")
@click.option(
    "--when-greenest",
    is_flag=True,
    help="Wait for the greenest start before --deadline (series: --intensity-csv or "
    "--live-intensity's forecast).",
)
@click.option("--deadline", help="With --when-greenest: finish by (ISO time, or 12h from now).")
@click.option(
    "--duration", "job_duration", help="With --when-greenest: the job's length (90m, 3h, 2h30m)."
)
@click.option(
    "--energy-kwh",
    "job_energy_kwh",
    type=float,
    help="With --when-greenest: the job's expected energy, kWh, as you want its emissions "
    "counted (facility kWh, e.g. wattwise estimate's; PUE is not applied), to show gCO2e saved.",
)
@_tracker_options
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
def run(
    command: Sequence[str],
    name: str | None,
    tags: Sequence[str],
    quiet: bool,
    as_json: bool,
    when_greenest: bool,
    deadline: str | None,
    job_duration: str | None,
    job_energy_kwh: float | None,
    config_path: str | None,
    **options: Any,
) -> None:
    """Run COMMAND, measure it and its whole process tree, and save the run.

    Example: wattwise run --zone FRA -- python train.py --epochs 3

    With --when-greenest, first wait for the start with the least emissions before the
    deadline: wattwise run --when-greenest --deadline 12h --duration 3h
    --intensity-csv grid.csv -- python train.py (Ctrl-C while waiting: exit 130, nothing
    run or saved).
    """
    from wattwise.config import resolve_config
    from wattwise.tracking import Tracker

    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise click.UsageError("no command given: wattwise run [OPTIONS] -- COMMAND [ARGS]...")
    cfg = resolve_config(config_path=config_path, **options)
    run_tags = _parse_tags(tags)
    if when_greenest or deadline or job_duration or job_energy_kwh is not None:
        run_tags.update(
            _wait_for_greenest(cfg, when_greenest, deadline, job_duration, job_energy_kwh)
        )
    tracker = Tracker(
        name or os.path.basename(command[0]),
        config=cfg,
        tags=run_tags,
        command=shlex.join(command),
    )
    tracker.start()
    try:
        proc = subprocess.Popen(list(command))
    except OSError as exc:
        tracker.stop("failed", error=f"could not start {command[0]!r}: {exc.strerror or exc}")
        tracker.close()
        raise _UserError(f"cannot run {command[0]!r}: {exc.strerror or exc}") from None
    tracker.attach(proc.pid)
    previous = _forward_signals(proc)
    status = "completed"
    try:
        while True:
            try:
                # wait4, not wait: the kernel's rusage is the exact CPU time of the
                # command and every descendant it reaped
                _, wait_status, usage = os.wait4(proc.pid, 0)
                break
            except KeyboardInterrupt:  # the child got the terminal's Ctrl-C too
                status = "interrupted"
    finally:
        _restore_signals(previous)
    code = os.waitstatus_to_exitcode(wait_status)
    proc.returncode = code
    tracker.reaped(usage.ru_utime + usage.ru_stime)
    if code < 0:
        exit_code = 128 + (-code)
        status = "interrupted"
        note = f"command killed by signal {signal.Signals(-code).name}"
    else:
        exit_code = code
        status = status if code == 0 else "failed"
        note = f"command exited with code {code}" if code else ""
    tracker.exit_code = exit_code
    record = tracker.stop(status, error=note or None)  # type: ignore[arg-type]
    tracker.close()
    if as_json:
        click.echo(json.dumps(record.to_dict(), indent=1), err=True)
    elif not quiet:
        from wattwise.summary import print_summary

        print_summary(record, _console())
    sys.exit(exit_code)


# -- schedule -----------------------------------------------------------------------------
def _now() -> datetime:
    """The current time, UTC (one place, so tests can set the clock)."""
    return datetime.now(timezone.utc)


def _sleep(seconds: float) -> None:
    """Wait ``seconds`` (one place, so tests need not wait); Ctrl-C interrupts it."""
    import time

    time.sleep(seconds)


def _greenest(
    duration: str,
    deadline: str,
    energy_kwh: float | None,
    intensity_csv: str | None,
    live: bool,
    zone: str | None,
    step: str | None = None,
    zone_source: str = "argument",
) -> Any:
    """The schedule for a job, from a CSV or the live provider's forecast."""
    from wattwise.scheduling import IntensitySeries, greenest_start, parse_deadline
    from wattwise.scheduling import parse_duration as duration_of

    now = _now()
    length = duration_of(duration)
    until = parse_deadline(deadline, now)
    if intensity_csv is not None:
        series = IntensitySeries.from_csv(intensity_csv)
    else:
        from wattwise.carbon import (
            ElectricityMapsIntensity,
            WattTimeIntensity,
            live_provider_from_env,
            resolve_zone,
        )

        provider = live_provider_from_env(resolve_zone(zone, source=zone_source).zone)
        if not isinstance(provider, ElectricityMapsIntensity | WattTimeIntensity):
            raise _UserError(
                "no live intensity provider is configured: set ELECTRICITYMAPS_API_KEY, or "
                "WATTTIME_USERNAME and WATTTIME_PASSWORD (with WATTWISE_LIVE_ZONE)"
            )
        series = IntensitySeries.from_forecast(provider.forecast(until))
    return greenest_start(
        series,
        duration=length,
        deadline=until,
        energy_kwh=energy_kwh,
        now=now,
        step=duration_of(step, what="step") if step is not None else None,
    )


def _wait_for_greenest(
    cfg: Any,
    when_greenest: bool,
    deadline: str | None,
    duration: str | None,
    energy_kwh: float | None,
) -> dict[str, str]:
    """Schedule, say so, wait for the start; the tags that record it. Exit 130 on Ctrl-C."""
    if not when_greenest:
        raise _UserError("--deadline, --duration and --energy-kwh go with --when-greenest")
    if not deadline or not duration:
        raise _UserError("--when-greenest needs --deadline and --duration")
    if cfg.intensity_csv is None and not cfg.live_intensity:
        raise _UserError(
            "--when-greenest needs an intensity series: --intensity-csv FILE, or "
            "--live-intensity with a provider key (ELECTRICITYMAPS_API_KEY or WattTime's)"
        )
    try:
        plan = _greenest(
            duration,
            deadline,
            energy_kwh,
            cfg.intensity_csv,
            cfg.live_intensity,
            cfg.zone,
            zone_source=cfg.source_of("zone"),
        )
        click.echo(f"wattwise: {plan.summary_line()}", err=True)
        if plan.note:
            click.echo(f"wattwise: note: {plan.note}", err=True)
        from wattwise.scheduling import describe_deadline

        read_as = describe_deadline(deadline, plan.deadline)
        if read_as.endswith("(read as UTC: no offset given)"):
            click.echo(f"wattwise: note: deadline {read_as}", err=True)
        while (left := (plan.start - _now()).total_seconds()) > 0:
            _sleep(min(left, 60.0))  # short naps: a suspended machine wakes up on time
    except KeyboardInterrupt:
        click.echo("wattwise: interrupted before the scheduled start; nothing was run", err=True)
        sys.exit(130)
    return {
        "scheduled_start": plan.start.isoformat(),
        "scheduled_saved_pct": f"{plan.saved_pct:.1f}",
    }


@main.command("schedule")
@click.option("--duration", required=True, help="The job's length: 90m, 3h, 1.5h, 2h30m, seconds.")
@click.option(
    "--deadline", required=True, help="Finish by: ISO time (UTC when naive) or 12h from now."
)
@click.option(
    "--energy-kwh",
    type=float,
    help="The job's energy, kWh, as you want its emissions counted: facility kWh (e.g. "
    "wattwise estimate's 'facility energy'), since PUE is not applied here. Shows gCO2e saved.",
)
@click.option(
    "--intensity-csv",
    type=click.Path(dir_okay=False),
    help="CSV of hourly intensities (timestamp, gCO2e/kWh).",
)
@click.option("--live", is_flag=True, help="The live provider's forecast (keys from the env).")
@click.option("--zone", help="Zone for --live (default: guessed; WATTWISE_LIVE_ZONE wins).")
@click.option("--step", help="Only starts at now + k × STEP (e.g. 15m); default: any time.")
@click.option("--json", "as_json", is_flag=True, help="The schedule as JSON on stdout.")
def schedule(
    duration: str,
    deadline: str,
    energy_kwh: float | None,
    intensity_csv: str | None,
    live: bool,
    zone: str | None,
    step: str | None,
    as_json: bool,
) -> None:
    """When to start a job so it emits least before its deadline.

    Example: wattwise schedule --duration 3h --deadline 24h --intensity-csv grid.csv
    """
    from wattwise.scheduling import describe_deadline, format_duration, format_time
    from wattwise.units import significant

    if (intensity_csv is None) == (not live):
        raise _UserError(
            "give one intensity series: --intensity-csv FILE or --live"
            if intensity_csv is None
            else "--intensity-csv and --live are exclusive: give one"
        )
    plan = _greenest(duration, deadline, energy_kwh, intensity_csv, live, zone, step)
    if as_json:
        click.echo(json.dumps(plan.to_dict(), indent=1))
        return
    unit = "gCO2/kWh (marginal)" if plan.marginal else "gCO2e/kWh"
    wait = "now" if plan.wait.total_seconds() <= 0 else f"in {format_duration(plan.wait)}"
    lines = [
        ("greenest start", f"{format_time(plan.start)} ({wait}; ends {format_time(plan.end)})"),
        (
            "mean intensity",
            f"{plan.intensity_g_per_kwh:.1f} {unit} in that window, "
            f"{plan.now_intensity_g_per_kwh:.1f} starting now ({plan.saved_pct:.1f}% less)",
        ),
    ]
    if plan.co2e_g is not None:
        lines.append(
            (
                "emissions",
                f"{significant(plan.co2e_g, 4)} gCO2e vs {significant(plan.now_co2e_g, 4)} "
                f"starting now: {significant(plan.saved_g, 4)} g saved "
                f"({plan.energy_kwh:g} kWh, drawn evenly)",
            )
        )
    lines.append(("series", f"{plan.source}; {plan.candidates} start times weighed"))
    lines.append(("deadline", describe_deadline(deadline, plan.deadline)))
    if plan.note:
        lines.append(("note", plan.note))
    for label, text in lines:
        click.echo(f"{label:<15} {text}")


# -- demo ---------------------------------------------------------------------------------
@main.group(invoke_without_command=True, subcommand_metavar="[profile|tune|optimize [OPTIONS]]")
@click.option("--epochs", type=click.IntRange(1, 1000), default=8, show_default=True)
@click.option("--batch-size", type=click.IntRange(1, 4096), default=32, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--budget-kwh", type=float, help="Stop when the run's energy reaches this (kWh).")
@click.option("--budget-gco2e", type=float, help="Stop when emissions reach this (gCO2e).")
@click.option("--budget-cost", type=float, help="Stop when the cost reaches this.")
@click.option(
    "--live",
    type=click.Choice(["auto", "rich", "plain", "notebook", "off"]),
    help="Live display while training (default: auto).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run record as JSON on stdout.")
@_tracker_options
@click.pass_context
def demo(
    ctx: click.Context,
    /,
    epochs: int,
    batch_size: int,
    seed: int,
    as_json: bool,
    config_path: str | None,
    **options: Any,
) -> None:
    """Train a small CNN on scikit-learn's bundled digits, measured, forecast and saved.

    Nothing is downloaded. Needs the demo extra: pip install 'wattwise[demo]'.
    """
    if ctx.invoked_subcommand is not None:
        given = [
            f"--{name.replace('_', '-')}"
            for name in ctx.params
            if ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)
        ]
        if given:
            raise click.UsageError(
                f"{given[0]} is an option of 'wattwise demo'; options of "
                f"'wattwise demo {ctx.invoked_subcommand}' go after it"
            )
        return
    from wattwise.config import resolve_config
    from wattwise.demo import _imports, print_result, run_demo
    from wattwise.tracking import Tracker

    cfg = resolve_config(config_path=config_path, **options)
    _imports()  # a missing extra is a one-line error before anything starts
    console = _console(stderr=False)
    _console(stderr=as_json).print(
        f"wattwise demo: training a small CNN on scikit-learn's digits for {epochs} epochs "
        "(no download)"
    )
    result = run_demo(
        Tracker("demo", config=cfg, tags={"demo": "digits-cnn"}),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
    )
    if as_json:
        click.echo(json.dumps(result.record.to_dict(), indent=1))
        return
    from wattwise.summary import print_summary

    print_summary(result.record, console)
    console.print()
    print_result(result, console)


@demo.command(
    "profile", short_help="Where the joules go: 8 CNNs of growing complexity, energy vs accuracy."
)
@click.option("--epochs", type=click.IntRange(1, 1000), default=8, show_default=True)
@click.option("--batch-size", type=click.IntRange(1, 4096), default=32, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--repeats",
    type=click.IntRange(1, 100),
    default=1,
    show_default=True,
    help="Train each network this many times (seeds SEED, SEED+1, ...).",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 1024),
    default=1,
    show_default=True,
    help="PyTorch threads (more only help on an otherwise idle machine).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the study as JSON on stdout.")
@_tracker_options
def demo_profile(
    epochs: int,
    batch_size: int,
    seed: int,
    repeats: int,
    threads: int,
    as_json: bool,
    config_path: str | None,
    **options: Any,
) -> None:
    """Where the joules go: the 2×2×2 CNN design of Yarally et al. (CAIN 2023) on digits.

    Trains eight small CNNs (1 or 4 conv layers × 3 or 7 linear layers × ReLU off or on),
    each measured as its own run, and prints energy against accuracy, the share of the
    energy's variance each factor explains, and the smallest network's energy over the
    largest's. Nothing is downloaded. Needs the demo extra: pip install 'wattwise[demo]'.
    """
    from wattwise.complexity import print_study, profile_layers, run_study
    from wattwise.config import resolve_config
    from wattwise.demo import _imports
    from wattwise.summary import fmt_duration, fmt_energy

    cfg = resolve_config(config_path=config_path, **options)
    _imports()  # a missing extra is a one-line error before anything starts
    err = _console(stderr=True)
    times = f" × {repeats} seeds" if repeats > 1 else ""
    err.print(
        f"wattwise demo profile: training 8 small CNNs{times} on scikit-learn's digits, "
        f"{epochs} epoch{'s' if epochs != 1 else ''} each (no download)"
    )

    def progress(i: int, n: int, v: Any) -> None:
        err.print(
            f"[{i + 1}/{n}] {v.label}: {fmt_energy(v.energy_j)} ({v.method}) in "
            f"{fmt_duration(v.duration_s)}, accuracy {v.metric:.1%}",
            soft_wrap=True,
        )

    result = run_study(
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        repeats=repeats,
        threads=threads,
        tracker_options={"config": cfg},
        on_variant=progress,
    )
    err.print("profiling one training step of the largest and the smallest network…")
    shapes = ((4, 7, True), (1, 3, False))
    profiles = [
        profile_layers(
            *shape,
            batch_size=batch_size,
            seed=seed,
            threads=threads,
            tracker_options={"config": cfg},
        )
        for shape in shapes
    ]
    if as_json:
        doc = result.to_dict()
        doc["layer_profiles"] = [
            {"network": list(shape), **p.as_dict()}
            for shape, p in zip(shapes, profiles, strict=True)
        ]
        click.echo(json.dumps(doc, indent=1))
        return
    console = _console(stderr=False)
    print_study(result, console)
    labels = [f"{c} conv, {n} linear, ReLU {'on' if r else 'off'}" for c, n, r in shapes]
    _print_layer_shares(list(zip(labels, profiles, strict=True)), console)
    from wattwise.store import default_store_path

    ids = " ".join(v.run_id[:8] for v in result.sweeps[0].variants if v.run_id)
    store = result.sweeps[0].store
    at = ""
    if store not in (f"sqlite:///{default_store_path()}", "memory"):
        at = f" --store {shlex.quote(store)}"
    console.print(
        f"compare the runs: wattwise runs compare {ids} --metric val_accuracy{at} "
        "--html study.html",
        soft_wrap=True,
    )


def _print_layer_shares(profiles: Sequence[tuple[str, Any]], console: Any) -> None:
    """Share of one training step's energy per layer type, a column per profiled network."""
    from rich.table import Table

    table = Table(
        title="one training step's energy by layer type (time share of the measured step)",
        title_justify="left",
        show_edge=False,
    )
    table.add_column("layer type")
    for label, _ in profiles:
        table.add_column(label, justify="right")
    kinds: list[str] = []
    for _, p in profiles:
        kinds += [c.category for c in p.categories if c.category not in kinds]
    for kind in kinds:
        cells = []
        for _, p in profiles:
            shares = {c.category: c.share for c in p.categories}
            cells.append(f"{shares[kind]:.1%}" if kind in shares else "—")
        table.add_row(kind, *cells)
    console.print(table)


class _UserError(click.ClickException):
    """A user error: one line, exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"wattwise: error: {self.message}", err=True)


def _forward_signals(proc: subprocess.Popen[bytes]) -> dict[int, Any]:
    """Pass signals sent to wattwise on to the command. Ctrl-C at a terminal already
    reaches the command (same process group), so SIGINT is forwarded only when wattwise
    is not in its terminal's foreground process group (whatever stdin is)."""
    previous: dict[int, Any] = {}
    interactive = _in_terminal_foreground()

    def forward(signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGINT and interactive:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    for sig_name in _FORWARDED:
        sig = getattr(signal, sig_name, None)
        if sig is None:
            continue
        try:
            previous[sig] = signal.signal(sig, forward)
        except (OSError, ValueError):  # not the main thread, or not allowed
            continue
    return previous


def _in_terminal_foreground() -> bool:
    """Whether this process is in the foreground process group of its controlling
    terminal, where the terminal's Ctrl-C reaches every process of the group."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:  # no controlling terminal
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


def _restore_signals(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def _parse_tags(tags: Sequence[str]) -> dict[str, str]:
    out = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key:
            raise _UserError(f"invalid --tag {tag!r}: use KEY=VALUE")
        out[key] = value
    return out


# -- profile ------------------------------------------------------------------------------
@main.command("profile")
@click.argument("target")
@click.option("--steps", type=click.IntRange(1, 10_000), default=10, show_default=True)
@click.option("--warmup", type=click.IntRange(0, 1000), default=3, show_default=True)
@click.option(
    "--min-seconds",
    type=click.FloatRange(0, 600),
    default=2.0,
    show_default=True,
    help="Measure at least this long (more steps when they are short).",
)
@click.option("--top", type=click.IntRange(1, 1000), default=15, show_default=True)
@click.option("--name", "-n", help="Run name (default: 'profile <ModelClass>').")
@click.option("--json", "as_json", is_flag=True, help="Print the profile as JSON on stdout.")
@_tracker_options
def profile_command(
    target: str,
    steps: int,
    warmup: int,
    min_seconds: float,
    top: int,
    name: str | None,
    as_json: bool,
    config_path: str | None,
    **options: Any,
) -> None:
    """Where a training step's energy goes: per layer type and module, with FLOPs.

    TARGET is FILE.py:FACTORY or package.module:FACTORY; FACTORY() returns a dict with
    model, batch (inputs, targets), loss_fn and optionally optimizer.

    Example: wattwise profile examples/profile_cnn.py:make --steps 20
    """
    from wattwise.config import resolve_config
    from wattwise.profiler import print_profile, profile
    from wattwise.tracking import Tracker

    cfg = resolve_config(config_path=config_path, **options)
    # with --json, whatever the user's code prints goes to stderr, not into the JSON
    quiet = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    with quiet:
        spec = _load_factory(target)
    model = spec["model"]
    tracker = Tracker(name or f"profile {type(model).__name__}", config=cfg, live="off")
    with tracker, quiet:
        result = profile(
            model,
            spec["batch"],
            loss_fn=spec["loss_fn"],
            optimizer=spec.get("optimizer"),
            steps=steps,
            warmup=warmup,
            min_measure_s=min_seconds,
            tracker=tracker,
        )
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=1))
        return
    console = _console(stderr=False)
    print_profile(result, console, top=top)
    console.print(
        f"saved with run {tracker.result.id[:8]}: wattwise report {tracker.result.id[:8]}"
    )


def _load_attr(target: str, what: str = "attribute") -> Any:
    """Import FILE.py:NAME or module:NAME and return NAME (one-line errors; a missing
    NAME is "has no <what> 'NAME'")."""
    import importlib
    import importlib.util

    where, sep, attr = target.rpartition(":")
    if not sep or not where or not attr:
        raise _UserError(f"invalid target {target!r}: use FILE.py:FACTORY or module:FACTORY")
    try:
        if where.endswith(".py") or os.path.sep in where:
            if not os.path.isfile(where):
                raise _UserError(f"no such file: {where}")
            name = "_wattwise_target_" + os.path.splitext(os.path.basename(where))[0]
            spec = importlib.util.spec_from_file_location(name, where)
            if spec is None or spec.loader is None:
                raise _UserError(f"cannot load {where}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # dataclasses and pickling look their module up
            sys.path.append(os.path.dirname(os.path.abspath(where)))  # its own imports
            spec.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path:
                sys.path.append(os.getcwd())  # as `python -m` would find it
            module = importlib.import_module(where)
    except _UserError:
        raise
    except Exception as exc:  # the user's file: one line, theirs to fix
        raise _UserError(f"cannot load {where}: {type(exc).__name__}: {exc}") from None
    if not hasattr(module, attr):
        raise _UserError(f"{where} has no {what} {attr!r}")
    return getattr(module, attr)


def _load_factory(target: str) -> dict[str, Any]:
    """Call FILE.py:FACTORY or module:FACTORY and check what it returns."""
    factory = _load_attr(target, "callable")
    if not callable(factory):
        raise _UserError(
            f"{target.rpartition(':')[0]} has no callable {target.rpartition(':')[2]!r}"
        )
    try:
        made = factory()
    except Exception as exc:  # the user's code: one line, theirs to fix
        raise _UserError(f"{target}() failed: {type(exc).__name__}: {exc}") from None
    if isinstance(made, (tuple, list)) and len(made) in (3, 4):
        made = dict(zip(("model", "batch", "loss_fn", "optimizer"), made, strict=False))
    if not isinstance(made, dict) or not {"model", "batch", "loss_fn"} <= set(made):
        raise _UserError(
            f"{target}() must return a dict with model, batch, loss_fn (and optimizer)"
        )
    return made


# -- sensors ------------------------------------------------------------------------------
@main.command()
@click.option("--sysfs-root", default="/sys", show_default=True, help="Where sysfs is mounted.")
@click.option("--proc-root", default="/proc", show_default=True, help="Where procfs is mounted.")
def sensors(sysfs_root: str, proc_root: str) -> None:
    """What each sensor found on this machine, what it could not read and the fix."""
    from rich.markup import escape
    from rich.table import Table

    from wattwise.sensors import probe_sensors

    table = Table(title="wattwise sensors", show_lines=True)
    table.add_column("sensor")
    table.add_column("status")
    table.add_column("domains")
    table.add_column("detail")
    table.add_column("fix")
    for p in probe_sensors(sysfs_root=sysfs_root, proc_root=proc_root):
        status = "[green]available[/]" if p.available else "[yellow]not available[/]"
        domains = "\n".join(f"{d.key} ({d.component}, {d.method})" for d in p.domains)
        table.add_row(
            p.sensor, status, escape(domains) or "-", escape(p.detail or "-"), escape(p.fix or "-")
        )
    _console(stderr=False).print(table)


# -- zones --------------------------------------------------------------------------------
@main.command()
@click.argument("query", required=False)
@click.option("--kind", type=click.Choice(["country", "us_state", "cloud_region", "world"]))
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
def zones(query: str | None, kind: str | None, limit: int) -> None:
    """List or search electricity zones and their carbon intensity."""
    from rich.table import Table

    from wattwise.carbon import load_zones

    found = load_zones().search(query, kind=kind)
    if not found:
        raise _UserError(f"no zone matches {query!r}")
    table = Table(title=f"zones ({len(found)} found)")
    for col in ("id", "name", "kind", "gCO2e/kWh", "year", "PUE"):
        table.add_column(col, no_wrap=col in ("id", "gCO2e/kWh", "year", "PUE"))
    table.add_column("source", overflow="fold")
    for z in found[:limit]:
        table.add_row(
            z.id,
            z.name,
            z.kind,
            f"{z.intensity_g_per_kwh:.0f}",
            str(z.year),
            f"{z.pue:.2f}" if z.pue else "-",
            z.source.split(": ")[0],
        )
    _console(stderr=False).print(table)


# -- hardware -----------------------------------------------------------------------------
_HW_KINDS = ("gpu", "tpu", "cpu", "instance")  # wattwise.catalogue.KINDS (checked in tests)


@main.group()
def hardware() -> None:
    """The hardware catalogue: accelerators, CPUs and cloud instance types."""


def _hw_file_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--file",
        "user_file",
        type=click.Path(dir_okay=False),
        help="A CSV of your own hardware (name,kind,tdp_w[,tflops_fp32,...]) to add.",
    )(f)


def _fmt_num(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


@hardware.command("search")
@click.argument("query")
@click.option("--kind", type=click.Choice(_HW_KINDS), multiple=True, help="Only this kind.")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="The matches as JSON on stdout.")
@_hw_file_option
def hardware_search(
    query: str, kind: tuple[str, ...], limit: int, as_json: bool, user_file: str | None
) -> None:
    """Find hardware by a fuzzy name (``wattwise hardware search h100``)."""
    from rich.table import Table

    from wattwise.catalogue import catalogue, search

    hits = search(
        query,
        kind=kind or None,  # type: ignore[arg-type]
        limit=limit,
        entries=catalogue(user_file),
    )
    if as_json:
        doc = [{**m.entry.to_dict(), "score": m.score} for m in hits]
        click.echo(json.dumps(doc, indent=1, ensure_ascii=False))
        return
    if not hits:
        raise _UserError(f"no hardware matches {query!r}")
    from rich.markup import escape

    table = Table(title=escape(f"hardware matching {query!r}"))
    for col in ("name", "kind", "TDP W", "TFLOPS fp32", "TFLOPS fp16", "memory GB", "score"):
        table.add_column(col, justify="left" if col in ("name", "kind") else "right")
    for m in hits:
        e = m.entry
        name = e.name
        if e.accelerator:
            name += f" ({e.accelerator_count}× {e.accelerator})"
        table.add_row(
            escape(name),
            e.kind,
            _fmt_num(e.tdp_w),
            _fmt_num(e.tflops_fp32),
            _fmt_num(e.tflops_fp16),
            _fmt_num(e.memory_gb),
            f"{m.score:.2f}",
        )
    _console(stderr=False).print(table)


@hardware.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="The entry as JSON on stdout.")
@_hw_file_option
def hardware_show(name: str, as_json: bool, user_file: str | None) -> None:
    """One catalogue entry with its source (closest names when there is no such entry)."""
    from wattwise.catalogue import catalogue, lookup

    entry = lookup(name, entries=catalogue(user_file))
    doc = entry.to_dict()
    if as_json:
        click.echo(json.dumps(doc, indent=1, ensure_ascii=False))
        return
    for key, value in doc.items():
        if value is not None and value != "":
            click.echo(f"{key:<18} {value}")


# -- deployment ---------------------------------------------------------------------------
@main.group()
def deployment() -> None:
    """Compare set-ups with a first-order energy model (edge/cloud, federated/centralised)."""


def _deployment_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--comm-kwh-per-gb",
            type=float,
            help="Network energy per GB moved. [default: 0.06 (Aslan et al. 2018), "
            "varied over 0.001-0.14 for the range]",
        ),
        click.option(
            "--pue",
            type=float,
            help="Data-centre PUE. [default: the cloud zone's own, its provider's, or 1.58]",
        ),
        click.option(
            "--cloud-zone", default="WORLD", show_default=True, help="Zone of the data centre."
        ),
        click.option(
            "--edge-zone", default="WORLD", show_default=True, help="Zone of the edge devices."
        ),
        click.option(
            "--cloud-intensity",
            help="Cloud-side gCO2e/kWh ('300', '0.3 kg/kWh'). [default: the cloud zone's]",
        ),
        click.option(
            "--edge-intensity",
            help="Edge-side gCO2e/kWh, also used for the network. [default: the edge zone's]",
        ),
        click.option("--json", "as_json", is_flag=True, help="The comparison as JSON on stdout."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _deployment_carbon(kw: dict[str, Any]) -> dict[str, Any]:
    from wattwise.estimating import parse_intensity

    out = {k: v for k, v in kw.items() if k not in ("cloud_intensity", "edge_intensity")}
    for side in ("cloud", "edge"):
        text = kw[f"{side}_intensity"]
        out[f"{side}_intensity_g_per_kwh"] = None if text is None else parse_intensity(text)
    return out


def _need(**given: Any) -> None:
    missing = [k for k, v in given.items() if v is None]
    if missing:
        names = ", ".join("--" + k.replace("_", "-") for k in missing)
        raise _UserError(f"missing {names} (see --help)")


def _print_deployment(result: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=1, ensure_ascii=False))
        return
    from rich.markup import escape
    from rich.table import Table

    a, b = result.options
    table = Table(title=f"{result.model} (first-order model)")
    for col in ("part", a.name, b.name):
        table.add_column(col, justify="left" if col == "part" else "right")
    for row in result.rows():
        table.add_row(*row)
    console = _console(stderr=False)
    console.print(table)
    console.print(f"verdict: {escape(result.verdict())}")
    for option in result.options:
        console.print(f"{option.name}:")
        for line in option.formula:
            console.print(f"  {escape(line)}")
    console.print("assumptions:")
    for line in result.assumptions:
        console.print(f"  - {escape(line)}")
    console.print("limits (left out of the model):")
    for line in result.limits:
        console.print(f"  - {escape(line)}")


@deployment.command("edge-vs-cloud")
@click.option("--edge-power-w", type=float, help="Average draw of one edge device, W. [required]")
@click.option("--edge-hours", type=float, help="Computing hours per edge device. [required]")
@click.option("--edge-devices", type=int, default=1, show_default=True)
@click.option("--edge-data-gb", type=float, default=0.0, show_default=True, help="GB moved.")
@click.option("--cloud-power-w", type=float, help="Average draw of one cloud device, W. [required]")
@click.option("--cloud-hours", type=float, help="Computing hours per cloud device. [required]")
@click.option("--cloud-devices", type=int, default=1, show_default=True)
@click.option("--cloud-data-gb", type=float, default=0.0, show_default=True, help="GB moved.")
@_deployment_options
def deployment_edge_vs_cloud(as_json: bool, **kw: Any) -> None:
    """The same work on edge devices (PUE 1) or in a data centre (PUE, network)."""
    from wattwise.deployment import edge_vs_cloud

    _need(**{k: kw[k] for k in ("edge_power_w", "edge_hours", "cloud_power_w", "cloud_hours")})
    _print_deployment(edge_vs_cloud(**_deployment_carbon(kw)), as_json)


@deployment.command("federated")
@click.option("--clients", type=int, help="Clients taking part in each round. [required]")
@click.option("--client-power-w", type=float, help="Average draw of one client, W. [required]")
@click.option("--local-hours", type=float, help="Training hours per client per round. [required]")
@click.option("--rounds", type=int, help="Federated rounds. [required]")
@click.option("--model-gb", type=float, help="Model (update) size, GB. [required]")
@click.option("--server-power-w", type=float, default=0.0, show_default=True)
@click.option("--server-hours", type=float, default=0.0, show_default=True)
@click.option("--central-power-w", type=float, help="Draw of one accelerator, W. [required]")
@click.option("--central-hours", type=float, help="Centralised training hours. [required]")
@click.option("--central-devices", type=int, default=1, show_default=True)
@click.option("--raw-data-gb", type=float, default=0.0, show_default=True, help="GB uploaded.")
@_deployment_options
def deployment_federated(as_json: bool, **kw: Any) -> None:
    """Federated training on the clients vs centralised training on their uploaded data."""
    from wattwise.deployment import federated_vs_centralised

    required = ("clients", "client_power_w", "local_hours", "rounds", "model_gb")
    _need(**{k: kw[k] for k in (*required, "central_power_w", "central_hours")})
    args = _deployment_carbon(kw)
    args["local_hours_per_round"] = args.pop("local_hours")
    _print_deployment(federated_vs_centralised(**args), as_json)


# -- estimate -----------------------------------------------------------------------------
@main.command("estimate")
@click.option("--gpu", "--hardware", "hardware", help="Accelerator, CPU or instance (fuzzy).")
@click.option("--count", type=click.IntRange(min=1), help="Devices (default 1).")
@click.option("--hours", type=float, help="Wall-clock hours of the job.")
@click.option("--days", type=float, help="Wall-clock days of the job (instead of --hours).")
@click.option("--utilisation", type=float, help="Average draw as a share of TDP (0-1.5).")
@click.option("--power-w", type=float, help="Average power of the whole job, W.")
@click.option("--device-power-w", type=float, help="Average power per device, W (× --count).")
@click.option("--flops", type=float, help="Training compute, FLOPs (e.g. 3.14e23).")
@click.option("--params", type=float, help="Parameters (with --tokens: 6 × N × D FLOPs).")
@click.option("--tokens", type=float, help="Training tokens (with --params).")
@click.option("--mfu", type=float, help="Model FLOPs utilisation (0-1).")
@click.option("--precision", type=click.Choice(["fp16", "fp32"]), default="fp16", show_default=True)
@click.option("--from-run", "run_id", help="Scale a measured run (id or prefix) from the store.")
@click.option("--store", help="Run store URL or path (with --from-run).")
@click.option("--scale-data", type=float, default=1.0, show_default=True)
@click.option("--scale-epochs", type=float, default=1.0, show_default=True)
@click.option("--devices", type=click.IntRange(min=1), help="Devices for the scaled run.")
@click.option("--scaling-efficiency", type=float, help="Per-device efficiency at scale (0-1).")
@click.option("--host-power-w", type=float, default=0.0, help="Hosts' power, W (whole job).")
@click.option("--zone", help="Electricity zone: ISO code, US-XX, aws:region...")
@click.option("--pue", type=float, help="Power usage effectiveness (1.0-3.0).")
@click.option(
    "--setting",
    type=click.Choice(["datacenter", "cloud", "local"]),
    default="datacenter",
    show_default=True,
    help="Where the job runs (sets the default PUE).",
)
@click.option("--intensity", help="Carbon intensity: 432.7 (g/kWh), '0.954 lbs/kWh', '0.4 kg/kWh'.")
@click.option("--price", "price_per_kwh", type=float, help="Electricity price per kWh.")
@click.option("--currency", help="Currency of --price.")
@click.option("--embodied", is_flag=True, help="Add SCI embodied emissions (shown apart).")
@click.option(
    "--embodied-kgco2e",
    type=float,
    help="Your device's manufacturing emissions, kgCO2e per device (implies --embodied).",
)
@click.option(
    "--embodied-lifetime-years",
    type=float,
    help="With --embodied-kgco2e: the device's expected life (default 4).",
)
@click.option("--compare-regions", is_flag=True, help="Rank zones for the same job.")
@click.option("--regions", help="Comma-separated zones to rank (default: cloud regions).")
@click.option(
    "--region-kind",
    type=click.Choice(["cloud", "country", "us_state", "all"]),
    help="Which zones to rank (default: cloud).",
)
@click.option("--provider", help="Only this cloud's regions (aws, gcp, azure...).")
@click.option("--compare-hardware", is_flag=True, help="Rank accelerators for the same FLOPs.")
@click.option("--top", type=click.IntRange(min=1), help="Rows of a comparison to show (10).")
@click.option("--queries-per-day", type=float, help="Lifecycle: inference queries served a day.")
@click.option("--query-wh", type=float, help="Lifecycle: facility energy per query, Wh.")
@click.option("--query-run", help="Lifecycle: a measured inference run (id) for the Wh/query.")
@click.option("--run-queries", type=click.IntRange(min=1), help="Queries that run served.")
@click.option(
    "--serve-days", type=float, default=365.0, show_default=True, help="Lifecycle: days served."
)
@click.option("--json", "as_json", is_flag=True, help="The estimate as JSON on stdout.")
@_hw_file_option
def estimate_command(
    hardware: str | None,
    count: int | None,
    hours: float | None,
    days: float | None,
    run_id: str | None,
    store: str | None,
    zone: str | None,
    pue: float | None,
    setting: str,
    intensity: str | None,
    price_per_kwh: float | None,
    currency: str | None,
    embodied: bool,
    embodied_kgco2e: float | None,
    embodied_lifetime_years: float | None,
    compare_regions: bool,
    regions: str | None,
    region_kind: str | None,
    provider: str | None,
    compare_hardware: bool,
    top: int | None,
    queries_per_day: float | None,
    query_wh: float | None,
    query_run: str | None,
    run_queries: int | None,
    serve_days: float,
    as_json: bool,
    user_file: str | None,
    **inputs: Any,
) -> None:
    """A training run's energy, emissions and cost before it runs, with every assumption.

    \b
    From hardware:  wattwise estimate --gpu "A100 SXM4 80 GB" --count 8 --hours 72
    From power:     wattwise estimate --power-w 1415.78 --hours 12 --pue 1.58
    From FLOPs:     wattwise estimate --params 7e9 --tokens 2e12 --gpu h100 --count 64
    From a run:     wattwise estimate --from-run 3f2a --scale-epochs 10
    Plan:           add --compare-regions or --compare-hardware
    Lifecycle:      add --queries-per-day 1e6 --query-wh 0.3 [--serve-days 365]
    """
    from wattwise.estimating import carbon_basis, estimate

    if days is not None:
        if hours is not None:
            raise _UserError("give --hours or --days, not both")
        if not days > 0:
            raise _UserError(f"--days must be > 0, not {days:g}")
        hours = days * 24
    if not compare_regions:
        for name, value in (("--regions", regions), ("--region-kind", region_kind),
                            ("--provider", provider)):  # fmt: skip
            if value is not None:
                raise _UserError(f"{name} goes with --compare-regions")
    if top is not None and not (compare_regions or compare_hardware):
        raise _UserError("--top goes with --compare-regions or --compare-hardware")
    if embodied_lifetime_years is not None and embodied_kgco2e is None:
        raise _UserError("--embodied-lifetime-years goes with --embodied-kgco2e")
    mine: Any = embodied
    if embodied_kgco2e is not None:
        from wattwise.embodied import DEFAULT_LIFETIME_YEARS, EmbodiedInputs

        mine = EmbodiedInputs(
            embodied_kgco2e,
            embodied_lifetime_years or DEFAULT_LIFETIME_YEARS,
            source="given by the user (--embodied-kgco2e)",
        )
    run = None
    if run_id is not None:
        run = _store(store).get_run(run_id)
    basis = carbon_basis(
        zone=zone,
        pue=pue,
        intensity=intensity,
        price_per_kwh=price_per_kwh,
        currency=currency,
        setting=setting,
    )
    est = estimate(
        hardware=hardware,
        count=count,
        hours=hours,
        run=run,
        carbon=basis,
        hardware_file=user_file,
        embodied=mine,
        **inputs,
    )
    region_rows: list[Any] = []
    hardware_rows: list[Any] = []
    if compare_regions:
        from wattwise.planning import compare_regions as rank_regions

        names = [z.strip() for z in regions.split(",") if z.strip()] if regions else None
        region_rows = rank_regions(est, zones=names, kind=region_kind or "cloud", provider=provider)
    if compare_hardware:
        from wattwise.catalogue import catalogue
        from wattwise.planning import compare_hardware as rank_hardware

        hardware_rows = rank_hardware(est, entries=catalogue(user_file))
    life = _estimate_lifecycle(est, queries_per_day, query_wh, query_run, run_queries,
                               serve_days, store)  # fmt: skip
    if as_json:
        doc = est.to_dict()
        if life is not None:
            doc["lifecycle"] = life.to_dict()
        if compare_regions:
            doc["regions"] = [r.to_dict() for r in region_rows]
        if compare_hardware:
            doc["hardware_options"] = [r.to_dict() for r in hardware_rows]
        click.echo(json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False))
        return
    from wattwise.plan_view import print_estimate, print_hardware, print_lifecycle, print_regions

    console = _console(stderr=False)
    print_estimate(est, console)
    if compare_regions:
        print_regions(region_rows, top or 10, console)
    if compare_hardware:
        print_hardware(hardware_rows, top or 10, console)
    if life is not None:
        print_lifecycle(life.lines(), console)


def _estimate_lifecycle(
    est: Any,
    queries_per_day: float | None,
    query_wh: float | None,
    query_run: str | None,
    run_queries: int | None,
    serve_days: float,
    store: str | None,
) -> Any:
    """The lifecycle of ``wattwise estimate``'s options, or None when none was asked for."""
    from wattwise.lifecycle import lifecycle, query_energy_from_run

    if queries_per_day is None and query_wh is None and query_run is None:
        if run_queries is not None:
            raise _UserError("--run-queries goes with --query-run")
        return None
    if queries_per_day is None:
        raise _UserError("give --queries-per-day for the lifecycle")
    if (query_wh is None) == (query_run is None):
        raise _UserError("give the energy per query: --query-wh or --query-run, one of them")
    if query_run is not None:
        if run_queries is None:
            raise _UserError("give --run-queries: how many queries the run served")
        wh, source = query_energy_from_run(_store(store).get_run(query_run), run_queries)
    else:
        assert query_wh is not None
        wh, source = query_wh, "given by the user (facility energy, as the training figure)"
    return lifecycle(
        est.facility_energy_kwh,
        energy_per_query_wh=wh,
        queries_per_day=queries_per_day,
        days=serve_days,
        query_energy_source=source,
    )


# -- runs ---------------------------------------------------------------------------------
@main.group()
def runs() -> None:
    """Read the run store."""


def _store(url: str | None) -> Any:
    from wattwise.config import resolve_config
    from wattwise.store import get_store

    return get_store(url or resolve_config().store)


def _when(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise _UserError(f"invalid {option} {text!r}: use a date like 2026-11-22") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


@runs.command("list")
@click.option("--store", help="Run store URL or path.")
@click.option("--name", help="Runs whose name contains this.")
@click.option("--tag", help="KEY or KEY=VALUE.")
@click.option(
    "--status", type=click.Choice(["running", "completed", "failed", "interrupted", "stopped"])
)
@click.option("--since", help="Started on or after (ISO date/time, UTC).")
@click.option("--until", help="Started on or before (ISO date/time, UTC).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
def runs_list(
    store: str | None,
    name: str | None,
    tag: str | None,
    status: str | None,
    since: str | None,
    until: str | None,
    limit: int,
) -> None:
    """List runs, newest first."""
    from rich.table import Table

    from wattwise.store import RunFilter

    tag_filter = None
    if tag:
        k, sep, v = tag.partition("=")
        tag_filter = (k, v if sep else None)
    where = RunFilter(
        name=name,
        tag=tag_filter,
        status=status,
        since=_when(since, "--since"),
        until=_when(until, "--until"),
        limit=limit,
    )
    records = _store(store).list_runs(where)
    table = Table(title=f"runs ({len(records)} shown)")
    for col in (
        "id",
        "name",
        "status",
        "started (UTC)",
        "duration",
        "energy",
        "method",
        "gCO2e",
        "zone",
    ):
        table.add_column(col, no_wrap=col != "name")
    from rich.markup import escape

    from wattwise.summary import fmt_duration, fmt_energy

    for r in records:
        table.add_row(
            r.id[:8],
            escape(r.name),
            r.status,
            r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            fmt_duration(r.duration_s),
            fmt_energy(r.energy_j),
            r.method,
            f"{r.co2_g:.3g}",
            escape(r.carbon.zone),
        )
    _console(stderr=False).print(table)


@runs.command("show")
@click.argument("run_id")
@click.option("--store", help="Run store URL or path.")
@click.option("--json", "as_json", is_flag=True, help="The whole record as JSON.")
def runs_show(run_id: str, store: str | None, as_json: bool) -> None:
    """Show one run (id or an unambiguous prefix)."""
    record = _store(store).get_run(run_id)
    if as_json:
        click.echo(json.dumps(record.to_dict(), indent=1))
        return
    from wattwise.summary import print_summary

    print_summary(record, _console(stderr=False))


@runs.command("export")
@click.argument("run_ids", nargs=-1, required=True)
@click.option("--store", help="Run store URL or path.")
@click.option("--csv", "as_csv", is_flag=True, help="One CSV row per run instead of JSON.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="File to write (default: stdout).",
)
@click.option(
    "--mlflow",
    "to_mlflow",
    is_flag=True,
    help="Log each run to MLflow as a new MLflow run (metrics, params, JSON and HTML reports).",
)
@click.option(
    "--mlflow-uri",
    metavar="URI",
    help="MLflow tracking URI for --mlflow (default: MLFLOW_TRACKING_URI, else MLflow's).",
)
@click.option(
    "--experiment",
    metavar="NAME",
    help="MLflow experiment for --mlflow, created if missing (default: MLflow's default).",
)
def runs_export(
    run_ids: Sequence[str],
    store: str | None,
    as_csv: bool,
    output: str | None,
    to_mlflow: bool,
    mlflow_uri: str | None,
    experiment: str | None,
) -> None:
    """Export a run as JSON with its power series, runs as CSV rows (--csv), or runs to
    MLflow (--mlflow; a run already in that experiment is skipped).

    Example: wattwise runs export 1c2ee4d8 9f01aa3b --mlflow --experiment energy
    """
    if to_mlflow:
        if as_csv or output:
            raise click.UsageError("--mlflow cannot be combined with --csv or --output")
        _export_to_mlflow(_store(store), run_ids, mlflow_uri, experiment)
        return
    if mlflow_uri is not None or experiment is not None:
        raise click.UsageError("--mlflow-uri and --experiment go with --mlflow")
    st = _store(store)
    if as_csv:
        import csv
        import io

        buf = io.StringIO()
        rows = [_run_row(st.get_run(r)) for r in run_ids]
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buf.getvalue()
    else:
        if len(run_ids) != 1:
            raise click.UsageError("JSON export takes one run; use --csv for several")
        record = st.get_run(run_ids[0])
        columns, points = st.get_series(record.id)
        doc = record.to_dict()
        doc["series"] = {
            "columns": ["t0_s", "t1_s", *columns],
            "points": [[p.t0_s, p.t1_s, *p.values] for p in points],
        }
        text = json.dumps(doc, indent=1) + "\n"
    if output:
        _write(output, text)
    else:
        click.echo(text, nl=False)


def _export_to_mlflow(
    st: Any, run_ids: Sequence[str], uri: str | None, experiment: str | None
) -> None:
    """``runs export --mlflow``: one new MLflow run per wattwise run, one line each."""
    from wattwise.integrations.mlflow import MLFLOW_STATUS, AlreadyExportedError, export_run

    records: dict[str, Any] = {}
    for run_id in run_ids:  # every id must resolve, and every run have ended, first
        record = st.get_run(run_id)
        if record.status not in MLFLOW_STATUS:
            raise _UserError(
                f"run {record.id} is still {record.status}: export it once it has ended"
            )
        records.setdefault(record.id, record)
    for record in records.values():
        columns, points = st.get_series(record.id)
        try:
            mlflow_id = export_run(
                record, columns=columns, points=points, tracking_uri=uri, experiment=experiment
            )
        except AlreadyExportedError as exc:
            click.echo(
                f"skipped {record.id}: already in MLflow as run {exc.mlflow_run_id}", err=True
            )
            continue
        click.echo(f"exported {record.id} -> MLflow run {mlflow_id}", err=True)


def _run_row(record: Any) -> dict[str, Any]:
    """The flat figures of a run, for CSV and comparisons (headline scope)."""
    fp = record.footprint
    t = record.training
    metrics: dict[str, float] = {}
    epochs = [p for p in record.phases if p.kind == "epoch"]
    if epochs:
        metrics = dict(epochs[-1].metrics)
    return {
        "id": record.id,
        "name": record.name,
        "status": record.status,
        "started_at": record.started_at.isoformat(),
        "duration_s": round(record.duration_s, 3),
        "energy_j": round(fp.energy_j, 3),
        "energy_kwh": fp.energy_kwh,
        "energy_low_j": round(fp.energy_low_j, 3),
        "energy_high_j": round(fp.energy_high_j, 3),
        "method": fp.method,
        "facility_energy_kwh": fp.facility_energy_kwh,
        "co2_g": fp.co2_g,
        "cost": fp.cost,
        "currency": record.carbon.currency,
        "zone": record.carbon.zone,
        "intensity_g_per_kwh": record.carbon.intensity_g_per_kwh,
        "pue": record.carbon.pue,
        "epochs": (t.epoch_offset + t.epochs) if t is not None else "",
        "samples": t.samples if t is not None else "",
        "energy_per_sample_j": t.energy_per_sample_j
        if t is not None and t.energy_per_sample_j is not None
        else "",
        "last_epoch_metrics": json.dumps(metrics, sort_keys=True) if metrics else "",
    }


@runs.command("compare")
@click.argument("run_ids", nargs=-1, required=True)
@click.option("--store", help="Run store URL or path.")
@click.option("--metric", help="A metric logged per epoch to show (its last value).")
@click.option(
    "--higher-is-better/--lower-is-better",
    "maximize",
    default=None,
    help="How to rank --metric (default: guessed from its name; losses and errors are lower).",
)
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write an HTML comparison with charts (metric against energy) to FILE.",
)
def runs_compare(
    run_ids: Sequence[str],
    store: str | None,
    metric: str | None,
    maximize: bool | None,
    html_file: str | None,
) -> None:
    """Compare runs side by side; differences are relative to the first run.

    With --metric, runs on the Pareto front (no other run reaches a better metric with
    less energy) are marked.

    Example: wattwise runs compare 1c2e 9f01 --metric val_accuracy --html compare.html
    """
    from rich.markup import escape
    from rich.table import Table

    from wattwise.report.compare import (
        common_scope,
        compare_rows,
        comparison_notes,
        lower_is_better,
    )
    from wattwise.summary import fmt_duration, fmt_energy

    if len(run_ids) < 2:
        raise click.UsageError("compare needs at least two runs")
    if html_file == "-":
        raise click.UsageError("--html needs a file name here: the table goes to stdout")
    if maximize is not None and not metric:
        raise click.UsageError("--higher-is-better/--lower-is-better need --metric")
    st = _store(store)
    records = [st.get_run(r) for r in run_ids]
    better_high = maximize if maximize is not None else not (metric and lower_is_better(metric))
    rows = compare_rows(records, metric, maximize=better_high)

    def rel(value: float | None) -> str:
        return "" if value is None else f" ({value:+.1%})"

    scope = "whole machine" if common_scope(records) == "machine" else "tracked processes"
    table = Table(
        title=f"runs compared (differences against the first; {scope})", title_justify="left"
    )
    for col in ("run", "status", "time", "energy", "method", "gCO2e", "cost", "J/sample"):
        table.add_column(col, justify="left" if col in ("run", "status", "method") else "right")
    if metric:
        table.add_column(f"{escape(metric)} {'↑' if better_high else '↓'}", justify="right")
        table.add_column("Pareto")
    for row in rows:
        r = row.record
        fp = row.footprint
        j_per = row.energy_per_sample_j
        cells = [
            f"{escape(r.name)} {r.id[:8]}",
            r.status,
            fmt_duration(r.duration_s) + rel(row.duration_rel),
            fmt_energy(fp.energy_j) + rel(row.energy_rel),
            fp.method,
            f"{fp.co2_g:.3g}" + rel(row.co2_rel),
            f"{fp.cost:.3g} {r.carbon.currency}",
            f"{j_per:.3g}" if isinstance(j_per, float) else "—",
        ]
        if metric:
            cells.append("—" if row.metric is None else f"{row.metric:.4g}")  # nan shows
            cells.append("✓" if row.on_front else "")
        table.add_row(*cells)
    _console(stderr=False).print(table)
    if metric:
        click.echo(
            f"{metric}: last epoch's value, {'higher' if better_high else 'lower'} is better"
            f" ({'as asked' if maximize is not None else 'guessed from its name'}); "
            "✓ = on the Pareto front (no run reaches a better value with less energy)"
        )
    for note in comparison_notes(records, rows):
        click.echo(f"note: {note}")
    if html_file is not None:
        from wattwise.report.compare import html_comparison

        _write(html_file, html_comparison(records, metric, maximize=maximize))
        click.echo(f"wrote {html_file}", err=True)


@runs.command("delete")
@click.argument("run_ids", nargs=-1, required=True)
@click.option("--store", help="Run store URL or path.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def runs_delete(run_ids: Sequence[str], store: str | None, yes: bool) -> None:
    """Delete runs (ids or unambiguous prefixes) and their power series."""
    st = _store(store)
    records = [st.get_run(r) for r in run_ids]  # every id must resolve before anything goes
    if not yes:
        if not sys.stdin.isatty():
            raise _UserError("deleting needs --yes when not run at a terminal")
        names = ", ".join(f"{r.name} {r.id[:8]}" for r in records)
        if not click.confirm(f"delete {len(records)} run(s): {names}?"):
            raise _UserError("nothing deleted")
    for r in records:
        st.delete_run(r.id)
    click.echo(f"deleted {len(records)} run(s)", err=True)


def _comparison_outputs(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--html FILE`` and ``--json FILE`` ('-': standard output) of a strategy comparison."""
    out = click.Path(dir_okay=False, writable=True, allow_dash=True)
    f = click.option(
        "--json",
        "json_file",
        type=out,
        help="Write the comparison as JSON to FILE ('-': standard output).",
    )(f)
    return click.option(
        "--html",
        "html_file",
        type=out,
        help="Write an HTML comparison with charts to FILE ('-': standard output).",
    )(f)


@demo.command(
    "tune", short_help="Which search strategy reaches a target accuracy for the least energy."
)
@click.option(
    "--strategies",
    default="grid,random,bayes",
    show_default=True,
    help="Comma-separated strategies to compare.",
)
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds.")
@click.option(
    "--n-trials",
    type=click.IntRange(1, 10_000),
    default=20,
    show_default=True,
    help="Trials per study.",
)
@click.option(
    "--target",
    type=float,
    help="Held-out accuracy that counts as reached (default: the objective's, 0.96).",
)
@_comparison_outputs
@_tracker_options
def demo_tune(
    strategies: str,
    seeds: str,
    n_trials: int,
    target: float | None,
    html_file: str | None,
    json_file: str | None,
    config_path: str | None,
    **options: Any,
) -> None:
    """Energy-aware hyperparameter search on the digits CNN: grid, random and Bayesian
    (TPE) search, each over 3 seeds, of learning rate, Adam's betas, batch size and width.

    Every trial is a measured run; prints, per strategy, the energy spent until a trial
    first reached the target accuracy (median and range over seeds), the best accuracy
    and the energy of a study, and the saving against grid search (about 3 minutes on 2
    CPU cores). Nothing is downloaded. Needs the demo extra: pip install 'wattwise[demo]'.
    """
    from wattwise.config import resolve_config
    from wattwise.demo import _imports
    from wattwise.tuning import digits
    from wattwise.tuning.strategies import optuna_module

    names, seed_list = _strategies_and_seeds(strategies, seeds, html_file, json_file)
    _imports()  # a missing extra is a one-line error before anything starts
    optuna_module()
    cfg = resolve_config(config_path=config_path, **options)
    digits.warm_up()  # imports and first-call setup, before anything is measured
    _compare(
        digits.objective,
        digits.SPACE,
        names=names,
        seed_list=seed_list,
        n_trials=n_trials,
        metric=digits.METRIC,
        maximize=True,
        target=digits.TARGET if target is None else target,
        budget_kwh=None,
        baseline="grid",
        storage=None,
        study_prefix=None,
        html_file=html_file,
        json_file=json_file,
        cfg=cfg,
        title="wattwise demo tune (digits CNN)",
    )


# -- tune ---------------------------------------------------------------------------------
# the names of wattwise.tuning.strategies (not imported here: it costs the CLI's start-up
# 60 ms); tests/tuning/test_tune_cli.py checks that they agree
_TUNE_STRATEGIES = ("grid", "random", "bayes", "gp", "halving", "hyperband", "pareto")
_TUNE_PRUNERS = ("none", "median", "halving", "hyperband")


class _TuneGroup(click.Group):
    """``wattwise tune MOD:OBJ ...`` is ``wattwise tune run MOD:OBJ ...``; usage errors of
    its commands are one line and exit code 2."""

    default_command = "run"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            if ":" not in args[0] and not args[0].startswith("-"):  # a typo'd command
                raise _UserError(
                    f"no command or objective {args[0]!r}: give MODULE:FUNCTION, "
                    f"FILE.py:FUNCTION or one of {', '.join(sorted(self.commands))}"
                )
            args = [self.default_command, *args]  # options may come first: insert, not resolve
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            raise _UserError(f"{exc.format_message()} (see {where} --help)") from None


@main.group(
    cls=_TuneGroup,
    subcommand_metavar="MODULE:OBJECTIVE [OPTIONS] | COMMAND [ARGS]...",
    short_help="Energy-aware hyperparameter search (Optuna), every trial measured.",
)
def tune() -> None:
    """Energy-aware hyperparameter search on Optuna: every trial is a measured run.

    'wattwise tune MODULE:OBJECTIVE --space FILE [OPTIONS]' is short for
    'wattwise tune run MODULE:OBJECTIVE ...': it searches, prints each trial as it ends,
    then the trials and what the search cost (total, pruned and wasted energy, energy
    after the best, energy-to-target).

    \b
    Examples:
      wattwise tune my_train:objective --space space.yaml --n-trials 30 --metric val_accuracy
      wattwise tune show --study bayes-20261123-101500-ab12
      wattwise tune compare my_train:objective --space space.yaml --target 0.95

    Needs the tune extra: pip install 'wattwise[tune]'.
    """


@tune.command("run", short_help="Search a space (what 'wattwise tune MODULE:OBJECTIVE' runs).")
@click.argument("objective", metavar="MODULE:OBJECTIVE")
@click.option(
    "--space",
    "space_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="The search space: a .yaml, .json or .toml file.",
)
@click.option(
    "--strategy",
    type=click.Choice(_TUNE_STRATEGIES),
    default="halving",
    show_default=True,
    help="How to search (halving = TPE with successive halving, recommended; bayes = TPE; "
    "pareto = metric vs energy).",
)
@click.option(
    "--n-trials",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Trials to run in this call (all workers together); a grid stops when every point "
    "has run.",
)
@click.option(
    "--metric",
    default="metric",
    show_default=True,
    help="The name the objective logs its metric under (trial.log).",
)
@click.option(
    "--maximize/--minimize",
    default=True,
    help="Whether a higher metric is better [default: maximize].",
)
@click.option("--target", type=float, help="A good-enough metric: report the energy to reach it.")
@click.option(
    "--budget-kwh",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop the study when its energy reaches this (a continued study counts its earlier "
    "trials).",
)
@click.option(
    "--budget-gco2e",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop the study when its emissions reach this (a continued study counts its "
    "earlier trials).",
)
@click.option("--seed", type=int, help="Seed of the sampler (reproducible suggestions).")
@click.option(
    "--storage",
    metavar="PATH|URL|memory",
    help="Where the study is kept: a journal file, a database URL, or 'memory' "
    "(default: studies.journal next to the default run store).",
)
@click.option("--study", "study_name", help="Study name (an existing one is continued).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes to run trials in.",
)
@click.option(
    "--timeout-s",
    type=click.FloatRange(min=0, min_open=True),
    help="Each worker stops starting trials after this many seconds.",
)
@click.option(
    "--pruner",
    type=click.Choice(_TUNE_PRUNERS),
    help="Pruner instead of the strategy's own (halving and hyperband have one).",
)
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    help="Write the result as JSON to FILE ('-': standard output).",
)
@_tracker_options
def tune_run(
    objective: str,
    space_file: str,
    strategy: str,
    n_trials: int,
    metric: str,
    maximize: bool,
    target: float | None,
    budget_kwh: float | None,
    budget_gco2e: float | None,
    seed: int | None,
    storage: str | None,
    study_name: str | None,
    workers: int,
    timeout_s: float | None,
    pruner: str | None,
    json_file: str | None,
    config_path: str | None,
    **options: Any,
) -> None:
    """Search the space for the best metric, measuring every trial as a run.

    MODULE:OBJECTIVE is an importable function (the current directory is searched first,
    as 'python -m' does) or FILE.py:FUNCTION; objective(trial) reads trial.params, trains
    in 'for epoch in trial.epochs(n)', logs the metric with trial.log(...) and returns it.

    Example: wattwise tune my_train:objective --space space.yaml --metric val_accuracy
    --target 0.95 --budget-kwh 0.05
    """
    from wattwise.config import resolve_config
    from wattwise.tuning.search import tune as run_search
    from wattwise.tuning.show import print_result, trial_line
    from wattwise.tuning.space import load_space
    from wattwise.tuning.strategies import optuna_module

    optuna_module()  # a missing extra is a one-line error before anything starts
    space = load_space(space_file)
    cfg = resolve_config(config_path=config_path, **options)
    where = _tune_storage(storage)
    _tune_precheck(cfg, where, target)
    tracker_options: dict[str, Any] = {"config": cfg}
    if options.get("headline") is not None:  # as given, also with workers
        tracker_options["headline"] = options["headline"]
    to_stdout = json_file == "-"
    err = _console(stderr=True)
    study_name = study_name or _tune_study_name(strategy)
    with _objective_import_path(objective) as spec:
        direction = "maximize" if maximize else "minimize"
        err.print(
            f"wattwise tune: study {study_name}, {strategy} search, {n_trials} "
            f"trial{'s' if n_trials != 1 else ''} over {', '.join(space.names)}; "
            f"{metric} {'↑' if maximize else '↓'}"
            + (f"; {workers} workers" if workers > 1 else ""),
            markup=False,
            soft_wrap=True,
        )

        def progress(summary: Any) -> None:
            click.echo(trial_line(summary, metric), err=True)

        try:
            result = run_search(
                spec,
                space,
                strategy=strategy,
                n_trials=n_trials,
                metric=metric,
                direction=direction,
                target=target,
                budget_kwh=budget_kwh,
                budget_gco2e=budget_gco2e,
                seed=seed,
                storage=where,
                study_name=study_name,
                workers=workers,
                timeout_s=timeout_s,
                tracker_options=tracker_options,
                pruner=pruner,
                on_trial=progress if workers == 1 else None,
            )
        except KeyboardInterrupt:
            kept = (
                ""
                if where is None
                else f": they are kept, see wattwise tune show --study {shlex.quote(study_name)}"
                + _storage_flag(where)
            )
            click.echo(f"interrupted after the trials that ended{kept}", err=True)
            sys.exit(130)
    print_result(result, _console(stderr=to_stdout))
    if json_file is not None:
        _write_tune_json(json_file, result.to_dict())


@tune.command("show")
@click.option("--study", "study_name", help="The study to show (default: list the studies).")
@click.option(
    "--storage",
    metavar="PATH|URL",
    help="Where the studies are (default: studies.journal next to the default run store).",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Trials to show.",
)
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    help="Write the study (or the list) as JSON to FILE ('-': standard output).",
)
def tune_show(study_name: str | None, storage: str | None, top: int, json_file: str | None) -> None:
    """Show a stored study, or list the studies in the storage.

    Example: wattwise tune show --study bayes-20261123-101500-ab12
    """
    from wattwise.tuning.search import _label, close_storage, load_result, open_storage
    from wattwise.tuning.show import print_result, print_studies
    from wattwise.tuning.strategies import optuna_module

    optuna = optuna_module()
    where = _tune_storage(storage)
    if where is None:
        raise _UserError("a study kept in memory is gone once its search ends: nothing to show")
    label = _label(where)  # a database URL without its password: what is printed
    missing = _missing_storage_file(where)
    if missing is not None:
        what = "it" if missing == where else missing
        raise _UserError(f"no studies in {label}: {what} does not exist (wattwise tune writes it)")
    st = open_storage(where)
    try:
        console = _console(stderr=json_file == "-")
        if study_name is not None:
            result = load_result(study_name, st, storage_label=label)
            print_result(result, console, top=top)
            if json_file is not None:
                _write_tune_json(json_file, result.to_dict())
            return
        names = optuna.study.get_all_study_names(storage=st)
        results = [load_result(n, st, storage_label=label) for n in names]
    finally:
        close_storage(st)
    if not results:
        raise _UserError(f"no studies in {label}")
    results.sort(key=_study_start)
    print_studies(results, console, where=label)
    console.print("show one: wattwise tune show --study NAME" + _storage_flag(where))
    if json_file is not None:
        _write_tune_json(json_file, [r.to_dict() for r in results])


@tune.command(
    "compare", short_help="Which strategy reaches a target for the least energy (over seeds)."
)
@click.argument("objective", metavar="MODULE:OBJECTIVE")
@click.option(
    "--space",
    "space_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="The search space: a .yaml, .json or .toml file.",
)
@click.option(
    "--strategies",
    default="grid,random,bayes",
    show_default=True,
    help=f"Comma-separated strategies ({', '.join(_TUNE_STRATEGIES)}).",
)
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated sampler seeds.")
@click.option(
    "--n-trials",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Trials per study.",
)
@click.option("--metric", default="metric", show_default=True, help="The objective's metric.")
@click.option(
    "--maximize/--minimize", default=True, help="Whether a higher metric is better (default)."
)
@click.option("--target", type=float, required=True, help="The metric every strategy must reach.")
@click.option(
    "--budget-kwh",
    type=click.FloatRange(min=0, min_open=True),
    help="An energy budget for each study.",
)
@click.option(
    "--baseline",
    default="grid",
    show_default=True,
    help="The strategy savings are measured against (one not in --strategies: no saving "
    "is stated).",
)
@click.option(
    "--storage",
    metavar="PATH|URL",
    help="Keep the studies in this journal file or database (default: in memory).",
)
@click.option(
    "--study-prefix",
    help="Studies are named PREFIX-STRATEGY-sSEED (default: compare-DATE-TIME).",
)
@_comparison_outputs
@_tracker_options
def tune_compare(
    objective: str,
    space_file: str,
    strategies: str,
    seeds: str,
    n_trials: int,
    metric: str,
    maximize: bool,
    target: float,
    budget_kwh: float | None,
    baseline: str,
    storage: str | None,
    study_prefix: str | None,
    html_file: str | None,
    json_file: str | None,
    config_path: str | None,
    **options: Any,
) -> None:
    """Run the same search under several strategies and seeds; which reaches the target
    for the least energy.

    Every (strategy, seed) pair is one study of --n-trials trials; the recommended
    strategy has the lowest median energy-to-target over the seeds.

    Example: wattwise tune compare my_train:objective --space space.yaml
    --metric val_accuracy --target 0.95 --seeds 0,1,2 --html compare.html
    """

    from wattwise.config import resolve_config
    from wattwise.tuning.space import load_space
    from wattwise.tuning.strategies import optuna_module

    names, seed_list = _strategies_and_seeds(strategies, seeds, html_file, json_file)
    if baseline not in _TUNE_STRATEGIES:  # a known one not compared: no saving stated
        raise _UserError(
            f"unknown --baseline {baseline!r}: choose from {', '.join(_TUNE_STRATEGIES)}"
        )
    optuna_module()  # a missing extra is a one-line error before anything starts
    space = load_space(space_file)
    cfg = resolve_config(config_path=config_path, **options)
    with _objective_import_path(objective) as spec:
        _compare(
            spec,
            space,
            names=names,
            seed_list=seed_list,
            n_trials=n_trials,
            metric=metric,
            maximize=maximize,
            target=target,
            budget_kwh=budget_kwh,
            baseline=baseline,
            storage=storage,
            study_prefix=study_prefix,
            html_file=html_file,
            json_file=json_file,
            cfg=cfg,
            title="wattwise tune compare",
        )


def _strategies_and_seeds(
    strategies: str, seeds: str, html_file: str | None, json_file: str | None
) -> tuple[list[str], list[int]]:
    """Parse ``--strategies`` and ``--seeds`` (and refuse two outputs on stdout)."""
    if html_file == "-" and json_file == "-":
        raise _UserError("--html - and --json - cannot both go to standard output")
    names = [s.strip() for s in strategies.split(",") if s.strip()]
    unknown = [s for s in names if s not in _TUNE_STRATEGIES]
    if unknown:
        raise _UserError(
            f"unknown strategy {unknown[0]!r} in --strategies: choose from "
            f"{', '.join(_TUNE_STRATEGIES)}"
        )
    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise _UserError(f"invalid --seeds {seeds!r}: use integers like 0,1,2") from None
    return names, seed_list


def _compare(
    objective: Any,
    space: Any,
    *,
    names: list[str],
    seed_list: list[int],
    n_trials: int,
    metric: str,
    maximize: bool,
    target: float,
    budget_kwh: float | None,
    baseline: str,
    storage: str | None,
    study_prefix: str | None,
    html_file: str | None,
    json_file: str | None,
    cfg: Any,
    title: str,
) -> None:
    """Run a strategy comparison with a line per study; print, and write HTML/JSON."""
    import time

    from wattwise.summary import fmt_energy
    from wattwise.tuning.compare import (
        compare_strategies,
        html_tune_comparison,
        print_comparison,
    )
    from wattwise.tuning.search import _label

    _tune_precheck(cfg, _tune_storage(storage or "memory"), target)
    to_stdout = "-" in (html_file, json_file)
    err = _console(stderr=True)
    prefix = study_prefix or time.strftime("compare-%Y%m%d-%H%M%S")
    n_studies = len(names) * len(seed_list)
    err.print(
        f"{title}: {', '.join(names)} × seeds {', '.join(map(str, seed_list))} "
        f"= {n_studies} studies of {n_trials} trials; target {metric} "
        f"{'≥' if maximize else '≤'} {target:g}",
        markup=False,
        soft_wrap=True,
    )
    done = [0]

    def progress(strategy: str, seed: int, result: Any) -> None:
        done[0] += 1
        hit = result.target_hit
        best = result.best
        reached = (
            f"target reached by trial {hit.trial} after {fmt_energy(hit.energy_j)}"
            if hit is not None
            else "target missed"
        )
        click.echo(
            f"[{done[0]}/{n_studies}] {strategy} seed {seed}: {len(result.trials)} trials, "
            f"{fmt_energy(result.total_energy_j)}, best {metric} "
            f"{'—' if best is None else f'{best.value:.4g}'}, {reached}",
            err=True,
        )

    comparison = compare_strategies(
        objective,
        space,
        strategies=names,
        seeds=seed_list,
        n_trials=n_trials,
        metric=metric,
        direction="maximize" if maximize else "minimize",
        target=target,
        budget_kwh=budget_kwh,
        tracker_options={"config": cfg},
        storage=_tune_storage(storage or "memory"),
        study_prefix=prefix,
        on_study=progress,
        baseline=baseline,
    )
    print_comparison(comparison, _console(stderr=to_stdout))
    if storage is not None and storage != "memory":
        label = _label(storage)  # a database URL without its password
        click.echo(
            f"studies kept in {label}: wattwise tune show --storage {shlex.quote(label)}",
            err=True,
        )
    _write_outputs(html_file, json_file, lambda: html_tune_comparison(comparison), comparison)


def _tune_precheck(cfg: Any, storage: str | None, target: float | None) -> None:
    """What would otherwise fail only once the search has started (or in every worker):
    the zone, the run store, the study storage, a target that is not a number."""
    import math

    from wattwise.carbon import resolve_zone
    from wattwise.store import get_store
    from wattwise.tuning.search import close_storage, open_storage

    if target is not None and not math.isfinite(target):
        raise _UserError(f"--target must be a finite number, not {target}")
    resolve_zone(cfg.zone, source=cfg.source_of("zone"))
    get_store(cfg.store).close()
    if storage is not None:
        close_storage(open_storage(storage))


def _study_start(result: Any) -> float:
    starts = [t.started_at.timestamp() for t in result.trials if t.started_at is not None]
    return min(starts, default=float("inf"))


def _tune_storage(storage: str | None) -> str | None:
    """The study storage: the default journal file, None for 'memory', else as given."""
    if storage is None:
        from wattwise.tuning.show import default_storage_path

        return str(default_storage_path())
    return None if storage == "memory" else storage


def _storage_flag(where: str) -> str:
    """`` --storage WHERE`` for a command to print (a database URL without its password),
    empty for the default journal."""
    from wattwise.tuning.search import _label
    from wattwise.tuning.show import default_storage_path

    return (
        "" if where == str(default_storage_path()) else f" --storage {shlex.quote(_label(where))}"
    )


def _missing_storage_file(where: str) -> str | None:
    """The file a journal path or a ``sqlite:///FILE`` URL names when it does not exist
    (opening it would create an empty one); None otherwise."""
    if "://" not in where:
        return None if os.path.exists(where) else where
    try:
        from sqlalchemy.engine import make_url

        url = make_url(where)
    except Exception:  # not a SQLAlchemy URL: opening it says what is wrong
        return None
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    database = url.database
    if database.startswith("file:"):  # a URI filename (?uri=true): not checked
        return None
    return None if os.path.exists(database) else database


def _tune_study_name(strategy: str) -> str:
    """A new study's name, ``<strategy>-<date>-<time>-<random>`` (as tune() names one)."""
    import time
    import uuid

    return f"{strategy}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"


def _write_outputs(
    html_file: str | None, json_file: str | None, page: Callable[[], str], result: Any
) -> None:
    """Write the HTML page and the JSON (``result.to_dict()``) where asked ('-': stdout)."""
    if html_file is not None:
        text = page()
        if html_file == "-":
            click.echo(text, nl=False)
        else:
            _write(html_file, text)
            click.echo(f"wrote {html_file}", err=True)
    if json_file is not None:
        _write_tune_json(json_file, result.to_dict())


def _write_tune_json(json_file: str, doc: Any) -> None:
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    if json_file == "-":
        click.echo(text, nl=False)
        return
    _write(json_file, text)
    click.echo(f"wrote {json_file}", err=True)


@contextlib.contextmanager
def _objective_import_path(objective: str) -> Iterator[str]:
    """Make MODULE:FUNCTION (or FILE.py:FUNCTION) importable here and in worker processes:
    its folder (the current directory for a module) goes first on sys.path and on
    PYTHONPATH while the search runs. Yields the spec as 'module:function', checked."""
    from wattwise.tuning.search import load_objective

    where, sep, attr = objective.rpartition(":")
    if not sep or not where or not attr:
        raise _UserError(
            f"the objective must be MODULE:FUNCTION or FILE.py:FUNCTION, not {objective!r}"
        )
    folder = os.getcwd()
    if where.endswith(".py"):
        if not os.path.isfile(where):
            raise _UserError(f"no such file: {where}")
        folder = os.path.dirname(os.path.abspath(where))
        where = os.path.splitext(os.path.basename(where))[0]
    spec = f"{where}:{attr}"
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([folder, saved]) if saved else folder
    try:
        try:
            load_objective(spec)
        except WattwiseError:
            raise
        except Exception as exc:  # the user's module failed on import: theirs to fix
            raise _UserError(f"cannot import {where}: {type(exc).__name__}: {exc}") from None
        yield spec
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(folder)


# -- report -------------------------------------------------------------------------------
@main.command()
@click.argument("run_id")
@click.option("--store", help="Run store: SQLAlchemy URL, SQLite path, or 'local'.")
@click.option(
    "--json", "as_json", is_flag=True, help="The run report as JSON (wattwise run-report schema)."
)
@click.option("--md", "as_md", is_flag=True, help="An 'Energy and carbon' Markdown section.")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    help="Write a self-contained HTML report with plots to FILE ('-': standard output).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the JSON or Markdown to FILE instead of standard output.",
)
@click.option(
    "--embodied-kgco2e",
    type=float,
    help="The hardware's manufacturing emissions (kgCO2e), to report SCI's embodied term.",
)
@click.option(
    "--lifetime-years",
    type=float,
    help="The hardware's expected lifespan for --embodied-kgco2e (default 4).",
)
@click.option(
    "--embodied-share",
    type=float,
    help="Share of that hardware the run reserved, in (0, 1] (default 1).",
)
@click.option("--embodied-source", help="Where --embodied-kgco2e comes from (shown).")
def report(
    run_id: str,
    store: str | None,
    as_json: bool,
    as_md: bool,
    html_file: str | None,
    output: str | None,
    embodied_kgco2e: float | None,
    lifetime_years: float | None,
    embodied_share: float | None,
    embodied_source: str | None,
) -> None:
    """Report one run (id or an unambiguous prefix): a summary, --json, --md or --html FILE.

    Examples: wattwise report 1c2ee4d8 --md -o ENERGY.md;
    wattwise report 1c2ee4d8 --html energy.html
    """
    if sum([as_json, as_md, html_file is not None]) > 1:
        raise click.UsageError("choose one of --json, --md and --html")
    if output is not None and not (as_json or as_md):
        raise click.UsageError("--output needs --json or --md (--html names its own file)")
    embodied = _embodied(embodied_kgco2e, lifetime_years, embodied_share, embodied_source)
    st = _store(store)
    record = st.get_run(run_id)
    if html_file is not None:
        from wattwise.report.html import html_report

        columns, points = st.get_series(record.id)
        page = html_report(record, columns, points, embodied=embodied)
        if html_file == "-":
            click.echo(page, nl=False)
        else:
            _write(html_file, page)
            click.echo(f"wrote {html_file}", err=True)
        return
    if as_json:
        from wattwise.report import build_report, validate_report

        document = build_report(record, embodied=embodied)
        validate_report(document)
        text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
    elif as_md:
        from wattwise.report.markdown import markdown_report

        text = markdown_report(record, embodied=embodied)
    else:
        from wattwise.summary import print_summary

        print_summary(record, _console(stderr=False))
        if embodied is not None:
            click.echo(
                f"embodied (SCI M, not in the emissions above): "
                f"{embodied.formula(record.duration_s, record.headline)}"
            )
        return
    if output is None:
        click.echo(text, nl=False)
        return
    _write(output, text)
    click.echo(f"wrote {output}", err=True)


def _embodied(
    total_kgco2e: float | None,
    lifetime_years: float | None,
    share: float | None,
    source: str | None,
) -> Any:
    """EmbodiedInputs from the report options (None without --embodied-kgco2e)."""
    if total_kgco2e is None:
        if any(v is not None for v in (lifetime_years, share, source)):
            raise click.UsageError(
                "--lifetime-years, --embodied-share and --embodied-source need --embodied-kgco2e"
            )
        return None
    from wattwise.embodied import DEFAULT_LIFETIME_YEARS, EmbodiedInputs

    return EmbodiedInputs(
        total_kgco2e,
        DEFAULT_LIFETIME_YEARS if lifetime_years is None else lifetime_years,
        1.0 if share is None else share,
        source or "given by the user",
    )


# -- optimize -----------------------------------------------------------------------------
_RECIPE_HELP = (
    "Comma-separated recipes or groups: mixed-precision, batch-size, prune, channels, "
    "quantize-dynamic, quantize-static, qat, distill, transfer, dedupe, subset; groups "
    "all, quantize, pruning, data."
)


def _optimize_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options `optimize` and `demo optimize` share."""
    options = [
        click.option("--recipes", default="all", show_default=True, help=_RECIPE_HELP),
        click.option(
            "--tolerance",
            type=click.FloatRange(0, 100, max_open=True),
            default=1.0,
            show_default=True,
            help="Accuracy points the recommendation may lose against the baseline.",
        ),
        click.option(
            "--objective",
            type=click.Choice(["inference", "training"]),
            default="inference",
            show_default=True,
            help="Energy the recommendation minimises.",
        ),
        click.option(
            "--batch-sizes",
            default="1,256",
            show_default=True,
            help="Comma-separated inference batch sizes to measure.",
        ),
        click.option(
            "--repeats",
            type=click.IntRange(1, 100),
            default=3,
            show_default=True,
            help="Timed inference windows per model and batch size.",
        ),
        click.option(
            "--window",
            "window_s",
            type=click.FloatRange(0.01, 60),
            default=0.5,
            show_default=True,
            help="Length of one inference window, s.",
        ),
        click.option("--name", "-n", help="Study name (run names and the optimize tag)."),
        click.option(
            "--json",
            "json_file",
            type=click.Path(dir_okay=False, writable=True, allow_dash=True),
            help="Write the results as JSON to FILE ('-': standard output).",
        ),
        click.option(
            "--html",
            "html_file",
            type=click.Path(dir_okay=False, writable=True, allow_dash=True),
            help="Write an HTML page with the table and Pareto charts to FILE ('-': stdout).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _run_optimize(
    task: Any,
    *,
    recipes: str,
    tolerance: float,
    objective: str,
    batch_sizes: str,
    repeats: int,
    window_s: float,
    name: str | None,
    html_file: str | None,
    json_file: str | None,
    config_path: str | None,
    options: dict[str, Any],
    title: str,
) -> None:
    """Check everything, run the study with a progress line per step, print, write."""
    from wattwise.config import resolve_config
    from wattwise.optimizing.measure import check_batch_sizes
    from wattwise.optimizing.recipes import resolve_recipes
    from wattwise.optimizing.show import html_optimize, print_result
    from wattwise.optimizing.study import optimize

    if html_file == "-" and json_file == "-":
        raise _UserError("--html - and --json - cannot both use standard output")
    chosen = resolve_recipes(recipes)
    try:
        sizes = [int(b) for b in batch_sizes.split(",") if b.strip()]
    except ValueError:
        raise _UserError(f"--batch-sizes must be integers, not {batch_sizes!r}") from None
    check_batch_sizes(sizes)
    if name is not None and not name.strip():
        raise _UserError("--name must not be empty")
    cfg = resolve_config(config_path=config_path, **options)
    _tune_precheck(cfg, None, None)
    to_stdout = "-" in (html_file, json_file)
    err = _console(stderr=True)
    err.print(
        f"{title}: baseline + {', '.join(chosen)}; tolerance {tolerance:g} pt, "
        f"objective {objective} energy",
        markup=False,
        soft_wrap=True,
    )
    result = optimize(
        task,
        chosen,
        tolerance=tolerance / 100.0,
        objective=objective,  # type: ignore[arg-type]
        name=name,
        batch_sizes=sizes,
        repeats=repeats,
        window_s=window_s,
        tracker_options={"config": cfg},
        progress=lambda line: click.echo(f"  {line}", err=True),
    )
    print_result(result, _console(stderr=to_stdout))
    _write_outputs(html_file, json_file, lambda: html_optimize(result), result)


@main.command("optimize", short_help="Measure efficiency recipes on a model, side by side.")
@click.argument("target", metavar="MODULE:TASK")
@_optimize_options
@_tracker_options
def optimize_command(target: str, config_path: str | None, **kwargs: Any) -> None:
    """Train the baseline of a task, apply each recipe (pruning, quantization,
    distillation, mixed precision, batch size, transfer learning, data reduction), and
    measure every variant the same way: training energy, inference energy per 1,000
    samples and latency at each batch size, size, accuracy, calibration error and
    accuracy under noise. Prints the Pareto fronts and recommends the variant with the
    least energy within the accuracy tolerance.

    MODULE:TASK (or FILE.py:TASK) is a wattwise.OptimizeTask, or a function that
    returns one when called with no arguments.
    """
    from wattwise.optimizing.task import OptimizeTask

    _imports_torch()
    made = _load_attr(target)
    if not isinstance(made, OptimizeTask):
        if not callable(made):
            raise _UserError(f"{target} is neither an OptimizeTask nor a function")
        try:
            made = made()
        except WattwiseError:
            raise
        except Exception as exc:  # the user's code: one line, theirs to fix
            raise _UserError(f"{target}() failed: {type(exc).__name__}: {exc}") from None
        if not isinstance(made, OptimizeTask):
            raise _UserError(f"{target}() must return a wattwise.OptimizeTask")
    _run_optimize(
        made, config_path=config_path, title=f"wattwise optimize {target}", **_split(kwargs)
    )


def _split(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The optimize options, and the tracker options gathered under ``options``."""
    keys = (
        "recipes", "tolerance", "objective", "batch_sizes", "repeats", "window_s", "name",
        "html_file", "json_file",
    )  # fmt: skip
    mine = {k: kwargs.pop(k) for k in keys}
    return {**mine, "options": kwargs}


def _imports_torch() -> None:
    """A missing torch is a one-line error before anything starts."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise _UserError("optimize needs PyTorch: pip install 'wattwise[demo]'") from None


@demo.command("optimize", short_help="Every efficiency recipe on the digits CNN, measured.")
@click.option("--epochs", type=click.IntRange(1, 1000), default=8, show_default=True)
@_optimize_options
@_tracker_options
def demo_optimize(epochs: int, config_path: str | None, **kwargs: Any) -> None:
    """Every recipe on the bundled digits CNN (32 channels, 8 epochs): mixed precision,
    batch size, magnitude and channel pruning, int8 dynamic/static/QAT quantization,
    distillation into a 16-channel student, transfer from a model trained on the digits
    0-4, and data reduction. About 2 minutes on 2 CPU cores; nothing is downloaded.
    Needs the demo extra: pip install 'wattwise[demo]'.
    """
    from wattwise.demo import _imports
    from wattwise.optimizing.digits import task

    _imports()
    _run_optimize(
        task(epochs=epochs),
        config_path=config_path,
        title="wattwise demo optimize (digits CNN)",
        **_split(kwargs),
    )


def _write(path: str, text: str) -> None:
    """Write a report file; an unwritable path is a user error."""
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise _UserError(f"cannot write {path}: {exc.strerror or exc}") from None


if __name__ == "__main__":  # pragma: no cover
    main()
