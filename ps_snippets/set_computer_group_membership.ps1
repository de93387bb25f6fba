<#
    set_computer_group_membership: put client computers into a computer group.

    Runs on Windows PowerShell 2.0 to 5.1 on the WSUS server itself. This is the one piece of
    administration a replica allows: it inherits its computer groups from its upstream server, and
    assigning computers to them is done locally. On a server that is not a replica a missing group
    is created when $CreateGroup is set. Computers register themselves with WSUS; one that never
    reported to this server cannot be added.
#>
param(
    [string]$GroupName,
    [string[]]$ComputerNames,
    [bool]$CreateGroup
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

$target = $null
$allComputers = $null
foreach ($group in $server.GetComputerTargetGroups()) {
    if ([string]$group.Name -eq $GroupName) { $target = $group }
    if ([string]$group.Name -eq 'All Computers') { $allComputers = $group }
}
$created = $false
if ($target -eq $null) {
    if ($config.IsReplicaServer) {
        throw "The group '$GroupName' does not exist. A replica server inherits its computer groups from its upstream server: create the group there."
    }
    if (-not $CreateGroup) { throw "The group '$GroupName' does not exist." }
    $target = $server.CreateComputerTargetGroup($GroupName)
    $created = $true
}

$known = @{}
foreach ($computer in $allComputers.GetComputerTargets()) { $known[([string]$computer.FullDomainName).ToLower()] = $computer }
$members = @{}
foreach ($computer in $target.GetComputerTargets()) { $members[([string]$computer.FullDomainName).ToLower()] = $true }

$added = @()
foreach ($name in $ComputerNames) {
    $key = $name.ToLower()
    if (-not $known.Contains($key)) { throw "The computer '$name' has not reported to this WSUS server." }
    if (-not $members.Contains($key)) {
        $target.AddComputerTarget($known[$key])
        $added += $name
    }
}

@{
    Created = $created
    Added   = $added
}
