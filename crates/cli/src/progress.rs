//! Deploy progress on standard error: indicatif bars on a terminal, plain lines otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub(crate) struct Progress {
    fancy: bool,
}

impl Progress {
    pub(crate) fn new() -> Progress {
        Progress { fancy: std::io::stderr().is_terminal() && std::io::stdout().is_terminal() }
    }

    /// A line of its own (both modes).
    pub(crate) fn line(&self, text: &str) {
        eprintln!("{text}");
    }

    /// A bar counting files (`hashing 1,234/5,000 files`), or nothing when not on a terminal.
    pub(crate) fn files(&self, what: &str, total: u64) -> Bar {
        self.bar(total, &format!("{what} {{bar:30}} {{human_pos}}/{{human_len}} files ({{per_sec}})"))
    }

    /// A bar counting bytes with rate and time left.
    pub(crate) fn bytes(&self, what: &str, total: u64) -> Bar {
        self.bar(
            total,
            &format!(
                "{what} {{bar:30}} {{binary_bytes}}/{{binary_total_bytes}} {{binary_bytes_per_sec}}, {{eta}} left"
            ),
        )
    }

    fn bar(&self, total: u64, template: &str) -> Bar {
        if !self.fancy {
            return Bar(None);
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(ProgressStyle::with_template(template).expect("a valid template").progress_chars("=> "));
        bar.enable_steady_tick(Duration::from_millis(100));
        Bar(Some(bar))
    }
}

/// A progress bar, or nothing.
#[derive(Clone)]
pub(crate) struct Bar(Option<ProgressBar>);

impl Bar {
    pub(crate) fn inc(&self, n: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(n);
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
