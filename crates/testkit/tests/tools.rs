//! Every outside program the end-to-end tests run is installed: on a machine that lacks
//! some, this one test lists them all (one line each, with what installs it), beside the
//! single line each test that needs one prints.

#[test]
fn every_tool_the_end_to_end_tests_run_is_installed() {
    let names: Vec<&str> = twinmail_testkit::TOOLS.iter().map(|t| t.name).collect();
    let missing = twinmail_testkit::missing(&names);
    assert!(
        missing.is_empty(),
        "{} tool(s) missing; scripts/test installs them all:\n{}",
        missing.len(),
        missing.join("\n")
    );
}
