//! `--port N` and `--address A`, the flags the web examples share (Tornado's demos'
//! `define("port", default=8888)`), and each example's own flags, parsed in one place.
//!
//! Each example includes this file (`#[path = "common/port_address.rs"] mod
//! port_address;`) and uses part of it.
#![allow(dead_code)]

use std::str::FromStr;

/// Where an example listens.
pub struct PortAddress {
    pub port: u16,
    pub address: String,
}

/// The rest of the command line, for an example's own flags to take their values from.
pub struct Flags {
    rest: std::vec::IntoIter<String>,
}

impl Flags {
    /// The value after `flag`; an error when the command line ends there.
    pub fn value(&mut self, flag: &str) -> Result<String, String> {
        self.rest
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))
    }

    /// The value after `flag`, parsed as a `T`.
    pub fn parsed<T: FromStr>(&mut self, flag: &str) -> Result<T, String> {
        let v = self.value(flag)?;
        v.parse().map_err(|_| format!("bad {flag} {v:?}"))
    }
}

/// Parses `--port N` (default 8888) and `--address A` (default 127.0.0.1) from the
/// command line; anything else, or `--help`, is an error whose message is the usage
/// of `example`.
pub fn parse(example: &str) -> Result<PortAddress, String> {
    parse_with(
        &format!("usage: {example} [--port N] [--address A]"),
        no_flags,
    )
}

/// [`parse`], with the example's own flags: `own(flag, flags)` handles a flag it
/// knows (taking its value from `flags`) and returns `Ok(true)`, or returns
/// `Ok(false)` for a flag it does not know. `usage` is the message for `--help`.
pub fn parse_with(
    usage: &str,
    own: impl FnMut(&str, &mut Flags) -> Result<bool, String>,
) -> Result<PortAddress, String> {
    parse_from(usage, std::env::args().skip(1).collect(), own)
}

fn no_flags(_: &str, _: &mut Flags) -> Result<bool, String> {
    Ok(false)
}

fn parse_from(
    usage: &str,
    args: Vec<String>,
    mut own: impl FnMut(&str, &mut Flags) -> Result<bool, String>,
) -> Result<PortAddress, String> {
    let mut out = PortAddress {
        port: 8888,
        address: "127.0.0.1".to_string(),
    };
    let mut flags = Flags {
        rest: args.into_iter(),
    };
    while let Some(flag) = flags.rest.next() {
        match flag.as_str() {
            "--port" => out.port = flags.parsed("--port")?,
            "--address" => out.address = flags.value("--address")?,
            "-h" | "--help" => return Err(usage.to_string()),
            other => {
                if !own(other, &mut flags)? {
                    return Err(format!("unknown argument {other:?}\n{usage}"));
                }
            }
        }
    }
    Ok(out)
}

/// [`parse`], or the message on standard error and exit status 2.
pub fn parse_or_exit(example: &str) -> PortAddress {
    or_exit(parse(example))
}

/// [`parse_with`], or the message on standard error and exit status 2.
pub fn parse_with_or_exit(
    usage: &str,
    own: impl FnMut(&str, &mut Flags) -> Result<bool, String>,
) -> PortAddress {
    or_exit(parse_with(usage, own))
}

fn or_exit(parsed: Result<PortAddress, String>) -> PortAddress {
    parsed.unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    })
}

#[cfg(test)]
mod tests {
    use super::{Flags, no_flags, parse_from};

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_flags_and_errors() {
        let a = parse_from("u", args(&[]), no_flags).unwrap();
        assert_eq!((a.port, a.address.as_str()), (8888, "127.0.0.1"));
        let a = parse_from(
            "u",
            args(&["--port", "9", "--address", "0.0.0.0"]),
            no_flags,
        )
        .unwrap();
        assert_eq!((a.port, a.address.as_str()), (9, "0.0.0.0"));
        let err = |list: &[&str]| parse_from("u", args(list), no_flags).err().unwrap();
        assert_eq!(err(&["--port"]), "--port needs a value");
        assert_eq!(err(&["--port", "p"]), "bad --port \"p\"");
        assert_eq!(err(&["-h"]), "u");
        assert_eq!(err(&["--nope"]), "unknown argument \"--nope\"\nu");
    }

    #[test]
    fn an_examples_own_flags() {
        let (mut threads, mut quiet) = (1usize, false);
        let own = |flag: &str, flags: &mut Flags| {
            match flag {
                "--threads" => threads = flags.parsed("--threads")?,
                "--quiet" => quiet = true,
                _ => return Ok(false),
            }
            Ok(true)
        };
        let list = args(&["--threads", "4", "--port", "1", "--quiet"]);
        let a = parse_from("u", list, own).unwrap();
        assert_eq!((a.port, threads, quiet), (1, 4, true));
        let own = |_: &str, flags: &mut Flags| flags.parsed::<u8>("--level").map(|_| true);
        assert_eq!(
            parse_from("u", args(&["--level", "x"]), own).err().unwrap(),
            "bad --level \"x\""
        );
    }
}
