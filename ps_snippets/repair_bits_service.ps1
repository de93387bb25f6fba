<#
    repair_bits_service: the documented fix for "the BITS service was disabled during synchronization".

    "Issues with Synchronization" and "Synchronization issues", Restart the BITS service: "restart
    both the BITS service and the WSUS service". BITS' startup type must not be Disabled (set to
    Manual, as "Issues with Synchronization" does); BITS is started if it is not running, else
    restarted ("click Restart, or click Start if the BITS service is not running or has been
    disabled"); then the WSUS service is started, or restarted if it runs; both are to start on
    reboot (the WSUS service: Automatic). Runs on Windows PowerShell 2.0 to 5.1 on the WSUS server
    itself. Touches nothing when both services run and start as they should, so a second run changes
    nothing.
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
$wsus = Get-ServiceState $WsusServiceName
$needed = ($bits.StartMode -eq 'Disabled') -or ($bits.State -ne 'Running') -or ($wsus.StartMode -ne 'Auto') -or ($wsus.State -ne 'Running')
if ($needed) {
    if ($bits.StartMode -eq 'Disabled') {
        Set-Service -Name $BitsServiceName -StartupType Manual
        $changed += 'BitsStartMode'
    }
    if ($bits.State -ne 'Running') {
        Start-Service -Name $BitsServiceName
        $changed += 'BitsState'
    } else {
        # BITS runs, yet a service is not as it should be: the documents restart BITS too.
        Restart-Service -Name $BitsServiceName
        $changed += 'BitsRestarted'
    }
    if ($wsus.StartMode -ne 'Auto') {
        Set-Service -Name $WsusServiceName -StartupType Automatic
        $changed += 'WsusStartMode'
    }
    if ($wsus.State -ne 'Running') {
        Start-Service -Name $WsusServiceName
        $changed += 'WsusState'
    } else {
        Restart-Service -Name $WsusServiceName
        $changed += 'WsusRestarted'
    }
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
