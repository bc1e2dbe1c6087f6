#!/usr/bin/env bash
# Print the server.properties of one combined KRaft node (broker + controller) with authentication and ACLs:
# clients on SASL_PLAINTEXT with SCRAM-SHA-512, the controller listener on SASL PLAIN (with a PLAINTEXT one the
# broker only starts if User:ANONYMOUS is a super user, and then any local process could manage ACLs through
# it), the StandardAuthorizer denying whatever no ACL allows, and the principals file's admin as the only super
# user. Used by deploy/kafka.sh and by the compose file's broker, so both run the same broker.
#
#   kafka-properties.sh PRINCIPALS LOGDIR CONTROLLER_BIND CONTROLLER_ADVERTISED NAME=BIND=ADVERTISED...
#
# Each client listener is NAME=BIND=ADVERTISED (host:port), e.g. SASL_PLAINTEXT=127.0.0.1:9092=127.0.0.1:9092;
# the first one is the inter-broker listener. No inline `#` comments below: they would become part of a value.
set -euo pipefail
principals="$1" logdir="$2" cbind="$3" cadvertised="$4"
shift 4
admin="$(awk '$0 !~ /^[[:space:]]*#/ && $2 == "admin" { print $1; exit }' "$principals")"
password="$(awk '$0 !~ /^[[:space:]]*#/ && $2 == "admin" { print $3; exit }' "$principals")"
[[ -n "$admin" && -n "$password" ]] || { echo "kafka-properties.sh: no admin principal in $principals" >&2; exit 1; }

listeners="CONTROLLER://$cbind" advertised="CONTROLLER://$cadvertised" map="CONTROLLER:SASL_PLAINTEXT" jaas=""
first=""
for spec in "$@"; do
    IFS="=" read -r name bind adv <<<"$spec"
    first="${first:-$name}"
    listeners="$name://$bind,$listeners"
    advertised="$name://$adv,$advertised"
    map="$name:SASL_PLAINTEXT,$map"
    lower="$(tr '[:upper:]' '[:lower:]' <<<"$name")"
    jaas+="listener.name.$lower.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$admin\" password=\"$password\";"$'\n'
done

cat <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$cadvertised
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=$map
controller.listener.names=CONTROLLER
inter.broker.listener.name=$first
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$admin" password="$password" user_$admin="$password";
${jaas}authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:$admin
log.dirs=$logdir
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
transaction.partition.verification.enable=false
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2
log.retention.ms=-1
# A group's committed offsets are its position (the matcher's in each market): kept for good, as the events are,
# not dropped after 7 days without a member (Kafka's default), which restored every market from offset 0
offsets.retention.minutes=2147483647
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
PROPS
