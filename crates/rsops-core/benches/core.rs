//! Micro-benchmarks of the sops value codec, the MAC and the tree walk
//! (`cargo bench -p rsops-core`).
//!
//! * `codec/*`: one `ENC[...]` value: encode (fresh IV, AES-256-GCM with a
//!   32-byte IV, base64) and decode, and the scalar typing around it;
//! * `mac/*`: encrypting and checking the stored MAC;
//! * `walk/*`: a whole 4,800-value tree, encrypted (values + MAC; whole,
//!   and root item by root item as streaming encryption does) and
//!   decrypted (values + MAC, with and without the IV stash).

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rsops_core::cipher::{self, ValueCipher, ValueType};
use rsops_core::mac;
use rsops_core::selection::Selection;
use rsops_core::walk;
use rsops_format::tree::{Map, Value};

const KEY: [u8; 32] = [7u8; 32];

/// A tree of `n` maps of 40 values (strings, ints, bools).
fn tree(n: usize) -> Map {
    let mut doc = Map::new();
    for i in 0..n {
        let mut m = Map::new();
        for j in 0..40 {
            let v = match j % 4 {
                0 => Value::Int(i as i64 * 40 + j),
                1 => Value::Bool(j % 3 == 0),
                _ => Value::Str(format!("value-{i:05}-{j:02}-abcdefghijklmnop")),
            };
            m.push(format!("key_{j:02}"), v);
        }
        doc.push(format!("service_{i:05}"), Value::Map(m));
    }
    doc
}

fn codec(c: &mut Criterion) {
    let cipher = ValueCipher::new(&KEY);
    let plaintext = b"s3cr3t-password-of-24-b!";
    let aad = b"service:database:password:";
    let mut g = c.benchmark_group("codec");
    g.bench_function("encrypt_str_24B", |b| {
        b.iter(|| {
            cipher.encrypt(
                &cipher::random_iv(),
                black_box(plaintext),
                aad,
                ValueType::Str,
            )
        })
    });
    // Longer than the stack buffer: sealed in a heap buffer.
    let long = [b'x'; 600];
    g.bench_function("encrypt_str_600B", |b| {
        b.iter(|| {
            cipher.encrypt(
                &cipher::random_iv(),
                black_box(&long[..]),
                aad,
                ValueType::Str,
            )
        })
    });
    let enc = cipher
        .encrypt(&cipher::random_iv(), plaintext, aad, ValueType::Str)
        .expect("encrypt");
    g.bench_function("decrypt_str_24B", |b| {
        b.iter(|| cipher.decrypt(black_box(&enc), aad).expect("decrypt"))
    });
    g.bench_function("random_iv", |b| b.iter(cipher::random_iv));
    g.bench_function("encode_scalar_float", |b| {
        b.iter(|| cipher::encode_scalar(black_box(&Value::Float(1234.5678))))
    });
    g.bench_function("decode_scalar_int", |b| {
        b.iter(|| cipher::decode_scalar(black_box(b"-1234567"), ValueType::Int))
    });
    g.finish();
}

fn mac_bench(c: &mut Criterion) {
    let cipher = ValueCipher::new(&KEY);
    let computed = "A".repeat(128);
    let stamp = "2024-05-01T10:20:30Z";
    let stored = mac::encrypt_mac(&cipher, &computed, stamp).expect("mac");
    let mut g = c.benchmark_group("mac");
    g.bench_function("encrypt", |b| {
        b.iter(|| mac::encrypt_mac(&cipher, black_box(&computed), stamp))
    });
    g.bench_function("verify", |b| {
        b.iter(|| mac::verify_mac(&cipher, black_box(&stored), stamp, &computed).expect("mac"))
    });
    g.finish();
}

fn walk_bench(c: &mut Criterion) {
    let cipher = ValueCipher::new(&KEY);
    let selection = Selection::default_rule();
    let plain = vec![tree(120)];
    let mut encrypted = plain.clone();
    walk::encrypt_documents(&mut encrypted, &cipher, &selection, false, None).expect("encrypt");
    let mut g = c.benchmark_group("walk");
    g.throughput(Throughput::Elements(120 * 40));
    g.bench_function("encrypt_4800_values", |b| {
        b.iter_batched(
            || plain.clone(),
            |mut docs| walk::encrypt_documents(&mut docs, &cipher, &selection, false, None),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("encrypt_4800_values_item_by_item", |b| {
        b.iter_batched(
            || plain[0].clone(),
            |doc| {
                let mut enc = walk::ItemEncryptor::new(&cipher, &selection, false);
                for mut item in doc.items {
                    enc.item(&mut item).expect("encrypt");
                    black_box(&item);
                }
                enc.finish()
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("decrypt_4800_values", |b| {
        b.iter_batched(
            || encrypted.clone(),
            |mut docs| {
                walk::decrypt_documents_mac(
                    &mut docs,
                    &cipher,
                    &selection,
                    false,
                    &rsops_format::Sequential,
                )
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("decrypt_4800_values_with_iv_stash", |b| {
        b.iter_batched(
            || encrypted.clone(),
            |mut docs| {
                walk::decrypt_documents(
                    &mut docs,
                    &cipher,
                    &selection,
                    false,
                    &rsops_format::Sequential,
                )
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, codec, mac_bench, walk_bench);
criterion_main!(benches);
