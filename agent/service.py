"""The agent service: samplers, spool, uploader and health report, wired and scheduled.

``AgentService`` owns the pieces; :meth:`run_forever` schedules them on one thread (one job
per enabled sampler at its interval, an upload round, a health report) until SIGTERM/SIGINT.
Every job is guarded: an exception is logged and the next run happens as scheduled.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache, partial
from importlib.metadata import version
from typing import Any

import psutil

from dexpulse.schema import AgentHealthSample, AgentInfo, SampleBase

from . import platform
from .checkin import CheckinClient, effective_config
from .config import AgentConfig
from .enroll import Credentials, EnrollError, enroll, load_credentials, save_credentials
from .localapi import LocalApi, TokenBook, tokens_dir
from .platform import Host
from .samplers import Context, Supervisor, load_all
from .scheduler import Scheduler
from .spool import Spool
from .state import StateStore
from .status import AgentStatus, SamplerStatus, iso, write_status
from .surveydesk import SurveyDesk, rules_of
from .transport import Transport, UrllibTransport
from .uploader import Uploader

log = logging.getLogger(__name__)

HEALTH_INTERVAL_S = 900.0
CHECKIN_INTERVAL_S = 300.0
TOKENS_INTERVAL_S = 60.0
"""How soon a user who logs in gets a token for the tray's local API."""
SWEEP_INTERVAL_S = 600.0


@cache
def agent_version() -> str:
    return version("dexpulse")


def make_transport(config: AgentConfig) -> Transport:
    """TLS verified (against the configured CA bundle if any); proxies from the environment."""
    return UrllibTransport(config.ca_bundle, f"dexpulse-agent/{agent_version()}")


class AgentService:
    def __init__(
        self,
        config: AgentConfig,
        *,
        host: Host | None = None,
        transport: Transport | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.base_config = config
        self.host = host or Host()
        self.clock = clock
        self.transport = transport or make_transport(config)
        self.states = StateStore(config.state_dir / "state")
        self.spool = Spool(
            config.state_dir / "spool.db",
            max_bytes=config.spool.max_bytes,
            max_age_s=config.spool.max_age_days * 86400,
        )
        try:
            self._credentials = load_credentials(config.state_dir)
        except EnrollError as exc:  # a damaged file must not stop the agent: enroll afresh
            log.error("%s", exc)
            self._credentials = None
        self._agent_info = AgentInfo(
            version=agent_version(), os=platform.OS_NAME, **platform.current.device_facts(self.host)
        )
        self._process = psutil.Process()
        self._process.cpu_percent(None)
        self.checkin = CheckinClient(
            self.transport, self.credentials, self.states, config.upload.timeout_s
        )
        pushed = self.checkin.cached()  # what IT pushed last time, until the next check-in
        self.config = effective_config(config, pushed)
        self.checkin_interval_s = (pushed and pushed.checkin_interval_s) or CHECKIN_INTERVAL_S
        self.ctx = Context(self.host, self.config, self.states, clock)
        self.supervisors = [
            Supervisor(cls(self.ctx), getattr(self.config.samplers, name), clock=clock)
            for name, cls in sorted(load_all().items())
        ]
        self._scheduler: Scheduler | None = None
        self.desk = SurveyDesk(
            self.states,
            self.spool,
            rules_of(config.surveys),
            clock=clock,
            status=self.tray_status,
        )
        self.uploader = Uploader(
            self.spool,
            self.transport,
            self.credentials,
            self.agent_info,
            dict(config.tags),
            self.config.upload,
            reenroll=self.enroll if config.enrollment_secret else None,
        )
        self.desk.set_offers(self.checkin.cached_surveys())
        if self.spool.recovered_from is not None:
            self.spool.put(
                [
                    AgentHealthSample(
                        ts=clock(),
                        component="spool",
                        status="degraded",
                        message=f"spool was unreadable; set aside as {self.spool.recovered_from}",
                    )
                ]
            )

    # -- identity --------------------------------------------------------------------------

    def credentials(self) -> Credentials | None:
        return self._credentials

    def agent_info(self) -> AgentInfo:
        return self._agent_info

    def enroll(self) -> Credentials | None:
        """Enroll with the configured URL and secret; None (logged) if that is not possible."""
        url, secret = self.config.collector_url, self.config.enrollment_secret
        if not url or secret is None:
            return None
        try:
            creds = enroll(
                self.transport,
                url,
                secret.get_secret_value(),
                host=self.host,
                agent_version=agent_version(),
                tags=dict(self.config.tags),
                timeout_s=self.config.upload.timeout_s,
            )
        except EnrollError as exc:
            log.error("enrollment failed: %s", exc)
            return None
        save_credentials(self.config.state_dir, creds)
        self._credentials = creds
        log.info("enrolled with %s as device %s", creds.collector_url, creds.device_id)
        return creds

    # -- the jobs --------------------------------------------------------------------------

    def sample(self, supervisor: Supervisor) -> list[SampleBase]:
        samples = supervisor.run()
        if samples:
            self.spool.put(samples)
        return samples

    def upload(self) -> int:
        try:
            if self._credentials is None and self.enroll() is None:
                return 0
            return self.uploader.run_once()
        finally:
            self.write_status()

    def write_status(self) -> None:
        up = self.uploader.state
        write_status(
            self.config.state_dir,
            AgentStatus(
                pid=os.getpid(),
                written_at=iso(self.clock()) or "",
                last_upload=iso(up.last_success),
                last_error=up.last_error,
                upload_failures=up.failures,
                sent_batches=up.sent_batches,
                sent_bytes=up.sent_bytes,
                rejected_batches=up.rejected_batches,
                needs_enrollment=up.needs_enrollment,
                samplers={
                    s.name: SamplerStatus(s.failures, s.disabled, s.last_error, iso(s.last_run))
                    for s in self.enabled()
                },
            ),
        )

    def tray_status(self) -> dict[str, Any]:
        """What the tray shows: is the agent reaching the collector, and is anything wrong."""
        up = self.uploader.state
        if self._credentials is None or up.needs_enrollment:
            connection = "not_enrolled"
        elif up.failures or (up.last_success is None and up.last_error):
            connection = "offline"
        else:
            connection = "connected"
        issues = [f"{s.name} data is not being collected" for s in self.supervisors if s.disabled]
        if self.spool.stats().dropped_samples:
            issues.append("some data was dropped while offline")
        return {
            "connection": connection,
            "issues": issues,
            "last_upload": iso(up.last_success),
            "agent_version": agent_version(),
        }

    def health(self) -> AgentHealthSample:
        stats = self.spool.stats()
        disabled = [s.name for s in self.supervisors if s.disabled]
        sample = AgentHealthSample(
            ts=self.clock(),
            component="agent",
            status="degraded" if disabled or self.uploader.state.failures else "ok",
            message=f"disabled samplers: {', '.join(disabled)}" if disabled else None,
            rss_mb=round(self._process.memory_info().rss / 1024 / 1024, 1),
            cpu_percent=min(100.0, round(self._process.cpu_percent(None), 2)),
            spool_bytes=stats.bytes,
            spool_dropped_samples=stats.dropped_samples,
            upload_failures=self.uploader.state.failures,
        )
        self.spool.put([sample])
        return sample

    def once(self) -> list[SampleBase]:
        """One pass of every enabled sampler, returned (not spooled): a diagnostic."""
        out: list[SampleBase] = []
        for supervisor in self.enabled():
            out += supervisor.run()
        return out

    def enabled(self) -> list[Supervisor]:
        return [s for s in self.supervisors if s.settings.enabled]

    def check_in(self) -> bool:
        """Fetch pushed settings and surveys and apply them; True if settings changed."""
        settings = self.checkin.fetch()
        self.desk.set_offers(self.checkin.cached_surveys())
        if settings is None:
            return False
        self.checkin_interval_s = settings.checkin_interval_s or CHECKIN_INTERVAL_S
        config = effective_config(self.base_config, settings)
        if config == self.config:
            return False
        self.apply(config)
        return True

    def apply(self, config: AgentConfig) -> None:
        """Run with ``config`` from now on: sampler switches and intervals, probes, privacy."""
        self.config = self.ctx.config = config
        for sup in self.supervisors:
            sup.settings = getattr(config.samplers, sup.name)
        self.uploader.config = config.upload
        log.info("applied settings pushed by the collector")
        if self._scheduler is not None:
            self._schedule(self._scheduler)

    # -- the service -----------------------------------------------------------------------

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Run until SIGTERM/SIGINT (or ``stop`` is set); the spool is closed cleanly."""
        stop = stop or threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
        scheduler = Scheduler()
        self._scheduler = scheduler
        self._schedule(scheduler, first=True)
        local_api = self._start_local_api(scheduler)
        log.info(
            "dexpulse agent %s running (pid %d), %d samplers",
            agent_version(),
            os.getpid(),
            len(self.enabled()),
        )
        try:
            scheduler.run_until(stop)
        finally:
            self._scheduler = None
            if local_api is not None:
                local_api.stop()
            self.spool.close()
            log.info("dexpulse agent stopped")

    def _start_local_api(self, scheduler: Scheduler) -> LocalApi | None:
        """The tray's loopback API, and tokens for the users logged in now and later."""
        if not self.config.surveys.enabled:
            return None
        tokens = TokenBook(tokens_dir(self.config.state_dir))
        try:
            tokens.issue_for_sessions()
            api = LocalApi(self.desk, tokens)
            api.start()
        except OSError as exc:  # surveys wait; the telemetry must go on
            log.error("local API for the tray not started: %s", exc)
            return None
        scheduler.every(
            "tray-tokens", tokens.issue_for_sessions, TOKENS_INTERVAL_S, TOKENS_INTERVAL_S
        )
        scheduler.every("surveys", self.desk.sweep, SWEEP_INTERVAL_S, SWEEP_INTERVAL_S)
        log.info("local API for the tray on 127.0.0.1:%d", api.port)
        return api

    def _schedule(self, scheduler: Scheduler, first: bool = False) -> None:
        """(Re)create the jobs for the current config; first runs are spread at random."""
        rng = random.Random()
        for sup in self.supervisors:
            job = f"sampler:{sup.name}"
            if not sup.settings.enabled:
                scheduler.remove(job)
                continue
            every = sup.settings.interval_s
            first_in = rng.uniform(1, min(15.0, every)) if first else rng.uniform(0, every)
            scheduler.every(job, partial(self.sample, sup), every, first_in)
        scheduler.every("upload", self.upload, self.config.upload.interval_s, 5 if first else 1)
        scheduler.every(
            "checkin",
            self.check_in,
            self.checkin_interval_s,
            2 if first else self.checkin_interval_s,
        )
        scheduler.every(
            "health", self.health, HEALTH_INTERVAL_S, 30 if first else HEALTH_INTERVAL_S
        )
