//! `ledgerlink-coordinator`: the binary around [`ledgerlink_coordinator::run`].

fn main() -> std::process::ExitCode {
    ledgerlink_runtime::service_main(
        ledgerlink_coordinator::SERVICE,
        ledgerlink_coordinator::default_listen(),
        ledgerlink_coordinator::run,
    )
}
