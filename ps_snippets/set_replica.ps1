<#
    set_replica: designate the server a replica of its upstream server, or release it.

    Runs on Windows PowerShell 2.0 to 5.1 on the WSUS server itself. A replica inherits approvals and
    computer groups from its upstream server, so it must sync from an upstream server, not from
    Microsoft Update (Save() refuses IsReplicaServer with SyncFromMicrosoftUpdate). Saves only when
    the flag differs; waits at most $ReadyTimeoutSeconds for a previous save to finish.
#>
param(
    [bool]$IsReplicaServer,
    [int]$ReadyTimeoutSeconds
)
$ErrorActionPreference = 'Stop'

[void][Reflection.Assembly]::LoadWithPartialName('Microsoft.UpdateServices.Administration')
$server = [Microsoft.UpdateServices.Administration.AdminProxy]::GetUpdateServer()
$config = $server.GetConfiguration()

$changed = @()
if ($config.IsReplicaServer -ne $IsReplicaServer) {
    if ($IsReplicaServer -and $config.SyncFromMicrosoftUpdate) {
        throw 'A replica synchronizes from an upstream WSUS server; set the update source to the upstream server first.'
    }
    if ([string]$server.GetSubscription().GetSynchronizationStatus() -ne 'NotProcessing') {
        throw 'A synchronization is in progress; WSUS saves no configuration change until it ends.'
    }
    $waited = 0
    while ([string]$config.GetUpdateServerConfigurationState() -ne 'Ready') {
        if ($waited -ge $ReadyTimeoutSeconds) {
            throw "The configuration state is still $([string]$config.GetUpdateServerConfigurationState()) after $waited s; a previous save is still processing."
        }
        Start-Sleep -Seconds 1
        $waited += 1
    }
    $config.IsReplicaServer = $IsReplicaServer
    $config.Save()
    $changed += 'IsReplicaServer'
    $config = $server.GetConfiguration()
}

@{
    Changed                 = $changed
    IsReplicaServer         = [bool]$config.IsReplicaServer
    SyncFromMicrosoftUpdate = [bool]$config.SyncFromMicrosoftUpdate
    UpstreamWsusServerName  = [string]$config.UpstreamWsusServerName
}
