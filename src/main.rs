//! The `warden` binary: everything lives in the library; see `cli`.
fn main() -> std::process::ExitCode {
    warden::cli::run()
}
