//! Runs the pipeline over every file given on the command line, N times
//! (for profiling: `perf record target/release/examples/run_corpus 20 FILES…`).

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1);
    let msgs: Vec<Vec<u8>> = args.filter_map(|p| std::fs::read(p).ok()).collect();
    let pipeline = mugaika_sanitizers::Pipeline::default();
    let mut delivered = 0usize;
    let (mut parse, mut walk, mut write, mut total) = (0u64, 0u64, 0u64, 0u64);
    for _ in 0..rounds {
        for m in &msgs {
            let r = pipeline.run(m);
            delivered += usize::from(r.output.is_some());
            parse += r.report.timings.parse_us;
            walk += r.report.timings.sanitize_us;
            write += r.report.timings.write_us;
            total += r.report.timings.total_us;
        }
    }
    println!("{} messages x {rounds}: {delivered} delivered", msgs.len());
    println!(
        "per round (ms): parse {:.1}, identity+walk {:.1}, write {:.1}, total {:.1}",
        parse as f64 / 1e3 / rounds as f64,
        walk as f64 / 1e3 / rounds as f64,
        write as f64 / 1e3 / rounds as f64,
        total as f64 / 1e3 / rounds as f64
    );
}
