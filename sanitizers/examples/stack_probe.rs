//! Runs the pipeline on each file in a thread with a 2 MiB stack (what a
//! tokio blocking thread gets) to show hostile nesting cannot overflow it.
fn main() {
    for path in std::env::args().skip(1) {
        let raw = std::fs::read(&path).expect("read");
        let h = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || mugaika_sanitizers::Pipeline::default().run(&raw).report.reasons)
            .expect("spawn");
        println!("{path}: {:?}", h.join().expect("join"));
    }
}
