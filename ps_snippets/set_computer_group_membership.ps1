<#
    set_computer_group_membership: put client computers into a computer group, take them out of
    one, or move them from one group to another.

    Runs on Windows PowerShell 2.0 to 5.1 on the WSUS server itself. This is the one piece of
    administration a replica allows ("Running WSUS 3.0 SP2 in Replica Mode": "Adding and removing
    computers from computer groups"): it inherits its computer groups from its upstream server, and
    assigning computers to them is done locally. On a server that is not a replica a missing group
    is created when $CreateGroup is set. Computers register themselves with WSUS; one that never
    reported to this server cannot be added.

    $ComputerNames join $GroupName (when it is not empty); then $RemoveComputerNames leave
    $RemoveFromGroupName (when it is not empty). A move names the same computers in both, so a
    computer joins its new group before it leaves the old one. Every group and computer is checked
    before anything changes.
#>
param(
    [string]$GroupName,
    [string[]]$ComputerNames,
    [bool]$CreateGroup,
    [string]$RemoveFromGroupName,
    [string[]]$RemoveComputerNames
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

# PowerShell 2.0 runs a foreach over $null once: loop over arrays that are never $null.
$toAdd = @()
if ($null -ne $ComputerNames) { $toAdd = @($ComputerNames) }
$toRemove = @()
if ($null -ne $RemoveComputerNames) { $toRemove = @($RemoveComputerNames) }

# WSUS's built-in All Computers group, found by its fixed id: its name is localized ("Alle Computer",
# "Tous les ordinateurs", ...).
$allComputersId = New-Object Guid -ArgumentList 'a0a08746-4dbe-4a37-9adf-9e7652c0b421'
$target = $null
$source = $null
$allComputers = $null
foreach ($group in $server.GetComputerTargetGroups()) {
    if ([string]$group.Name -eq $GroupName) { $target = $group }
    if ([string]$group.Name -eq $RemoveFromGroupName) { $source = $group }
    if ($group.Id -eq $allComputersId) { $allComputers = $group }
}
if ($RemoveFromGroupName -ne '' -and $source -eq $null) {
    throw "The group '$RemoveFromGroupName' does not exist."
}

$known = @{}
foreach ($computer in $allComputers.GetComputerTargets()) { $known[([string]$computer.FullDomainName).ToLower()] = $computer }
foreach ($name in $toAdd + $toRemove) {
    if (-not $known.Contains($name.ToLower())) {
        throw "The computer '$name' has not reported to this WSUS server."
    }
}

$created = $false
$added = @()
if ($GroupName -ne '') {
    if ($target -eq $null) {
        if ($config.IsReplicaServer) {
            throw "The group '$GroupName' does not exist. A replica server inherits its computer groups from its upstream server: create the group there."
        }
        if (-not $CreateGroup) { throw "The group '$GroupName' does not exist." }
        $target = $server.CreateComputerTargetGroup($GroupName)
        $created = $true
    }
    $members = @{}
    foreach ($computer in $target.GetComputerTargets()) { $members[([string]$computer.FullDomainName).ToLower()] = $true }
    foreach ($name in $toAdd) {
        if (-not $members.Contains($name.ToLower())) {
            $target.AddComputerTarget($known[$name.ToLower()])
            $added += $name
        }
    }
}

$removed = @()
if ($RemoveFromGroupName -ne '') {
    $members = @{}
    foreach ($computer in $source.GetComputerTargets()) { $members[([string]$computer.FullDomainName).ToLower()] = $true }
    foreach ($name in $toRemove) {
        if ($members.Contains($name.ToLower())) {
            $source.RemoveComputerTarget($known[$name.ToLower()])
            $removed += $name
        }
    }
}

@{
    Created = $created
    Added   = $added
    Removed = $removed
}
