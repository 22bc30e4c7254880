//! The host: opens a window (eframe, glow) and has the module `egui_view` draw
//! it every frame; between two frames it reloads whatever `cargo hcr run`
//! rebuilt.

use std::time::Duration;

use eframe::egui;
use hcr_client::Host;

/// The host's logger: prints records on stderr. A module's records reach
/// it too, as the module uses the host's `log`.
struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!("[{} {}] {}", record.level(), record.target(), record.args());
        }
    }

    fn flush(&self) {}
}

static LOGGER: Stderr = Stderr;

struct App {
    host: Host,
    /// The module's state, owned here so that it outlives every version
    /// of the module.
    state: egui_view::State,
    /// The text the window showed last.
    shown: String,
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        // A safe point: no module code runs between two frames.
        if self.host.reload_needed() {
            match self.host.reload() {
                Ok(report) => log::info!("reloaded {}", report.modules.join(", ")),
                Err(err) => log::error!("{err}"),
            }
        }
        egui_view::draw(ui, &mut self.state);
        let shown = shown_text(ui);
        if shown != self.shown {
            println!("the window shows: {shown}");
            self.shown = shown;
        }
        // Frames go on while nothing happens, so that a rebuilt module
        // shows without waiting for input.
        ui.ctx().request_repaint_after(Duration::from_millis(100));
    }
}

/// The text painted in `ui`'s layer this frame, as the window shows it.
fn shown_text(ui: &egui::Ui) -> String {
    ui.ctx().graphics(|layers| {
        let painted = layers.get(ui.layer_id()).into_iter();
        let texts =
            painted
                .flat_map(|list| list.all_entries())
                .filter_map(|clipped| match &clipped.shape {
                    egui::Shape::Text(text) => Some(text.galley.text().to_owned()),
                    _ => None,
                });
        texts.collect::<Vec<_>>().join(" | ")
    })
}

fn main() -> eframe::Result {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
    let host = match Host::builder().import("egui_view").start() {
        Ok(host) => host,
        Err(err) => {
            eprintln!("{err}");
            std::process::exit(1);
        }
    };
    let app = App {
        host,
        state: egui_view::State::default(),
        shown: String::new(),
    };
    eframe::run_native(
        "hcr egui example",
        eframe::NativeOptions::default(),
        Box::new(|_| Ok(Box::new(app))),
    )
}
