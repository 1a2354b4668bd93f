<#
.SYNOPSIS
    Uninstall the dexpulse agent silently; with -Purge, also delete its data.

.DESCRIPTION
    Finds the installed dexpulse by the MSI's UpgradeCode (any version), or failing that by
    the uninstall entry named dexpulse, and runs
        msiexec /x {ProductCode} /qn /norestart /l*v <LogPath>
    which stops and deletes the dexpulse service, removes the program and the tray's Run
    value. C:\ProgramData\dexpulse (config, device credentials, unsent samples, logs) is kept,
    so a reinstall is the same device, unless -Purge is given: it is then deleted once the
    service is gone. The collector keeps the device's record either way. A Run value a user
    set for themselves (`dexpulse tray --autostart on`, under HKCU) is not theirs to remove
    here; it fails harmlessly once the program is gone.

    Exit codes: 0 removed (or was not installed); 3010 removed, a restart finishes it; 1 not
    elevated, or the purge failed; 2 the service was still there after -TimeoutSeconds;
    otherwise msiexec's failure code (1603, 1618, ...).

.PARAMETER Purge
    Also delete C:\ProgramData\dexpulse.

.PARAMETER LogPath
    msiexec's verbose log (default C:\Windows\Temp\dexpulse-uninstall.log).

.PARAMETER TimeoutSeconds
    How long to wait for the service to be deleted.

.EXAMPLE
    .\uninstall.ps1 -Purge
#>
[CmdletBinding()]
param(
    [switch]$Purge,
    [string]$LogPath = (Join-Path $env:SystemRoot 'Temp\dexpulse-uninstall.log'),
    [int]$TimeoutSeconds = 120
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$ServiceName = 'dexpulse'
$UpgradeCode = '{B196DE2F-68AB-486A-A99A-EAD97A6A5968}'  # dexpulse.wxs, Package/@UpgradeCode
$DisplayName = 'dexpulse'                                 # dexpulse.wxs, Package/@Name
$StateDir = Join-Path $env:ProgramData 'dexpulse'

function Stop-Script {
    param([Parameter(Mandatory)][string]$Message, [int]$Code = 1)
    [Console]::Error.WriteLine("dexpulse uninstall: $Message")
    exit $Code
}

function Get-DexpulseProductCode {
    # Every installed product with our UpgradeCode, through the Windows Installer API...
    $codes = @()
    try {
        $installer = New-Object -ComObject WindowsInstaller.Installer
        $related = $installer.GetType().InvokeMember(
            'RelatedProducts', 'GetProperty', $null, $installer, @($UpgradeCode))
        $codes = @(foreach ($code in $related) { $code })
    } catch {
        Write-Verbose "Windows Installer API not usable ($_); reading the uninstall entries"
    }
    if ($codes.Count -gt 0) { return $codes }
    # ...or the uninstall entries of the 64-bit registry view, keyed by ProductCode.
    $entries = Get-ChildItem -Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall' -ErrorAction SilentlyContinue
    return @(foreach ($entry in $entries) {
        $name = $entry.GetValue('DisplayName')
        if ($name -eq $DisplayName -and $entry.PSChildName -match '^\{[0-9A-Fa-f-]{36}\}$') {
            $entry.PSChildName
        }
    })
}

$principal = [Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Stop-Script 'run this elevated (as an administrator, or as SYSTEM from the RMM tool)'
}

$result = 0
$products = @(Get-DexpulseProductCode)
if ($products.Count -eq 0) {
    Write-Host 'dexpulse is not installed.'
}
$msiexec = Join-Path $env:SystemRoot 'System32\msiexec.exe'
foreach ($product in $products) {
    $arguments = "/x $product /qn /norestart /l*v `"$LogPath`""
    Write-Host "msiexec $arguments"
    $process = Start-Process -FilePath $msiexec -ArgumentList $arguments -Wait -PassThru -NoNewWindow
    switch ($process.ExitCode) {
        0 { Write-Host "Removed $product." }
        3010 { Write-Host "Removed $product; a restart finishes it (files were in use)."; $result = 3010 }
        1605 { Write-Host "$product was not installed after all." }
        1618 { Stop-Script "another installation is in progress; try again in a few minutes. Log: $LogPath" 1618 }
        1603 { Stop-Script "the uninstall failed; in the log find `"Return value 3`". Log: $LogPath" 1603 }
        default { Stop-Script "msiexec exited with $($process.ExitCode) (a Windows Installer error code). Log: $LogPath" $process.ExitCode }
    }
}

# The service is deleted by the uninstall; wait until the SCM has let it go.
$deadline = (Get-Date).AddSeconds($TimeoutSeconds)
while (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue) {
    if ((Get-Date) -ge $deadline) {
        Stop-Script "the $ServiceName service still exists after $TimeoutSeconds s; nothing purged" 2
    }
    Start-Sleep -Seconds 2
}

if ($Purge) {
    if (Test-Path -LiteralPath $StateDir) {
        try {
            Remove-Item -LiteralPath $StateDir -Recurse -Force
        } catch {
            Stop-Script "could not delete ${StateDir}: $_ (a tray still running? sign out its users and try again)"
        }
        Write-Host "Deleted $StateDir."
    } else {
        Write-Host "$StateDir does not exist."
    }
} elseif (Test-Path -LiteralPath $StateDir) {
    Write-Host "Kept $StateDir (config and device identity); -Purge deletes it."
}
exit $result
