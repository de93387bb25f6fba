<#
    grant_content_read: give the update storage folder at least Read for the accounts named by SID
    (S-1-5-20: NETWORK SERVICE, S-1-5-32-545: Users). Their names depend on the language Windows was
    installed in (NT-AUTORITAET\NETZWERKDIENST, BUILTIN\Utilisateurs, ...); their SIDs do not.

    "Issues with Synchronization": "the folder to which you download update files ... has at least
    Read permissions for the network service and for users. This is true for both upstream and
    downstream WSUS servers." ("Synchronization issues" says the same.) Runs on Windows PowerShell
    2.0 to 5.1 on the WSUS server itself. Adds an inherited ReadAndExecute rule only for an account
    that has no allowing Read yet; saves the ACL only then.
#>
param(
    [string]$SetupRegistryPath,
    [string[]]$Sids
)
$ErrorActionPreference = 'Stop'

$contentDir = [string](Get-ItemProperty -Path $SetupRegistryPath).ContentDir
if (-not $contentDir -or -not (Test-Path -LiteralPath $contentDir)) {
    throw "The update storage folder '$contentDir' (ContentDir) does not exist on this server."
}

$readRights = @('Read', 'ReadAndExecute', 'Modify', 'FullControl', 'ReadData', 'ListDirectory')
$acl = Get-Acl -Path $contentDir
$changed = @()
# PowerShell 2.0 runs a foreach over $null once: loop over an array that is never $null.
$sidTexts = @()
if ($null -ne $Sids) { $sidTexts = @($Sids) }
foreach ($sidText in $sidTexts) {
    $sid = New-Object System.Security.Principal.SecurityIdentifier -ArgumentList $sidText
    $hasRead = $false
    foreach ($rule in $acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
        if ([string]$rule.AccessControlType -ne 'Allow') { continue }
        if ([string]$rule.IdentityReference.Value -ne [string]$sid.Value) { continue }
        foreach ($right in ([string]$rule.FileSystemRights).Split(',')) {
            if ($readRights -contains $right.Trim()) { $hasRead = $true }
        }
    }
    if (-not $hasRead) {
        $rule = New-Object System.Security.AccessControl.FileSystemAccessRule($sid, 'ReadAndExecute', 'ContainerInherit, ObjectInherit', 'None', 'Allow')
        $acl.AddAccessRule($rule)
        $changed += [string]$sid.Value
    }
}
if ($changed.Count -gt 0) {
    Set-Acl -Path $contentDir -AclObject $acl
}

$rules = @()
foreach ($rule in (Get-Acl -Path $contentDir).GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
    $sid = [string]$rule.IdentityReference.Value
    $account = $sid
    try { $account = [string]$rule.IdentityReference.Translate([System.Security.Principal.NTAccount]).Value } catch { }
    $rules += @{
        IdentityReference = $account
        Sid               = $sid
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
