//! Generated gRPC code of every ledgerlink service.
//!
//! Packages are versioned (`ledgerlink.<service>.v1`); each module here mirrors one.
//! [`FILE_DESCRIPTOR_SET`] feeds server reflection.

pub mod convert;

/// The encoded descriptors of every ledgerlink proto, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("ledgerlink_descriptor");

#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod types {
    pub mod v1 {
        tonic::include_proto!("ledgerlink.types.v1");
    }
}

#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod extractor {
    pub mod v1 {
        tonic::include_proto!("ledgerlink.extractor.v1");
    }
}

#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod scoring {
    pub mod v1 {
        tonic::include_proto!("ledgerlink.scoring.v1");
    }
}

#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod reminder {
    pub mod v1 {
        tonic::include_proto!("ledgerlink.reminder.v1");
    }
}

#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod klaviyo {
    pub mod v1 {
        tonic::include_proto!("ledgerlink.klaviyo.v1");
    }
}

#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod coordinator {
    pub mod v1 {
        tonic::include_proto!("ledgerlink.coordinator.v1");
    }
}

/// Fully qualified gRPC service names, as reflection and health know them.
pub mod service_names {
    pub const EXTRACTOR: &str = "ledgerlink.extractor.v1.ExtractorService";
    pub const SCORING: &str = "ledgerlink.scoring.v1.ScoringService";
    pub const REMINDER: &str = "ledgerlink.reminder.v1.ReminderService";
    pub const KLAVIYO_GATEWAY: &str = "ledgerlink.klaviyo.v1.KlaviyoGatewayService";
    pub const COORDINATOR: &str = "ledgerlink.coordinator.v1.CoordinatorService";
}
