//! Demo module: the board and the frame counter, in persistent globals, so
//! they go on through every reload.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

hcr_client::module!(imports = [demo_rules]);

/// The board's width.
pub const WIDTH: usize = 24;
/// The board's height.
pub const HEIGHT: usize = 8;

/// One frame of the board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Frames stepped since the program started.
    pub number: u64,
    /// `WIDTH * HEIGHT` cells, row by row.
    pub cells: Vec<bool>,
}

#[hcr_client::global]
static FRAME: AtomicU64 = AtomicU64::new(0);

/// A glider and a blinker to start with.
#[hcr_client::global]
static CELLS: Mutex<Vec<bool>> = Mutex::new({
    let mut cells = vec![false; WIDTH * HEIGHT];
    for (x, y) in [
        (1, 0),
        (2, 1),
        (0, 2),
        (1, 2),
        (2, 2),
        (10, 3),
        (11, 3),
        (12, 3),
    ] {
        cells[y * WIDTH + x] = true;
    }
    cells
});

fn neighbours(cells: &[bool], x: usize, y: usize) -> u8 {
    let mut count = 0;
    for dy in [HEIGHT - 1, 0, 1] {
        for dx in [WIDTH - 1, 0, 1] {
            if (dx, dy) != (0, 0) && cells[(y + dy) % HEIGHT * WIDTH + (x + dx) % WIDTH] {
                count += 1;
            }
        }
    }
    count
}

/// Advances the board by one frame and returns it.
#[hcr_client::reloadable]
pub fn step() -> Frame {
    let mut cells = CELLS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let next: Vec<bool> = (0..WIDTH * HEIGHT)
        .map(|i| demo_rules::next_alive(cells[i], neighbours(&cells, i % WIDTH, i / WIDTH)))
        .collect();
    *cells = next;
    Frame {
        number: FRAME.fetch_add(1, Ordering::Relaxed) + 1,
        cells: cells.clone(),
    }
}
