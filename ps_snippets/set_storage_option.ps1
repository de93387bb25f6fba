<#
    set_storage_option: store update files on this server, or leave them on Microsoft Update.

    Runs on Windows PowerShell 2.0 to 5.1 on the WSUS server itself. HostBinariesOnMicrosoftUpdate
    true means update files are not stored here (clients get them from Microsoft Update); false
    means they are stored locally. "Synchronization issues": "the entire hierarchy must use the same
    update storage option or else synchronizations fail". Saves only when the option differs; waits
    at most $ReadyTimeoutSeconds for a synchronization or a previous save to finish. Save() itself refuses the option
    true while AllUpdateLanguagesEnabled is false; its error is the answer then.
#>
param(
    [bool]$HostBinariesOnMicrosoftUpdate,
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

# Save() throws InvalidOperationException while a synchronization runs or a previous save is still
# processing ("up to three minutes"): wait until both are over, at most $ReadyTimeoutSeconds, then
# give up with a message the caller knows to retry later. The enums compare by name.
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
if ($config.HostBinariesOnMicrosoftUpdate -ne $HostBinariesOnMicrosoftUpdate) {
    $config.HostBinariesOnMicrosoftUpdate = $HostBinariesOnMicrosoftUpdate
    Save-WhenReady $config
    $changed += 'HostBinariesOnMicrosoftUpdate'
    $config = $server.GetConfiguration()
}

@{
    Changed                       = $changed
    HostBinariesOnMicrosoftUpdate = [bool]$config.HostBinariesOnMicrosoftUpdate
    AllUpdateLanguagesEnabled     = [bool]$config.AllUpdateLanguagesEnabled
}
