//! Names of the files in a module directory that the runtime and hcr's
//! tools (`cargo hcr`) both read or write, defined once for both.

/// The file a tool that writes a set of libraries which only work together
/// keeps in the module directory while it does (cargo writes each library
/// there as soon as it is built). It names the modules of the set, one per
/// line; an empty file names every module. While it is there and younger
/// than [`STALE_BUILDING_MARKER_SECS`], the runtime takes none of the named
/// modules for changed, so that a reload never takes part of a set.
pub const BUILDING_MARKER: &str = "hcr-building";

/// How old a [`BUILDING_MARKER`] is, in seconds, when the runtime takes it
/// for one that a stopped tool left behind and ignores it.
pub const STALE_BUILDING_MARKER_SECS: u64 = 600;

/// The manifest the runtime writes beside the modules after start-up and
/// every reload (unless `HCR_MANIFEST` names another file or `off`).
pub const MANIFEST: &str = "hcr-manifest.json";
