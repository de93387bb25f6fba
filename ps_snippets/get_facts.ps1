<#
    get_facts: read the local WSUS server's state in one pipeline.

    Runs on Windows PowerShell 2.0 to 5.1 on the WSUS server itself (local API connections count as
    secure). Reads only; saves nothing. Every value comes in as a parameter. The output is one
    hashtable of plain values whose keys are the WSUS API's own member names where one exists.
#>
param(
    [int]$HistoryCount,
    [int]$EventLookbackHours,
    [int[]]$EventIds,
    [int]$MaxEvents,
    [string[]]$ServiceNames,
    [string]$SetupRegistryPath
)
$ErrorActionPreference = 'Stop'

function ConvertTo-UtcText($Value) {
    # WSUS keeps times in UTC; MinValue means "never" or "not scheduled".
    if ($Value -eq $null) { return $null }
    if ($Value -eq [DateTime]::MinValue) { return $null }
    if ($Value.Kind -eq [DateTimeKind]::Local) { $Value = $Value.ToUniversalTime() }
    return $Value.ToString('s', [Globalization.CultureInfo]::InvariantCulture) + 'Z'
}

function ConvertTo-SyncInfo($Info) {
    if ($Info -eq $null) { return $null }
    $updateErrors = @()
    foreach ($updateError in $Info.UpdateErrors) {
        $updateErrors += @{
            # UpdateId is an UpdateRevisionId, not a string ([string] of it is its class name): the
            # update's Guid is its UpdateId, the revision that failed its RevisionNumber.
            UpdateId       = [string]$updateError.UpdateId.UpdateId
            RevisionNumber = [int]$updateError.UpdateId.RevisionNumber
            Error          = [string]$updateError.Error
            ErrorText      = [string]$updateError.ErrorText
        }
    }
    return @{
        Result          = [string]$Info.Result
        Error           = [string]$Info.Error
        ErrorText       = [string]$Info.ErrorText
        StartTime       = (ConvertTo-UtcText $Info.StartTime)
        EndTime         = (ConvertTo-UtcText $Info.EndTime)
        StartedManually = [bool]$Info.StartedManually
        UpdateErrors    = $updateErrors
    }
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
$config = $server.GetConfiguration()
$subscription = $server.GetSubscription()
$status = $server.GetStatus()
$database = $server.GetDatabaseConfiguration()
$progress = $subscription.GetSynchronizationProgress()

# Newer WSUS versions expose BitsDownloadPriorityForeground; older ones keep it only in SUSDB.
$bitsForeground = $null
if ($config | Get-Member -Name BitsDownloadPriorityForeground) {
    $bitsForeground = [bool]$config.BitsDownloadPriorityForeground
}

$enabledLanguages = @()
foreach ($language in $config.GetEnabledUpdateLanguages()) { $enabledLanguages += [string]$language }

$history = @()
foreach ($info in $subscription.GetSynchronizationHistory()) {
    if ($history.Count -ge $HistoryCount) { break }
    $history += (ConvertTo-SyncInfo $info)
}

$services = @{}
foreach ($service in (Get-WmiObject -Class Win32_Service)) {
    if ($ServiceNames -contains $service.Name) {
        $services[[string]$service.Name] = @{ State = [string]$service.State; StartMode = [string]$service.StartMode }
    }
}

$setup = Get-ItemProperty -Path $SetupRegistryPath
$contentDir = [string]$setup.ContentDir
$contentDirAcl = @()
if ($contentDir -and (Test-Path -LiteralPath $contentDir)) {
    # Rules by SID: account names are localized (NETWORK SERVICE is S-1-5-20 in every language). The
    # name is the account's where Windows can translate the SID, else the SID.
    foreach ($rule in (Get-Acl -Path $contentDir).GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
        $sid = [string]$rule.IdentityReference.Value
        $account = $sid
        try { $account = [string]$rule.IdentityReference.Translate([System.Security.Principal.NTAccount]).Value } catch { }
        $contentDirAcl += @{
            IdentityReference = $account
            Sid               = $sid
            FileSystemRights  = [string]$rule.FileSystemRights
            AccessControlType = [string]$rule.AccessControlType
            IsInherited       = [bool]$rule.IsInherited
        }
    }
}

# What the server runs on: the PowerShell the snippets get (2.0 on WSUS 3.0 SP2's Windows Server
# 2008 R2) and the Windows version.
$os = Get-WmiObject -Class Win32_OperatingSystem

$computerGroups = @{}
$computerGroupIds = @{}
foreach ($group in $server.GetComputerTargetGroups()) {
    $members = @()
    foreach ($computer in $group.GetComputerTargets()) { $members += [string]$computer.FullDomainName }
    $computerGroups[[string]$group.Name] = $members
    # The built-in groups' names are localized; their ids are not (IComputerTargetGroup.Id: a Guid).
    $computerGroupIds[[string]$group.Name] = ([string]$group.Id).ToLower()
}

$events = @()
try {
    $filter = @{
        LogName      = 'Application'
        ProviderName = 'Windows Server Update Services'
        Id           = $EventIds
        StartTime    = (Get-Date).AddHours(-$EventLookbackHours)
    }
    foreach ($record in (Get-WinEvent -FilterHashtable $filter -MaxEvents $MaxEvents)) {
        $events += @{
            Id          = [int]$record.Id
            TimeCreated = (ConvertTo-UtcText $record.TimeCreated)
            Message     = [string]$record.Message
        }
    }
} catch {
    # Get-WinEvent reports "no events" as an error; anything else is a real failure.
    if ($_.FullyQualifiedErrorId -notlike 'NoMatchingEventsFound*') { throw }
}

@{
    Name                              = [string]$server.Name
    PortNumber                        = [int]$server.PortNumber
    Version                           = [string]$server.Version
    ServerProtocolVersion             = [string]$server.ServerProtocolVersion
    SyncFromMicrosoftUpdate           = [bool]$config.SyncFromMicrosoftUpdate
    UpstreamWsusServerName            = [string]$config.UpstreamWsusServerName
    UpstreamWsusServerPortNumber      = [int]$config.UpstreamWsusServerPortNumber
    UpstreamWsusServerUseSsl          = [bool]$config.UpstreamWsusServerUseSsl
    IsReplicaServer                   = [bool]$config.IsReplicaServer
    UseProxy                          = [bool]$config.UseProxy
    ProxyName                         = [string]$config.ProxyName
    ProxyServerPort                   = [int]$config.ProxyServerPort
    UseSeparateProxyForSsl            = [bool]$config.UseSeparateProxyForSsl
    SslProxyName                      = [string]$config.SslProxyName
    SslProxyServerPort                = [int]$config.SslProxyServerPort
    AnonymousProxyAccess              = [bool]$config.AnonymousProxyAccess
    ProxyUserName                     = [string]$config.ProxyUserName
    ProxyUserDomain                   = [string]$config.ProxyUserDomain
    HasProxyPassword                  = [bool]$config.HasProxyPassword
    AllowProxyCredentialsOverNonSsl   = [bool]$config.AllowProxyCredentialsOverNonSsl
    HostBinariesOnMicrosoftUpdate     = [bool]$config.HostBinariesOnMicrosoftUpdate
    DownloadUpdateBinariesAsNeeded    = [bool]$config.DownloadUpdateBinariesAsNeeded
    GetContentFromMU                  = [bool]$config.GetContentFromMU
    BitsDownloadPriorityForeground    = $bitsForeground
    AllUpdateLanguagesEnabled         = [bool]$config.AllUpdateLanguagesEnabled
    EnabledUpdateLanguages            = $enabledLanguages
    UpdateServerConfigurationState    = [string]$config.GetUpdateServerConfigurationState()
    SynchronizeAutomatically          = [bool]$subscription.SynchronizeAutomatically
    SynchronizeAutomaticallyTimeOfDay = [string]$subscription.SynchronizeAutomaticallyTimeOfDay
    NumberOfSynchronizationsPerDay    = [int]$subscription.NumberOfSynchronizationsPerDay
    NextSynchronizationTime           = (ConvertTo-UtcText $subscription.GetNextSynchronizationTime())
    SynchronizationStatus             = [string]$subscription.GetSynchronizationStatus()
    SynchronizationProgress           = @{
        TotalItems     = [int]$progress.TotalItems
        ProcessedItems = [int]$progress.ProcessedItems
        Phase          = [string]$progress.Phase
    }
    LastSynchronizationInfo           = (ConvertTo-SyncInfo $subscription.GetLastSynchronizationInfo())
    SynchronizationHistory            = $history
    UpdateServerStatus                = @{
        UpdateCount                  = [int]$status.UpdateCount
        ApprovedUpdateCount          = [int]$status.ApprovedUpdateCount
        NotApprovedUpdateCount       = [int]$status.NotApprovedUpdateCount
        DeclinedUpdateCount          = [int]$status.DeclinedUpdateCount
        UpdatesWithServerErrorsCount = [int]$status.UpdatesWithServerErrorsCount
        UpdatesNeedingFilesCount     = [int]$status.UpdatesNeedingFilesCount
        ComputerTargetCount          = [int]$status.ComputerTargetCount
    }
    ComputerTargetGroups              = $computerGroups
    ComputerTargetGroupIds            = $computerGroupIds
    Services                          = $services
    ContentDir                        = $contentDir
    ContentDirAcl                     = $contentDirAcl
    SqlServerName                     = [string]$setup.SqlServerName
    DatabaseServerName                = [string]$database.ServerName
    DatabaseName                      = [string]$database.DatabaseName
    IsUsingWindowsInternalDatabase    = [bool]$database.IsUsingWindowsInternalDatabase
    PSVersion                         = [string]$PSVersionTable.PSVersion
    OSCaption                         = [string]$os.Caption
    OSVersion                         = [string]$os.Version
    Events                            = $events
}
