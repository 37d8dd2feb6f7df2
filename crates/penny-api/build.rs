//! The web app's built files are embedded (see `src/web.rs`); a rebuild of `web/dist`
//! adds and removes hashed files, which must rebuild this crate.

fn main() {
    println!("cargo:rerun-if-changed=../../web/dist");
    println!("cargo:rerun-if-changed=../../web/dist/index.html");
    println!("cargo:rerun-if-changed=../../web/dist/assets");
}
