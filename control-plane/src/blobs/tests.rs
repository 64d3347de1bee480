use super::BlobConfig;
use crate::config::{Args, Config};

fn load(dir: &std::path::Path, toml: &str) -> anyhow::Result<Config> {
    let file = dir.join("c.toml");
    std::fs::write(&file, toml).unwrap();
    Config::load(Args { config: Some(file), data: Some(dir.join("data")), ..Args::default() }, None)
}

#[test]
fn blob_section_selects_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    let c = load(dir.path(), "").unwrap();
    assert!(matches!(c.blob, BlobConfig::Fs { ref path } if *path == dir.path().join("data")));
    let c = load(dir.path(), "[blob]\nkind = \"fs\"\npath = \"/srv/blobs\"\n").unwrap();
    assert!(matches!(c.blob, BlobConfig::Fs { ref path } if path == std::path::Path::new("/srv/blobs")));

    std::fs::write(dir.path().join("secret"), "s3cr3t-value\n").unwrap();
    let s3 = format!(
        "[blob]\nkind = \"s3\"\nbucket = \"shop-blobs\"\nprefix = \"/a/b/\"\nregion = \"eu-central-1\"\n\
         endpoint = \"http://127.0.0.1:3900\"\nforce_path_style = true\naccess_key_id = \"AKID\"\n\
         secret_access_key_file = \"{}\"\n",
        dir.path().join("secret").display()
    );
    let c = load(dir.path(), &s3).unwrap();
    let BlobConfig::S3(s) = &c.blob else { panic!("{:?}", c.blob) };
    assert_eq!((s.bucket.as_str(), s.prefix.as_str(), s.region.as_str()), ("shop-blobs", "a/b", "eu-central-1"));
    assert!(s.force_path_style);
    let creds = s.credentials.as_ref().unwrap();
    assert_eq!((creds.access_key_id.as_str(), creds.secret_access_key.expose()), ("AKID", "s3cr3t-value"));
    let debug = format!("{c:?}");
    assert!(!debug.contains("s3cr3t-value") && debug.contains("[redacted]"), "{debug}");
}

#[test]
fn bad_blob_sections_are_refused_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[blob]\nkind = \"ftp\"\n", "unknown variant `ftp`"),
        ("[blob]\nkind = \"fs\"\npth = \"x\"\n", "unknown field `pth`"),
        (
            "[blob]\nkind = \"s3\"\nbucket = \"b-b-b\"\nregion = \"x\"\nacces_key_id = \"a\"\n",
            "unknown field `acces_key_id`",
        ),
        ("[blob]\nkind = \"s3\"\nbucket = \"UPPER\"\n", "bucket \"UPPER\""),
        ("[blob]\nkind = \"s3\"\nbucket = \"bbb\"\naccess_key_id = \"a\"\n", "must be given together"),
        ("[blob]\nkind = \"s3\"\nbucket = \"bbb\"\nendpoint = \"localhost:9000\"\n", "must start with http://"),
        ("[blob]\nkind = \"s3\"\nbucket = \"bbb\"\nprefix = \"a/../b\"\n", "'..' segments"),
        (
            "[blob]\nkind = \"s3\"\nbucket = \"bbb\"\naccess_key_id = \"a\"\nsecret_access_key_file = \"/nonexistent/s\"\n",
            "reading secret_access_key_file /nonexistent/s",
        ),
    ];
    for (toml, expect) in cases {
        let err = format!("{:#}", load(dir.path(), toml).unwrap_err());
        assert!(err.contains(expect), "{toml}: {err}");
    }
}
