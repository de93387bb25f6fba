<#
    list_inactive_approvals: run "wsusutil listinactiveapprovals" on this server and return its lines.

    "Issues with Synchronization": when the number of updates approved on a parent upstream server
    does not match the number approved on a replica server, "This might occur if you have changed
    language settings on the parent upstream server after first synchronizing with the old language
    settings. For more information see "Listinactiveapprovals" in Managing WSUS 3.0 from the Command
    Line." Replicas synchronize only active approvals, so this runs on the parent.

    Runs on Windows PowerShell 2.0 to 5.1 on the WSUS server itself. Reads only. WsusUtil.exe is in
    the Tools folder of the WSUS installation folder, which the setup key's TargetDir names. Its
    output's format is not documented: the lines are returned as they are (blank ones dropped), with
    the tool's exit code, for a person to read.
#>
param(
    [string]$SetupRegistryPath
)
$ErrorActionPreference = 'Stop'

$targetDir = [string](Get-ItemProperty -Path $SetupRegistryPath).TargetDir
$tool = Join-Path (Join-Path $targetDir 'Tools') 'WsusUtil.exe'
if (-not (Test-Path -LiteralPath $tool -PathType Leaf)) {
    throw "WsusUtil.exe is not at $tool (TargetDir in the setup key: '$targetDir')."
}

# Windows PowerShell turns a native tool's error output into an error record when redirected with
# 2>&1, and 'Stop' would end the snippet at its first line: keep them as text for the caller.
$ErrorActionPreference = 'Continue'
$output = & $tool listinactiveapprovals 2>&1
$exitCode = $LASTEXITCODE
$ErrorActionPreference = 'Stop'

$lines = @()
foreach ($line in @($output)) {
    $text = ([string]$line).Trim()
    if ($text -ne '') { $lines += $text }
}

@{
    Tool     = $tool
    ExitCode = [int]$exitCode
    Lines    = $lines
}
