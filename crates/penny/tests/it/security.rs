//! Regression tests of the holes closed by the security review: each test attacks as an
//! outsider, another tenant, a lower role or a hostile upstream would.

mod access;
mod accounts;
mod bounds;
mod brute_force;
mod cookies;
mod leaks;
mod openapi_sweep;
mod outbound;
mod reads;
