<#
    find_updates: which of the given updates this (upstream) server knows, and in what state.

    "Issues with Synchronization": on a downstream server, note the updates whose download failed,
    then check whether they exist on the upstream server. Runs on Windows PowerShell 2.0 to 5.1 on
    the upstream server itself. Reads only. Update ids compare case-insensitively.
#>
param(
    [string[]]$UpdateIds
)
$ErrorActionPreference = 'Stop'

# Not GetUpdates(): on a real server that materialises every update of the catalog (tens of
# thousands of objects). Each asked update is fetched by its id alone, GetUpdate(UpdateRevisionId)
# (UpdateRevisionId(Guid): revision 0 is the latest revision); one the server does not have throws
# WsusObjectNotFoundException, which means "not here".

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

$seen = @{}
$found = @()
# PowerShell 2.0 runs a foreach over $null once: loop over an array that is never $null.
$ids = @()
if ($null -ne $UpdateIds) { $ids = @($UpdateIds) }
foreach ($id in $ids) {
    $guid = [Guid]([string]$id)
    $key = ([string]$guid).ToLower()
    if ($seen.ContainsKey($key)) { continue }
    $seen[$key] = $true
    $revision = New-Object Microsoft.UpdateServices.Administration.UpdateRevisionId ($guid)
    try {
        $update = $server.GetUpdate($revision)
    } catch {
        $inner = $_.Exception.InnerException
        if ($inner -ne $null -and $inner.GetType().Name -eq 'WsusObjectNotFoundException') { continue }
        throw
    }
    $found += @{
        UpdateId   = ([string]$update.Id.UpdateId).ToLower()
        Title      = [string]$update.Title
        State      = [string]$update.State
        IsDeclined = [bool]$update.IsDeclined
    }
}

@{
    Found = $found
}
