#!/usr/bin/env bash
# The compose file's broker: the node deploy/kafka.sh runs (deploy/kafka-properties.sh: SASL, ACLs), inside the
# official apache/kafka image. Formats the data volume only when it was never formatted; never deletes it.
set -euo pipefail
principals=/certx/principals.dev
data=/var/lib/kafka/data
conf=/tmp/server.properties
bash /certx/kafka-properties.sh "$principals" "$data" 0.0.0.0:9093 kafka:9093 \
    SASL_PLAINTEXT=0.0.0.0:9092=kafka:9092 EXTERNAL=0.0.0.0:19092=127.0.0.1:9092 >"$conf"
admin="$(awk '$0 !~ /^[[:space:]]*#/ && $2 == "admin" { print $1; exit }' "$principals")"
password="$(awk '$0 !~ /^[[:space:]]*#/ && $2 == "admin" { print $3; exit }' "$principals")"
# for the healthcheck: kafka-broker-api-versions.sh --command-config /tmp/admin.properties
cat >/tmp/admin.properties <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$admin" password="$password";
PROPS
if [[ ! -f "$data/meta.properties" ]]; then
    /opt/kafka/bin/kafka-storage.sh format --standalone -t "$(/opt/kafka/bin/kafka-storage.sh random-uuid)" \
        -c "$conf" --add-scram "SCRAM-SHA-512=[name=$admin,password=$password]"
fi
exec /opt/kafka/bin/kafka-server-start.sh "$conf"
