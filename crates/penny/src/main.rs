//! `penny`: the whole PENNY platform in one binary. See the library for everything else.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    penny::run().await
}
