<#
.SYNOPSIS
    Install the dexpulse agent silently from its MSI: for RMM tools and Intune scripts.

.DESCRIPTION
    Runs
        msiexec /i <Msi> /qn /norestart COLLECTOR_URL=... ENROLLMENT_SECRET=... TAGS=... /l*v <LogPath>
    says what msiexec's exit code means, waits for the dexpulse service to be Running and prints
    `dexpulse.exe agent status`. Run it elevated (RMM agents and Intune run scripts as SYSTEM).

    The MSI writes C:\ProgramData\dexpulse\agent.toml from the three properties only when that
    file does not exist yet: on an upgrade, or on a device that already has a config, the
    values given here are not applied (the service keeps its enrollment).

    Exit codes (RMM tools read them):
        0      installed, and the service runs
        3010   installed, and Windows must restart to finish (files were in use)
        1641   installed, and the installer started the restart
        1      bad arguments, or not elevated (nothing was run)
        2      installed, but the service was not Running within -TimeoutSeconds
        other  msiexec's own failure code (1603, 1618, ...), explained on the way out

.PARAMETER Msi
    Path to dexpulse-<version>-x64.msi.

.PARAMETER CollectorUrl
    The collector's base URL, https://dex.example.com. Give it with -EnrollmentSecret, or
    neither (the agent then runs unenrolled until a config is written).

.PARAMETER EnrollmentSecret
    The enrollment secret from the collector (`dexpulse collector enrollment-secret create`),
    as a plain string (what RMM tools pass) or a SecureString. Either way it ends up on
    msiexec's command line; the MSI marks the property hidden, so the log shows asterisks.

.PARAMETER Tags
    Labels sent with every batch, e.g. @{ site = 'HQ'; department = 'Sales' }; passed to the
    MSI as TAGS="department=Sales,site=HQ".

.PARAMETER LogPath
    msiexec's verbose log (default C:\Windows\Temp\dexpulse-install.log, which only
    administrators can read back).

.PARAMETER TimeoutSeconds
    How long to wait for the service to be Running.

.EXAMPLE
    .\install.ps1 -Msi .\dexpulse-1.2.3-x64.msi -CollectorUrl https://dex.example.com `
        -EnrollmentSecret 'dxe_...' -Tags @{ site = 'HQ'; department = 'Sales' }
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)][string]$Msi,
    [string]$CollectorUrl = '',
    [object]$EnrollmentSecret = $null,
    [hashtable]$Tags = @{},
    [string]$LogPath = (Join-Path $env:SystemRoot 'Temp\dexpulse-install.log'),
    [int]$TimeoutSeconds = 120
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$ServiceName = 'dexpulse'

$MsiExitCodes = @{
    0    = 'Installed.'
    3010 = 'Installed; Windows must restart to finish (files were in use, e.g. a running tray).'
    1641 = 'Installed; the installer has started a restart to finish.'
    1602 = 'The installation was cancelled.'
    1603 = 'The installation failed. In the log, find "Return value 3": the lines above it name the step. ConfigureAgent: the collector URL, secret or tags were refused (run "dexpulse.exe agent configure" by hand to see why). StartServices: the service did not start; see C:\ProgramData\dexpulse\logs\agent.log and the Application event log (source dexpulse).'
    1618 = 'Another installation is in progress (Windows runs one at a time); try again in a few minutes.'
    1619 = 'The MSI could not be opened: check the path, and that the account running this can read it.'
    1620 = 'The file is not a valid MSI: an incomplete download?'
    1625 = 'A system policy forbids this installation.'
    1633 = 'This MSI is for 64-bit (x64) Windows.'
    1638 = 'Another build of this version of dexpulse is installed: uninstall it first (uninstall.ps1).'
    1639 = 'msiexec refused the command line (a value holding a double quote?).'
    1925 = 'Administrator rights are needed.'
}

function Stop-Script {
    param([Parameter(Mandatory)][string]$Message, [int]$Code = 1)
    [Console]::Error.WriteLine("dexpulse install: $Message")
    exit $Code
}

function Format-MsiProperty {
    # NAME="value", a double quote inside doubled, as msiexec reads it.
    param([Parameter(Mandatory)][string]$Name, [AllowEmptyString()][string]$Value)
    return "$Name=`"$($Value -replace '"', '""')`""
}

function ConvertTo-PlainText {
    param([object]$Secret)
    if ($null -eq $Secret) { return '' }
    if ($Secret -is [securestring]) {
        $bstr = [Runtime.InteropServices.Marshal]::SecureStringToBSTR($Secret)
        try { return [Runtime.InteropServices.Marshal]::PtrToStringBSTR($bstr) }
        finally { [Runtime.InteropServices.Marshal]::ZeroFreeBSTR($bstr) }
    }
    if ($Secret -is [string]) { return $Secret }
    Stop-Script '-EnrollmentSecret must be a string or a SecureString'
}

function ConvertTo-TagList {
    # @{ site = 'HQ'; department = 'Sales' } -> 'department=Sales,site=HQ'
    param([hashtable]$Table)
    $pairs = foreach ($key in ($Table.Keys | Sort-Object)) {
        $name = "$key".Trim()
        $value = "$($Table[$key])".Trim()
        if (-not $name -or $name -match '[,="]') { Stop-Script "bad tag name '$key' (no comma, = or quote)" }
        if ($value -match '[,"]') { Stop-Script "bad value for tag '$name' (no comma or quote)" }
        "$name=$value"
    }
    return (@($pairs) -join ',')
}

# -- arguments and prerequisites -----------------------------------------------------------
$principal = [Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Stop-Script 'run this elevated (as an administrator, or as SYSTEM from the RMM tool)'
}
if (-not (Test-Path -LiteralPath $Msi -PathType Leaf)) { Stop-Script "no such MSI: $Msi" }
$MsiPath = (Resolve-Path -LiteralPath $Msi).Path
$Secret = ConvertTo-PlainText $EnrollmentSecret
$CollectorUrl = $CollectorUrl.Trim()
if ([bool]$CollectorUrl -ne [bool]$Secret) {
    Stop-Script 'give both -CollectorUrl and -EnrollmentSecret, or neither'
}
if ($CollectorUrl -and $CollectorUrl -notmatch '^https?://') {
    Stop-Script "the collector URL must start with https:// or http://: $CollectorUrl"
}
if ($CollectorUrl.Contains('"') -or $Secret.Contains('"')) {
    Stop-Script 'the collector URL and the secret cannot hold a double quote'
}
$TagList = ConvertTo-TagList $Tags
if (-not $CollectorUrl) {
    Write-Warning 'No -CollectorUrl: the agent is installed without a config and does not enroll.'
}

# -- msiexec -------------------------------------------------------------------------------
$properties = @()
if ($CollectorUrl) {
    $properties += Format-MsiProperty 'COLLECTOR_URL' $CollectorUrl
    $properties += Format-MsiProperty 'ENROLLMENT_SECRET' $Secret
    if ($TagList) { $properties += Format-MsiProperty 'TAGS' $TagList }
}
$arguments = @('/i', "`"$MsiPath`"", '/qn', '/norestart') + $properties + @('/l*v', "`"$LogPath`"")
$shown = $arguments -join ' '
if ($Secret) { $shown = $shown.Replace($Secret, '********') }
Write-Host "msiexec $shown"
$msiexec = Join-Path $env:SystemRoot 'System32\msiexec.exe'
$process = Start-Process -FilePath $msiexec -ArgumentList ($arguments -join ' ') -Wait -PassThru -NoNewWindow
$code = $process.ExitCode

$meaning = $MsiExitCodes[$code]
if (-not $meaning) { $meaning = "msiexec exited with $code (a Windows Installer error code)." }
if ($code -notin @(0, 3010, 1641)) {
    Stop-Script "$meaning Log: $LogPath" $code
}
Write-Host $meaning
if ($code -eq 1641) { exit $code }

# -- the service ---------------------------------------------------------------------------
$deadline = (Get-Date).AddSeconds($TimeoutSeconds)
$service = $null
while ($true) {
    $service = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
    if ($service -and $service.Status -eq 'Running') { break }
    if ((Get-Date) -ge $deadline) { break }
    Start-Sleep -Seconds 2
}
if (-not $service -or $service.Status -ne 'Running') {
    $state = if ($service) { $service.Status } else { 'not installed' }
    Stop-Script ("the $ServiceName service is $state after $TimeoutSeconds s; see " +
        'C:\ProgramData\dexpulse\logs\agent.log and the Application event log (source dexpulse)') 2
}
Write-Host "The $ServiceName service is running."

# The program and config the service runs with, from its command line.
$commandLine = (Get-CimInstance -ClassName Win32_Service -Filter "Name='$ServiceName'").PathName
if ($commandLine -match '^"([^"]+)"') {
    $exe = $Matches[1]
    $statusArgs = @('agent')
    if ($commandLine -match '--config\s+"([^"]+)"') { $statusArgs += @('--config', $Matches[1]) }
    $statusArgs += 'status'
    & $exe @statusArgs
    if ($LASTEXITCODE -ne 0) { Write-Warning "dexpulse agent status exited with $LASTEXITCODE" }
} else {
    Write-Warning "Cannot read the program from the service's command line: $commandLine"
}
exit $code
