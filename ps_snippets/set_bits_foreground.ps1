<#
    set_bits_foreground: the documented fix for "Content file download failed ... BITS requires that
    the server support the Range protocol header" (a proxy without HTTP 1.1 range requests).

    Where the server's API has BitsDownloadPriorityForeground (probed with Get-Member), it is set
    there and saved. Otherwise the seed's way: stop the WSUS service, set the column in SUSDB with
    osql (sqlcmd where osql is gone) on the instance the setup key's SqlServerName names (Windows
    Internal Database: its named pipe), and start the WSUS service again, also when the SQL step
    failed. The current value is read first: nothing is stopped or written when it is already set,
    nor when $ReadOnly asks only for the current value (check mode). Runs on Windows PowerShell 2.0
    to 5.1 on the WSUS server itself.
#>
param(
    [string]$WsusServiceName,
    [string]$SetupRegistryPath,
    [string]$WidPipe,
    [string]$SseePipe,
    [int]$ReadyTimeoutSeconds,
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
$config = $server.GetConfiguration()

if ($config | Get-Member -Name BitsDownloadPriorityForeground) {
    $before = [bool]$config.BitsDownloadPriorityForeground
    if (-not $before -and -not $ReadOnly) {
        if ([string]$server.GetSubscription().GetSynchronizationStatus() -ne 'NotProcessing') {
            throw 'A synchronization is in progress; WSUS saves no configuration change until it ends.'
        }
        $waited = 0
        while ([string]$config.GetUpdateServerConfigurationState() -ne 'Ready') {
            if ($waited -ge $ReadyTimeoutSeconds) {
                throw "The configuration state is still $([string]$config.GetUpdateServerConfigurationState()) after $waited s; a previous save is still processing."
            }
            Start-Sleep -Seconds 1
            $waited += 1
        }
        $config.BitsDownloadPriorityForeground = $true
        $config.Save()
        $config = $server.GetConfiguration()
    }
    return @{
        Method   = 'api'
        Instance = ''
        Before   = $before
        After    = [bool]$config.BitsDownloadPriorityForeground
        Changed  = ([bool]$config.BitsDownloadPriorityForeground -ne $before)
    }
}

$instance = [string](Get-ItemProperty -Path $SetupRegistryPath).SqlServerName
$target = $instance
# -like compares case-insensitively: 'MICROSOFT##WID', '<host>\MICROSOFT##SSEE'.
if ($instance -like '*##WID*') { $target = $WidPipe }
elseif ($instance -like '*##SSEE*') { $target = $SseePipe }

$osql = Join-Path $env:ProgramFiles 'Update Services\tools\osql\osql.exe'
$method = 'osql'
$tool = $osql
if (-not (Test-Path -LiteralPath $osql)) {
    $sqlcmd = Get-Command sqlcmd -ErrorAction SilentlyContinue
    if ($sqlcmd -eq $null) {
        throw "Neither osql ($osql) nor sqlcmd is installed on this server; install the SQL command-line utilities, or set BitsDownloadPriorityForeground in SUSDB.dbo.tbConfigurationC by hand."
    }
    $method = 'sqlcmd'
    $tool = [string]$sqlcmd.Definition
}

# Windows PowerShell turns a native tool's stderr under 2>&1 into error records, which 'Stop' would
# make terminating: around osql and sqlcmd their exit code and output decide instead.
$ErrorActionPreference = 'Continue'
$read = & $tool -S $target -E -b -h -1 -Q 'SET NOCOUNT ON; SELECT BitsDownloadPriorityForeground FROM SUSDB.dbo.tbConfigurationC' 2>&1
$readExitCode = $LASTEXITCODE
$ErrorActionPreference = 'Stop'
if ($readExitCode -ne 0) {
    throw "$method could not read SUSDB on ${target}: $($read -join ' ')"
}
$before = (($read -join ' ').Trim() -eq '1')
$after = $before
if (-not $before -and -not $ReadOnly) {
    Stop-Service -Name $WsusServiceName
    $output = ''
    $exitCode = 0
    try {
        $ErrorActionPreference = 'Continue'
        if ($method -eq 'osql') {
            $output = & $tool -S $target -E -b -n -Q 'USE SUSDB update tbConfigurationC set BitsDownloadPriorityForeground=1' 2>&1
        } else {
            $output = & $tool -S $target -E -b -Q 'USE SUSDB update tbConfigurationC set BitsDownloadPriorityForeground=1' 2>&1
        }
        $exitCode = $LASTEXITCODE
        $ErrorActionPreference = 'Stop'
    } finally {
        # The seed's third step, whatever happened in the second: the WSUS service must run again.
        Start-Service -Name $WsusServiceName
    }
    if ($exitCode -ne 0) {
        throw "$method failed on ${target} (exit code $exitCode): $($output -join ' '); the WSUS service was started again"
    }
    $after = $true
}

@{
    Method   = $method
    Instance = $target
    Before   = $before
    After    = $after
    Changed  = ($after -ne $before)
}
