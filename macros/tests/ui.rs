//! Compile-time behaviour: what compiles, and the exact diagnostics of what
//! does not (`TRYBUILD=overwrite` regenerates the `.stderr` files).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
