//! Example module: bodies turning around a centre. The orbit host calls it
//! every frame; edit `step` while the host runs, rebuild, and the next
//! frame uses the new code.

use std::sync::atomic::{AtomicU64, Ordering};

hcr_client::module!();

/// Steps taken since the program started: a persistent global, so a
/// reload does not reset it (a plain `static` would start again at 0).
#[hcr_client::global]
static STEPS: AtomicU64 = AtomicU64::new(0);

/// A body on a circular orbit.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    /// Its name.
    pub name: String,
    /// Where it is on its orbit, in degrees.
    pub angle: u32,
    /// The orbit's radius.
    pub radius: f64,
}

/// Degrees a body turns per frame, divided by its radius. The orbit
/// demo stands in for an edit of this line by rebuilding the crate with
/// `--cfg orbit_edited`.
const SPEED: u32 = if cfg!(orbit_edited) { 180 } else { 60 };

/// Advances every body by one frame.
#[hcr_client::reloadable]
pub fn step(bodies: Vec<Body>) -> Vec<Body> {
    STEPS.fetch_add(1, Ordering::Relaxed);
    bodies
        .into_iter()
        .map(|body| Body {
            angle: (body.angle + SPEED / body.radius.max(1.0) as u32) % 360,
            ..body
        })
        .collect()
}

#[hcr_client::reloadable]
impl Body {
    /// Where the body is, as (x, y): a reloadable method, so callers in
    /// other crates run the newest version of it.
    pub fn position(&self) -> (f64, f64) {
        let radians = f64::from(self.angle).to_radians();
        (self.radius * radians.cos(), self.radius * radians.sin())
    }
}

/// How many steps were taken, across every version of this module.
#[hcr_client::reloadable]
pub fn steps() -> u64 {
    STEPS.load(Ordering::Relaxed)
}
