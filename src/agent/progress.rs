//! Progress per camera: an indicatif bar per bay when stderr is a terminal, nothing
//! but the summary line otherwise.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// The bars of one agent run.
#[derive(Clone, Debug)]
pub struct Bars {
    multi: Option<MultiProgress>,
}

impl Bars {
    /// Bars on stderr if `enabled` (a terminal), otherwise none.
    pub fn new(enabled: bool) -> Bars {
        Bars {
            multi: enabled.then(MultiProgress::new),
        }
    }

    /// A bar for one camera.
    pub fn bar(&self, camera: &str) -> Bar {
        let bar = self.multi.as_ref().map(|m| {
            let b = m.add(ProgressBar::new(0));
            let style = ProgressStyle::with_template(
                "{prefix:>8} [{bar:30}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            b.set_style(style);
            b.set_prefix(camera.to_string());
            b.enable_steady_tick(Duration::from_millis(250));
            b
        });
        Bar { bar }
    }

    /// Print a line without tearing the bars.
    pub fn println(&self, line: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(line);
            }
            None => println!("{line}"),
        }
    }
}

/// One camera's bar (or nothing).
#[derive(Clone, Debug)]
pub struct Bar {
    bar: Option<ProgressBar>,
}

impl Bar {
    /// Set the total of bytes to move.
    pub fn start(&self, total: u64) {
        if let Some(b) = &self.bar {
            b.set_length(total);
            b.set_position(0);
        }
    }

    /// Bytes moved.
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    /// What is happening now.
    pub fn message(&self, m: &str) {
        if let Some(b) = &self.bar {
            b.set_message(m.to_string());
        }
    }

    /// Done: leave the final line in place.
    pub fn finish(&self, line: &str) {
        if let Some(b) = &self.bar {
            b.finish_with_message(line.to_string());
        }
    }
}
