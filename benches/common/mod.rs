//! What every bench shares.

use std::time::Duration;

use criterion::Criterion;

/// Criterion as configured from the command line, shortened when
/// `HCR_BENCH_QUICK` is set (CI proves the benches run; the numbers of a
/// quick run are not worth publishing).
pub fn config() -> Criterion {
    let criterion = Criterion::default();
    if std::env::var_os("HCR_BENCH_QUICK").is_some() {
        criterion
            .sample_size(10)
            .warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_millis(300))
            .without_plots()
    } else {
        criterion
    }
}
