"""Windows ``netsh wlan show interfaces``: the current Wi-Fi link of every wireless interface.

netsh is the fallback when the Native Wifi API cannot be called. Its text is translated into
the display language, labels differ between builds (``BSSID`` vs ``AP BSSID``, ``Band`` only on
newer Windows 11, ``Rssi`` only from 24H2) and decimals follow the locale (``2,4 GHz``). Real
German output (Windows 11, anonymised by its authors)::

    Es ist 1 Schnittstelle auf dem System vorhanden:

       Name                   : WLAN
       GUID                   : xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
       Physische Adresse       : fe:dc:ba:09:87:01
       Status                  : Verbunden
       SSID                   : SSID-1
       AP BSSID               : fe:dc:ba:09:87:02
       Bereich                   : 5 GHz
       Kanal                : 116
       Funktyp                   : 802.11ac
       Authentifizierung   : WPA2-Enterprise
       Empfangsrate (MBit/s)  : 300
       Übertragungsrate (MBit/s) : 300
       Signal              : 43%

Format ``windows-netsh-wlan`` -> one WifiSample per interface block. Labels are read in
English, German, Dutch, French, Spanish and Italian. For any other language the parser falls
back on the shape of the values: a GUID starts an interface (named by the value two lines
above it, netsh's ``Name``/``Description``/``GUID`` order); ``NN%`` is the signal; ``802.11..``
the radio type; ``N GHz`` the band; a number under a label with a rate unit (``(Mbps)``,
``Mbit/s``) a rate (receive first, as netsh prints it); a small integer under a channel-like
label the channel; a value starting ``WPA``/``WEP``/``OWE`` the authentication; and a MAC
address the BSSID, except the one right after the GUID (the interface's physical address).

``signal_percent`` is netsh's ``Signal``. ``rssi_dbm`` is the ``Rssi`` line where Windows
prints one; otherwise it is **derived** from the percentage with the Native Wifi API's linear
mapping (0 % = -100 dBm, 100 % = -50 dBm, ``wifi_common.percent_to_dbm``), so it is an estimate
clamped to -100..-50. ``band_ghz`` comes from ``Band`` or, when absent, is guessed from the
channel (a 6 GHz channel without a ``Band`` line is misread as 2.4/5 GHz); ``frequency_mhz`` is
filled only where ``Band`` was printed. ``security`` is the ``Authentication`` value, with the
translated words for an open network (``Offen``, ``Ouvrir``, ``Abierta``...) written ``Open``.
``connected`` comes from ``State``; where the state word is not known, from whether a BSSID or
signal is shown. Lines of Wi-Fi 7 ``Colocated APs`` are skipped.

Windows 11 24H2 without location permission prints no SSID/BSSID, or instead of the blocks
an explanation (``... need location permission ...``, ``ms-settings:privacy-location``,
``WlanQueryInterface returns error 5``): ssid and bssid are then None, and the explanation
alone gives one sample with nothing but ``ts``. ``There is no wireless interface on the
system.`` and a stopped ``wlansvc`` (English texts; other languages raise ParseError) give an
empty list. The text has no time: ts is ``ctx.now``.

``netsh wlan show networks mode=bssid`` (a scan list) is not parsed: it does not say which
network is the connected one, so it cannot give the link sample.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from dexpulse.schema import SampleBase, WifiSample

from . import ParseContext, ParseError, register
from .wifi_common import (
    clean_text,
    frequency_from_channel,
    guess_band_from_channel,
    in_range,
    normalize_mac,
    parse_rate_mbps,
    percent_to_dbm,
)

_LABELS: dict[str, tuple[str, ...]] = {
    "name": ("name", "nom", "nombre", "nome", "naam"),
    "state": ("state", "status", "état", "estado", "stato"),
    "ssid": ("ssid",),
    "bssid": (
        "bssid",
        "ap bssid",
        "point d'accès d'identificateur ssid (service set identifier)",
    ),
    "band": ("band", "bereich", "bande", "banda"),
    "channel": ("channel", "kanal", "canal", "canale", "kanaal"),
    "radio": (
        "radio type",
        "funktyp",
        "type de radio",
        "tipo de radio",
        "tipo frequenza radio",
        "radiotype",
    ),
    "auth": (
        "authentication",
        "authentifizierung",
        "authentification",
        "autenticación",
        "autenticazione",
        "verificatie",
    ),
    "signal": ("signal", "señal", "segnale", "signaal"),
    "rssi": ("rssi",),
    "guid": ("guid",),
    "mac": (
        "physical address",
        "physische adresse",
        "adresse physique",
        "dirección física",
        "dirección",
        "indirizzo fisico",
        "fysiek adres",
    ),
    "other": tuple(
        "description|beschreibung|descripción|descrizione|beschrijving|interface type"
        "|benutzeroberflächentyp|type d'interface|tipo de interfaz|network type|netzwerktyp"
        "|type de réseau|tipo de red|tipo di rete|netwerktype|cipher|verschlüsselungsverfahren"
        "|chiffrement|cifrado|crittografia|codering|connection mode|verbindungsmodus"
        "|mode de connexion|modo de conexión|modalità connessione|profile|profil|perfil|profilo"
        "|profiel|radio status|connected akm-cipher|colocated aps".split("|")
    ),
}
_LABEL_KEY = {label: key for key, labels in _LABELS.items() for label in labels}
_RX_WORDS = ("receive", "empfang", "récep", "recep", "ricez", "ontvang", "прием", "приём")
_TX_WORDS = ("transmi", "übertrag", "trasmis", "verzend", "send")
_RATE_LABEL = re.compile(r"mbps|mbit|mb/s|мбит", re.IGNORECASE)
_CHANNEL_LABEL = re.compile(r"chan|kan|can|канал|通道|信道|チャネル|채널", re.IGNORECASE)

_CONNECTED_WORDS = frozenset(
    "connected|verbunden|verbonden|connecté|conectado|connessa|connesso"
    "|ad hoc network formed".split("|")
)
_DISCONNECTED_WORDS = frozenset(
    "disconnected|getrennt|nicht verbunden|verbinding verbroken|niet verbonden|déconnecté"
    "|desconectado|disconnessa|disconnesso|associating|authenticating|discovering|disconnecting"
    "|not ready".split("|")
)
_OPEN_WORDS = {"open", "offen", "ouvrir", "ouvert", "abierta", "abierto", "aperta", "aperto"}

_GUID = re.compile(r"^[0-9a-fx]{8}-[0-9a-fx]{4}-[0-9a-fx]{4}-[0-9a-fx]{4}-[0-9a-fx]{12}$", re.I)
_PERCENT = re.compile(r"^(\d{1,3})\s*%$")
_RADIO_VALUE = re.compile(r"^802\.11\S*$")
_BAND_VALUE = re.compile(r"^(\d+(?:[.,]\d+)?)\s*GHz$", re.IGNORECASE)
_INT_VALUE = re.compile(r"^-?\d+$")
_COLOCATED = re.compile(r"^[0-9a-fA-F:-]{17},")
_PROMPT = re.compile(r"^(?:[#$]|PS [A-Za-z]:\\.*>)")
_SCAN = re.compile(r"^SSID \d+\s*:", re.MULTILINE)
_GATED = re.compile(
    r"location permission|ms-settings:privacy-location|WlanQueryInterface returns error 5",
    re.IGNORECASE,
)
_NO_INTERFACE = re.compile(r"There is no wireless interface|\(wlansvc\) is not running", re.I)


@dataclass(frozen=True)
class _Entry:
    label: str  # normalised: NFC, lower-case, single spaces, straight apostrophes
    value: str
    key: str | None  # the _LABELS key of a known label


def _entries(text: str) -> list[_Entry]:
    entries: list[_Entry] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or _PROMPT.match(line) or ":" not in line:
            continue
        label, value = (part.strip() for part in line.split(":", 1))
        if _COLOCATED.match(value):
            continue  # Wi-Fi 7 "BSSID: ..,  Band: ..,  Channel: .." of a colocated AP
        norm = unicodedata.normalize("NFC", label).replace("\u2019", "'").lower()
        norm = " ".join(norm.split())
        entries.append(_Entry(norm, value, _LABEL_KEY.get(norm)))
    return entries


def _blocks(entries: list[_Entry]) -> list[list[_Entry]]:
    """Split into interface blocks: at each GUID (back to its ``Name``), else at ``Name``."""
    guids = [i for i, e in enumerate(entries) if _GUID.match(e.value)]
    starts: list[int] = []
    if guids:
        previous = -1
        for g in guids:
            names = [i for i in range(previous + 1, g) if entries[i].key == "name"]
            starts.append(names[-1] if names else max(previous + 1, g - 2))
            previous = g
    else:
        names = [i for i, e in enumerate(entries) if e.key == "name"]
        known = {"state", "mac", "bssid", "signal", "radio"}
        if any(e.key in known for e in entries):
            starts = names
    if not starts and any(_PERCENT.match(e.value) or _RADIO_VALUE.match(e.value) for e in entries):
        return [[_Entry("", "", None), *entries]]  # a trimmed block: unnamed interface
    ends = [*starts[1:], len(entries)]
    return [entries[start:end] for start, end in zip(starts, ends[: len(starts)], strict=True)]


def _first(block: list[_Entry], key: str) -> str | None:
    return next((e.value for e in block if e.key == key), None)


def _shapes(block: list[_Entry]) -> dict[str, str]:
    """Values of fields whose label is not known, recognised by their shape."""
    found: dict[str, str] = {}
    rates: list[tuple[str, str]] = []
    guid_at = next(
        (i for i, e in enumerate(block) if e.key == "guid" or _GUID.match(e.value)), None
    )
    macs: list[str] = []
    for i, e in enumerate(block):
        if e.key is not None or not e.value:
            continue
        if normalize_mac(e.value):
            if guid_at is None or i != guid_at + 1:
                macs.append(e.value)
        elif _PERCENT.match(e.value):
            found.setdefault("signal", e.value)
        elif _RADIO_VALUE.match(e.value):
            found.setdefault("radio", e.value)
        elif _BAND_VALUE.match(e.value):
            found.setdefault("band", e.value)
        elif _RATE_LABEL.search(e.label) and parse_rate_mbps(e.value) is not None:
            rates.append((e.label, e.value))
        elif _RATE_LABEL.search(e.value) and parse_rate_mbps(e.value) is not None:
            rates.append((e.label, e.value))
        elif _INT_VALUE.match(e.value) and _CHANNEL_LABEL.search(e.label):
            found.setdefault("channel", e.value)
        elif re.match(r"^(?:WPA|WEP|OWE)", e.value):
            found.setdefault("auth", e.value)
        elif "ssid" in e.label and "bssid" not in e.label:
            found.setdefault("ssid", e.value)
        elif e.value.lower() in _CONNECTED_WORDS | _DISCONNECTED_WORDS:
            found.setdefault("state", e.value)
    if guid_at is None and len(macs) >= 2:
        macs = macs[1:]  # no GUID to place it: netsh prints the physical address first
    elif guid_at is None and not any(_PERCENT.match(e.value) for e in block):
        macs = []  # a lone MAC without signal may be the physical address of an idle interface
    if macs:
        found["bssid"] = macs[0]
    for label, value in rates:
        if any(word in label for word in _RX_WORDS):
            found.setdefault("rx", value)
        elif any(word in label for word in _TX_WORDS):
            found.setdefault("tx", value)
        else:
            found.setdefault("rx" if "rx" not in found else "tx", value)
    return found


def _number(value: str | None, pattern: re.Pattern[str]) -> float | None:
    m = pattern.match(value.strip()) if value else None
    return float(m.group(1).replace(",", ".")) if m else None


def _security(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return "Open" if value.lower() in _OPEN_WORDS else clean_text(value)


def _sample(block: list[_Entry], ctx: ParseContext) -> WifiSample:
    shaped = _shapes(block)

    def get(key: str) -> str | None:
        value = _first(block, key)
        return value if value is not None else shaped.get(key)

    ssid_text, bssid_text = get("ssid"), get("bssid")
    bssid = normalize_mac(bssid_text or "")
    percent = in_range(_number(get("signal"), _PERCENT), 0, 100)
    rssi_text = get("rssi")
    rssi = (
        in_range(float(rssi_text), -150, 30) if rssi_text and _INT_VALUE.match(rssi_text) else None
    )
    if rssi is None and percent is not None:
        rssi = percent_to_dbm(percent)
    channel_text = get("channel")
    channel = int(channel_text) if channel_text and _INT_VALUE.match(channel_text) else None
    channel = channel if channel is not None and 1 <= channel <= 233 else None
    band = _number(get("band"), _BAND_VALUE)
    frequency = frequency_from_channel(channel, band) if channel and band else None
    if band is None and channel is not None:
        band = guess_band_from_channel(channel)
    state = (get("state") or "").strip().lower()
    connected: bool | None
    if state in _CONNECTED_WORDS:
        connected = True
    elif state in _DISCONNECTED_WORDS:
        connected = False
    else:
        connected = True if bssid is not None or percent is not None else None
    radio = get("radio")
    return WifiSample(
        ts=ctx.now,
        interface=clean_text(block[0].value) if block[0].key in ("name", None) else None,
        connected=connected,
        ssid=clean_text(ssid_text or ""),
        bssid=bssid,
        rssi_dbm=rssi,
        signal_percent=percent,
        channel=channel,
        band_ghz=band,
        frequency_mhz=frequency,
        rx_rate_mbps=in_range(parse_rate_mbps(shaped.get("rx", "")), 0, 1e6),
        tx_rate_mbps=in_range(parse_rate_mbps(shaped.get("tx", "")), 0, 1e6),
        radio_type=clean_text(radio) if radio and _RADIO_VALUE.match(radio) else None,
        security=_security(get("auth")),
    )


@register(
    "windows-netsh-wlan",
    description="Windows `netsh wlan show interfaces` (any display language): the current "
    "Wi-Fi link of each wireless interface",
    carries_time=False,
    example="netsh wlan show interfaces",
)
def parse_netsh_wlan(text: str, ctx: ParseContext) -> list[SampleBase]:
    if _SCAN.search(text):
        raise ParseError(
            "this is a scan list (`netsh wlan show networks mode=bssid`), not the current link: "
            "send the output of `netsh wlan show interfaces`"
        )
    blocks = _blocks(_entries(text))
    if blocks:
        return [_sample(block, ctx) for block in blocks]
    if _GATED.search(text):
        # Windows 11 24H2+ without location permission: Wi-Fi is there, its identity withheld.
        return [WifiSample(ts=ctx.now)]
    if _NO_INTERFACE.search(text):
        return []
    raise ParseError(
        "no interface block (Name/GUID/State/Signal lines): is this the output of "
        "`netsh wlan show interfaces`?"
    )
