#![forbid(unsafe_code)]

/// mimalloc instead of the system allocator: the forwarding path makes a
/// handful of small allocations per request (hyper's buffers, header maps),
/// and glibc's malloc/free showed ~5% of proxy CPU in profiles.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    otpgate::cli::main()
}
