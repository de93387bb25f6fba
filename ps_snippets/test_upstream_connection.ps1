<#
    test_upstream_connection: from this (downstream) server, resolve the upstream server's name as it
    is configured and open a TCP connection to the upstream's port.

    Seed "Issues with Synchronization": ping the upstream server from the downstream server, with the
    same name the console uses. PowerShell 2.0 has no Test-NetConnection, so the port is tried with
    a TcpClient and a timeout. Reads only; changes nothing. The name is resolved with the same
    resolver WSUS uses (System.Net.Dns), and the port is tried by name, as WSUS connects.
#>
param(
    [string]$UpstreamName,
    [int]$Port,
    [int]$TimeoutMilliseconds
)
$ErrorActionPreference = 'Stop'

$addresses = @()
$resolveError = ''
try {
    foreach ($address in [System.Net.Dns]::GetHostAddresses($UpstreamName)) {
        $addresses += [string]$address.IPAddressToString
    }
} catch {
    $resolveError = [string]$_.Exception.Message
}

$portOpen = $false
$connectError = ''
if ($addresses.Count -gt 0) {
    $client = New-Object System.Net.Sockets.TcpClient
    try {
        $pending = $client.BeginConnect($UpstreamName, $Port, $null, $null)
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
    UpstreamName = $UpstreamName
    Port         = $Port
    Resolved     = ($addresses.Count -gt 0)
    Addresses    = $addresses
    ResolveError = $resolveError
    PortTested   = ($addresses.Count -gt 0)
    PortOpen     = $portOpen
    ConnectError = $connectError
}
