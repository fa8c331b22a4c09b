//! The fake NovelAI driven as any client of NovelAI drives it: raw HTTP with reqwest
//! against a fake spawned in-process (or the binary, or the router itself), the zip read
//! with `zip`, the PNGs with `png`. No naiq code.

mod accepted;
mod accounts;
mod answers;
mod billing;
mod binary;
mod bodies;
mod common;
mod faults;
mod generation;
mod hostile;
mod hosts;
mod in_process;
mod power;
mod refused;
mod stream;
