"""The agent as a Windows service: ``dexpulse agent --config FILE service``, started by the SCM.

The MSI registers the frozen ``dexpulse.exe`` itself as the service program, with the command
line ``agent --config "C:\\ProgramData\\dexpulse\\agent.toml" service``: argparse hands the
config path to :func:`main`, which hosts the one service in this process
(``servicemanager.Initialize``, ``PrepareToHostSingle``, ``StartServiceCtrlDispatcher``).
That is pywin32's pattern for frozen programs: no ``pythonservice.exe`` (which is copied per
Python install and cannot be shared by two services), no ``HandleCommandLine`` (which does
not work frozen), and no Python class looked up in the registry. The service is installed,
configured and removed by the MSI only (``installers/windows/dexpulse.wxs``).

What the service does between the SCM's start and stop is :class:`ServiceRunner`, which
knows nothing of pywin32 and is tested on any OS with a fake agent:

* the agent (``AgentService(load(config))``) is built on a worker thread, because building it
  reads the device's facts through PowerShell, which may take seconds; meanwhile the SCM is
  told START_PENDING every couple of seconds, so it does not give up on a slow start;
* once built, the agent runs (``run_forever(stop)``) on that thread and the SCM is told
  RUNNING;
* a stop (or shutdown) control tells the SCM STOP_PENDING at once, sets ``stop`` and waits
  for the agent to close its spool, telling STOP_PENDING again with a wait hint while it
  drains, for at most :data:`STOP_TIMEOUT_S`. An agent that does not stop in time is left
  behind (a daemon thread) and the process ends anyway: a stop must never hang.

A start that fails (a config file that does not parse, a spool that cannot be opened) ends
the service with an error instead of hanging: ``SvcRun`` raises, and pywin32 then reports
SERVICE_STOPPED with ``ERROR_SERVICE_SPECIFIC_ERROR`` and writes the traceback to the
Application event log. So does an agent that stops by itself while nobody asked it to. The MSI
sets the service's failure actions (restart twice, a minute apart) and turns on "enable
actions for stops with errors" (``sc failureflag``), so the SCM retries such a service as it
would a crashed one. A stop that was asked for always ends with exit code 0, even when the
agent had to be left behind: otherwise the SCM would restart a service an administrator, or
the MSI during an upgrade, has just stopped.

Logging goes to ``<service state dir>\\logs\\agent.log`` (``C:\\ProgramData\\dexpulse``;
rotated at 1 MiB, five old files kept; the place does not depend on the config, so a config
that cannot be read is still logged) and, for errors, to the Application event log under the
source ``dexpulse`` through ``servicemanager.LogErrorMsg``, where monitoring tools look first.

pywin32 is imported only inside functions that first check ``sys.platform``, so this module
imports, and mypy checks it, on every OS (``--platform win32`` reads the types-pywin32 stubs).
"""

from __future__ import annotations

import enum
import logging
import logging.handlers
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

SERVICE_NAME = "dexpulse"
DISPLAY_NAME = "dexpulse agent"
DESCRIPTION = (
    "Collects device experience telemetry (Wi-Fi, crashes, boot, battery, network probes) "
    "and sends it to the dexpulse collector."
)

START_TIMEOUT_S = 120.0
"""How long building the agent may take before the start counts as failed."""
STOP_TIMEOUT_S = 20.0
"""How long a stop waits for the agent to close its spool before leaving it behind; short, as
an upgrade stops the service and waits for it before replacing the files."""
PROGRESS_S = 2.0
"""How often a pending start or stop is reported to the SCM again."""
WAIT_HINT_MS = 10_000
"""The wait hint sent with each pending report: well over :data:`PROGRESS_S`, so the SCM
always hears again before it would judge the service hung."""

EXIT_OK = 0
EXIT_START_FAILED = 1
EXIT_AGENT_ENDED = 2
"""The agent's run ended (or raised) while no stop had been asked for."""

LOG_MAX_BYTES = 1024 * 1024
LOG_BACKUPS = 5
LOG_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"

NOT_UNDER_SCM = (
    "dexpulse: `dexpulse agent service` is run by the Windows service manager; start the "
    "service with `sc start dexpulse` (or Start-Service dexpulse), or run the agent in this "
    "console with `dexpulse agent run`.\n"
)


class State(enum.Enum):
    """The service states the runner reports (the SCM's names, without pywin32's numbers)."""

    START_PENDING = "start_pending"
    RUNNING = "running"
    STOP_PENDING = "stop_pending"


Report = Callable[[State, int], None]
"""Tell the SCM a state, with a wait hint in milliseconds (0 when not pending)."""


class Agent(Protocol):
    """What the runner needs of :class:`~dexpulse.agent.service.AgentService`."""

    def run_forever(self, stop: threading.Event) -> None: ...


AgentFactory = Callable[[], Agent]


def agent_factory(config_path: Path | None) -> AgentFactory:
    """Build the real agent from ``config_path`` (or the default path) when called; imports
    the agent only then, so the service registers with the SCM first."""

    def build() -> Agent:
        from ...config import load
        from ...service import AgentService

        return AgentService(load(config_path))

    return build


class ServiceRunner:
    """The service's life between the SCM's start and stop; see the module's docstring.

    :meth:`run` is called once, on the SCM's service thread, and returns the exit code;
    :meth:`stop` may be called from the control-handler thread at any time, even before
    :meth:`run` has built the agent, and more than once.
    """

    def __init__(
        self,
        factory: AgentFactory,
        report: Report,
        *,
        start_timeout_s: float = START_TIMEOUT_S,
        stop_timeout_s: float = STOP_TIMEOUT_S,
        progress_s: float = PROGRESS_S,
        wait_hint_ms: int = WAIT_HINT_MS,
    ) -> None:
        self._factory = factory
        self._report = report
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.progress_s = progress_s
        self.wait_hint_ms = wait_hint_ms
        self.stop_event = threading.Event()
        self.failure: str | None = None
        """Why the service ends with an error; None while it has not."""
        self._built = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._start_failure: str | None = None
        self._run_failure: str | None = None

    # -- called by the SCM's threads ---------------------------------------------------------

    def stop(self) -> None:
        """Ask the agent to stop; returns at once (the SCM's handler must not block)."""
        with self._lock:
            first = not self.stop_event.is_set()
            self.stop_event.set()
            if first:
                self._report(State.STOP_PENDING, self.wait_hint_ms)
        self._wake.set()

    def run(self) -> int:
        """Build and run the agent until it is stopped; the exit code (:data:`EXIT_OK` after a
        stop that was asked for, else :data:`EXIT_START_FAILED` or :data:`EXIT_AGENT_ENDED`
        with :attr:`failure` saying why)."""
        self._tell(State.START_PENDING)
        worker = threading.Thread(target=self._work, name="dexpulse-agent", daemon=True)
        worker.start()

        deadline = time.monotonic() + self.start_timeout_s
        while not self._built.wait(self._pause(deadline)):
            if time.monotonic() >= deadline:
                return self._fail(
                    EXIT_START_FAILED,
                    f"the agent did not start within {self.start_timeout_s:g} s",
                )
            self._tell(State.START_PENDING)
        if self._start_failure is not None:
            why = f"the agent could not start: {self._start_failure}"
            return self._fail(EXIT_START_FAILED, why)

        with self._lock:
            if not self.stop_event.is_set():
                self._report(State.RUNNING, 0)
        log.info("dexpulse service running")

        self._wake.wait()
        if not self.stop_event.is_set():  # the agent ended by itself
            worker.join(self.progress_s)
            reason = self._run_failure or "its run returned without being asked to stop"
            return self._fail(EXIT_AGENT_ENDED, f"the agent stopped unexpectedly: {reason}")

        deadline = time.monotonic() + self.stop_timeout_s
        while worker.is_alive() and time.monotonic() < deadline:
            self._tell(State.STOP_PENDING)
            worker.join(self._pause(deadline))
        if worker.is_alive():
            log.error(
                "the agent did not stop within %g s; the service stops without it "
                "(unsent samples stay in the spool)",
                self.stop_timeout_s,
            )
        elif self._run_failure is not None:
            log.error("the agent failed while stopping: %s", self._run_failure)
        log.info("dexpulse service stopped")
        return EXIT_OK

    # -- internals ---------------------------------------------------------------------------

    def _work(self) -> None:
        """The worker thread: build the agent, then run it until ``stop_event``."""
        try:
            agent = self._factory()
        except BaseException as exc:  # the service must end with the reason, not the thread
            self._start_failure = _describe(exc)
            log.exception("the agent could not be built")
            self._built.set()
            return
        self._built.set()
        try:
            agent.run_forever(self.stop_event)
        except BaseException as exc:
            self._run_failure = _describe(exc)
            log.exception("the agent's run failed")
        finally:
            self._wake.set()

    def _tell(self, state: State) -> None:
        with self._lock:
            if state is State.START_PENDING and self.stop_event.is_set():
                return
            self._report(state, self.wait_hint_ms)

    def _pause(self, deadline: float) -> float:
        return max(0.0, min(self.progress_s, deadline - time.monotonic()))

    def _fail(self, code: int, why: str) -> int:
        self.failure = why
        log.error("dexpulse service ends with exit code %d: %s", code, why)
        return code


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ServiceFailed(RuntimeError):
    """Raised out of ``SvcRun`` so pywin32 reports SERVICE_STOPPED with an error code."""


# -- logging ---------------------------------------------------------------------------------


class EventLogHandler(logging.Handler):
    """Records at ERROR and above, as one line each, to ``sink`` (on Windows
    ``servicemanager.LogErrorMsg``: the Application event log, source ``dexpulse``)."""

    def __init__(self, sink: Callable[[str], None]) -> None:
        super().__init__(logging.ERROR)
        self.sink = sink
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sink(self.format(record))
        except Exception:  # logging must never stop the service
            self.handleError(record)


def log_path(state_dir: Path) -> Path:
    return state_dir / "logs" / "agent.log"


def configure_logging(
    state_dir: Path,
    event_sink: Callable[[str], None] | None = None,
    *,
    root: logging.Logger | None = None,
) -> list[logging.Handler]:
    """Send INFO and above to ``<state_dir>\\logs\\agent.log`` (rotated) and errors to
    ``event_sink``; the handlers added to ``root`` (by default the root logger). A log folder
    that cannot be created only loses the file: the event log still gets errors."""
    root = logging.getLogger() if root is None else root
    handlers: list[logging.Handler] = []
    path = log_path(state_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
    except OSError as exc:
        file_problem: str | None = f"cannot write {path}: {exc}"
    else:
        file_problem = None
        file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handlers.append(file_handler)
    if event_sink is not None:
        handlers.append(EventLogHandler(event_sink))
    for handler in handlers:
        root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    if file_problem:
        log.error("%s; logging to the event log only", file_problem)
    return handlers


# -- the pywin32 side (Windows only) ---------------------------------------------------------


def service_class(config_path: Path | None) -> type[Any]:
    """The ``win32serviceutil.ServiceFramework`` subclass hosting the agent of
    ``config_path``; OSError anywhere but on Windows."""
    if sys.platform != "win32":
        raise OSError("Windows services exist only on Windows")
    import servicemanager
    import win32service
    import win32serviceutil

    from ...config import service_state_dir

    scm_states = {
        State.START_PENDING: win32service.SERVICE_START_PENDING,
        State.RUNNING: win32service.SERVICE_RUNNING,
        State.STOP_PENDING: win32service.SERVICE_STOP_PENDING,
    }

    class DexpulseService(win32serviceutil.ServiceFramework):
        _svc_name_ = SERVICE_NAME
        _svc_display_name_ = DISPLAY_NAME
        _svc_description_ = DESCRIPTION

        def __init__(self, args: Iterable[str]) -> None:
            super().__init__(args)
            self.runner = ServiceRunner(agent_factory(config_path), self._report)

        def _report(self, state: State, wait_hint_ms: int) -> None:
            self.ReportServiceStatus(scm_states[state], waitHint=wait_hint_ms)

        def SvcRun(self) -> None:  # pywin32's names, from here on
            configure_logging(service_state_dir(), servicemanager.LogErrorMsg)
            log.info("dexpulse service starting (config %s)", config_path or "default")
            code = self.runner.run()
            if code != EXIT_OK:
                raise ServiceFailed(self.runner.failure or f"exit code {code}")

        def SvcStop(self) -> None:
            self.runner.stop()

        def SvcShutdown(self) -> None:  # the machine shuts down: close the spool too
            self.runner.stop()

    return DexpulseService


def main(config_path: Path | None) -> int:
    """Host the service in this process, as the SCM starts it; returns when it has stopped.

    Run from a console instead, it says how to start the service and returns 2.
    """
    if sys.platform != "win32":
        sys.stderr.write("dexpulse: the Windows service runs only on Windows\n")
        return 2
    import pywintypes
    import servicemanager
    import winerror

    servicemanager.Initialize(SERVICE_NAME, None)
    servicemanager.PrepareToHostSingle(service_class(config_path))
    dispatch: Callable[[], object] = servicemanager.StartServiceCtrlDispatcher  # unannotated
    try:
        dispatch()  # returns when the service has stopped
    except pywintypes.error as exc:
        if exc.winerror == winerror.ERROR_FAILED_SERVICE_CONTROLLER_CONNECT:
            sys.stderr.write(NOT_UNDER_SCM)
            return 2
        raise
    return 0
