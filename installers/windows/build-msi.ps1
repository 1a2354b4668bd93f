<#
.SYNOPSIS
    Build the dexpulse MSI on Windows: frozen agent (PyInstaller onedir), then WiX.

.DESCRIPTION
    1. Creates a virtual environment under build\msi\venv and installs dexpulse with its agent
       and tray extras, and PyInstaller, into it.
    2. Runs PyInstaller on installers\frozen\dexpulse.spec: build\msi\dist\dexpulse\dexpulse.exe
       plus _internal\.
    3. Reads the version from the frozen program (dexpulse.exe --version), which also proves
       it starts, and turns it into an MSI ProductVersion (three numbers).
    4. Installs the WiX .NET tool and its Util extension when missing (needs the .NET SDK).
    5. Signs dexpulse.exe and dexpulse-tray.exe, builds the MSI, and signs the MSI, when DEXPULSE_SIGN_CERT is set:
       a .pfx path (password in DEXPULSE_SIGN_PASSWORD) or the SHA-1 thumbprint of a
       certificate in the certificate store. DEXPULSE_SIGN_TIMESTAMP_URL picks the RFC 3161
       timestamp server (default http://timestamp.digicert.com).

    The MSI is written to -OutDir as dexpulse-<version>-x64.msi.

.PARAMETER Python
    The Python 3.11+ to create the virtual environment with (default: the py launcher's 3.11+,
    else python on PATH).

.PARAMETER OutDir
    Where the MSI goes (default: dist\ under the repository).

.PARAMETER WixVersion
    The WiX tool version to install when wix is missing (5 or later: the .wxs uses Files).

.EXAMPLE
    powershell -ExecutionPolicy Bypass -File installers\windows\build-msi.ps1
#>
[CmdletBinding()]
param(
    [string]$Python = '',
    [string]$OutDir = '',
    [string]$WixVersion = '5.0.2'
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '..\..')).Path
$Work = Join-Path $RepoRoot 'build\msi'
$Venv = Join-Path $Work 'venv'
$Dist = Join-Path $Work 'dist'
$SourceDir = Join-Path $Dist 'dexpulse'
$Exe = Join-Path $SourceDir 'dexpulse.exe'
$Spec = Join-Path $RepoRoot 'installers\frozen\dexpulse.spec'
$Wxs = Join-Path $PSScriptRoot 'dexpulse.wxs'
if (-not $OutDir) { $OutDir = Join-Path $RepoRoot 'dist' }

function Invoke-Native {
    # Run a program; stop the build when it exits non-zero ($ErrorActionPreference does not
    # apply to native programs).
    param([Parameter(Mandatory)][string]$FilePath, [string[]]$ArgumentList = @())
    Write-Host "> $FilePath $($ArgumentList -join ' ')"
    & $FilePath @ArgumentList
    if ($LASTEXITCODE -ne 0) {
        throw "$FilePath exited with code $LASTEXITCODE"
    }
}

function Find-Python {
    if ($Python) { return @($Python) }
    if (Get-Command py -ErrorAction SilentlyContinue) { return @('py', '-3') }
    if (Get-Command python -ErrorAction SilentlyContinue) { return @('python') }
    throw 'No Python found: install Python 3.11 or later, or pass -Python C:\path\to\python.exe'
}

function Find-SignTool {
    $onPath = Get-Command signtool.exe -ErrorAction SilentlyContinue
    if ($onPath) { return $onPath.Source }
    $kits = Join-Path ${env:ProgramFiles(x86)} 'Windows Kits\10\bin'
    $found = Get-ChildItem -Path $kits -Filter signtool.exe -Recurse -ErrorAction SilentlyContinue |
        Where-Object { $_.FullName -like '*\x64\signtool.exe' } |
        Sort-Object FullName -Descending |
        Select-Object -First 1
    if (-not $found) { throw 'DEXPULSE_SIGN_CERT is set but signtool.exe was not found (Windows SDK)' }
    return $found.FullName
}

function Invoke-Sign {
    param([Parameter(Mandatory)][string]$Path)
    $cert = $env:DEXPULSE_SIGN_CERT
    if (-not $cert) { return }
    $timestamp = $env:DEXPULSE_SIGN_TIMESTAMP_URL
    if (-not $timestamp) { $timestamp = 'http://timestamp.digicert.com' }
    $signArgs = @('sign', '/fd', 'SHA256', '/tr', $timestamp, '/td', 'SHA256')
    if (Test-Path -LiteralPath $cert -PathType Leaf) {
        $signArgs += @('/f', $cert)
        if ($env:DEXPULSE_SIGN_PASSWORD) { $signArgs += @('/p', $env:DEXPULSE_SIGN_PASSWORD) }
    } else {
        $signArgs += @('/sha1', $cert)
    }
    $signArgs += $Path
    $signtool = Find-SignTool
    # Not through Invoke-Native: that would echo the password.
    Write-Host "> signtool sign ... $Path"
    & $signtool @signArgs
    if ($LASTEXITCODE -ne 0) { throw "signtool exited with code $LASTEXITCODE for $Path" }
}

function ConvertTo-MsiVersion {
    # 1.2.3, 1.2.3.dev4, 1.2.3rc1 -> 1.2.3 (MSI compares only the first three numbers).
    param([Parameter(Mandatory)][string]$Version)
    if ($Version -notmatch '^(\d+)\.(\d+)(?:\.(\d+))?') {
        throw "Cannot make an MSI version of '$Version'"
    }
    $major = [int]$Matches[1]
    $minor = [int]$Matches[2]
    $build = 0
    if ($Matches.ContainsKey(3)) { $build = [int]$Matches[3] }
    if ($major -gt 255 -or $minor -gt 255 -or $build -gt 65535) {
        throw "'$Version' is beyond what an MSI version holds (255.255.65535)"
    }
    $msi = "$major.$minor.$build"
    if ($msi -ne $Version) {
        Write-Warning "MSI version $msi stands for ${Version}; two builds of it cannot upgrade each other"
    }
    return $msi
}

# -- 1. virtual environment ----------------------------------------------------------------
New-Item -ItemType Directory -Force -Path $Work | Out-Null
$VenvPython = Join-Path $Venv 'Scripts\python.exe'
if (-not (Test-Path -LiteralPath $VenvPython)) {
    $py = @(Find-Python)
    $pyArgs = @()
    if ($py.Count -gt 1) { $pyArgs = $py[1..($py.Count - 1)] }
    Invoke-Native -FilePath $py[0] -ArgumentList ($pyArgs + @('-m', 'venv', $Venv))
}
Invoke-Native -FilePath $VenvPython -ArgumentList @('-m', 'pip', 'install', '--quiet', '--upgrade', 'pip')
Invoke-Native -FilePath $VenvPython -ArgumentList @(
    '-m', 'pip', 'install', '--quiet', "$($RepoRoot)[agent,tray]", 'pyinstaller>=6.3'
)

# -- 2. frozen program ---------------------------------------------------------------------
if (-not (Test-Path -LiteralPath $Spec)) { throw "Missing $Spec" }
Invoke-Native -FilePath $VenvPython -ArgumentList @(
    '-m', 'PyInstaller', '--noconfirm', '--clean',
    '--distpath', $Dist, '--workpath', (Join-Path $Work 'pyinstaller'), $Spec
)
if (-not (Test-Path -LiteralPath $Exe)) { throw "PyInstaller did not produce $Exe" }

# -- 3. version ----------------------------------------------------------------------------
$printed = (& $Exe --version | Out-String).Trim()
if ($LASTEXITCODE -ne 0) { throw "$Exe --version exited with code $LASTEXITCODE" }
if ($printed -match '^dexpulse\s+(\S+)$') {
    $Version = $Matches[1]
} else {
    # A windowed build has no console to print to; the installed metadata says the same.
    Write-Warning "$Exe --version printed '$printed'; reading the version from the package"
    $Version = (& $VenvPython -c "from importlib.metadata import version; print(version('dexpulse'))" | Out-String).Trim()
    if ($LASTEXITCODE -ne 0 -or -not $Version) { throw 'Cannot read the dexpulse version' }
}
$MsiVersion = ConvertTo-MsiVersion $Version
Write-Host "dexpulse $Version (MSI $MsiVersion)"

# -- 4. WiX --------------------------------------------------------------------------------
if (-not (Get-Command wix -ErrorAction SilentlyContinue)) {
    if (-not (Get-Command dotnet -ErrorAction SilentlyContinue)) {
        throw 'WiX is not installed and neither is the .NET SDK (dotnet) to install it with'
    }
    Invoke-Native -FilePath 'dotnet' -ArgumentList @('tool', 'install', '--global', 'wix', '--version', $WixVersion)
    $env:PATH = "$env:PATH;$(Join-Path $env:USERPROFILE '.dotnet\tools')"
}
$wixVersionNow = (& wix --version | Out-String).Trim()
if ($LASTEXITCODE -ne 0) { throw "wix --version exited with code $LASTEXITCODE" }
$extensions = (& wix extension list -g | Out-String)
if ($LASTEXITCODE -ne 0) { throw "wix extension list exited with code $LASTEXITCODE" }
if ($extensions -notmatch 'WixToolset\.Util\.wixext') {
    $wixRelease = ($wixVersionNow -split '\+')[0]
    Invoke-Native -FilePath 'wix' -ArgumentList @('extension', 'add', '-g', "WixToolset.Util.wixext/$wixRelease")
}

# -- 5. sign, build, sign ------------------------------------------------------------------
Invoke-Sign -Path $Exe
Invoke-Sign -Path (Join-Path $SourceDir 'dexpulse-tray.exe')  # the tray's windowed twin
New-Item -ItemType Directory -Force -Path $OutDir | Out-Null
$Msi = Join-Path $OutDir "dexpulse-$MsiVersion-x64.msi"
Invoke-Native -FilePath 'wix' -ArgumentList @(
    'build', '-arch', 'x64', '-ext', 'WixToolset.Util.wixext',
    '-d', "Version=$MsiVersion", '-d', "SourceDir=$SourceDir",
    $Wxs, '-o', $Msi
)
Invoke-Sign -Path $Msi
Write-Host "Built $Msi"
