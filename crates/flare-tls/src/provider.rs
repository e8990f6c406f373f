//! The crypto provider: ring by default, aws-lc-rs with the `aws-lc-rs` feature.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::ProducesTickets;

use crate::error::{Detail, TlsError};

/// The provider every flare config is built with.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    #[cfg(feature = "aws-lc-rs")]
    {
        Arc::new(rustls::crypto::aws_lc_rs::default_provider())
    }
    #[cfg(not(feature = "aws-lc-rs"))]
    {
        Arc::new(rustls::crypto::ring::default_provider())
    }
}

/// The name of the provider in use (`"ring"` or `"aws-lc-rs"`), for logs.
pub fn provider_name() -> &'static str {
    if cfg!(feature = "aws-lc-rs") {
        "aws-lc-rs"
    } else {
        "ring"
    }
}

/// rustls' rotating ticketer: random keys, replaced every 6 hours, tickets valid 12.
pub(crate) fn ticketer() -> Result<Arc<dyn ProducesTickets>, TlsError> {
    #[cfg(feature = "aws-lc-rs")]
    let t = rustls::crypto::aws_lc_rs::Ticketer::new();
    #[cfg(not(feature = "aws-lc-rs"))]
    let t = rustls::crypto::ring::Ticketer::new();
    t.map_err(|e| TlsError::Rustls(Detail::new(e)))
}
