"""Event samples: a crash, a hang or a peripheral failure on one device, as its agent reports it.

Why their own module: the shapes differ per OS exactly as the agent's sources do. A Windows
crash comes from Application Error 1000 (faulting module and exception code), a macOS crash
from a ``.ips`` report (exception type and signal); a Windows device failure is a Plug and Play
problem code (``problem code 43``, with the CM_PROB name in the message) while macOS reports a
USB device that would not enumerate or a Bluetooth connection that failed. An app's crashes
share one signature (module, code), so a bad version's spike looks like one bug, not noise.
Each function returns the event's time (epoch ms) for the truth's onsets.
"""

from __future__ import annotations

from . import render
from .behaviour import DeviceSim


def crash(sim: DeviceSim, base: int, which: int) -> int:
    app = sim.d.apps[which]
    ms = sim.event_ms(base)
    pid = sim.rng.randrange(1000, 60000)
    if sim.os == "windows":
        text = render.CRASH["windows"] % (
            sim.stamp(ms),
            app.name,
            app.version,
            sim.app_paths[which],
            app.module,
            app.version,
            app.exception_code,
            pid,
            sim.new_uuid(),
        )
    else:
        signal = render.SIGNALS.get(app.exception_code, "SIGABRT")
        text = render.CRASH["macos"] % (
            sim.stamp(ms),
            app.name,
            app.version,
            sim.app_paths[which],
            app.module,
            app.exception_code,
            signal,
            pid,
            sim.new_uuid().upper(),
        )
    sim.waiting.append(text)
    return ms


def hang(sim: DeviceSim, base: int, which: int) -> int:
    app = sim.d.apps[which]
    ms = sim.event_ms(base)
    pid = sim.rng.randrange(1000, 60000)
    if sim.os == "windows":
        text = render.HANG["windows"] % (
            sim.stamp(ms),
            app.name,
            app.version,
            sim.app_paths[which],
            pid,
            sim.new_uuid(),
        )
    else:
        seconds = 5.0 + 40.0 * sim.rng.random() ** 2
        text = render.HANG["macos"] % (
            sim.stamp(ms),
            app.name,
            app.version,
            sim.app_paths[which],
            pid,
            seconds,
            sim.new_uuid().upper(),
        )
    sim.waiting.append(text)
    return ms


def fault(sim: DeviceSim, base: int, which: int) -> int:
    attached = sim.d.peripherals[which]
    info = attached.info
    instance, name = sim.periph_text[which]
    ms = sim.event_ms(base)
    driver = f',"driver":"{info.driver}"' if info.driver else ""
    if attached.driver_version:
        driver += f',"driver_version":"{attached.driver_version}"'
    if sim.os == "windows":
        code = 43 if sim.rng.random() < 0.7 else 10
        message = f"CM_PROB_{render.CM_PROB[code]} (problem code {code}): {info.name}"
        text = render.PERIPHERAL_PROBLEM % (
            sim.stamp(ms),
            info.device_class,
            instance,
            info.vendor_id,
            info.product_id,
            name,
            driver,
            code,
            render.js(message),
        )
    else:
        if info.device_class == "bluetooth":
            error, message = "connection_failed", f"Bluetooth: connection to {info.name} failed"
        else:
            error, message = "enumeration_failed", f"USB device {info.name} did not enumerate"
        text = render.PERIPHERAL_MAC % (
            sim.stamp(ms),
            info.device_class,
            info.vendor_id,
            info.product_id,
            name,
            driver,
            error,
            render.js(message),
        )
    sim.waiting.append(text)
    return ms
