<#
    decline_updates: cancel and then decline updates on a downstream server, or only read their state.

    "Issues with Synchronization": "If the failed updates are not needed, cancel and then decline the
    updates that are not on the upstream server"; "Synchronization issues": "On the downstream
    server, cancel the updates that are not on the upstream server, if these updates are no longer
    needed. Then decline the old updates on the downstream server." Never on a replica: it inherits
    approvals and declines from its upstream server.

    Runs on Windows PowerShell 2.0 to 5.1 on the WSUS server itself. Each update is fetched by its id
    alone, GetUpdate(UpdateRevisionId(Guid)) (revision 0: the latest revision), never by walking the
    whole catalog with GetUpdates(); one the server does not have throws WsusObjectNotFoundException.
    With $Apply false it only reads. With $Apply true every update is fetched before any changes, and
    an unknown one stops the snippet before it changes anything; an update already declined is left
    alone.
#>
param(
    [string[]]$UpdateIds,
    [bool]$Apply
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
if ($Apply -and $config.IsReplicaServer) {
    throw 'This server is a replica: it inherits approvals and declines from its upstream server, so updates are declined there, not here.'
}

# PowerShell 2.0 runs a foreach over $null once: loop over an array that is never $null.
$ids = @()
if ($null -ne $UpdateIds) { $ids = @($UpdateIds) }

$seen = @{}
$fetched = @()
$unknown = @()
foreach ($id in $ids) {
    $guid = [Guid]([string]$id)
    $key = ([string]$guid).ToLower()
    if ($seen.ContainsKey($key)) { continue }
    $seen[$key] = $true
    $revision = New-Object Microsoft.UpdateServices.Administration.UpdateRevisionId ($guid)
    try {
        $fetched += $server.GetUpdate($revision)
    } catch {
        $inner = $_.Exception.InnerException
        if ($inner -ne $null -and $inner.GetType().Name -eq 'WsusObjectNotFoundException') {
            $unknown += $key
            continue
        }
        throw
    }
}
if ($Apply -and $unknown.Count -gt 0) {
    throw "This server does not have the update(s) $($unknown -join ', '); nothing was declined."
}

$updates = @()
foreach ($update in $fetched) {
    $declined = $false
    if ($Apply -and -not $update.IsDeclined) {
        $update.CancelDownload()
        $update.Decline()
        $update.Refresh()
        $declined = $true
    }
    $updates += @{
        UpdateId   = ([string]$update.Id.UpdateId).ToLower()
        Title      = [string]$update.Title
        State      = [string]$update.State
        IsDeclined = [bool]$update.IsDeclined
        Declined   = $declined
    }
}

@{
    Updates  = $updates
    NotFound = $unknown
}
