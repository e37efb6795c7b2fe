//! `ledgerlink-extractor`: the binary around [`ledgerlink_extractor::run`].

fn main() -> std::process::ExitCode {
    ledgerlink_runtime::service_main(
        ledgerlink_extractor::SERVICE,
        ledgerlink_extractor::default_listen(),
        ledgerlink_extractor::run,
    )
}
