<#
    get_failed_updates: the updates whose files this server failed to download (the red X on the
    console's Updates page; UpdateState Failed: "one or more of the required files could not be
    retrieved from the upstream server").

    Runs on Windows PowerShell 2.0 to 5.1 on the WSUS server itself. Reads only. Returns at most
    $MaxUpdates of them and the total count.
#>
param(
    [int]$MaxUpdates
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

$failed = @()
$total = 0
foreach ($update in $server.GetUpdates()) {
    if ([string]$update.State -eq 'Failed') {
        $total += 1
        if ($failed.Count -lt $MaxUpdates) {
            $failed += @{
                UpdateId   = [string]$update.Id.UpdateId
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
