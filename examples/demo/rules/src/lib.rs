//! Demo module: the rule that decides whether a cell lives. Edit it while
//! the demo runs (try `[3, 6].contains(&neighbours)` for births).

hcr_client::module!();

/// Whether a cell is alive in the next frame.
#[hcr_client::reloadable]
pub fn next_alive(alive: bool, neighbours: u8) -> bool {
    if alive {
        neighbours == 2 || neighbours == 3
    } else {
        neighbours == 3
    }
}
