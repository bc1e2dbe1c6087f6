"""The Kafka edge: topics, the matcher loop, the broker-side producer and the event tail (aiokafka)."""
