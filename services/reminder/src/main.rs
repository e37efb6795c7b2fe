//! `ledgerlink-reminder`: the binary around [`ledgerlink_reminder::run`].

fn main() -> std::process::ExitCode {
    ledgerlink_runtime::service_main(
        ledgerlink_reminder::SERVICE,
        ledgerlink_reminder::default_listen(),
        ledgerlink_reminder::run,
    )
}
