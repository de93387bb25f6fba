<#
    set_schedule: automatic synchronization on or off, its first time of day (UTC) and syncs per day.

    Runs on Windows PowerShell 2.0 to 5.1 on the WSUS server itself. Changes only the members named
    in $Members and saves the subscription only when one of them differs, after waiting (at most
    $ReadyTimeoutSeconds) for a running synchronization or a configuration save to end. The time of
    day is a UTC TimeSpan in whole seconds below 24 hours; syncs per day is 1 to 24 (the API refuses
    others).
#>
param(
    [string[]]$Members,
    [bool]$SynchronizeAutomatically,
    [int]$TimeOfDaySeconds,
    [int]$NumberOfSynchronizationsPerDay,
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
$subscription = $server.GetSubscription()

# ISubscription.Save() throws InvalidOperationException while a synchronization runs; whether it also
# does while a configuration save is processing ("up to three minutes") is unsure, so that is waited
# out too: wait until both are over, at most $ReadyTimeoutSeconds, then give up with a message the
# caller knows to retry later. The enums compare by name.
function Wait-ServerReady {
    $waited = 0
    while ($true) {
        $status = [string]$server.GetSubscription().GetSynchronizationStatus()
        $state = [string]$server.GetConfiguration().GetUpdateServerConfigurationState()
        if ($status -eq 'NotProcessing' -and $state -eq 'Ready') { return }
        if ($waited -ge $ReadyTimeoutSeconds) {
            throw "WSUS busy (retry later): after $waited s the synchronization status is $status and the configuration state is $state; WSUS takes no change until the synchronization ends and the previous save is processed."
        }
        Start-Sleep -Seconds 1
        $waited += 1
    }
}

# A synchronization may start between the wait and Save(): its refusal then is the same busy.
function Save-WhenReady($Target) {
    Wait-ServerReady
    try {
        $Target.Save()
    } catch {
        $status = [string]$server.GetSubscription().GetSynchronizationStatus()
        $state = [string]$server.GetConfiguration().GetUpdateServerConfigurationState()
        if ($status -ne 'NotProcessing' -or $state -ne 'Ready') {
            throw "WSUS busy (retry later): Save() was refused while the synchronization status is $status and the configuration state is $state."
        }
        throw $_
    }
}

$changed = @()
# PowerShell 2.0 runs a foreach over $null once: loop over an array that is never $null.
$memberNames = @()
if ($null -ne $Members) { $memberNames = @($Members) }
foreach ($member in $memberNames) {
    if ($member -eq 'SynchronizeAutomatically') {
        if ($subscription.SynchronizeAutomatically -ne $SynchronizeAutomatically) {
            $subscription.SynchronizeAutomatically = $SynchronizeAutomatically
            $changed += $member
        }
    } elseif ($member -eq 'SynchronizeAutomaticallyTimeOfDay') {
        $timeOfDay = New-Object TimeSpan -ArgumentList 0, 0, $TimeOfDaySeconds
        if ($subscription.SynchronizeAutomaticallyTimeOfDay -ne $timeOfDay) {
            $subscription.SynchronizeAutomaticallyTimeOfDay = $timeOfDay
            $changed += $member
        }
    } elseif ($member -eq 'NumberOfSynchronizationsPerDay') {
        if ($subscription.NumberOfSynchronizationsPerDay -ne $NumberOfSynchronizationsPerDay) {
            $subscription.NumberOfSynchronizationsPerDay = $NumberOfSynchronizationsPerDay
            $changed += $member
        }
    } else {
        throw "set_schedule cannot set the member '$member'."
    }
}
if ($changed.Count -gt 0) {
    Save-WhenReady $subscription
    $subscription = $server.GetSubscription()
}

@{
    Changed                           = $changed
    SynchronizeAutomatically          = [bool]$subscription.SynchronizeAutomatically
    SynchronizeAutomaticallyTimeOfDay = [string]$subscription.SynchronizeAutomaticallyTimeOfDay
    NumberOfSynchronizationsPerDay    = [int]$subscription.NumberOfSynchronizationsPerDay
}
