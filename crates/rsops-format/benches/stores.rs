//! Parse and write throughput of each store (`cargo bench -p rsops-format`).
//!
//! The input is a deterministic service config (nested maps, lists, strings,
//! numbers, booleans, about 40 values per service) written by the stores
//! themselves; dotenv and INI get a flat and a sectioned form of it.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rsops_format::tree::{List, ListItem, Map, MapItem, Value};
use rsops_format::{dotenv, ini, json, yaml};

/// A deterministic pseudo-random word generator (xorshift).
struct Words(u64);

impl Words {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn word(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..len)
            .map(|_| char::from(ALPHABET[(self.next() % ALPHABET.len() as u64) as usize]))
            .collect()
    }
}

/// One service block of the config.
fn service(w: &mut Words, i: usize) -> Map {
    let mut m = Map::new();
    m.push("name", Value::Str(format!("svc-{i:05}")));
    m.push("replicas", Value::Int((w.next() % 12) as i64));
    m.push("enabled", Value::Bool(w.next().is_multiple_of(2)));
    m.push("ratio", Value::Float((w.next() % 10_000) as f64 / 10_000.0));
    let env = (0..8)
        .map(|j| {
            let mut e = Map::new();
            e.push("name", Value::Str(format!("VAR_{j}")));
            e.push("value", Value::Str(w.word(24)));
            ListItem::Value(Value::Map(e))
        })
        .collect();
    m.push("env", Value::List(List { items: env }));
    let mut secrets = Map::new();
    for j in 0..16 {
        secrets.push(format!("key_{j:03}"), Value::Str(w.word(28)));
    }
    m.push("secrets", Value::Map(secrets));
    m
}

/// A config of `services` blocks.
fn config(services: usize) -> Map {
    let mut w = Words(0x9E37_79B9_7F4A_7C15);
    let mut doc = Map::new();
    for i in 0..services {
        doc.push(format!("service_{i:05}"), Value::Map(service(&mut w, i)));
    }
    doc
}

/// A flat `KEY=value` form of the config (dotenv).
fn flat(services: usize) -> Map {
    let mut w = Words(7);
    let mut doc = Map::new();
    for i in 0..services * 40 {
        doc.push(format!("VAR_{i:06}"), Value::Str(w.word(32)));
    }
    doc
}

/// A sectioned form of the config (INI): one section per service.
fn sections(services: usize) -> Map {
    let mut w = Words(11);
    let mut doc = Map::new();
    for i in 0..services {
        let mut s = Map::new();
        for j in 0..40 {
            s.push(format!("key_{j:02}"), Value::Str(w.word(28)));
        }
        doc.push(format!("service_{i:05}"), Value::Map(s));
    }
    doc
}

/// Replaces every string value of `map` by an encrypted-looking one.
fn as_encrypted(map: &mut Map) {
    const ENC: &str = "ENC[AES256_GCM,data:q83vEjRWeJq83vEjRWeJq83vEjRWeJq8,\
                       iv:3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs=,\
                       tag:AAECAwQFBgcICQoLDA0ODw==,type:str]";
    fn value(v: &mut Value) {
        match v {
            Value::Str(s) => ENC.clone_into(s),
            Value::Map(m) => as_encrypted(m),
            Value::List(l) => l.items.iter_mut().for_each(|i| {
                if let ListItem::Value(v) = i {
                    value(v);
                }
            }),
            _ => {}
        }
    }
    for item in &mut map.items {
        if let MapItem::Entry(e) = item {
            value(&mut e.value);
        }
    }
}

fn bench_store(
    c: &mut Criterion,
    name: &str,
    text: &[u8],
    parse: impl Fn(&[u8]) -> Map,
    emit: impl Fn(&Map) -> Vec<u8>,
) {
    let tree = parse(text);
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_with_input(BenchmarkId::new("parse", text.len()), text, |b, t| {
        b.iter(|| parse(black_box(t)))
    });
    g.bench_with_input(BenchmarkId::new("write", text.len()), &tree, |b, t| {
        b.iter(|| emit(black_box(t)))
    });
    g.finish();
}

fn stores(c: &mut Criterion) {
    // About 100 KB of YAML.
    let doc = config(120);
    let yaml_text = yaml::emit(std::slice::from_ref(&doc), 4).expect("yaml");
    bench_store(
        c,
        "yaml",
        &yaml_text,
        |t| {
            yaml::parse_data(t, &rsops_format::Sequential)
                .expect("parse")
                .remove(0)
        },
        |m| yaml::emit(std::slice::from_ref(m), 4).expect("emit"),
    );
    bench_store(
        c,
        "yaml_with_spellings",
        &yaml_text,
        |t| yaml::parse(t).expect("parse").remove(0),
        |m| yaml::emit(std::slice::from_ref(m), 4).expect("emit"),
    );
    let json_text = json::emit(&doc, None).expect("json");
    bench_store(
        c,
        "json",
        &json_text,
        |t| json::parse(t).expect("parse"),
        |m| json::emit(m, None).expect("emit"),
    );
    // The same tree with every string replaced by an `ENC[...]` value: what
    // `encrypt` writes (long plain strings, the byte scans' fast path).
    let mut enc_doc = doc.clone();
    as_encrypted(&mut enc_doc);
    let enc_json = json::emit(&enc_doc, None).expect("json");
    bench_store(
        c,
        "json_encrypted",
        &enc_json,
        |t| json::parse(t).expect("parse"),
        |m| json::emit(m, None).expect("emit"),
    );
    let enc_yaml = yaml::emit(std::slice::from_ref(&enc_doc), 4).expect("yaml");
    bench_store(
        c,
        "yaml_encrypted",
        &enc_yaml,
        |t| {
            yaml::parse_data(t, &rsops_format::Sequential)
                .expect("parse")
                .remove(0)
        },
        |m| yaml::emit(std::slice::from_ref(m), 4).expect("emit"),
    );
    let env_text = dotenv::emit(&flat(120)).expect("dotenv");
    bench_store(
        c,
        "dotenv",
        &env_text,
        |t| dotenv::parse(t).expect("parse"),
        |m| dotenv::emit(m).expect("emit"),
    );
    let ini_text = ini::emit(&sections(120)).expect("ini");
    bench_store(
        c,
        "ini",
        &ini_text,
        |t| ini::parse(t).expect("parse"),
        |m| ini::emit(m).expect("emit"),
    );
}

criterion_group!(benches, stores);
criterion_main!(benches);
