//! The `mugaika` binary; everything lives in the library (see `cli`).

fn main() -> std::process::ExitCode {
    mugaika::cli::main()
}
