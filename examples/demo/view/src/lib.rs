//! Demo module: one line per frame. Edit `ALIVE` while the demo runs.

use demo_world::{Frame, WIDTH};

hcr_client::module!(imports = [demo_world]);

/// How a live cell looks.
const ALIVE: char = '#';

/// The frame as one line: its number, the live cells, the first rows.
#[hcr_client::reloadable]
pub fn render(frame: &Frame) -> String {
    let alive = frame.cells.iter().filter(|cell| **cell).count();
    let rows: Vec<String> = frame
        .cells
        .chunks(WIDTH)
        .take(4)
        .map(|row| {
            row.iter()
                .map(|cell| if *cell { ALIVE } else { '.' })
                .collect()
        })
        .collect();
    format!(
        "frame {:>4} | {alive:>2} alive | {}",
        frame.number,
        rows.join(" ")
    )
}
