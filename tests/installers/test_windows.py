"""The Windows package: the WiX source ``installers/windows/dexpulse.wxs`` and the PowerShell
scripts beside it, checked without Windows, WiX or PowerShell.

The ``.wxs`` is read with ElementTree. The command lines it gives Windows (the service's, the
tray's Run value, the custom action's) are filled in with the values Windows Installer would
put for the folder and public properties, split as the Microsoft C runtime splits a command
line (rules written here from its documentation), and parsed with the real ``dexpulse``
argument parser; the configuration command then really writes a config file, read back with
the agent's own loader. The tray's Run value is compared with what the autostart module
renders. The custom actions' places in the execute sequence are worked out from their
After/Before chains and the standard actions' documented sequence numbers.

The PowerShell scripts cannot be run here: they are checked for what ties them to the
``.wxs`` (property names, service name, UpgradeCode, the WiX variables and extension), for
the conventions they promise (strict mode, stop on errors), and lexed far enough to find an
unbalanced bracket or an unterminated string.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from dexpulse.agent import cli, commands, config
from dexpulse.agent.localclient import UI_DIR
from dexpulse.agent.platform._windows import autostart, ui_tokens, winservice

REPO = Path(__file__).resolve().parents[2]
WINDOWS = REPO / "installers" / "windows"
WXS = WINDOWS / "dexpulse.wxs"
NS = {
    "w": "http://wixtoolset.org/schemas/v4/wxs",
    "util": "http://wixtoolset.org/schemas/v4/wxs/util",
}
W = "{" + NS["w"] + "}"

# What Windows Installer puts for the folder properties on a default install (folder
# properties end with a backslash).
FOLDERS = {
    "INSTALLFOLDER": "C:\\Program Files\\dexpulse\\",
    "CommonAppDataFolder": "C:\\ProgramData\\",
    "System64Folder": "C:\\Windows\\System32\\",
}
CONFIG_PATH = "C:\\ProgramData\\dexpulse\\agent.toml"
# Standard actions' places in InstallExecuteSequence (Windows Installer's suggested sequence).
STANDARD = {"InstallFiles": 4000, "InstallServices": 5800, "StartServices": 5900}
GUID = re.compile(r"^\{?[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}?$")


@pytest.fixture(scope="module")
def wxs() -> ET.Element:
    return ET.parse(WXS).getroot()


@pytest.fixture(autouse=True)
def no_install_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``configure`` falls back on these; the tests give every value on the command line."""
    for name in ("DEXPULSE_COLLECTOR_URL", "DEXPULSE_ENROLLMENT_SECRET", "DEXPULSE_TAGS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DEXPULSE_AGENT_CONFIG", raising=False)


def one(root: ET.Element, path: str) -> ET.Element:
    found = root.findall(path, NS)
    assert len(found) == 1, f"{path}: {len(found)} elements"
    return found[0]


def by_id(root: ET.Element, tag: str, ident: str) -> ET.Element:
    found = [e for e in root.iter(W + tag) if e.get("Id") == ident]
    assert len(found) == 1, f"{tag} {ident}: {len(found)}"
    return found[0]


def formatted(value: str, properties: dict[str, str] | None = None) -> str:
    """``[NAME]`` replaced as Windows Installer formats a string; an unknown name fails."""
    known = {**FOLDERS, **(properties or {})}

    def put(match: re.Match[str]) -> str:
        assert match.group(1) in known, f"[{match.group(1)}] in {value!r}"
        return known[match.group(1)]

    return re.sub(r"\[([A-Za-z_][A-Za-z0-9_.]*)\]", put, value)


def split_windows(line: str) -> list[str]:
    """Split a command line as the Microsoft C runtime does ("Parsing C command-line
    arguments"): blanks separate arguments outside quotes; quotes group and are removed;
    2n backslashes before a quote give n backslashes and the quote acts, 2n+1 give n and a
    literal quote; other backslashes are literal; "" inside quotes is a literal quote."""
    args: list[str] = []
    current: list[str] = []
    in_arg = quoted = False
    i = 0
    while i < len(line):
        char = line[i]
        if char == "\\":
            run = len(line[i:]) - len(line[i:].lstrip("\\"))
            if i + run < len(line) and line[i + run] == '"':
                current.append("\\" * (run // 2))
                if run % 2:
                    current.append('"')
                    i += run + 1
                else:
                    i += run
                in_arg = True
                continue
            current.append("\\" * run)
            i += run
            in_arg = True
            continue
        if char == '"':
            if quoted and line[i + 1 : i + 2] == '"':
                current.append('"')
                i += 2
                continue
            quoted = not quoted
            in_arg = True
        elif char in " \t" and not quoted:
            if in_arg:
                args.append("".join(current))
                current, in_arg = [], False
        else:
            current.append(char)
            in_arg = True
        i += 1
    assert not quoted, f"unterminated quote in {line!r}"
    if in_arg:
        args.append("".join(current))
    return args


def test_split_windows_follows_the_crt_rules() -> None:
    assert split_windows('"C:\\Program Files\\a.exe" x "y z"') == [
        "C:\\Program Files\\a.exe",
        "x",
        "y z",
    ]
    assert split_windows('a\\\\\\"b "c\\\\" d') == ['a\\"b', "c\\", "d"]
    assert split_windows('"--tag=" "a""b"') == ["--tag=", 'a"b']


def parse_cli(argv: list[str]) -> Any:
    """The real ``dexpulse`` parser; argparse's exit on a refused command line fails the test."""
    try:
        return cli.build_parser().parse_args(argv)
    except SystemExit as exc:  # pragma: no cover - the failure's message is on stderr
        raise AssertionError(f"dexpulse refused {argv}: exit {exc.code}") from None


# -- the package -----------------------------------------------------------------------------


def test_well_formed_and_of_wix_v4_schema(wxs: ET.Element) -> None:
    assert wxs.tag == W + "Wix"
    text = WXS.read_text(encoding="utf-8")
    assert 'xmlns:util="http://wixtoolset.org/schemas/v4/wxs/util"' in text
    # Building without -d Version or -d SourceDir stops with a message instead of a bad MSI.
    for name in ("Version", "SourceDir"):
        assert f"<?ifndef {name}?>" in text


def test_package(wxs: ET.Element) -> None:
    package = one(wxs, "w:Package")
    assert package.get("Name") == "dexpulse"
    assert package.get("Manufacturer")
    assert package.get("Version") == "$(var.Version)"
    assert package.get("Scope") == "perMachine"
    assert GUID.match(package.get("UpgradeCode", ""))
    upgrade = one(package, "w:MajorUpgrade")
    assert "newer version" in upgrade.get("DowngradeErrorMessage", "")
    assert one(package, "w:MediaTemplate").get("EmbedCab") == "yes"


def test_every_guid_is_well_formed_and_distinct(wxs: ET.Element) -> None:
    guids = [
        value
        for element in wxs.iter()
        for name, value in element.attrib.items()
        if name in ("Guid", "UpgradeCode", "ProductCode")
    ]
    assert guids, "no GUID found"
    for value in guids:
        assert GUID.match(value), value
        uuid.UUID(value.strip("{}"))
    assert len({g.strip("{}").upper() for g in guids}) == len(guids)


def test_folders(wxs: ET.Element) -> None:
    programs = one(wxs, ".//w:StandardDirectory[@Id='ProgramFiles64Folder']")
    assert one(programs, "w:Directory").attrib == {"Id": "INSTALLFOLDER", "Name": "dexpulse"}
    data = one(wxs, ".//w:StandardDirectory[@Id='CommonAppDataFolder']")
    state = one(data, "w:Directory")
    assert state.get("Name") == "dexpulse"
    ui = one(state, "w:Directory")
    assert ui.get("Name") == UI_DIR  # where the tray looks for endpoint.json


def _grants(wxs: ET.Element, directory: str) -> dict[str, str]:
    """Who gets what on the folder the MSI creates: SDDL ACEs as {trustee: rights}."""
    folder = one(wxs, f".//w:Component[@Directory='{directory}']")
    sddl = one(folder, "w:CreateFolder/w:PermissionEx").get("Sddl", "")
    assert sddl.startswith("D:PAI("), sddl  # protected: nothing inherited from ProgramData
    aces = re.findall(r"\(([^)]*)\)", sddl)
    fields = [ace.split(";") for ace in aces]
    assert all(f[0] == "A" and f[1] == "OICI" for f in fields), aces  # allow, inherited down
    return {f[5]: f[2] for f in fields}


def test_the_state_folder_is_private_but_for_the_trays_folder(wxs: ET.Element) -> None:
    """The device token, the config's secret and the spool: SYSTEM and Administrators only.
    Users (BU) read ui\\ only, the tray's way to the service."""
    state = one(wxs, ".//w:StandardDirectory[@Id='CommonAppDataFolder']/w:Directory")
    ui = one(state, "w:Directory")
    assert _grants(wxs, state.get("Id", "")) == {"SY": "FA", "BA": "FA"}
    assert _grants(wxs, ui.get("Id", "")) == {"SY": "FA", "BA": "FA", "BU": "0x1200a9"}
    feature = {ref.get("Id") for ref in wxs.findall(".//w:Feature/w:ComponentRef", NS)}
    assert {"StateFolder", "UiFolder"} <= feature


def test_the_config_path_is_the_agents_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the service and the custom action name is where the agent looks by default, so
    ``dexpulse agent status`` and the tray find the same files without --config."""
    monkeypatch.setattr(config.sys, "platform", "win32")
    monkeypatch.setenv("PROGRAMDATA", "C:\\ProgramData")
    monkeypatch.delenv("DEXPULSE_AGENT_CONFIG", raising=False)
    assert str(config.default_config_path()).replace("/", "\\") == CONFIG_PATH
    state = str(config.service_state_dir()).replace("/", "\\")
    assert state == formatted("[CommonAppDataFolder]dexpulse")


def test_the_frozen_folder_is_harvested_without_the_exe(wxs: ET.Element) -> None:
    files = one(wxs, ".//w:Files")
    assert files.get("Include") == "$(var.SourceDir)\\**"
    excluded = [e.get("Files") for e in files.findall("w:Exclude", NS)]
    exe = by_id(wxs, "File", "DexpulseExe")
    assert excluded == [exe.get("Source")] == ["$(var.SourceDir)\\dexpulse.exe"]
    group = next(g for g in wxs.iter(W + "ComponentGroup") if g.find("w:Files", NS) is not None)
    assert group.get("Directory") == "INSTALLFOLDER"


def test_every_reference_resolves(wxs: ET.Element) -> None:
    feature = one(wxs, ".//w:Feature")
    components = {c.get("Id") for c in wxs.iter(W + "Component")}
    groups = {g.get("Id") for g in wxs.iter(W + "ComponentGroup")}
    assert {r.get("Id") for r in feature.findall("w:ComponentRef", NS)} == components
    assert {r.get("Id") for r in feature.findall("w:ComponentGroupRef", NS)} == groups
    directories = {d.get("Id") for d in wxs.iter(W + "Directory")}
    for element in list(wxs.iter(W + "Component")) + list(wxs.iter(W + "ComponentGroup")):
        assert element.get("Directory") in directories
    files = {f.get("Id") for f in wxs.iter(W + "File")}
    actions = {a.get("Id") for a in wxs.iter(W + "CustomAction")}
    actions |= {s.get("Action") for s in wxs.iter(W + "SetProperty")}
    for action in wxs.iter(W + "CustomAction"):
        assert action.get("FileRef") in (None, *files)
    for custom in wxs.iter(W + "Custom"):
        assert custom.get("Action") in actions
    used = set(re.findall(r"\$\(var\.(\w+)\)", WXS.read_text(encoding="utf-8")))
    assert used == {"Version", "SourceDir"}


# -- the service -----------------------------------------------------------------------------


def exe_component(wxs: ET.Element) -> ET.Element:
    return next(c for c in wxs.iter(W + "Component") if c.find("w:ServiceInstall", NS) is not None)


def test_the_exe_component_installs_the_service(wxs: ET.Element) -> None:
    component = exe_component(wxs)
    exe = one(component, "w:File")
    assert exe.get("KeyPath") == "yes" and exe.get("Id") == "DexpulseExe"
    service = one(component, "w:ServiceInstall")
    assert service.get("Name") == winservice.SERVICE_NAME == "dexpulse"
    assert service.get("DisplayName") == winservice.DISPLAY_NAME
    assert service.get("Description") == winservice.DESCRIPTION
    assert service.get("Start") == "auto"
    assert service.get("Type") == "ownProcess"
    assert service.get("ErrorControl") == "normal"
    assert service.get("Account") == "LocalSystem"

    recovery = one(service, "util:ServiceConfig")
    assert recovery.get("FirstFailureActionType") == "restart"
    assert recovery.get("SecondFailureActionType") == "restart"
    assert int(recovery.get("ResetPeriodInDays", "0")) >= 1
    assert int(recovery.get("RestartServiceDelayInSeconds", "0")) > 0

    control = one(component, "w:ServiceControl")
    assert control.get("Name") == service.get("Name")
    assert (control.get("Start"), control.get("Stop"), control.get("Remove")) == (
        "install",
        "both",
        "uninstall",
    )
    assert control.get("Wait") == "yes"


def test_the_service_command_line_reaches_winservice_main(
    wxs: ET.Element, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = one(exe_component(wxs), "w:ServiceInstall")
    argv = split_windows(formatted(service.get("Arguments", "")))
    args = parse_cli(argv)
    assert (args.group, args.command) == ("agent", "service")
    assert str(args.config) == CONFIG_PATH

    # As on Windows: the command hands the config path to winservice.main.
    seen: list[Path | None] = []
    monkeypatch.setattr(commands.sys, "platform", "win32")
    monkeypatch.setattr(winservice, "main", lambda path: seen.append(path) or 0)
    assert args.func(args) == 0
    assert seen == [args.config]


def test_the_tray_run_value_is_the_autostart_definition(wxs: ET.Element) -> None:
    value = one(exe_component(wxs), "w:RegistryValue")
    assert value.get("Root") == "HKLM"
    assert value.get("Key") == autostart.RUN_KEY
    assert value.get("Name") == autostart.VALUE_NAME
    assert value.get("Type") == "string"
    # The windowed twin of dexpulse.exe (frozen/dexpulse.spec): no console window at sign-in.
    assert value.get("Value") == autostart.definition("[INSTALLFOLDER]dexpulse-tray.exe")
    argv = split_windows(formatted(value.get("Value", "")))
    assert argv[0] == "C:\\Program Files\\dexpulse\\dexpulse-tray.exe"
    assert parse_cli(argv[1:]).group == "tray"
    notes = (WINDOWS / "tray-autostart.md").read_text(encoding="utf-8")
    assert 'Value="&quot;[INSTALLFOLDER]dexpulse-tray.exe&quot; tray"' in notes
    spec = (REPO / "installers" / "frozen" / "dexpulse.spec").read_text(encoding="utf-8")
    assert re.search(r'name="dexpulse-tray",\s*(?:\w+=\w+,\s*)*console=False', spec)


# -- silent-install properties and the custom actions ----------------------------------------

PUBLIC = {"COLLECTOR_URL", "ENROLLMENT_SECRET", "TAGS"}


def test_public_properties(wxs: ET.Element) -> None:
    declared = {p.get("Id"): p for p in wxs.iter(W + "Property") if p.get("Id", "").isupper()}
    assert PUBLIC <= set(declared)
    for name in PUBLIC:
        assert declared[name].get("Secure") == "yes", name
        assert declared[name].get("Value") is None, f"{name} has a default"
    assert declared["ENROLLMENT_SECRET"].get("Hidden") == "yes"


def configure_action(wxs: ET.Element) -> ET.Element:
    return by_id(wxs, "CustomAction", "ConfigureAgent")


def test_the_configure_action_is_deferred_elevated_and_hidden(wxs: ET.Element) -> None:
    action = configure_action(wxs)
    assert action.get("Execute") == "deferred"
    assert action.get("Impersonate") == "no"
    assert action.get("Return") == "check"
    assert action.get("HideTarget") == "yes"
    assert action.get("FileRef") == "DexpulseExe"
    custom = one(wxs, ".//w:InstallExecuteSequence/w:Custom[@Action='ConfigureAgent']")
    condition = custom.get("Condition", "")
    assert "COLLECTOR_URL" in condition and 'NOT (REMOVE~="ALL")' in condition


def configure_argv(wxs: ET.Element, url: str, secret: str, tags: str) -> list[str]:
    values = {"COLLECTOR_URL": url, "ENROLLMENT_SECRET": secret, "TAGS": tags}
    return split_windows(formatted(configure_action(wxs).get("ExeCommand", ""), values))


def test_the_configure_command_line_writes_the_config(wxs: ET.Element, tmp_path: Path) -> None:
    argv = configure_argv(
        wxs, "https://dex.example.com", "-dxe_starts-with-a-dash", "site=HQ,department=Sales"
    )
    args = parse_cli(argv)
    assert (args.group, args.command) == ("agent", "configure")
    assert str(args.config) == CONFIG_PATH
    assert args.if_missing and not args.force
    assert args.url == "https://dex.example.com"
    assert args.secret == "-dxe_starts-with-a-dash"

    args.config = tmp_path / "dexpulse" / "agent.toml"  # the same command, a scratch file
    assert args.func(args) == 0
    written = config.load(args.config)
    assert written.collector_url == "https://dex.example.com"
    assert written.enrollment_secret is not None
    assert written.enrollment_secret.get_secret_value() == "-dxe_starts-with-a-dash"
    assert written.tags == {"site": "HQ", "department": "Sales"}

    # A second install with other values keeps the file (--if-missing) and succeeds.
    before = args.config.read_bytes()
    again = parse_cli(configure_argv(wxs, "https://other.example.com", "dxe_other", ""))
    again.config = args.config
    assert again.func(again) == 0
    assert args.config.read_bytes() == before


def test_the_configure_command_line_without_tags(wxs: ET.Element, tmp_path: Path) -> None:
    args = parse_cli(configure_argv(wxs, "https://dex.example.com", "dxe_secret", ""))
    args.config = tmp_path / "agent.toml"
    assert args.func(args) == 0
    assert config.load(args.config).tags == {}


def test_a_url_without_a_secret_fails_the_install(wxs: ET.Element, tmp_path: Path) -> None:
    """Return="check": a non-zero exit fails the install instead of leaving an agent that
    cannot enroll."""
    args = parse_cli(configure_argv(wxs, "https://dex.example.com", "", ""))
    args.config = tmp_path / "agent.toml"
    assert args.func(args) != 0
    assert not args.config.exists()


def quiet_exec(wxs: ET.Element, action_id: str) -> list[str]:
    """A deferred WixQuietExec action: its command line, from the SetProperty of the same Id
    (which becomes its CustomActionData)."""
    action = by_id(wxs, "CustomAction", action_id)
    assert action.get("BinaryRef") == "Wix4UtilCA_$(sys.BUILDARCHSHORT)"
    assert action.get("DllEntry") == "WixQuietExec"
    assert (action.get("Execute"), action.get("Impersonate")) == ("deferred", "no")
    data = by_id(wxs, "SetProperty", action_id)
    assert data.get("Sequence") == "execute"
    value = data.get("Value", "")
    assert value.startswith('"'), "WixQuietExec needs the program quoted first"
    return split_windows(formatted(value))


def test_the_config_is_protected_after_it_is_written(wxs: ET.Element) -> None:
    argv = quiet_exec(wxs, "ProtectAgentConfig")
    assert argv[:2] == ["C:\\Windows\\System32\\icacls.exe", CONFIG_PATH]
    assert "/inheritance:r" in argv
    assert argv[argv.index("/grant:r") + 1 :] == [
        f"{ui_tokens.SYSTEM_SID}:(F)",
        f"{ui_tokens.ADMINISTRATORS_SID}:(F)",
    ]
    custom = one(wxs, ".//w:Custom[@Action='ProtectAgentConfig']")
    configure = one(wxs, ".//w:Custom[@Action='ConfigureAgent']")
    assert custom.get("Condition") == configure.get("Condition")


def test_recovery_applies_to_stops_with_errors(wxs: ET.Element) -> None:
    argv = quiet_exec(wxs, "EnableRecoveryOnErrors")
    assert argv == ["C:\\Windows\\System32\\sc.exe", "failureflag", winservice.SERVICE_NAME, "1"]


def sequence(wxs: ET.Element) -> dict[str, float]:
    """Each scheduled action's place: a standard action's number, +1 per After hop and -1 per
    Before hop (WiX numbers relative actions that way, in the gaps between standard ones)."""
    links: dict[str, tuple[str, int]] = {}
    for element in list(wxs.iter(W + "Custom")) + list(wxs.iter(W + "SetProperty")):
        name = element.get("Action") or f"Set{element.get('Id')}"
        if element.get("After"):
            links[name] = (element.get("After", ""), +1)
        else:
            links[name] = (element.get("Before", ""), -1)

    def place(name: str, depth: int = 0) -> float:
        if name in STANDARD:
            return STANDARD[name]
        assert depth < 20 and name in links, f"cannot place {name}"
        anchor, step = links[name]
        return place(anchor, depth + 1) + step

    return {name: place(name) for name in links}


def test_the_custom_actions_run_between_install_files_and_start_services(wxs: ET.Element) -> None:
    places = sequence(wxs)
    assert STANDARD["InstallFiles"] < places["ConfigureAgent"] < STANDARD["StartServices"]
    assert places["ConfigureAgent"] < places["SetProtectAgentConfig"] < places["ProtectAgentConfig"]
    assert places["ProtectAgentConfig"] < STANDARD["StartServices"]
    assert STANDARD["InstallServices"] < places["SetEnableRecoveryOnErrors"]
    assert places["SetEnableRecoveryOnErrors"] < places["EnableRecoveryOnErrors"]
    assert places["EnableRecoveryOnErrors"] < STANDARD["StartServices"]


# -- the PowerShell scripts ------------------------------------------------------------------


def powershell_problems(text: str) -> list[str]:
    """Unbalanced (), {}, [] and unterminated strings or comments, with PowerShell's lexical
    rules for comments (#, <# #>), strings ('', "" with `-escapes and $( ) inside), here-strings
    and ${braced} variable names; and "$name:" in a double-quoted string, which PowerShell
    refuses (a colon after a variable name must start a scope or drive)."""
    problems: list[str] = []
    stack: list[tuple[str, int]] = []
    pairs = {")": "(", "}": "{", "]": "["}

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    def code(i: int, closing: str | None) -> int:
        """Lex code from i; return the index after ``closing`` (or the end)."""
        depth = len(stack)
        while i < len(text):
            char = text[i]
            if text.startswith("<#", i):
                end = text.find("#>", i + 2)
                if end < 0:
                    problems.append(f"line {line_of(i)}: unterminated <# comment")
                    return len(text)
                i = end + 2
            elif char == "#":
                end = text.find("\n", i)
                i = len(text) if end < 0 else end
            elif char == "`":
                i += 2
            elif text.startswith("@'", i) or text.startswith('@"', i):
                quote = text[i + 1]
                end = text.find("\n" + quote + "@", i)
                if end < 0:
                    problems.append(f"line {line_of(i)}: unterminated here-string")
                    return len(text)
                i = end + 3
            elif char == "'":
                i = single(i + 1)
            elif char == '"':
                i = double(i + 1)
            elif text.startswith("${", i):
                end = text.find("}", i)
                i = end + 1
            elif char in "({[":
                stack.append((char, i))
                i += 1
            elif char in ")}]":
                if len(stack) == depth and closing == char:
                    return i + 1
                if not stack or stack[-1][0] != pairs[char]:
                    problems.append(f"line {line_of(i)}: unmatched {char!r}")
                else:
                    stack.pop()
                i += 1
            else:
                i += 1
        return i

    def single(i: int) -> int:
        while i < len(text):
            if text[i] == "'":
                if text[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                return i + 1
            i += 1
        problems.append("unterminated '-string")
        return i

    def double(i: int) -> int:
        start = i
        while i < len(text):
            char = text[i]
            if char == "`":
                i += 2
            elif char == '"':
                if text[i + 1 : i + 2] == '"':
                    i += 2
                    continue
                return i + 1
            elif text.startswith("$(", i):
                i = code(i + 2, ")")
            elif text.startswith("${", i):
                i = text.find("}", i) + 1
            elif char == "$" and (bad := re.match(r"\$[A-Za-z_]\w*:(?![A-Za-z_{])", text[i:])):
                problems.append(f"line {line_of(i)}: {bad.group(0)!r} in a string")
                i += len(bad.group(0))
            else:
                i += 1
        problems.append(f'line {line_of(start)}: unterminated "-string')
        return i

    code(0, None)
    problems += [f"line {line_of(pos)}: unclosed {char!r}" for char, pos in stack]
    return problems


def test_the_powershell_lexer_finds_what_it_should() -> None:
    assert powershell_problems('$a = "x $($b -replace \'"\', \'""\') y"; ${env:P(x86)}') == []
    assert powershell_problems("if ($a) { $b") == ["line 1: unclosed '{'"]
    assert powershell_problems('Write-Host "$v: oops"') == ["line 1: '$v:' in a string"]
    assert powershell_problems("$x = 'it''s") == ["unterminated '-string"]


SCRIPTS = ["build-msi.ps1", "install.ps1", "uninstall.ps1"]


@pytest.mark.parametrize("name", SCRIPTS)
def test_powershell_script_conventions(name: str) -> None:
    text = (WINDOWS / name).read_text(encoding="utf-8")
    assert powershell_problems(text) == []
    assert text.startswith("<#") and ".SYNOPSIS" in text.split("#>", 1)[0]
    body = text.split("#>", 1)[1]
    param = body.index("param(")
    strict = body.index("Set-StrictMode -Version Latest")
    stop = body.index("$ErrorActionPreference = 'Stop'")
    assert param < strict < stop
    assert "function" not in body[:stop], "settings come before any code"
    # Every native program's exit code is looked at: each `& <program>` is followed by a
    # $LASTEXITCODE check (Invoke-Native does it for build-msi.ps1).
    calls = [m.start() for m in re.finditer(r"^\s*(?:\$\w+ = )?\(?& \$?\w", body, re.MULTILINE)]
    for start in calls:
        assert "$LASTEXITCODE" in body[start : start + 400], body[start : start + 80]


def script(name: str) -> str:
    return (WINDOWS / name).read_text(encoding="utf-8")


def assigned(text: str, variable: str) -> str:
    match = re.search(rf"^\${variable} = '([^']*)'", text, re.MULTILINE)
    assert match, f"${variable} not set"
    return match.group(1)


def test_install_script_matches_the_package(wxs: ET.Element) -> None:
    text = script("install.ps1")
    passed = set(re.findall(r"Format-MsiProperty '([A-Z_]+)'", text))
    declared = {p.get("Id") for p in wxs.iter(W + "Property") if p.get("Secure") == "yes"}
    assert passed == declared == PUBLIC
    assert assigned(text, "ServiceName") == one(exe_component(wxs), "w:ServiceInstall").get("Name")
    for option in ("'/i'", "'/qn'", "'/norestart'", "'/l*v'"):
        assert option in text
    codes = set(re.findall(r"^\s+(\d+)\s+= '", text, re.MULTILINE))
    assert {"0", "3010", "1641", "1603", "1618"} <= codes
    assert "agent" in text and "status" in text
    # Tags go as one comma-separated TAGS value, which the configure action passes to --tag.
    assert "-join ','" in text


def test_uninstall_script_matches_the_package(wxs: ET.Element) -> None:
    text = script("uninstall.ps1")
    package = one(wxs, "w:Package")
    code = assigned(text, "UpgradeCode")
    assert code.startswith("{") and code.endswith("}")  # as the Windows Installer API takes it
    assert uuid.UUID(code.strip("{}")) == uuid.UUID(package.get("UpgradeCode", ""))
    assert assigned(text, "DisplayName") == package.get("Name")
    assert assigned(text, "ServiceName") == winservice.SERVICE_NAME
    state = one(wxs, ".//w:StandardDirectory[@Id='CommonAppDataFolder']/w:Directory")
    assert f"Join-Path $env:ProgramData '{state.get('Name')}'" in text
    assert "/x $product /qn /norestart" in text


def test_build_script_matches_the_package(wxs: ET.Element) -> None:
    text = script("build-msi.ps1")
    defined = set(re.findall(r"'-d', \"(\w+)=", text))
    used = set(re.findall(r"\$\(var\.(\w+)\)", WXS.read_text(encoding="utf-8")))
    assert defined == used
    assert "'-arch', 'x64'" in text
    assert "'-ext', 'WixToolset.Util.wixext'" in text
    assert "WixToolset.Util.wixext/" in text  # installed when missing
    assert "'dexpulse.exe'" in text and "'dist'" in text
    spec = REPO / "installers" / "frozen" / "dexpulse.spec"
    assert "'installers\\frozen\\dexpulse.spec'" in text
    if spec.exists():  # the onedir is named dexpulse, holding dexpulse.exe, as the .wxs expects
        assert re.search(r"name=\"dexpulse\"", spec.read_text(encoding="utf-8"))
    assert '"$($RepoRoot)[agent,tray]"' in text
