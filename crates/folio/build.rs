//! Link the `folio` executable as a fixed-address (non-PIE) binary on
//! Linux/glibc.
//!
//! Why: as a position-independent executable, the dynamic loader applies
//! ~62,000 relocations at every start and copies the 1 MB of relocated
//! read-only data (vtables, string tables) page by page. That was 1.1 ms of
//! the 3.6 ms a one-page `folio compress` takes (perf stat: 2.11 → 1.17 ms for
//! `folio --version`, 450 → 173 page faults), and start-up is most of the
//! time on small files in a batch. Go links its binaries the same way by
//! default. The cost is that the executable's own code is not
//! address-randomised (its libraries and heap still are); hostile input is
//! parsed by Rust code, and jobs run in a child process per job (see
//! SECURITY.md). Set FOLIO_PIE=1 when building to keep a PIE.
//!
//! The unwinder (libgcc_eh) is linked in statically as well, so the loader
//! has one library less to map and relocate and libgcc_s's constructor, which
//! probes the CPU with `cpuid` (a trap to the hypervisor on virtual
//! machines), does not run: `folio --version` 1.32 → 1.26 ms (perf stat,
//! 200 runs). Panics still unwind and are caught as before. Set
//! FOLIO_DYNAMIC_LIBGCC=1 to link libgcc_s as usual.
fn main() {
    println!("cargo:rerun-if-env-changed=FOLIO_DYNAMIC_LIBGCC");
    println!("cargo:rerun-if-env-changed=FOLIO_PIE");
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if linux_gnu && std::env::var_os("FOLIO_PIE").is_none() {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    if linux_gnu && std::env::var_os("FOLIO_DYNAMIC_LIBGCC").is_none() {
        println!("cargo:rustc-link-lib=static:+whole-archive=gcc_eh");
    }
}
