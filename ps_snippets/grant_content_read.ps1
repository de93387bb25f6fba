<#
    grant_content_read: give the update storage folder at least Read for the identities named
    (NETWORK SERVICE and Users).

    Seeds 001/002: "the folder to which you download update files ... has at least Read permissions
    for the network service and for users. This is true for both upstream and downstream WSUS
    servers." Runs on Windows PowerShell 2.0 to 5.1 on the WSUS server itself. Adds an inherited
    ReadAndExecute rule only for an identity that has no allowing Read yet; saves the ACL only then.
#>
param(
    [string]$SetupRegistryPath,
    [string[]]$Identities
)
$ErrorActionPreference = 'Stop'

$contentDir = [string](Get-ItemProperty -Path $SetupRegistryPath).ContentDir
if (-not $contentDir -or -not (Test-Path -LiteralPath $contentDir)) {
    throw "The update storage folder '$contentDir' (ContentDir) does not exist on this server."
}

$readRights = @('Read', 'ReadAndExecute', 'Modify', 'FullControl', 'ReadData', 'ListDirectory')
$acl = Get-Acl -Path $contentDir
$changed = @()
foreach ($identity in $Identities) {
    $hasRead = $false
    foreach ($rule in $acl.Access) {
        if ([string]$rule.AccessControlType -ne 'Allow') { continue }
        if (([string]$rule.IdentityReference).ToLower() -ne ([string]$identity).ToLower()) { continue }
        foreach ($right in ([string]$rule.FileSystemRights).Split(',')) {
            if ($readRights -contains $right.Trim()) { $hasRead = $true }
        }
    }
    if (-not $hasRead) {
        $rule = New-Object System.Security.AccessControl.FileSystemAccessRule($identity, 'ReadAndExecute', 'ContainerInherit, ObjectInherit', 'None', 'Allow')
        $acl.AddAccessRule($rule)
        $changed += [string]$identity
    }
}
if ($changed.Count -gt 0) {
    Set-Acl -Path $contentDir -AclObject $acl
}

$rules = @()
foreach ($rule in (Get-Acl -Path $contentDir).Access) {
    $rules += @{
        IdentityReference = [string]$rule.IdentityReference
        FileSystemRights  = [string]$rule.FileSystemRights
        AccessControlType = [string]$rule.AccessControlType
        IsInherited       = [bool]$rule.IsInherited
    }
}

@{
    Changed       = $changed
    ContentDir    = $contentDir
    ContentDirAcl = $rules
}
