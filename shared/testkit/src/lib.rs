//! naiq's test kit, a dev-dependency only (never in a Lambda binary): the in-memory
//! adapters behind every port, the contract suites every adapter must pass (in memory here,
//! on the AWS emulator in `naiq-adapters`), a manual clock, and small real images.

mod clock;
pub mod contract;
pub mod memory;
mod png;

pub use clock::ManualClock;
pub use png::{png_claiming, png_of};
