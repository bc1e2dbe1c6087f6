"""The Kafka edge: topics, the matcher loop, the broker-side producer and the event tail (aiokafka)."""
from certx.kafka import inflate

# Before any client reads a batch: every record batch a service reads inflates within a bound (certx.kafka.inflate).
inflate.bound()
