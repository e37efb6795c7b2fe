//! `ledgerlink-klaviyo-gateway`: the binary around [`ledgerlink_klaviyo_gateway::run`].

fn main() -> std::process::ExitCode {
    ledgerlink_runtime::service_main(
        ledgerlink_klaviyo_gateway::SERVICE,
        ledgerlink_klaviyo_gateway::default_listen(),
        ledgerlink_klaviyo_gateway::run,
    )
}
