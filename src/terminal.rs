//! Writing for people without ever panicking. `println!`/`eprintln!` panic when the other end of
//! the pipe is gone (`trailq … 2>&1 | head -1`); a reader that went away is not a failure of the
//! command. Diagnostics on stderr are best effort ([`note!`]); what a command exists to print on
//! stdout goes through [`out`] so that a closed stdout ends the command quietly (`main` exits 0 on
//! `Error::Stdout` with a broken pipe) and any other write error is reported.

use std::io::{self, Write};

use crate::error::{Error, Result};

/// A line on stderr, if anyone is reading it: progress, warnings, rejections, summaries of cost.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}
pub(crate) use note;

/// Writes `text` and a newline to stdout.
pub fn out(text: &str) -> Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .map_err(Error::Stdout)
}

/// Pretty JSON and a newline on stdout (`--json`).
pub fn out_json(value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Stdout(e.into()))?;
    out(&text)
}

/// `1 row`, `2 rows`: a count and its noun.
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}
