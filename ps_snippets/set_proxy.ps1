<#
    set_proxy: the proxy server WSUS uses to reach its upstream server or Microsoft Update.

    Runs on Windows PowerShell 2.0 to 5.1 on the WSUS server itself. Changes only the members named
    in $Members. The password arrives as a SecureString and goes to SetProxyPassword(); it cannot be
    read back, so $SetPassword says whether to set it and HasProxyPassword reports the result.
    AllowProxyCredentialsOverNonSsl is the console's "Allow basic authentication (password in
    cleartext)". Saves only when something differs; waits at most $ReadyTimeoutSeconds for a
    synchronization or a previous save to finish.
#>
param(
    [string[]]$Members,
    [bool]$UseProxy,
    [string]$ProxyName,
    [int]$ProxyServerPort,
    [bool]$AnonymousProxyAccess,
    [string]$ProxyUserName,
    [string]$ProxyUserDomain,
    [bool]$AllowProxyCredentialsOverNonSsl,
    [bool]$SetPassword,
    [Security.SecureString]$ProxyPassword,
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

# Strings compare with -cne: -ne ignores case, and a change of case only would then be skipped
# while the caller asked for it (and reads the old value back).
$changed = @()
# PowerShell 2.0 runs a foreach over $null once: loop over an array that is never $null.
$memberNames = @()
if ($null -ne $Members) { $memberNames = @($Members) }
foreach ($member in $memberNames) {
    if ($member -eq 'UseProxy') {
        if ($config.UseProxy -ne $UseProxy) { $config.UseProxy = $UseProxy; $changed += $member }
    } elseif ($member -eq 'ProxyName') {
        if ($config.ProxyName -cne $ProxyName) { $config.ProxyName = $ProxyName; $changed += $member }
    } elseif ($member -eq 'ProxyServerPort') {
        if ($config.ProxyServerPort -ne $ProxyServerPort) { $config.ProxyServerPort = $ProxyServerPort; $changed += $member }
    } elseif ($member -eq 'AnonymousProxyAccess') {
        if ($config.AnonymousProxyAccess -ne $AnonymousProxyAccess) {
            $config.AnonymousProxyAccess = $AnonymousProxyAccess
            $changed += $member
        }
    } elseif ($member -eq 'ProxyUserName') {
        if ($config.ProxyUserName -cne $ProxyUserName) { $config.ProxyUserName = $ProxyUserName; $changed += $member }
    } elseif ($member -eq 'ProxyUserDomain') {
        if ($config.ProxyUserDomain -cne $ProxyUserDomain) { $config.ProxyUserDomain = $ProxyUserDomain; $changed += $member }
    } elseif ($member -eq 'AllowProxyCredentialsOverNonSsl') {
        if ($config.AllowProxyCredentialsOverNonSsl -ne $AllowProxyCredentialsOverNonSsl) {
            $config.AllowProxyCredentialsOverNonSsl = $AllowProxyCredentialsOverNonSsl
            $changed += $member
        }
    } else {
        throw "set_proxy cannot set the member '$member'."
    }
}
if ($SetPassword) {
    $config.SetProxyPassword($ProxyPassword)
    $changed += 'ProxyPassword'
}

if ($changed.Count -gt 0) {
    Save-WhenReady $config
    $config = $server.GetConfiguration()
}

@{
    Changed                         = $changed
    UseProxy                        = [bool]$config.UseProxy
    ProxyName                       = [string]$config.ProxyName
    ProxyServerPort                 = [int]$config.ProxyServerPort
    AnonymousProxyAccess            = [bool]$config.AnonymousProxyAccess
    ProxyUserName                   = [string]$config.ProxyUserName
    ProxyUserDomain                 = [string]$config.ProxyUserDomain
    AllowProxyCredentialsOverNonSsl = [bool]$config.AllowProxyCredentialsOverNonSsl
    HasProxyPassword                = [bool]$config.HasProxyPassword
}
