"""The agent as a Windows service (``agent/platform/_windows/winservice.py``).

The runner, which is what the service does between the SCM's start and stop, is driven here
with fake agents: one that stops when asked, one slow to build, one that ignores the stop,
one whose build fails, one that ends by itself; the real factory is given a config file that
does not parse. The pywin32 glue (the ``ServiceFramework`` subclass and ``main``) is driven
through stand-ins for ``servicemanager``, ``win32service``, ``win32serviceutil``,
``pywintypes`` and ``winerror`` that behave as pywin32's C host does (``PythonService.cpp``:
the class is instantiated with the service's arguments, ``SvcRun`` is called on the service
thread, and an exception out of it stops the service with ``ERROR_SERVICE_SPECIFIC_ERROR``);
nothing here has met a real SCM.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dexpulse.agent.config import ConfigError
from dexpulse.agent.platform._windows import winservice
from dexpulse.agent.platform._windows.winservice import (
    EXIT_AGENT_ENDED,
    EXIT_OK,
    EXIT_START_FAILED,
    ServiceRunner,
    State,
)

FAST = {"progress_s": 0.02, "wait_hint_ms": 5000}


class Reports:
    """The states a runner tells the SCM, in order, with a wait for one to arrive."""

    def __init__(self) -> None:
        self.seen: list[tuple[State, int]] = []
        self._changed = threading.Condition()

    def __call__(self, state: State, wait_hint_ms: int) -> None:
        with self._changed:
            self.seen.append((state, wait_hint_ms))
            self._changed.notify_all()

    def wait_for(self, state: State, timeout: float = 5.0) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.count(state) > 0, timeout), self.seen

    def count(self, state: State) -> int:
        return sum(1 for seen, _ in self.seen if seen is state)

    def states(self) -> list[State]:
        """The states with repeats of the same one folded."""
        folded: list[State] = []
        for state, _ in self.seen:
            if not folded or folded[-1] is not state:
                folded.append(state)
        return folded


class FakeAgent:
    """Runs until ``stop`` is set, then "closes its spool"; or, with ``hang``, ignores the
    stop until the test releases it; or, with ``end_after``, returns (or raises) by itself."""

    def __init__(self, *, hang: bool = False, end_after: float | None = None) -> None:
        self.hang = hang
        self.end_after = end_after
        self.raise_on_end: BaseException | None = None
        self.started = threading.Event()
        self.closed = threading.Event()
        self.release = threading.Event()

    def run_forever(self, stop: threading.Event) -> None:
        self.started.set()
        if self.end_after is not None:
            time.sleep(self.end_after)
            if self.raise_on_end is not None:
                raise self.raise_on_end
            return
        if self.hang:
            self.release.wait(10)
            return
        stop.wait(10)
        self.closed.set()


class Background:
    """``runner.run()`` on a thread of its own, as the SCM's service thread would call it."""

    def __init__(self, runner: ServiceRunner) -> None:
        self.code: int | None = None
        self.thread = threading.Thread(target=self._run, args=(runner,), daemon=True)
        self.thread.start()

    def _run(self, runner: ServiceRunner) -> None:
        self.code = runner.run()

    def join(self, timeout: float = 5.0) -> int:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "run() did not return"
        assert self.code is not None
        return self.code


@pytest.fixture
def hung_agents() -> Iterator[list[FakeAgent]]:
    """Agents a test leaves hanging are released when it ends, so no thread outlives it."""
    agents: list[FakeAgent] = []
    yield agents
    for agent in agents:
        agent.release.set()


# -- the runner ------------------------------------------------------------------------------


def test_start_running_stop() -> None:
    agent, reports = FakeAgent(), Reports()
    runner = ServiceRunner(lambda: agent, reports, **FAST)
    background = Background(runner)

    reports.wait_for(State.RUNNING)
    assert agent.started.wait(5)
    assert not agent.closed.is_set()
    runner.stop()
    assert background.join() == EXIT_OK
    assert agent.closed.is_set(), "the agent was not let finish (spool not closed)"
    assert runner.failure is None
    assert reports.states()[:2] == [State.START_PENDING, State.RUNNING]
    assert reports.states()[2:] == [State.STOP_PENDING]
    assert all(hint == 5000 for state, hint in reports.seen if state is not State.RUNNING)
    assert (State.RUNNING, 0) in reports.seen


def test_a_slow_build_keeps_reporting_start_pending() -> None:
    agent, reports = FakeAgent(), Reports()

    def slow() -> FakeAgent:
        time.sleep(0.25)  # the device's facts through PowerShell
        return agent

    runner = ServiceRunner(slow, reports, **FAST)
    background = Background(runner)
    reports.wait_for(State.RUNNING)
    assert reports.count(State.START_PENDING) >= 3  # checkpoints while it builds
    runner.stop()
    assert background.join() == EXIT_OK


def test_stop_is_bounded_when_the_agent_hangs(
    hung_agents: list[FakeAgent], caplog: pytest.LogCaptureFixture
) -> None:
    agent, reports = FakeAgent(hang=True), Reports()
    hung_agents.append(agent)
    runner = ServiceRunner(lambda: agent, reports, stop_timeout_s=0.3, **FAST)
    background = Background(runner)
    reports.wait_for(State.RUNNING)

    asked = time.monotonic()
    with caplog.at_level(logging.ERROR, logger=winservice.__name__):
        runner.stop()
        code = background.join()
    took = time.monotonic() - asked
    assert code == EXIT_OK  # asked to stop: no failure, so the SCM does not restart it
    assert 0.3 <= took < 2.0
    assert reports.count(State.STOP_PENDING) >= 3  # told while it drained
    assert "did not stop within 0.3 s" in caplog.text
    assert not agent.release.is_set()  # it really was still running


def test_stop_twice_and_before_the_agent_is_built() -> None:
    agent, reports = FakeAgent(), Reports()
    gate = threading.Event()

    def gated() -> FakeAgent:
        gate.wait(5)
        return agent

    runner = ServiceRunner(gated, reports, **FAST)
    background = Background(runner)
    reports.wait_for(State.START_PENDING)
    runner.stop()
    runner.stop()
    gate.set()
    assert background.join() == EXIT_OK
    assert reports.count(State.RUNNING) == 0  # never claimed to run once the stop came
    assert agent.closed.is_set()  # built after the stop, it ran and stopped at once


def test_a_failed_build_ends_with_an_error() -> None:
    reports = Reports()

    def broken() -> FakeAgent:
        raise ConfigError("C:\\ProgramData\\dexpulse\\agent.toml: collector_url: bad")

    runner = ServiceRunner(broken, reports, **FAST)
    assert Background(runner).join() == EXIT_START_FAILED
    assert runner.failure is not None
    assert "could not start" in runner.failure and "collector_url: bad" in runner.failure
    assert reports.count(State.RUNNING) == 0


def test_the_real_factory_with_a_config_that_does_not_parse(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('collector_url = "https://dex.example.com\n', encoding="utf-8")
    runner = ServiceRunner(winservice.agent_factory(config), Reports(), **FAST)
    assert Background(runner).join() == EXIT_START_FAILED
    assert runner.failure is not None
    assert "ConfigError" in runner.failure and str(config) in runner.failure


def test_a_build_that_never_ends_is_a_failed_start(hung_agents: list[FakeAgent]) -> None:
    agent = FakeAgent()
    hung_agents.append(agent)

    def stuck() -> FakeAgent:
        agent.release.wait(10)
        return agent

    runner = ServiceRunner(stuck, Reports(), start_timeout_s=0.2, **FAST)
    started = time.monotonic()
    assert Background(runner).join() == EXIT_START_FAILED
    assert time.monotonic() - started < 2.0
    assert runner.failure == "the agent did not start within 0.2 s"


@pytest.mark.parametrize("raises", [None, RuntimeError("spool is locked")])
def test_an_agent_ending_by_itself_is_a_failure(raises: BaseException | None) -> None:
    agent, reports = FakeAgent(end_after=0.05), Reports()
    agent.raise_on_end = raises
    runner = ServiceRunner(lambda: agent, reports, **FAST)
    assert Background(runner).join() == EXIT_AGENT_ENDED
    assert runner.failure is not None and "stopped unexpectedly" in runner.failure
    if raises is not None:
        assert "RuntimeError: spool is locked" in runner.failure
    assert reports.count(State.RUNNING) == 1


# -- logging ---------------------------------------------------------------------------------


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A logger of the test's own, so the root logger is left alone."""
    own = logging.getLogger("dexpulse-test-winservice")
    own.propagate = False
    yield own
    for handler in list(own.handlers):
        own.removeHandler(handler)
        handler.close()
    own.setLevel(logging.NOTSET)


def test_logging_to_a_rotating_file_and_errors_to_the_event_log(
    tmp_path: Path, logger: logging.Logger
) -> None:
    events: list[str] = []
    handlers = winservice.configure_logging(tmp_path, events.append, root=logger)
    rotating = [h for h in handlers if isinstance(h, logging.handlers.RotatingFileHandler)]
    assert len(rotating) == 1 and len(handlers) == 2
    assert Path(rotating[0].baseFilename) == tmp_path / "logs" / "agent.log"
    assert (rotating[0].maxBytes, rotating[0].backupCount) == (1024 * 1024, 5)

    logger.info("enrolled as device d-1")
    logger.error("upload failed: 503")
    for handler in handlers:
        handler.flush()
    text = (tmp_path / "logs" / "agent.log").read_text(encoding="utf-8")
    assert "INFO" in text and "enrolled as device d-1" in text and "upload failed: 503" in text
    assert events == ["dexpulse-test-winservice: upload failed: 503"]


def test_logging_without_a_writable_folder_keeps_the_event_log(
    tmp_path: Path, logger: logging.Logger
) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    events: list[str] = []
    handlers = winservice.configure_logging(blocker, events.append, root=logger)
    assert [type(h) for h in handlers] == [winservice.EventLogHandler]
    logger.error("still heard")
    assert events == ["dexpulse-test-winservice: still heard"]


def test_a_failing_event_log_does_not_raise(logger: logging.Logger) -> None:
    def broken(message: str) -> None:
        raise OSError("the event log is full")

    handler = winservice.EventLogHandler(broken)
    logger.addHandler(handler)
    previous = logging.raiseExceptions
    logging.raiseExceptions = False  # as in production: a failing handler is skipped quietly
    try:
        logger.error("lost")
    finally:
        logging.raiseExceptions = previous


# -- importing and calling it away from Windows ----------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="checks the behaviour away from Windows")
def test_imports_and_refuses_away_from_windows(capsys: pytest.CaptureFixture[str]) -> None:
    assert winservice.SERVICE_NAME == "dexpulse"
    assert winservice.DISPLAY_NAME == "dexpulse agent"
    assert "win32serviceutil" not in sys.modules  # importing it pulled in no pywin32
    with pytest.raises(OSError, match="only on Windows"):
        winservice.service_class(None)
    assert winservice.main(None) == 2
    assert "only on Windows" in capsys.readouterr().err


# -- the pywin32 glue, against stand-ins behaving as pywin32's host does ---------------------

SERVICE_START_PENDING, SERVICE_RUNNING, SERVICE_STOP_PENDING = 2, 4, 3
ERROR_FAILED_SERVICE_CONTROLLER_CONNECT = 1063


class FakeScm:
    """What the stand-in ``servicemanager`` saw, and a dispatcher that runs the service."""

    def __init__(self, *, under_scm: bool, stop_after_running: bool = True) -> None:
        self.under_scm = under_scm
        self.stop_after_running = stop_after_running
        self.calls: list[str] = []
        self.statuses: list[tuple[int, int]] = []
        self.event_log: list[str] = []
        self.klass: Any = None
        self.stopped_with_error: BaseException | None = None

    def modules(self) -> dict[str, types.ModuleType]:
        scm = self

        class Error(Exception):
            def __init__(self, winerror: int, funcname: str, strerror: str) -> None:
                super().__init__(winerror, funcname, strerror)
                self.winerror = winerror

        class ServiceFramework:
            def __init__(self, args: Any) -> None:
                scm.calls.append(f"init {tuple(args)}")

            def ReportServiceStatus(  # noqa: N802 - pywin32's name
                self,
                status: int,
                waitHint: int = 5000,
                win32ExitCode: int = 0,
                svcExitCode: int = 0,
            ) -> None:
                scm.statuses.append((status, waitHint))

        def dispatch() -> None:
            scm.calls.append("StartServiceCtrlDispatcher")
            if not scm.under_scm:
                raise Error(ERROR_FAILED_SERVICE_CONTROLLER_CONNECT, "Start", "not a service")
            service = scm.klass(("dexpulse",))
            if scm.stop_after_running:
                threading.Thread(target=scm._stop_when_running, args=(service,)).start()
            try:
                service.SvcRun()
            except Exception as exc:  # PythonService.cpp: stop with an error code
                scm.stopped_with_error = exc

        def prepare(klass: Any) -> None:
            scm.calls.append("PrepareToHostSingle")
            scm.klass = klass

        def initialize(name: str | None = None, file: str | None = None) -> None:
            scm.calls.append(f"Initialize {name}")

        return {
            "servicemanager": _module(
                "servicemanager",
                Initialize=initialize,
                PrepareToHostSingle=prepare,
                StartServiceCtrlDispatcher=dispatch,
                LogErrorMsg=self.event_log.append,
            ),
            "win32service": _module(
                "win32service",
                SERVICE_START_PENDING=SERVICE_START_PENDING,
                SERVICE_RUNNING=SERVICE_RUNNING,
                SERVICE_STOP_PENDING=SERVICE_STOP_PENDING,
            ),
            "win32serviceutil": _module("win32serviceutil", ServiceFramework=ServiceFramework),
            "pywintypes": _module("pywintypes", error=Error),
            "winerror": _module(
                "winerror",
                ERROR_FAILED_SERVICE_CONTROLLER_CONNECT=ERROR_FAILED_SERVICE_CONTROLLER_CONNECT,
            ),
        }

    def _stop_when_running(self, service: Any) -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if any(status == SERVICE_RUNNING for status, _ in self.statuses):
                service.SvcStop()
                return
            time.sleep(0.01)


def _module(name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in attributes.items():
        setattr(module, key, value)
    return module


@pytest.fixture
def service_logger() -> Iterator[logging.Logger]:
    """The module's own logger, to which the Windows branch's handlers are added here instead
    of the root logger's; they are removed when the test ends."""
    before = list(winservice.log.handlers)
    yield winservice.log
    for handler in winservice.log.handlers[len(before) :]:
        winservice.log.removeHandler(handler)
        handler.close()
    winservice.log.setLevel(logging.NOTSET)


@pytest.fixture
def as_windows(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, service_logger: logging.Logger
) -> Callable[[FakeScm, Callable[[], Any]], None]:
    """Make ``winservice`` take its Windows branches against ``scm``, with the state
    directory in tmp_path, logging to the test's logger and the agent from ``factory``."""

    def install(scm: FakeScm, factory: Callable[[], Any]) -> None:
        for name, module in scm.modules().items():
            monkeypatch.setitem(sys.modules, name, module)
        monkeypatch.setattr(sys, "platform", "win32")
        monkeypatch.setattr("dexpulse.agent.config.service_state_dir", lambda: tmp_path)
        monkeypatch.setattr(winservice, "agent_factory", lambda config: factory)
        real = winservice.configure_logging

        def to_test_logger(state_dir: Path, sink: Callable[[str], None]) -> Any:
            return real(state_dir, sink, root=service_logger)

        monkeypatch.setattr(winservice, "configure_logging", to_test_logger)

    return install


def test_the_service_class_runs_and_stops_under_the_scm(
    as_windows: Callable[[FakeScm, Callable[[], Any]], None], tmp_path: Path
) -> None:
    scm, agent = FakeScm(under_scm=True), FakeAgent()
    as_windows(scm, lambda: agent)
    assert winservice.main(tmp_path / "agent.toml") == 0
    assert scm.calls == [
        "Initialize dexpulse",
        "PrepareToHostSingle",
        "StartServiceCtrlDispatcher",
        "init ('dexpulse',)",
    ]
    assert scm.klass._svc_name_ == "dexpulse"
    assert scm.klass._svc_display_name_ == "dexpulse agent"
    assert scm.stopped_with_error is None
    assert agent.closed.is_set()
    order = [status for status, _ in scm.statuses]
    assert order[0] == SERVICE_START_PENDING and SERVICE_RUNNING in order
    assert order[-1] == SERVICE_STOP_PENDING
    assert (tmp_path / "logs" / "agent.log").is_file()


def test_a_start_failure_under_the_scm_stops_with_an_error(
    as_windows: Callable[[FakeScm, Callable[[], Any]], None], tmp_path: Path
) -> None:
    scm = FakeScm(under_scm=True, stop_after_running=False)

    def broken() -> Any:
        raise ConfigError("agent.toml: cannot read: Expected '=' after a key")

    as_windows(scm, broken)
    assert winservice.main(None) == 0  # the process ends normally; the SCM got the error
    assert isinstance(scm.stopped_with_error, winservice.ServiceFailed)
    assert "Expected '=' after a key" in str(scm.stopped_with_error)
    assert SERVICE_RUNNING not in [status for status, _ in scm.statuses]
    assert any("could not start" in line for line in scm.event_log), scm.event_log


def test_main_from_a_console_says_how_to_start_the_service(
    as_windows: Callable[[FakeScm, Callable[[], Any]], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    scm = FakeScm(under_scm=False)
    as_windows(scm, FakeAgent)
    assert winservice.main(None) == 2
    err = capsys.readouterr().err
    assert "sc start dexpulse" in err and "dexpulse agent run" in err
    assert scm.klass is not None and "init ('dexpulse',)" not in scm.calls
