<#
    test_upstream_connection: from this (downstream) server, resolve the upstream server's name as it
    is configured and open a TCP connection to the upstream's port, or, when this server goes through
    a proxy, to the proxy's.

    "Issues with Synchronization": ping the upstream server from the downstream server, with the same
    name the console uses. PowerShell 2.0 has no Test-NetConnection, so a port is tried with a
    TcpClient and a timeout. Reads only; changes nothing. Names are resolved with the same resolver
    WSUS uses (System.Net.Dns), and a port is tried by name, as WSUS connects. Through a proxy
    ($ProxyName not empty: UseProxy, the proxy WSUS uses for this upstream) WSUS never connects to the
    upstream's port itself, the proxy does: the proxy's name and port are what this server must reach.
#>
param(
    [string]$UpstreamName,
    [int]$Port,
    [string]$ProxyName,
    [int]$ProxyPort,
    [int]$TimeoutMilliseconds
)
$ErrorActionPreference = 'Stop'

function Resolve-Name([string]$Name) {
    $found = @()
    $problem = ''
    try {
        foreach ($address in [System.Net.Dns]::GetHostAddresses($Name)) {
            $found += [string]$address.IPAddressToString
        }
    } catch {
        $problem = [string]$_.Exception.Message
    }
    return @{ Addresses = $found; Error = $problem }
}

$upstream = Resolve-Name $UpstreamName
$throughProxy = ([string]$ProxyName).Trim() -ne ''
$targetName = $UpstreamName
$targetPort = $Port
$target = $upstream
$proxy = @{ Addresses = @(); Error = '' }
if ($throughProxy) {
    $proxy = Resolve-Name $ProxyName
    $targetName = $ProxyName
    $targetPort = $ProxyPort
    $target = $proxy
}

$portOpen = $false
$connectError = ''
if (@($target['Addresses']).Count -gt 0) {
    $client = New-Object System.Net.Sockets.TcpClient
    try {
        $pending = $client.BeginConnect($targetName, $targetPort, $null, $null)
        # WaitOne(int, bool): the overload .NET 2.0 already has.
        if ($pending.AsyncWaitHandle.WaitOne($TimeoutMilliseconds, $false)) {
            $client.EndConnect($pending)
            $portOpen = $true
        } else {
            $connectError = "no answer within $TimeoutMilliseconds ms"
        }
    } catch {
        $connectError = [string]$_.Exception.Message
    } finally {
        $client.Close()
    }
}

@{
    UpstreamName       = $UpstreamName
    Port               = $Port
    Resolved           = (@($upstream['Addresses']).Count -gt 0)
    Addresses          = $upstream['Addresses']
    ResolveError       = $upstream['Error']
    ThroughProxy       = $throughProxy
    ProxyName          = $ProxyName
    ProxyPort          = $ProxyPort
    ProxyResolved      = (@($proxy['Addresses']).Count -gt 0)
    ProxyAddresses     = $proxy['Addresses']
    ProxyResolveError  = $proxy['Error']
    PortTested         = (@($target['Addresses']).Count -gt 0)
    PortOpen           = $portOpen
    ConnectError       = $connectError
}
