//! Behaviour of the job queue against a real PostgreSQL (one fresh database per test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod fairness;
mod leases;
mod lifecycle;
mod limits;
mod retries;
mod tenancy;
