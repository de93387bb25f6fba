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
