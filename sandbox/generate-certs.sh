#!/bin/sh
# DEVELOPMENT ONLY: a throwaway certificate authority and a TLS certificate for localhost, for the
# reverse proxy of the development and test stacks. Production certificates come from Let's Encrypt.
#
#   sandbox/generate-certs.sh [OUT_DIR [NAME ...]]
#
# OUT_DIR defaults to sandbox/certs (git-ignored; never commit it). The certificate covers localhost,
# 127.0.0.1, ::1 and every extra NAME (a host name, or an IP address). Writes ca.crt (import it into your
# browser or pass it to clients as their CA bundle), server.crt and server.key. The CA's key is deleted
# once the certificate is signed, so the CA you trust can never sign anything else.
#
# Run again, it keeps a certificate that covers the names and stays valid for 30 more days; otherwise
# (or with FORCE=1) it makes a new CA and certificate.
set -eu

out_dir=${1:-"$(dirname "$0")/certs"}
[ "$#" -gt 0 ] && shift
names="localhost $*"

command -v openssl >/dev/null 2>&1 || { echo "generate-certs.sh: openssl is required" >&2; exit 1; }
mkdir -p "$out_dir"

is_ip() {
    case $1 in
        *:*) return 0 ;;
        *[!0-9.]*) return 1 ;;
        *) return 0 ;;
    esac
}

covers_every_name() {
    for name in $names 127.0.0.1 ::1; do
        if is_ip "$name"; then
            openssl x509 -in "$out_dir/server.crt" -noout -checkip "$name" | grep -q "does match" || return 1
        else
            openssl x509 -in "$out_dir/server.crt" -noout -checkhost "$name" | grep -q "does match" || return 1
        fi
    done
}

if [ "${FORCE:-0}" != 1 ] && [ -s "$out_dir/ca.crt" ] && [ -s "$out_dir/server.crt" ] && [ -s "$out_dir/server.key" ] \
    && openssl x509 -in "$out_dir/server.crt" -noout -checkend 2592000 >/dev/null \
    && openssl verify -CAfile "$out_dir/ca.crt" "$out_dir/server.crt" >/dev/null 2>&1 \
    && covers_every_name; then
    echo "generate-certs.sh: keeping the certificate in $out_dir (FORCE=1 makes a new one)"
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
umask 077

alt_names=""
for name in $names 127.0.0.1 ::1; do
    if is_ip "$name"; then entry="IP:$name"; else entry="DNS:$name"; fi
    case ",$alt_names," in *",$entry,"*) continue ;; esac
    alt_names="${alt_names:+$alt_names,}$entry"
done

cat >"$work/openssl.cnf" <<EOF
[req]
distinguished_name = subject
prompt = no
[subject]
CN = Drift Monitoring development CA (sandbox only, $(date -u +%Y-%m-%d))
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $alt_names
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

openssl ecparam -name prime256v1 -genkey -noout -out "$work/ca.key"
openssl req -new -x509 -config "$work/openssl.cnf" -extensions ca -key "$work/ca.key" \
    -sha256 -days 825 -out "$work/ca.crt"

openssl ecparam -name prime256v1 -genkey -noout -out "$work/server.key"
openssl req -new -key "$work/server.key" -subj "/CN=localhost" -out "$work/server.csr"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -sha256 -days 365 \
    -extfile "$work/openssl.cnf" -extensions server -out "$work/server.crt" 2>/dev/null

# The certificates are public; the server key is readable by its owner only.
chmod 644 "$work/ca.crt" "$work/server.crt"
chmod 600 "$work/server.key"
mv -f "$work/ca.crt" "$work/server.crt" "$work/server.key" "$out_dir/"
echo "generate-certs.sh: wrote $out_dir/ca.crt, server.crt and server.key for: $names 127.0.0.1 ::1"
echo "generate-certs.sh: trust $out_dir/ca.crt in your browser (development only)"
