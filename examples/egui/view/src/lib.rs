//! The window's contents: edit `draw` while `cargo hcr run` runs, save,
//! and the next frame draws the new code.

hcr_client::module!();

/// What the window keeps between frames. The host owns it, so it survives
/// reloads; a field added here changes its layout, which a reload refuses
/// (restart the host to take it).
#[derive(Debug, Default)]
pub struct State {
    /// Clicks on the button so far.
    pub clicks: u32,
}

/// Draws one frame.
#[hcr_client::reloadable]
pub fn draw(ui: &mut egui::Ui, state: &mut State) {
    egui::CentralPanel::default().show(ui, |ui| {
        ui.heading("Hello from a module");
        if ui.button("Click me").clicked() {
            state.clicks += 1;
            log::info!("clicked {} time(s)", state.clicks);
        }
        ui.label(format!("Clicked {} time(s)", state.clicks));
    });
}
