#!/bin/sh
# Certificates for the NATS cluster's TLS (clients and routes): a private CA and one server
# certificate valid for every node name compose and Kubernetes use.
#
#   sh deploy/nats/make-tls.sh deploy/nats/tls      # compose mounts deploy/nats/tls
#   kubectl -n plantrack create secret generic nats-tls --from-file=deploy/nats/tls
#
# The directory is git-ignored; keep ca.key out of the cluster (it signs new certificates).
set -eu
out=${1:?usage: make-tls.sh DIR}
days=${DAYS:-825}
mkdir -p "$out"
umask 077
names="DNS:localhost,IP:127.0.0.1,DNS:nats,DNS:nats.plantrack.svc"
for i in 0 1 2; do
  names="$names,DNS:nats-$i,DNS:nats-$i.nats-headless,DNS:nats-$i.nats-headless.plantrack.svc"
done
openssl req -x509 -newkey rsa:3072 -nodes -days "$days" -subj "/CN=plantrack NATS CA" \
  -keyout "$out/ca.key" -out "$out/ca.crt" 2>/dev/null
openssl req -newkey rsa:3072 -nodes -subj "/CN=nats" \
  -keyout "$out/tls.key" -out "$out/tls.csr" 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$names" > "$out/ext.cnf"
openssl x509 -req -in "$out/tls.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
  -days "$days" -extfile "$out/ext.cnf" -out "$out/tls.crt" 2>/dev/null
rm -f "$out/tls.csr" "$out/ext.cnf" "$out/ca.srl"
chmod 0644 "$out/ca.crt" "$out/tls.crt"
echo "$out: ca.crt, tls.crt, tls.key (and ca.key: keep it apart)"
