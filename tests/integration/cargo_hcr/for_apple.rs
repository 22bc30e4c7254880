//! `cargo hcr --target <Apple target>` from Linux, where nothing runs a
//! Mach-O file: what can be proven is proven on the files. The demo, a
//! `cargo hcr new` project and a C module are built for the target, and
//! read with `object`: the runtime's install name
//! (`@rpath/libhcr_runtime.dylib`) and its exports (every function of
//! `hcr.h`), the hosts' and the C module's run path (`@executable_path`),
//! code signatures on arm64, and the stub page in the runtime's `__TEXT`:
//! every stub, decoded, jumps through the cell one stub page above it,
//! and the bad-call entry passes the slot on and jumps through the handler
//! cell above itself. Each check is then shown to fail on a copy with
//! that one thing wrong.
//!
//! They need zig and cargo-zigbuild, so they are ignored by default;
//! `.ci/cross-test aarch64-apple-darwin` (and `x86_64-apple-darwin`) runs
//! them for its target (`HCR_APPLE_TARGET`).

use object::macho;
use object::read::macho::{LoadCommandVariant, MachHeader as _, Section as _, Segment as _};
use object::{LittleEndian as LE, Object as _, ObjectSymbol as _};

use super::{cargo_hcr_in, cargo_hcr_says, run_demo_for, shared_target, shared_target_turn, text};

const STUB_PAGE: usize = hcr_runtime::arch::STUB_PAGE;
const STUB_LEN: usize = hcr_runtime::arch::PAGE_STUB_LEN;
const BAD_CALL_OFFSET: usize = hcr_runtime::arch::PAGE_BAD_CALL_OFFSET;

/// The Apple target the tests build for.
fn target() -> String {
    std::env::var("HCR_APPLE_TARGET").unwrap_or_else(|_| "aarch64-apple-darwin".to_owned())
}

fn arm64(target: &str) -> bool {
    target.starts_with("aarch64")
}

/// The target's CPU as a Mach-O header names it.
fn cpu(target: &str) -> u32 {
    if arm64(target) {
        macho::CPU_TYPE_ARM64.0
    } else {
        macho::CPU_TYPE_X86_64.0
    }
}

/// What a Mach-O file says of itself: its type, the names its load
/// commands give, whether it is signed, and its `__TEXT,__hcr_stubs`.
#[derive(Debug, Default)]
struct Said {
    filetype: u32,
    id: Option<String>,
    loads: Vec<String>,
    rpaths: Vec<String>,
    signed: bool,
    /// Address and bytes of `__TEXT,__hcr_stubs`.
    stubs: Option<(u64, Vec<u8>)>,
}

fn read(bytes: &[u8]) -> Result<Said, String> {
    let header = macho::MachHeader64::<LE>::parse(bytes, 0).map_err(|err| err.to_string())?;
    let mut said = Said {
        filetype: header.filetype(LE).0,
        ..Said::default()
    };
    let mut commands = header
        .load_commands(LE, bytes, 0)
        .map_err(|err| err.to_string())?;
    while let Some(command) = commands.next().map_err(|err| err.to_string())? {
        let name = |offset| {
            command
                .string(LE, offset)
                .map(|name| String::from_utf8_lossy(name).into_owned())
                .map_err(|err| err.to_string())
        };
        match command.variant().map_err(|err| err.to_string())? {
            LoadCommandVariant::IdDylib(dylib) => said.id = Some(name(dylib.dylib.name)?),
            LoadCommandVariant::Dylib(dylib) => said.loads.push(name(dylib.dylib.name)?),
            LoadCommandVariant::Rpath(rpath) => said.rpaths.push(name(rpath.path)?),
            LoadCommandVariant::LinkeditData(_) if command.cmd() == macho::LC_CODE_SIGNATURE => {
                said.signed = true;
            }
            LoadCommandVariant::Segment64(segment, data) => {
                for section in segment.sections(LE, data).map_err(|err| err.to_string())? {
                    if section.name() == b"__hcr_stubs" && section.segment_name() == b"__TEXT" {
                        let offset = section.offset(LE).into();
                        let bytes = section
                            .data(LE, bytes, offset)
                            .map_err(|err| err.to_string())?;
                        said.stubs = Some((section.addr(LE), bytes.to_vec()));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(said)
}

/// The functions `hcr.h` declares: what the runtime must export.
fn c_abi() -> Vec<String> {
    let header =
        std::fs::read_to_string(hcr_build::workspace_dir().join("hcr-runtime/include/hcr.h"))
            .unwrap();
    let mut names = Vec::new();
    for line in header.lines() {
        if line.trim_start().starts_with('*') || line.trim_start().starts_with("/*") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("hcr_") {
            let word: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[at + word.len()..];
            if rest.starts_with('(') {
                names.push(word);
            }
        }
    }
    names.sort();
    names.dedup();
    assert!(names.len() > 20, "hcr.h declares {names:?}");
    names
}

/// The runtime: its install name, its exports, its signature, its page.
fn check_runtime(bytes: &[u8], target: &str, exports: &[String]) -> Result<(), String> {
    let said = read(bytes)?;
    if said.id.as_deref() != Some("@rpath/libhcr_runtime.dylib") {
        return Err(format!("the runtime's install name is {:?}", said.id));
    }
    let file = object::File::parse(bytes).map_err(|err| err.to_string())?;
    // A dylib's symbol table lists what it exports as external
    // definitions (its export trie is built from them).
    let exported: Vec<String> = file
        .symbols()
        .filter(|symbol| symbol.is_global() && symbol.is_definition())
        .filter_map(|symbol| symbol.name().ok().map(str::to_owned))
        .collect();
    for name in exports {
        if !exported
            .iter()
            .any(|e| e == name || e == &format!("_{name}"))
        {
            return Err(format!("the runtime does not export {name}"));
        }
    }
    if arm64(target) && !said.signed {
        return Err("the runtime has no code signature".into());
    }
    let (address, page) = said.stubs.ok_or("the runtime has no __TEXT,__hcr_stubs")?;
    check_stub_page(address, &page, target)
}

/// Every stub of the page jumps through the cell one stub page above it;
/// the bad-call entry passes the slot on and jumps through the cell above
/// itself.
fn check_stub_page(address: u64, page: &[u8], target: &str) -> Result<(), String> {
    if page.len() != STUB_PAGE || !address.is_multiple_of(STUB_PAGE as u64) {
        return Err(format!(
            "the stub page is {:#x} bytes at {address:#x}, not one aligned page",
            page.len()
        ));
    }
    for at in (0..STUB_PAGE).step_by(STUB_LEN) {
        let pc = address + at as u64;
        let bytes = &page[at..at + STUB_LEN];
        let checked = match (arm64(target), at == BAD_CALL_OFFSET) {
            (true, false) => aarch64::stub(pc, bytes),
            (true, true) => aarch64::bad_call(pc, bytes),
            (false, false) => x86_64::stub(pc, bytes),
            (false, true) => x86_64::bad_call(pc, bytes),
        };
        checked.map_err(|why| format!("the stub page at +{at:#x}: {why}"))?;
    }
    Ok(())
}

/// The AArch64 instructions the stub page is made of, decoded.
mod aarch64 {
    use super::STUB_PAGE;

    fn words(bytes: &[u8]) -> Vec<u32> {
        bytes
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes(w.try_into().unwrap()))
            .collect()
    }

    /// `adr xD, pc + imm`: D and the address.
    fn adr(word: u32, pc: u64) -> Option<(u32, u64)> {
        (word & 0x9f00_0000 == 0x1000_0000).then(|| {
            let imm = ((word >> 5) & 0x7_ffff) << 2 | (word >> 29) & 3;
            let imm = (i64::from(imm) << 43) >> 43; // 21 bits, signed
            (word & 31, pc.wrapping_add_signed(imm))
        })
    }

    /// `ldr xT, [xN, #imm]` (64-bit, unsigned offset): T, N and imm.
    fn ldr(word: u32) -> Option<(u32, u32, u32)> {
        (word & 0xffc0_0000 == 0xf940_0000)
            .then(|| (word & 31, (word >> 5) & 31, ((word >> 10) & 0xfff) * 8))
    }

    /// `br xN`: N.
    fn br(word: u32) -> Option<u32> {
        (word & 0xffff_fc1f == 0xd61f_0000).then_some((word >> 5) & 31)
    }

    /// `sub xD, xN, #imm`: D, N and imm.
    fn sub(word: u32) -> Option<(u32, u32, u64)> {
        (word & 0xff80_0000 == 0xd100_0000).then(|| {
            let shift = if word & (1 << 22) != 0 { 12 } else { 0 };
            (
                word & 31,
                (word >> 5) & 31,
                u64::from((word >> 10) & 0xfff) << shift,
            )
        })
    }

    pub(super) fn stub(pc: u64, bytes: &[u8]) -> Result<(), String> {
        let w = words(bytes);
        let (cell_reg, cell) = adr(w[0], pc).ok_or("no adr first")?;
        let (loaded, base, offset) = ldr(w[1]).ok_or("no ldr second")?;
        let jumped = br(w[2]).ok_or("no br third")?;
        if cell_reg != 16 || base != 16 || offset != 0 || jumped != loaded {
            return Err(format!(
                "adr x{cell_reg}; ldr x{loaded}, [x{base}, #{offset}]; br x{jumped}"
            ));
        }
        if cell != pc + STUB_PAGE as u64 {
            return Err(format!(
                "the cell is at {cell:#x}, not one page above {pc:#x}"
            ));
        }
        Ok(())
    }

    pub(super) fn bad_call(pc: u64, bytes: &[u8]) -> Result<(), String> {
        let w = words(bytes);
        let (slot, from, distance) = sub(w[0]).ok_or("no sub first")?;
        let (cell_reg, cell) = adr(w[1], pc + 4).ok_or("no adr second")?;
        let (loaded, base, offset) = ldr(w[2]).ok_or("no ldr third")?;
        let jumped = br(w[3]).ok_or("no br fourth")?;
        if slot != 0 || from != 16 || distance != STUB_PAGE as u64 {
            return Err(format!("sub x{slot}, x{from}, #{distance:#x}"));
        }
        if base != cell_reg || offset != 0 || jumped != loaded {
            return Err("the handler is not what is jumped to".into());
        }
        if cell != pc + STUB_PAGE as u64 {
            return Err(format!("the handler cell is at {cell:#x}"));
        }
        Ok(())
    }
}

/// The x86_64 instructions the stub page is made of, decoded.
mod x86_64 {
    use iced_x86::{Code, Decoder, DecoderOptions, Instruction, Register};

    use super::STUB_PAGE;

    fn decoded(pc: u64, bytes: &[u8]) -> Vec<Instruction> {
        let mut decoder = Decoder::with_ip(64, bytes, pc, DecoderOptions::NONE);
        (0..3).map(|_| decoder.decode()).collect()
    }

    pub(super) fn stub(pc: u64, bytes: &[u8]) -> Result<(), String> {
        let i = decoded(pc, bytes);
        let cell = pc + STUB_PAGE as u64;
        let lea = i[0].code() == Code::Lea_r64_m
            && i[0].op0_register() == Register::R11
            && i[0].is_ip_rel_memory_operand()
            && i[0].ip_rel_memory_address() == cell;
        let jump = i[1].code() == Code::Jmp_rm64
            && i[1].memory_base() == Register::R11
            && i[1].memory_displacement64() == 0;
        (lea && jump)
            .then_some(())
            .ok_or_else(|| format!("{} ; {}, not through the cell at {cell:#x}", i[0], i[1]))
    }

    pub(super) fn bad_call(pc: u64, bytes: &[u8]) -> Result<(), String> {
        let i = decoded(pc, bytes);
        let slot = i[0].code() == Code::Lea_r64_m
            && i[0].op0_register() == Register::RDI
            && i[0].memory_base() == Register::R11
            && i[0].memory_displacement64() == (STUB_PAGE as u64).wrapping_neg();
        let copied = i[1].code() == Code::Mov_rm64_r64
            && i[1].op0_register() == Register::RCX
            && i[1].op1_register() == Register::RDI;
        let jump = i[2].code() == Code::Jmp_rm64
            && i[2].is_ip_rel_memory_operand()
            && i[2].ip_rel_memory_address() == pc + STUB_PAGE as u64;
        (slot && copied && jump)
            .then_some(())
            .ok_or_else(|| format!("{} ; {} ; {}", i[0], i[1], i[2]))
    }
}

/// A host: an executable with the run path `@executable_path`, signed on
/// arm64.
fn check_host(bytes: &[u8], target: &str) -> Result<(), String> {
    let said = read(bytes)?;
    if said.filetype != macho::MH_EXECUTE.0 {
        return Err(format!("file type {}, not an executable", said.filetype));
    }
    if !said.rpaths.iter().any(|path| path == "@executable_path") {
        return Err(format!("the host's run paths are {:?}", said.rpaths));
    }
    if arm64(target) && !said.signed {
        return Err("the host has no code signature".into());
    }
    Ok(())
}

/// A module: a dylib the runtime's Mach-O check takes, signed on arm64;
/// a C module also loads the runtime by its install name, found through
/// `@executable_path`.
fn check_module(bytes: &[u8], target: &str, links_runtime: bool) -> Result<(), String> {
    hcr_runtime::macho::check_dylib_for(bytes, cpu(target)).map_err(|err| err.to_string())?;
    let said = read(bytes)?;
    if arm64(target) && !said.signed {
        return Err("the module has no code signature".into());
    }
    if links_runtime {
        if !said
            .loads
            .iter()
            .any(|l| l == "@rpath/libhcr_runtime.dylib")
        {
            return Err(format!("the module loads {:?}", said.loads));
        }
        if !said.rpaths.iter().any(|path| path == "@executable_path") {
            return Err(format!("the module's run paths are {:?}", said.rpaths));
        }
    }
    Ok(())
}

/// `bytes` with the first `from` replaced by `to` (as long).
fn replaced(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .position(|window| window == from)
        .unwrap_or_else(|| panic!("{:?} is not in the file", text(from)));
    let mut changed = bytes.to_vec();
    changed[at..at + to.len()].copy_from_slice(to);
    changed
}

/// The offset in the file of the load command `cmd`.
fn command_offset(bytes: &[u8], cmd: u32) -> usize {
    let header = macho::MachHeader64::<LE>::parse(bytes, 0).unwrap();
    let mut commands = header.load_commands(LE, bytes, 0).unwrap();
    let mut offset = size_of::<macho::MachHeader64<LE>>();
    while let Some(command) = commands.next().unwrap() {
        if command.cmd().0 == cmd {
            return offset;
        }
        offset += command.cmdsize() as usize;
    }
    panic!("no load command {cmd:#x}")
}

#[test]
#[ignore = "needs zig and cargo-zigbuild; .ci/cross-test <Apple target> runs it"]
fn the_demo_and_a_c_module_are_built_for_macos_with_what_dyld_needs() {
    let target = target();
    let repo = hcr_build::workspace_dir();
    let (code, _, stderr) = cargo_hcr_says(&[
        "hcr",
        "build",
        "--target",
        &target,
        "-p",
        "hcr-demo",
        "--manifest-path",
        repo.join("Cargo.toml").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "built `hcr-demo`, the runtime and 3 module(s) for {target}"
        )),
        "{stderr}"
    );
    let dir = repo.join("target").join(&target).join("debug");
    let file = |name: &str| {
        std::fs::read(dir.join(name))
            .unwrap_or_else(|err| panic!("{name} in {}: {err}", dir.display()))
    };
    let runtime = file("libhcr_runtime.dylib");
    let exports = c_abi();
    check_runtime(&runtime, &target, &exports).unwrap();
    let host = file("demo");
    check_host(&host, &target).unwrap();
    for module in ["demo_rules", "demo_world", "demo_view"] {
        check_module(&file(&format!("lib{module}.dylib")), &target, false)
            .unwrap_or_else(|err| panic!("{module}: {err}"));
    }

    // A C module linked with the runtime.
    let c_module = std::env::temp_dir().join(format!("hcr-apple-c-{}.dylib", std::process::id()));
    hcr_build::CModule::new(repo.join("tests/fixtures/plain.c"))
        .target(&target)
        .link_runtime(&dir)
        .build(&c_module)
        .unwrap();
    let c_bytes = std::fs::read(&c_module).unwrap();
    let _ = std::fs::remove_file(&c_module);
    check_module(&c_bytes, &target, true).unwrap();

    // Each check fails on a copy with one thing wrong.
    let wrong_name = replaced(&runtime, b"@rpath/libhcr_runtime", b"@xpath/libhcr_runtime");
    let err = check_runtime(&wrong_name, &target, &exports).unwrap_err();
    assert!(err.contains("install name"), "{err}");
    let mut more = exports.clone();
    more.push("hcr_no_such_entry".into());
    let err = check_runtime(&runtime, &target, &more).unwrap_err();
    assert_eq!(err, "the runtime does not export hcr_no_such_entry");
    let (address, page) = read(&runtime).unwrap().stubs.unwrap();
    // A byte every decoding depends on: the cell's displacement (x86_64),
    // the opcode of `adr` (AArch64).
    let at = 37 * STUB_LEN;
    let mut bent = page.clone();
    bent[at + 3] ^= 0x01;
    let err = check_stub_page(address, &bent, &target).unwrap_err();
    assert!(
        err.starts_with(&format!("the stub page at +{at:#x}")),
        "{err}"
    );
    let mut bent = page;
    bent[BAD_CALL_OFFSET + 1] ^= 0x10;
    assert!(check_stub_page(address, &bent, &target).is_err());
    let wrong_path = replaced(&host, b"@executable_path\0", b"@executable_patx\0");
    let err = check_host(&wrong_path, &target).unwrap_err();
    assert!(err.contains("run paths"), "{err}");
    let err = check_module(&c_bytes[..c_bytes.len() / 2], &target, true).unwrap_err();
    assert!(err.contains("truncated"), "{err}");
    let unlinked = replaced(&c_bytes, b"@rpath/libhcr_runtime", b"@rpath/libhcr_runtimf");
    assert!(
        check_module(&unlinked, &target, true)
            .unwrap_err()
            .contains("loads")
    );
    if arm64(&target) {
        // The signature's command renamed to another __LINKEDIT table's.
        let mut unsigned = runtime.clone();
        let at = command_offset(&runtime, macho::LC_CODE_SIGNATURE.0);
        unsigned[at..at + 4].copy_from_slice(&macho::LC_SEGMENT_SPLIT_INFO.0.to_le_bytes());
        let err = check_runtime(&unsigned, &target, &exports).unwrap_err();
        assert_eq!(err, "the runtime has no code signature");
    }
}

#[test]
#[ignore = "needs zig and cargo-zigbuild; .ci/cross-test <Apple target> runs it"]
fn a_new_project_is_built_for_macos_from_linux() {
    let target = target();
    let _turn = shared_target_turn();
    let parent = std::env::temp_dir().join(format!("hcr-new-apple-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&parent);
    std::fs::create_dir_all(&parent).unwrap();
    let project = parent.join("mac-game");
    let (code, _, stderr) = cargo_hcr_says(&["new", project.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let (ok, _, stderr) = cargo_hcr_in(&project, &["build", "--target", &target]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "built `mac-game`, the runtime and 1 module(s) for {target}"
        )),
        "{stderr}"
    );
    let dir = shared_target().join(&target).join("debug");
    let file = |name: &str| std::fs::read(dir.join(name)).unwrap();
    check_host(&file("mac-game"), &target).unwrap();
    check_runtime(&file("libhcr_runtime.dylib"), &target, &c_abi()).unwrap();
    check_module(&file("liblogic.dylib"), &target, false).unwrap();
    let _ = std::fs::remove_dir_all(&parent);
}

#[test]
fn run_for_macos_on_another_system_says_the_host_cannot_run_here_before_building() {
    let (failed, stderr) = run_demo_for("aarch64-apple-darwin");
    assert!(failed, "{stderr}");
    assert!(
        stderr.contains(
            "the host is built for aarch64-apple-darwin, which cannot run on this machine"
        ) && stderr.contains("cargo hcr build --target aarch64-apple-darwin"),
        "{stderr}"
    );
    assert!(!stderr.contains("building"), "{stderr}");
}

#[test]
fn without_cargo_zigbuild_a_build_for_macos_says_how_to_install_it() {
    let cargo = std::path::PathBuf::from(
        std::env::var_os("CARGO").expect("cargo sets CARGO for its tests"),
    );
    let toolchain = cargo.parent().expect("cargo is in a directory");
    assert!(!toolchain.join("cargo-zigbuild").exists());
    let output = std::process::Command::new(super::cargo_hcr())
        .args([
            "hcr",
            "build",
            "-p",
            "hcr-demo",
            "--target",
            "x86_64-apple-darwin",
        ])
        .arg("--manifest-path")
        .arg(hcr_build::workspace_dir().join("Cargo.toml"))
        .env("PATH", toolchain)
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "building for x86_64-apple-darwin on this machine needs cargo-zigbuild and zig"
        ) && stderr.contains("pip install cargo-zigbuild ziglang"),
        "{stderr}"
    );
}
