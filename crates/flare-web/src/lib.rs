//! The handler surface of flare.
