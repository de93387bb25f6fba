<#
    find_updates: which of the given updates this (upstream) server knows, and in what state.

    Seed "Issues with Synchronization": on a downstream server, note the updates whose download
    failed, then check whether they exist on the upstream server. Runs on Windows PowerShell 2.0 to
    5.1 on the upstream server itself. Reads only. Update ids compare case-insensitively.
#>
param(
    [string[]]$UpdateIds
)
$ErrorActionPreference = 'Stop'

# GetUpdates() walks the whole catalog (slow on a big server); wsusauto asks only servers whose
# status counts failed downloads, and only their upstreams for the ids they failed. UpdateScope
# would narrow it, but its members are not in the documented API surface this toolkit uses.

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

$wanted = @{}
foreach ($id in $UpdateIds) { $wanted[([string]$id).ToLower()] = $true }

$found = @()
foreach ($update in $server.GetUpdates()) {
    $id = ([string]$update.Id.UpdateId).ToLower()
    if ($wanted.ContainsKey($id)) {
        $found += @{
            UpdateId   = $id
            Title      = [string]$update.Title
            State      = [string]$update.State
            IsDeclined = [bool]$update.IsDeclined
        }
    }
}

@{
    Found = $found
}
