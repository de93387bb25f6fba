<#
    repair_bits_service: the documented fix for "the BITS service was disabled during synchronization".

    Seed "Issues with Synchronization", Restart the BITS service: BITS' startup type must not be
    Disabled (the seed sets it to Manual), BITS must run, and the WSUS service is restarted; both are
    to start on reboot (the WSUS service: Automatic). Runs on Windows PowerShell 2.0 to 5.1 on the
    WSUS server itself. Changes only what differs; restarts the WSUS service only when BITS or the
    WSUS service needed a change, so a second run changes nothing.
#>
param(
    [string]$BitsServiceName,
    [string]$WsusServiceName
)
$ErrorActionPreference = 'Stop'

function Get-ServiceState([string]$Name) {
    foreach ($service in (Get-WmiObject -Class Win32_Service)) {
        if ($service.Name -eq $Name) {
            return @{ State = [string]$service.State; StartMode = [string]$service.StartMode }
        }
    }
    throw "The service '$Name' does not exist on this server."
}

$changed = @()
$bits = Get-ServiceState $BitsServiceName
if ($bits.StartMode -eq 'Disabled') {
    Set-Service -Name $BitsServiceName -StartupType Manual
    $changed += 'BitsStartMode'
}
if ($bits.State -ne 'Running') {
    Start-Service -Name $BitsServiceName
    $changed += 'BitsState'
}

$wsus = Get-ServiceState $WsusServiceName
if ($wsus.StartMode -ne 'Auto') {
    Set-Service -Name $WsusServiceName -StartupType Automatic
    $changed += 'WsusStartMode'
}
if ($wsus.State -ne 'Running') {
    Start-Service -Name $WsusServiceName
    $changed += 'WsusState'
} elseif ($changed.Count -gt 0) {
    # BITS was repaired under a running WSUS service: the seed restarts the WSUS service too.
    Restart-Service -Name $WsusServiceName
    $changed += 'WsusRestarted'
}

$bits = Get-ServiceState $BitsServiceName
$wsus = Get-ServiceState $WsusServiceName
@{
    Changed       = $changed
    BitsState     = $bits.State
    BitsStartMode = $bits.StartMode
    WsusState     = $wsus.State
    WsusStartMode = $wsus.StartMode
}
