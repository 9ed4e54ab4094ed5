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
    let d = mugaika::config::Config::default();
    assert_eq!(c.server, d.server);
    assert_eq!(c.spool, d.spool);
    assert_eq!(c.workers, d.workers);
    assert_eq!(c.bounce, d.bounce);
    assert_eq!(format!("{:?}", c.outbound), format!("{:?}", d.outbound));
    assert_eq!(c.telemetry, d.telemetry);
    assert_eq!((c.data_dir, c.retention_days), (d.data_dir, d.retention_days));
}
