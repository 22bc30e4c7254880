//! Drawing the board in place on a terminal, with ANSI escapes: the
//! board and a status line stay at the top of the screen, and what else
//! is printed there (`cargo hcr`'s build messages, reload errors) scrolls
//! in the region below them. The terminal is given back as it was when
//! the screen is dropped: at the end, on a panic, and on Ctrl-C, which
//! only asks the main loop to stop.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The terminal, while the demo draws on it.
pub struct Screen {
    /// Lines the board and the status line take.
    height: usize,
    interrupted: Arc<AtomicBool>,
}

impl Screen {
    /// Switches to the alternate screen, with a board of `rows` rows at
    /// the top.
    pub fn open(rows: usize) -> Screen {
        let interrupted = Arc::new(AtomicBool::new(false));
        let sigint = signal_hook::consts::SIGINT;
        if let Err(err) = signal_hook::flag::register(sigint, interrupted.clone()) {
            eprintln!("demo: Ctrl-C will not restore the terminal: {err}");
        }
        let height = rows + 2;
        // Alternate screen, cleared; messages scroll below the board.
        print!(
            "\x1b[?1049h\x1b[2J\x1b[{};r\x1b[{};1H",
            height + 1,
            height + 1
        );
        let _ = std::io::stdout().flush();
        Screen {
            height,
            interrupted,
        }
    }

    /// Draws `rows` and `status` over the last frame, leaving the cursor
    /// where messages go.
    pub fn draw(&self, rows: &[String], status: &str) {
        let mut out = String::from("\x1b7\x1b[H");
        for row in rows.iter().take(self.height - 2) {
            out.push_str(row);
            out.push_str("\x1b[K\r\n");
        }
        out.push_str("\x1b[K\r\n");
        out.push_str(status);
        out.push_str("\x1b[K\x1b8");
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(out.as_bytes());
        let _ = stdout.flush();
    }

    /// Whether Ctrl-C asked the demo to stop.
    pub fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        // The whole screen scrolls again, and the main screen comes back.
        print!("\x1b[r\x1b[?1049l");
        let _ = std::io::stdout().flush();
    }
}
