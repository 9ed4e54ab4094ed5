//! Every file shipped in config/ loads and validates.

mod common;

#[test]
fn every_shipped_config_loads() {
    let files = common::files_below(&common::root().join("config"));
    assert!(!files.is_empty(), "config/ holds no file");
    for f in files {
        if let Err(e) = mugaika::config::Config::load(&f) {
            panic!("{}: {e}", f.display());
        }
    }
}

#[test]
fn the_reference_config_spells_out_the_defaults() {
    let c = mugaika::config::Config::load(&common::root().join("config/mugaika.toml")).unwrap();
    assert_eq!(c.limits, mugaika_sanitizers::Limits::default());
    assert_eq!(c.policy, mugaika::policy::PolicyConfig::default());
}
