<#
    get_synchronization_status: where a synchronization stands, and how the last one ended.

    Runs on Windows PowerShell 2.0 to 5.1 on the WSUS server itself; reads only. Progress is items
    processed of the total and the phase; the last synchronization's Id (a Guid: which sync it
    is), result, SynchronizationError name, error text and per-update import errors (at most
    $MaxUpdateErrors of them).
#>
param(
    [int]$MaxUpdateErrors
)
$ErrorActionPreference = 'Stop'

function ConvertTo-UtcText($Value) {
    if ($Value -eq $null) { return $null }
    if ($Value -eq [DateTime]::MinValue) { return $null }
    if ($Value.Kind -eq [DateTimeKind]::Local) { $Value = $Value.ToUniversalTime() }
    return $Value.ToString('s', [Globalization.CultureInfo]::InvariantCulture) + 'Z'
}

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
$progress = $subscription.GetSynchronizationProgress()
$info = $subscription.GetLastSynchronizationInfo()

$updateErrors = @()
foreach ($updateError in $info.UpdateErrors) {
    if ($updateErrors.Count -ge $MaxUpdateErrors) { break }
    $updateErrors += @{
        # UpdateId is an UpdateRevisionId, not a string ([string] of it is its class name): the
        # update's Guid is its UpdateId, the revision that failed its RevisionNumber.
        UpdateId       = [string]$updateError.UpdateId.UpdateId
        RevisionNumber = [int]$updateError.UpdateId.RevisionNumber
        Error          = [string]$updateError.Error
        ErrorText      = [string]$updateError.ErrorText
    }
}

@{
    SynchronizationStatus   = [string]$subscription.GetSynchronizationStatus()
    SynchronizationProgress = @{
        TotalItems     = [int]$progress.TotalItems
        ProcessedItems = [int]$progress.ProcessedItems
        Phase          = [string]$progress.Phase
    }
    LastSynchronizationInfo = @{
        Id              = [string]$info.Id
        Result          = [string]$info.Result
        Error           = [string]$info.Error
        ErrorText       = [string]$info.ErrorText
        StartTime       = (ConvertTo-UtcText $info.StartTime)
        EndTime         = (ConvertTo-UtcText $info.EndTime)
        StartedManually = [bool]$info.StartedManually
        UpdateErrors    = $updateErrors
    }
    NextSynchronizationTime = (ConvertTo-UtcText $subscription.GetNextSynchronizationTime())
}
