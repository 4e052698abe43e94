//! rustregex: a regex oracle with Rust's `regex` crate, the engine of
//! Linkerd's proxy and policy controller. One question per line on stdin,
//! one answer per line on stdout, every string hex-encoded (UTF-8 bytes; the
//! empty string as `-`):
//!
//!   Q <pattern> <input> <input> ...
//!
//! is answered with `E <hex error message>` when the pattern does not
//! compile, or `M <a><b> <a><b> ...` with two digits per input: a = 1 when
//! `is_match` finds the pattern anywhere in the input, b = 1 when the
//! leftmost-first match spans the whole input (how Linkerd's proxy
//! full-matches a route's regex). The pattern is UTF-8; an input is any
//! bytes (a header value need not be UTF-8), matched with `regex::bytes`,
//! the same syntax in Unicode mode: invalid UTF-8 matches no class and no `.`.
//!
//! `rustregex --version` prints the regex crate's version.

use std::io::{self, BufRead, BufWriter, Write};

const REGEX_VERSION: &str = "1.7.1";

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s == "-" {
        return Some(Vec::new());
    }
    if s.len() % 2 != 0 {
        return None;
    }
    let mut bytes = Vec::with_capacity(s.len() / 2);
    for i in (0..s.len()).step_by(2) {
        bytes.push(u8::from_str_radix(&s[i..i + 2], 16).ok()?);
    }
    Some(bytes)
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{:02x}", b)).collect()
}

fn answer(line: &str) -> String {
    let mut fields = line.split(' ');
    if fields.next() != Some("Q") {
        return format!("E {}", hex("request must start with Q"));
    }
    let pattern = match fields.next().and_then(unhex).and_then(|b| String::from_utf8(b).ok()) {
        Some(p) => p,
        None => return format!("E {}", hex("pattern is not hex-encoded UTF-8")),
    };
    let re = match regex::bytes::Regex::new(&pattern) {
        Ok(re) => re,
        Err(e) => return format!("E {}", hex(&e.to_string())),
    };
    let mut out = String::from("M");
    for f in fields {
        let input = match unhex(f) {
            Some(b) => b,
            None => return format!("E {}", hex("input is not hex-encoded")),
        };
        let found = re.is_match(&input);
        let whole = match re.find(&input) {
            Some(m) => m.start() == 0 && m.end() == input.len(),
            None => false,
        };
        out.push(' ');
        out.push(if found { '1' } else { '0' });
        out.push(if whole { '1' } else { '0' });
    }
    out
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--version") {
        println!("{}", REGEX_VERSION);
        return;
    }
    let stdin = io::stdin();
    let mut out = BufWriter::new(io::stdout());
    for line in stdin.lock().lines() {
        let line = line.expect("read stdin");
        writeln!(out, "{}", answer(line.trim_end())).expect("write stdout");
        out.flush().expect("flush stdout");
    }
}
