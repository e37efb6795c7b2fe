//! `ledgerlink-scoring`: the binary around [`ledgerlink_scoring::run`].

fn main() -> std::process::ExitCode {
    ledgerlink_runtime::service_main(
        ledgerlink_scoring::SERVICE,
        ledgerlink_scoring::default_listen(),
        ledgerlink_scoring::run,
    )
}
