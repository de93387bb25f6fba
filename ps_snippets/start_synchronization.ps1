<#
    start_synchronization: start a synchronization with the upstream server or Microsoft Update.

    Runs on Windows PowerShell 2.0 to 5.1 on the WSUS server itself. StartSynchronization() returns
    at once (the sync runs in the WSUS service); the caller polls get_synchronization_status. A sync
    already running is not started twice: Started is then false and the running one is reported.
    $CategoryOnly synchronizes products and classifications only.
#>
param(
    [bool]$CategoryOnly
)
$ErrorActionPreference = 'Stop'

[void][Reflection.Assembly]::LoadWithPartialName('Microsoft.UpdateServices.Administration')
$server = [Microsoft.UpdateServices.Administration.AdminProxy]::GetUpdateServer()
$subscription = $server.GetSubscription()

$started = $false
$status = [string]$subscription.GetSynchronizationStatus()
if ($status -eq 'NotProcessing') {
    if ($CategoryOnly) { $subscription.StartSynchronizationForCategoryOnly() } else { $subscription.StartSynchronization() }
    $started = $true
    $status = [string]$subscription.GetSynchronizationStatus()
}

@{
    Started               = $started
    SynchronizationStatus = $status
}
