<#
    set_update_source: synchronize from Microsoft Update, or from an upstream WSUS server.

    Runs on Windows PowerShell 2.0 to 5.1 on the WSUS server itself. Changes only the members named
    in $Members, and calls Save() only when one of them differs. Save() refuses while a
    synchronization runs or a previous save is still processing (up to three minutes), so the
    snippet waits for the configuration state to be Ready, at most $ReadyTimeoutSeconds.
#>
param(
    [string[]]$Members,
    [bool]$SyncFromMicrosoftUpdate,
    [string]$UpstreamWsusServerName,
    [int]$UpstreamWsusServerPortNumber,
    [bool]$UpstreamWsusServerUseSsl,
    [int]$ReadyTimeoutSeconds
)
$ErrorActionPreference = 'Stop'

[void][Reflection.Assembly]::LoadWithPartialName('Microsoft.UpdateServices.Administration')
$server = [Microsoft.UpdateServices.Administration.AdminProxy]::GetUpdateServer()
$config = $server.GetConfiguration()

$changed = @()
foreach ($member in $Members) {
    if ($member -eq 'SyncFromMicrosoftUpdate') {
        if ($config.SyncFromMicrosoftUpdate -ne $SyncFromMicrosoftUpdate) {
            $config.SyncFromMicrosoftUpdate = $SyncFromMicrosoftUpdate
            $changed += $member
        }
    } elseif ($member -eq 'UpstreamWsusServerName') {
        if ($config.UpstreamWsusServerName -ne $UpstreamWsusServerName) {
            $config.UpstreamWsusServerName = $UpstreamWsusServerName
            $changed += $member
        }
    } elseif ($member -eq 'UpstreamWsusServerPortNumber') {
        if ($config.UpstreamWsusServerPortNumber -ne $UpstreamWsusServerPortNumber) {
            $config.UpstreamWsusServerPortNumber = $UpstreamWsusServerPortNumber
            $changed += $member
        }
    } elseif ($member -eq 'UpstreamWsusServerUseSsl') {
        if ($config.UpstreamWsusServerUseSsl -ne $UpstreamWsusServerUseSsl) {
            $config.UpstreamWsusServerUseSsl = $UpstreamWsusServerUseSsl
            $changed += $member
        }
    } else {
        throw "set_update_source cannot set the member '$member'."
    }
}

if ($changed.Count -gt 0) {
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
    $config.Save()
    $config = $server.GetConfiguration()
}

@{
    Changed                      = $changed
    SyncFromMicrosoftUpdate      = [bool]$config.SyncFromMicrosoftUpdate
    UpstreamWsusServerName       = [string]$config.UpstreamWsusServerName
    UpstreamWsusServerPortNumber = [int]$config.UpstreamWsusServerPortNumber
    UpstreamWsusServerUseSsl     = [bool]$config.UpstreamWsusServerUseSsl
    IsReplicaServer              = [bool]$config.IsReplicaServer
}
