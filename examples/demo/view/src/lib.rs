//! Demo module: draws a frame, as one line or as the whole board. Edit
//! `ALIVE` while the demo runs.

use demo_world::{Frame, WIDTH};

hcr_client::module!(imports = [demo_world]);

/// How a live cell looks.
const ALIVE: char = '#';

/// One row of the board as text.
fn row_text(row: &[bool]) -> String {
    row.iter()
        .map(|cell| if *cell { ALIVE } else { '.' })
        .collect()
}

/// The frame as one line: its number, the live cells, the first rows.
#[hcr_client::reloadable]
pub fn render(frame: &Frame) -> String {
    let alive = frame.cells.iter().filter(|cell| **cell).count();
    let rows: Vec<String> = frame.cells.chunks(WIDTH).take(4).map(row_text).collect();
    format!(
        "frame {:>4} | {alive:>2} alive | {}",
        frame.number,
        rows.join(" ")
    )
}

/// The whole board, one line per row, for drawing it in place.
#[hcr_client::reloadable]
pub fn grid(frame: &Frame) -> Vec<String> {
    frame.cells.chunks(WIDTH).map(row_text).collect()
}
