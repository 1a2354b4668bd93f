"""netsh wlan show interfaces (any display language) -> WifiSample."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dexpulse.agent.parsers import FORMATS, ParseContext, ParseError
from dexpulse.agent.parsers.netsh import parse_netsh_wlan
from dexpulse.schema import WifiSample

FIXTURES = Path(__file__).parents[2] / "fixtures" / "wifi" / "windows"
CTX = ParseContext(now=datetime(2026, 11, 27, 9, 0, tzinfo=UTC))


def fixture(case: str) -> str:
    return (FIXTURES / case / f"windows_{case}.txt").read_text(encoding="utf-8")


def wifi(text: str) -> list[WifiSample]:
    samples = parse_netsh_wlan(text, CTX)
    assert all(isinstance(s, WifiSample) for s in samples)
    return samples  # type: ignore[return-value]


def test_format_registered() -> None:
    fmt = FORMATS["windows-netsh-wlan"]
    assert fmt.carries_time is False
    assert fmt.example == "netsh wlan show interfaces"
    assert "windows-netsh-networks" not in FORMATS


def test_english_fixture() -> None:
    (s,) = wifi(fixture("netsh_wlan_interfaces_en_1"))
    assert s.ts == CTX.now
    assert (s.interface, s.connected, s.ssid) == ("Wi-Fi", True, "SSID-1")
    assert s.bssid == "fe:dc:ba:09:87:02"  # not the physical address ...:01
    assert (s.channel, s.band_ghz, s.frequency_mhz) == (44, 5.0, None)  # band guessed
    assert (s.signal_percent, s.rssi_dbm) == (42.0, -79.0)  # derived: 42 / 2 - 100
    assert (s.rx_rate_mbps, s.tx_rate_mbps) == (103.0, 103.0)
    assert (s.radio_type, s.security, s.noise_dbm) == ("802.11ax", "WPA2-Personal", None)


def test_german_fixture() -> None:
    (s,) = wifi(fixture("netsh_wlan_interfaces_de_2"))
    assert (s.interface, s.connected, s.ssid) == ("WLAN", True, "SSID-1")
    assert s.bssid == "fe:dc:ba:09:87:02"
    assert (s.channel, s.band_ghz, s.frequency_mhz) == (116, 5.0, 5580.0)
    assert (s.signal_percent, s.rssi_dbm) == (43.0, -78.5)
    assert (s.rx_rate_mbps, s.tx_rate_mbps) == (300.0, 300.0)
    assert (s.radio_type, s.security) == ("802.11ac", "WPA2-Enterprise")


def test_german_fixture_with_crlf_and_tabs() -> None:
    text = fixture("netsh_wlan_interfaces_de_2").replace("   ", "\t").replace("\n", "\r\n")
    (s,) = wifi(text)
    assert (s.interface, s.ssid, s.channel, s.tx_rate_mbps) == ("WLAN", "SSID-1", 116, 300.0)


# French, Spanish and Italian: hnykda/wifi-heatmapper __tests__/data/win-netsh-interfaces-*.txt
# (MIT), as described in the reference but not among the fixtures.
FRENCH = """# PS C:\\Users\\richb> netsh wlan show interfaces
Il existe 1 interface sur le système :
   Nom                   : Wi-Fi
   Description            : Intel(R) Wi-Fi 6 AX201 160MHz
   GUID                   : f899e530-fd03-44a9-8307-4d4fc4827eab
   Adresse physique       : fe:dc:ba:09:87:01
   Type d\u2019interface         : Primaire
   État                  : connecté
   SSID                  : SSID-1
   Point d'accès d\u2019identificateur SSID (Service Set Identifier) : fe:dc:ba:09:87:02
   Bande                   : 2,4 GHz
   Canal                : 11
   Type de réseau           : Infrastructure
   Type de radio             : 802.11ax
   Authentification         : Ouvrir
   Chiffrement                 : Aucun
   Mode de connexion        : Profil
   Réception (Mbits/s)    : 103
   Transmission (Mbits/s)   : 206
   Signal                 : 80%
   Profil                : SomeProfile
   QoS MSCS configuré : 0
   État du réseau hébergé: Non disponible"""

SPANISH = """netsh wlan show interfaces
Hay 1 interfaz en el sistema:
   Nombre                   : Wi-Fi
   Descripción            : Intel(R) Wi-Fi 6 AX201 160MHz
   GUID                   : f899e530-fd03-44a9-8307-4d4fc4827eab
   Dirección       : fe:dc:ba:09:87:01
   Estado                  : conectado
   SSID                   : SSID-1
   AP BSSID               : fe:dc:ba:09:87:02
   Banda                 : 2,4 GHz
   Canal: 11
   Tipo de radio          : 802.11ax
   Autenticación          : Abierta
   Velocidad de recepción (Mbps)   : 69
   Velocidad de transmisión (Mbps) : 206
   Señal                           : 81%
   Perfil                 : Profile-1
   """

ITALIAN = """Interfacce presenti nel sistema: 1:

    Nome                   : Wi-Fi
    GUID                   : e36a6a75-d662-4a6b-9399-f1304b0fe75e
    Indirizzo fisico       : fe:dc:ba:09:87:01
    Stato                  : connessa
    SSID                   : SSID-1
    BSSID                  : fe:dc:ba:09:87:02
    Tipo frequenza radio   : 802.11n
    Autenticazione         : WPA2-Personal
    Canale                 : 4
    Velocità ricezione (Mbps)  : 130
    Velocità trasmissione (Mbps) : 130,5
    Segnale                : 85%

    Stato rete ospitata    : Non disponibile"""


def test_french() -> None:
    (s,) = wifi(FRENCH)
    assert (s.interface, s.connected, s.ssid) == ("Wi-Fi", True, "SSID-1")
    assert s.bssid == "fe:dc:ba:09:87:02"
    assert (s.channel, s.band_ghz, s.frequency_mhz) == (11, 2.4, 2462.0)
    assert (s.rx_rate_mbps, s.tx_rate_mbps, s.signal_percent) == (103.0, 206.0, 80.0)
    assert (s.radio_type, s.security) == ("802.11ax", "Open")  # "Ouvrir" is netsh's "Open"


def test_spanish() -> None:
    (s,) = wifi(SPANISH)
    assert (s.interface, s.connected, s.ssid, s.bssid) == (
        "Wi-Fi",
        True,
        "SSID-1",
        "fe:dc:ba:09:87:02",
    )
    assert (s.channel, s.band_ghz, s.rx_rate_mbps, s.tx_rate_mbps) == (11, 2.4, 69.0, 206.0)
    assert (s.signal_percent, s.security) == (81.0, "Open")


def test_italian_with_comma_decimal_rate() -> None:
    (s,) = wifi(ITALIAN)
    assert (s.interface, s.connected, s.bssid, s.channel) == ("Wi-Fi", True, "fe:dc:ba:09:87:02", 4)
    assert (s.band_ghz, s.rx_rate_mbps, s.tx_rate_mbps) == (2.4, 130.0, 130.5)
    assert (s.radio_type, s.security, s.signal_percent) == ("802.11n", "WPA2-Personal", 85.0)


def test_dutch_labels() -> None:
    text = """Er is 1 interface op het systeem:
    Naam                   : Wi-Fi
    Beschrijving           : Intel(R) Wireless-AC 9560
    GUID                   : 11111111-2222-3333-4444-555555555555
    Fysiek adres           : 00-11-22-33-44-55
    Status                 : verbinding verbroken
    Radiostatus            : Hardware aan
"""
    (s,) = wifi(text)
    assert (s.interface, s.connected, s.bssid, s.ssid, s.signal_percent) == (
        "Wi-Fi",
        False,
        None,
        None,
        None,
    )


def test_dutch_connected_with_the_labels_of_the_real_dutch_capture() -> None:
    """Netwerktype, Verificatie, Versleuteling, Signaal, Radiotype and Kanaal are the labels of
    the Dutch ``netsh wlan show networks mode=bssid`` capture (windows_netsh_wlan_networks_
    bssid_nl_1, whose values are used here too); ``show interfaces`` shares them. The state
    and rate labels have no Dutch capture: they are read by their values' shapes."""
    text = """Er is 1 interface op het systeem:
    Naam                   : Wi-Fi
    Beschrijving           : Intel(R) Wireless-AC 9560
    GUID                   : 11111111-2222-3333-4444-555555555555
    Fysiek adres           : 00-11-22-33-44-55
    Status                 : verbonden
    SSID                   : iConnect
    BSSID                  : 00:25:45:35:06:cd
    Netwerktype            : Infrastructuur
    Radiotype              : 802.11n
    Verificatie            : WPA2-Enterprise
    Versleuteling          : CCMP
    Kanaal                 : 40
    Ontvangstsnelheid (Mbps)  : 150
    Verzendsnelheid (Mbps) : 150
    Signaal                : 63%
    Profiel                : iConnect
"""
    (s,) = wifi(text)
    assert (s.interface, s.connected, s.ssid, s.bssid) == (
        "Wi-Fi", True, "iConnect", "00:25:45:35:06:cd",
    )  # fmt: skip
    assert (s.channel, s.band_ghz, s.signal_percent) == (40, 5.0, 63.0)
    assert (s.radio_type, s.security) == ("802.11n", "WPA2-Enterprise")
    assert (s.rx_rate_mbps, s.tx_rate_mbps) == (150.0, 150.0)


WIN11_24H2 = """
There are 2 interfaces on the system:

    Name                   : Wi-Fi
    Description            : Intel(R) Wi-Fi 6E AX210 160MHz
    GUID                   : 7825d47a-5d59-4c93-8d91-2b0e1b5f6c4b
    Physical address       : FE-DC-BA-09-87-01
    Interface type         : Primary
    State                  : connected
    SSID                   : Bangla
    AP BSSID               : BC-D5-ED-F7-5C-C8
         Colocated APs:    : 2
            BSSID: bc:d5:ed:f7:5c:cb,  Band: 2.4 GHz,  Channel: 1
            BSSID: be:d5:ed:f7:5c:cd,  Band: 5 GHz,  Channel: 60
    Band                   : 6 GHz
    Channel                : 101
    Connected Akm-cipher   : [ akm = 00-0f-ac:08, cipher =  00-0f-ac:04 ]
    Network type           : Infrastructure
    Radio type             : 802.11ax
    Authentication         : WPA3-Personal  (H2E)
    Cipher                 : CCMP
    Connection mode        : Auto Connect
    Receive rate (Mbps)    : 2402
    Transmit rate (Mbps)   : 2041,6
    Signal                 : 87%
    Rssi                   : -51
    Profile                : Bangla
    QoS MSCS Configured         : 0

    Name                   : Wi-Fi 2
    Description            : Realtek 8821CU Wireless LAN 802.11ac USB NIC
    GUID                   : 8825d47a-5d59-4c93-8d91-2b0e1b5f6c4c
    Physical address       : 00:11:22:33:44:66
    Interface type         : Primary
    State                  : disconnected
    Radio status           : Hardware On
                             Software On

    Hosted network status  : Not available
"""


def test_win11_rssi_6ghz_colocated_and_two_interfaces() -> None:
    a, b = wifi(WIN11_24H2)
    assert (a.interface, a.connected, a.ssid, a.bssid) == (
        "Wi-Fi",
        True,
        "Bangla",
        "bc:d5:ed:f7:5c:c8",
    )
    assert (a.channel, a.band_ghz, a.frequency_mhz) == (101, 6.0, 6455.0)  # not colocated ch 1
    assert (a.rssi_dbm, a.signal_percent) == (-51.0, 87.0)  # the printed Rssi, not derived
    assert (a.rx_rate_mbps, a.tx_rate_mbps) == (2402.0, 2041.6)
    assert (a.radio_type, a.security) == ("802.11ax", "WPA3-Personal (H2E)")
    assert (b.interface, b.connected, b.bssid, b.ssid, b.rssi_dbm) == (
        "Wi-Fi 2",
        False,
        None,
        None,
        None,
    )
    assert (b.radio_type, b.channel, b.tx_rate_mbps) == (None, None, None)


def test_location_gated_block_without_ssid_and_bssid() -> None:
    text = """There is 1 interface on the system:

    Name                   : Wi-Fi
    Description            : Intel(R) Wi-Fi 6 AX201 160MHz
    GUID                   : 7825d47a-5d59-4c93-8d91-2b0e1b5f6c4b
    Physical address       : fe:dc:ba:09:87:01
    State                  : connected
    Band                   : 5 GHz
    Channel                : 36
    Signal                 : 100%
"""
    (s,) = wifi(text)
    assert (s.interface, s.connected, s.ssid, s.bssid) == ("Wi-Fi", True, None, None)
    assert (s.channel, s.signal_percent, s.rssi_dbm) == (36, 100.0, -50.0)


def test_location_denied_explanation_gives_an_empty_sample() -> None:
    # hnykda/wifi-heatmapper __tests__/data/win-netsh-interfaces-location-denied-en.txt
    text = """
There is 1 interface on the system:

Network shell commands need location permission to access WLAN information. Turn on Location \
services on the Location page in Privacy & security settings.

Here is the URI for the Location page in the Settings app:

ms-settings:privacy-location

Function WlanQueryInterface returns error 5:

Access is denied.
"""
    (s,) = wifi(text)
    assert s.ts == CTX.now
    assert (s.interface, s.connected, s.ssid, s.bssid, s.signal_percent) == (None,) * 5


def test_unknown_language_by_value_shapes() -> None:
    # hnykda/wifi-heatmapper win-netsh-interfaces-unlocalized.txt: every label unknown.
    text = """# netsh wlan show interfaces - every label is in an unsupported language
Xx-Interface name : Wi-Fi
  There are 1 interfaces on the system:

      Xx-Name                   : Wi-Fi
      Xx-Description           : Intel(R) Wi-Fi 6 AX201 160MHz
      Xx-GUID                  : 7825d47a-5d59-4c93-8d91-2b0e1b5f6c4b
      Xx-Physical address      : fe:dc:ba:09:87:01
      Xx-State                 : connected
      Xx-SSID                  : SomeSSID-X
      Xx-BSSID                 : fe:dc:ba:09:87:02
      Xx-Radio type           : 802.11ax
      Xx-Authentication       : WPA2-Personal-X
      Xx-Channel              : 44
      Xx-Receive rate (Mbps)  : 103
      Xx-Transmit rate (Mbps) : 54
      Xx-Signal             : 42%
      Xx-QoS               : 0

      Xx-Hosted network status : Not available
"""
    (s,) = wifi(text)
    assert (s.interface, s.connected, s.ssid) == ("Wi-Fi", True, "SomeSSID-X")
    assert s.bssid == "fe:dc:ba:09:87:02"  # the MAC after the GUID is the physical address
    assert (s.channel, s.band_ghz, s.signal_percent) == (44, 5.0, 42.0)
    assert (s.rx_rate_mbps, s.tx_rate_mbps) == (103.0, 54.0)
    assert (s.radio_type, s.security) == ("802.11ax", "WPA2-Personal-X")


def test_russian_labels_by_shape() -> None:
    text = """
    Имя                    : Беспроводная сеть
    Описание               : Intel(R) Wi-Fi 6 AX201 160MHz
    GUID                   : 7825d47a-5d59-4c93-8d91-2b0e1b5f6c4b
    Физический адрес       : fe:dc:ba:09:87:01
    Состояние              : подключено
    SSID                   : Дом
    BSSID                  : fe:dc:ba:09:87:02
    Диапазон               : 2,4 ГГц
    Канал                  : 6
    Скорость приема (Мбит/с) : 144,4
    Сигнал                 : 60%
"""
    (s,) = wifi(text)
    assert (s.interface, s.ssid, s.bssid) == ("Беспроводная сеть", "Дом", "fe:dc:ba:09:87:02")
    assert s.connected is True  # unknown state word: inferred from BSSID and signal
    assert (s.channel, s.band_ghz, s.signal_percent, s.rssi_dbm) == (6, 2.4, 60.0, -70.0)
    assert s.rx_rate_mbps == 144.4


@pytest.mark.parametrize(
    "text",
    [
        "There is no wireless interface on the system.\r\n",
        "The Wireless AutoConfig Service (wlansvc) is not running.\n",
    ],
)
def test_no_wireless_interface_is_empty(text: str) -> None:
    assert wifi(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n  \n",
        "The quick brown fox: jumps over the lazy dog.\n",
        "Connected to fe:dc:ba:98:76:02 (on wlp1s0)\n\tSSID: SSID-1\n\tfreq: 2412.0\n",
        "Name : Wi-Fi\nDescription : something\n",
    ],
)
def test_not_netsh_raises(text: str) -> None:
    with pytest.raises(ParseError, match="netsh wlan show interfaces"):
        parse_netsh_wlan(text, CTX)


def test_scan_list_is_refused_with_a_hint() -> None:
    text = """Interface name : Wi-Fi
There are 1 networks currently visible.
SSID 1 : SSID-1
   Network type            : Infrastructure
   BSSID 1                 : fe:dc:ba:09:87:01
        Signal             : 31%
"""
    with pytest.raises(ParseError, match="show networks"):
        parse_netsh_wlan(text, CTX)


@pytest.mark.parametrize(
    "case",
    [
        "netsh_wlan_networks_bssid_en_2",
        "netsh_wlan_networks_bssid_de_3",
        "netsh_wlan_networks_bssid_nl_1",
    ],
)
def test_real_scan_lists_in_three_languages_are_refused_with_a_hint(case: str) -> None:
    """A support engineer handed ``show networks mode=bssid`` instead of ``show interfaces``
    is told so, whatever the language, rather than shown a fake link."""
    with pytest.raises(ParseError, match="show networks"):
        parse_netsh_wlan(fixture(case), CTX)
