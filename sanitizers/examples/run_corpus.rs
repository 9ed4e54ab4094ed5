//! Runs the pipeline over every file given on the command line, N times
//! (for profiling: `perf record target/release/examples/run_corpus 20 FILES…`).

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1);
    let msgs: Vec<Vec<u8>> = args.filter_map(|p| std::fs::read(p).ok()).collect();
    let pipeline = mugaika_sanitizers::Pipeline::default();
    let mut delivered = 0usize;
    for _ in 0..rounds {
        for m in &msgs {
            delivered += usize::from(pipeline.run(m).output.is_some());
        }
    }
    println!("{} messages x {rounds}: {delivered} delivered", msgs.len());
}
