//! `--port N` and `--address A`, the flags the web examples share (Tornado's demos'
//! `define("port", default=8888)`), parsed in one place.

/// Where an example listens.
pub struct PortAddress {
    pub port: u16,
    pub address: String,
}

/// Parses `--port N` (default 8888) and `--address A` (default 127.0.0.1) from the
/// command line; anything else, or `--help`, is an error whose message is the usage
/// of `example`.
pub fn parse(example: &str) -> Result<PortAddress, String> {
    parse_from(example, std::env::args().skip(1))
}

fn parse_from(example: &str, args: impl Iterator<Item = String>) -> Result<PortAddress, String> {
    let mut out = PortAddress {
        port: 8888,
        address: "127.0.0.1".to_string(),
    };
    let mut it = args;
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--port" => {
                let v = value("--port")?;
                out.port = v.parse().map_err(|_| format!("bad --port {v:?}"))?;
            }
            "--address" => out.address = value("--address")?,
            "-h" | "--help" => return Err(format!("usage: {example} [--port N] [--address A]")),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(out)
}

/// [`parse`], or the message on standard error and exit status 2.
pub fn parse_or_exit(example: &str) -> PortAddress {
    parse(example).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    })
}

#[cfg(test)]
mod tests {
    use super::parse_from;

    fn args(list: &[&str]) -> impl Iterator<Item = String> {
        list.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn defaults_flags_and_errors() {
        let a = parse_from("x", args(&[])).unwrap();
        assert_eq!((a.port, a.address.as_str()), (8888, "127.0.0.1"));
        let a = parse_from("x", args(&["--port", "9", "--address", "0.0.0.0"])).unwrap();
        assert_eq!((a.port, a.address.as_str()), (9, "0.0.0.0"));
        assert_eq!(
            parse_from("x", args(&["--port"])).err().unwrap(),
            "--port needs a value"
        );
        assert_eq!(
            parse_from("x", args(&["--port", "p"])).err().unwrap(),
            "bad --port \"p\""
        );
        assert_eq!(
            parse_from("x", args(&["-h"])).err().unwrap(),
            "usage: x [--port N] [--address A]"
        );
        assert!(
            parse_from("x", args(&["--nope"]))
                .err()
                .unwrap()
                .contains("unknown")
        );
    }
}
