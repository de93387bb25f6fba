<#
    resume_downloads: try again the update files whose download failed.

    An update whose files could not be downloaded is in state Failed and "remains in this state
    until" its download is resumed (UpdateState, WSUS API reference): fixing the cause (BITS, the
    update storage folder's permissions, the Range header) and synchronizing do not download it
    again. IUpdateServer.ResumeAllDownloads() does. Runs on Windows PowerShell 2.0 to 5.1 on the WSUS
    server itself. Resumes only when the status counts failed downloads, so a second run changes
    nothing; returns the counts before and after.
#>
param(
    [bool]$ReadOnly
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

$before = $server.GetStatus()
$resumed = $false
if ([int]$before.UpdatesWithServerErrorsCount -gt 0 -and -not $ReadOnly) {
    $server.ResumeAllDownloads()
    $resumed = $true
}
$after = $server.GetStatus()

@{
    Resumed                            = $resumed
    UpdatesWithServerErrorsCountBefore = [int]$before.UpdatesWithServerErrorsCount
    UpdatesNeedingFilesCountBefore     = [int]$before.UpdatesNeedingFilesCount
    UpdatesWithServerErrorsCount       = [int]$after.UpdatesWithServerErrorsCount
    UpdatesNeedingFilesCount           = [int]$after.UpdatesNeedingFilesCount
}
