//! The sample shop front `switchyard up` deploys, compiled into the binary from
//! `deploy/sample-shop/` so that `up` works from any directory.

/// (path in the bundle, bytes)
const FILES: &[(&str, &[u8])] = &[
    ("index.html", include_bytes!("../../../deploy/sample-shop/index.html")),
    ("products.json", include_bytes!("../../../deploy/sample-shop/products.json")),
    ("assets/app.js", include_bytes!("../../../deploy/sample-shop/assets/app.js")),
    ("assets/style.css", include_bytes!("../../../deploy/sample-shop/assets/style.css")),
    ("assets/logo.svg", include_bytes!("../../../deploy/sample-shop/assets/logo.svg")),
    ("switchyard.toml", include_bytes!("../../../deploy/sample-shop/switchyard.toml")),
];

/// The sample shop as a `.tar.gz`.
pub(crate) fn archive() -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (path, bytes) in FILES {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, path, *bytes).expect("writing to memory");
    }
    tar.into_inner().and_then(|gz| gz.finish()).expect("writing to memory")
}
