//! Repairs two encodings of old Go OpenPGP messages that GnuPG accepts and
//! sequoia's strict parser rejects.
//!
//! The Go OpenPGP code sops used before 3.7 wrote (1) the RSA ciphertext MPI
//! with a bit count of eight times its byte length, so about half of its
//! messages carry an MPI whose leading bit is not set ("Malformed MPI:
//! leading bit is not set"), and (2) the encrypted data packet in partial
//! body chunks whose first chunk is shorter than the 512 bytes RFC 4880
//! requires ("Partial body length must be at least 512"). Before parsing,
//! every version-3 PKESK packet at the start of the message has its
//! RSA/ElGamal MPIs re-encoded minimally, and the first packet after the
//! session keys, if it uses partial body lengths, is re-framed with one
//! definite length. The packet contents are not changed and everything else
//! is copied byte for byte; anything unexpected leaves the rest of the input
//! as is (sequoia then reports the problem).

use std::borrow::Cow;

/// Packet tag of a public-key encrypted session key.
const TAG_PKESK: u8 = 1;
/// Packet tag of a symmetric-key encrypted session key.
const TAG_SKESK: u8 = 3;
/// Packet tag of the marker packet.
const TAG_MARKER: u8 = 10;

/// The message with its leading PKESK MPIs re-encoded minimally.
pub(crate) fn normalize_pkesk_mpis(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len());
    let mut rest = message;
    while let Some(packet) = read_packet(rest) {
        match (packet.tag, &packet.body) {
            (TAG_PKESK, Cow::Borrowed(body)) => match minimal_pkesk_body(body) {
                Some(body) => write_packet(&mut out, TAG_PKESK, &body),
                None => out.extend_from_slice(packet.whole),
            },
            (TAG_SKESK | TAG_MARKER, Cow::Borrowed(_)) => out.extend_from_slice(packet.whole),
            (tag, Cow::Owned(body)) => {
                write_packet(&mut out, tag, body);
                rest = packet.rest;
                break;
            }
            _ => break,
        }
        rest = packet.rest;
    }
    out.extend_from_slice(rest);
    out
}

/// One complete packet and what follows it.
struct Packet<'a> {
    tag: u8,
    /// The packet as it appears in the input (header included).
    whole: &'a [u8],
    /// The body: borrowed for a definite length, owned (chunks joined)
    /// for partial body lengths.
    body: Cow<'a, [u8]>,
    rest: &'a [u8],
}

/// Reads the packet at the start of `data` (old or new format; new-format
/// partial body chunks are joined).
fn read_packet(data: &[u8]) -> Option<Packet<'_>> {
    let ctb = *data.first()?;
    let first_len = *data.get(1)?;
    if ctb & 0xC0 == 0xC0 && (224..255).contains(&first_len) {
        return read_partial_packet(data);
    }
    read_definite_packet(data)
}

/// Reads a new-format packet whose body comes in partial chunks.
fn read_partial_packet(data: &[u8]) -> Option<Packet<'_>> {
    let tag = *data.first()? & 0x3F;
    let mut body = Vec::new();
    let mut pos = 1usize;
    loop {
        let first = *data.get(pos)?;
        let (header, len, last) = match first {
            0..=191 => (1, usize::from(first), true),
            192..=223 => {
                let second = usize::from(*data.get(pos + 1)?);
                (2, ((usize::from(first) - 192) << 8) + second + 192, true)
            }
            224..=254 => (1, 1usize << (first & 0x1F), false),
            255 => (5, be_u32(data.get(pos + 1..pos + 5)?)?, true),
        };
        let start = pos.checked_add(header)?;
        let end = start.checked_add(len)?;
        body.extend_from_slice(data.get(start..end)?);
        pos = end;
        if last {
            break;
        }
    }
    Some(Packet {
        tag,
        whole: data.get(..pos)?,
        body: Cow::Owned(body),
        rest: data.get(pos..)?,
    })
}

/// Reads a packet with a definite length (old or new format).
fn read_definite_packet(data: &[u8]) -> Option<Packet<'_>> {
    let ctb = *data.first()?;
    if ctb & 0x80 == 0 {
        return None;
    }
    let (tag, header_len, body_len): (u8, usize, usize) = if ctb & 0x40 == 0 {
        let tag = (ctb >> 2) & 0x0F;
        let (n, len) = match ctb & 0x03 {
            0 => (1, usize::from(*data.get(1)?)),
            1 => (
                2,
                usize::from(u16::from_be_bytes([*data.get(1)?, *data.get(2)?])),
            ),
            2 => (4, be_u32(data.get(1..5)?)?),
            _ => return None,
        };
        (tag, 1 + n, len)
    } else {
        let tag = ctb & 0x3F;
        let first = *data.get(1)?;
        match first {
            0..=191 => (tag, 2, usize::from(first)),
            192..=223 => {
                let second = usize::from(*data.get(2)?);
                (tag, 3, ((usize::from(first) - 192) << 8) + second + 192)
            }
            255 => (tag, 6, be_u32(data.get(2..6)?)?),
            _ => return None,
        }
    };
    let end = header_len.checked_add(body_len)?;
    Some(Packet {
        tag,
        whole: data.get(..end)?,
        body: Cow::Borrowed(data.get(header_len..end)?),
        rest: data.get(end..)?,
    })
}

/// Big-endian `u32` as `usize`.
fn be_u32(bytes: &[u8]) -> Option<usize> {
    let arr: [u8; 4] = bytes.try_into().ok()?;
    usize::try_from(u32::from_be_bytes(arr)).ok()
}

/// The PKESK v3 body with minimal MPIs, for RSA and ElGamal; `None` for
/// anything else or anything malformed.
fn minimal_pkesk_body(body: &[u8]) -> Option<Vec<u8>> {
    let (fixed, mut mpis) = (body.get(..10)?, body.get(10..)?);
    let version = *fixed.first()?;
    let algo = *fixed.get(9)?;
    let count = match (version, algo) {
        (3, 1..=3) => 1,
        (3, 16 | 20) => 2,
        _ => return None,
    };
    let mut out = fixed.to_vec();
    for _ in 0..count {
        let bits = usize::from(u16::from_be_bytes([*mpis.first()?, *mpis.get(1)?]));
        let len = bits.div_ceil(8);
        let value = mpis.get(2..2 + len)?;
        write_minimal_mpi(&mut out, value);
        mpis = mpis.get(2 + len..)?;
    }
    mpis.is_empty().then_some(out)
}

/// Writes `value` (big-endian) as an MPI without leading zero bits.
fn write_minimal_mpi(out: &mut Vec<u8>, value: &[u8]) {
    let start = value.iter().position(|&b| b != 0).unwrap_or(value.len());
    let value = value.get(start..).unwrap_or_default();
    let bits = match value.first() {
        Some(&first) => (value.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
        None => 0,
    };
    // A PKESK body is bounded by its packet; bit counts fit in u16 because
    // the input's did (the value only got shorter).
    let bits = u16::try_from(bits).unwrap_or(u16::MAX);
    out.extend_from_slice(&bits.to_be_bytes());
    out.extend_from_slice(value);
}

/// Writes a new-format packet with a definite length.
fn write_packet(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
    out.push(0xC0 | tag);
    let len = body.len();
    if len < 192 {
        out.push(len as u8);
    } else if len < 8384 {
        let v = len - 192;
        out.push(((v >> 8) as u8) + 192);
        out.push((v & 0xFF) as u8);
    } else {
        out.push(255);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An old-format PKESK (RSA) with the given MPI bytes and bit count.
    fn rsa_pkesk(bits: u16, value: &[u8]) -> Vec<u8> {
        let mut body = vec![3, 1, 2, 3, 4, 5, 6, 7, 8, 1];
        body.extend_from_slice(&bits.to_be_bytes());
        body.extend_from_slice(value);
        let mut p = vec![0x84 | 0x01];
        p.extend_from_slice(&(body.len() as u16).to_be_bytes());
        p.extend(body);
        p
    }

    #[test]
    fn non_minimal_mpi_is_reencoded_and_rest_kept() {
        let mut msg = rsa_pkesk(24, &[0x00, 0x40, 0xAB]);
        msg.extend_from_slice(&[0xD2, 0x03, 1, 2, 3]);
        let out = normalize_pkesk_mpis(&msg);
        // New-format PKESK, 10 fixed bytes + MPI of 15 bits: 0x40AB.
        let mut expected = vec![0xC1, 14, 3, 1, 2, 3, 4, 5, 6, 7, 8, 1, 0, 15, 0x40, 0xAB];
        expected.extend_from_slice(&[0xD2, 0x03, 1, 2, 3]);
        assert_eq!(out, expected);
    }

    #[test]
    fn unknown_algorithms_and_garbage_are_left_alone() {
        let mut ecdh = rsa_pkesk(8, &[0x01]);
        ecdh[3 + 9] = 18;
        assert_eq!(normalize_pkesk_mpis(&ecdh), ecdh);
        assert_eq!(normalize_pkesk_mpis(b"hello"), b"hello");
        assert_eq!(normalize_pkesk_mpis(&[]), Vec::<u8>::new());
        let short = rsa_pkesk(64, &[1, 2]);
        assert_eq!(normalize_pkesk_mpis(&short), short);
    }

    #[test]
    fn partial_body_chunks_are_joined_into_one_packet() {
        let mut msg = rsa_pkesk(8, &[0x80]);
        // SEIP (tag 18) in chunks of 1 (partial 0xE0), 2 (0xE1), then 3 final.
        msg.extend_from_slice(&[0xD2, 0xE0, 1, 0xE1, 2, 3, 0x03, 4, 5, 6]);
        msg.extend_from_slice(b"trailing");
        let out = normalize_pkesk_mpis(&msg);
        let pkesk = read_packet(&out).expect("pkesk");
        let seip = read_packet(pkesk.rest).expect("seip");
        assert_eq!(seip.tag, 18);
        assert_eq!(&seip.body[..], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(seip.rest, b"trailing");
    }

    #[test]
    fn long_bodies_use_two_and_five_byte_lengths() {
        for len in [200usize, 9000] {
            let mut out = Vec::new();
            write_packet(&mut out, 1, &vec![7u8; len]);
            let packet = read_packet(&out).expect("reads back");
            assert_eq!(packet.body.len(), len);
            assert!(packet.rest.is_empty());
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_keeps_non_pkesk_data(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let out = normalize_pkesk_mpis(&data);
            if data.first().is_none_or(|&b| b & 0x80 == 0) {
                prop_assert_eq!(out, data);
            }
        }

        #[test]
        fn minimal_mpis_are_unchanged_in_value(value in proptest::collection::vec(any::<u8>(), 1..40)) {
            let bits = (value.len() * 8) as u16;
            let msg = rsa_pkesk(bits, &value);
            let out = normalize_pkesk_mpis(&msg);
            let packet = read_packet(&out).expect("a packet");
            let mpi = &packet.body[10..];
            let stripped: Vec<u8> = value.iter().copied().skip_while(|&b| b == 0).collect();
            prop_assert_eq!(&mpi[2..], &stripped[..]);
        }
    }
}
