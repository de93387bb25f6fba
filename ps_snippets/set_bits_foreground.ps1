<#
    set_bits_foreground: the documented fix for "Content file download failed ... BITS requires that
    the server support the Range protocol header" (a proxy without HTTP 1.1 range requests).

    Where the server's API has BitsDownloadPriorityForeground (probed with Get-Member), it is set
    there and saved. Otherwise the way of "Synchronization issues": stop the WSUS service, set the
    column in SUSDB on the instance the setup key's SqlServerName names, and start the WSUS service
    again, also when the SQL step failed; then the value is read again to confirm. The SQL step uses
    the document's osql command where WSUS 2.0's osql.exe exists, else sqlcmd, else .NET's
    System.Data.SqlClient (WSUS 3.0 SP2 and the WSUS role of 2012 and later install neither tool),
    always with integrated security; the Windows Internal Database (WID, or SSEE under WSUS 3.0) is
    reached by its named pipe. SUSDB on another machine is not touched: from inside a WinRM session
    integrated security to it is a second hop, which carries no credentials, so the result says the
    SQL step must run on that machine. The current value is read first: nothing is stopped or
    written when it is already set, nor when $ReadOnly asks only for the current value (check mode).
    Runs on Windows PowerShell 2.0 to 5.1 on the WSUS server itself.
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

if ($config | Get-Member -Name BitsDownloadPriorityForeground) {
    $before = [bool]$config.BitsDownloadPriorityForeground
    if (-not $before -and -not $ReadOnly) {
        $config.BitsDownloadPriorityForeground = $true
        Save-WhenReady $config
        $config = $server.GetConfiguration()
    }
    return @{
        Method   = 'api'
        Instance = ''
        SqlHost  = ''
        Before   = $before
        After    = [bool]$config.BitsDownloadPriorityForeground
        Changed  = ([bool]$config.BitsDownloadPriorityForeground -ne $before)
    }
}

$instance = [string](Get-ItemProperty -Path $SetupRegistryPath).SqlServerName
# The machine part of '<host>\<instance>' or '<host>,<port>'.
$sqlHost = ($instance -split '[\\,]')[0]
$internal = ($instance -like '*##WID*') -or ($instance -like '*##SSEE*')
$localNames = @('.', '(local)', 'localhost', '127.0.0.1', $env:COMPUTERNAME)
$local = $internal -or ($localNames -contains $sqlHost) -or ($localNames -contains ($sqlHost -split '\.')[0])
if (-not $local) {
    return @{
        Method   = 'remote'
        Instance = $instance
        SqlHost  = $sqlHost
        Before   = $null
        After    = $null
        Changed  = $false
    }
}
$target = $instance
# -like compares case-insensitively: 'MICROSOFT##WID', '<host>\MICROSOFT##SSEE'.
if ($instance -like '*##WID*') { $target = $WidPipe }
elseif ($instance -like '*##SSEE*') { $target = $SseePipe }

$readQuery = 'SET NOCOUNT ON; SELECT BitsDownloadPriorityForeground FROM SUSDB.dbo.tbConfigurationC'
# Step 2 of "Synchronization issues" (for osql; sqlcmd and SqlClient send the same statement).
$updateQuery = 'USE SUSDB update tbConfigurationC set BitsDownloadPriorityForeground=1'

$osql = Join-Path $env:ProgramFiles 'Update Services\tools\osql\osql.exe'
$sqlcmd = Get-Command sqlcmd -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
$tool = ''
if (Test-Path -LiteralPath $osql) {
    $method = 'osql'
    $tool = $osql
} elseif ($sqlcmd -ne $null) {
    $method = 'sqlcmd'
    $tool = [string]$sqlcmd.Definition
} else {
    $method = 'sqlclient'
}

function Invoke-SusdbQuery([string]$Query, [bool]$Write) {
    # The first column of the first row as text (a read), or '' (a write); throws with the
    # client's own message when the query fails.
    if ($method -eq 'sqlclient') {
        $connection = New-Object System.Data.SqlClient.SqlConnection
        $connection.ConnectionString = "Server=$target;Database=SUSDB;Integrated Security=True"
        try {
            $connection.Open()
            $command = $connection.CreateCommand()
            $command.CommandText = $Query
            if ($Write) {
                [void]$command.ExecuteNonQuery()
                return ''
            }
            return [string]$command.ExecuteScalar()
        } catch {
            throw "sqlclient failed on ${target}: $($_.Exception.Message)"
        } finally {
            $connection.Close()
        }
    }
    $arguments = @('-S', $target, '-E', '-b')
    if ($method -eq 'osql') { $arguments += '-n' }
    # No column headers: osql takes -1 only without a space (-h-1), sqlcmd as its own argument.
    if (-not $Write -and $method -eq 'osql') { $arguments += '-h-1' }
    if (-not $Write -and $method -eq 'sqlcmd') { $arguments += @('-h', '-1') }
    $arguments += @('-Q', $Query)
    # Windows PowerShell turns a native tool's stderr under 2>&1 into error records, which 'Stop'
    # would make terminating: the tool's exit code and output decide instead.
    $ErrorActionPreference = 'Continue'
    $output = & $tool $arguments 2>&1
    $exitCode = $LASTEXITCODE
    $ErrorActionPreference = 'Stop'
    if ($exitCode -ne 0) {
        throw "$method failed on ${target} (exit code $exitCode): $($output -join ' ')"
    }
    return ($output -join ' ').Trim()
}

function Test-Foreground([string]$Value) {
    # osql and sqlcmd print the bit as 1; SqlClient reads a Boolean.
    return ($Value -eq '1') -or ($Value -eq 'True')
}

$before = Test-Foreground (Invoke-SusdbQuery $readQuery $false)
$after = $before
if (-not $before -and -not $ReadOnly) {
    try {
        # Inside the try: a stop that fails part-way (the service stuck stopping) must still reach
        # the start below.
        Stop-Service -Name $WsusServiceName
        [void](Invoke-SusdbQuery $updateQuery $true)
    } catch {
        throw "$($_.Exception.Message); the WSUS service was started again"
    } finally {
        # Step 3 of "Synchronization issues", whatever happened in step 2: the WSUS service must
        # run again.
        Start-Service -Name $WsusServiceName
    }
    $after = Test-Foreground (Invoke-SusdbQuery $readQuery $false)
}

@{
    Method   = $method
    Instance = $target
    SqlHost  = $sqlHost
    Before   = $before
    After    = $after
    Changed  = ($after -ne $before)
}
