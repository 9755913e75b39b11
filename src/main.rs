#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    otpgate::cli::main()
}
