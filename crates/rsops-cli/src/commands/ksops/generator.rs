//! A ksops generator: its configuration, the decryption of every file it
//! names (in parallel, each data key unwrapped once), and what it
//! generates, as ksops's YAML stream or as objects for a `ResourceList`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use base64::Engine as _;
use rsops_core::file;
use rsops_core::metadata::Metadata;
use rsops_format::tree::Wipe;
use rsops_format::{store, EmitOptions, Format, Map, Value};
use rsops_keys::KeyKind;
use zeroize::Zeroizing;

use super::godotenv::{self, EnvError};
use super::v2yaml::{self, Node};
use crate::commands::decrypt::{KeyCache, LazyService};
use crate::error::Error;
use crate::settings::Common;

/// How many files ksops decrypts at once unless `KSOPS_CONCURRENCY_LIMIT`
/// says otherwise.
const DEFAULT_CONCURRENCY: usize = 20;

/// Why a generator produced nothing. No message holds a decrypted value.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The generator is not YAML.
    #[error("error unmarshalling manifest content: {0}")]
    Unmarshal(String),
    /// A field has the wrong type.
    #[error("error unmarshalling manifest content: {field} must be {expected}")]
    Field {
        /// The field's path, e.g. `secretFrom[0].files[1]`.
        field: String,
        /// What it must be.
        expected: &'static str,
    },
    /// Neither `files` nor `secretFrom`.
    #[error("missing the required 'files' or 'secretFrom' key in the ksops manifests")]
    Missing,
    /// A `key=path` entry with more than one `=`.
    #[error("invalid format in file generator {0}")]
    KeyPath(String),
    /// `KSOPS_CONCURRENCY_LIMIT` is not a positive integer.
    #[error("error parsing KSOPS_CONCURRENCY_LIMIT value {0:?}")]
    Concurrency(String),
    /// A file could not be decrypted.
    #[error("error decrypting file {:?} from {list}: {source}", path.display().to_string())]
    Decrypt {
        /// The file.
        path: PathBuf,
        /// `manifest.Files`, `secretFrom.Files`, ... (ksops's words).
        list: &'static str,
        /// Why.
        source: Box<Error>,
    },
    /// An `envs` file is not a `.env` file.
    #[error("error unmarshalling .env file {:?}: {source}", path.display().to_string())]
    Env {
        /// The file.
        path: PathBuf,
        /// Why.
        source: EnvError,
    },
    /// KRM mode: a `files` entry is not a YAML stream of objects.
    #[error("error parsing the decrypted file {:?} as Kubernetes objects", path.display().to_string())]
    NotObjects {
        /// The file.
        path: PathBuf,
    },
}

/// `metadata` of a generated Secret (kustomize's `types.ObjectMeta`).
#[derive(Debug, Default, Clone)]
struct Meta {
    name: String,
    namespace: String,
    labels: Vec<(String, String)>,
    annotations: Vec<(String, String)>,
}

/// One `secretFrom` entry.
#[derive(Debug, Default)]
struct SecretFrom {
    files: Vec<String>,
    binary_files: Vec<String>,
    envs: Vec<String>,
    metadata: Meta,
    kind: String,
}

/// A generator's configuration.
#[derive(Debug, Default)]
struct Config {
    files: Vec<String>,
    secret_from: Vec<SecretFrom>,
}

/// A generated Secret: metadata, type, `stringData` and `data`.
struct Secret {
    metadata: Meta,
    kind: String,
    string_data: BTreeMap<String, Zeroizing<String>>,
    data: BTreeMap<String, Zeroizing<String>>,
}

/// What a generator produced.
pub struct Generated {
    /// `files:`, each decrypted whole, with its path.
    files: Vec<(PathBuf, Zeroizing<Vec<u8>>)>,
    /// One Secret per `secretFrom` entry.
    secrets: Vec<Secret>,
}

/// Runs the generator whose YAML is `raw`.
pub fn generate(raw: &[u8]) -> Result<Generated, GenerateError> {
    let docs = store::load_plain(Format::Yaml, raw)
        .map_err(|e| GenerateError::Unmarshal(e.to_string()))?;
    let first = docs.into_iter().next().unwrap_or_default();
    generate_from_map(&first)
}

/// Runs the generator `manifest`.
pub fn generate_from_map(manifest: &Map) -> Result<Generated, GenerateError> {
    let config = parse_config(manifest)?;
    let limit = concurrency_limit()?;
    // Every file, in ksops's order: files, then each secretFrom's files,
    // binaryFiles and envs.
    let mut jobs: Vec<(PathBuf, &'static str)> = Vec::new();
    for f in &config.files {
        jobs.push((PathBuf::from(f), "manifest.Files"));
    }
    let mut keyed: Vec<Vec<(String, usize)>> = Vec::new();
    for sf in &config.secret_from {
        let mut keys = Vec::new();
        for (list, name) in [
            (&sf.files, "secretFrom.Files"),
            (&sf.binary_files, "secretFrom.BinaryFiles"),
        ] {
            for entry in list {
                let (key, path) = key_path(entry)?;
                keys.push((key, jobs.len()));
                jobs.push((PathBuf::from(path), name));
            }
        }
        for env in &sf.envs {
            keys.push((String::new(), jobs.len()));
            jobs.push((PathBuf::from(env), "secretFrom.Envs"));
        }
        keyed.push(keys);
    }
    let paths: Vec<&Path> = jobs.iter().map(|(p, _)| p.as_path()).collect();
    let mut results = decrypt_all(&paths, limit);
    let mut take = |i: usize| -> Result<Zeroizing<Vec<u8>>, GenerateError> {
        std::mem::replace(&mut results[i], Ok(Zeroizing::new(Vec::new()))).map_err(|source| {
            GenerateError::Decrypt {
                path: jobs[i].0.clone(),
                list: jobs[i].1,
                source: Box::new(source),
            }
        })
    };
    // The first failure in that order is the one reported.
    let mut files = Vec::new();
    for (i, (path, _)) in jobs.iter().enumerate().take(config.files.len()) {
        files.push((path.clone(), take(i)?));
    }
    let mut secrets = Vec::new();
    for (sf, keys) in config.secret_from.iter().zip(&keyed) {
        let mut string_data = BTreeMap::new();
        let mut data = BTreeMap::new();
        let n_files = sf.files.len();
        for (j, (key, i)) in keys.iter().enumerate() {
            let bytes = take(*i)?;
            if j < n_files {
                string_data.insert(
                    key.clone(),
                    Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned()),
                );
            } else if j < n_files + sf.binary_files.len() {
                data.insert(
                    key.clone(),
                    Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&bytes[..])),
                );
            } else {
                let text = Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
                let env = godotenv::parse(&text).map_err(|source| GenerateError::Env {
                    path: jobs[*i].0.clone(),
                    source,
                })?;
                for (k, v) in env {
                    string_data.insert(k, Zeroizing::new(v));
                }
            }
        }
        secrets.push(Secret {
            metadata: sf.metadata.clone(),
            kind: sf.kind.clone(),
            string_data,
            data,
        });
    }
    Ok(Generated { files, secrets })
}

/// `KSOPS_CONCURRENCY_LIMIT` (a positive integer), else 20.
fn concurrency_limit() -> Result<usize, GenerateError> {
    match std::env::var("KSOPS_CONCURRENCY_LIMIT") {
        Ok(v) if !v.is_empty() => match v.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(GenerateError::Concurrency(v)),
        },
        _ => Ok(DEFAULT_CONCURRENCY),
    }
}

/// ksops's `key=path` entries: `path` alone is keyed by its base name.
fn key_path(entry: &str) -> Result<(String, &str), GenerateError> {
    let parts: Vec<&str> = entry.split('=').collect();
    match parts[..] {
        [path] => Ok((base_name(path), path)),
        [key, path] => Ok((key.to_owned(), path)),
        _ => Err(GenerateError::KeyPath(entry.to_owned())),
    }
}

/// Go's `filepath.Base`.
fn base_name(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() { "." } else { "/" }.to_owned();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_owned()
}

/// One file's plaintext, or why not.
type Decrypted = Result<Zeroizing<Vec<u8>>, Error>;

/// Decrypts every file, at most `limit` at a time; the results are in the
/// order of `paths`.
fn decrypt_all(paths: &[&Path], limit: usize) -> Vec<Decrypted> {
    let common = Common {
        enable_local_keyservice: true,
        ..Common::default()
    };
    let engine = Engine {
        service: LazyService::new(&common),
        keys: KeyCache::default(),
        // sops's decrypt library, which ksops calls, uses the default
        // order (SOPS_DECRYPTION_ORDER is a command-line setting).
        order: rsops_core::datakey::DEFAULT_DECRYPTION_ORDER.to_vec(),
    };
    let slots: Mutex<Vec<Option<Decrypted>>> = Mutex::new((0..paths.len()).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(path) = paths.get(i) else { break };
        let r = engine.decrypt(path);
        if let Ok(mut s) = slots.lock() {
            s[i] = Some(r);
        }
    };
    let workers = limit.min(paths.len());
    std::thread::scope(|scope| {
        for _ in 1..workers {
            if std::thread::Builder::new()
                .name("ksops".into())
                .spawn_scoped(scope, work)
                .is_err()
            {
                break;
            }
        }
        work();
    });
    slots
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .map(|r| r.unwrap_or(Err(Error::WorkerPanicked)))
        .collect()
}

/// What every file of one generator shares: the key service and the
/// unwrapped data keys.
struct Engine<'a> {
    service: LazyService<'a>,
    keys: KeyCache,
    order: Vec<KeyKind>,
}

impl Engine<'_> {
    /// One file decrypted whole, in the format of its extension, as sops's
    /// `decrypt.DataWithFormat` returns it (the MAC is checked).
    fn decrypt(&self, path: &Path) -> Result<Zeroizing<Vec<u8>>, Error> {
        let format = Format::from_path(&path.to_string_lossy());
        let input = crate::io::read_input(Some(path))?;
        let (mut docs, meta) = store::load_encrypted(format, &input, crate::parallel::threads())
            .map_err(|e| Error::unmarshal(e, format))?;
        let meta = meta.ok_or(Error::MetadataNotFound)?;
        let md = Metadata::from_tree(&meta).map_err(Error::decrypting)?;
        let key = self.keys.data_key(&md, self.service.get()?, &self.order)?;
        file::decrypt_with_key(&mut docs, &md, &key, false, crate::parallel::threads())
            .map_err(Error::decrypting)?;
        let out = store::emit_plain(format, &docs, &EmitOptions::default()).map_err(Error::Dump);
        docs.wipe();
        out.map(Zeroizing::new)
    }
}

impl Generated {
    /// ksops's output: each file as decrypted, then each Secret as
    /// `sigs.k8s.io/yaml` writes it; a file is followed by `\n---\n` and a
    /// Secret by `---\n`, except the last item.
    pub fn to_stream(&self) -> Vec<u8> {
        let total = self.files.len() + self.secrets.len();
        let mut out = Vec::new();
        for (i, (_, data)) in self.files.iter().enumerate() {
            out.extend_from_slice(data);
            if i + 1 < total {
                out.extend_from_slice(b"\n---\n");
            }
        }
        for (i, secret) in self.secrets.iter().enumerate() {
            out.extend_from_slice(v2yaml::to_yaml(&secret.node()).as_bytes());
            if i + 1 < self.secrets.len() {
                out.extend_from_slice(b"---\n");
            }
        }
        out
    }

    /// The generated objects, for a `ResourceList`: each document of each
    /// decrypted file (which must be YAML objects), then the Secrets.
    pub fn to_objects(&self) -> Result<Vec<Map>, GenerateError> {
        let mut objects = Vec::new();
        for (path, data) in &self.files {
            let docs = store::load_plain(Format::Yaml, data)
                .map_err(|_| GenerateError::NotObjects { path: path.clone() })?;
            objects.extend(docs.into_iter().filter(|d| !d.is_empty()));
        }
        for secret in &self.secrets {
            objects.push(node_to_map(&secret.node()));
        }
        Ok(objects)
    }
}

impl Secret {
    /// The Secret as go-yaml v2 would see it (empty fields left out).
    fn node(&self) -> Node {
        let mut meta = Vec::new();
        let strings = |pairs: &[(String, String)]| {
            Node::Map(
                pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), Node::Str(v.clone())))
                    .collect(),
            )
        };
        if !self.metadata.annotations.is_empty() {
            meta.push(("annotations".into(), strings(&self.metadata.annotations)));
        }
        if !self.metadata.labels.is_empty() {
            meta.push(("labels".into(), strings(&self.metadata.labels)));
        }
        if !self.metadata.name.is_empty() {
            meta.push(("name".into(), Node::Str(self.metadata.name.clone())));
        }
        if !self.metadata.namespace.is_empty() {
            meta.push((
                "namespace".into(),
                Node::Str(self.metadata.namespace.clone()),
            ));
        }
        let mut root = vec![
            ("apiVersion".into(), Node::Str("v1".into())),
            ("kind".into(), Node::Str("Secret".into())),
            ("metadata".into(), Node::Map(meta)),
        ];
        let values = |m: &BTreeMap<String, Zeroizing<String>>| {
            Node::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), Node::Str(v.to_string())))
                    .collect(),
            )
        };
        if !self.kind.is_empty() {
            root.push(("type".into(), Node::Str(self.kind.clone())));
        }
        if !self.string_data.is_empty() {
            root.push(("stringData".into(), values(&self.string_data)));
        }
        if !self.data.is_empty() {
            root.push(("data".into(), values(&self.data)));
        }
        Node::Map(root)
    }
}

/// A node as a tree map, its keys in go-yaml v2's order.
fn node_to_map(node: &Node) -> Map {
    let mut map = Map::new();
    if let Node::Map(entries) = node {
        let mut sorted: Vec<&(String, Node)> = entries.iter().collect();
        sorted.sort_by(|a, b| {
            if v2yaml::key_less(&a.0, &b.0) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        });
        for (k, v) in sorted {
            let value = match v {
                Node::Str(s) => Value::Str(s.clone()),
                Node::Map(_) => Value::Map(node_to_map(v)),
            };
            map.push(k.as_str(), value);
        }
    }
    map
}

// --- The configuration ---------------------------------------------------

fn parse_config(m: &Map) -> Result<Config, GenerateError> {
    let files = strings(m.get("files"), "files")?;
    let secret_from = match m.get("secretFrom") {
        None | Some(Value::Null) => None,
        Some(Value::List(l)) => Some(
            l.values()
                .enumerate()
                .map(|(i, v)| secret_from(v, &format!("secretFrom[{i}]")))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err(field("secretFrom", "a list")),
    };
    if files.is_none() && secret_from.is_none() {
        return Err(GenerateError::Missing);
    }
    Ok(Config {
        files: files.unwrap_or_default(),
        secret_from: secret_from.unwrap_or_default(),
    })
}

fn field(name: &str, expected: &'static str) -> GenerateError {
    GenerateError::Field {
        field: name.to_owned(),
        expected,
    }
}

/// An optional list of strings (`None` when absent or null).
fn strings(v: Option<&Value>, name: &str) -> Result<Option<Vec<String>>, GenerateError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::List(l)) => l
            .values()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Str(s) => Ok(s.clone()),
                _ => Err(field(&format!("{name}[{i}]"), "a string")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(field(name, "a list of strings")),
    }
}

/// An optional string (empty when absent or null).
fn string(v: Option<&Value>, name: &str) -> Result<String, GenerateError> {
    match v {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::Str(s)) => Ok(s.clone()),
        Some(_) => Err(field(name, "a string")),
    }
}

/// An optional map of strings to strings.
fn string_map(v: Option<&Value>, name: &str) -> Result<Vec<(String, String)>, GenerateError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Map(m)) => {
            let mut out: Vec<(String, String)> = Vec::new();
            for e in m.entries() {
                let k = e
                    .key
                    .as_str()
                    .ok_or_else(|| field(name, "a map of strings"))?;
                let v = match &e.value {
                    Value::Str(s) => s.clone(),
                    Value::Null => String::new(),
                    _ => return Err(field(&format!("{name}.{k}"), "a string")),
                };
                // A repeated key keeps its last value, as in Go.
                out.retain(|(old, _)| old != k);
                out.push((k.to_owned(), v));
            }
            Ok(out)
        }
        Some(_) => Err(field(name, "a map of strings")),
    }
}

fn secret_from(v: &Value, name: &str) -> Result<SecretFrom, GenerateError> {
    let Value::Map(m) = v else {
        return Err(field(name, "an object"));
    };
    let metadata = match m.get("metadata") {
        None | Some(Value::Null) => Meta::default(),
        Some(Value::Map(md)) => Meta {
            name: string(md.get("name"), &format!("{name}.metadata.name"))?,
            namespace: string(md.get("namespace"), &format!("{name}.metadata.namespace"))?,
            labels: string_map(md.get("labels"), &format!("{name}.metadata.labels"))?,
            annotations: string_map(
                md.get("annotations"),
                &format!("{name}.metadata.annotations"),
            )?,
        },
        Some(_) => return Err(field(&format!("{name}.metadata"), "an object")),
    };
    Ok(SecretFrom {
        files: strings(m.get("files"), &format!("{name}.files"))?.unwrap_or_default(),
        binary_files: strings(m.get("binaryFiles"), &format!("{name}.binaryFiles"))?
            .unwrap_or_default(),
        envs: strings(m.get("envs"), &format!("{name}.envs"))?.unwrap_or_default(),
        metadata,
        kind: string(m.get("type"), &format!("{name}.type"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_path_forms() {
        assert_eq!(
            key_path("./dir/a.enc.yaml").unwrap(),
            ("a.enc.yaml".into(), "./dir/a.enc.yaml")
        );
        assert_eq!(
            key_path("k.yaml=./a.enc.yaml").unwrap(),
            ("k.yaml".into(), "./a.enc.yaml")
        );
        assert!(matches!(key_path("a=b=c"), Err(GenerateError::KeyPath(_))));
    }

    #[test]
    fn a_generator_without_files_or_secret_from_is_refused() {
        let e = generate(b"apiVersion: viaduct.ai/v1\nkind: ksops\n")
            .err()
            .unwrap();
        assert!(matches!(e, GenerateError::Missing));
        // An empty list is a list: nothing is generated, no error.
        let g = generate(b"kind: ksops\nfiles: []\n").ok().unwrap();
        assert!(g.to_stream().is_empty());
        let e = generate(b"kind: ksops\nsecretFrom:\n- metadata:\n    name: 3\n")
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "error unmarshalling manifest content: secretFrom[0].metadata.name must be a string"
        );
    }

    #[test]
    fn secrets_render_as_ksops_does() {
        let secret = Secret {
            metadata: Meta {
                name: "mysecret".into(),
                namespace: "test".into(),
                labels: vec![("foo".into(), "bar".into())],
                annotations: vec![("kustomize.config.k8s.io/needs-hash".into(), "true".into())],
            },
            kind: "Opaque".into(),
            string_data: [("password".into(), Zeroizing::new("1f2d1e2e67df".into()))].into(),
            data: [("key".into(), Zeroizing::new("YWRtaW4=".into()))].into(),
        };
        let g = Generated {
            files: vec![(
                "a.yaml".into(),
                Zeroizing::new(b"kind: ConfigMap\n".to_vec()),
            )],
            secrets: vec![secret],
        };
        assert_eq!(
            String::from_utf8(g.to_stream()).unwrap(),
            "kind: ConfigMap\n\n---\napiVersion: v1\ndata:\n  key: YWRtaW4=\nkind: Secret\nmetadata:\n  annotations:\n    kustomize.config.k8s.io/needs-hash: \"true\"\n  labels:\n    foo: bar\n  name: mysecret\n  namespace: test\nstringData:\n  password: 1f2d1e2e67df\ntype: Opaque\n"
        );
        let objects = g.to_objects().unwrap();
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[1].get("kind"), Some(&Value::Str("Secret".into())));
    }

    #[test]
    fn base_name_is_go_filepath_base() {
        assert_eq!(base_name("a/b/c.txt"), "c.txt");
        assert_eq!(base_name("c.txt"), "c.txt");
        assert_eq!(base_name("dir/"), "dir");
        assert_eq!(base_name(""), ".");
    }
}
