//! Example module: turns the state of `orbit_physics` into a line of
//! text, calling that module's reloadable method `Body::position`.

use orbit_physics::Body;

hcr_client::module!(imports = [orbit_physics]);

/// One line describing every body at `frame`.
#[hcr_client::reloadable]
pub fn render(frame: u32, bodies: &[Body]) -> String {
    let mut line = format!("frame {frame} (step {}):", orbit_physics::steps());
    for body in bodies {
        let (x, y) = body.position();
        line.push_str(&format!(
            " {}@{:>3}° ({x:5.1}, {y:5.1})",
            body.name, body.angle
        ));
    }
    line
}
