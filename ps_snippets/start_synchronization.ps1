<#
    start_synchronization: start a synchronization with the upstream server or Microsoft Update.

    Runs on Windows PowerShell 2.0 to 5.1 on the WSUS server itself. StartSynchronization() returns
    at once, before the sync shows (it runs in the WSUS service and starts a moment later); the
    caller polls get_synchronization_status. PreviousSynchronizationId is the Id of the last
    synchronization before this start, read first: a result with that Id is not this start's. A
    sync already running is not started twice: Started is then false and the running one is reported.
    StartSynchronization() throws while WSUS is saving configuration changes, so the snippet waits
    for the configuration state to be Ready first, at most $ReadyTimeoutSeconds.
    $CategoryOnly synchronizes products and classifications only.
#>
param(
    [bool]$CategoryOnly,
    [int]$ReadyTimeoutSeconds
)
$ErrorActionPreference = 'Stop'

[void][Reflection.Assembly]::LoadWithPartialName('Microsoft.UpdateServices.Administration')
# The connection every snippet makes (one text, the same in each). A server set up for SSL (setup key
# UsingSSL = 1) serves the administration API only over SSL, so GetUpdateServer() fails there: connect
# to the name on its certificate (this machine's DNS name), with SSL, on the key's PortNumber. Both
# values are known from community scripts only, so each is probed; without them, the local default.
$wsusSetup = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Update Services\Server\Setup' -ErrorAction SilentlyContinue
if ($wsusSetup -ne $null -and ($wsusSetup | Get-Member -Name UsingSSL) -and ($wsusSetup | Get-Member -Name PortNumber) -and [string]$wsusSetup.UsingSSL -eq '1') {
    $wsusHostName = [System.Net.Dns]::GetHostEntry([System.Net.Dns]::GetHostName()).HostName
    $server = [Microsoft.UpdateServices.Administration.AdminProxy]::GetUpdateServer($wsusHostName, $true, [int]$wsusSetup.PortNumber)
} else {
    $server = [Microsoft.UpdateServices.Administration.AdminProxy]::GetUpdateServer()
}
$subscription = $server.GetSubscription()

$started = $false
# The last synchronization first, then the status: a sync running now is newer than that one.
$previousId = [string]$subscription.GetLastSynchronizationInfo().Id
$status = [string]$subscription.GetSynchronizationStatus()
if ($status -eq 'NotProcessing') {
    # The enum compares by name; after the wait, a refusal while busy is the same busy.
    $waited = 0
    $state = [string]$server.GetConfiguration().GetUpdateServerConfigurationState()
    while ($state -ne 'Ready') {
        if ($waited -ge $ReadyTimeoutSeconds) {
            throw "WSUS busy (retry later): after $waited s the configuration state is $state; WSUS starts no synchronization until the previous save is processed."
        }
        Start-Sleep -Seconds 1
        $waited += 1
        $state = [string]$server.GetConfiguration().GetUpdateServerConfigurationState()
    }
    $previousId = [string]$subscription.GetLastSynchronizationInfo().Id
    try {
        if ($CategoryOnly) { $subscription.StartSynchronizationForCategoryOnly() } else { $subscription.StartSynchronization() }
    } catch {
        $state = [string]$server.GetConfiguration().GetUpdateServerConfigurationState()
        if ($state -ne 'Ready') {
            throw "WSUS busy (retry later): StartSynchronization() was refused while the configuration state is $state."
        }
        throw $_
    }
    $started = $true
    $status = [string]$subscription.GetSynchronizationStatus()
}

@{
    Started                   = $started
    SynchronizationStatus     = $status
    PreviousSynchronizationId = $previousId
}
