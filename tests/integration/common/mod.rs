//! Test support shared by every integration test module, one module per kind of help.

#[cfg(feature = "dock-agent")]
pub mod agent;
pub mod audit;
pub mod daemon;
pub mod evidence;
#[cfg(feature = "examiner")]
pub mod footage;
pub mod media;
pub mod mounts;
pub mod net;

pub use audit::*;
pub use daemon::*;
pub use media::*;
pub use net::*;
