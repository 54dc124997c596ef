//! Template rendering per page: the fortunes page of the web benchmarks (12 rows of id
//! and message, one a `<script>` to escape, one in Japanese, in an HTML table),
//! rendered by `Application::render_string`, the path a handler's
//! `Context::render_string` takes (the same environment, globals, escaping and
//! render; a handler's adds a clone of its request and its `current_user`).
//!
//! The rows are serde structs built once, as a handler would hold rows fetched from its
//! database: each render converts them for the engine, as every handler's render does.
//!
//! `benches/templates.py` runs this beside Python Tornado's template engine on the same
//! page; alone:
//!
//!   cargo bench --bench templates [-- --rounds 7 --iterations 20000 --out page.html]
//!
//! prints `us_per_page=X` (the best round) and, with `--out`, writes the page there.
//! The template is one the fast path compiles (see `tornado::web::template`, "Compiled
//! templates"); with `--interpreted`, the `template_fast_path` setting is off and
//! minijinja's interpreter renders it. With `--preconverted`, the context is converted
//! to a `minijinja::Value` once, before the rounds (which `render_string` passes
//! through): with `--interpreted`, what the page costs the interpreter without the
//! conversion.

use std::hint::black_box;
use std::time::Instant;

use tornado::web::template::minijinja::value::{Serde, Value};
use tornado::web::{Application, Settings};

/// The fortunes page's template, in Jinja syntax (benches/templates.py has Tornado's).
const FORTUNES: &str = "<!DOCTYPE html>
<html>
<head><title>Fortunes</title></head>
<body>
<table>
<tr><th>id</th><th>message</th></tr>
{% for fortune in fortunes %}
<tr><td>{{ fortune.id }}</td><td>{{ fortune.message }}</td></tr>
{% endfor %}
</table>
</body>
</html>
";

/// The rows of the web benchmarks' fortunes test.
const ROWS: [(u32, &str); 12] = [
    (1, "fortune: No such file or directory"),
    (
        2,
        "A computer scientist is someone who fixes things that aren't broken.",
    ),
    (3, "After enough decimal places, nobody gives a damn."),
    (
        4,
        "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    ),
    (
        5,
        "A computer program does what you tell it to do, not what you want it to do.",
    ),
    (
        6,
        "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
    ),
    (7, "Any program that runs right is obsolete."),
    (
        8,
        "A list is only as strong as its weakest link. — Donald Knuth",
    ),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (
        11,
        "<script>alert(\"This should not be displayed in a browser alert box.\");</script>",
    ),
    (12, "フレームワークのベンチマーク"),
];

#[derive(serde::Serialize)]
struct Fortune {
    id: u32,
    message: String,
}

/// The page's context.
#[derive(serde::Serialize)]
struct FortunesPage<'a> {
    fortunes: &'a [Fortune],
}

struct Options {
    rounds: usize,
    iterations: usize,
    out: Option<String>,
    preconverted: bool,
    interpreted: bool,
}

fn options() -> Options {
    let mut o = Options {
        rounds: 7,
        iterations: 20_000,
        out: None,
        preconverted: false,
        interpreted: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        // `cargo bench` adds `--bench`; anything else unknown is ignored too.
        match arg.as_str() {
            "--rounds" => o.rounds = args.next().and_then(|v| v.parse().ok()).unwrap_or(7),
            "--iterations" => {
                o.iterations = args.next().and_then(|v| v.parse().ok()).unwrap_or(20_000)
            }
            "--out" => o.out = args.next(),
            "--preconverted" => o.preconverted = true,
            "--interpreted" => o.interpreted = true,
            _ => {}
        }
    }
    o
}

fn main() {
    let o = options();
    let dir = std::env::temp_dir().join(format!("tornado-bench-templates-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory for the template");
    std::fs::write(dir.join("fortune.html"), FORTUNES).expect("write the template");
    let app = Application::with_settings(
        Vec::new(),
        Settings {
            template_path: Some(dir.clone()),
            template_fast_path: !o.interpreted,
            ..Settings::default()
        },
    );
    let fortunes: Vec<Fortune> = ROWS
        .iter()
        .map(|&(id, message)| Fortune {
            id,
            message: message.to_owned(),
        })
        .collect();
    let converted = Value::from(Serde(FortunesPage {
        fortunes: &fortunes,
    }));
    let render = || {
        let page = if o.preconverted {
            app.render_string("fortune.html", &converted)
        } else {
            app.render_string(
                "fortune.html",
                FortunesPage {
                    fortunes: &fortunes,
                },
            )
        };
        page.expect("the fortunes page renders")
    };
    let page = render();
    if let Some(out) = &o.out {
        std::fs::write(out, &page).expect("write the page");
    }
    let mut best = f64::INFINITY;
    for _ in 0..o.rounds {
        let start = Instant::now();
        for _ in 0..o.iterations {
            black_box(render());
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / o.iterations as f64;
        best = best.min(us);
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("bytes_per_page={}", page.len());
    println!("us_per_page={best:.3}");
}
