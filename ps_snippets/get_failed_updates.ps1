<#
    get_failed_updates: the updates whose files this server failed to download (the red X on the
    console's Updates page; UpdateState Failed: "one or more of the required files could not be
    retrieved from the upstream server").

    Runs on Windows PowerShell 2.0 to 5.1 on the WSUS server itself. Reads only. Returns at most
    $MaxUpdates of them and the total count.
#>
param(
    [int]$MaxUpdates,
    [int]$LookbackDays
)
$ErrorActionPreference = 'Stop'

# Not GetUpdates(): on a real server that materialises every update of the catalog (tens of
# thousands of objects). Every failed file download leaves a server event 364
# (ContentSynchronizationFileDownloadFailed) that names its update (IUpdateEvent.UpdateId, an
# UpdateRevisionId); only those updates are fetched, one GetUpdate each (UpdateRevisionId(Guid):
# revision 0 is the latest revision), and counted while their State is still Failed. An update
# deleted since throws WsusObjectNotFoundException: it is no longer there to fail.

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

$to = (Get-Date).ToUniversalTime()
$from = $to.AddDays(-$LookbackDays)
$eventIds = [Microsoft.UpdateServices.Administration.WsusEventId[]]@(364)
$downloadEvents = $server.GetUpdateEventHistory($from, $to, [Guid]::Empty, 'Server', $eventIds)

$seen = @{}
$failed = @()
$total = 0
foreach ($downloadEvent in $downloadEvents) {
    if (-not $downloadEvent.HasAssociatedUpdate) { continue }
    $id = ([string]$downloadEvent.UpdateId.UpdateId).ToLower()
    if ($seen.ContainsKey($id)) { continue }
    $seen[$id] = $true
    $revision = New-Object Microsoft.UpdateServices.Administration.UpdateRevisionId ([Guid]$id)
    try {
        $update = $server.GetUpdate($revision)
    } catch {
        $inner = $_.Exception.InnerException
        if ($inner -ne $null -and $inner.GetType().Name -eq 'WsusObjectNotFoundException') { continue }
        throw
    }
    if ([string]$update.State -eq 'Failed') {
        $total += 1
        if ($failed.Count -lt $MaxUpdates) {
            $failed += @{
                UpdateId   = ([string]$update.Id.UpdateId).ToLower()
                Title      = [string]$update.Title
                IsApproved = [bool]$update.IsApproved
            }
        }
    }
}

@{
    FailedUpdates     = $failed
    FailedUpdateCount = $total
}
