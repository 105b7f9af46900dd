//! The attribute as users meet it: expansions that compile and run, and mistakes with the
//! messages they produce. Regenerate `.stderr` files with `TRYBUILD=overwrite` on the current
//! stable toolchain, then read every one.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
