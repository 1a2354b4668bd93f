"""Each injected outage shows its signal in its cohort, during its window, and not elsewhere."""

from __future__ import annotations

from collections import Counter, defaultdict
from statistics import median
from typing import Any

from simrun import Run, ms

from dexpulse.collector.simulator.schedule import HOME


def window(run: Run, kind: str, index: int = 0) -> tuple[dict[str, Any], int, int]:
    outages = [o for o in run.truth["outages"] if o["type"] == kind]
    o = outages[index]
    return o, ms(o["start"]), ms(o["end"])


def inside(sample: dict[str, Any], start: int, end: int) -> bool:
    return start <= ms(sample["ts"]) < end


def place(run: Run, device_id: str, at_ms: int) -> int | None:
    """Where the device was at that time by its plan: a position, HOME, or None (asleep)."""
    sim = run.sim.sims[run.index_of(device_id)]
    minute = at_ms // 60_000
    for seg in sim.segments:
        if seg.start <= minute < seg.end:
            return seg.where
    return None


def test_an_access_point_failure_disconnects_its_clients_only(scenario_run: Run) -> None:
    o, start, end = window(scenario_run, "ap_failure")
    ap = scenario_run.sim.fleet.by_bssid[o["cohort"]["bssid"]]
    down = {
        b["device_id"]
        for b, s in scenario_run.samples("wifi")
        if s["connected"] is False and inside(s, start, end)
    }
    assert down and down <= set(o["affected_devices"])
    for device_id in down:
        d = scenario_run.sim.fleet.devices[scenario_run.index_of(device_id)]
        assert (d.site, d.ssid) == (ap.site, ap.ssid)
    # Before and after the window nobody is disconnected.
    assert not [
        s
        for _, s in scenario_run.samples("wifi")
        if s["connected"] is False and not inside(s, start, end)
    ]
    # Their last poll before going down was on that BSSID: the disconnect event names it.
    first: dict[str, dict[str, Any]] = {}
    for b, s in scenario_run.samples("wifi_event"):
        if s["event"] == "disconnected" and inside(s, start, end) and b["device_id"] in down:
            if b["device_id"] not in first or s["ts"] < first[b["device_id"]]["ts"]:
                first[b["device_id"]] = s
    assert ap.bssid in {s["bssid"] for s in first.values()}
    # Each names the access point of that device's previous poll (as the agent's poll diff does).
    last_seen: dict[str, tuple[str, str]] = {}
    for b, s in sorted(scenario_run.samples("wifi"), key=lambda bs: bs[1]["ts"]):
        if b["device_id"] in first and s["ts"] < first[b["device_id"]]["ts"] and s["connected"]:
            last_seen[b["device_id"]] = (s["ts"], s["bssid"])
    for device_id, event in first.items():
        assert last_seen[device_id][1] == event["bssid"]
    # Probes fail to resolve while down.
    failed = [
        s
        for b, s in scenario_run.samples("network_probe")
        if b["device_id"] in down and inside(s, start, end) and s["status"] == "dns_error"
    ]
    assert len(failed) >= 4 * len(down)


def test_an_access_point_failure_makes_late_batches(scenario_run: Run) -> None:
    o, start, end = window(scenario_run, "ap_failure")
    affected = set(o["affected_devices"])
    delays = [
        ms(b["sent_at"]) - ms(s["ts"])
        for b, s in scenario_run.samples("wifi")
        if b["device_id"] in affected and s["connected"] is False
    ]
    assert delays and min(delays) > 60_000  # nothing recorded offline arrived before reconnecting
    assert max(delays) >= 10 * 60_000
    # A batch holding offline samples left only once its device was connected again.
    connected: dict[str, list[int]] = defaultdict(list)
    for b, s in scenario_run.samples("wifi"):
        if b["device_id"] in affected and s["connected"]:
            connected[b["device_id"]].append(ms(s["ts"]))
    held = 0
    for b in scenario_run.batches:
        offline = [
            ms(s["ts"]) for s in b["samples"] if s["kind"] == "wifi" and s["connected"] is False
        ]
        if b["device_id"] in affected and offline:
            held += 1
            back = [t for t in connected[b["device_id"]] if max(offline) < t <= ms(b["sent_at"])]
            assert back, b["batch_id"]
    assert held >= len(affected)


def site_of(run: Run, batch: dict[str, Any]) -> str:
    return str(batch["tags"]["site"])


def at_site(run: Run, batch: dict[str, Any], sample: dict[str, Any], site: str) -> bool:
    where = place(run, batch["device_id"], ms(sample["ts"]))
    return site_of(run, batch) == site and where is not None and where != HOME


def test_a_wan_degradation_slows_and_fails_probes_at_its_site_only(scenario_run: Run) -> None:
    o, start, end = window(scenario_run, "site_wan_degradation", 0)
    site = o["cohort"]["site"]
    inside_ms, outside_ms, before_ms = [], [], []
    failures = Counter[bool]()
    for b, s in scenario_run.samples("network_probe"):
        if s["target"] != "collector":
            continue
        here = at_site(scenario_run, b, s, site)
        t = ms(s["ts"])
        if start <= t < end:
            if s["status"] != "ok":
                failures[here] += 1
            elif here:
                inside_ms.append(s["connect_ms"])
            else:
                outside_ms.append(s["connect_ms"])
        elif start - 30 * 60_000 <= t < start and here and s["status"] == "ok":
            before_ms.append(s["connect_ms"])
    assert median(inside_ms) > 3 * median(before_ms)
    assert failures[True] > 20 * max(1, failures[False])
    assert median(outside_ms) < 2 * median(before_ms) + 20


def test_a_wan_cut_silences_the_site_until_it_returns(scenario_run: Run) -> None:
    o, start, end = window(scenario_run, "site_wan_degradation", 1)
    assert o["options"] == {"cut": "true"}
    site = o["cohort"]["site"]
    statuses = Counter(
        s["status"]
        for b, s in scenario_run.samples("network_probe")
        if inside(s, start, end) and at_site(scenario_run, b, s, site)
    )
    assert set(statuses) == {"timeout"}
    affected = set(o["affected_devices"])
    # Nothing the affected devices recorded during the cut arrived during the cut.
    late = [
        ms(b["sent_at"]) - ms(s["ts"])
        for b, s in scenario_run.samples("system")
        if b["device_id"] in affected
        and inside(s, start + 60_000, end - 60_000)
        and at_site(scenario_run, b, s, site)
    ]
    assert late and min(late) > 60_000
    arrived_during = [
        b
        for b in scenario_run.batches
        if b["device_id"] in affected
        and start + 60_000 <= ms(b["sent_at"]) < end
        and site_of(scenario_run, b) == site
        and place(scenario_run, b["device_id"], ms(b["sent_at"])) not in (HOME, None)
    ]
    assert not arrived_during


def test_a_dns_failure_fails_resolution_at_its_site_but_not_the_collector(
    scenario_run: Run,
) -> None:
    o, start, end = window(scenario_run, "site_dns_failure")
    site = o["cohort"]["site"]
    by = Counter[tuple[bool, str]]()
    for b, s in scenario_run.samples("network_probe"):
        if inside(s, start, end) and s["status"] == "dns_error":
            by[(at_site(scenario_run, b, s, site), s["target"])] += 1
    assert by[(True, "resolver")] > 5 * len(o["affected_devices"])
    assert by[(True, "login.example.com")] > 5 * len(o["affected_devices"])
    assert by[(True, "collector")] == 0
    assert sum(n for (here, _), n in by.items() if not here) == 0


def test_a_saas_outage_fails_its_target_from_every_site(scenario_run: Run) -> None:
    o, start, end = window(scenario_run, "saas_outage")
    failed_sites: Counter[str] = Counter()
    other_targets = 0
    for b, s in scenario_run.samples("network_probe"):
        if not inside(s, start, end) or s["status"] == "ok":
            continue
        if s["target"] == o["cohort"]["probe_target"] and s["status"] == "http_error":
            assert s["http_status"] == 503
            failed_sites[site_of(scenario_run, b)] += 1
        else:
            other_targets += 1
    assert set(failed_sites) == {s["name"] for s in scenario_run.truth["sites"]}
    assert sum(failed_sites.values()) > 50 * max(1, other_targets)
    # About the intensity's share of the devices see it, each in most of its minutes.
    share = len(o["affected_devices"]) / o["exposed_devices"]
    assert abs(share - o["intensity"]) < 0.12


def crash_counts(run: Run, kind: str, start: int, end: int) -> Counter[tuple[str, str]]:
    return Counter(
        (s["app_name"], s["app_version"]) for _, s in run.samples(kind) if inside(s, start, end)
    )


def test_a_bad_app_version_crashes_only_on_devices_running_it(scenario_run: Run) -> None:
    o, start, end = window(scenario_run, "bad_app_version")
    target = (o["cohort"]["app_name"], o["cohort"]["app_version"])
    counts = crash_counts(scenario_run, "app_crash", start, end)
    others = sum(n for key, n in counts.items() if key != target)
    assert counts[target] >= 5 * len(o["affected_devices"]) and counts[target] > 10 * max(1, others)
    before = crash_counts(scenario_run, "app_crash", start - (end - start), start)
    assert before[target] <= 2
    # Who crashed with it: only devices that run that version.
    crashed = {
        b["device_id"]
        for b, s in scenario_run.samples("app_crash")
        if (s["app_name"], s["app_version"]) == target and inside(s, start, end)
    }
    for device_id in crashed:
        apps = scenario_run.sim.fleet.devices[scenario_run.index_of(device_id)].apps
        assert any((a.name, a.version) == target for a in apps)
    assert set(o["affected_devices"]) <= crashed


def test_a_bad_driver_fails_one_peripheral_model_on_one_driver_version(scenario_run: Run) -> None:
    o, start, end = window(scenario_run, "bad_driver")
    c = o["cohort"]
    failures = Counter(
        (s.get("name"), s.get("driver"), s.get("driver_version"))
        for _, s in scenario_run.samples("peripheral_failure")
        if inside(s, start, end)
    )
    target = (c["peripheral_model"], c["driver"], c["driver_version"])
    same_driver_other_model = sum(
        n
        for (name, drv, ver), n in failures.items()
        if (drv, ver) == target[1:] and name != target[0]
    )
    assert failures[target] >= 5 * len(o["affected_devices"])
    assert failures[target] > 10 * max(1, same_driver_other_model)
    assert sum(failures.values()) - failures[target] <= 3


def test_an_os_build_regression_pegs_the_cpu_on_that_build(scenario_run: Run) -> None:
    o, start, end = window(scenario_run, "os_build_regression")
    busy: dict[bool, list[bool]] = defaultdict(list)
    for b, s in scenario_run.samples("system"):
        if inside(s, start, end):
            busy[b["agent"]["os_build"] == o["cohort"]["os_build"]].append(s["cpu_percent"] >= 85)
    on_build = sum(busy[True]) / len(busy[True])
    elsewhere = sum(busy[False]) / len(busy[False])
    assert on_build > 0.6 and elsewhere < 0.05
    hogs = {
        tuple(s["top_processes"])[0]
        for b, s in scenario_run.samples("system")
        if inside(s, start, end) and b["device_id"] in set(o["affected_devices"])
    }
    assert len(hogs) == 1


def test_a_wifi_degradation_worsens_gradually_where_it_is(scenario_run: Run) -> None:
    o, start, end = window(scenario_run, "wifi_degradation")
    site = o["cohort"]["site"]
    half = (start + end) // 2
    rssi: dict[str, list[float]] = defaultdict(list)
    for b, s in scenario_run.samples("wifi"):
        t = ms(s["ts"])
        if "rssi_dbm" not in s or not at_site(scenario_run, b, s, site):
            continue
        if start - 30 * 60_000 <= t < start:
            rssi["before"].append(s["rssi_dbm"])
        elif start <= t < start + 5 * 60_000:
            rssi["early"].append(s["rssi_dbm"])
        elif half + 5 * 60_000 <= t < end:
            rssi["late"].append(s["rssi_dbm"])
    assert median(rssi["before"]) - median(rssi["late"]) > 12
    assert median(rssi["before"]) - median(rssi["early"]) < 8  # gradual, not a step
    drops = Counter(
        at_site(scenario_run, b, s, site)
        for b, s in scenario_run.samples("wifi_event")
        if s["event"] == "disconnected" and half <= ms(s["ts"]) < end
    )
    assert drops[True] > 5 * max(1, drops[False])


def test_exposed_and_affected_are_consistent(scenario_run: Run) -> None:
    for o in scenario_run.truth["outages"]:
        affected = o["affected_devices"]
        assert 0 < len(affected) <= o["exposed_devices"], o["id"]
        assert len(set(affected)) == len(affected)
        assert o["first_affected_at"] >= o["start"]


def test_tickets_come_after_their_users_onset_from_affected_users_only(
    scenario_run: Run,
) -> None:
    truth = scenario_run.truth
    assert truth["tickets"]
    outages = {o["id"]: o for o in truth["outages"]}
    onsets = {
        (sc.id, scenario_run.sim.fleet.devices[i].device_id): at
        for sc in scenario_run.sim.scenarios
        for i, at in sc.onsets.items()
    }
    for ticket in truth["tickets"]:
        o = outages[ticket["outage_id"]]
        assert ticket["device_id"] in o["affected_devices"]
        onset = onsets[(o["id"], ticket["device_id"])]
        assert ms(ticket["at"]) >= onset + 60_000 and ticket["at"] > o["start"]
        assert place(scenario_run, ticket["device_id"], ms(ticket["at"])) is not None
    for o in truth["outages"]:
        mine = sorted(t["at"] for t in truth["tickets"] if t["outage_id"] == o["id"])
        assert o["first_ticket_at"] == (mine[0] if mine else None)
        assert o["tickets"] == len(mine)
