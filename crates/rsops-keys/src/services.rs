//! Several key services tried in turn, as sops does with its local service
//! and each `--keyservice`.

use zeroize::Zeroizing;

use crate::error::{KeyError, ServicesFailed};
use crate::kinds::MasterKey;
use crate::master_key::KeyService;

/// The name of the in-process service in error messages.
pub const LOCAL_NAME: &str = "local key service";

/// An ordered list of key services used as one: each operation is sent to
/// the services in order until one succeeds (sops: the local service first
/// when enabled, then each `--keyservice` in the order given).
///
/// With one service its errors are passed on unchanged; with several, the
/// error lists each service's failure. With none, every operation fails
/// with [`KeyError::NoKeyServices`].
#[derive(Default)]
pub struct KeyServices {
    services: Vec<(String, Box<dyn KeyService>)>,
}

impl KeyServices {
    /// No service yet.
    pub fn new() -> Self {
        KeyServices::default()
    }

    /// Adds `service`, named `name` in errors, after the others.
    pub fn push(&mut self, name: impl Into<String>, service: Box<dyn KeyService>) {
        self.services.push((name.into(), service));
    }

    /// How many services there are.
    pub fn len(&self) -> usize {
        self.services.len()
    }

    /// Whether there is no service.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    fn first_success<T>(
        &self,
        op: impl Fn(&dyn KeyService) -> Result<T, KeyError>,
    ) -> Result<T, KeyError> {
        let mut attempts = Vec::new();
        for (name, service) in &self.services {
            match op(service.as_ref()) {
                Ok(v) => return Ok(v),
                Err(e) => attempts.push((name.clone(), e)),
            }
        }
        match attempts.len() {
            0 => Err(KeyError::NoKeyServices),
            1 => Err(attempts.remove(0).1),
            _ => Err(KeyError::Services(ServicesFailed { attempts })),
        }
    }
}

impl KeyService for KeyServices {
    fn encrypt(&self, key: &MasterKey, plaintext: &[u8]) -> Result<String, KeyError> {
        self.first_success(|s| s.encrypt(key, plaintext))
    }

    fn decrypt(&self, key: &MasterKey, enc: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        self.first_success(|s| s.decrypt(key, enc))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::error::{ServiceError, ServiceProblem};

    /// Succeeds or fails as told, counting calls.
    struct Fixed {
        ok: bool,
        calls: Arc<AtomicUsize>,
        name: &'static str,
    }

    impl KeyService for Fixed {
        fn encrypt(&self, key: &MasterKey, _: &[u8]) -> Result<String, KeyError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.ok {
                Ok(format!("enc-by-{}", self.name))
            } else {
                Err(KeyError::Service(ServiceError::new(
                    self.name,
                    key.kind().identifier(),
                    ServiceProblem::Connect("refused".into()),
                )))
            }
        }

        fn decrypt(&self, key: &MasterKey, _: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
            self.encrypt(key, &[])
                .map(|s| Zeroizing::new(s.into_bytes()))
        }
    }

    fn services(spec: &[(&'static str, bool)]) -> (KeyServices, Vec<Arc<AtomicUsize>>) {
        let mut all = KeyServices::new();
        let mut counters = Vec::new();
        for (name, ok) in spec {
            let calls = Arc::new(AtomicUsize::new(0));
            counters.push(calls.clone());
            all.push(
                *name,
                Box::new(Fixed {
                    ok: *ok,
                    calls,
                    name,
                }),
            );
        }
        (all, counters)
    }

    fn counts(c: &[Arc<AtomicUsize>]) -> Vec<usize> {
        c.iter().map(|c| c.load(Ordering::SeqCst)).collect()
    }

    #[test]
    fn the_first_service_that_works_wins_and_later_ones_are_not_asked() {
        let key = MasterKey::age("age1x");
        let (all, c) = services(&[("a", false), ("b", true), ("c", true)]);
        assert_eq!(all.encrypt(&key, b"k").unwrap(), "enc-by-b");
        assert_eq!(counts(&c), [1, 1, 0]);
        assert_eq!(&*all.decrypt(&key, "e").unwrap(), b"enc-by-b");
        assert_eq!(counts(&c), [2, 2, 0]);
    }

    #[test]
    fn errors_name_every_service_in_order() {
        let key = MasterKey::pgp("FP");
        let (all, _) = services(&[("tcp://h:1", false), ("unix:///s", false)]);
        let e = all.encrypt(&key, b"k").unwrap_err();
        assert_eq!(
            e.to_string(),
            "key service tcp://h:1: cannot connect: refused; is the key service running (sops \
             keyservice / rsops keyservice)?; key service unix:///s: cannot connect: refused; is \
             the key service running (sops keyservice / rsops keyservice)?"
        );
        assert_eq!(e.kind(), Some("pgp"));
    }

    #[test]
    fn one_service_passes_its_error_on_and_none_is_sops_message() {
        let key = MasterKey::pgp("FP");
        let (one, _) = services(&[("tcp://h:1", false)]);
        assert!(matches!(
            one.decrypt(&key, "e").unwrap_err(),
            KeyError::Service(_)
        ));
        let none = KeyServices::new();
        assert_eq!(
            none.encrypt(&key, b"k").unwrap_err().to_string(),
            "no key services provided, cannot update master keys (the local key service is disabled \
             and no --keyservice is given)"
        );
    }
}
