<#
    get_failed_updates: the updates whose files this server failed to download (the red X on the
    console's Updates page; UpdateState Failed: "one or more of the required files could not be
    retrieved from the upstream server").

    Runs on Windows PowerShell 2.0 to 5.1 on the WSUS server itself. Reads only. Returns at most
    $MaxUpdates of them, how many it found, how many the server's status counts, and for each which
    lookup named it (ListedBy: 'events' or 'approved-updates').
#>
param(
    [int]$MaxUpdates,
    [int]$LookbackDays
)
$ErrorActionPreference = 'Stop'

# Not GetUpdates(): on a real server that materialises every update of the catalog (tens of
# thousands of objects). First the server events: every failed file download leaves a server event
# 364 (ContentSynchronizationFileDownloadFailed) that names its update (IUpdateEvent.UpdateId, an
# UpdateRevisionId); only those updates are fetched, one GetUpdate each (UpdateRevisionId(Guid):
# revision 0 is the latest revision), and counted while their State is still Failed. An update
# deleted since throws WsusObjectNotFoundException: it is no longer there to fail.
# Whether Guid.Empty means "every update" to GetUpdateEventHistory is not documented (Microsoft's page
# names it "the update whose ... events you want to get"), events expire (ServerEventExpirationTime)
# and a download may have failed before the lookback. So the events are checked against the count the
# server keeps (UpdateServerStatus.UpdatesWithServerErrorsCount): when they name fewer failed updates,
# the approved updates are searched too. A failed download concerns an approved update only
# (UpdateState.Failed: "approved ... but failed because ... the required files could not be
# retrieved", ms752993), so GetUpdates(UpdateScope) with UpdateScope.ApprovedStates (aa353751) =
# ApprovedStates.LatestRevisionApproved ("updates whose latest revision is approved", aa354257)
# materialises the approved updates, not the catalog.

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

$serverErrorsCount = [int]$server.GetStatus().UpdatesWithServerErrorsCount

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
                ListedBy   = 'events'
            }
        }
    }
}

$searchedApproved = $false
if ($total -lt $serverErrorsCount) {
    # The events named fewer than the status counts: the failed ones among the approved updates,
    # besides those the events named (an update is listed once).
    $searchedApproved = $true
    $scope = New-Object Microsoft.UpdateServices.Administration.UpdateScope
    $scope.ApprovedStates = [Microsoft.UpdateServices.Administration.ApprovedStates]::LatestRevisionApproved
    foreach ($update in $server.GetUpdates($scope)) {
        if ([string]$update.State -ne 'Failed') { continue }
        $id = ([string]$update.Id.UpdateId).ToLower()
        if ($seen.ContainsKey($id)) { continue }
        $seen[$id] = $true
        $total += 1
        if ($failed.Count -lt $MaxUpdates) {
            $failed += @{
                UpdateId   = $id
                Title      = [string]$update.Title
                IsApproved = [bool]$update.IsApproved
                ListedBy   = 'approved-updates'
            }
        }
    }
}

@{
    FailedUpdates                = $failed
    FailedUpdateCount            = $total
    UpdatesWithServerErrorsCount = $serverErrorsCount
    SearchedApprovedUpdates      = $searchedApproved
}
