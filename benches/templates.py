#!/usr/bin/env python3
"""Template rendering per page: ours beside Python Tornado's template engine.

usage (from the repository root):
  python3 benches/templates.py [--rounds 7] [--iterations 20000] [--callgrind]

The page is the fortunes page of the web benchmarks: 12 rows of id and message in an
HTML table, one of them a <script> that must come out escaped and one in Japanese.

Ours: benches/templates.rs (`cargo bench --bench templates`), which renders it with
`Application::render_string`, the path of a handler's `render_string` (the same
environment, globals, escaping and render), from serde structs built once, converted
for the engine on every render as a handler's are. Tornado:
`tornado.template.Template(...).generate(fortunes=...)` on namedtuples built once,
timed with timeit. Each side reports its best round (--rounds rounds of --iterations
pages) in microseconds per page, in the same run; the script checks that both pages
say the same (whitespace aside: Tornado's `.html` templates squeeze it) and prints the
ratio.

The template is one our fast path compiles (`tornado::web::template`, "Compiled
templates"). Ours runs twice more with the fast path off (--interpreted: minijinja's
interpreter renders the page), once as is and once with the context converted for the
engine in advance (--preconverted), to show what the interpreter and the conversion
cost. With --callgrind, ours also runs under valgrind's callgrind twice (N and 2N
pages, compiled and interpreted) and the difference gives instructions per page, a
figure that does not depend on the machine's load.

Python Tornado must be installed (`pip install tornado`); without it only ours runs.
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import timeit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The same page in Tornado's syntax (`{% end %}`; ours is in benches/templates.rs).
TORNADO_FORTUNES = """<!DOCTYPE html>
<html>
<head><title>Fortunes</title></head>
<body>
<table>
<tr><th>id</th><th>message</th></tr>
{% for fortune in fortunes %}
<tr><td>{{ fortune.id }}</td><td>{{ fortune.message }}</td></tr>
{% end %}
</table>
</body>
</html>
"""

ROWS = [
    (1, "fortune: No such file or directory"),
    (2, "A computer scientist is someone who fixes things that aren't broken."),
    (3, "After enough decimal places, nobody gives a damn."),
    (4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
    (5, "A computer program does what you tell it to do, not what you want it to do."),
    (6, "Emacs is a nice operating system, but I prefer UNIX. \u2014 Tom Christaensen"),
    (7, "Any program that runs right is obsolete."),
    (8, "A list is only as strong as its weakest link. \u2014 Donald Knuth"),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (11, '<script>alert("This should not be displayed in a browser alert box.");</script>'),
    (12, "\u30d5\u30ec\u30fc\u30e0\u30ef\u30fc\u30af\u306e\u30d9\u30f3\u30c1\u30de\u30fc\u30af"),
]


def squeezed(text):
    return re.sub(r"\s+", " ", text).strip()


def run_ours(rounds, iterations, out, extra=()):
    cmd = ["cargo", "bench", "--quiet", "--bench", "templates", "--",
           "--rounds", str(rounds), "--iterations", str(iterations), "--out", out, *extra]
    result = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True)
    figures = dict(line.split("=", 1) for line in result.stdout.split() if "=" in line)
    return float(figures["us_per_page"])


def bench_binary():
    """The bench executable cargo built (the newest templates-* in target/release/deps)."""
    deps = os.path.join(ROOT, "target", "release", "deps")
    found = [os.path.join(deps, f) for f in os.listdir(deps)
             if f.startswith("templates-") and os.access(os.path.join(deps, f), os.X_OK)
             and not f.endswith(".d")]
    return max(found, key=os.path.getmtime) if found else None


def callgrind_instructions(binary, pages, extra=()):
    def total(n):
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", binary,
             "--rounds", "1", "--iterations", str(n), *extra],
            capture_output=True, text=True, check=True)
        match = re.search(r"Collected : (\d+)", out.stderr)
        return int(match.group(1))
    return (total(2 * pages) - total(pages)) / pages


def run_tornado(rounds, iterations):
    try:
        import tornado
        from tornado import template
    except ImportError:
        return None, None, None
    Fortune = collections.namedtuple("Fortune", "id message")
    fortunes = [Fortune(i, m) for i, m in ROWS]
    t = template.Template(TORNADO_FORTUNES, name="fortune.html")
    page = t.generate(fortunes=fortunes).decode()
    best = min(timeit.repeat(lambda: t.generate(fortunes=fortunes),
                             number=iterations, repeat=rounds))
    return best / iterations * 1e6, page, tornado.version


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=20000)
    parser.add_argument("--callgrind", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "ours.html")
        ours = run_ours(args.rounds, args.iterations, out)
        with open(out, encoding="utf-8") as f:
            our_page = f.read()
        interpreted = run_ours(args.rounds, args.iterations, out, ["--interpreted"])
        with open(out, encoding="utf-8") as f:
            if f.read() != our_page:
                print("the compiled and interpreted pages differ")
                return 1
        preconverted = run_ours(args.rounds, args.iterations, out,
                                ["--interpreted", "--preconverted"])
    tornado_us, tornado_page, version = run_tornado(args.rounds, args.iterations)

    print(f"fortunes page, {len(ROWS)} rows, best of {args.rounds} rounds of "
          f"{args.iterations} pages")
    print(f"  ours (Application::render_string, compiled)   {ours:8.2f} us/page")
    print(f"    minijinja's interpreter                      {interpreted:8.2f} us/page")
    print(f"    interpreter, context converted in advance    {preconverted:8.2f} us/page")
    if tornado_us is None:
        print("  Python Tornado is not installed: no comparison")
        return 0
    print(f"  Python Tornado {version} (tornado.template)     {tornado_us:8.2f} us/page")
    print(f"  Tornado / ours: {tornado_us / ours:.1f}x "
          f"(interpreted: {tornado_us / interpreted:.1f}x)")
    if squeezed(our_page) != squeezed(tornado_page):
        print("  the pages differ:\n--- ours\n" + our_page + "\n--- Tornado\n" + tornado_page)
        return 1
    print("  the pages say the same (whitespace aside)")
    if args.callgrind:
        binary = bench_binary()
        if binary is None or subprocess.run(["which", "valgrind"],
                                            capture_output=True).returncode != 0:
            print("  --callgrind: needs valgrind and the bench binary")
        else:
            ir = callgrind_instructions(binary, 2000)
            slow = callgrind_instructions(binary, 2000, ["--interpreted"])
            print(f"  ours under callgrind: {ir:,.0f} instructions per page "
                  f"({slow:,.0f} interpreted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
