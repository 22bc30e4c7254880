//! Windows: owners and access control lists. A path is refused when its
//! owner, or an account an access-allowed entry of its DACL lets write to
//! it, is not one that may change code anyway: the process's user,
//! SYSTEM, Administrators or TrustedInstaller.

use std::ffi::c_void;
use std::os::windows::ffi::OsStrExt;
use std::path::Path;
use std::sync::OnceLock;

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, LocalFree};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, GetNamedSecurityInfoW, SE_FILE_OBJECT,
};
use windows_sys::Win32::Security::{
    ACCESS_ALLOWED_ACE, ACL, ACL_SIZE_INFORMATION, AclSizeInformation, DACL_SECURITY_INFORMATION,
    GetAce, GetAclInformation, GetTokenInformation, INHERIT_ONLY_ACE, LookupAccountSidW,
    OWNER_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, SID_NAME_USE, TOKEN_QUERY, TOKEN_USER,
    TokenUser,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

use crate::Problem;

/// SIDs that may write code anyway: SYSTEM, Administrators,
/// TrustedInstaller; and two that grant nobody else anything: CREATOR
/// OWNER (a template for new children) and OWNER RIGHTS (the owner, who
/// is checked on its own).
const TRUSTED: [&str; 5] = [
    "S-1-5-18",
    "S-1-5-32-544",
    "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464",
    "S-1-3-0",
    "S-1-3-4",
];

/// The rights that let an account change what a file holds or what a
/// directory lists, or give itself those rights: write (0x2) or append
/// (0x4) to a file, delete a directory's child (0x40), WRITE_DAC,
/// WRITE_OWNER, GENERIC_ALL, GENERIC_WRITE. On a directory, 0x2 and 0x4
/// only add a file or a subdirectory, which replaces nothing (as a sticky
/// directory on Unix; every `C:\` lets Authenticated Users add one).
const WRITE_RIGHTS: [(u32, &str); 7] = [
    (0x0000_0002, "write"),
    (0x0000_0004, "append"),
    (0x0000_0040, "delete child"),
    (0x0004_0000, "WRITE_DAC"),
    (0x0008_0000, "WRITE_OWNER"),
    (0x1000_0000, "GENERIC_ALL"),
    (0x4000_0000, "GENERIC_WRITE"),
];

/// The rights of [`WRITE_RIGHTS`] that on a directory only add to it.
const ADD_ONLY: u32 = 0x0000_0002 | 0x0000_0004;

/// ACCESS_ALLOWED_ACE_TYPE.
const ACCESS_ALLOWED: u8 = 0;

/// What is wrong with `path`, or `None` when nothing is or it cannot be
/// inspected.
pub(crate) fn problem(path: &Path, is_dir: bool) -> Option<Problem> {
    let user = process_user()?;
    let descriptor = Descriptor::of(path)?;
    judge(descriptor.owner, descriptor.dacl, user, is_dir)
}

/// What is wrong with a path (a directory when `is_dir`) whose owner is
/// `owner` and whose access list is `dacl` (null: none, so everyone has
/// full control), for a process whose user's SID is `user`.
fn judge(owner: PSID, dacl: *const ACL, user: &str, is_dir: bool) -> Option<Problem> {
    let owner_sid = sid_string(owner)?;
    if !trusted(&owner_sid, user) {
        return Some(Problem::OwnedBy {
            account: account_name(owner).unwrap_or(owner_sid).into(),
            user: user.into(),
        });
    }
    if dacl.is_null() {
        return Some(Problem::WritableBy {
            account: "Everyone".into(),
            rights: "full control: it has no access list".into(),
        });
    }
    let ignored = if is_dir { ADD_ONLY } else { 0 };
    allowed(dacl).into_iter().find_map(|(sid, mask)| {
        let mask = mask & !ignored;
        let rights: Vec<&str> = WRITE_RIGHTS
            .iter()
            .filter(|(right, _)| mask & right != 0)
            .map(|(_, name)| *name)
            .collect();
        let granted = sid_string(sid)?;
        (!rights.is_empty() && !trusted(&granted, user)).then(|| Problem::WritableBy {
            account: account_name(sid).unwrap_or(granted).into(),
            rights: rights.join(", ").into(),
        })
    })
}

fn trusted(sid: &str, user: &str) -> bool {
    sid == user || TRUSTED.contains(&sid)
}

/// A path's security descriptor: its owner and DACL, which point into it.
struct Descriptor {
    descriptor: PSECURITY_DESCRIPTOR,
    owner: PSID,
    dacl: *mut ACL,
}

impl Descriptor {
    /// The owner and DACL of `path`, or `None` when they cannot be read.
    fn of(path: &Path) -> Option<Descriptor> {
        let wide: Vec<u16> = path.as_os_str().encode_wide().chain([0]).collect();
        let mut descriptor = Descriptor {
            descriptor: std::ptr::null_mut(),
            owner: std::ptr::null_mut(),
            dacl: std::ptr::null_mut(),
        };
        // SAFETY: `wide` is NUL-terminated; the out-pointers are valid,
        // and the descriptor the system allocates is freed on drop.
        let status = unsafe {
            GetNamedSecurityInfoW(
                wide.as_ptr(),
                SE_FILE_OBJECT,
                OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                &mut descriptor.owner,
                std::ptr::null_mut(),
                &mut descriptor.dacl,
                std::ptr::null_mut(),
                &mut descriptor.descriptor,
            )
        };
        (status == 0 && !descriptor.owner.is_null()).then_some(descriptor)
    }
}

impl Drop for Descriptor {
    fn drop(&mut self) {
        // SAFETY: the system allocated it with LocalAlloc for us.
        unsafe { LocalFree(self.descriptor) };
    }
}

/// The SID and rights of each access-allowed entry of `dacl` (not null)
/// that applies to the path itself (not one only inherited by its
/// children). The SIDs point into the list.
fn allowed(dacl: *const ACL) -> Vec<(PSID, u32)> {
    let mut size = ACL_SIZE_INFORMATION {
        AceCount: 0,
        AclBytesInUse: 0,
        AclBytesFree: 0,
    };
    // SAFETY: `dacl` is a valid ACL; `size` is the structure the class
    // asks for.
    let read = unsafe {
        GetAclInformation(
            dacl,
            (&raw mut size).cast(),
            size_of::<ACL_SIZE_INFORMATION>() as u32,
            AclSizeInformation,
        )
    };
    let count = if read != 0 { size.AceCount } else { 0 };
    (0..count)
        .filter_map(|index| {
            let mut ace: *mut c_void = std::ptr::null_mut();
            // SAFETY: `index` is below the list's entry count; `ace` then
            // points at an entry inside the list.
            if unsafe { GetAce(dacl, index, &mut ace) } == 0 {
                return None;
            }
            // SAFETY: every entry starts with an ACE_HEADER, and an
            // access-allowed entry is an ACCESS_ALLOWED_ACE, its SID at
            // `SidStart`.
            unsafe {
                let allowed = ace.cast::<ACCESS_ALLOWED_ACE>();
                let header = (*allowed).Header;
                let inherit_only = header.AceFlags & INHERIT_ONLY_ACE as u8 != 0;
                if header.AceType != ACCESS_ALLOWED || inherit_only {
                    return None;
                }
                Some(((&raw mut (*allowed).SidStart).cast(), (*allowed).Mask))
            }
        })
        .collect()
}

/// `sid` as text (`S-1-5-32-544`).
fn sid_string(sid: PSID) -> Option<String> {
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: `sid` is a valid SID; the string the system allocates is
    // read up to its NUL and freed here.
    unsafe {
        if ConvertSidToStringSidW(sid, &mut text) == 0 {
            return None;
        }
        let string = wide_string(text);
        LocalFree(text.cast());
        Some(string)
    }
}

/// The text of the NUL-terminated UTF-16 string at `text`.
///
/// # Safety
/// `text` points at a NUL-terminated UTF-16 string.
unsafe fn wide_string(text: *const u16) -> String {
    let mut len = 0;
    // SAFETY: the caller's promise: a NUL ends it.
    while unsafe { *text.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: `len` units, all read above.
    String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(text, len) })
}

/// `DOMAIN\name` of `sid`, when the system knows it.
fn account_name(sid: PSID) -> Option<String> {
    let (mut name, mut domain) = ([0u16; 256], [0u16; 256]);
    let (mut name_len, mut domain_len) = (256u32, 256u32);
    let mut kind: SID_NAME_USE = 0;
    // SAFETY: the buffers are as long as their lengths say; `sid` is valid.
    let found = unsafe {
        LookupAccountSidW(
            std::ptr::null(),
            sid,
            name.as_mut_ptr(),
            &mut name_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            &mut kind,
        )
    };
    if found == 0 {
        return None;
    }
    let name = String::from_utf16_lossy(&name[..name_len as usize]);
    let domain = String::from_utf16_lossy(&domain[..domain_len as usize]);
    Some(if domain.is_empty() {
        name
    } else {
        format!("{domain}\\{name}")
    })
}

/// The SID of the process's user, as text; read once.
fn process_user() -> Option<&'static str> {
    static USER: OnceLock<Option<String>> = OnceLock::new();
    USER.get_or_init(|| {
        let mut token: HANDLE = std::ptr::null_mut();
        // SAFETY: the pseudo-handle of this process; `token` is closed below.
        if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
            return None;
        }
        // TOKEN_USER and the SID it points at, in one buffer.
        let mut buffer = [0u64; 64];
        let mut needed = 0;
        // SAFETY: the buffer is as long as its length says, and aligned
        // for TOKEN_USER.
        let read = unsafe {
            GetTokenInformation(
                token,
                TokenUser,
                buffer.as_mut_ptr().cast(),
                size_of_val(&buffer) as u32,
                &mut needed,
            )
        };
        // SAFETY: opened above.
        unsafe { CloseHandle(token) };
        if read == 0 {
            return None;
        }
        // SAFETY: the system wrote a TOKEN_USER at the buffer's start.
        let user = unsafe { (*buffer.as_ptr().cast::<TOKEN_USER>()).User.Sid };
        sid_string(user)
    })
    .as_deref()
}

/// The decision on security descriptors built in memory with the
/// system's calls: wine keeps of a file's access list only what Unix
/// permission bits can hold (Everyone is "others"), so an entry for
/// Users or another account, and another owner, are shown here.
#[cfg(test)]
mod tests {
    use windows_sys::Win32::Security::Authorization::{
        ConvertStringSidToSidW, EXPLICIT_ACCESS_W, GRANT_ACCESS, SetEntriesInAclW, TRUSTEE_IS_SID,
        TRUSTEE_IS_UNKNOWN, TRUSTEE_W,
    };
    use windows_sys::Win32::Security::NO_INHERITANCE;

    use super::*;

    /// A SID the system allocated, freed on drop.
    struct Sid(PSID);

    impl Sid {
        fn parse(text: &str) -> Sid {
            let wide: Vec<u16> = text.encode_utf16().chain([0]).collect();
            let mut sid: PSID = std::ptr::null_mut();
            // SAFETY: `wide` is NUL-terminated.
            let parsed = unsafe { ConvertStringSidToSidW(wide.as_ptr(), &mut sid) };
            assert_ne!(parsed, 0, "{text} is a SID");
            Sid(sid)
        }
    }

    impl Drop for Sid {
        fn drop(&mut self) {
            // SAFETY: allocated by ConvertStringSidToSidW.
            unsafe { LocalFree(self.0) };
        }
    }

    /// An access list the system built, freed on drop.
    struct Acl(*mut ACL);

    impl Acl {
        /// A list granting each SID its rights, as icacls /grant does.
        fn granting(entries: &[(&Sid, u32)]) -> Acl {
            let entries: Vec<EXPLICIT_ACCESS_W> = entries
                .iter()
                .map(|(sid, rights)| EXPLICIT_ACCESS_W {
                    grfAccessPermissions: *rights,
                    grfAccessMode: GRANT_ACCESS,
                    grfInheritance: NO_INHERITANCE,
                    Trustee: TRUSTEE_W {
                        TrusteeForm: TRUSTEE_IS_SID,
                        TrusteeType: TRUSTEE_IS_UNKNOWN,
                        ptstrName: sid.0.cast(),
                        ..TRUSTEE_W::default()
                    },
                })
                .collect();
            let mut acl: *mut ACL = std::ptr::null_mut();
            // SAFETY: the entries and the SIDs they point at outlive the
            // call; the new list is freed on drop.
            let status = unsafe {
                SetEntriesInAclW(
                    entries.len() as u32,
                    entries.as_ptr(),
                    std::ptr::null(),
                    &mut acl,
                )
            };
            assert_eq!(status, 0);
            Acl(acl)
        }
    }

    impl Drop for Acl {
        fn drop(&mut self) {
            // SAFETY: allocated by SetEntriesInAclW.
            unsafe { LocalFree(self.0.cast()) };
        }
    }

    /// FILE_GENERIC_READ | FILE_GENERIC_EXECUTE, and FILE_GENERIC_WRITE.
    const READ: u32 = 0x0012_00a9;
    const WRITE: u32 = 0x0012_0116;

    #[test]
    fn an_entry_letting_users_write_is_refused_naming_the_account_and_rights() {
        let user = process_user().unwrap();
        let (me, users) = (Sid::parse(user), Sid::parse("S-1-5-32-545"));
        let acl = Acl::granting(&[(&me, WRITE), (&users, WRITE)]);
        match judge(me.0, acl.0, user, false) {
            Some(Problem::WritableBy { account, rights }) => {
                assert_eq!(&*account, "BUILTIN\\Users");
                assert!(rights.starts_with("write, append"), "{rights}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_user_system_administrators_and_reading_others_pass() {
        let user = process_user().unwrap();
        let sids = [user, "S-1-5-18", "S-1-5-32-544"].map(Sid::parse);
        let (everyone, users) = (Sid::parse("S-1-1-0"), Sid::parse("S-1-5-32-545"));
        let acl = Acl::granting(&[
            (&sids[0], WRITE),
            (&sids[1], 0x1f_01ff),
            (&sids[2], 0x1f_01ff),
            (&everyone, READ),
            (&users, READ),
        ]);
        for owner in &sids {
            assert_eq!(judge(owner.0, acl.0, user, false), None);
        }
    }

    #[test]
    fn on_a_directory_adding_is_allowed_and_deleting_a_child_is_not() {
        let user = process_user().unwrap();
        let (me, users) = (Sid::parse(user), Sid::parse("S-1-5-32-545"));
        // FILE_ADD_FILE | FILE_ADD_SUBDIRECTORY, as every C:\ grants
        // Authenticated Users.
        let adding = Acl::granting(&[(&me, WRITE), (&users, 0x0000_0006)]);
        assert_eq!(judge(me.0, adding.0, user, true), None);
        assert!(
            judge(me.0, adding.0, user, false).is_some(),
            "a file: write"
        );
        let deleting = Acl::granting(&[(&me, WRITE), (&users, 0x0000_0046)]);
        assert!(matches!(
            judge(me.0, deleting.0, user, true),
            Some(Problem::WritableBy { rights, .. }) if &*rights == "delete child"
        ));
    }

    #[test]
    fn another_owner_is_refused_naming_it() {
        let user = process_user().unwrap();
        let (me, users) = (Sid::parse(user), Sid::parse("S-1-5-32-545"));
        let acl = Acl::granting(&[(&me, WRITE)]);
        assert_eq!(
            judge(users.0, acl.0, user, false),
            Some(Problem::OwnedBy {
                account: "BUILTIN\\Users".into(),
                user: user.into(),
            })
        );
    }

    #[test]
    fn no_access_list_lets_everyone_write() {
        let user = process_user().unwrap();
        let me = Sid::parse(user);
        assert!(matches!(
            judge(me.0, std::ptr::null(), user, false),
            Some(Problem::WritableBy { account, .. }) if &*account == "Everyone"
        ));
    }
}
