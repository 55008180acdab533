//! rsops's stand-in for the [`cpufeatures`](https://docs.rs/cpufeatures/0.2)
//! crate, version 0.2, which the RustCrypto crates (AES, GHASH/POLYVAL,
//! SHA-2, ChaCha20, Poly1305, …) use to choose their hardware backends.
//!
//! The published crate expands its detection into every crate that uses
//! it, so each of them asks the CPU again: two `CPUID` instructions per
//! crate, about ten in a short `rsops decrypt`. On a virtual machine every
//! `CPUID` is a trap to the hypervisor (about 6 µs each on the machines we
//! measure on), which made them a visible part of a short run. This crate
//! keeps the same public API — the [`new!`] macro and the module it
//! generates — but reads the CPU once per process (three `CPUID`s and one
//! `XGETBV`) and answers every crate from that.
//!
//! The answers follow the Intel/AMD manuals: a feature is reported when the
//! CPU advertises it and, for AVX and AVX-512 features, when the operating
//! system saves the registers they use (XCR0). A feature this crate does
//! not know, or any feature on an architecture other than x86/x86_64 and
//! aarch64, is reported missing, which only makes the caller use its
//! portable software backend. The unit tests compare every answer with the
//! standard library's detection.
#![no_std]

#[cfg(any(test, target_arch = "aarch64"))]
extern crate std;

/// Creates a module `$mod_name` answering whether all of the listed target
/// features are available, with the API of `cpufeatures` 0.2: a
/// zero-sized `InitToken` and the functions `init_get`, `init` and `get`.
/// When the features are all enabled at compile time the answer is a
/// constant `true`.
#[macro_export]
macro_rules! new {
    ($mod_name:ident, $($tf:tt),+ $(,)?) => {
        mod $mod_name {
            use core::sync::atomic::{AtomicU8, Ordering::Relaxed};

            const UNINIT: u8 = u8::MAX;
            static STORAGE: AtomicU8 = AtomicU8::new(UNINIT);

            /// Proof that the answer was stored.
            #[derive(Copy, Clone, Debug)]
            pub struct InitToken(());

            impl InitToken {
                /// The stored answer.
                #[inline(always)]
                pub fn get(&self) -> bool {
                    #[cfg(all($(target_feature = $tf),+))]
                    {
                        true
                    }
                    #[cfg(not(all($(target_feature = $tf),+)))]
                    {
                        STORAGE.load(Relaxed) == 1
                    }
                }
            }

            /// The answer and a token, asking (once) if needed.
            #[inline]
            pub fn init_get() -> (InitToken, bool) {
                #[cfg(all($(target_feature = $tf),+))]
                let res = true;
                #[cfg(not(all($(target_feature = $tf),+)))]
                let res = match STORAGE.load(Relaxed) {
                    UNINIT => {
                        let res = $crate::__private::all_detected(&[$($tf),+]);
                        STORAGE.store(u8::from(res), Relaxed);
                        res
                    }
                    stored => stored == 1,
                };
                (InitToken(()), res)
            }

            /// A token, asking (once) if needed.
            #[inline]
            pub fn init() -> InitToken {
                init_get().0
            }

            /// The answer, asking (once) if needed.
            #[inline]
            pub fn get() -> bool {
                init_get().1
            }
        }
    };
}

#[doc(hidden)]
pub mod __private {
    /// Whether every feature named in `features` is available.
    pub fn all_detected(features: &[&str]) -> bool {
        features.iter().all(|f| crate::detect::has(f))
    }
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod detect {
    //! x86: `CPUID` leaves 1 and 7 and XCR0, read once per process.
    #[cfg(target_arch = "x86")]
    use core::arch::x86 as arch;
    #[cfg(target_arch = "x86_64")]
    use core::arch::x86_64 as arch;
    use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    /// Leaf 1: `ecx << 32 | edx`.
    static LEAF1: AtomicU64 = AtomicU64::new(0);
    /// Leaf 7, sub-leaf 0: `ebx << 32 | ecx`.
    static LEAF7: AtomicU64 = AtomicU64::new(0);
    /// XCR0, or 0 when the OS does not enable `XGETBV`.
    static XCR0: AtomicU64 = AtomicU64::new(0);
    static READY: AtomicBool = AtomicBool::new(false);

    /// XCR0 bits: SSE and AVX (YMM) state.
    const YMM: u64 = 0b110;
    /// XCR0 bits: SSE, AVX, opmask and ZMM state.
    const ZMM: u64 = 0b1110_0110;

    /// Where a feature's bit is.
    #[derive(Clone, Copy)]
    enum Reg {
        /// Leaf 1, ECX.
        Ecx1,
        /// Leaf 1, EDX.
        Edx1,
        /// Leaf 7, EBX.
        Ebx7,
        /// Leaf 7, ECX.
        Ecx7,
    }
    use Reg::{Ebx7, Ecx1, Ecx7, Edx1};

    /// The CPU bits a feature needs, and the register state (XCR0 bits)
    /// the OS must save for it; `None` for a name we do not know.
    fn requirement(feature: &str) -> Option<(&'static [(Reg, u32)], u64)> {
        const AVX: (Reg, u32) = (Ecx1, 28);
        Some(match feature {
            "sse3" => (&[(Ecx1, 0)], 0),
            "pclmulqdq" => (&[(Ecx1, 1)], 0),
            "ssse3" => (&[(Ecx1, 9)], 0),
            "fma" => (&[(Ecx1, 12), AVX], YMM),
            "sse4.1" => (&[(Ecx1, 19)], 0),
            "sse4.2" => (&[(Ecx1, 20)], 0),
            "popcnt" => (&[(Ecx1, 23)], 0),
            "aes" => (&[(Ecx1, 25)], 0),
            "avx" => (&[AVX], YMM),
            "rdrand" => (&[(Ecx1, 30)], 0),
            "mmx" => (&[(Edx1, 23)], 0),
            "sse" => (&[(Edx1, 25)], 0),
            "sse2" => (&[(Edx1, 26)], 0),
            "sgx" => (&[(Ebx7, 2)], 0),
            "bmi1" => (&[(Ebx7, 3)], 0),
            "avx2" => (&[(Ebx7, 5), AVX], YMM),
            "bmi2" => (&[(Ebx7, 8)], 0),
            "avx512f" => (&[(Ebx7, 16)], ZMM),
            "avx512dq" => (&[(Ebx7, 17)], ZMM),
            "rdseed" => (&[(Ebx7, 18)], 0),
            "adx" => (&[(Ebx7, 19)], 0),
            "avx512ifma" => (&[(Ebx7, 21)], ZMM),
            "avx512pf" => (&[(Ebx7, 26)], ZMM),
            "avx512er" => (&[(Ebx7, 27)], ZMM),
            "avx512cd" => (&[(Ebx7, 28)], ZMM),
            "sha" => (&[(Ebx7, 29)], 0),
            "avx512bw" => (&[(Ebx7, 30)], ZMM),
            "avx512vl" => (&[(Ebx7, 31)], ZMM),
            "avx512vbmi" => (&[(Ecx7, 1)], ZMM),
            "avx512vbmi2" => (&[(Ecx7, 6)], ZMM),
            "gfni" => (&[(Ecx7, 8)], 0),
            "vaes" => (&[(Ecx7, 9), AVX], YMM),
            "vpclmulqdq" => (&[(Ecx7, 10), AVX], YMM),
            "avx512bitalg" => (&[(Ecx7, 12)], ZMM),
            "avx512vpopcntdq" => (&[(Ecx7, 14)], ZMM),
            _ => return None,
        })
    }

    /// Whether the CPU and the OS support `feature`.
    pub(crate) fn has(feature: &str) -> bool {
        let Some((bits, state)) = requirement(feature) else {
            return false;
        };
        let (leaf1, leaf7, xcr0) = registers();
        let cpu = bits.iter().all(|&(reg, bit)| {
            let word = match reg {
                Ecx1 => leaf1 >> 32,
                Edx1 => leaf1,
                Ebx7 => leaf7 >> 32,
                Ecx7 => leaf7,
            };
            word & (1 << bit) != 0
        });
        cpu && xcr0 & state == state
    }

    /// The registers, read on first use. Two threads may both read them;
    /// they read the same values.
    fn registers() -> (u64, u64, u64) {
        if !READY.load(Ordering::Acquire) {
            let (leaf1, leaf7, xcr0) = read_cpu();
            LEAF1.store(leaf1, Ordering::Relaxed);
            LEAF7.store(leaf7, Ordering::Relaxed);
            XCR0.store(xcr0, Ordering::Relaxed);
            READY.store(true, Ordering::Release);
        }
        (
            LEAF1.load(Ordering::Relaxed),
            LEAF7.load(Ordering::Relaxed),
            XCR0.load(Ordering::Relaxed),
        )
    }

    // `__cpuid` is a safe function in recent Rust and an unsafe one in
    // older releases (our minimum is 1.85).
    #[allow(unused_unsafe, unsafe_code)]
    fn read_cpu() -> (u64, u64, u64) {
        // SAFETY: CPUID exists on every x86_64 CPU and on every x86 CPU
        // Rust's x86 targets support.
        let max_leaf = unsafe { arch::__cpuid(0) }.eax;
        // SAFETY: as above.
        let l1 = unsafe { arch::__cpuid(1) };
        let leaf7 = if max_leaf >= 7 {
            // SAFETY: as above; leaf 7 exists (max_leaf >= 7).
            let l7 = unsafe { arch::__cpuid_count(7, 0) };
            (u64::from(l7.ebx) << 32) | u64::from(l7.ecx)
        } else {
            0
        };
        // XSAVE (bit 26) and OSXSAVE (bit 27): the OS enabled XGETBV.
        let osxsave = l1.ecx & (0b11 << 26) == 0b11 << 26;
        let xcr0 = if osxsave {
            // SAFETY: XGETBV is available, as the CPU reports OSXSAVE.
            unsafe { xgetbv0() }
        } else {
            0
        };
        ((u64::from(l1.ecx) << 32) | u64::from(l1.edx), leaf7, xcr0)
    }

    /// XCR0 (register 0 of `XGETBV`).
    #[allow(unused_unsafe, unsafe_code)]
    #[target_feature(enable = "xsave")]
    unsafe fn xgetbv0() -> u64 {
        // SAFETY: the caller checked OSXSAVE.
        unsafe { arch::_xgetbv(0) }
    }

    #[cfg(test)]
    mod tests {
        use super::has;

        /// Every feature we know, against the standard library's
        /// detection (which also checks the OS-saved register state).
        #[test]
        fn agrees_with_std() {
            macro_rules! check {
                ($($f:tt),+) => {$(
                    assert_eq!(has($f), std::is_x86_feature_detected!($f), "{}", $f);
                )+};
            }
            check!(
                "sse3",
                "pclmulqdq",
                "ssse3",
                "fma",
                "sse4.1",
                "sse4.2",
                "popcnt",
                "aes",
                "avx",
                "rdrand",
                "mmx",
                "sse",
                "sse2",
                "bmi1",
                "avx2",
                "bmi2",
                "avx512f",
                "avx512dq",
                "rdseed",
                "adx",
                "avx512ifma",
                "avx512cd",
                "sha",
                "avx512bw",
                "avx512vl",
                "avx512vbmi",
                "avx512vbmi2",
                "gfni",
                "vaes",
                "vpclmulqdq",
                "avx512bitalg",
                "avx512vpopcntdq"
            );
        }

        #[test]
        fn unknown_names_are_missing() {
            assert!(!has("no-such-feature"));
            assert!(!has(""));
        }

        #[cfg(target_arch = "x86_64")]
        #[test]
        fn baseline_of_x86_64_is_present() {
            assert!(has("sse") && has("sse2"));
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod detect {
    //! aarch64: the standard library's detection (auxiliary vector on
    //! Linux, `sysctl` on macOS), which caches its answers for the process.
    //! Names follow cpufeatures: `aes` includes PMULL, `sha2` SHA-1 and
    //! SHA-256, `sha3` SHA-512 and SHA-3, as in the standard library.
    pub(crate) fn has(feature: &str) -> bool {
        match feature {
            "aes" => std::arch::is_aarch64_feature_detected!("aes"),
            "sha2" => std::arch::is_aarch64_feature_detected!("sha2"),
            "sha3" => std::arch::is_aarch64_feature_detected!("sha3"),
            "sm4" => std::arch::is_aarch64_feature_detected!("sm4"),
            _ => false,
        }
    }
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
mod detect {
    //! Other architectures: every feature is reported missing, so callers
    //! use their portable backends.
    pub(crate) fn has(_feature: &str) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    crate::new!(aes_and_sse2, "aes", "sse2");
    // A real target feature that this crate does not list.
    crate::new!(unknown, "avx512fp16");

    #[test]
    fn generated_module_answers_consistently() {
        let (token, first) = aes_and_sse2::init_get();
        assert_eq!(token.get(), first);
        assert_eq!(aes_and_sse2::get(), first);
        assert_eq!(aes_and_sse2::init().get(), first);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(first, std::is_x86_feature_detected!("aes"));
    }

    #[test]
    fn a_feature_we_do_not_list_is_missing() {
        assert!(!unknown::get());
        assert!(!unknown::init().get());
    }
}
