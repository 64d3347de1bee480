use std::collections::BTreeMap;

use switchyard_model::{AppState, FileEntry, VersionRef};

use super::*;

fn manifest_with(cache: &LocalBlobStore, files: &[&[u8]]) -> Digest {
    let mut m = Manifest::new(BTreeMap::new());
    for (i, bytes) in files.iter().enumerate() {
        let digest = cache.put_bytes(bytes).unwrap();
        m.files.insert(
            format!("f{i}"),
            FileEntry {
                sha256: digest,
                size: bytes.len() as u64,
                content_type: "text/plain".into(),
                encodings: Vec::new(),
            },
        );
    }
    cache.put_bytes(&m.to_canonical_json()).unwrap()
}

#[test]
fn evicts_only_unreferenced_blobs_and_only_over_budget() {
    let dir = tempfile::tempdir().unwrap();
    let cache = LocalBlobStore::open(dir.path()).unwrap();
    let kept = manifest_with(&cache, &[&[b'k'; 1000]]);
    let old = [cache.put_bytes(&[b'a'; 1000]).unwrap(), cache.put_bytes(&[b'b'; 1000]).unwrap()];
    let mut snapshot = Snapshot { revision: 3, ..Default::default() };
    let versions = [(1, VersionRef { manifest: kept, created: 0 })].into();
    snapshot
        .apps
        .insert("cart".into(), AppState { channels: [("live".into(), 1)].into(), versions, ..AppState::default() });

    assert!(collect(&cache, dir.path(), &snapshot, 1 << 20).is_empty(), "under budget: nothing goes");
    let evicted = collect(&cache, dir.path(), &snapshot, 1500);
    assert_eq!(evicted.len(), 2, "both unreferenced blobs go to get under 1500 bytes");
    assert!(old.iter().all(|d| !cache.contains(d)));
    assert!(cache.contains(&kept));
    // Over budget with only referenced blobs: nothing referenced is removed.
    assert!(collect(&cache, dir.path(), &snapshot, 10).is_empty());
    assert!(cache.contains(&kept));
    assert_eq!(cache.read_verified(&kept).map(|b| Manifest::from_json(&b).unwrap().files.len()).unwrap(), 1);
}
